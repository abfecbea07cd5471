#pragma once
// Tiny TorchScript modules written from C++ (torch::jit::Module + define + save), standing in for
// real depth / pose models so the TorchScript loading and inference path really runs.

#include <filesystem>
#include <string>

namespace cntest {

/// Saves a module whose forward(x: [1, 3, H, W]) is `body` (TorchScript source, indented by 4
/// spaces, ending in a return). Returns the file path.
std::filesystem::path save_torchscript(const std::filesystem::path& dir, const std::string& name, const std::string& body);

}  // namespace cntest
