// Example third-party plugin: the ControlNet type "invert", which turns black-line drawings on a
// white background into the white-on-black line images lineart/scribble ControlNets expect
// (A1111's "invert (from white bg & black line)" preprocessor). Pure ATen, no other dependency.
#include <ATen/ATen.h>

#include <sdxl/sdk/sdk.h>

namespace {

using namespace sdxl::sdk;

class Invert : public ControlNetType {
 public:
  explicit Invert(bool binarize, std::int64_t threshold) : binarize_(binarize), threshold_(threshold) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    // guard() turns any exception (from ATen, say) into a Status: none may leave a plugin.
    return guard("invert.preprocess", [&]() -> Result<at::Tensor> {
      if (!image.defined() || image.dim() != 3 || image.size(2) != 3 || image.scalar_type() != at::kByte)
        return invalid_argument("invert: expected a uint8 RGB image [H, W, 3]");
      // Grey = channel mean; invert; optionally binarize so faint paper texture disappears.
      at::Tensor grey = 255 - image.to(at::kFloat).mean(2, /*keepdim=*/true);
      if (binarize_) grey = (grey > static_cast<double>(threshold_)).to(at::kFloat) * 255;
      return grey.expand({image.size(0), image.size(1), 3}).round().clamp(0, 255).to(at::kByte).contiguous();
    });
  }

 private:
  bool binarize_;
  std::int64_t threshold_;
};

class InvertPlugin : public Plugin {
 public:
  InvertPlugin() {
    info_ = {"org.example.invert", "Invert line art (example)", "1.0.0", "Example Corp", "MIT",
             "Example out-of-tree plugin built with find_package(SdxlSdk)", {}};
    FeatureInfo f;
    f.kind = FeatureKind::controlnet_type;
    f.name = "invert";
    f.aliases = {"invert (from white bg & black line)"};
    f.description = "white background + black lines -> black background + white lines";
    f.options = {{"binarize", OptionType::boolean, false, std::nullopt, std::nullopt, {}, "threshold the result"},
                 {"threshold", OptionType::integer, std::int64_t{127}, 0.0, 255.0, {}, "binarize threshold"}};
    info_.features.push_back(std::move(f));
  }
  const PluginInfo& info() const override { return info_; }
  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string&, const Options& o,
                                                                 const HostServices&) override {
    return std::unique_ptr<ControlNetType>(std::make_unique<Invert>(o.get_bool("binarize"), o.get_int("threshold", 127)));
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(InvertPlugin, "org.example.invert")
