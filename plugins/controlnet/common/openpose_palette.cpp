#include "openpose_palette.h"

namespace sdxl::cntypes {

// Neck-centred tree: shoulders, arms, hips, legs, head (nose, eyes, ears).
const std::array<std::array<int, 2>, kOpenPoseLimbs> kOpenPoseLimbPairs = {{
    {1, 2}, {1, 5}, {2, 3}, {3, 4}, {5, 6}, {6, 7}, {1, 8}, {8, 9}, {9, 10},
    {1, 11}, {11, 12}, {12, 13}, {1, 0}, {0, 14}, {14, 16}, {0, 15}, {15, 17},
}};

// A hue wheel from red through yellow, green, cyan and blue to magenta.
const std::array<Rgb, kOpenPoseKeypoints> kOpenPoseColours = {{
    {255, 0, 0}, {255, 85, 0}, {255, 170, 0}, {255, 255, 0}, {170, 255, 0}, {85, 255, 0},
    {0, 255, 0}, {0, 255, 85}, {0, 255, 170}, {0, 255, 255}, {0, 170, 255}, {0, 85, 255},
    {0, 0, 255}, {85, 0, 255}, {170, 0, 255}, {255, 0, 255}, {255, 0, 170}, {255, 0, 85},
}};

}  // namespace sdxl::cntypes
