# End-to-end golden cases (txt2img, img2img) through `sdxl golden replay`, with both model
# layouts; each replay runs from a copy stripped to the allowed inputs.
set(SDXL_MODELS_GOLDEN ${SDXL_GOLDEN_DIR}/models)
if(EXISTS ${SDXL_MODELS_GOLDEN}/cases/txt2img.safetensors)
  foreach(c txt2img img2img)
    add_test(NAME golden_pipeline_${c}_diffusers
             COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_MODELS_GOLDEN}/cases/${c}.safetensors
                     --model ${SDXL_MODELS_GOLDEN}/tiny-sdxl)
    add_test(NAME golden_pipeline_${c}_single_file
             COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_MODELS_GOLDEN}/cases/${c}.safetensors
                     --model ${SDXL_MODELS_GOLDEN}/tiny-sdxl-fp16.safetensors --model-config ${SDXL_MODELS_GOLDEN}/tiny-sdxl)
  endforeach()
else()
  message(STATUS "golden pipeline cases not found under ${SDXL_MODELS_GOLDEN}: those tests are skipped")
  add_test(NAME golden_pipeline_skipped COMMAND ${CMAKE_COMMAND} -E echo
           "SKIPPED: ${SDXL_MODELS_GOLDEN} is absent (set SDXL_GOLDEN_DIR)")
endif()
