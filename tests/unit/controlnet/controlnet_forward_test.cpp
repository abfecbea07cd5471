// Forward-pass identities and refusals, and the process-wide model cache with its ledger entry.
#include "controlnet_test_util.h"

#include "memory/ledger.h"

using namespace sdxl;
using namespace cn_test;

namespace {

int ledger_count(const std::string& tag, std::uint64_t* bytes = nullptr) {
  int n = 0;
  for (const auto& e : memory::process_ledger().entries())
    if (e.tag == tag && !e.lease) {
      ++n;
      if (bytes) *bytes = e.bytes;
    }
  return n;
}

}  // namespace

TEST_CASE("residuals are linear in conditioning_scale", "[controlnet]") {
  auto tiny = load_tiny_controlnet();
  if (!tiny) return;
  auto& cn = tiny->model;
  auto in = tiny->inputs;
  auto full = cn->forward(in);
  in.conditioning_scale = 0.5;
  auto half = cn->forward(in);
  in.conditioning_scale = 0.0;
  auto none = cn->forward(in);
  REQUIRE(full.ok());
  REQUIRE(half.ok());
  REQUIRE(none.ok());
  REQUIRE(full->down.size() == half->down.size());
  for (std::size_t i = 0; i < full->down.size(); ++i) {
    INFO("down " << i);
    CHECK(at::allclose(half->down[i], full->down[i] * 0.5, 1e-6, 1e-7));
    CHECK(at::count_nonzero(none->down[i]).item<std::int64_t>() == 0);
    CHECK(full->down[i].abs().max().item<double>() > 0.1);  // not trivially zero
  }
  CHECK(at::allclose(half->mid, full->mid * 0.5, 1e-6, 1e-7));
}

TEST_CASE("batch rows are independent (CFG batch with the picture repeated)", "[controlnet]") {
  auto tiny = load_tiny_controlnet();
  if (!tiny) return;
  auto& cn = tiny->model;
  auto one = tiny->inputs;
  auto two = one;
  two.sample = at::cat({one.sample, one.sample}, 0);
  two.timestep = at::cat({one.timestep, one.timestep}, 0);
  two.encoder_hidden_states = at::cat({at::zeros_like(one.encoder_hidden_states), one.encoder_hidden_states}, 0);
  two.text_embeds = at::cat({at::zeros_like(one.text_embeds), one.text_embeds}, 0);
  two.time_ids = at::cat({one.time_ids, one.time_ids}, 0);
  two.controlnet_cond = one.controlnet_cond.repeat({2, 1, 1, 1});
  auto a = cn->forward(one);
  auto b = cn->forward(two);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  for (std::size_t i = 0; i < a->down.size(); ++i) CHECK(at::allclose(b->down[i][1], a->down[i][0], 1e-5, 1e-5));
  CHECK(at::allclose(b->mid[1], a->mid[0], 1e-5, 1e-5));
  CHECK_FALSE(at::allclose(b->mid[0], a->mid[0], 1e-3, 1e-3));  // other conditioning, other residual
}

TEST_CASE("wrong input shapes are invalid_argument, not crashes", "[controlnet][errors]") {
  auto tiny = load_tiny_controlnet();
  if (!tiny) return;
  auto& cn = tiny->model;
  const auto good = tiny->inputs;
  auto expect_refusal = [&](models::ControlNetInputs in, const std::string& part) {
    auto r = cn->forward(in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == sdk::StatusCode::invalid_argument);
    CHECK(r.status().message().find(part) != std::string::npos);
  };
  auto in = good;
  in.controlnet_cond = at::rand({1, 3, 64, 64});  // half the image size
  expect_refusal(in, "controlnet_cond");
  in = good;
  in.controlnet_cond = at::Tensor();
  expect_refusal(in, "controlnet_cond");
  in = good;
  in.controlnet_cond = at::rand({1, 1, 128, 128});  // grey picture, 3 channels expected
  expect_refusal(in, "controlnet_cond");
  in = good;
  in.encoder_hidden_states = at::rand({1, 77, 2048});
  expect_refusal(in, "encoder_hidden_states");
}

