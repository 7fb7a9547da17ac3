// execution_jobs.cpp: the background side of ExecutionService: the threads
// that executions run on and their bound, waiting for an execution (its
// events go to the waiting request meanwhile), what a running execution
// looks like to a client, and stopping them all when the server stops.
#include <isb/core/execution_service.hpp>

#include "json/json_fields.hpp"
#include "services/live_execution.hpp"
#include "services/step_log.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace json = boost::json;
namespace fs = std::filesystem;

namespace isb {

namespace {

using services::LiveExecution;
using services::ExecutionWatch;

// Output in one snapshot: per stream of a step, and in all.
constexpr size_t kLiveOutputBytes = 16 * 1024;
constexpr size_t kSnapshotOutputBytes = 64 * 1024;
// How often a waiting request looks whether its client cancelled it.
constexpr int64_t kPollMs = 100;
// How long the request that cancelled its execution waits for the cancelled
// result, whatever is left of its wait: killing a step takes about a second.
constexpr int64_t kCancelGraceMs = 5000;

// since -> offsets by step id; errors name the argument and what is valid.
Result<std::map<std::string, std::pair<int64_t, int64_t>>> parse_since(const LiveExecution& live,
                                                                       const json::object& since) {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  const auto steps = live.steps();
  std::string known;
  for (const auto& s : steps) known += (known.empty() ? "" : ", ") + s.id;
  const bool command = live.header().kind == "command";
  const bool flat = since.contains("stdout_offset") || since.contains("stderr_offset");
  if (flat && !command) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "since: execution '" + live.header().id +
            "' is a plan; give its offsets per step, as since.steps.<step_id>.stdout_offset and "
            "stderr_offset (the steps are: " +
            known + ")");
  }
  if (flat) {
    out["command"] = {json_fields::int_at(since, "stdout_offset").value_or(0),
                      json_fields::int_at(since, "stderr_offset").value_or(0)};
  }
  if (auto* by_step = since.if_contains("steps"); by_step && by_step->is_object()) {
    for (const auto& kv : by_step->as_object()) {
      const std::string id(kv.key());
      if (std::none_of(steps.begin(), steps.end(),
                       [&](const LiveExecution::Step& s) { return s.id == id; })) {
        return make_error(ErrorCode::kInvalidArgument, "since.steps: execution '" + live.header().id +
                                                           "' has no step '" + id +
                                                           "'; its steps are: " + known);
      }
      const json::object* o = kv.value().is_object() ? &kv.value().as_object() : nullptr;
      out[id] = {o ? json_fields::int_at(*o, "stdout_offset").value_or(0) : 0,
                 o ? json_fields::int_at(*o, "stderr_offset").value_or(0) : 0};
    }
  }
  return out;
}

}  // namespace

ExecutionService::Slot::~Slot() {
  if (!service_) return;
  std::lock_guard<std::mutex> lock(service_->jobs_mu_);
  --service_->reserved_;
}

void ExecutionService::Slot::hand_over_locked() {
  --service_->reserved_;
  service_ = nullptr;
}

int64_t ExecutionService::default_wait_s() const { return config_.performance.execution_wait_s; }

int64_t ExecutionService::max_wait_s() const { return std::max(kMaxWaitS, default_wait_s()); }

Result<std::unique_ptr<ExecutionService::Slot>> ExecutionService::reserve_slot() {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  reap_locked();
  if (stopping_) {
    return make_error(ErrorCode::kUnavailable, "the server is stopping; it starts no new executions");
  }
  size_t running = reserved_;
  for (const auto& [_, job] : jobs_) running += job.live->ended() ? 0 : 1;
  const auto limit = static_cast<size_t>(std::max<int64_t>(1, config_.performance.max_concurrent_operations));
  if (running >= limit) {
    return make_error(
        ErrorCode::kResourceExhausted,
        std::to_string(running) +
            " executions are running, the most this server runs at once "
            "(performance.max_concurrent_operations); wait for one to end (wait_execution) or stop "
            "one (cancel_execution), then try again");
  }
  ++reserved_;
  return std::make_unique<Slot>(this);
}

