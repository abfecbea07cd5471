# Scheduler tests beyond the Catch2 executable: the unit tests link the scheduler plugin
# libraries' code directly (no loader), and ctest replays every scheduler golden case through
# the CLI (`sdxl golden check`), which loads the built plugins like any user run.
if(TARGET test_schedulers)
  target_link_libraries(test_schedulers PRIVATE
    sdxl_schedulers_ddim_family_impl sdxl_schedulers_kdiffusion_impl sdxl_schedulers_dpm_solver_impl)
endif()

if(EXISTS "${SDXL_GOLDEN_DIR}/schedulers")
  add_test(NAME "schedulers: golden check (CLI)"
           COMMAND $<TARGET_FILE:sdxl> golden check "${SDXL_GOLDEN_DIR}/schedulers")
else()
  message(STATUS "Scheduler goldens not found in ${SDXL_GOLDEN_DIR}/schedulers: golden check test skipped")
endif()