TEST_CASE("shared_controlnet shares one model and ledgers it while held", "[controlnet][memory]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  const std::string tag = "controlnet:controlnet-tiny";
  REQUIRE(ledger_count(tag) == 0);
  auto a = models::shared_controlnet(kFolder, {}, at::kFloat, at::kCPU);
  INFO(a.status().message());
  REQUIRE(a.ok());
  // The same folder spelled differently is the same model.
  auto b = models::shared_controlnet(kFolder / "." / "", {}, at::kFloat, at::kCPU);
  REQUIRE(b.ok());
  CHECK(a->get() == b->get());
  std::uint64_t bytes = 0;
  CHECK(ledger_count(tag, &bytes) == 1);
  CHECK(bytes == (*a)->resident_bytes());
  CHECK(bytes > 6'000'000);  // the float32 folder is 6.8 MB

  // Another dtype is another model with its own entry.
  auto h = models::shared_controlnet(kFolder, {}, at::kHalf, at::kCPU);
  REQUIRE(h.ok());
  CHECK(h->get() != a->get());
  int entries = 0;
  for (const auto& e : memory::process_ledger().entries())
    if (e.tag.rfind(tag, 0) == 0) ++entries;
  CHECK(entries == 2);
  h = sdk::internal_error("released");

  std::weak_ptr<models::ControlNetModel> watch = a.value();
  a = sdk::internal_error("released");
  CHECK(ledger_count(tag) == 1);  // b still holds it
  CHECK_FALSE(watch.expired());
  b = sdk::internal_error("released");
  CHECK(watch.expired());
  CHECK(ledger_count(tag) == 0);
  for (const auto& e : memory::process_ledger().entries()) CHECK(e.tag.rfind(tag, 0) != 0);

  // Loading again after the release gives a fresh model and entry.
  auto c = models::shared_controlnet(kFolder, {}, at::kFloat, at::kCPU);
  REQUIRE(c.ok());
  CHECK(ledger_count(tag) == 1);
}

TEST_CASE("keys and values made once per job give the same residuals, and only for their context", "[controlnet]") {
  auto tiny = load_tiny_controlnet();
  if (!tiny) return;
  const auto& cn = *tiny->model;
  auto in = tiny->inputs;
  auto plain = cn.forward(in);
  REQUIRE(plain.ok());
  auto kv = cn.cross_attention_kv(in.encoder_hidden_states);
  REQUIRE(kv.ok());
  CHECK(kv.value()->layers() == cn.self_attentions());  // one cross-attention per block
  in.context_kv = kv.value();
  auto once = cn.forward(in);
  REQUIRE(once.ok());
  // The same products of the same weights, done earlier: the same bits.
  REQUIRE(once->down.size() == plain->down.size());
  for (std::size_t i = 0; i < plain->down.size(); ++i) CHECK(at::equal(once->down[i], plain->down[i]));
  CHECK(at::equal(once->mid, plain->mid));
  // And they are what the blocks read: other values, other residuals.
  for (const auto& [layer, pair] : kv.value()->pairs()) pair.second.mul_(-1);
  auto edited = cn.forward(in);
  REQUIRE(edited.ok());
  CHECK_FALSE(at::allclose(edited->mid, plain->mid));

  auto refused = [&](const models::ControlNetInputs& x) {
    auto r = cn.forward(x);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == sdk::StatusCode::invalid_argument);
    CHECK_THAT(r.status().message(), Catch::Contains("context_kv"));
  };
  auto other_context = in;
  other_context.encoder_hidden_states = in.encoder_hidden_states.clone();
  refused(other_context);
  auto other = models::ControlNetModel::load(kFolder, {}, at::kFloat, at::kCPU);
  REQUIRE(other.ok());
  auto theirs = (*other)->cross_attention_kv(in.encoder_hidden_states);
  REQUIRE(theirs.ok());
  auto other_model = in;
  other_model.context_kv = theirs.value();
  refused(other_model);
}

TEST_CASE("shared_controlnet keeps one model per weight layout", "[controlnet][memory]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  auto plain = models::shared_controlnet(kFolder, {}, at::kFloat, at::kCPU);
  auto gpu_like = models::shared_controlnet(kFolder, {}, at::kFloat, at::kCPU, {/*channels_last=*/true, /*fused_qkv=*/true});
  auto again = models::shared_controlnet(kFolder, {}, at::kFloat, at::kCPU, {true, true});
  REQUIRE(plain.ok());
  REQUIRE(gpu_like.ok());
  REQUIRE(again.ok());
  CHECK(gpu_like->get() == again->get());
  CHECK(plain->get() != gpu_like->get());
  CHECK_FALSE((*plain)->channels_last());
  CHECK((*gpu_like)->channels_last());
  auto f = io::SafetensorsFile::open(kCase);
  REQUIRE(f.ok());
  const auto in = case_inputs(**f);
  auto a = (*plain)->forward(in);
  auto b = (*gpu_like)->forward(in);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(at::allclose(a->mid, b->mid, 1e-4, 1e-5));
}

TEST_CASE("shared_controlnet reports load errors and caches nothing", "[controlnet][memory]") {
  auto r = models::shared_controlnet("/nonexistent/cn", {}, at::kFloat, at::kCPU);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("/nonexistent/cn") != std::string::npos);
  for (const auto& e : memory::process_ledger().entries()) CHECK(e.tag != "controlnet:cn");
}
