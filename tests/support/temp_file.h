#pragma once
// A small text file in the system's temporary folder (configurations and the like for tests).

#include <filesystem>
#include <fstream>
#include <string>

namespace sdxl::test_support {

/// Writes `text` to TMPDIR/`name` (replacing it) and returns the path.
inline std::string write_temp_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace sdxl::test_support
