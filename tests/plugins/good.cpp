// A correct test plugin (loads; used to check acceptance and the duplicate-id rule).
#include "test_scheduler.h"
namespace {
struct Good : sdxl_test::TestPlugin {
  Good() : TestPlugin("org.sdxl.test.good", {{"strength", sdxl::sdk::OptionType::number, 0.5, 0.0, 1.0, {}, "a knob"}}) {}
};
}  // namespace
SDXL_DEFINE_PLUGIN(Good, "org.sdxl.test.good")
