#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "memory/ledger.h"

TEST_CASE("ledger leases respect the budget and return to baseline", "[memory]") {
  sdxl::memory::Ledger ledger;
  const c10::Device cpu(c10::kCPU);
  ledger.set_budget(cpu, 1000);
  ledger.record_resident("unet", cpu, 600);
  auto a = ledger.acquire("scratch.a", cpu, 300);
  REQUIRE(a.ok());
  CHECK(ledger.available(cpu) == 100);
  auto refused = ledger.acquire("scratch.b", cpu, 200);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == sdxl::sdk::StatusCode::out_of_memory);
  CHECK_THAT(refused.status().message(), Catch::Contains("scratch.b") && Catch::Contains("100 bytes left"));
  ledger.release(a.value());
  ledger.release(a.value());  // double release is harmless
  CHECK(ledger.available(cpu) == 400);
  ledger.record_resident("unet", cpu, 500);  // replaces, does not add
  CHECK(ledger.accounts().at("cpu").used == 500);
  CHECK(ledger.accounts().at("cpu").peak == 900);
  ledger.forget_resident("unet");
  CHECK(ledger.accounts().at("cpu").used == 0);
  CHECK(ledger.entries().empty());
}

TEST_CASE("memory budgets parse sizes and fractions", "[memory]") {
  using sdxl::memory::parse_budget;
  CHECK(parse_budget("", 0).value() == 0);
  CHECK(parse_budget("512MiB", 0).value() == 512ull << 20);
  CHECK(parse_budget("2GiB", 0).value() == 2ull << 30);
  CHECK(parse_budget("1.5GB", 0).value() == 1500000000ull);
  // A fraction is a unitless number in (0, 1]; a unitless count above 1 is bytes.
  using sdxl::memory::is_budget_fraction;
  CHECK(is_budget_fraction("0.5"));
  CHECK(is_budget_fraction("1"));
  CHECK_FALSE(is_budget_fraction("1000000"));
  CHECK_FALSE(is_budget_fraction("2GiB"));
  CHECK_FALSE(is_budget_fraction(""));
  CHECK(parse_budget("1000000", 0).value() == 1000000ull);
  CHECK(parse_budget("0.5", 1000).value() == 500);
  CHECK_FALSE(parse_budget("0.5", 0).ok());
  CHECK_FALSE(parse_budget("12 parsecs", 0).ok());
  CHECK_FALSE(parse_budget("-3GiB", 0).ok());
}
