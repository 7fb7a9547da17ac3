// session_stream.cpp: numbered events with a bounded replay buffer.
#include "session_stream.hpp"

#include <charconv>

namespace isb::mcp {

SessionStream::SessionStream(size_t max_events, size_t max_bytes)
    : max_events_(max_events ? max_events : 1), max_bytes_(max_bytes) {}

void SessionStream::push(std::string data) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    bytes_ += data.size();
    events_.push_back({next_id_++, std::move(data)});
    // The newest event always stays, even when it alone exceeds max_bytes.
    while (events_.size() > 1 && (events_.size() > max_events_ || bytes_ > max_bytes_)) {
      bytes_ -= events_.front().data.size();
      events_.pop_front();
    }
  }
  cv_.notify_all();
}

bool SessionStream::attach() {
  std::lock_guard<std::mutex> lock(mu_);
  if (attached_ || closed_) return false;
  attached_ = true;
  return true;
}

void SessionStream::detach() {
  std::lock_guard<std::mutex> lock(mu_);
  attached_ = false;
}

std::optional<uint64_t> SessionStream::resume_point(std::string_view last_event_id) const {
  if (last_event_id.empty()) return 0;
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(last_event_id.data(), last_event_id.data() + last_event_id.size(), id);
  if (ec != std::errc() || end != last_event_id.data() + last_event_id.size()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  if (id >= next_id_) return std::nullopt;
  return id;
}

std::optional<std::vector<SessionStream::Event>> SessionStream::wait_after(uint64_t after,
                                                                           std::chrono::milliseconds timeout,
                                                                           const std::atomic<bool>& stop) {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (closed_ || stop) return std::nullopt;
    if (!events_.empty() && events_.back().id > after) break;
    // Short waits, so that stop (a transport shutting down) is seen soon.
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::vector<Event>{};
    cv_.wait_for(
        lock, std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(200)));
  }
  std::vector<Event> out;
  for (const auto& e : events_) {
    if (e.id > after) out.push_back(e);
  }
  return out;
}

void SessionStream::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace isb::mcp
