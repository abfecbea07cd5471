// Built for SDK ABI major 99: must be refused before any C++ type is touched.
// The entry is written by hand (not SDXL_DEFINE_PLUGIN) to fake the mismatch.
#include "test_scheduler.h"
namespace {
void* create(char*, std::size_t) {
  return static_cast<sdxl::sdk::Plugin*>(std::make_unique<sdxl_test::TestPlugin>("org.sdxl.test.wrong_abi_major").release());
}
void destroy(void* p) { delete static_cast<sdxl::sdk::Plugin*>(p); }
}  // namespace
SDXL_PLUGIN_EXPORT const SdxlPluginEntry* sdxl_plugin_entry(void) {
  static const SdxlPluginEntry entry = {sizeof(SdxlPluginEntry), SDXL_SDK_ABI_MAJOR + 98, SDXL_SDK_ABI_MINOR, SDXL_SDK_BUILD_TAG,
                                        "org.sdxl.test.wrong_abi_major", &create, &destroy};
  return &entry;
}
