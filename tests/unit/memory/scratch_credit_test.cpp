// The running job's own admitted scratch is credited back to it: the VAE decode choice, which
// asks the ledger what is left, must not treat the job's own reservation as taken.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "demo_model_fixture.h"
#include "memory/ledger.h"
#include "memory/scratch_credit.h"
#include "pipeline/vae_choice.h"

using namespace sdxl;

TEST_CASE("scratch credit lets the admitted job use its own reservation for the VAE decode", "[memory][arbiter]") {
  test_support::DemoModel demo("sdxl_arbiter_credit_test");
  const auto& reg = *demo.registry;
  auto& model = *demo.model;

  const c10::Device cpu(c10::kCPU);
  auto& ledger = memory::process_ledger();
  const auto accounts = ledger.accounts();
  const std::uint64_t old_budget = accounts.count("cpu") ? accounts.at("cpu").budget : 0;
  const std::int64_t shape[] = {1, 4, 32, 32};
  const std::uint64_t untiled = model.vae->estimate_decode_bytes(shape);
  // The budget leaves exactly the untiled decode free; the job's lease (as the arbiter takes it)
  // then occupies all of it.
  ledger.set_budget(cpu, ledger.accounts().at("cpu").used + untiled);
  auto lease = ledger.acquire("job.test.scratch", cpu, untiled);
  REQUIRE(lease.ok());
  auto without = pipeline::choose_vae_for_decode(model, reg, shape);
  const bool untiled_without = without.ok() && without.value().owned == nullptr;
  CHECK_FALSE(untiled_without);  // tiled or refused: its own lease looks taken
  {
    memory::ScratchCredit credit(cpu, untiled);
    CHECK(memory::scratch_credit(cpu) == untiled);
    auto with = pipeline::choose_vae_for_decode(model, reg, shape);
    REQUIRE(with.ok());
    CHECK(with.value().owned == nullptr);  // the model's own, untiled VAE
    CHECK_THAT(with.value().reason, Catch::Contains("untiled"));
  }
  CHECK(memory::scratch_credit(cpu) == 0);
  CHECK(memory::with_scratch_credit(UINT64_MAX, cpu) == UINT64_MAX);
  ledger.release(lease.value());
  ledger.set_budget(cpu, old_budget);
}
