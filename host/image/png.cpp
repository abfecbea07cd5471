#include "image/png.h"

#include <ATen/ATen.h>
#include <png.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace sdxl::image {
namespace {

std::atomic<int> g_compression{kDefaultPngCompression};

// libpng reports errors through longjmp; these callbacks record the message first.
struct ErrorSink {
  std::string message;
};

void on_error(png_structp png, png_const_charp msg) {
  auto* sink = static_cast<ErrorSink*>(png_get_error_ptr(png));
  if (sink) sink->message = msg;
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

struct ReadCursor {
  const unsigned char* data;
  std::size_t size;
  std::size_t pos;
};

void read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* c = static_cast<ReadCursor*>(png_get_io_ptr(png));
  if (c->pos + n > c->size) png_error(png, "unexpected end of file");
  std::memcpy(out, c->data + c->pos, n);
  c->pos += n;
}

void write_bytes(png_structp png, png_bytep in, png_size_t n) {
  auto* v = static_cast<std::vector<unsigned char>*>(png_get_io_ptr(png));
  v->insert(v->end(), in, in + n);
}
void flush_nothing(png_structp) {}

}  // namespace

sdk::Result<std::vector<unsigned char>> encode_png(const at::Tensor& pixels,
                                                   const std::map<std::string, std::string>& text) {
  if (!pixels.defined() || pixels.dim() != 3 || pixels.scalar_type() != at::kByte)
    return sdk::invalid_argument("PNG: expected uint8 pixels [H, W, C]");
  const auto channels = pixels.size(2);
  int color = channels == 3 ? PNG_COLOR_TYPE_RGB : channels == 4 ? PNG_COLOR_TYPE_RGBA : channels == 1 ? PNG_COLOR_TYPE_GRAY : -1;
  if (color < 0) return sdk::invalid_argument("PNG: expected 1, 3 or 4 channels");
  at::Tensor px = pixels.to(at::kCPU).contiguous();
  const auto h = px.size(0), w = px.size(1);
  std::vector<unsigned char> out;
  ErrorSink sink;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    return sdk::internal_error("PNG: out of memory");
  }
  std::vector<png_text> chunks;
  std::vector<std::string> keys, values;  // keep the strings alive while libpng reads them
  keys.reserve(text.size());
  values.reserve(text.size());
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return sdk::internal_error("PNG encode failed: " + sink.message);
  }
  png_set_write_fn(png, &out, write_bytes, flush_nothing);
  png_set_compression_level(png, g_compression.load());
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), 8, color, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  for (const auto& [k, v] : text) {
    keys.push_back(k);
    values.push_back(v);
    png_text t{};
    // Non-ASCII text (prompts in any language) needs iTXt, which is UTF-8; Latin-1 tEXt would
    // garble it. A1111 writes "parameters" the same way.
    bool ascii = true;
    for (unsigned char c : v) ascii = ascii && c < 0x80;
    t.compression = ascii ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
    t.key = const_cast<char*>(keys.back().c_str());
    t.text = const_cast<char*>(values.back().c_str());
    t.text_length = values.back().size();
    chunks.push_back(t);
  }
  if (!chunks.empty()) png_set_text(png, info, chunks.data(), static_cast<int>(chunks.size()));
  png_write_info(png, info);
  const auto* base = px.data_ptr<std::uint8_t>();
  for (std::int64_t y = 0; y < h; ++y)
    png_write_row(png, const_cast<png_bytep>(base + y * w * channels));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

void set_png_compression(int level) { g_compression = std::clamp(level, 0, 9); }
int png_compression() { return g_compression; }

sdk::Status write_png(const std::string& path, const at::Tensor& pixels, const std::map<std::string, std::string>& text) {
  auto bytes = encode_png(pixels, text);
  if (!bytes.ok()) return sdk::Status(bytes.status().code(), path + ": " + bytes.status().message());
  const std::string tmp = path + ".partial";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return sdk::invalid_argument(path + ": cannot write (" + std::strerror(errno) + ")");
    f.write(reinterpret_cast<const char*>(bytes.value().data()), static_cast<std::streamsize>(bytes.value().size()));
    if (!f) {
      f.close();
      std::filesystem::remove(tmp);
      return sdk::internal_error(path + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return sdk::internal_error(path + ": " + ec.message());
  return {};
}

sdk::Result<PngImage> decode_png(const unsigned char* data, std::size_t size, const std::string& label) {
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) return sdk::corrupt_data(label + ": not a PNG file");
  ErrorSink sink;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_read_struct(&png, &info, nullptr);
    return sdk::internal_error(label + ": out of memory");
  }
  ReadCursor cursor{data, size, 0};
  PngImage img;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return sdk::corrupt_data(label + ": " + sink.message);
  }
  png_set_read_fn(png, &cursor, read_bytes);
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (w == 0 || h == 0 || static_cast<std::uint64_t>(w) * h > (1ull << 28))
    png_error(png, "image size out of range");
  // Normalise to 8-bit grey/RGB/RGBA.
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_packing(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const int color = png_get_color_type(png, info);
  int out_channels = channels;
  if (color == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_strip_alpha(png);
    png_read_update_info(png, info);
    out_channels = 1;
  }
  img.pixels = at::empty({static_cast<long>(h), static_cast<long>(w), out_channels}, at::kByte);
  std::vector<png_bytep> rows(h);
  auto* base = img.pixels.data_ptr<std::uint8_t>();
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = base + static_cast<std::size_t>(y) * w * out_channels;
  png_read_image(png, rows.data());
  png_read_end(png, info);
  png_textp texts = nullptr;
  int n = 0;
  png_get_text(png, info, &texts, &n);
  for (int i = 0; i < n; ++i) img.text[texts[i].key] = std::string(texts[i].text, texts[i].itxt_length ? texts[i].itxt_length : texts[i].text_length);
  png_destroy_read_struct(&png, &info, nullptr);
  return img;
}

sdk::Result<PngImage> read_png(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return sdk::not_found(path + ": cannot open");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), {});
  return decode_png(bytes.data(), bytes.size(), path);
}

}  // namespace sdxl::image
