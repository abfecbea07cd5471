# Fleet (Redis Streams) tests with real `sdxl worker` processes on the demo model. Each scenario
# starts its own redis-server on a free loopback port (tests/unit/fleet/fleet_test_support.h) and
# kills it, and its workers, at the end — also when the test fails.
if(SDXL_WITH_SERVER AND TARGET test_fleet)
  set(SDXL_FLEET_ENV "SDXL_CACHE_DIR=${CMAKE_BINARY_DIR}/test-cache;SDXL_BIN=$<TARGET_FILE:sdxl>")
  foreach(scenario once kill poison restart)
    add_test(NAME fleet_cli_${scenario} COMMAND $<TARGET_FILE:test_fleet> "[fleet-cli-${scenario}]")
    set_tests_properties(fleet_cli_${scenario} PROPERTIES ENVIRONMENT "${SDXL_FLEET_ENV}" TIMEOUT 120
                         RESOURCE_LOCK sdxl_fleet_workers)
  endforeach()
endif()

# Refusals of the fleet commands before (or without) any Redis server.
if(SDXL_WITH_SERVER)
  function(sdxl_fleet_cli_test name code match)
    add_test(NAME fleet_${name} COMMAND ${CMAKE_COMMAND} -DCODE=${code} "-DMATCH=${match}"
             "-DCMD=$<TARGET_FILE:sdxl>;${ARGN}" -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/expect.cmake)
    set_tests_properties(fleet_${name} PROPERTIES TIMEOUT 60)
  endfunction()
  sdxl_fleet_cli_test(bad_url 2 "expected redis://HOST" fleet status --redis http://localhost:6379)
  sdxl_fleet_cli_test(bad_job 2 "job: expected a JSON object" fleet submit "[1, 2]" --redis redis://127.0.0.1:1)
  sdxl_fleet_cli_test(unreachable 1 "redis 127.0.0.1:1: .*refused" fleet status --redis redis://127.0.0.1:1)
  sdxl_fleet_cli_test(worker_bad_attempts 2 "--max-attempts: expected a whole number in \\[1, 1000\\], got '0'"
                      worker --max-attempts 0)
  sdxl_fleet_cli_test(worker_bad_port 2 "port must be 1-65535" worker --redis redis://127.0.0.1:70000)
endif()
