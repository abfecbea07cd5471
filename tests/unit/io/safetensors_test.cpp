#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using sdxl::io::SafetensorsFile;

namespace {
fs::path temp_path(const std::string& name) {
  auto dir = sdxl::test_paths::scratch_dir() / "sdxl_unit_tests";
  fs::create_directories(dir);
  return dir / name;
}

std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

sdxl::sdk::Result<std::shared_ptr<SafetensorsFile>> parse(const std::string& bytes) {
  auto owner = std::make_shared<std::string>(bytes);
  return SafetensorsFile::from_bytes("mem", owner, reinterpret_cast<const std::uint8_t*>(owner->data()),
                                     owner->size());
}
}  // namespace

TEST_CASE("safetensors round-trips tensors of every supported dtype", "[safetensors]") {
  auto path = temp_path("roundtrip.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"a.f32", at::arange(12, at::kFloat).reshape({3, 4})},
      {"b.f16", at::arange(6, at::kFloat).to(at::kHalf)},
      {"c.bf16", at::arange(5, at::kFloat).to(at::kBFloat16)},
      {"d.i64", at::arange(7, at::kLong)},
      {"e.f64", at::linspace(0, 1, 9, at::kDouble)},
  };
  REQUIRE(sdxl::io::write_safetensors(path, tensors, {{"format", "pt"}}).ok());
  auto file = SafetensorsFile::open(path);
  REQUIRE(file.ok());
  CHECK(file.value()->metadata().at("format") == "pt");
  for (const auto& [name, t] : tensors) {
    auto got = file.value()->tensor(name);
    REQUIRE(got.ok());
    CHECK(got.value().scalar_type() == t.scalar_type());
    CHECK(at::equal(got.value(), t));
  }
  CHECK_FALSE(file.value()->tensor("missing").ok());
}

TEST_CASE("safetensors refuses malformed headers with the tensor named", "[safetensors]") {
  SECTION("too short") { CHECK(parse("abc").status().code() == sdxl::sdk::StatusCode::corrupt_data); }
  SECTION("header past end") {
    std::string b(8, '\0');
    b[0] = 100;
    auto r = parse(b + "{}");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("past the end"));
  }
  SECTION("data past end") {
    auto r = parse(raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0')));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("'w'"));
  }
  SECTION("shape disagrees with offsets") {
    auto r = parse(raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", std::string(16, '\0')));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("need 12 bytes"));
  }
  SECTION("huge shape does not allocate") {
    auto r = parse(raw_file(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}})",
                            std::string(16, '\0')));
    REQUIRE_FALSE(r.ok());
  }
  SECTION("overlap") {
    auto r = parse(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            std::string(16, '\0')));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("overlaps"));
  }
  SECTION("unknown dtype") {
    auto r = parse(raw_file(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}})", std::string(8, '\0')));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("Q4"));
  }
}

TEST_CASE("safetensors survives a deterministic mutation loop", "[safetensors][fuzz]") {
  std::vector<std::pair<std::string, at::Tensor>> tensors = {{"x", at::ones({4, 4})}, {"y", at::zeros({3}, at::kHalf)}};
  auto path = temp_path("fuzz_seed.safetensors");
  REQUIRE(sdxl::io::write_safetensors(path, tensors).ok());
  std::ifstream in(path, std::ios::binary);
  std::string seed((std::istreambuf_iterator<char>(in)), {});
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; };
  int ok = 0, refused = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string b = seed;
    int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (next() % 3) {
        case 0: b[next() % b.size()] = static_cast<char>(next()); break;
        case 1: b.resize(next() % (b.size() + 1)); if (b.empty()) b = "x"; break;
        case 2: b.insert(next() % b.size(), 1, static_cast<char>("0123456789,[]{}\"-"[next() % 17])); break;
      }
    }
    auto r = parse(b);
    if (!r.ok()) { ++refused; continue; }
    ++ok;
    for (const auto& e : r.value()->entries()) (void)r.value()->tensor(e.name);  // must not crash
  }
  CHECK(ok + refused == 20000);
  CHECK(refused > 0);
}
