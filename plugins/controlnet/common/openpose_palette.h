#pragma once
// The OpenPose body drawing convention (18 COCO keypoints) that the SDXL pose ControlNets were
// trained on: keypoint order, limb pairs and colours.

#include <array>
#include <cstdint>

namespace sdxl::cntypes {

/// Keypoint order of the OpenPose COCO body model: 0 nose, 1 neck, 2 right shoulder, 3 right
/// elbow, 4 right wrist, 5 left shoulder, 6 left elbow, 7 left wrist, 8 right hip, 9 right knee,
/// 10 right ankle, 11 left hip, 12 left knee, 13 left ankle, 14 right eye, 15 left eye,
/// 16 right ear, 17 left ear. The model's 19th heatmap is the background.
constexpr int kOpenPoseKeypoints = 18;
constexpr int kOpenPoseLimbs = 17;

struct Rgb {
  std::uint8_t r, g, b;
};

/// Limb i joins keypoints kOpenPoseLimbPairs[i] (0-based) and is drawn in colour i.
extern const std::array<std::array<int, 2>, kOpenPoseLimbs> kOpenPoseLimbPairs;
/// Colour i: keypoint i and limb i. Limbs are drawn at 60 % of it (the ControlNet 1.1 convention).
extern const std::array<Rgb, kOpenPoseKeypoints> kOpenPoseColours;
constexpr double kOpenPoseLimbDim = 0.6;

}  // namespace sdxl::cntypes
