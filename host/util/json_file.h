#pragma once
// Reads a JSON file (config.json, model_index.json…) with errors that name the file.

#include <nlohmann/json.hpp>

#include <filesystem>

#include "sdxl/sdk/status.h"

namespace sdxl::util {

/// not_found when the file cannot be opened, corrupt_data (with the parser's message) when it is
/// not valid JSON.
sdk::Result<nlohmann::json> read_json_file(const std::filesystem::path& p);

}  // namespace sdxl::util
