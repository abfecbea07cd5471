#include "model_runner.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <mutex>

namespace sdxl::cntypes {

namespace fs = std::filesystem;

sdk::Result<ModelBackend> choose_backend(const std::string& path, const std::string& choice) {
  if (choice == "onnx") return ModelBackend::onnx;
  if (choice == "torchscript") return ModelBackend::torchscript;
  if (choice != "auto" && !choice.empty())
    return sdk::invalid_argument("backend '" + choice + "' is not one of auto, onnx, torchscript");
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".onnx") return ModelBackend::onnx;
  if (ext == ".pt" || ext == ".pth" || ext == ".ts" || ext == ".torchscript" || ext == ".jit")
    return ModelBackend::torchscript;
  return sdk::invalid_argument("cannot tell the format of model file '" + path + "' from its extension '" + ext +
                               "': set option `backend` to \"onnx\" or \"torchscript\"");
}

sdk::Result<std::shared_ptr<ModelRunner>> open_model(const std::string& type, const std::string& path,
                                                     const std::string& backend_choice, c10::Device device) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return sdk::not_found(type + ": model file '" + path + "' (option `model`) does not exist or is not a file");
  auto backend = choose_backend(path, backend_choice);
  if (!backend.ok()) return sdk::invalid_argument(type + ": " + backend.status().message());

  // Cache: the same file opened by several units, jobs or plugin objects is loaded once. Weak
  // references, so a model nobody uses any more is freed.
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<ModelRunner>> cache;
  const std::string key = fs::absolute(path, ec).string() + "|" + std::to_string(static_cast<int>(backend.value())) +
                          "|" + device.str();
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end())
    if (auto live = it->second.lock()) return live;
  auto opened = backend.value() == ModelBackend::onnx ? open_onnx_model(path) : open_torchscript_model(path, device);
  if (!opened.ok()) return sdk::Status(opened.status().code(), type + ": " + opened.status().message());
  cache[key] = opened.value();
  return opened;
}

}  // namespace sdxl::cntypes
