#include "server/sse.h"

namespace sdxl::server {

std::string format_sse_event(const std::string& event, const nlohmann::json& data, std::uint64_t id) {
  // dump() escapes control characters, so the payload never contains a raw newline that would
  // split the SSE field.
  return "id: " + std::to_string(id) + "\nevent: " + event + "\ndata: " + data.dump() + "\n\n";
}

bool is_terminal_event(const std::string& event) {
  return event == "done" || event == "failed" || event == "cancelled";
}

void SseChannel::push(const std::string& event, const nlohmann::json& data) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    queue_.push_back(format_sse_event(event, data, next_id_++));
    if (is_terminal_event(event)) closed_ = true;
  }
  cv_.notify_all();
}

void SseChannel::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool SseChannel::pop(std::string& out, std::chrono::milliseconds wait, bool& finished) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait_for(lock, wait, [&] { return !queue_.empty() || closed_; });
  finished = false;
  if (!queue_.empty()) {
    out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }
  finished = closed_;
  return false;
}

bool SseChannel::closed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return closed_;
}

}  // namespace sdxl::server
