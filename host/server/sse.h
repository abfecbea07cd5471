#pragma once
// Server-Sent Events for GET /v1/jobs/{id}/events: the wire format of one event and the queue
// between the orchestrator's callback thread (producer) and the HTTP connection thread that
// streams it (consumer). The channel closes after the job's terminal event, so every stream
// ends with exactly one of done / failed / cancelled.

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace sdxl::server {

/// "id: N\nevent: NAME\ndata: {json}\n\n" (the JSON is one line, so one data field).
std::string format_sse_event(const std::string& event, const nlohmann::json& data, std::uint64_t id);

/// True for done / failed / cancelled.
bool is_terminal_event(const std::string& event);

class SseChannel {
 public:
  /// Queues an event; ignored once the channel is closed (a replayed or late terminal event
  /// therefore never appears twice). A terminal event closes the channel after queueing it.
  void push(const std::string& event, const nlohmann::json& data);
  /// Closes without an event (server shutdown, client gone).
  void close();
  /// Waits up to `wait` for the next formatted event. Returns false when nothing came in time;
  /// `finished` becomes true once the channel is closed and drained.
  bool pop(std::string& out, std::chrono::milliseconds wait, bool& finished);
  bool closed() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace sdxl::server
