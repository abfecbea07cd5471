#pragma once
// Reading golden cases from disk, stripping them to the inputs a handler may use, and writing
// replay results. See golden_case.h for the contract.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "golden/golden_case.h"
#include "sdxl/sdk/status.h"

namespace sdxl::golden {

/// Reads CASE.safetensors (manifest from the sidecar CASE.json, else __metadata__["manifest"];
/// a file with neither gets a null manifest) or a JSON-only CASE.json (the file is the manifest).
sdk::Result<GoldenCase> load_case(const std::filesystem::path& file);

/// Candidate case files of a folder, sorted: every *.safetensors, and every *.json that is not the
/// sidecar of a *.safetensors of the same stem.
std::vector<std::filesystem::path> list_case_files(const std::filesystem::path& dir);

/// The manifest with only the allowed keys. A key is "name", a nested "name.sub", or
/// "name[].sub" for a field of every element of an array.
nlohmann::json filter_manifest(const nlohmann::json& manifest, const std::set<std::string>& allowed);

/// Writes a copy of `c` holding only the allowed manifest keys and tensors into `dir` and loads
/// it back. The copy remembers the original folder (source_dir).
sdk::Result<GoldenCase> strip_case(const GoldenCase& c, const std::set<std::string>& manifest_keys,
                                   const std::set<std::string>& tensor_names, const std::filesystem::path& dir);

/// Writes a replay's outputs: tensors in order, with {format, case, json} metadata.
sdk::Status write_result(const std::filesystem::path& out, const GoldenCase& c, const TensorList& produced,
                         const nlohmann::json& json_out);

/// Display name of a case: manifest "name", else the file stem.
std::string case_name(const GoldenCase& c);

/// Names the manifest's tensor table ("tensors": {name: {"role": …}}) marks with `role`
/// ("input", "output", "intermediate"); empty when there is no table.
std::set<std::string> manifest_tensors_with_role(const nlohmann::json& manifest, const std::string& role);

/// A fresh private temporary folder, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sdxl::golden
