# `sdxl serve` as a process: an A1111-style client, `sdxl status`, graceful shutdown on SIGTERM
# (tests/unit/server/http_serve_cli_test.cpp, which skips when SDXL_BIN is unset).
if(SDXL_WITH_SERVER AND TARGET test_server)
  add_test(NAME server_serve_cli COMMAND $<TARGET_FILE:test_server> "[serve-cli]")
  set_tests_properties(server_serve_cli PROPERTIES
    ENVIRONMENT "SDXL_CACHE_DIR=${CMAKE_BINARY_DIR}/test-cache;SDXL_BIN=$<TARGET_FILE:sdxl>" TIMEOUT 300)
endif()
