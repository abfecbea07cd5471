// shared_controlnet(): the process-wide cache of loaded ControlNets (see controlnet_model.h).
//
// The cache holds weak pointers, so it never keeps a model alive by itself. Callers receive a
// handle whose deleter (run when the last holder lets go) removes the ledger entry and then
// releases the model; a model loaded again after that gets a fresh entry.
#include <c10/core/ScalarType.h>

#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "memory/ledger.h"
#include "models/controlnet/controlnet_model.h"

namespace sdxl::models {
namespace {

namespace fs = std::filesystem;

// file, config dir, dtype, device, channels-last, fused q/k/v
using CacheKey = std::tuple<std::string, std::string, int, std::string, bool, bool>;

struct Cache {
  std::mutex mutex;
  std::map<CacheKey, std::weak_ptr<ControlNetModel>> models;
  std::set<std::string> tags;  // ledger tags of live models
  std::map<const ControlNetModel*, std::string> tag_of;  // live models
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: handles may outlive static destruction order
  return *c;
}

std::string canonical_or_plain(const fs::path& p) {
  if (p.empty()) return {};
  std::error_code ec;
  auto c = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal().string() : c.string();
}

// "controlnet:<stem>", made unique among live models (two files with the same stem, or one file
// at two dtypes, must not replace each other's ledger entry).
std::string unique_tag(const fs::path& path, std::set<std::string>& live) {
  fs::path p = path;
  while (!p.empty() && (p.filename().empty() || p.filename() == ".")) p = p.parent_path();  // "folder/" -> folder
  const std::string base = "controlnet:" + p.stem().string();
  std::string tag = base;
  for (int n = 2; live.count(tag); ++n) tag = base + "#" + std::to_string(n);
  live.insert(tag);
  return tag;
}

}  // namespace

sdk::Result<std::shared_ptr<ControlNetModel>> shared_controlnet(const fs::path& file_or_folder,
                                                                const fs::path& config_dir, c10::ScalarType dtype,
                                                                c10::Device device, ControlNetWeightLayout layout) {
  const CacheKey key{canonical_or_plain(file_or_folder), canonical_or_plain(config_dir), static_cast<int>(dtype),
                     device.str(), layout.channels_last, layout.fused_qkv};
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (auto live = c.models[key].lock()) return live;

  // Loading under the lock: two units naming the same file must not load it twice.
  auto loaded = ControlNetModel::load(file_or_folder, config_dir, dtype, device);
  if (!loaded.ok()) {
    c.models.erase(key);
    return loaded.status();
  }
  std::shared_ptr<ControlNetModel> model = loaded.value();
  if (layout.channels_last) model->use_channels_last();
  if (layout.fused_qkv) model->stack_self_attention_projections();
  const std::string tag = unique_tag(fs::path(std::get<0>(key)), c.tags);
  memory::process_ledger().record_resident(tag, device, model->resident_bytes());
  ControlNetModel* raw = model.get();
  std::shared_ptr<ControlNetModel> handle(raw, [model, tag](ControlNetModel*) mutable {
    Cache& cc = cache();
    {
      std::lock_guard<std::mutex> l(cc.mutex);
      cc.tags.erase(tag);
      cc.tag_of.erase(model.get());
      memory::process_ledger().forget_resident(tag);
    }
    model.reset();
  });
  c.models[key] = handle;
  c.tag_of[raw] = tag;
  return handle;
}

std::string shared_controlnet_tag(const ControlNetModel& model) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.tag_of.find(&model);
  return it == c.tag_of.end() ? std::string() : it->second;
}

}  // namespace sdxl::models
