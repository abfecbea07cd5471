// `sdxl generate`: txt2img / img2img from the command line, a job file and the configuration.
#include <ATen/ATen.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <csignal>
#include <iostream>
#include <random>

#include "cli/generate_output.h"
#include "cli/startup.h"
#include "image/png.h"
#include "models/demo/demo_model.h"
#include "noise/per_image_noise.h"
#include "pipeline/generate.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/refiner.h"
#include "pipeline/job_settings.h"
#include "pipeline/lora_stack.h"
#include "prompt/emphasis.h"
#include "util/logging.h"
#include "util/sha256.h"

namespace sdxl::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

const char* kFlags[] = {"prompt", "negative", "width", "height", "steps", "cfg", "guidance-rescale", "sampler",
                        "seed", "batch-size", "batch-count", "init-image", "strength", "model", "model-config",
                        "clip-vocab", "vae", "out", "prompt-mode", "device", "dtype", "original-size", "crop-top-left",
                        "target-size", "negative-original-size", "negative-crop-top-left", "negative-target-size",
                        "refiner", "refiner-config", "refiner-switch", "aesthetic-score", "negative-aesthetic-score",
                        "preview-every", "preview-dir", "preview-taesd"};


sdk::Result<at::Tensor> read_init_image(const std::string& path) {
  auto png = image::read_png(path);
  if (!png.ok()) return png.status();
  at::Tensor px = png.value().pixels;
  if (px.size(2) == 1) px = px.expand({px.size(0), px.size(1), 3});
  return pipeline::from_uint8_image(px.contiguous());
}

// A mask picture as [1, 1, H, W] in [0, 1] (grey = ITU-R 601 luma of RGB, as PIL's "L").
sdk::Result<at::Tensor> read_mask(const std::string& path) {
  auto png = image::read_png(path);
  if (!png.ok()) return png.status();
  at::Tensor px = png.value().pixels.to(at::kFloat);
  at::Tensor grey = px.size(2) == 1 ? px.select(2, 0)
                                    : px.select(2, 0) * 0.299 + px.select(2, 1) * 0.587 + px.select(2, 2) * 0.114;
  return (grey / 255.0).unsqueeze(0).unsqueeze(0).contiguous();
}

