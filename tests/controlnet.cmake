# ControlNet network: the `controlnet` golden case through `sdxl golden replay` (compares and exits
# 0 iff it passes; the replay runs from a copy stripped to the allowed inputs) for every layout the
# tiny ControlNet ships in. The float16 cldm file carries no config: head counts and the
# micro-conditioning widths of the tiny model come from the folder's config.json (--model-config).
# Unit tests: tests/unit/controlnet (test_controlnet).
set(SDXL_CN_MODELS ${SDXL_GOLDEN_DIR}/models)
if(EXISTS ${SDXL_CN_MODELS}/cases/controlnet.safetensors AND EXISTS ${SDXL_CN_MODELS}/controlnet-tiny)
  add_test(NAME "controlnet golden: diffusers folder"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_CN_MODELS}/cases/controlnet.safetensors
                   --controlnet ${SDXL_CN_MODELS}/controlnet-tiny --model ${SDXL_CN_MODELS}/tiny-sdxl)
  add_test(NAME "controlnet golden: cldm single file + --model-config"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_CN_MODELS}/cases/controlnet.safetensors
                   --controlnet ${SDXL_CN_MODELS}/controlnet-tiny-cldm.safetensors
                   --model-config ${SDXL_CN_MODELS}/controlnet-tiny --model ${SDXL_CN_MODELS}/tiny-sdxl)
  # The UNet from the float16 single file too (its configs from the pipeline folder), and the
  # ControlNet found beside the case folder by default.
  add_test(NAME "controlnet golden: default ControlNet, single-file UNet"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_CN_MODELS}/cases/controlnet.safetensors
                   --model ${SDXL_CN_MODELS}/tiny-sdxl-fp16.safetensors --model-config ${SDXL_CN_MODELS}/tiny-sdxl)
  # A UNet checkpoint is not a ControlNet: a clear refusal naming the file, before any compute.
  add_test(NAME "controlnet golden: a UNet file passed as --controlnet is refused"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_CN_MODELS}/cases/controlnet.safetensors
                   --controlnet ${SDXL_CN_MODELS}/tiny-sdxl-fp16.safetensors --model ${SDXL_CN_MODELS}/tiny-sdxl)
  set_tests_properties("controlnet golden: a UNet file passed as --controlnet is refused"
                       PROPERTIES PASS_REGULAR_EXPRESSION "tiny-sdxl-fp16.safetensors: not a ControlNet")
else()
  message(STATUS "controlnet golden case not found under ${SDXL_CN_MODELS}: those tests are skipped")
  add_test(NAME controlnet_golden_skipped COMMAND ${CMAKE_COMMAND} -E echo
           "SKIPPED: ${SDXL_CN_MODELS}/cases/controlnet.safetensors is absent (set SDXL_GOLDEN_DIR)")
endif()

# The step benchmark's quick mode (tiny random model, 64x64, one step per configuration).
if(SDXL_BUILD_BENCH)
  add_test(NAME "controlnet bench: --smoke" COMMAND $<TARGET_FILE:bench_controlnet_step> --smoke)
  set_tests_properties("controlnet bench: --smoke" PROPERTIES PASS_REGULAR_EXPRESSION "UNet \\+ 2 ControlNet units")
endif()
