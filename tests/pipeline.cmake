# End-to-end golden cases (txt2img, img2img, controlnet_txt2img) through `sdxl golden replay`, with both model
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
  # ControlNet txt2img: both model layouts x both ControlNet layouts (diffusers folder; original
  # "cldm" single file, whose config.json the handler takes from controlnet-tiny/).
  if(EXISTS ${SDXL_MODELS_GOLDEN}/cases/controlnet_txt2img.safetensors)
    set(cn_diffusers ${SDXL_MODELS_GOLDEN}/controlnet-tiny)
    set(cn_single_file ${SDXL_MODELS_GOLDEN}/controlnet-tiny-cldm.safetensors)
    foreach(cn diffusers single_file)
      add_test(NAME golden_pipeline_controlnet_txt2img_diffusers_cn_${cn}
               COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_MODELS_GOLDEN}/cases/controlnet_txt2img.safetensors
                       --model ${SDXL_MODELS_GOLDEN}/tiny-sdxl --controlnet ${cn_${cn}})
      add_test(NAME golden_pipeline_controlnet_txt2img_single_file_cn_${cn}
               COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_MODELS_GOLDEN}/cases/controlnet_txt2img.safetensors
                       --model ${SDXL_MODELS_GOLDEN}/tiny-sdxl-fp16.safetensors --model-config ${SDXL_MODELS_GOLDEN}/tiny-sdxl
                       --controlnet ${cn_${cn}})
    endforeach()
    # `sdxl generate --control` on the tiny model: infotext fields, resize policies, refusals.
    set(cn_out ${CMAKE_BINARY_DIR}/test-controlnet)
    file(MAKE_DIRECTORY ${cn_out})
    set(cn_picture ${SDXL_MODELS_GOLDEN}/cases/controlnet_txt2img_control.png)
    function(sdxl_control_cli_test name code match)
      add_test(NAME generate_controlnet_${name} COMMAND ${CMAKE_COMMAND} -DCODE=${code} "-DMATCH=${match}"
               "-DCMD=$<TARGET_FILE:sdxl>;generate;--model;${SDXL_MODELS_GOLDEN}/tiny-sdxl;--prompt;a city;--steps;2;--seed;1;${ARGN}"
               -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/expect.cmake)
      set_tests_properties(generate_controlnet_${name} PROPERTIES TIMEOUT 300)
    endfunction()
    sdxl_control_cli_test(two_units 0
      "ControlNet 0: Module: none, Model: controlnet-tiny, Weight: 0.8, Resize Mode: Crop and Resize, Guidance Start: 0, Guidance End: 1.*ControlNet 1: Module: none, Model: controlnet-tiny-cldm, Weight: 0.5, Resize Mode: Resize and Fill, Guidance Start: 0.25, Guidance End: 0.75.*wrote"
      --width 64 --height 96
      --control model=${cn_diffusers},image=${cn_picture},scale=0.8
      --control model=${cn_single_file},config=${cn_diffusers},image=${cn_picture},scale=0.5,start=0.25,end=0.75,resize=resize_and_fill
      --out ${cn_out}/two_units.png)
    sdxl_control_cli_test(wrong_architecture 2 "control unit 0 .*diffusion_pytorch_model.safetensors"
      --width 64 --height 64 --control model=${SDXL_MODELS_GOLDEN}/tiny-sdxl/unet/diffusion_pytorch_model.safetensors,image=${cn_picture}
      --out ${cn_out}/never.png)
    sdxl_control_cli_test(unreadable_image 2 "control unit 0: .*nope.png"
      --width 64 --height 64 --control model=${cn_diffusers},image=${cn_out}/nope.png --out ${cn_out}/never.png)
    sdxl_control_cli_test(bad_argument 2 "--control .*unknown key 'strength'"
      --width 64 --height 64 --control model=${cn_diffusers},image=${cn_picture},strength=2 --out ${cn_out}/never.png)
  endif()
else()
  message(STATUS "golden pipeline cases not found under ${SDXL_MODELS_GOLDEN}: those tests are skipped")
  add_test(NAME golden_pipeline_skipped COMMAND ${CMAKE_COMMAND} -E echo
           "SKIPPED: ${SDXL_MODELS_GOLDEN} is absent (set SDXL_GOLDEN_DIR)")
endif()
