// Built against another libtorch / C++ ABI: refused by the build tag.
// The entry is written by hand (not SDXL_DEFINE_PLUGIN) to fake the mismatch.
#include "test_scheduler.h"
namespace {
void* create(char*, std::size_t) {
  return static_cast<sdxl::sdk::Plugin*>(std::make_unique<sdxl_test::TestPlugin>("org.sdxl.test.wrong_build_tag").release());
}
void destroy(void* p) { delete static_cast<sdxl::sdk::Plugin*>(p); }
}  // namespace
SDXL_PLUGIN_EXPORT const SdxlPluginEntry* sdxl_plugin_entry(void) {
  static const SdxlPluginEntry entry = {sizeof(SdxlPluginEntry), SDXL_SDK_ABI_MAJOR, SDXL_SDK_ABI_MINOR, "torch=0.9;cxx11abi=0;device=cpu;stdlib=libstdc++",
                                        "org.sdxl.test.wrong_build_tag", &create, &destroy};
  return &entry;
}
