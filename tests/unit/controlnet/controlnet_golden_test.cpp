// The ControlNet against the reference residuals of cases/controlnet.safetensors, from every
// layout it can be loaded from. The float16 files hold the same numbers as the float32 folder
// (README 2.1), so one set of float32 references serves all of them.
#include "controlnet_test_util.h"

#include "golden/compare.h"
#include "models/controlnet/controlnet_loader.h"

using namespace sdxl;
using namespace cn_test;

namespace {

// `with_context_kv`: the cross-attentions' keys and values made beforehand, as a job does.
void check_against_case(const models::ControlNetModel& cn, bool with_context_kv = false) {
  auto f = io::SafetensorsFile::open(kCase);
  REQUIRE(f.ok());
  at::Tensor emb;
  auto in = case_inputs(**f);
  if (with_context_kv) {
    auto kv = cn.cross_attention_kv(in.encoder_hidden_states);
    REQUIRE(kv.ok());
    in.context_kv = kv.value();
  }
  auto res = cn.forward(in, &emb);
  INFO(res.status().message());
  REQUIRE(res.ok());
  REQUIRE(res->down.size() == 9);
  auto check = [&](const std::string& name, const at::Tensor& got) {
    auto want = (*f)->tensor(name);
    REQUIRE(want.ok());
    const auto d = golden::compare_tensors(got, *want, 2e-4, 1e-4);
    INFO(golden::describe(name, d));
    CHECK(d.ok);
  };
  for (std::size_t i = 0; i < res->down.size(); ++i) check("down_residual." + std::to_string(i), res->down[i]);
  check("mid_residual", res->mid);
  check("debug.cond_embedding", emb);
}

// Rewrites `from` (any safetensors file) with every name passed through `rename`, as float16.
void rewrite(const fs::path& from, const fs::path& to, const std::function<std::string(const std::string&)>& rename) {
  auto f = io::SafetensorsFile::open(from);
  REQUIRE(f.ok());
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& e : (*f)->entries()) out.emplace_back(rename(e.name), (*f)->tensor(e.name)->to(at::kHalf));
  REQUIRE(io::write_safetensors(to, out).ok());
}

}  // namespace

TEST_CASE("golden: diffusers folder", "[controlnet][golden]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  auto cn = models::ControlNetModel::load(kFolder, {}, at::kFloat, at::kCPU);
  INFO(cn.status().message());
  REQUIRE(cn.ok());
  CHECK((*cn)->config().num_down_residuals() == 9);
  CHECK((*cn)->config().cond_embedding_channels == std::vector<std::int64_t>{16, 32, 96, 256});
  check_against_case(**cn);
}

TEST_CASE("golden: channels-last, q/k/v in one product, keys and values once per job", "[controlnet][golden]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  // The layouts a job on a GPU gives the ControlNet (as its UNet's): the same references.
  auto cn = models::ControlNetModel::load(kFolder, {}, at::kFloat, at::kCPU);
  REQUIRE(cn.ok());
  (*cn)->use_channels_last();
  CHECK((*cn)->channels_last());
  REQUIRE((*cn)->self_attentions() > 0);
  CHECK((*cn)->stack_self_attention_projections() == (*cn)->self_attentions());
  check_against_case(**cn, /*with_context_kv=*/true);
  // It computes channels-last: the conditioning embedding (3x3 convolutions) comes out so. (Its
  // 1x1 residual convolutions do too on CUDA; on this CPU, libtorch 1.13's oneDNN path for 1x1
  // convolutions, models/common/cpu_matmul.cpp, returns the standard layout.)
  auto f = io::SafetensorsFile::open(kCase);
  REQUIRE(f.ok());
  at::Tensor emb;
  REQUIRE((*cn)->forward(case_inputs(**f), &emb).ok());
  CHECK(emb.is_contiguous(at::MemoryFormat::ChannelsLast));
  CHECK_FALSE(emb.is_contiguous());
}

TEST_CASE("golden: cldm single file (F16) with the folder's config", "[controlnet][golden]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  auto w = models::read_controlnet_weights(kCldm, kFolder);
  REQUIRE(w.ok());
  CHECK(w->layout == models::ControlNetLayout::cldm_single_file);
  CHECK(w->tensors.size() == 322);  // README 3.4: the diffusers folder's tensor count
  auto cn = models::ControlNetModel::load(kCldm, kFolder, at::kFloat, at::kCPU);
  INFO(cn.status().message());
  REQUIRE(cn.ok());
  check_against_case(**cn);
}

TEST_CASE("golden: cldm file with the control_model. prefix", "[controlnet][golden]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  ScratchDir dir;
  const fs::path file = dir.path / "prefixed-cldm.safetensors";
  rewrite(kCldm, file, [](const std::string& n) { return "control_model." + n; });
  auto cn = models::ControlNetModel::load(file, kFolder, at::kFloat, at::kCPU);
  INFO(cn.status().message());
  REQUIRE(cn.ok());
  check_against_case(**cn);
}

TEST_CASE("golden: single file with diffusers names, config from a pipeline-style folder",
          "[controlnet][golden]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  ScratchDir dir;
  const fs::path file = dir.path / "diffusers-names.safetensors";
  rewrite(kFolder / "diffusion_pytorch_model.safetensors", file, [](const std::string& n) { return n; });
  // <config dir>/controlnet/config.json is accepted as well as <config dir>/config.json.
  fs::create_directories(dir.path / "pipe" / "controlnet");
  fs::copy_file(kFolder / "config.json", dir.path / "pipe" / "controlnet" / "config.json");
  auto w = models::read_controlnet_weights(file, dir.path / "pipe");
  REQUIRE(w.ok());
  CHECK(w->layout == models::ControlNetLayout::diffusers_single_file);
  auto cn = models::ControlNetModel::load(file, dir.path / "pipe", at::kFloat, at::kCPU);
  INFO(cn.status().message());
  REQUIRE(cn.ok());
  check_against_case(**cn);
}

TEST_CASE("cldm names map to exactly the folder's tensors and values", "[controlnet]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  auto a = models::read_controlnet_weights(kFolder);
  auto b = models::read_controlnet_weights(kCldm);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(a->tensors.size() == b->tensors.size());
  for (const auto& [name, t] : a->tensors) {
    auto it = b->tensors.find(name);
    INFO(name);
    REQUIRE(it != b->tensors.end());
    CHECK(it->second.sizes() == t.sizes());
    CHECK(at::equal(it->second.to(at::kFloat), t));  // README 2.1: values exactly representable in F16
  }
}
