#include "plugins/registry.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "gpu/host_device_ops.h"
#include "plugins/loader.h"
#include "plugins/option_values.h"
#include "memory/ledger.h"
#include "util/logging.h"

namespace sdxl::plugins {

struct PluginRecord {
  std::unique_ptr<PluginHandle> handle;
  std::string library;
  std::unique_ptr<util::PluginLogger> logger;
};

struct PluginRegistry::Impl {
  std::vector<PluginRecord> records;
  std::vector<std::unique_ptr<FeatureEntry>> features;  // active ones only
  RegistrySettings settings;
  std::set<std::string> seen_files;  // canonical paths already tried
};

PluginRegistry::PluginRegistry() : impl_(std::make_unique<Impl>()) {
  services_.memory = &memory::process_ledger();
  services_.ops = &gpu::host_device_ops();
}

void PluginRegistry::load(const RegistrySettings& settings) { load(settings, services_); }
PluginRegistry::~PluginRegistry() = default;

namespace {

// "DPM++ 2M Karras", "dpmpp_2m_karras" and "dpmpp-2m-karras" all become "dpmpp2mkarras".
std::string loose(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '+') out.push_back('p');
    else if (std::isalnum(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool matches_any(const std::vector<std::string>& patterns, const std::string& a, const std::string& b) {
  for (const auto& p : patterns)
    if (fnmatch(p.c_str(), a.c_str(), 0) == 0 || fnmatch(p.c_str(), b.c_str(), 0) == 0) return true;
  return false;
}

bool is_library_file(const std::filesystem::path& p) {
  return p.extension() == ".so" || p.extension() == ".dylib" || p.extension() == ".dll";
}

}  // namespace

void PluginRegistry::load(const RegistrySettings& settings, sdk::HostServices services) {
  impl_->settings = settings;
  services_ = services;
  if (!services_.memory) services_.memory = &memory::process_ledger();
  if (!services_.ops) services_.ops = &gpu::host_device_ops();
  for (const auto& dir : settings.search_paths) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      util::log_warn("plugin path " + dir.string() + " is not a directory; skipped");
      continue;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.is_regular_file() && is_library_file(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load_library(f);
  }
}

bool PluginRegistry::load_library(const std::filesystem::path& file) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(file, ec).string();
  if (canonical.empty()) canonical = file.string();
  if (!impl_->seen_files.insert(canonical).second) return false;  // same file via two paths
  LoadResult r = load_plugin_library(file);
  if (!r.handle) {
    rejected_.push_back({file.string(), r.reason});
    util::log_warn("plugin " + file.string() + " rejected: " + r.reason);
    return false;
  }
  const auto& info = r.handle->plugin->info();
  for (const auto& rec : impl_->records) {
    if (rec.handle->plugin->info().id == info.id) {
      rejected_.push_back({file.string(), "duplicate plugin id '" + info.id + "' (already loaded from " + rec.library + ")"});
      util::log_warn("plugin " + file.string() + " rejected: duplicate id " + info.id);
      return false;
    }
  }
  // Options from configuration are validated before anything is registered: a bad value for one
  // plugin rejects that plugin with the reason, instead of half-applying.
  std::vector<std::unique_ptr<FeatureEntry>> entries;
  const auto& settings = impl_->settings;
  auto logger = std::make_unique<util::PluginLogger>(info.id);
  sdk::HostServices plugin_services = services_;
  plugin_services.logger = logger.get();
  for (const auto& f : info.features) {
    if (!settings.enable.empty() && !matches_any(settings.enable, info.id, f.name)) continue;
    if (matches_any(settings.disable, info.id, f.name)) continue;
    auto entry = std::make_unique<FeatureEntry>();
    entry->plugin = r.handle->plugin;
    entry->plugin_id = info.id;
    entry->library = file.string();
    entry->info = f;
    entry->options = sdk::defaults_of(f.options);
    entry->services = plugin_services;
    entries.push_back(std::move(entry));
  }
  PluginRecord rec;
  rec.library = file.string();
  rec.logger = std::move(logger);
  rec.handle = std::move(r.handle);
  impl_->records.push_back(std::move(rec));
  for (auto& e : entries) impl_->features.push_back(std::move(e));
  return true;
}

bool PluginRegistry::set_options(const std::string& plugin_id, const std::string& feature, const sdk::Options& values) {
  for (auto& f : impl_->features) {
    if (f->plugin_id != plugin_id || f->info.name != feature) continue;
    for (const auto& [key, value] : values.all()) f->options.set(key, value);
    return true;
  }
  return false;
}

std::vector<const sdk::Plugin*> PluginRegistry::plugins() const {
  std::vector<const sdk::Plugin*> out;
  for (const auto& r : impl_->records) out.push_back(r.handle->plugin);
  return out;
}

const std::string& PluginRegistry::library_of(const sdk::Plugin* p) const {
  static const std::string none;
  for (const auto& r : impl_->records)
    if (r.handle->plugin == p) return r.library;
  return none;
}

std::vector<const FeatureEntry*> PluginRegistry::features(sdk::FeatureKind kind) const {
  std::vector<const FeatureEntry*> out;
  for (const auto& f : impl_->features)
    if (f->info.kind == kind) out.push_back(f.get());
  std::sort(out.begin(), out.end(), [](const FeatureEntry* a, const FeatureEntry* b) {
    return a->info.name != b->info.name ? a->info.name < b->info.name : a->info.rank > b->info.rank;
  });
  return out;
}

const FeatureEntry* PluginRegistry::find(sdk::FeatureKind kind, const std::string& name) const {
  const std::string want = loose(name);
  const FeatureEntry* best = nullptr;
  int best_score = -1;  // exact name beats loose name beats alias; then rank
  for (const auto& f : impl_->features) {
    if (f->info.kind != kind) continue;
    int score = -1;
    if (f->info.name == name) score = 3;
    else if (loose(f->info.name) == want) score = 2;
    else
      for (const auto& a : f->info.aliases)
        if (a == name || loose(a) == want) score = std::max(score, a == name ? 1 : 0);
    if (score < 0) continue;
    if (!best || score > best_score || (score == best_score && f->info.rank > best->info.rank)) {
      best = f.get();
      best_score = score;
    }
  }
  return best;
}

std::vector<std::string> PluginRegistry::names(sdk::FeatureKind kind) const {
  std::vector<std::string> out;
  for (const auto* f : features(kind))
    if (out.empty() || out.back() != f->info.name) out.push_back(f->info.name);
  return out;
}

namespace {

sdk::Status unknown_feature(const PluginRegistry& reg, sdk::FeatureKind kind, const std::string& name) {
  std::string list;
  for (const auto& n : reg.names(kind)) list += (list.empty() ? "" : ", ") + n;
  return sdk::not_found(std::string("unknown ") + to_string(kind) + " '" + name + "'; available: " +
                        (list.empty() ? "(none loaded)" : list));
}

}  // namespace

// One template for the four factories: find the feature, merge options, call the plugin's
// factory for that kind, and turn any escaping exception into a Status.
template <typename T, typename Create>
static sdk::Result<std::unique_ptr<T>> create_feature(const PluginRegistry& reg, sdk::FeatureKind kind,
                                                      const std::string& name, const sdk::Options* overrides,
                                                      Create&& create, const Placement* placement = nullptr) {
  const FeatureEntry* f = reg.find(kind, name);
  if (!f) return unknown_feature(reg, kind, name);
  sdk::Options opts = f->options;
  if (overrides) {
    auto merged = apply_overrides(f->info.options, opts, *overrides, f->info.name);
    if (!merged.ok()) return merged.status();
    opts = std::move(merged).value();
  }
  auto* plugin = const_cast<sdk::Plugin*>(f->plugin);
  return sdk::guard("creating " + f->info.name, [&]() -> sdk::Result<std::unique_ptr<T>> {
    sdk::HostServices services = f->services;
    if (placement) {
      services.device = placement->device;
      services.dtype = placement->dtype;
    }
    auto r = create(plugin, f->info.name, opts, services);
    if (r.ok() && !r.value()) return sdk::internal_error("plugin " + f->plugin_id + " returned no object for " + f->info.name);
    return r;
  });
}

sdk::Result<std::unique_ptr<sdk::Scheduler>> PluginRegistry::create_scheduler(const std::string& name,
                                                                              const sdk::Options* overrides) const {
  return create_feature<sdk::Scheduler>(*this, sdk::FeatureKind::scheduler, name, overrides,
                                        [](sdk::Plugin* p, const std::string& n, const sdk::Options& o,
                                           const sdk::HostServices& s) { return p->create_scheduler(n, o, s); });
}

sdk::Result<std::unique_ptr<sdk::LoraFormat>> PluginRegistry::create_lora_format(const std::string& name,
                                                                                 const sdk::Options* overrides) const {
  return create_feature<sdk::LoraFormat>(*this, sdk::FeatureKind::lora_format, name, overrides,
                                         [](sdk::Plugin* p, const std::string& n, const sdk::Options& o,
                                            const sdk::HostServices& s) { return p->create_lora_format(n, o, s); });
}

sdk::Result<std::unique_ptr<sdk::ControlNetType>> PluginRegistry::create_controlnet_type(
    const std::string& name, const sdk::Options* overrides) const {
  return create_feature<sdk::ControlNetType>(
      *this, sdk::FeatureKind::controlnet_type, name, overrides,
      [](sdk::Plugin* p, const std::string& n, const sdk::Options& o, const sdk::HostServices& s) {
        return p->create_controlnet_type(n, o, s);
      });
}

sdk::Result<std::unique_ptr<sdk::VaeVariant>> PluginRegistry::create_vae_variant(const std::string& name,
                                                                                 const sdk::Options* overrides,
                                                                                 const Placement* placement) const {
  return create_feature<sdk::VaeVariant>(
      *this, sdk::FeatureKind::vae_variant, name, overrides,
      [](sdk::Plugin* p, const std::string& n, const sdk::Options& o, const sdk::HostServices& s) {
        return p->create_vae_variant(n, o, s);
      },
      placement);
}

}  // namespace sdxl::plugins
