// The only test file that includes torch/script.h (slow to compile).
#include "torchscript_models.h"

#include <torch/script.h>

namespace cntest {

std::filesystem::path save_torchscript(const std::filesystem::path& dir, const std::string& name, const std::string& body) {
  torch::jit::Module m(name);
  m.define("def forward(self, x):\n" + body);
  const auto path = dir / (name + ".pt");
  m.save(path.string());
  return path;
}

}  // namespace cntest
