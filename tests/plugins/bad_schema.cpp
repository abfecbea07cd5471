// An option whose default lies outside its own range: rejected as an invalid option schema.
#include "test_scheduler.h"
namespace {
struct BadSchema : sdxl_test::TestPlugin {
  BadSchema()
      : TestPlugin("org.sdxl.test.bad_schema", {{"eta", sdxl::sdk::OptionType::number, 5.0, 0.0, 1.0, {}, "broken"}}) {}
};
}  // namespace
SDXL_DEFINE_PLUGIN(BadSchema, "org.sdxl.test.bad_schema")
