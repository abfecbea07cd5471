// The safetensors checks the LoRA bad files rely on (host/io/safetensors.cpp): the data area must
// be tiled by the tensors exactly — no gap between tensors, no trailing bytes after the last one.
#include <catch2/catch.hpp>

#include "io/safetensors.h"

namespace {

sdxl::sdk::Result<std::shared_ptr<sdxl::io::SafetensorsFile>> parse(const std::string& header, const std::string& data) {
  auto bytes = std::make_shared<std::string>(8, '\0');
  for (int i = 0; i < 8; ++i) (*bytes)[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  *bytes += header + data;
  return sdxl::io::SafetensorsFile::from_bytes("mem", bytes, reinterpret_cast<const std::uint8_t*>(bytes->data()),
                                               bytes->size());
}

}  // namespace

TEST_CASE("safetensors data area must be contiguous and fully covered", "[lora][safetensors]") {
  const std::string two = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  CHECK(parse(two, std::string(12, '\0')).ok());
  auto trailing = parse(two, std::string(28, '\0'));
  REQUIRE_FALSE(trailing.ok());
  CHECK_THAT(trailing.status().message(), Catch::Contains("16 trailing bytes"));
  auto gap = parse(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                   std::string(16, '\0'));
  REQUIRE_FALSE(gap.ok());
  CHECK_THAT(gap.status().message(), Catch::Contains("'b'"));
  CHECK(parse(R"({"z":{"dtype":"F16","shape":[0],"data_offsets":[0,0]}})", "").ok());  // empty tensor, empty area
}
