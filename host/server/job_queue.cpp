#include "server/job_queue.h"

#include <algorithm>

namespace sdxl::server {

void JobQueue::push(QueueEntry e) { items_.push_back(std::move(e)); }

bool JobQueue::remove(const std::string& id) {
  auto it = std::find_if(items_.begin(), items_.end(), [&](const QueueEntry& e) { return e.id == id; });
  if (it == items_.end()) return false;
  items_.erase(it);
  return true;
}

std::optional<QueueEntry> JobQueue::pop_next(const std::string& loaded_affinity,
                                             std::chrono::steady_clock::time_point now, double max_wait_s) {
  if (items_.empty()) return std::nullopt;
  std::int64_t top = items_.front().priority;
  for (const auto& e : items_) top = std::max(top, e.priority);
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < items_.size(); ++i)
    if (items_[i].priority == top) candidates.push_back(i);

  if (!loaded_affinity.empty()) {
    std::vector<std::size_t> matching;
    auto oldest = now;
    for (auto i : candidates) {
      if (items_[i].affinity == loaded_affinity) matching.push_back(i);
      oldest = std::min(oldest, items_[i].submitted);
    }
    const double waited = std::chrono::duration<double>(now - oldest).count();
    if (!matching.empty() && waited <= max_wait_s) candidates = matching;
  }

  // Fairness: the least recently served client; its oldest job; ties by submission order.
  auto served = [&](const std::string& client) {
    auto it = last_served_.find(client);
    return it == last_served_.end() ? std::uint64_t{0} : it->second;
  };
  std::size_t best = candidates.front();
  for (auto i : candidates) {
    const auto& a = items_[i];
    const auto& b = items_[best];
    const auto sa = served(a.client), sb = served(b.client);
    if (sa < sb || (sa == sb && a.seq < b.seq)) best = i;
  }
  QueueEntry chosen = items_[best];
  items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(best));
  last_served_[chosen.client] = ++serve_counter_;
  return chosen;
}

std::vector<QueueEntry> JobQueue::take_if(const std::function<bool(const QueueEntry&)>& accept) {
  std::vector<std::size_t> idx(items_.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    if (items_[a].priority != items_[b].priority) return items_[a].priority > items_[b].priority;
    return items_[a].seq < items_[b].seq;
  });
  std::vector<QueueEntry> taken;
  std::vector<bool> gone(items_.size(), false);
  for (auto i : idx)
    if (accept(items_[i])) {
      taken.push_back(items_[i]);
      gone[i] = true;
    }
  std::vector<QueueEntry> rest;
  for (std::size_t i = 0; i < items_.size(); ++i)
    if (!gone[i]) rest.push_back(std::move(items_[i]));
  items_ = std::move(rest);
  return taken;
}

std::vector<std::string> JobQueue::order(const std::string& loaded_affinity, std::chrono::steady_clock::time_point now,
                                         double max_wait_s) const {
  JobQueue copy = *this;
  std::vector<std::string> ids;
  while (auto e = copy.pop_next(loaded_affinity, now, max_wait_s)) ids.push_back(e->id);
  return ids;
}

std::vector<QueueEntry> JobQueue::drain() {
  std::vector<QueueEntry> all = std::move(items_);
  items_.clear();
  std::sort(all.begin(), all.end(), [](const QueueEntry& a, const QueueEntry& b) { return a.seq < b.seq; });
  return all;
}

}  // namespace sdxl::server