void ExecutionService::start(std::unique_ptr<Slot> slot, std::shared_ptr<LiveExecution> live,
                             std::function<void()> work) {
  const std::string id = live->header().id;
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard<std::mutex> lock(jobs_mu_);
  if (stopping_) live->request_cancel(/*server_stopping=*/true);
  try {
    std::thread thread([this, live, done, work = std::move(work)] {
      // Never leave an execution "running" that nothing runs.
      auto failed = [&](const std::string& what) {
        const std::string why = "the executor failed: " + what;
        spdlog::error("execution {}: {}", live->header().id, why);
        (void)store_.finish_execution(live->header().id, "failed", std::nullopt, now_ms(), why);
        if (!live->header().plan_id.empty()) (void)plans_.set_status(live->header().plan_id, "failed", why);
        live->finish(make_error(ErrorCode::kInternal, "execution '" + live->header().id + "': " + why));
      };
      try {
        work();
      } catch (const std::exception& ex) {
        failed(ex.what());
      } catch (...) {
        failed("an unknown exception");
      }
      done->store(true);
    });
    slot->hand_over_locked();
    jobs_[id] = Job{std::move(live), std::move(thread), std::move(done)};
  } catch (const std::system_error& ex) {
    const std::string why = std::string("no thread could be started for it: ") + ex.what();
    spdlog::error("execution {}: {}", id, why);
    (void)store_.finish_execution(id, "failed", std::nullopt, now_ms(), why);
    if (!live->header().plan_id.empty()) (void)plans_.set_status(live->header().plan_id, "failed", why);
    live->finish(make_error(ErrorCode::kResourceExhausted, "execution '" + id + "' could not start: " + why));
  }
}

