// Same plugin id as good.cpp: the second one loaded must be rejected as a duplicate.
#include "test_scheduler.h"
namespace {
struct Dup : sdxl_test::TestPlugin {
  Dup() : TestPlugin("org.sdxl.test.good") {}
};
}  // namespace
SDXL_DEFINE_PLUGIN(Dup, "org.sdxl.test.good")
