#pragma once
// Where the tests find the goldens, the CLIP vocabulary, this build's plugins and folders.
// The paths are compiled into one small generated file (tests/support/test_paths.cpp.in) rather
// than passed to every test file as -D macros: a macro holding an absolute path made each test
// file's compilation depend on where the clone lives, so ccache could not reuse a build of the
// same sources from another folder (the CI's fresh clone).
#include <filesystem>

namespace sdxl::test_paths {

/// The CMake setting SDXL_GOLDEN_DIR (default ../shared/golden); tests that need it skip when absent.
const std::filesystem::path& golden_dir();
/// golden_dir()/models: the tiny models and their cases.
const std::filesystem::path& golden_models_dir();
/// The CMake setting SDXL_CLIP_VOCAB: the CLIP BPE vocabulary (third-party data, not committed).
const std::filesystem::path& clip_vocab();
/// The build folder (CMAKE_BINARY_DIR).
const std::filesystem::path& build_dir();
/// The source folder (CMAKE_SOURCE_DIR).
const std::filesystem::path& source_dir();
/// Where this build puts its plugins (build/lib/sdxl/plugins).
const std::filesystem::path& plugin_dir();
/// Where this build puts the test-only plugins (build/test-plugins).
const std::filesystem::path& test_plugin_dir();
/// The tests' scratch folder, build/test-scratch (made on first use): each clone's tests write
/// their files inside their own build folder, so two clones' runs (a CI run beside a developer's)
/// never share a file, and deleting the build folder removes them.
const std::filesystem::path& scratch_dir();

}  // namespace sdxl::test_paths