int run_generate(Args& args, const GlobalOptions& global) {
  for (const char* f : kFlags) args.option(f);
  args.option("job");
  args.option("mask");
  args.option("lora");
  args.option("lora-mode");
  args.option("control");
  args.flag("json");
  if (!parse_or_complain(args, "generate")) return kExitUsage;
  if (!args.positionals().empty()) {
    std::cerr << "sdxl generate: unexpected argument '" << args.positionals()[0] << "' (use --prompt)\n";
    return kExitUsage;
  }
  auto app = start_app(global);
  if (!app) return kExitUsage;

  // Settings: defaults + config, then the job file, then flags.
  pipeline::JobSettings s = pipeline::settings_from_config(app->config);
  if (auto configured = pipeline::controls_from_config(app->config); configured.ok()) s.controls = configured.value();
  else return util::log_error(configured.status().message()), kExitUsage;
  if (auto job = args.get("job"))
    if (auto st = pipeline::apply_job_file(s, *job); !st.ok()) return util::log_error(st.message()), kExitUsage;
  for (const char* f : kFlags)
    if (auto v = args.get(f))
      if (auto st = s.set(f, *v, std::string("--") + f); !st.ok()) return util::log_error(st.message()), kExitUsage;

  // Everything checkable before loading the model is checked now.
  at::Tensor init;
  if (!s.init_image.empty()) {
    auto img = read_init_image(s.init_image);
    if (!img.ok()) return util::log_error("--init-image: " + img.status().message()), kExitUsage;
    init = img.value();
    if (!s.size_set) {  // the picture decides the size
      s.width = init.size(3);
      s.height = init.size(2);
      s.size_set = true;
    }
  }
  at::Tensor mask;
  if (auto m = args.get("mask")) {
    if (!init.defined()) return util::log_error("--mask needs --init-image (the picture to inpaint)"), kExitUsage;
    auto r = read_mask(*m);
    if (!r.ok()) return util::log_error("--mask: " + r.status().message()), kExitUsage;
    mask = r.value();
    if (mask.size(2) != init.size(2) || mask.size(3) != init.size(3))
      return util::log_error("--mask is " + std::to_string(mask.size(3)) + "x" + std::to_string(mask.size(2)) +
                             ", the init image " + std::to_string(init.size(3)) + "x" + std::to_string(init.size(2))),
             kExitUsage;
  }
  if (auto st = s.validate(); !st.ok()) return util::log_error(st.message()), kExitUsage;

  // LoRAs: --lora PATH[:UNET[:TE]] and, in a1111 mode, <lora:name:te[:unet]> tags in the prompt
  // (names resolved inside [lora] folders only). All files must exist before the model loads.
  std::vector<pipeline::LoraRequest> loras;
  const std::vector<std::filesystem::path> folders = config::config_paths(app->config, app->config.lora_folders);
  if (const auto* configured = app->config.generate_loras()) {  // [generate] loras in the config
    auto r = pipeline::loras_from_toml(*configured, app->config.file, folders);
    if (!r.ok()) return util::log_error(r.status().message()), kExitUsage;
    loras = r.value();
  }
  for (const auto& arg : args.get_all("lora")) {
    auto r = pipeline::parse_lora_argument(arg);
    if (!r.ok()) return util::log_error(r.status().message()), kExitUsage;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(r.value().path, ec))
      return util::log_error("--lora " + arg + ": no such file"), kExitUsage;
    loras.push_back(r.value());
  }
  std::string model_prompt = s.prompt;
  if (s.prompt_mode == "a1111") {
    std::vector<prompt::LoraTag> tags;
    model_prompt = prompt::extract_lora_tags(s.prompt, tags);
    for (const auto& t : tags) {
      auto path = pipeline::resolve_lora_name(t.name, folders);
      if (!path.ok()) return util::log_error("prompt <lora:" + t.name + ">: " + path.status().message()), kExitUsage;
      loras.push_back({path.value(), t.unet_weight, t.text_encoder_weight});
    }
  }
  // --lora-mode, else [lora] mode: merge (default) or runtime (weights never written).
  auto lora_mode = pipeline::parse_lora_mode(args.get("lora-mode").value_or(app->config.lora_mode));
  if (!lora_mode.ok()) return util::log_error("--lora-mode: " + lora_mode.status().message()), kExitUsage;
  if (!s.sampler.empty() && s.sampler != "auto" && !app->registry->find(sdk::FeatureKind::scheduler, s.sampler)) {
    std::string names;
    for (const auto& n : app->registry->names(sdk::FeatureKind::scheduler)) names += (names.empty() ? "" : ", ") + n;
    util::log_error("unknown sampler '" + s.sampler + "'; available: " + names);
    return kExitUsage;
  }
  pipeline::ModelSpec spec;
  if (auto st = pipeline::resolve_device_and_dtype(s.device, s.dtype, "--device", "--dtype", spec); !st.ok())
    return util::log_error(st.message()), kExitUsage;
  bool demo = false;
  if (s.model.empty()) {
    auto dir = models::demo::ensure_demo_model(models::demo::default_cache_dir());
    if (!dir.ok()) return util::log_error(dir.status().message()), kExitFailure;
    spec.path = dir.value();
    demo = true;
    // Small and short by default so the first run takes seconds on a CPU.
    if (!s.size_set) s.width = s.height = 256;
    if (!s.steps_set) s.steps = 12;
    util::log_warn("no model configured: using the built-in tiny demo model (random weights; it draws abstract "
                   "noise). For real images set `[model] path = \"/path/to/sdxl\"` in config/sdxl.toml or pass --model.");
  } else {
    spec.path = s.model;
    spec.model_config = s.model_config;
    spec.clip_vocab = s.clip_vocab;
  }
  spec.vae_path = s.vae;  // the demo model too: any SDXL-shaped VAE decodes its latents
  if (init.defined() && (init.size(2) != s.height || init.size(3) != s.width))
    return util::log_error("--init-image is " + std::to_string(init.size(3)) + "x" + std::to_string(init.size(2)) +
                           " but the requested size is " + std::to_string(s.width) + "x" + std::to_string(s.height)),
           kExitUsage;

  // ControlNet units: [generate] controlnets, replaced by a job file's list, replaced by --control
  // flags. Pictures are read, fitted and preprocessed now, before any model loads.
  if (!args.get_all("control").empty()) {
    s.controls.clear();
    for (const auto& arg : args.get_all("control")) {
      auto r = pipeline::parse_control_argument(arg);
      if (!r.ok()) return util::log_error(r.status().message()), kExitUsage;
      s.controls.push_back(r.value());
    }
  }
  auto prepared_controls = pipeline::prepare_control_units(s.controls, *app->registry, s.width, s.height,
                                                           config::config_paths(app->config, app->config.controlnet_folders));
  if (!prepared_controls.ok()) return util::log_error(prepared_controls.status().message()), kExitUsage;

  const auto t0 = std::chrono::steady_clock::now();
  auto model = pipeline::SdxlModel::load(spec, *app->registry);
  if (!model.ok()) return util::log_error(model.status().message()), kExitFailure;
  auto controls = pipeline::load_control_units(prepared_controls.value(), *model.value()->unet, "model " + model.value()->name);
  if (!controls.ok()) return util::log_error(controls.status().message()), kExitUsage;
  for (const auto& [key, value] : pipeline::control_infotext(controls.value())) util::log_info(key + ": " + value);
  util::log_info("model " + model.value()->name + " loaded on " + spec.device.str() + " (" + pipeline::dtype_name(spec.dtype) + ")");
  // The refiner (optional) loads with the same device and dtype; it finishes every image.
  std::shared_ptr<pipeline::SdxlModel> refiner_model;
  pipeline::RefinerSettings refiner;
  if (!s.refiner.empty()) {
    pipeline::ModelSpec rspec = spec;
    rspec.path = s.refiner;
    rspec.model_config = s.refiner_config;
    rspec.clip_vocab = s.clip_vocab;
    auto r = pipeline::SdxlModel::load(rspec, *app->registry);
    if (!r.ok()) return util::log_error("refiner: " + r.status().message()), kExitFailure;
    refiner_model = r.value();
    refiner.model = refiner_model.get();
    refiner.switch_at = s.refiner_switch;
    util::log_info("refiner " + refiner_model->name + " takes over at " + std::to_string(s.refiner_switch) +
                   " of the noise schedule");
  }

  std::unique_ptr<pipeline::ModelLoras> lora_state;
  if (!loras.empty()) {
    auto created = pipeline::ModelLoras::create(*model.value(), *app->registry, lora_mode.value());
    if (!created.ok()) return util::log_error(created.status().message()), kExitFailure;
    lora_state = std::move(created).value();
    if (auto st = lora_state->apply(loras); !st.ok()) return util::log_error(st.message()), kExitUsage;
    util::log_info("applied " + std::to_string(loras.size()) + " LoRA(s) (" + pipeline::to_string(lora_mode.value()) + " mode)");
  }
  schedulers::AutoHints auto_hints;
  if (s.sampler == "auto") {
    auto_hints.model_name = model.value()->name;
    for (const auto& l : loras) {
      auto_hints.lora_names.push_back(l.path.filename().string());
      if (auto src = lora::open_lora_source(l.path); src.ok())  // titles in the metadata count too
        auto_hints.lora_metadata.push_back(src.value()->file->metadata());
    }
    auto_hints.scheduler_config = model.value()->scheduler_config;
    auto pick = schedulers::choose_auto_sampler(auto_hints);
    if (!pick.ok()) return util::log_error(pick.status().message()), kExitUsage;
    // The distillation's recommended steps and CFG, unless the user chose them.
    if (pick.value().steps && !s.steps_set) s.steps = *pick.value().steps;
    if (pick.value().cfg && !s.cfg_set) s.cfg = *pick.value().cfg;
  }
  // Previews every N steps ([generate] preview_every / --preview-every), decoded with TAESD-XL
  // when preview_taesd names one, else with the linear latent→RGB approximation.
  const std::int64_t preview_every = s.preview_every;
  const std::string preview_dir = s.preview_dir.empty() ? "." : s.preview_dir;
  std::unique_ptr<sdk::VaeVariant> preview_decoder;
  if (preview_every > 0) {
    if (!s.preview_taesd.empty()) {
      const plugins::Placement placement{spec.device, spec.dtype};
      auto decoder = pipeline::load_preview_decoder(s.preview_taesd, *app->registry, &placement);
      if (!decoder.ok()) return util::log_error("preview_taesd: " + decoder.status().message()), kExitUsage;
      preview_decoder = std::move(decoder).value();
    }
    std::error_code ec;
    std::filesystem::create_directories(preview_dir, ec);
  }

  if (s.seed < 0) s.seed = static_cast<std::int64_t>(std::random_device{}() & 0x7fffffff);
  std::signal(SIGINT, on_sigint);
  GenerateOutput output(s, model.value()->name, spec, demo, args.has("json"));
  output.set_loras(loras);
  {
    auto extra = pipeline::job_infotext_fields(model.value()->vae_name, controls.value());
    if (refiner_model) {  // A1111's names for the refiner fields
      extra.emplace_back("Refiner", refiner_model->name);
      std::ostringstream sw;
      sw << s.refiner_switch;
      extra.emplace_back("Refiner switch at", sw.str());
    }
    output.set_extra_fields(std::move(extra));
  }
  std::error_code ec;
  if (!demo && std::filesystem::is_regular_file(spec.path, ec)) {
    // Hashed once per file version (cached), as A1111 does for its "Model hash".
    auto hash = util::cached_sha256_file(spec.path, models::demo::default_cache_dir() / "hashes.json");
    if (hash.ok()) output.set_model_hash(hash.value().substr(0, 10));
  }
  ProgressBar bar(isatty(STDERR_FILENO) != 0);
  for (std::int64_t batch = 0; batch < s.batch_count; ++batch) {
    const std::int64_t first_seed = s.seed + batch * s.batch_size;
    pipeline::GenerateRequest req;
    req.prompts.prompts.assign(static_cast<std::size_t>(s.batch_size), model_prompt);
    if (!s.negative.empty()) req.prompts.negatives.assign(static_cast<std::size_t>(s.batch_size), s.negative);
    req.prompts.mode = s.prompt_mode == "plain" ? pipeline::PromptMode::plain : pipeline::PromptMode::a1111;
    req.width = s.width;
    req.height = s.height;
    req.steps = s.steps;
    req.guidance = s.cfg;
    req.guidance_rescale = s.guidance_rescale;
    req.sampler = s.sampler;
    req.auto_hints = auto_hints;
    // Micro-conditioning (validated by s.validate() above, so these parse).
    auto size = [](const std::string& v) { return v.empty() ? std::vector<double>{} : pipeline::parse_size(v, "size").value(); };
    auto pair = [](const std::string& v) { return v.empty() ? std::vector<double>{} : pipeline::parse_pair(v, "crop").value(); };
    req.original_size = size(s.original_size);
    req.crop_top_left = pair(s.crop_top_left);
    req.target_size = size(s.target_size);
    req.negative_original_size = size(s.negative_original_size);
    req.negative_crop_top_left = pair(s.negative_crop_top_left);
    req.negative_target_size = size(s.negative_target_size);
    req.init_image = init;
    req.mask = mask;
    req.strength = s.strength;
    req.controls = controls.value();
    noise::PerImageNoise noise(static_cast<std::uint64_t>(first_seed), s.batch_size);
    pipeline::JobHooks hooks;
    hooks.noise = &noise;
    hooks.cancelled = [] { return g_interrupted.load(); };
    hooks.progress = [&](std::int64_t done, std::int64_t total) { bar.update(batch, s.batch_count, done, total); };
    if (preview_every > 0) {
      hooks.preview_every = preview_every;
      hooks.preview_decoder = preview_decoder.get();
      hooks.preview = [&](std::int64_t call, const at::Tensor& pictures) {
        for (std::int64_t i = 0; i < pictures.size(0); ++i) {
          const auto path = std::filesystem::path(preview_dir) /
                            ("preview-" + std::to_string(first_seed + i) + "-step" + std::to_string(call + 1) + ".png");
          if (auto st = image::write_png(path.string(), pictures[i]); !st.ok()) util::log_warn(st.message());
        }
      };
    }
    req.aesthetic_score = s.aesthetic_score;
    req.negative_aesthetic_score = s.negative_aesthetic_score;
    auto result = pipeline::generate_with_refiner(*model.value(), refiner, *app->registry, req, hooks);
    bar.finish();
    if (!result.ok()) {
      util::log_error(result.status().code() == sdk::StatusCode::cancelled
                          ? "interrupted: no file written for the unfinished batch"
                          : result.status().message());
      output.print_json_if_requested();
      return kExitFailure;
    }
    if (auto st = output.write_batch(result.value(), first_seed); !st.ok()) return util::log_error(st.message()), kExitFailure;
  }
  output.finish(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return kExitOk;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "generate", "generate images (txt2img, img2img, inpaint)",
    "usage: sdxl generate [--prompt P] [--negative N] [--width W] [--height H] [--steps S] [--cfg G]\n"
    "                     [--sampler NAME] [--seed S] [--batch-size B] [--batch-count C]\n"
    "                     [--init-image FILE.png [--strength X] [--mask MASK.png]] [--guidance-rescale R]\n"
    "                     [--model M [--model-config DIR] [--clip-vocab V]] [--vae VAE] [--device auto|cpu|cuda]\n"
    "                     [--dtype auto|float32|float16|bfloat16] [--prompt-mode a1111|plain]\n"
    "                     [--original-size WxH] [--crop-top-left T,L] [--target-size WxH]\n"
    "                     [--negative-original-size WxH] [--negative-crop-top-left T,L] [--negative-target-size WxH]\n"
    "                     [--lora FILE.safetensors[:UNET[:TE]]]... [--lora-mode merge|runtime] [--preview-every N [--preview-dir DIR] [--preview-taesd DIR]]\n"
    "                     [--control model=PATH,image=IMG[,type=canny][,scale=0.8][,start=0][,end=1]\n"
    "                                [,resize=crop_and_resize|just_resize|resize_and_fill][,config=DIR]]...\n"
    "                     [--out FILE.png] [--job job.toml] [--json]\n\n"
    "Defaults come from the configuration's [generate] and [model] sections, then --job (a TOML file\n"
    "with the same keys, e.g. prompt = \"…\", steps = 30), then the flags. With no model configured the\n"
    "built-in tiny demo model is used (random weights: abstract noise; 256x256, 12 steps unless set).\n"
    "--control adds a ControlNet unit (repeatable; see docs/controlnet.md).\n"
    "--mask (white = repaint) inpaints the init image. Image i of a job uses seed + i. --out may contain {n} (image index) and {seed}. PNGs carry A1111's\n"
    "`parameters` text. --json prints a machine-readable result on stdout. Ctrl-C stops between\n"
    "steps; images already written stay, nothing partial is written.",
    run_generate})

}  // namespace sdxl::cli
