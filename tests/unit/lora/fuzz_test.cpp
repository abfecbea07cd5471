// Bounded, deterministic fuzzing of the LoRA key parser: seeds are small groups taken from every
// golden LoRA file (one per algorithm and spelling); each execution mutates key names, shapes,
// values and dtypes (or the raw container bytes), then runs detect + parse + apply. Nothing may
// throw, crash or return a patch whose result has the wrong shape. Runs for a fixed time budget.
#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>

#include "io/safetensors.h"
#include "lora_test_util.h"

using namespace sdxl::lora;

namespace {

using TensorMap = std::map<std::string, at::Tensor>;

struct Rng {
  std::uint64_t s = 0x2545F4914F6CDD1Dull;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::size_t below(std::size_t n) { return n ? static_cast<std::size_t>(next() % n) : 0; }
};

// The first `groups` key groups of a file (by the text before the first '.' or the last module).
TensorMap first_groups(const TensorMap& all, std::size_t groups) {
  TensorMap out;
  std::set<std::string> seen;
  for (const auto& [k, v] : all) {
    const std::string g = k.substr(0, k.find(".lora") == std::string::npos ? k.find('.') : k.find(".lora"));
    if (!seen.count(g) && seen.size() >= groups) continue;
    seen.insert(g);
    out[k] = v;
  }
  return out;
}

const char* kSuffixes[] = {"lora_up.weight", "lora_down.weight", "lora_mid.weight", "alpha", "dora_scale", "hada_w1_a",
                           "hada_w1_b", "hada_t1", "lokr_w1", "lokr_w2_b", "lokr_t2", "diff", "diff_b", "lora_A.weight",
                           "lora_B.weight", "lora.down.weight", "processor.to_q_lora.up.weight"};

std::string mutate_name(std::string k, Rng& r) {
  switch (r.below(6)) {
    case 0: if (!k.empty()) k[r.below(k.size())] = "._0123456789abz"[r.below(15)]; break;
    case 1: if (!k.empty()) k.erase(r.below(k.size()), 1 + r.below(3)); break;
    case 2: k.insert(r.below(k.size() + 1), r.below(2) ? "." : "_"); break;
    case 3: k = k.substr(0, k.find('.') == std::string::npos ? k.size() : k.find('.') + 1) + kSuffixes[r.below(17)]; break;
    case 4: k = k.substr(0, r.below(k.size() + 1)); break;
    default: k = (r.below(2) ? "lora_te2_" : "unet.") + k; break;
  }
  return k;
}

at::Tensor mutate_tensor(const at::Tensor& t, Rng& r) {
  switch (r.below(7)) {
    case 0: return t.numel() > 1 ? t.flatten().narrow(0, 0, t.numel() - 1 - r.below(t.numel() - 1)) : t;
    case 1: return t.dim() >= 2 ? t.transpose(0, 1).contiguous() : t.reshape({-1, 1});
    case 2: { at::Tensor c = t.to(at::kFloat).clone(); if (c.numel()) c.view(-1)[r.below(c.numel())] = r.below(2) ? NAN : INFINITY; return c; }
    case 3: return at::scalar_tensor(static_cast<double>(r.below(9)) - 2.0);
    case 4: return t.to(at::kLong);
    case 5: return at::zeros({0, 3});
    default: return t.dim() >= 1 ? at::cat({t, t}, 0) : t;
  }
}

}  // namespace

TEST_CASE("LoRA key parser survives a bounded deterministic mutation loop", "[lora][fuzz]") {
  if (!lora_test::have_goldens()) {
    WARN("golden dir missing, skipped");
    return;
  }
  const WeightMap model = lora_test::tiny_model(at::kHalf);
  const ParamShapes shapes = param_shapes(model);
  const ModuleTable table = ModuleTable::from_params(shapes);
  LoraLibrary library(lora_test::all_formats());
  std::vector<TensorMap> seeds;
  for (const auto& e : std::filesystem::directory_iterator(lora_test::lora_golden_dir() / "loras")) {
    auto src = open_lora_source(e.path());
    REQUIRE(src.ok());
    seeds.push_back(first_groups(src.value()->tensors, 3));
  }
  std::string container_seed;
  {
    std::ifstream in(lora_test::lora_golden_dir() / "bad" / "reference_valid.safetensors", std::ios::binary);
    container_seed.assign(std::istreambuf_iterator<char>(in), {});
  }
  Rng rng;
  std::size_t executions = 0, accepted = 0, patches_applied = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  while (std::chrono::steady_clock::now() < deadline && executions < 200000) {
    ++executions;
    TensorMap tensors;
    std::shared_ptr<sdxl::io::SafetensorsFile> container;
    if (executions % 5 == 0) {  // container bytes
      auto owner = std::make_shared<std::string>(container_seed);
      for (std::size_t e = 0, n = 1 + rng.below(4); e < n; ++e) (*owner)[rng.below(owner->size())] = static_cast<char>(rng.next());
      auto f = sdxl::io::SafetensorsFile::from_bytes("fuzz", owner, reinterpret_cast<const std::uint8_t*>(owner->data()), owner->size());
      if (!f.ok()) continue;
      auto all = f.value()->all_tensors();
      if (!all.ok()) continue;
      tensors = all.value();
      container = f.value();
    } else {
      tensors = seeds[rng.below(seeds.size())];
      for (std::size_t e = 0, n = 1 + rng.below(3); e < n && !tensors.empty(); ++e) {
        auto it = std::next(tensors.begin(), static_cast<long>(rng.below(tensors.size())));
        if (rng.below(2)) {
          std::string k = mutate_name(it->first, rng);
          at::Tensor v = it->second;
          tensors.erase(it);
          tensors[k] = v;
        } else if (rng.below(4)) {
          it->second = mutate_tensor(it->second, rng);
        } else {
          tensors.erase(it);
        }
      }
    }
    const std::map<std::string, std::string> meta;
    const sdxl::sdk::LoraFile file{"fuzz", &tensors, &meta};
    const DetectionReport report = library.detect(file);
    for (const auto& f : library.formats()) {
      if (f.name != report.answers.front().first && rng.below(4)) continue;  // mostly the chosen one
      auto parsed = f.format->parse(file, table);
      if (!parsed.ok()) {
        REQUIRE_FALSE(parsed.status().message().empty());
        continue;
      }
      ++accepted;
      for (const auto& p : parsed.value().patches) {
        const auto shape = shapes.find(p->module() + "." + p->parameter());
        if (shape == shapes.end()) continue;  // e.g. diff_b for a module without bias: the engine refuses it
        const at::Tensor base = at::zeros(shape->second);
        auto out = p->apply(base, -0.5);
        if (out.ok()) {
          REQUIRE(out.value().sizes() == base.sizes());
          ++patches_applied;
        }
      }
    }
  }
  std::cout << "LoRA parser fuzz: " << executions << " executions, " << accepted << " parses accepted, " << patches_applied
            << " patches applied\n";
  CHECK(executions > 100);
  CHECK(accepted > 0);
}
