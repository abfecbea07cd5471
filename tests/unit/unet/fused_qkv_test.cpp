// Self-attention q/k/v in one product ([gpu] fused_qkv): the weights stacked in one storage
// (models/common/stacked_weights.h) are the same tensors with the same values; a UNet computing
// with them gives what the three products give; in-place edits (a merged LoRA) and runtime
// adapters still act on each layer; and a weight later re-seated on storage of its own ends only
// that layer's stacking; the memory arbiter's moves (which copy tensor by tensor) keep the
// layouts through ParameterResidency's re-seat callback.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <stdexcept>

#include "memory/parameter_residency.h"
#include "models/common/layers.h"
#include "models/common/stacked_weights.h"
#include "models/unet/unet_model.h"
#include "tiny_unet.h"

using namespace sdxl;

namespace {

using test_unet::tiny_config;

// Self-attention queries and keys large enough for a peaked softmax: with 0.1-scale weights every
// score is near zero, the attention averages, and keys hardly matter (a product that mixed up k
// would go unseen).
std::shared_ptr<models::UNet2DConditionModel> random_unet(const models::UNetConfig& c) {
  return test_unet::random_unet(c, 3, [](const std::string& name, at::Tensor& w) {
    if (name.find(".attn1.to_q.") != std::string::npos || name.find(".attn1.to_k.") != std::string::npos) w.mul_(30);
  });
}

models::UNetInputs inputs(const models::UNetConfig& c) { return test_unet::random_inputs(c, 2); }

at::Tensor eps(const models::UNet2DConditionModel& unet, const models::UNetInputs& in) {
  auto out = unet.forward(in);
  INFO(out.status().message());
  REQUIRE(out.ok());
  return out.value();
}

// Both models' results agree to float32 rounding (one [3C, C] product is blocked differently from
// three [C, C] ones).
void check_same(const at::Tensor& a, const at::Tensor& b) {
  const double scale = b.abs().max().item<double>();
  CHECK((a - b).abs().max().item<double>() <= 1e-5 * scale + 1e-6);
}

// Names of every self-attention weight `which` (to_q, to_k, to_v).
std::vector<std::string> self_attention_weights(const models::UNet2DConditionModel& unet, const std::string& which) {
  std::vector<std::string> names;
  const std::string suffix = ".attn1." + which + ".weight";
  for (const auto& [k, t] : unet.parameters())
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) names.push_back(k);
  return names;
}

// Adds x·A^T (a runtime LoRA's shape of term, full rank).
struct AddProduct : models::LayerAdapter {
  explicit AddProduct(at::Tensor a_) : a(std::move(a_)) {}
  at::Tensor a;
  at::Tensor linear(const at::Tensor& x) const override { return at::matmul(x, a.t()); }
  at::Tensor conv2d(const at::Tensor&, std::int64_t, std::int64_t) const override {
    throw std::logic_error("not a convolution");
  }
};

}  // namespace

TEST_CASE("stacked weights: same tensors and values, one view over them, gone once one moves", "[unet]") {
  std::vector<at::Tensor> w{at::randn({4, 3}), at::randn({2, 3}), at::randn({4, 3})};
  const std::vector<at::Tensor> values{w[0].clone(), w[1].clone(), w[2].clone()};
  std::vector<const c10::TensorImpl*> impls;
  for (const auto& t : w) impls.push_back(t.unsafeGetTensorImpl());
  CHECK_FALSE(models::stacked_rows(w).defined());  // separate storages

  REQUIRE(models::stack_rows_in_place(w));
  for (std::size_t i = 0; i < w.size(); ++i) {
    CHECK(w[i].unsafeGetTensorImpl() == impls[i]);
    CHECK(at::equal(w[i], values[i]));
  }
  at::Tensor all = models::stacked_rows(w);
  REQUIRE(all.defined());
  CHECK(all.sizes() == at::IntArrayRef{10, 3});
  CHECK(at::equal(all, at::cat(values, 0)));
  w[1].add_(1.0);  // an in-place edit shows through the view
  CHECK(at::equal(all.narrow(0, 4, 2), values[1] + 1.0));
  CHECK_FALSE(models::stacked_rows({w[1], w[0], w[2]}).defined());  // another order

  w[2].set_(w[2].clone());  // re-seated on storage of its own
  CHECK_FALSE(models::stacked_rows(w).defined());
  CHECK(models::stacked_rows({w[0], w[1]}).defined());

  // Unlike weights are refused and left as they were.
  const std::vector<at::Tensor> unlike{at::randn({2, 3}), at::randn({2, 4})};
  const auto* before = unlike[0].data_ptr();
  CHECK_FALSE(models::stack_rows_in_place(unlike));
  CHECK(unlike[0].data_ptr() == before);
  CHECK_FALSE(models::stack_rows_in_place({at::randn({2, 3}), at::randn({2, 3}, at::kDouble)}));
  CHECK_FALSE(models::stack_rows_in_place({at::randn({2, 3})}));
}

