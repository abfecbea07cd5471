#include "memory/model_components.h"

#include "memory/activation_estimate.h"
#include "memory/parameter_residency.h"
#include "memory/sequential_offload.h"
#include "models/loader/checkpoint.h"

namespace sdxl::memory {
namespace {

// Re-opens the checkpoint for one component (memory-mapped: only the header is read now).
WeightSource checkpoint_source(const pipeline::ModelSpec& spec, const std::string& component) {
  return [spec, component]() -> sdk::Result<std::map<std::string, at::Tensor>> {
    models::loader::LoadOptions lo;
    lo.model_config = spec.model_config;
    lo.components = {component};
    auto ck = models::loader::load_checkpoint(spec.path, lo);
    if (!ck.ok()) return ck.status();
    auto c = ck.value().component(component);
    if (!c.ok()) return c.status();
    return c.value()->tensors;
  };
}

ComponentRegistration movable(const std::string& name, std::shared_ptr<ParameterResidency> r, c10::Device device) {
  ComponentRegistration reg;
  reg.name = name;
  reg.device = device;
  reg.bytes = r->bytes();
  reg.callbacks.offload_to = [r](c10::Device d) { return r->move_to(d); };
  reg.callbacks.drop = [r]() { return r->drop(); };
  reg.callbacks.reload = [r](c10::Device d) { return r->reload(d); };
  return reg;
}

}  // namespace

std::vector<std::string> model_component_names(const pipeline::SdxlModel& model) {
  std::vector<std::string> out;
  if (model.text && model.text->has_te1()) out.push_back(model.name + ".text_encoder");
  if (model.text) out.push_back(model.name + ".text_encoder_2");
  if (model.unet) out.push_back(model.name + ".unet");
  if (model.vae) out.push_back(model.name + ".vae");
  return out;
}

sdk::Result<std::vector<std::string>> register_model_components(MemoryArbiter& arbiter,
                                                                const std::shared_ptr<pipeline::SdxlModel>& model,
                                                                const pipeline::ModelSpec& spec, c10::Device device) {
  if (!model) return sdk::invalid_argument("register_model_components: no model");
  std::vector<ComponentRegistration> regs;
  if (model->text) {
    if (model->text->has_te1())
      regs.push_back(movable(model->name + ".text_encoder",
                             std::make_shared<ParameterResidency>(model->name + ".text_encoder", model->text->te1().parameters(),
                                                                  checkpoint_source(spec, "text_encoder")),
                             device));
    regs.push_back(movable(model->name + ".text_encoder_2",
                           std::make_shared<ParameterResidency>(model->name + ".text_encoder_2", model->text->te2().parameters(),
                                                                checkpoint_source(spec, "text_encoder_2")),
                           device));
  }
  // Sequential mode on a real (or simulated) GPU: the UNet streams block by block, so the arbiter
  // reserves its largest block as the window. The text encoders are small next to it and stay one
  // block each (moved whole by the arbiter); the VAE lives in its plugin.
  std::shared_ptr<SequentialStreamer> streamer;
  if (model->unet && arbiter.mode() == ArbiterMode::sequential && !device.is_cpu()) {
    auto s = SequentialStreamer::for_unet(*model->unet, device);
    if (!s.ok()) return s.status();
    streamer = s.value();
  }
  if (model->unet) {
    auto residency = std::make_shared<ParameterResidency>(model->name + ".unet", model->unet->parameters(),
                                                          checkpoint_source(spec, "unet"));
    // Back on a GPU, the UNet's channels-last and stacked q/k/v weights again (a move copies each
    // tensor in the standard layout); on the host, where it only waits, as they come.
    std::weak_ptr<models::UNet2DConditionModel> unet = model->unet;
    residency->set_on_reseated([unet](c10::Device to) {
      if (auto u = unet.lock(); u && !to.is_cpu()) u->restore_weight_layouts();
    });
    c10::Device home = device;
    if (streamer) {
      // A streamed UNet lives on the host: put it there now rather than at the first admission
      // (the books then show at once what the GPU holds).
      bool on_host = true;
      for (const auto& [_, t] : model->unet->parameters()) on_host = on_host && (!t.defined() || t.is_cpu());
      if (!on_host)
        if (auto st = residency->move_to(c10::Device(c10::kCPU)); !st.ok()) return st;
      home = c10::Device(c10::kCPU);
    }
    auto reg = movable(model->name + ".unet", residency, home);
    if (streamer) reg.largest_block_bytes = streamer->largest_block_bytes();
    regs.push_back(std::move(reg));
  }
  if (model->vae) {
    ComponentRegistration vae;
    vae.name = model->name + ".vae";
    vae.device = device;
    vae.pinned = true;  // inside the plugin: cannot be moved or dropped from the host
    for (const auto& [_, t] : model->vae_weights)
      vae.bytes += static_cast<std::uint64_t>(t.numel()) * t.element_size();
    regs.push_back(std::move(vae));
  }
  if (model->unet && model->unet_graphs) {
    // The graph's pool: booked while a graph is held (the UNet's sample already has CFG's rows).
    const std::string graph = model->name + ".unet_graph";
    model->unet_graphs->set_pool_observer(
        [&arbiter, graph, device, config = model->unet->config(), dtype = model->unet->dtype()](const models::UNetInputs* in) {
          if (!in) return (void)arbiter.unregister_component(graph);
          ComponentRegistration reg;
          reg.name = graph;
          reg.device = device;
          reg.pinned = true;
          reg.bytes = estimate_unet_activation_bytes(config, in->sample.size(0), in->sample.size(2) * 8,
                                                     in->sample.size(3) * 8, dtype, /*cfg=*/false);
          (void)arbiter.register_component(std::move(reg));
        });
  }
  std::vector<std::string> names;
  for (auto& r : regs) {
    names.push_back(r.name);
    if (auto st = arbiter.register_component(std::move(r)); !st.ok()) return st;
  }
  // Attached last, once the books agree; registering again in another mode detaches an old one.
  if (streamer)
    model->unet->set_block_observer(streamer);
  else if (model->unet && std::dynamic_pointer_cast<SequentialStreamer>(model->unet->block_observer()))
    model->unet->set_block_observer(nullptr);
  return names;
}

void unregister_model_components(MemoryArbiter& arbiter, const pipeline::SdxlModel& model) {
  for (const auto& name : model_component_names(model)) (void)arbiter.unregister_component(name);
  if (model.unet_graphs) model.unet_graphs->set_pool_observer(nullptr);
  (void)arbiter.unregister_component(model.name + ".unet_graph");
  // Only our own observer: a streamer left attached would keep streaming for a forgotten arbiter.
  if (model.unet && std::dynamic_pointer_cast<SequentialStreamer>(model.unet->block_observer()))
    model.unet->set_block_observer(nullptr);
}

}  // namespace sdxl::memory
