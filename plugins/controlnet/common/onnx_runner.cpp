// ONNX models through OpenCV's DNN module (CPU). OpenCV ships with Debian; no ONNX Runtime needed.
#include <ATen/ATen.h>
#include <opencv2/dnn.hpp>

#include <mutex>

#include "model_runner.h"

namespace sdxl::cntypes {
namespace {

// OpenCV's messages end in a newline; ours are one line.
std::string trimmed(const char* what) {
  std::string s = what;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class OnnxRunner : public ModelRunner {
 public:
  OnnxRunner(std::string path, cv::dnn::Net net) : path_(std::move(path)), net_(std::move(net)) {
    outputs_ = net_.getUnconnectedOutLayersNames();
  }

  sdk::Result<std::vector<at::Tensor>> run(const at::Tensor& input) override {
    at::Tensor x = input.to(at::kCPU, at::kFloat).contiguous();  // [1, 3, H, W]
    std::vector<int> dims(x.sizes().begin(), x.sizes().end());
    cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F, x.data_ptr<float>());
    std::vector<cv::Mat> outs;
    try {
      std::lock_guard<std::mutex> lock(mu_);  // cv::dnn::Net keeps per-call state
      net_.setInput(blob);
      net_.forward(outs, outputs_);
    } catch (const cv::Exception& e) {
      return sdk::invalid_argument(describe() + " failed on an input of shape " + shape_of(x) + ": " + trimmed(e.what()));
    }
    std::vector<at::Tensor> result;
    for (cv::Mat& m : outs) {
      if (m.depth() != CV_32F) m.convertTo(m, CV_32F);
      std::vector<int64_t> sizes;
      for (int d = 0; d < m.dims; ++d) sizes.push_back(m.size[d]);
      // OpenCV keeps channels of a 2-D Mat interleaved; fold them in as a last dimension.
      if (m.channels() > 1) sizes.push_back(m.channels());
      result.push_back(at::from_blob(m.ptr<float>(), sizes, at::kFloat).clone());
    }
    return result;
  }

  std::string describe() const override { return "ONNX model '" + path_ + "'"; }

 private:
  static std::string shape_of(const at::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
  }

  std::string path_;
  cv::dnn::Net net_;
  std::vector<std::string> outputs_;
  std::mutex mu_;
};

}  // namespace

sdk::Result<std::shared_ptr<ModelRunner>> open_onnx_model(const std::string& path) {
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
    if (net.empty()) return sdk::corrupt_data("ONNX model '" + path + "' holds no network");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return std::shared_ptr<ModelRunner>(std::make_shared<OnnxRunner>(path, std::move(net)));
  } catch (const cv::Exception& e) {
    return sdk::corrupt_data("'" + path + "' is not an ONNX model OpenCV DNN can load: " + trimmed(e.what()));
  }
}

}  // namespace sdxl::cntypes
