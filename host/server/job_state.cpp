#include "server/job_state.h"

namespace sdxl::server {

const char* to_string(JobState s) {
  switch (s) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::done: return "done";
    case JobState::failed: return "failed";
    case JobState::cancelled: return "cancelled";
  }
  return "unknown";
}

const char* to_string(JobEvent::Kind k) {
  switch (k) {
    case JobEvent::Kind::queued: return "queued";
    case JobEvent::Kind::started: return "started";
    case JobEvent::Kind::progress: return "progress";
    case JobEvent::Kind::done: return "done";
    case JobEvent::Kind::failed: return "failed";
    case JobEvent::Kind::cancelled: return "cancelled";
  }
  return "unknown";
}

nlohmann::json JobSnapshot::to_json(bool with_images) const {
  nlohmann::json seeds = nlohmann::json::array(), infotexts = nlohmann::json::array();
  nlohmann::json images_json = nlohmann::json::array();
  for (const auto& im : images) {
    seeds.push_back(im.seed);
    infotexts.push_back(im.infotext);
    if (with_images) images_json.push_back(base64_encode(im.png.data(), im.png.size()));
  }
  nlohmann::json j = {{"id", id},
                      {"state", server::to_string(state)},
                      {"step", step},
                      {"total", total},
                      {"model", model},
                      {"sampler", sampler},
                      {"seeds", seeds},
                      {"infotexts", infotexts},
                      {"batch_jobs", batch_jobs},
                      {"priority", spec.priority},
                      {"client", spec.client},
                      {"timings",
                       {{"queued", timings.queued},
                        {"total", timings.total},
                        {"text", timings.text},
                        {"denoise", timings.denoise},
                        {"unet", timings.unet},
                        {"vae", timings.vae},
                        {"model_switch", timings.model_switch}}}};
  if (queue_position >= 0) j["queue_position"] = queue_position;
  if (!error.empty()) {
    j["error"] = error;
    j["error_code"] = sdk::to_string(error_code);
  }
  if (with_images) j["images"] = images_json;
  return j;
}

}  // namespace sdxl::server
