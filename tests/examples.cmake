# The out-of-tree example plugin: configure and build it against this build tree's SdxlSdk
# package, then check that the host loads it and that it passes the conformance kit.
add_test(NAME example_plugin_builds_out_of_tree
  COMMAND ${CMAKE_COMMAND} -DSOURCE=${CMAKE_SOURCE_DIR}/examples/invert_plugin
          -DBUILD=${CMAKE_BINARY_DIR}/example-plugin-build -DSDK_DIR=${CMAKE_BINARY_DIR}
          -DGENERATOR=${CMAKE_GENERATOR} -DSDXL=$<TARGET_FILE:sdxl>
          -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/build_example_plugin.cmake)
set_tests_properties(example_plugin_builds_out_of_tree PROPERTIES TIMEOUT 600 FIXTURES_SETUP example_plugin)
add_test(NAME example_plugin_passes_plugin_check
  COMMAND $<TARGET_FILE:sdxl> plugin-check ${CMAKE_BINARY_DIR}/example-plugin-build/libexample_invert.so)
set_tests_properties(example_plugin_passes_plugin_check PROPERTIES FIXTURES_REQUIRED example_plugin)

# The same against an installed SDK: `cmake --install` gives bin/, lib/sdxl/plugins/, the SDK headers
# and the SdxlSdk package; the installed host loads the example.
add_test(NAME example_plugin_builds_against_install
  COMMAND ${CMAKE_COMMAND} -DSOURCE=${CMAKE_SOURCE_DIR}/examples/invert_plugin
          -DBUILD=${CMAKE_BINARY_DIR}/example-plugin-build-installed -DINSTALL_FROM=${CMAKE_BINARY_DIR}
          -DPREFIX=${CMAKE_BINARY_DIR}/install-test -DGENERATOR=${CMAKE_GENERATOR}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/build_example_plugin.cmake)
set_tests_properties(example_plugin_builds_against_install PROPERTIES TIMEOUT 600)
