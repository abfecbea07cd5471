#include "config/schema.h"

namespace sdxl::config {

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = {
      {"plugins", "paths", KeyType::string_list, "[]",
       "Extra folders searched for plugin libraries, after --plugin-path and SDXL_PLUGIN_PATH and\n"
       "before the built-in lib/sdxl/plugins beside the executable."},
      {"plugins", "enable", KeyType::string_list, "[\"*\"]",
       "Glob patterns over plugin ids and feature names; only matching features are active."},
      {"plugins", "disable", KeyType::string_list, "[]",
       "Glob patterns applied after `enable`; matching features are switched off\n"
       "(e.g. [\"org.sdxl.controlnet.*\", \"dpm2*\"])."},
      {"log", "level", KeyType::string, "\"info\"", "Log level on stderr.", {"trace", "debug", "info", "warn", "error"}},
      {"log", "format", KeyType::string, "\"text\"", "`json` writes one JSON object per line, for deployments.",
       {"text", "json"}},
      {"model", "path", KeyType::string, "\"\"",
       "SDXL weights: a diffusers folder or a single .safetensors checkpoint.\n"
       "Empty: the built-in tiny demo model (random weights)."},
      {"model", "model_config", KeyType::string, "\"\"",
       "A diffusers folder whose */config.json and tokenizer*/ files supply what a single-file\n"
       "checkpoint cannot tell (as diffusers' from_single_file(config=...))."},
      {"model", "clip_vocab", KeyType::string, "\"\"",
       "bpe_simple_vocab_16e6.txt.gz for single-file checkpoints, which carry no tokenizer."},
      {"model", "vae", KeyType::string, "\"\"",
       "A VAE used instead of the checkpoint's own: a diffusers VAE folder (e.g. the fp16-fix VAE),\n"
       "a .safetensors VAE file, another checkpoint's VAE, or a TAESD-XL folder (fast, low memory).\n"
       "It must share the model's latent channels and scaling. Empty: the checkpoint's (docs/vae.md)."},
      {"model", "device", KeyType::string, "\"auto\"", "auto: CUDA when present, else the CPU.", {"auto", "cpu", "cuda"}},
      {"model", "dtype", KeyType::string, "\"auto\"",
       "auto: float16 (bfloat16 where supported) on CUDA, float32 on the CPU.",
       {"auto", "float32", "float16", "bfloat16"}},
      {"memory", "cpu", KeyType::string, "\"\"",
       "Budget for host memory the worker accounts (weights, LoRA backups, scratch): \"24GiB\", \"512MiB\",\n"
       "or a fraction of what is available at start (\"0.8\"). Empty: unlimited."},
      {"memory", "mode", KeyType::string, "\"resident\"",
       "Memory arbiter policy: keep everything resident, offload idle components (GPU -> CPU ->\n"
       "dropped and re-read), or sequential layer-by-layer offload for small GPUs (docs/memory.md).",
       {"resident", "offload_idle", "sequential"}},
      {"memory", "gpu", KeyType::string, "\"\"",
       "Budget for GPU memory (cuda:0), as for cpu: a size, or a fraction of what is free at start\n"
       "(read from the CUDA runtime; an error on a machine without one). Empty: unlimited."},
      {"memory", "vae_decode", KeyType::string, "\"\"",
       "The most one VAE decode may use on the model's device, a size (\"2GiB\"). When the untiled\n"
       "decode needs more, it tiles with the largest tile that fits (docs/vae.md). Empty: whatever the\n"
       "device has free."},
      {"cpu", "threads", KeyType::integer, "0",
       "Threads for CPU computation (libtorch's intra-op pool). 0: libtorch's default, one per\n"
       "physical core as it counts them (half the logical CPUs), or OMP_NUM_THREADS when set."},
      {"gpu", "cuda_graphs", KeyType::boolean, "false",
       "Replay the UNet call from a captured CUDA graph when nothing it depends on changes (no\n"
       "ControlNet, runtime LoRA or sequential offload; same shapes): removes the kernel-launch\n"
       "overhead of each step. Costs one extra warm-up call per new shape (docs/performance.md)."},
      {"gpu", "channels_last", KeyType::boolean, "true",
       "Run the UNet's convolutions channels-last (NHWC) on CUDA, with the host's NHWC GroupNorm\n"
       "kernels keeping that layout between them: 35.2 ms instead of 39.0 per 1024² CFG step on an\n"
       "H100 (docs/performance.md). No effect on the CPU."},
      {"gpu", "fused_qkv", KeyType::boolean, "false",
       "Compute each UNet self-attention's query, key and value in one matrix product instead of\n"
       "three: their weights are stacked in one storage at load (same memory, same values up to\n"
       "rounding; diffusers' fuse_qkv_projections). Off until the GPU figures say it pays\n"
       "(docs/performance.md). No effect on the CPU."},
      {"gpu", "cudnn_benchmark", KeyType::boolean, "false",
       "Let cuDNN time its convolution algorithms on the first call of each shape and keep the\n"
       "fastest (torch.backends.cudnn.benchmark)."},
      {"gpu", "staged_upload", KeyType::boolean, "true",
       "Copy weights to the GPU through pinned staging buffers filled by several threads, converting\n"
       "their dtype on the GPU (io/device_upload.h). false: one pageable copy per tensor, as\n"
       "tensor.to(\"cuda\") does. No effect on the CPU."},
      {"gpu", "attention", KeyType::string, "\"auto\"",
       "Which of libtorch's attention kernels the UNet and text encoders use: auto (libtorch's\n"
       "choice), flash, cudnn, efficient or math; the others are switched off, math stays as the\n"
       "fallback for shapes the chosen one refuses (models/common/attention_backend.h). Needs\n"
       "libtorch 2.x (cudnn: 2.4); anything but auto is an error on libtorch 1.x.",
       {"auto", "flash", "cudnn", "efficient", "math"}},
      {"lora", "folders", KeyType::string_list, "[]",
       "Folders searched for `<lora:name:weight>` prompt tags and `sdxl lora list`; names never leave them."},
      {"lora", "mode", KeyType::string, "\"merge\"",
       "merge: LoRAs are merged into the weights (exact unmerge on switch); runtime: weights are never\n"
       "written, patched layers add the LoRA term in the forward pass (quantised or shared weights).",
       {"merge", "runtime"}},
      {"controlnet", "folders", KeyType::string_list, "[]",
       "Folders searched for ControlNet models named without a path (a diffusers folder NAME/ or\n"
       "NAME.safetensors); the job server resolves unit models only inside them."},
      {"generate", "negative", KeyType::string, "\"\"", "Default negative prompt."},
      {"generate", "width", KeyType::integer, "1024", "Image width in pixels (a multiple of 8)."},
      {"generate", "height", KeyType::integer, "1024", "Image height in pixels (a multiple of 8)."},
      {"generate", "steps", KeyType::integer, "30", "Sampling steps."},
      {"generate", "cfg", KeyType::number, "5.0", "Classifier-free guidance scale."},
      {"generate", "guidance_rescale", KeyType::number, "0.0", "Guidance rescale factor in [0, 1] (0: off)."},
      {"generate", "sampler", KeyType::string, "\"\"",
       "Sampler name or alias (`sdxl plugins` lists them); empty: the model's own scheduler config."},
      {"generate", "seed", KeyType::integer, "-1", "Seed of the first image (image i uses seed + i); -1: random."},
      {"generate", "batch_size", KeyType::integer, "1", "Images denoised together."},
      {"generate", "batch_count", KeyType::integer, "1", "Batches run one after another."},
      {"generate", "strength", KeyType::number, "0.8", "img2img: how much of the init image is repainted, in (0, 1]."},
      {"generate", "refiner", KeyType::string, "\"\"",
       "SDXL refiner (diffusers folder or single file) that finishes every image; empty: none."},
      {"generate", "refiner_config", KeyType::string, "\"\"", "Config folder for a single-file refiner (as model_config)."},
      {"generate", "refiner_switch", KeyType::number, "0.8",
       "Fraction of the noise schedule the base model covers before the refiner takes over (diffusers'\n"
       "denoising_end / denoising_start), in (0, 1)."},
      {"generate", "aesthetic_score", KeyType::number, "6.0", "Refiner conditioning: aesthetic score of the positive rows."},
      {"generate", "negative_aesthetic_score", KeyType::number, "2.5", "Refiner conditioning for the negative rows."},
      {"generate", "preview_every", KeyType::integer, "0", "Write a preview image every N steps (0: none)."},
      {"generate", "preview_dir", KeyType::string, "\".\"", "Folder for preview images."},
      {"generate", "preview_taesd", KeyType::string, "\"\"",
       "TAESD-XL (diffusers folder or .safetensors) decoding the previews; empty: SDXL's linear\n"
       "latent->RGB approximation."},
      {"generate", "prompt_mode", KeyType::string, "\"a1111\"",
       "a1111: (emphasis:1.2), [less], BREAK and prompts past 75 tokens; plain: text as is, 77 tokens (diffusers).",
       {"a1111", "plain"}},
      {"generate", "out", KeyType::string, "\"sdxl-{seed}.png\"",
       "Output file; {n} is the image index, {seed} its seed. Without either, several images get -N suffixes."},
      {"output", "png_compression", KeyType::integer, "1",
       "zlib level of written PNGs (files, server results, previews), 0-9: 1 is about 4x faster to write "
       "than 6 (A1111's) for files about 16 % larger; 9 is the smallest."},
      // [server]: `sdxl serve` (read by server/http_config.cpp from the parsed document).
      {"server", "host", KeyType::string, "\"127.0.0.1\"",
       "Address `sdxl serve` listens on. Loopback by default; \"0.0.0.0\" exposes it (set api_key then)."},
      {"server", "port", KeyType::integer, "7860", "TCP port (A1111's default). 0: any free port, printed at start."},
      {"server", "api_key", KeyType::string, "\"\"",
       "When set, every request except /healthz needs `Authorization: Bearer KEY` or `X-API-Key: KEY`."},
      {"server", "max_request_mb", KeyType::integer, "64", "Largest request body in MiB (base64 images included); larger: 413."},
      {"server", "max_width", KeyType::integer, "2048", "Largest image width a job may ask for."},
      {"server", "max_height", KeyType::integer, "2048", "Largest image height a job may ask for."},
      {"server", "max_steps", KeyType::integer, "150", "Most sampling steps a job may ask for."},
      {"server", "max_batch_size", KeyType::integer, "8", "Most images one request may ask for (batch_size x n_iter)."},
      {"server", "max_loras", KeyType::integer, "8", "Most LoRAs one job may use."},
      {"server", "max_batch", KeyType::integer, "4",
       "Most images denoised together in one UNet batch across requests (cross-request batching)."},
      {"server", "overlap_decode", KeyType::boolean, "false",
       "Decode each finished batch (VAE + PNG) on a second thread while the next job denoises (GPU throughput)."},
      {"server", "threads", KeyType::integer, "32",
       "HTTP worker threads (each open /events stream holds one while it lasts)."},
  };
  return keys;
}

const ConfigKey* find_key(const std::string& section, const std::string& name) {
  for (const auto& k : config_keys())
    if (k.section == section && k.name == name) return &k;
  return nullptr;
}

const char* to_string(KeyType t) {
  switch (t) {
    case KeyType::boolean: return "boolean";
    case KeyType::integer: return "integer";
    case KeyType::number: return "number";
    case KeyType::string: return "string";
    case KeyType::string_list: return "list of strings";
  }
  return "unknown";
}

bool is_open_table(const std::string& section, const std::string& name) {
  return (section == "plugins" && name == "options") || (section == "generate" && name == "loras") ||
         (section == "generate" && name == "controlnets");
}

}  // namespace sdxl::config
