#pragma once
// Peak working memory of a KL decode, modelled on the live set of the functional implementation
// (kl_layers.cpp / kl_model.cpp), so the memory arbiter can pick untiled, tiled or CPU up front.
//
// Model (per picture, e = element bytes, P = pixels at the stage's resolution):
//   resnet Cin->Cout : input + max((Cin + Cout) P e + conv_ws(Cin, P), 2 Cout P e + conv_ws(Cout, P))
//   upsample C       : input (C P) + nearest copy (4 C P) + conv output (4 C P) + conv_ws(C, 4P);
//                      as phase convolutions: input + output (4 C P) + one phase's (H+1)(W+1)
//                      output (~C P) + conv_ws(C, P) of a 2x2 convolution
//   attention C      : input + 5 C P e (norm output, its contiguous copy, q, k, v)
//                      + 2 * rows * P e (one chunk of scores and its softmax)
//   conv_ws(Cin, P)  : the convolution's own scratch, by backend (ConvWorkspace):
//                      im2col columns 9 Cin P e when libtorch falls back to its "slow" CPU
//                      convolution (no oneDNN); oneDNN's reorders of input and output into its
//                      blocked layout, (Cin + Cout) P e; cuDNN: at most one tensor the size of the
//                      larger side, max(Cin, Cout) P e (a layout transform or an algorithm's
//                      workspace; it comes from the CUDA allocator like the activations).
// The whole decode's peak is the maximum over stages, times the pictures processed at once
// (1 with slice_batch), plus the float32 output image, plus a fixed runtime overhead
// (kRuntimeOverheadBytes: oneDNN primitive caches and scratchpads, per-call weight reorders,
// allocator slack), measured at 50-60 MiB for this VAE on the CPU whatever the picture size. With
// tiling each network call sees one tile of tile_h x tile_w latent pixels, and the blend buffers
// (output-sized accumulator and weight map) are added. The untiled estimate at 1024x1024
// (128x128 latents) in float32 is dominated by the last up block (its input 256 channels x 1024²
// x 4 B = 1 GiB per tensor): with the phase upsamplers, its first resnet; with nearest
// upsampling, the upsampler feeding it.

#include <c10/core/Device.h>

#include <cstdint>

#include "kl_config.h"

namespace sdxl::vae_kl {

/// Fixed cost of running the decoder at all, beyond its activations (see above).
constexpr std::uint64_t kRuntimeOverheadBytes = std::uint64_t{64} << 20;

/// Where the convolutions run, for their scratch memory (conv_ws above).
enum class ConvWorkspace { onednn, im2col, cudnn };

struct DecodePlan {
  std::int64_t batch = 1;
  std::int64_t height = 128;  ///< latent pixels
  std::int64_t width = 128;
  bool slice_batch = false;
  bool tiling = false;
  std::int64_t tile_h = 64;  ///< latent pixels per tile, vertically
  std::int64_t tile_w = 64;  ///< and horizontally
  std::int64_t overlap = 16;
  std::int64_t element_bytes = 4;
  std::int64_t max_score_elements = std::int64_t{1} << 26;
  ConvWorkspace conv_workspace = ConvWorkspace::onednn;  ///< KlVae sets it from the device (conv_workspace_for)
  bool subpixel_upsample = true;     ///< the upsamplers as phase convolutions (kl_layers.h)
  /// Channels-last on CUDA without the host's NHWC GroupNorm: libtorch's GroupNorm returns NCHW
  /// and the next convolution converts it back, so one more copy of the norm's output is alive.
  bool norm_layout_copies = false;
};

/// True when CPU convolutions here use libtorch's im2col fallback (no oneDNN in this build).
bool cpu_convolutions_use_im2col();
/// The convolution backend on `device`: cuDNN on CUDA, else oneDNN or libtorch's im2col.
ConvWorkspace conv_workspace_for(c10::Device device);

/// Bytes of one untiled decoder call on `batch` pictures of h x w latents, output excluded.
std::uint64_t decoder_call_peak(const KlConfig& c, std::int64_t batch, std::int64_t h, std::int64_t w,
                                const DecodePlan& plan);

/// The whole decode (slicing, tiling, blend buffers, float32 output).
std::uint64_t estimate_decode_peak(const KlConfig& c, DecodePlan plan);

}  // namespace sdxl::vae_kl
