// SHA-256 against the FIPS 180-4 / NIST example vectors.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "util/sha256.h"
#include "test_paths.h"

namespace {
std::string digest(const std::string& s) {
  sdxl::util::Sha256 h;
  h.update(s.data(), s.size());
  return sdxl::util::Sha256::hex(h.finish());
}
}  // namespace

TEST_CASE("SHA-256 matches the published test vectors", "[sha256]") {
  CHECK(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  sdxl::util::Sha256 million;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(chunk.data(), chunk.size());
  CHECK(sdxl::util::Sha256::hex(million.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("file hashes are cached by path, size and time", "[sha256]") {
  auto dir = sdxl::test_paths::scratch_dir() / "sdxl_sha_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "f.bin") << "abc";
  auto cache = dir / "hashes.json";
  std::filesystem::remove(cache);
  auto first = sdxl::util::cached_sha256_file(dir / "f.bin", cache);
  REQUIRE(first.ok());
  CHECK(first.value() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(std::filesystem::exists(cache));
  auto again = sdxl::util::cached_sha256_file(dir / "f.bin", cache);
  CHECK(again.value() == first.value());
  CHECK_FALSE(sdxl::util::cached_sha256_file(dir / "missing.bin", cache).ok());
}
