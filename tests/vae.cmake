# VAE tests. The unit tests (tests/unit/vae) compile the plugins' sources directly, so they test
# the networks without the plugin registry.
# The golden handlers of host/cli/golden_vae.cpp are compiled in too, and replay the cases
# through the built plugin libraries (hence the dependency).
if(TARGET test_vae AND NOT (TARGET sdxl_vae_kl AND TARGET sdxl_vae_taesd))
  message(FATAL_ERROR "tests/unit/vae needs the plugins in plugins/vae/kl and plugins/vae/taesd")
endif()
if(TARGET test_vae)
  target_sources(test_vae PRIVATE ${SDXL_VAE_KL_SOURCES} ${SDXL_VAE_TAESD_SOURCES}
                 ${CMAKE_SOURCE_DIR}/host/cli/golden_vae.cpp)
  target_include_directories(test_vae PRIVATE ${CMAKE_SOURCE_DIR}/plugins/vae/kl ${CMAKE_SOURCE_DIR}/plugins/vae/taesd)
  add_dependencies(test_vae sdxl_vae_kl sdxl_vae_taesd)
endif()

# Golden replays through the CLI (`sdxl golden replay CASE` compares and exits 0 iff it passes),
# loading the built plugins like any user run.
set(SDXL_VAE_CASES ${SDXL_GOLDEN_DIR}/models/cases)
if(EXISTS ${SDXL_VAE_CASES}/vae.safetensors AND EXISTS ${CMAKE_SOURCE_DIR}/host/cli/golden.cpp)
  add_test(NAME "vae golden: kl, diffusers folder"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_VAE_CASES}/vae.safetensors
                   --model ${SDXL_GOLDEN_DIR}/models/tiny-sdxl)
  add_test(NAME "vae golden: kl, fp16 single file"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_VAE_CASES}/vae.safetensors
                   --model ${SDXL_GOLDEN_DIR}/models/tiny-sdxl-fp16.safetensors
                   --model-config ${SDXL_GOLDEN_DIR}/models/tiny-sdxl)
endif()
if(EXISTS ${SDXL_VAE_CASES}/taesd.safetensors AND EXISTS ${CMAKE_SOURCE_DIR}/host/cli/golden.cpp)
  add_test(NAME "vae golden: taesd"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_VAE_CASES}/taesd.safetensors)
endif()
