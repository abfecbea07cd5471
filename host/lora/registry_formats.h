#pragma once
// Every active lora_format feature of the plugin registry as a NamedFormat list, created with
// the feature's configured options plus `overrides` (e.g. dora_convention from the CLI) for the
// features whose schema has that key.

#include <vector>

#include "lora/lora_library.h"
#include "plugins/registry.h"
#include "sdxl/sdk/options.h"

namespace sdxl::lora {

sdk::Result<std::vector<NamedFormat>> formats_from_registry(const plugins::PluginRegistry& registry,
                                                            const sdk::Options& overrides = {});

}  // namespace sdxl::lora
