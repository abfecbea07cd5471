// TorchScript models through torch::jit (the only file of the plugins that includes torch/script.h:
// it is slow to compile, and the rest of the code needs ATen only).
#include <torch/script.h>

#include <mutex>

#include "model_runner.h"

namespace sdxl::cntypes {
namespace {

class TorchScriptRunner : public ModelRunner {
 public:
  TorchScriptRunner(std::string path, torch::jit::Module module, c10::Device device)
      : path_(std::move(path)), module_(std::move(module)), device_(device) {}

  sdk::Result<std::vector<at::Tensor>> run(const at::Tensor& input) override {
    c10::IValue out;
    try {
      std::lock_guard<std::mutex> lock(mu_);
      at::NoGradGuard no_grad;
      out = module_.forward({input.to(device_, at::kFloat)});
    } catch (const std::exception& e) {
      return sdk::invalid_argument(describe() + " failed on an input of shape [1, 3, " + std::to_string(input.size(2)) +
                                   ", " + std::to_string(input.size(3)) + "]: " + first_line(e.what()));
    }
    std::vector<at::Tensor> result;
    auto take = [&](const c10::IValue& v) -> sdk::Status {
      if (!v.isTensor()) return sdk::invalid_argument(describe() + " returned a " + v.tagKind() + ", expected tensors");
      result.push_back(v.toTensor().detach().to(at::kCPU, at::kFloat).contiguous());
      return {};
    };
    sdk::Status st;
    if (out.isTensor()) {
      st = take(out);
    } else if (out.isTuple()) {
      for (const auto& e : out.toTupleRef().elements())
        if (st = take(e); !st.ok()) break;
    } else if (out.isList()) {
      for (const c10::IValue e : out.toListRef())
        if (st = take(e); !st.ok()) break;
    } else {
      st = sdk::invalid_argument(describe() + " returned a " + out.tagKind() + ", expected a tensor, tuple or list");
    }
    if (!st.ok()) return st;
    return result;
  }

  std::string describe() const override { return "TorchScript model '" + path_ + "'"; }

 private:
  // c10::Error messages carry a long C++ backtrace after the first line.
  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

  std::string path_;
  torch::jit::Module module_;
  c10::Device device_;
  std::mutex mu_;
};

}  // namespace

sdk::Result<std::shared_ptr<ModelRunner>> open_torchscript_model(const std::string& path, c10::Device device) {
  try {
    torch::jit::Module m = torch::jit::load(path, device);
    m.eval();
    return std::shared_ptr<ModelRunner>(std::make_shared<TorchScriptRunner>(path, std::move(m), device));
  } catch (const std::exception& e) {
    std::string msg = e.what();
    return sdk::corrupt_data("'" + path + "' is not a TorchScript module torch::jit can load: " + msg.substr(0, msg.find('\n')));
  }
}

}  // namespace sdxl::cntypes
