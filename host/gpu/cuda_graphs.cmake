# sdxl_check_cuda_graphs(VAR): sets VAR when this torch can capture CUDA graphs the way
# host/gpu/unet_cuda_graph.cpp does. Two steps, so a surprise in an unseen torch version costs
# the graphs, never the build:
#   1. a small program using ATen/cuda/CUDAGraph.h must compile *and link* (Debian's CPU
#      libtorch ships the header but not the code);
#   2. the real source must compile with SDXL_HAVE_CUDA_GRAPH=1 against these headers.
# Used by host/CMakeLists.txt and bench/gpu/CMakeLists.txt.
include(CheckCXXSourceCompiles)
set(SDXL_CUDA_GRAPH_DIR ${CMAKE_CURRENT_LIST_DIR})

function(sdxl_check_cuda_graphs var)
  sdxl_torch_check_begin()  # host/gpu/torch_checks.cmake
  check_cxx_source_compiles("#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
int main() { at::cuda::CUDAGraph g; c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool(); (void)s;
  if (s.id() < 0) g.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal); return 0; }"
    SDXL_CUDA_GRAPH_LINKS)
  sdxl_torch_check_end()
  if(NOT SDXL_CUDA_GRAPH_LINKS)
    set(${var} FALSE PARENT_SCOPE)
    return()
  endif()
  if(NOT DEFINED SDXL_CUDA_GRAPH_SOURCE_COMPILES)
    set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
    try_compile(ok ${CMAKE_BINARY_DIR}/cuda_graph_check
      SOURCES ${SDXL_CUDA_GRAPH_DIR}/unet_cuda_graph.cpp
      COMPILE_DEFINITIONS -DSDXL_HAVE_CUDA_GRAPH=1 ${TORCH_CXX_FLAGS}
      CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${SDXL_CUDA_GRAPH_DIR}/..;${SDXL_CUDA_GRAPH_DIR}/../../sdk/include;${SDXL_TORCH_CHECK_INCLUDES}"
      CXX_STANDARD ${CMAKE_CXX_STANDARD}
      OUTPUT_VARIABLE log)
    set(SDXL_CUDA_GRAPH_SOURCE_COMPILES ${ok} CACHE INTERNAL "host/gpu/unet_cuda_graph.cpp compiles with CUDA graphs")
    if(NOT ok)
      message(WARNING "CUDA graphs: host/gpu/unet_cuda_graph.cpp does not compile against this torch; "
                      "building without them ([gpu] cuda_graphs will run eagerly). Compiler output:\n${log}")
    endif()
  endif()
  set(${var} ${SDXL_CUDA_GRAPH_SOURCE_COMPILES} PARENT_SCOPE)
endfunction()
