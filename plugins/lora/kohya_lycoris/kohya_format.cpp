#include "kohya_format.h"

#include <ATen/ATen.h>

#include <map>
#include <set>
#include <sstream>

namespace sdxl::lora {
namespace {

constexpr const char* kPrefixes[] = {"lora_unet_", "lora_te1_", "lora_te2_", "lora_te_"};

// "<group>.<suffix>": the group name contains no '.', so split at the first one.
std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto dot = key.find('.');
  if (dot == std::string::npos) return {key, ""};
  return {key.substr(0, dot), key.substr(dot + 1)};
}

struct Census {
  std::size_t groups = 0, known = 0, dora = 0;
  std::map<Algorithm, std::size_t> by_algorithm;
  std::map<std::string, std::size_t> by_prefix;
  std::string first_unknown;
};

Census take_census(const std::map<std::string, at::Tensor>& tensors) {
  std::map<std::string, std::pair<std::set<Algorithm>, bool>> groups;  // group -> (algorithms, has dora)
  for (const auto& kv : tensors) {
    auto [group, suffix] = split_key(kv.first);
    auto& g = groups[group];
    if (auto a = algorithm_of_suffix(suffix)) g.first.insert(*a);
    if (suffix == "dora_scale") g.second = true;
  }
  Census c;
  c.groups = groups.size();
  for (const auto& [name, g] : groups) {
    if (!has_kohya_prefix(name)) {
      if (c.first_unknown.empty()) c.first_unknown = name;
      continue;
    }
    ++c.known;
    for (const char* p : kPrefixes)
      if (name.rfind(p, 0) == 0) {
        ++c.by_prefix[p];
        break;
      }
    for (Algorithm a : g.first) ++c.by_algorithm[a];
    if (g.second) ++c.dora;
  }
  return c;
}

std::optional<Algorithm> claimed_algorithm(KohyaClaim c) {
  switch (c) {
    case KohyaClaim::low_rank: return Algorithm::low_rank;
    case KohyaClaim::hadamard: return Algorithm::hadamard;
    case KohyaClaim::kronecker: return Algorithm::kronecker;
    case KohyaClaim::full: return Algorithm::full;
    case KohyaClaim::dora: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

bool has_kohya_prefix(const std::string& group) {
  for (const char* p : kPrefixes)
    if (group.rfind(p, 0) == 0 && group.size() > std::char_traits<char>::length(p)) return true;
  return false;
}

sdk::LoraDetection KohyaFormat::detect(const sdk::LoraFile& file) const {
  sdk::LoraDetection d;
  try {
    if (!file.tensors || file.tensors->empty()) {
      d.reason = "no tensors";
      return d;
    }
    const Census c = take_census(*file.tensors);
    if (c.known == 0) {
      d.reason = "no key group starts with lora_unet_, lora_te1_, lora_te2_ or lora_te_ (first group: '" + c.first_unknown + "')";
      return d;
    }
    std::ostringstream why;
    why << c.known << " kohya/LyCORIS key groups (";
    bool first = true;
    for (const auto& [p, n] : c.by_prefix) why << (first ? "" : ", ") << p << ": " << n, first = false;
    why << "; ";
    first = true;
    for (const auto& [a, n] : c.by_algorithm) why << (first ? "" : ", ") << to_string(a) << " " << n, first = false;
    if (c.dora) why << ", DoRA " << c.dora;
    why << ")";
    if (c.known < c.groups) why << ", " << (c.groups - c.known) << " other groups (first: '" << c.first_unknown << "')";
    const double known_fraction = static_cast<double>(c.known) / static_cast<double>(c.groups);
    if (claim_ == KohyaClaim::dora) {
      if (c.dora == 0) {
        d.reason = "no dora_scale tensors; " + why.str();
        return d;
      }
      d.confidence = 0.97 * known_fraction;
    } else {
      const Algorithm a = *claimed_algorithm(claim_);
      auto it = c.by_algorithm.find(a);
      if (it == c.by_algorithm.end()) {
        d.reason = std::string("no ") + to_string(a) + " groups; " + why.str();
        return d;
      }
      // The majority algorithm wins among the kohya features; DoRA files go to the dora feature.
      d.confidence = (0.5 + 0.45 * static_cast<double>(it->second) / static_cast<double>(c.known)) * known_fraction;
    }
    d.reason = why.str();
  } catch (const std::exception& e) {
    d.confidence = 0;
    d.reason = std::string("detection failed: ") + e.what();
  }
  return d;
}

sdk::Result<sdk::LoraParse> KohyaFormat::parse(const sdk::LoraFile& file, const sdk::ModuleResolver& modules) const {
  return sdk::guard("kohya/LyCORIS parse of " + file.path, [&] { return parse_unguarded(file, modules); });
}

sdk::Result<sdk::LoraParse> KohyaFormat::parse_unguarded(const sdk::LoraFile& file,
                                                         const sdk::ModuleResolver& modules) const {
  if (!file.tensors) return sdk::invalid_argument(file.path + ": no tensors");
  sdk::LoraParse result;
  std::map<std::string, GroupTensors> groups;
  for (const auto& [key, tensor] : *file.tensors) {
    auto [group, suffix] = split_key(key);
    if (!is_known_suffix(suffix)) {
      result.warnings.push_back("ignored key '" + key + "': unknown suffix '" + suffix + "'");
      continue;
    }
    auto& g = groups[group];
    g.group = group;
    g.parts[suffix] = tensor;
  }
  auto resolve = [&](const std::string& name) { return modules.resolve(name); };
  auto annotate = [](const std::string& name) { return has_kohya_prefix(name) ? std::string() : " (unknown key prefix)"; };
  return finish_parse(file.path, groups, resolve, {}, "key group(s) name no module of this model", annotate,
                      settings_.unknown_modules_are_errors, settings_.dora, std::move(result));
}

}  // namespace sdxl::lora
