#pragma once
/// @file shape_text.h
/// How error messages write a tensor shape: "[2, 4, 128, 128]" (the host and the in-tree
/// plugins all use it, so a message names shapes the same way whichever side wrote it).
/// @since 1.0 (header-only; adds no ABI)

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace sdxl::sdk {

inline std::string shape_text(c10::IntArrayRef shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace sdxl::sdk
