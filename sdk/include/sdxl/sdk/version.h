#pragma once
/// @file version.h
/// SDK ABI version and the build tag a plugin and the host must share.
/// @since 1.0
///
/// Rules (GStreamer-style): the host loads a plugin whose ABI major equals its own and whose
/// minor is not newer than its own. The build tag must match exactly, because host and plugins
/// share one libtorch and one C++ standard library in the process: a plugin built against another
/// libtorch version or another _GLIBCXX_USE_CXX11_ABI would corrupt memory, not fail cleanly.

#include <torch/csrc/api/include/torch/version.h>

#define SDXL_SDK_ABI_MAJOR 1
#define SDXL_SDK_ABI_MINOR 1

#define SDXL_SDK_STRINGIFY_IMPL(x) #x
#define SDXL_SDK_STRINGIFY(x) SDXL_SDK_STRINGIFY_IMPL(x)

// Device flavour of the libtorch the code is compiled against. The CMake package sets
// SDXL_SDK_TORCH_DEVICE (cpu or cuda) from the Torch package it found; a plain compile says cpu.
#ifndef SDXL_SDK_TORCH_DEVICE
#define SDXL_SDK_TORCH_DEVICE cpu
#endif

#if defined(_LIBCPP_VERSION)
#define SDXL_SDK_STDLIB "libc++"
#elif defined(__GLIBCXX__)
#define SDXL_SDK_STDLIB "libstdc++"
#else
#define SDXL_SDK_STDLIB "unknown"
#endif

#ifndef _GLIBCXX_USE_CXX11_ABI
#define SDXL_SDK_CXX11_ABI 0
#else
#define SDXL_SDK_CXX11_ABI _GLIBCXX_USE_CXX11_ABI
#endif

/// The build tag, e.g. "torch=1.13;cxx11abi=1;device=cpu;stdlib=libstdc++".
/// Only the torch major.minor is part of it: patch releases keep the C++ ABI.
#define SDXL_SDK_BUILD_TAG                                                                   \
  "torch=" SDXL_SDK_STRINGIFY(TORCH_VERSION_MAJOR) "." SDXL_SDK_STRINGIFY(TORCH_VERSION_MINOR) \
  ";cxx11abi=" SDXL_SDK_STRINGIFY(SDXL_SDK_CXX11_ABI) ";device=" SDXL_SDK_STRINGIFY(          \
      SDXL_SDK_TORCH_DEVICE) ";stdlib=" SDXL_SDK_STDLIB
