#pragma once
// PNG files through libpng (no OpenCV needed, so the GPU build has it too): RGB/RGBA/grey
// 8-bit images as uint8 tensors [H, W, C], and tEXt chunks such as A1111's "parameters".

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::image {

struct PngImage {
  at::Tensor pixels;                         ///< uint8 [H, W, C], C = 1, 3 or 4
  std::map<std::string, std::string> text;   ///< tEXt/iTXt/zTXt chunks
};

/// zlib level of the PNGs encode_png writes, 0 (stored) … 9 (smallest); process-wide, set at start
/// from `[output] png_compression`. Default 1: on a 1024² picture about 4x faster to write than
/// zlib's default 6 (62 vs 267 ms on the development machine) for a file about 16 % larger.
constexpr int kDefaultPngCompression = 1;
/// Levels outside 0…9 are clamped (the configuration refuses them with a message first).
void set_png_compression(int level);
int png_compression();

/// Encodes `pixels` (uint8 [H, W, 3|4|1]) with the given text chunks into PNG bytes.
sdk::Result<std::vector<unsigned char>> encode_png(const at::Tensor& pixels,
                                                   const std::map<std::string, std::string>& text = {});
/// Writes atomically (temporary file + rename): an interrupted write leaves no partial file.
sdk::Status write_png(const std::string& path, const at::Tensor& pixels,
                      const std::map<std::string, std::string>& text = {});

sdk::Result<PngImage> decode_png(const unsigned char* data, std::size_t size, const std::string& label);
sdk::Result<PngImage> read_png(const std::string& path);

}  // namespace sdxl::image
