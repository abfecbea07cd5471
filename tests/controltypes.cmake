# ControlNet type plugin tests (tests/unit/controltypes): the test creates every type through the
# plugin registry from the built libraries, so it depends on them. Model files (TorchScript saved
# from C++, hand-encoded ONNX) are written by the tests themselves into a temporary folder.
# `sdxl plugin-check` runs on each of these plugins through tests/cli.cmake (every built-in plugin).
set(SDXL_CONTROLNET_TYPE_PLUGINS
    sdxl_controlnet_canny sdxl_controlnet_scribble sdxl_controlnet_lineart sdxl_controlnet_mlsd
    sdxl_controlnet_depth sdxl_controlnet_normal sdxl_controlnet_pose sdxl_controlnet_segmentation)
if(TARGET test_controltypes)
  if(SDXL_WITH_OPENCV)
    add_dependencies(test_controltypes ${SDXL_CONTROLNET_TYPE_PLUGINS})
  else()
    # Without OpenCV there are no ControlNet type plugins to test.
    set_target_properties(test_controltypes PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
endif()
