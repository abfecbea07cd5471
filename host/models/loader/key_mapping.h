#pragma once
// Single-file (Stability "SGM" / original LDM) checkpoint names -> diffusers component names.
//
// Works on header entries only (name, dtype, shape), so the full-size SDXL layouts can be
// checked without any weights. Each source tensor maps to one diffusers tensor, except OpenCLIP's
// fused attn.in_proj_{weight,bias}, which map to three (q, k, v rows). Known extras (position_ids,
// logit_scale, EMA copies, schedule buffers, ...) are listed as ignored; any other name is an error.

#include <cstdint>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "sdxl/sdk/status.h"

namespace sdxl::models::loader {

/// How a diffusers tensor is made from its single-file source (names as in sdxl_full_layouts.json).
enum class Transform {
  identity,           ///< same values, renamed
  qkv_rows,           ///< rows [part*W, (part+1)*W) of a fused [3W, ...] tensor
  transpose,          ///< 2-D transpose (OpenCLIP text_projection [W, P] -> Linear weight [P, W])
  linear_to_conv1x1,  ///< single file [C, C, 1, 1] -> diffusers Linear [C, C]
};
const char* to_string(Transform t);

struct MappedTensor {
  std::string component;  ///< "unet", "vae", "text_encoder", "text_encoder_2"
  std::string key;        ///< diffusers name inside the component
  std::string source;     ///< name in the single file
  Transform how = Transform::identity;
  int part = 0;           ///< q/k/v index for qkv_rows
  std::vector<std::int64_t> shape;  ///< the diffusers shape
};

struct KeyMapping {
  std::vector<MappedTensor> tensors;
  std::vector<std::string> ignored;  ///< known extras without a diffusers counterpart
};

/// Maps every entry of a single file. `file` names the file in error messages. Fails on an
/// unknown name, a duplicate target, or a shape a transform cannot apply to.
sdk::Result<KeyMapping> map_single_file(const std::vector<io::TensorEntry>& entries, const std::string& file);

/// True when the name is a known tensor without a diffusers counterpart that loaders ignore.
bool is_known_extra(const std::string& name);

}  // namespace sdxl::models::loader