void ExecutionService::reap_locked() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second.done->load()) {
      if (it->second.thread.joinable()) it->second.thread.join();
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

std::shared_ptr<LiveExecution> ExecutionService::find_live(const std::string& execution_id) {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  reap_locked();
  auto it = jobs_.find(execution_id);
  return it == jobs_.end() ? nullptr : it->second.live;
}

Result<json::object> ExecutionService::await(const std::shared_ptr<LiveExecution>& live, int64_t wait_ms,
                                             const StreamOffsets& since, CallContext& ctx, bool owner,
                                             std::unique_ptr<ExecutionWatch> watch) {
  {
    // Events reach ctx while this Watch lives, and never after it.
    if (!watch) watch = std::make_unique<ExecutionWatch>(*live, ctx);
    int64_t deadline = LiveExecution::steady_ms() + std::max<int64_t>(0, wait_ms);
    bool cancel_sent = false;
    while (!live->ended()) {
      // A transport sets detached before cancelled: a client that went away
      // leaves the work running; one that cancelled the request that started
      // it stops it.
      if (ctx.cancelled()) {
        if (!owner || ctx.detached()) break;
        if (!cancel_sent) {
          cancel_sent = true;
          live->request_cancel();
          spdlog::info("execution {}: cancelled with the request that started it", live->header().id);
          deadline = std::max(deadline, LiveExecution::steady_ms() + kCancelGraceMs);
        }
      }
      const int64_t now = LiveExecution::steady_ms();
      if (now >= deadline) break;
      watch->heartbeat_if_due();
      live->wait_for_change(std::min(deadline, now + kPollMs));
    }
    watch.reset();
  }
  if (live->ended()) return live->final_result();
  return snapshot(*live, since);
}

json::object ExecutionService::snapshot(const LiveExecution& live, const StreamOffsets& since) const {
  const auto& h = live.header();
  const auto steps = live.steps();
  const std::string logs_dir = (fs::path(config_.state_dir()) / "logs").string();
  size_t budget = kSnapshotOutputBytes;
  // Running steps first: what happens now matters most when output is cut.
  std::vector<size_t> order;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].status == "running") order.push_back(i);
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].status != "running") order.push_back(i);
  }
  std::vector<json::object> items(steps.size());
  json::object next_since;
  for (size_t i : order) {
    const auto& s = steps[i];
    json::object item{{"step_id", s.id}, {"title", s.title}, {"status", s.status}};
    if (s.status != "pending" && s.status != "running") {
      item["exit_code"] = s.exit_code ? json::value(*s.exit_code) : json::value(nullptr);
    }
    // A command's one step shows its (empty) output even before it starts.
    if ((s.status != "pending" && s.status != "skipped") || h.kind == "command") {
      auto it = since.find(s.id);
      const std::pair<int64_t, int64_t> from =
          it == since.end() ? std::pair<int64_t, int64_t>{0, 0} : it->second;
      int64_t next[2] = {from.first, from.second};
      const char* names[2] = {"stdout", "stderr"};
      for (int k = 0; k < 2; ++k) {
        std::string text;
        int64_t skipped = 0;
        const size_t cap = std::min(kLiveOutputBytes, budget);
        if (cap > 0) {
          if (auto fd = services::open_step_log(logs_dir, h.id, s.id, names[k])) {
            auto got = services::read_log_since(fd->get(), next[k], cap);
            text = std::move(got.text);
            skipped = got.skipped;
            next[k] = got.next_offset;
            budget -= std::min(budget, text.size());
          }
        }
        item[names[k]] = std::move(text);
        item[std::string(names[k]) + "_offset"] = next[k];
        item[std::string(names[k]) + "_skipped_bytes"] = skipped;
      }
      next_since[s.id] = json::object{{"stdout_offset", next[0]}, {"stderr_offset", next[1]}};
    }
    items[i] = std::move(item);
  }
  json::object out{{"execution_id", h.id},
                   {"kind", h.kind},
                   {"workspace_id", h.workspace_id},
                   {"plan_id", h.plan_id.empty() ? json::value(nullptr) : json::value(h.plan_id)},
                   {"status", "running"},
                   {"started_at", format_time(h.started_at)},
                   {"elapsed_ms", now_ms() - h.started_at},
                   {"message", live.status_message()},
                   {"hint",
                    "It goes on in the background. wait_execution with this execution_id and since "
                    "returns the output that follows and, once it ends, its final result; "
                    "cancel_execution stops it; get_execution_log reads whole logs."}};
  if (h.kind == "command") {
    // One step: its fields at the top, where exec_command's final result has them.
    json::object& c = items.front();
    for (const char* k : {"step_id", "stdout", "stderr", "stdout_offset", "stderr_offset",
                          "stdout_skipped_bytes", "stderr_skipped_bytes"}) {
      if (auto* v = c.if_contains(k)) out[k] = *v;
    }
    auto* n = next_since.if_contains("command");
    out["since"] = n ? *n : json::value(json::object{{"stdout_offset", 0}, {"stderr_offset", 0}});
  } else {
    json::array arr;
    for (auto& item : items) arr.push_back(std::move(item));
    out["steps"] = std::move(arr);
    out["since"] = json::object{{"steps", std::move(next_since)}};
  }
  return out;
}

Result<json::object> ExecutionService::wait(const std::string& execution_id, int64_t timeout_ms,
                                            const json::object& since, CallContext& ctx) {
  if (auto live = find_live(execution_id)) {
    auto offsets = parse_since(*live, since);
    if (!offsets) return offsets.error();
    return await(live, timeout_ms, *offsets, ctx, /*owner=*/false);
  }
  auto e = store_.get_execution(execution_id);
  if (!e) return e.error();
  if (!*e) {
    return make_error(ErrorCode::kNotFound,
                      "execution '" + execution_id +
                          "' not found; execution ids come from the execution_id of exec_command and "
                          "execute_task_plan results, and get_execution_history lists them");
  }
  return final_result(**e);
}

void ExecutionService::shutdown() {
  for (;;) {
    std::map<std::string, Job> jobs;
    {
      std::lock_guard<std::mutex> lock(jobs_mu_);
      stopping_ = true;
      jobs.swap(jobs_);
    }
    if (jobs.empty()) return;
    size_t running = 0;
    for (auto& [_, job] : jobs) {
      if (!job.live->ended()) ++running;
      job.live->request_cancel(/*server_stopping=*/true);
    }
    if (running > 0) spdlog::info("stopping {} running executions: the server stops", running);
    for (auto& [_, job] : jobs) {
      if (job.thread.joinable()) job.thread.join();
    }
  }
}

}  // namespace isb
