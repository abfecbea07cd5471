// The plugin's constructor throws: the host must report "factory failed" and keep going.
#include <stdexcept>

#include "test_scheduler.h"
namespace {
struct Throws : sdxl_test::TestPlugin {
  Throws() : TestPlugin("org.sdxl.test.factory_throws") { throw std::runtime_error("deliberate failure in constructor"); }
};
}  // namespace
SDXL_DEFINE_PLUGIN(Throws, "org.sdxl.test.factory_throws")
