// live_execution.cpp: the state of a background execution and the fan-out of
// its events to the requests waiting on it.
#include "services/live_execution.hpp"

#include <isb/plugin_abi.h>

#include <algorithm>
#include <chrono>

namespace json = boost::json;

namespace isb::services {

namespace {

// A latest line longer than this is cut: it goes into progress messages.
constexpr size_t kMaxLineBytes = 200;
// A line without its end yet is kept up to this size (a progress bar that
// redraws itself with \r never ends a line).
constexpr size_t kMaxPartialBytes = 512;

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Cuts s to at most n bytes without splitting a UTF-8 character.
std::string cut(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t end = n;
  while (end > 0 && (static_cast<unsigned char>(s[end]) >> 6) == 0x2) --end;
  return s.substr(0, end) + "...";
}

}  // namespace

int64_t LiveExecution::steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

LiveExecution::LiveExecution(Header header, std::vector<Step> steps, double progress_total)
    : header_(std::move(header)),
      progress_total_(progress_total),
      started_steady_ms_(steady_ms()),
      steps_(std::move(steps)),
      partial_lines_(steps_.size()) {
  progress_done_at_ms_ = started_steady_ms_;
}

LiveExecution::Step* LiveExecution::find_locked(const std::string& step_id) {
  for (auto& s : steps_) {
    if (s.id == step_id) return &s;
  }
  return nullptr;
}

void LiveExecution::step_started(const std::string& step_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Step* s = find_locked(step_id)) {
      s->status = "running";
      s->started_ms = steady_ms();
    }
  }
  changed_.notify_all();
}

void LiveExecution::step_finished(const std::string& step_id, const std::string& status,
                                  std::optional<int64_t> exit_code) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Step* s = find_locked(step_id)) {
      s->status = status;
      s->exit_code = exit_code;
    }
  }
  changed_.notify_all();
}

void LiveExecution::progress(const std::string& message) {
  double value = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_done_ += 1;
    progress_done_at_ms_ = steady_ms();
    value = progress_done_;
  }
  std::lock_guard<std::mutex> lock(events_mu_);
  for (ExecutionWatch* w : watchers_) {
    w->ctx_.progress(value, progress_total_, message);
    w->last_progress_ms_ = steady_ms();
  }
}

void LiveExecution::output(const std::string& step_id, int32_t stream, const std::string& text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < steps_.size(); ++i) {
      if (steps_[i].id != step_id) continue;
      std::string& partial = partial_lines_[i];
      for (char c : text) {
        if (c == '\n' || c == '\r') {
          if (std::string line = trimmed(partial); !line.empty()) {
            steps_[i].last_line = cut(line, kMaxLineBytes);
            last_line_step_ = step_id;
          }
          partial.clear();
        } else if (partial.size() < kMaxPartialBytes) {
          partial += c;
        }
      }
      // Output that does not end its line yet ("Password: ", a prompt) is
      // the latest thing said too.
      if (std::string line = trimmed(partial); !line.empty()) {
        steps_[i].last_line = cut(line, kMaxLineBytes);
        last_line_step_ = step_id;
      }
      break;
    }
  }
  std::lock_guard<std::mutex> lock(events_mu_);
  if (watchers_.empty()) return;
  json::object event{{"type", "output"},
                     {"stream", stream == ISB_STREAM_STDERR ? "stderr" : "stdout"},
                     {"step_id", step_id},
                     {"data", text}};
  for (ExecutionWatch* w : watchers_) w->ctx_.emit(event);
}

void LiveExecution::finish(Result<json::object> final_result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    result_ = std::move(final_result);
    ended_ = true;
  }
  changed_.notify_all();
}

void LiveExecution::request_cancel(bool server_stopping) {
  if (server_stopping) server_stopping_ = true;
  cancel_ = true;
  changed_.notify_all();
}

bool LiveExecution::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

Result<json::object> LiveExecution::final_result() const {
  std::lock_guard<std::mutex> lock(mu_);
  return result_;
}

std::vector<LiveExecution::Step> LiveExecution::steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steps_;
}

std::string LiveExecution::status_message() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_message_locked();
}

std::string LiveExecution::status_message_locked() const {
  if (ended_) return "ended";
  std::vector<const Step*> running;
  const Step* latest = nullptr;
  for (const auto& s : steps_) {
    if (s.status != "running") continue;
    running.push_back(&s);
    if (s.id == last_line_step_) latest = &s;
  }
  if (running.empty()) {
    return cancel_.load() ? "stopping" : "between steps";
  }
  const Step* s = latest ? latest : running.front();
  std::string m =
      "step '" + s->id + "' running for " + std::to_string((steady_ms() - s->started_ms) / 1000) + " s";
  if (running.size() > 1) m += " (" + std::to_string(running.size() - 1) + " more running)";
  if (!s->last_line.empty()) m += ": " + s->last_line;
  if (cancel_.load()) m += " (stopping)";
  return m;
}

double LiveExecution::progress_value_locked() const {
  const double seconds = static_cast<double>(steady_ms() - progress_done_at_ms_) / 1000.0;
  if (progress_total_ <= 0) return static_cast<double>(steady_ms() - started_steady_ms_) / 1000.0;
  // Approaches the next unit without reaching it: strictly increasing while
  // the step runs, and below the total.
  return progress_done_ + 0.9 * (1.0 - 1.0 / (1.0 + seconds / 60.0));
}

void LiveExecution::wait_for_change(int64_t until_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  // Snapshot what would count as a change: ended, or any step status.
  std::vector<std::string> before;
  before.reserve(steps_.size());
  for (const auto& s : steps_) before.push_back(s.status);
  const int64_t now = steady_ms();
  if (until_ms <= now) return;
  changed_.wait_for(lock, std::chrono::milliseconds(until_ms - now), [&] {
    if (ended_) return true;
    for (size_t i = 0; i < steps_.size(); ++i) {
      if (steps_[i].status != before[i]) return true;
    }
    return false;
  });
}

ExecutionWatch::ExecutionWatch(LiveExecution& live, const CallContext& ctx)
    : live_(live), ctx_(ctx), last_progress_ms_(LiveExecution::steady_ms()) {
  std::lock_guard<std::mutex> lock(live_.events_mu_);
  live_.watchers_.push_back(this);
}

ExecutionWatch::~ExecutionWatch() {
  std::lock_guard<std::mutex> lock(live_.events_mu_);
  live_.watchers_.erase(std::remove(live_.watchers_.begin(), live_.watchers_.end(), this),
                        live_.watchers_.end());
}

void ExecutionWatch::heartbeat_if_due() {
  std::string message;
  double value = 0;
  {
    std::lock_guard<std::mutex> lock(live_.mu_);
    if (live_.ended_) return;
    message = live_.status_message_locked();
    value = live_.progress_value_locked();
  }
  std::lock_guard<std::mutex> lock(live_.events_mu_);
  const int64_t now = LiveExecution::steady_ms();
  if (now - last_progress_ms_ < kHeartbeatMs) return;
  ctx_.progress(value, live_.progress_total_, message);
  last_progress_ms_ = now;
}

}  // namespace isb::services
