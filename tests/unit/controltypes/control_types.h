#pragma once
// Test access to the built ControlNet type plugins: each test creates its type through the real
// plugin registry from the built libraries (lib/sdxl/plugins), as `sdxl generate` would.

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "sdxl/sdk/controlnet_type.h"
#include "sdxl/sdk/options.h"
#include "sdxl/sdk/status.h"

namespace cntest {

/// Creates ControlNet type `name` with `options` overriding the plugin defaults.
sdxl::sdk::Result<std::unique_ptr<sdxl::sdk::ControlNetType>> make_type(
    const std::string& name, const std::map<std::string, sdxl::sdk::OptionValue>& options = {});

/// make_type, REQUIREd to succeed.
std::unique_ptr<sdxl::sdk::ControlNetType> require_type(const std::string& name,
                                                        const std::map<std::string, sdxl::sdk::OptionValue>& options = {});

/// preprocess, REQUIREd to succeed and to return uint8 [H, W, 3] of the input's size.
at::Tensor require_control(sdxl::sdk::ControlNetType& type, const at::Tensor& image);

/// A fresh folder for model files written by a test (removed at exit).
std::filesystem::path scratch_dir();

/// uint8 [H, W, 3] black picture.
at::Tensor black(int64_t h, int64_t w);

/// The RGB triple at (y, x) of a uint8 [H, W, 3] picture, as "r,g,b" (readable in failures).
std::string rgb_at(const at::Tensor& img, int64_t y, int64_t x);

}  // namespace cntest
