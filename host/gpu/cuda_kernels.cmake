# sdxl_cuda_kernels(TARGET HAVE_CUDA_TORCH): our own CUDA kernels (host/gpu/*.cu) linked into
# TARGET, with SDXL_HAVE_CUDA_KERNELS defined for their torch-side wrappers, when
#   - SDXL_WITH_CUDA_KERNELS is on (the default),
#   - libtorch is a CUDA build (HAVE_CUDA_TORCH: the CUDA-graph link check proves it),
#   - CMake finds nvcc, and
#   - the kernels and the wrappers compile (try_compile), so a surprise from an unseen nvcc or
#     torch costs the kernels, never the build.
# Else nothing: the wrappers compile to "not applicable" and libtorch's operators are used.
# Debian's CPU libtorch never gets past the second condition, so CI needs no nvcc. A macro:
# enable_language must run in the caller's directory scope.
include(CheckLanguage)
set(SDXL_CUDA_KERNELS_DIR ${CMAKE_CURRENT_LIST_DIR})
option(SDXL_WITH_CUDA_KERNELS "Build our CUDA kernels where nvcc and a CUDA libtorch are found" ON)
set(SDXL_CUDA_KERNEL_SOURCES ${SDXL_CUDA_KERNELS_DIR}/group_norm_nhwc.cu ${SDXL_CUDA_KERNELS_DIR}/geglu.cu
                             ${SDXL_CUDA_KERNELS_DIR}/residual_layer_norm.cu)
set(SDXL_CUDA_KERNEL_WRAPPERS ${SDXL_CUDA_KERNELS_DIR}/group_norm_nhwc.cpp ${SDXL_CUDA_KERNELS_DIR}/geglu.cpp
                              ${SDXL_CUDA_KERNELS_DIR}/residual_layer_norm.cpp)

macro(sdxl_cuda_kernels target have_cuda_torch)
  set(SDXL_HAVE_CUDA_KERNELS FALSE)
  if(SDXL_WITH_CUDA_KERNELS AND ${have_cuda_torch})
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
        set(CMAKE_CUDA_ARCHITECTURES native)  # the GPU of the machine that builds
      endif()
      # libtorch's shared CUDA runtime: one runtime in the process, whose streams we launch on.
      set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
      enable_language(CUDA)
      # Whoever links the kernels needs the CUDA runtime (libtorch's CMake package may not say so).
      find_package(CUDAToolkit QUIET)
      if(NOT TARGET CUDA::cudart)
        message(WARNING "sdxl: nvcc found but not the CUDA runtime library (CUDA::cudart); building without our kernels")
        set(SDXL_CUDA_KERNELS_COMPILE FALSE CACHE INTERNAL "host/gpu kernels and wrappers compile")
      endif()
      if(NOT DEFINED SDXL_CUDA_KERNELS_COMPILE)
        set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
        # A C++ file beside the kernels: a CUDA-only try_compile project finds no archiver tools.
        file(WRITE ${CMAKE_BINARY_DIR}/cuda_kernels_check.cpp "int sdxl_cuda_kernels_check() { return 0; }\n")
        try_compile(cu_ok ${CMAKE_BINARY_DIR}/cuda_kernels_check_cu
          SOURCES ${SDXL_CUDA_KERNEL_SOURCES} ${CMAKE_BINARY_DIR}/cuda_kernels_check.cpp
          CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${SDXL_CUDA_KERNELS_DIR}/.."
          CUDA_STANDARD 17
          OUTPUT_VARIABLE cu_log)
        sdxl_torch_plain_settings(torch_includes torch_libraries)  # host/gpu/torch_checks.cmake
        try_compile(cpp_ok ${CMAKE_BINARY_DIR}/cuda_kernels_check_cpp
          SOURCES ${SDXL_CUDA_KERNEL_WRAPPERS} ${SDXL_CUDA_KERNELS_DIR}/kernel_trust.cpp
          COMPILE_DEFINITIONS -DSDXL_HAVE_CUDA_KERNELS=1 ${TORCH_CXX_FLAGS}
          CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${SDXL_CUDA_KERNELS_DIR}/..;${SDXL_CUDA_KERNELS_DIR}/../../sdk/include;${torch_includes}"
          CXX_STANDARD ${CMAKE_CXX_STANDARD}
          OUTPUT_VARIABLE cpp_log)
        if(cu_ok AND cpp_ok)
          set(SDXL_CUDA_KERNELS_COMPILE TRUE CACHE INTERNAL "host/gpu kernels and wrappers compile")
        else()
          set(SDXL_CUDA_KERNELS_COMPILE FALSE CACHE INTERNAL "host/gpu kernels and wrappers compile")
          message(WARNING "sdxl: our CUDA kernels do not compile here; building without them "
                          "(libtorch's operators are used). nvcc:\n${cu_log}\nwrappers:\n${cpp_log}")
        endif()
      endif()
      set(SDXL_HAVE_CUDA_KERNELS ${SDXL_CUDA_KERNELS_COMPILE})
    endif()
  endif()
  if(SDXL_HAVE_CUDA_KERNELS)
    # A library of its own: no precompiled headers or C++-only options reach nvcc.
    if(NOT TARGET sdxl_cuda_kernels)
      add_library(sdxl_cuda_kernels STATIC ${SDXL_CUDA_KERNEL_SOURCES})
      target_include_directories(sdxl_cuda_kernels PRIVATE ${SDXL_CUDA_KERNELS_DIR}/..)
      set_target_properties(sdxl_cuda_kernels PROPERTIES CUDA_STANDARD 17 POSITION_INDEPENDENT_CODE ON)
      target_link_libraries(sdxl_cuda_kernels PUBLIC CUDA::cudart)
    endif()
    target_link_libraries(${target} PRIVATE sdxl_cuda_kernels)
    # The torch-side wrappers (sources of TARGET, defined in the caller's directory).
    set_source_files_properties(${SDXL_CUDA_KERNEL_WRAPPERS} PROPERTIES COMPILE_DEFINITIONS SDXL_HAVE_CUDA_KERNELS=1)
    message(STATUS "sdxl: CUDA kernels (channels-last GroupNorm, GEGLU, residual LayerNorm) built with ${CMAKE_CUDA_COMPILER}")
  else()
    message(STATUS "sdxl: no CUDA kernels (they need a CUDA libtorch and nvcc); libtorch's operators are used")
  endif()
endmacro()
