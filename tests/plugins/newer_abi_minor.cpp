// Built for a newer SDK minor than the host: refused (it may call what the host lacks).
// The entry is written by hand (not SDXL_DEFINE_PLUGIN) to fake the mismatch.
#include "test_scheduler.h"
namespace {
void* create(char*, std::size_t) {
  return static_cast<sdxl::sdk::Plugin*>(std::make_unique<sdxl_test::TestPlugin>("org.sdxl.test.newer_abi_minor").release());
}
void destroy(void* p) { delete static_cast<sdxl::sdk::Plugin*>(p); }
}  // namespace
SDXL_PLUGIN_EXPORT const SdxlPluginEntry* sdxl_plugin_entry(void) {
  static const SdxlPluginEntry entry = {sizeof(SdxlPluginEntry), SDXL_SDK_ABI_MAJOR, SDXL_SDK_ABI_MINOR + 1, SDXL_SDK_BUILD_TAG,
                                        "org.sdxl.test.newer_abi_minor", &create, &destroy};
  return &entry;
}
