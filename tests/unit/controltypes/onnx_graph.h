#pragma once
// A tiny ONNX model written byte by byte (protobuf wire format), so the OpenCV DNN path of the
// learned ControlNet types runs on a real .onnx file without any ONNX tooling installed.

#include <filesystem>
#include <string>
#include <vector>

namespace cntest {

/// One 1x1 convolution y = W x + b: input "x" float [1, in_channels, height, width], output "y"
/// [1, out_channels, height, width]. `weights` is row-major [out, in]; `bias` has `out` entries.
/// Returns the serialised ModelProto (opset 11).
std::string onnx_conv1x1(int in_channels, int out_channels, const std::vector<float>& weights,
                         const std::vector<float>& bias, int height, int width);

void write_file(const std::filesystem::path& path, const std::string& bytes);

}  // namespace cntest
