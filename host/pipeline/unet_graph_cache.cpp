#include "pipeline/unet_graph_cache.h"

#include <atomic>

#include "gpu/unet_cuda_graph.h"
#include "gpu/unet_graph_inputs.h"
#include "models/common/layers.h"
#include "util/logging.h"

namespace sdxl::pipeline {
namespace {

std::atomic<bool> g_cuda_graphs{false};

// Changes whenever any weight is re-seated on new storage (moved, dropped and re-read).
std::int64_t weights_fingerprint(const models::UNet2DConditionModel& unet) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the data pointers, in name order
  for (const auto& [name, t] : unet.parameters()) {
    h ^= reinterpret_cast<std::uintptr_t>(t.data_ptr());
    h *= 1099511628211ull;
  }
  return static_cast<std::int64_t>(h);
}

std::vector<std::int64_t> graph_key(const models::UNet2DConditionModel& unet, const models::UNetInputs& in) {
  std::vector<std::int64_t> key{static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(&unet)),
                                weights_fingerprint(unet)};
  for (const at::Tensor* t : gpu::graph_input_tensors(in)) {
    key.push_back(static_cast<std::int64_t>(t->scalar_type()));
    key.push_back(t->dim());
    for (auto s : t->sizes()) key.push_back(s);
  }
  // A graph captured with the job's context keys/values reads them from its buffers; one captured
  // without computes them itself. Their shapes follow encoder_hidden_states'.
  key.push_back(in.context_kv ? 1 : 0);
  return key;
}

}  // namespace

void set_cuda_graphs(bool enabled) { g_cuda_graphs = enabled; }
bool cuda_graphs_enabled() { return g_cuda_graphs; }

UNetGraphBackend UNetGraphBackend::cuda() {
  UNetGraphBackend b;
  b.available = gpu::UNetCudaGraph::available();
  b.capture = [](const models::UNet2DConditionModel& unet, const models::UNetInputs& in) -> sdk::Result<Replay> {
    auto graph = gpu::UNetCudaGraph::capture(unet, in);
    if (!graph.ok()) return graph.status();
    std::shared_ptr<gpu::UNetCudaGraph> g = std::move(graph.value());
    return Replay([g](const models::UNetInputs& x) { return g->replay(x); });
  };
  return b;
}

std::string unet_graph_refusal(const models::UNet2DConditionModel& unet, const models::UNetInputs& in,
                               const UNetGraphBackend& backend) {
  if (!backend.available) return "this build's libtorch has no CUDA graphs";
  if (!in.down_residuals.empty() || in.mid_residual.defined()) return "ControlNet residuals change every call";
  if (unet.block_observer()) return "the UNet streams its weights block by block (sequential offload)";
  if (models::layer_adapter_count() != 0) return "runtime LoRA adapters are attached";
  if (backend.cuda_only && (!unet.device().is_cuda() || !in.sample.is_cuda())) return "the UNet is not on a CUDA device";
  return {};
}

UNetGraphCache::UNetGraphCache(UNetGraphBackend backend) : backend_(std::move(backend)) {}

void UNetGraphCache::set_pool_observer(PoolObserver observer) {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_observer_ = std::move(observer);
}

std::int64_t UNetGraphCache::replays() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return replays_;
}

std::int64_t UNetGraphCache::captures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return captures_;
}

sdk::Result<at::Tensor> UNetGraphCache::forward(const models::UNet2DConditionModel& unet,
                                                const models::UNetInputs& in) {
  if (!unet_graph_refusal(unet, in, backend_).empty()) return unet.forward(in);
  std::lock_guard<std::mutex> lock(mutex_);
  if (failed_) return unet.forward(in);
  auto key = graph_key(unet, in);
  if (key != key_) {  // new shape or moved weights: drop the old graph, warm up eagerly once
    if (replay_ && pool_observer_) pool_observer_(nullptr);
    replay_ = nullptr;
    key_ = std::move(key);
    return unet.forward(in);
  }
  if (!replay_) {
    auto captured = backend_.capture(unet, in);
    if (!captured.ok()) {
      failed_ = true;
      util::log_warn("UNet CUDA graph: " + captured.status().message() + "; running eagerly from now on");
      return unet.forward(in);
    }
    replay_ = std::move(captured.value());
    ++captures_;
    if (pool_observer_) pool_observer_(&in);
    util::log_info("UNet CUDA graph captured for sample " + std::to_string(in.sample.size(0)) + "x" +
                   std::to_string(in.sample.size(2)) + "x" + std::to_string(in.sample.size(3)));
  }
  auto eps = replay_(in);
  if (!eps.ok()) return eps.status();
  ++replays_;
  return eps.value().clone();  // the static output is overwritten by the next replay
}

}  // namespace sdxl::pipeline
