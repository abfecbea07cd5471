#pragma once
// The ADE20K colour table (150 classes, in the dataset's class order: wall, building, sky,
// floor, tree, …) that the SDXL segmentation ControlNets were trained on.

#include <array>
#include <cstdint>

namespace sdxl::cntypes {

constexpr int kAde20kClasses = 150;
/// RGB of class i.
extern const std::array<std::array<std::uint8_t, 3>, kAde20kClasses> kAde20kPalette;

}  // namespace sdxl::cntypes
