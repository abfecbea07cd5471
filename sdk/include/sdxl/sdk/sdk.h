#pragma once
/// @file sdk.h
/// Convenience header: everything a plugin author needs.
/// @since 1.0
#include "sdxl/sdk/entry.h"
#include "sdxl/sdk/plugin.h"
#include "sdxl/sdk/shape_text.h"
