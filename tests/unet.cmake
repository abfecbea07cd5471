# UNet + checkpoint loader tests. Unit tests live in tests/unit/unet and tests/unit/loader; the CLI
# tests below replay cases/unet.safetensors through `sdxl golden replay` (compares and exits 0 iff
# it passes) with both checkpoint layouts. The float16 single file needs the folder's configs:
# attention head counts are not stored in any weight shape.
set(SDXL_UNET_MODELS ${SDXL_GOLDEN_DIR}/models)
if(EXISTS ${SDXL_UNET_MODELS}/cases/unet.safetensors AND EXISTS ${CMAKE_SOURCE_DIR}/host/cli/golden.cpp)
  add_test(NAME "unet golden: diffusers folder"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_UNET_MODELS}/cases/unet.safetensors
                   --model ${SDXL_UNET_MODELS}/tiny-sdxl)
  add_test(NAME "unet golden: fp16 single file + --model-config"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_UNET_MODELS}/cases/unet.safetensors
                   --model ${SDXL_UNET_MODELS}/tiny-sdxl-fp16.safetensors
                   --model-config ${SDXL_UNET_MODELS}/tiny-sdxl)
  # Without --model-config the heads follow the SDXL convention (64-channel heads), which the tiny
  # model deliberately violates: the replay must run to the comparison, and the comparison must fail.
  add_test(NAME "unet golden: single file without --model-config runs but does not match"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_UNET_MODELS}/cases/unet.safetensors
                   --model ${SDXL_UNET_MODELS}/tiny-sdxl-fp16.safetensors)
  set_tests_properties("unet golden: single file without --model-config runs but does not match"
                       PROPERTIES PASS_REGULAR_EXPRESSION "FAILED: [0-9]+ tensors compared")
endif()