TEST_CASE("fused q/k/v: the UNet gives the three products' result with the same tensors", "[unet]") {
  const auto cfg = tiny_config();
  const auto plain = random_unet(cfg), fused = random_unet(cfg);
  const auto in = inputs(cfg);
  std::map<std::string, const c10::TensorImpl*> before;
  for (const auto& [name, t] : fused->parameters()) before[name] = t.unsafeGetTensorImpl();

  REQUIRE(fused->self_attentions() == self_attention_weights(*fused, "to_q").size());
  REQUIRE(fused->self_attentions() > 0);
  CHECK(fused->stacked_self_attentions() == 0);
  CHECK(fused->stack_self_attention_projections() == fused->self_attentions());
  CHECK(fused->stack_self_attention_projections() == fused->self_attentions());  // again: nothing changes
  for (const auto& [name, t] : fused->parameters()) {
    CHECK(t.unsafeGetTensorImpl() == before[name]);
    CHECK(at::equal(t, plain->parameters().at(name)));
  }
  check_same(eps(*fused, in), eps(*plain, in));

  // A merged LoRA edits the weights in place: the stacked product reads the edited values.
  at::manual_seed(9);
  for (const auto& name : self_attention_weights(*fused, "to_k")) {
    const at::Tensor delta = at::randn(fused->parameters().at(name).sizes()).mul_(0.2);
    fused->parameters().at(name).add_(delta);
    plain->parameters().at(name).add_(delta);
  }
  CHECK(fused->stacked_self_attentions() == fused->self_attentions());
  const at::Tensor edited = eps(*plain, in);
  check_same(eps(*fused, in), edited);
  // The edit mattered, far beyond check_same's allowance for rounding.
  const double effect = (edited - eps(*random_unet(cfg), in)).abs().max().item<double>();
  CHECK(effect > 100 * (1e-5 * edited.abs().max().item<double>() + 1e-6));
}

TEST_CASE("fused q/k/v: runtime adapters and weights re-seated on their own", "[unet]") {
  const auto cfg = tiny_config();
  const auto plain = random_unet(cfg), fused = random_unet(cfg);
  const auto in = inputs(cfg);
  REQUIRE(fused->stack_self_attention_projections() == fused->self_attentions());
  const at::Tensor without = eps(*plain, in);

  // A runtime adapter hangs on one layer's own weight tensor; stacking keeps it.
  const std::string v = self_attention_weights(*fused, "to_v").front();
  at::manual_seed(11);
  const at::Tensor a = at::randn(fused->parameters().at(v).sizes()).mul_(0.3);
  models::set_layer_adapter(fused->parameters().at(v), std::make_shared<AddProduct>(a));
  models::set_layer_adapter(plain->parameters().at(v), std::make_shared<AddProduct>(a));
  const at::Tensor with = eps(*plain, in);
  check_same(eps(*fused, in), with);
  models::set_layer_adapter(fused->parameters().at(v), nullptr);
  models::set_layer_adapter(plain->parameters().at(v), nullptr);
  CHECK_FALSE(at::allclose(with, without, 1e-3, 1e-3));  // the adapter mattered

  // One weight moved to storage of its own (as streaming it off the device and back does): that
  // layer computes three products again, the others stay stacked, and the result is unchanged.
  const at::Tensor& q = fused->parameters().at(self_attention_weights(*fused, "to_q").front());
  q.set_(q.clone());
  CHECK(fused->stacked_self_attentions() == fused->self_attentions() - 1);
  check_same(eps(*fused, in), without);
}

TEST_CASE("weight layouts: channels-last and stacked q/k/v come back after the arbiter moves the UNet", "[unet]") {
  const auto cfg = tiny_config();
  const auto unet = random_unet(cfg);
  const auto in = inputs(cfg);
  unet->use_channels_last();
  REQUIRE(unet->stack_self_attention_projections() == unet->self_attentions());
  const at::Tensor before = eps(*unet, in);
  const std::string conv = "conv_in.weight";
  REQUIRE(unet->parameters().at(conv).is_contiguous(at::MemoryFormat::ChannelsLast));

  // A simulated GPU (this machine has none): the move makes fresh CPU copies in the standard layout.
  memory::ParameterResidency plain("unet", unet->parameters(), nullptr);
  REQUIRE(plain.move_to(c10::Device("cuda:0")).ok());
  CHECK(unet->stacked_self_attentions() == 0);  // without the callback both layouts are gone
  CHECK_FALSE(unet->parameters().at(conv).is_contiguous(at::MemoryFormat::ChannelsLast));
  check_same(eps(*unet, in), before);

  memory::ParameterResidency residency("unet", unet->parameters(), nullptr);
  std::vector<std::string> calls;
  residency.set_on_reseated([&](c10::Device to) {
    calls.push_back(to.str());
    if (!to.is_cpu()) unet->restore_weight_layouts();
  });
  REQUIRE(residency.move_to(c10::Device(c10::kCPU)).ok());
  CHECK(unet->stacked_self_attentions() == 0);  // on the host, where it only waits: as they come
  REQUIRE(residency.move_to(c10::Device("cuda:0")).ok());
  CHECK(calls == std::vector<std::string>{"cpu", "cuda:0"});
  CHECK(unet->stacked_self_attentions() == unet->self_attentions());
  CHECK(unet->parameters().at(conv).is_contiguous(at::MemoryFormat::ChannelsLast));
  check_same(eps(*unet, in), before);
}
