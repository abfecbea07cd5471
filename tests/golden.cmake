# `sdxl golden check` outside its defaults: every model case (text encoders, UNet, ControlNet,
# VAE, TAESD, the end-to-end pipelines) with the networks in bfloat16, compared by relative RMS
# error (host/golden/precision_compare.h); and the words --device/--dtype accept.
set(SDXL_GOLDEN_MODELS ${SDXL_GOLDEN_DIR}/models)
if(EXISTS ${SDXL_GOLDEN_MODELS}/cases)
  sdxl_cli_test(golden_models_bfloat16 0 "[1-9][0-9]* passed, 0 failed"
                golden check ${SDXL_GOLDEN_MODELS}/cases --model ${SDXL_GOLDEN_MODELS}/tiny-sdxl --dtype bfloat16)
else()
  message(STATUS "Model goldens not found in ${SDXL_GOLDEN_MODELS}: the bfloat16 golden check is skipped")
endif()
sdxl_cli_test(golden_bad_dtype 2 "--dtype: expected auto, float32, float16 or bfloat16 \\(got 'f64'\\)"
              golden check ${CMAKE_CURRENT_SOURCE_DIR}/data --dtype f64)
if(SDXL_TORCH_DEVICE STREQUAL "cpu")
  sdxl_cli_test(golden_cuda_without_cuda 2 "--device cuda: this build or machine has no CUDA"
                golden check ${CMAKE_CURRENT_SOURCE_DIR}/data --device cuda)
endif()
