#pragma once
// A small text file in the tests' scratch folder (configurations and the like for tests).

#include <filesystem>
#include <fstream>
#include <string>

#include "test_paths.h"

namespace sdxl::test_support {

/// Writes `text` to the scratch folder's `name` (replacing it) and returns the path.
inline std::string write_temp_file(const std::string& name, const std::string& text) {
  const auto path = sdxl::test_paths::scratch_dir() / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace sdxl::test_support
