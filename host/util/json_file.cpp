#include "util/json_file.h"

#include <fstream>

namespace sdxl::util {

sdk::Result<nlohmann::json> read_json_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return sdk::not_found(p.string() + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return sdk::corrupt_data(p.string() + ": invalid JSON: " + e.what());
  }
}

}  // namespace sdxl::util
