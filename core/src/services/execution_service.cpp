// execution_service.cpp: the plan executor (step graph, parallelism, timeouts,
// retries, cancellation), single commands, history pages and step logs.
#include <isb/core/execution_service.hpp>

#include "services/file_snapshot.hpp"
#include "services/live_execution.hpp"
#include "services/step_graph.hpp"
#include "services/step_log.hpp"
#include "services/test_results.hpp"
#include "workspaces/safe_path.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <functional>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <random>
#include <thread>

namespace json = boost::json;
namespace fs = std::filesystem;

namespace isb {

namespace {

std::string new_execution_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s = "exec-";
  for (int i = 0; i < 12; ++i) s += kHex[rng() % 16];
  return s;
}

json::value opt(const std::optional<int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }

std::optional<int64_t> opt_int(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

bool get_bool(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

std::string get_str(const json::object& o, const char* key, const std::string& fallback = "") {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : fallback;
}

// Keeps the last `limit` bytes: the end of a log says why a command failed.
std::string tail(const std::string& s, size_t limit) {
  return s.size() <= limit ? s : s.substr(s.size() - limit);
}

// "2026-11-26T12:00:00Z" or with milliseconds / an offset of Z only.
std::optional<int64_t> parse_rfc3339_ms(const std::string& s) {
  int y, mo, d, h, mi, sec;
  char rest[32] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &h, &mi, &sec, rest) < 6) return std::nullopt;
  std::string r = rest;
  int64_t ms = 0;
  if (!r.empty() && r[0] == '.') {
    size_t k = 1;
    std::string frac;
    while (k < r.size() && std::isdigit(static_cast<unsigned char>(r[k]))) frac += r[k++];
    if (frac.empty()) return std::nullopt;
    frac = (frac + "000").substr(0, 3);
    ms = std::stoll(frac);
    r = r.substr(k);
  }
  if (r != "Z" && r != "z" && r != "+00:00") return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

// Memory kept per stream per step (history row and tool result); the full
// output is in the step's log file.
constexpr size_t kStoredTail = 256 * 1024;
constexpr size_t kHistoryTail = 4096;
constexpr int64_t kMaxLogSlice = 1024 * 1024;
// The executor's own files inside the workspace (JUnit reports it asked for).
constexpr const char* kPrivateDir = ".isb";

// disk_mb while a step runs: a thread measures the workspace's usage now and
// then and says when it is over the limit, so that the step can be stopped.
// Measuring walks the tree, so the pause between two measurements is at
// least kDiskWatchCostFactor times the last walk's duration (and at least
// kDiskWatchMinIntervalMs): the watch costs at most about 1/20 of a core.
constexpr int64_t kDiskWatchMinIntervalMs = 500;
constexpr int64_t kDiskWatchCostFactor = 20;

// Threading: owns its thread; exceeded()/used_bytes() may be read from any
// thread; the destructor stops and joins the thread.
class DiskWatch {
 public:
  DiskWatch(std::function<Result<WorkspaceService::DiskUsage>()> measure, int64_t limit_bytes)
      : measure_(std::move(measure)), limit_(limit_bytes) {
    if (limit_ > 0) thread_ = std::thread([this] { loop(); });
  }
  ~DiskWatch() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  DiskWatch(const DiskWatch&) = delete;
  DiskWatch& operator=(const DiskWatch&) = delete;
  bool exceeded() const { return exceeded_.load(); }
  int64_t used_bytes() const { return used_.load(); }

 private:
  void loop() {
    int64_t interval = kDiskWatchMinIntervalMs;
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(interval), [this] { return stop_; })) {
      lock.unlock();
      const int64_t start = now_ms();
      auto used = measure_();
      const int64_t took = now_ms() - start;
      lock.lock();
      if (used) {
        used_ = used->used_bytes;
        if (used->over()) {
          exceeded_ = true;
          return;
        }
      }
      interval = std::max(kDiskWatchMinIntervalMs, kDiskWatchCostFactor * took);
    }
  }

  std::function<Result<WorkspaceService::DiskUsage>()> measure_;
  const int64_t limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> exceeded_{false};
  std::atomic<int64_t> used_{0};
  std::thread thread_;
};

std::string megabytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

ExecutionService::ExecutionService(const Config& config, Store& store, WorkspaceService& workspaces, PlanService& plans)
    : config_(config), store_(store), workspaces_(workspaces), plans_(plans) {}

ExecutionService::~ExecutionService() { shutdown(); }

std::string ExecutionService::log_path(const std::string& execution_id, const std::string& step_id,
                                       const std::string& stream) const {
  return (fs::path(config_.state_dir()) / "logs" / execution_id / (step_id + "." + stream + ".log")).string();
}

ExecutionService::StepOutcome ExecutionService::run_step(const WorkspaceRecord& w, const std::string& execution_id,
                                                         int64_t seq, const json::object& step,
                                                         services::LiveExecution& live, int64_t deadline_ms,
                                                         bool snapshot_files) {
  StepOutcome out;
  StepRecord& r = out.record;
  r.execution_id = execution_id;
  r.seq = seq;
  r.step_id = get_str(step, "id", "step-" + std::to_string(seq));
  r.title = get_str(step, "title", r.step_id);
  r.cwd = get_str(step, "cwd", ".");
  json::object command;
  if (auto* a = step.if_contains("argv")) command["argv"] = *a;
  if (auto* s = step.if_contains("shell")) command["shell"] = *s;
  r.command_json = json::serialize(command);

  // A JUnit report is asked for when the runner can write one; the file goes
  // to the executor's private directory, which snapshots do not list. The
  // runner gets the path relative to its cwd (the sandbox sees the workspace
  // elsewhere than the host does), and the server makes and later reads that
  // directory beneath the workspace without following symlinks: the
  // sandbox may have planted .isb as a link to somewhere on the host.
  auto ws_root = workspaces::BeneathRoot::open(w.path);
  auto cwd_norm = workspaces::normalize_relative(r.cwd);
  std::string report;  // relative to the workspace root
  json::object spec = command;
  if (auto* a = command.if_contains("argv"); a && a->is_array() && ws_root && cwd_norm) {
    const std::string rel = std::string(kPrivateDir) + "/reports/" + execution_id + "-" + r.step_id + ".xml";
    std::string up;
    for (char c : *cwd_norm + "/") up += c == '/' ? "../" : "";
    if (cwd_norm->empty()) up.clear();
    if (auto with = services::add_junit_report(a->as_array(), up + rel)) {
      if (ws_root->sub(std::string(kPrivateDir) + "/reports", true)) {
        spec["argv"] = *with;
        report = rel;
      }
    }
  }
  int64_t step_timeout_s = config_.performance.operation_timeout;
  if (auto t = opt_int(step, "timeout_s"); t && *t > 0) step_timeout_s = *t;
  const int64_t cap = config_.performance.max_output_bytes;
  spec["cwd"] = r.cwd;
  spec["max_output_bytes"] = cap;
  if (auto* env = step.if_contains("env"); env && env->is_object() && !env->as_object().empty()) spec["env"] = *env;

  int64_t attempts = 1, backoff_ms = 0;
  if (get_bool(step, "retryable")) {
    if (auto* rp = step.if_contains("retry"); rp && rp->is_object()) {
      attempts = std::max<int64_t>(1, opt_int(rp->as_object(), "attempts").value_or(1));
      backoff_ms = std::max<int64_t>(0, opt_int(rp->as_object(), "backoff_ms").value_or(0));
    }
  }

  services::StepLog out_log(log_path(execution_id, r.step_id, "stdout"), cap, kStoredTail);
  services::StepLog err_log(log_path(execution_id, r.step_id, "stderr"), cap, kStoredTail);
  const std::vector<std::string> skip{kPrivateDir};
  std::optional<services::FileSnapshot> before;
  if (snapshot_files) before = services::FileSnapshot::take(w.path, skip);
  auto stop_requested = [&] { return live.cancel_requested(); };
  // disk_mb: the step is stopped once the workspace grows past its limit
  // (on a disk image, once the image is full: measuring it is one statvfs).
  auto disk = workspaces_.disk_usage(w);
  const int64_t disk_limit = disk ? disk->limit_bytes : 0;
  const bool disk_image = disk && disk->kernel_enforced;
  DiskWatch disk_watch([this, &w]() { return workspaces_.disk_usage(w); }, disk_limit);
  auto stop_or_disk = [&] { return stop_requested() || disk_watch.exceeded(); };
  bool over_disk = false;
  int64_t disk_used = 0;
  auto past_deadline = [&] { return deadline_ms > 0 && now_ms() >= deadline_ms; };

  json::array attempt_log;
  std::string reason;
  bool plan_timeout = false;
  r.started_at = now_ms();
  for (int64_t attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      out_log.reset();
      err_log.reset();
      // Back off, but answer a cancellation at once.
      for (int64_t waited = 0; waited < backoff_ms && !stop_requested() && !past_deadline(); waited += 20) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (stop_requested() || past_deadline()) break;
    }
    int64_t timeout_ms = step_timeout_s * 1000;
    bool limited_by_plan = false;
    if (deadline_ms > 0 && deadline_ms - now_ms() < timeout_ms) {
      timeout_ms = std::max<int64_t>(1, deadline_ms - now_ms());
      limited_by_plan = true;
    }
    spec["timeout_ms"] = timeout_ms;
    auto on_output = [&](int32_t stream, const char* bytes, size_t len) {
      (stream == ISB_STREAM_STDERR ? err_log : out_log).append(bytes, len);
      live.output(r.step_id, stream, services::sanitize_utf8(std::string(bytes, len)));
    };
    const int64_t attempt_start = now_ms();
    auto backend = workspaces_.isolation_for(w);
    Result<boost::json::value> result =
        backend ? backend->exec(w.sandbox_id, spec, on_output, stop_or_disk) : Result<boost::json::value>(backend.error());
    const int64_t attempt_ms = now_ms() - attempt_start;
    if (!result) {
      // The backend could not run the command (the sandbox is gone, ...):
      // a failure with the reason, never a step left running.
      r.status = "failed";
      r.exit_code.reset();
      reason = "the sandbox could not run the step: " + result.error().message;
      out.result = json::object{{"error", result.error().message}};
      attempt_log.push_back(json::object{{"attempt", attempt}, {"status", "failed"}, {"exit_code", nullptr},
                                         {"duration_ms", attempt_ms}});
      break;
    }
    out.result = result->is_object() ? result->as_object() : json::object{};
    const json::object& res = out.result;
    r.exit_code = opt_int(res, "exit_code");
    r.signal = opt_int(res, "signal");
    r.timed_out = get_bool(res, "timed_out");
    r.duration_ms = opt_int(res, "duration_ms").value_or(attempt_ms);
    if (auto e = get_str(res, "error"); !e.empty()) reason = "sandbox: " + e;
    if (disk_watch.exceeded() && !stop_requested()) {
      r.status = "failed";
      over_disk = true;
      disk_used = disk_watch.used_bytes();
    } else if (get_bool(res, "cancelled") || (stop_requested() && !(r.exit_code && *r.exit_code == 0))) {
      if (past_deadline() && !stop_requested()) {
        r.status = "timed_out";
        r.timed_out = true;
        plan_timeout = true;
      } else {
        r.status = "cancelled";
        reason = live.server_stopping() ? "the server stopped while the step ran" : "cancelled on request";
      }
    } else if (r.timed_out) {
      r.status = "timed_out";
      plan_timeout = limited_by_plan;
    } else {
      r.status = r.exit_code && *r.exit_code == 0 ? "succeeded" : "failed";
    }
    attempt_log.push_back(json::object{{"attempt", attempt}, {"status", r.status}, {"exit_code", opt(r.exit_code)},
                                       {"duration_ms", r.duration_ms}});
    if (r.status == "succeeded" || r.status == "cancelled" || plan_timeout || over_disk) break;
  }
  if (r.status.empty()) {  // cancelled during a backoff, before another attempt
    r.status = stop_requested() ? "cancelled" : "timed_out";
    plan_timeout = r.status == "timed_out";
  }
  // A step that finished under the watch's radar but left the workspace over
  // its limit fails too: what it wrote is over the quota either way.
  if (disk_limit > 0 && !over_disk && (r.status == "succeeded" || r.status == "failed")) {
    if (auto u = workspaces_.disk_usage(w); u && u->over()) {
      over_disk = true;
      disk_used = u->used_bytes;
      r.status = "failed";
    }
  }
  if (over_disk && disk_image) {
    reason = "the workspace's disk of " + megabytes(disk_limit) +
             " (resource_limits.disk_mb) is full; the step was stopped. Delete files (delete_file) to make room; "
             "until then executions and writes are refused";
  } else if (over_disk) {
    reason = "the workspace uses " + megabytes(disk_used) + ", over its disk limit of " + megabytes(disk_limit) +
             " (resource_limits.disk_mb); the step was stopped. Delete files (delete_file) to get under the limit; "
             "until then executions and writes are refused";
  } else if (plan_timeout) {
    reason = "the plan ran longer than performance.operation_timeout (" +
             std::to_string(config_.performance.operation_timeout) + " s)";
  } else if (r.status == "timed_out") {
    reason = "the step ran longer than its timeout of " + std::to_string(step_timeout_s) + " s";
  }
  r.finished_at = now_ms();
  if (r.duration_ms == 0) r.duration_ms = r.finished_at - r.started_at;
  const bool backend_truncated = get_bool(out.result, "output_truncated");
  out_log.finish(backend_truncated && out_log.total_bytes() >= cap);
  err_log.finish(backend_truncated && err_log.total_bytes() >= cap);
  r.stdout_text = services::sanitize_utf8(out_log.tail());
  r.stderr_text = services::sanitize_utf8(err_log.tail());
  if (!reason.empty() && r.status != "succeeded") {
    r.stderr_text += (r.stderr_text.empty() || r.stderr_text.back() == '\n' ? "" : "\n") + ("[sandbox] " + reason);
  }
  r.output_truncated = out_log.truncated() || err_log.truncated() || backend_truncated ||
                       out_log.total_bytes() > static_cast<int64_t>(kStoredTail) ||
                       err_log.total_bytes() > static_cast<int64_t>(kStoredTail);
  r.result_json = json::serialize(out.result);

  json::value tests = nullptr;
  std::optional<services::TestResults> parsed;
  if (!report.empty() && ws_root) {
    parsed = services::parse_junit_at(*ws_root, report);
    (void)ws_root->remove(report);
    if (parsed) parsed->source = "junit";
  }
  // Artifacts and build-tool reports are paths the step names under its cwd.
  auto cwd_root = ws_root && cwd_norm ? ws_root->sub(*cwd_norm, false)
                                      : Result<workspaces::BeneathRoot>(make_error(ErrorCode::kNotFound, ""));
  if (auto* arts = step.if_contains("artifacts"); !parsed && arts && arts->is_array() && cwd_root) {
    for (const auto& a : arts->as_array()) {
      if (!a.is_object()) continue;
      std::string rel = get_str(a.as_object(), "path");
      if (rel.empty()) continue;
      if ((parsed = services::parse_junit_at(*cwd_root, rel))) {
        parsed->source = "junit:" + rel;
        break;
      }
    }
  }
  // Maven and Gradle write JUnit XML on their own; their reports count even
  // when the step did not declare them (only files this step wrote).
  if (!parsed && cwd_root &&
      (services::runs_build_tool_with_reports(command) || get_str(step, "phase") == "test")) {
    parsed = services::discover_build_tool_reports(*cwd_root, r.started_at);
  }
  // Summaries are at the end; bounding the text bounds the regex work.
  if (!parsed) parsed = services::parse_runner_summary(tail(out_log.tail(), 64 * 1024) + "\n" + tail(err_log.tail(), 64 * 1024));
  if (parsed) tests = parsed->to_json();

  auto stream_info = [](const services::StepLog& l) {
    return json::object{{"path", l.path()}, {"bytes", l.written_bytes()}, {"truncated", l.truncated()}};
  };
  json::object details{{"phase", get_str(step, "phase", "custom")},
                       {"attempts", std::move(attempt_log)},
                       {"tests", tests},
                       {"files", before ? json::value(services::FileSnapshot::take(w.path, skip).diff_from(*before))
                                        : json::value(nullptr)},
                       {"logs", json::object{{"stdout", stream_info(out_log)}, {"stderr", stream_info(err_log)}}},
                       {"reason", reason}};
  if (before) details["changed_files_scope"] = "step";
  if (over_disk) details["killed_by"] = "disk";
  r.details_json = json::serialize(details);
  return out;
}

json::object ExecutionService::describe_step(const StepRecord& s, bool full_output) const {
  boost::system::error_code ec;
  json::value command = json::parse(s.command_json, ec);
  if (ec) command = json::object{};
  json::value usage = nullptr;
  if (auto res = json::parse(s.result_json, ec); !ec && res.is_object()) {
    if (auto* u = res.as_object().if_contains("usage")) usage = *u;
  }
  json::value details_v = json::parse(s.details_json, ec);
  json::object details = !ec && details_v.is_object() ? details_v.as_object() : json::object{};
  auto detail = [&](const char* key, json::value fallback) {
    auto* v = details.if_contains(key);
    return v ? *v : fallback;
  };
  json::object o{{"step_id", s.step_id},
                 {"title", s.title},
                 {"phase", detail("phase", "custom")},
                 {"command", command},
                 {"cwd", s.cwd},
                 {"status", s.status},
                 {"reason", detail("reason", "")},
                 {"exit_code", opt(s.exit_code)},
                 {"signal", opt(s.signal)},
                 {"timed_out", s.timed_out},
                 {"duration_ms", s.duration_ms},
                 {"output_truncated", s.output_truncated},
                 {"started_at", format_time(s.started_at)},
                 {"finished_at", format_time(s.finished_at)},
                 {"usage", usage},
                 {"attempts", detail("attempts", json::array{})},
                 {"tests", detail("tests", nullptr)},
                 {"files", detail("files", nullptr)},
                 {"changed_files_scope", detail("changed_files_scope", nullptr)},
                 {"logs", detail("logs", nullptr)}};
  // The backend says which limit killed a command (memory, pids, timeout);
  // the executor's own disk watch says "disk".
  json::value killed_by = detail("killed_by", nullptr);
  if (killed_by.is_null()) {
    if (auto res = json::parse(s.result_json, ec); !ec && res.is_object()) {
      if (auto* k = res.as_object().if_contains("killed_by")) killed_by = *k;
    }
  }
  o["killed_by"] = killed_by;
  if (auto* group = details.if_contains("concurrent_steps")) o["concurrent_steps"] = *group;
  if (full_output) {
    o["stdout"] = s.stdout_text;
    o["stderr"] = s.stderr_text;
  } else {
    o["stdout_tail"] = tail(s.stdout_text, kHistoryTail);
    o["stderr_tail"] = tail(s.stderr_text, kHistoryTail);
  }
  return o;
}

Result<json::object> ExecutionService::execute_plan(const std::string& plan_id, int64_t wait_ms, CallContext& ctx) {
  auto existing = plans_.get(plan_id);
  if (!existing) return existing.error();
  auto activity = workspaces_.begin_activity(existing->workspace_id);  // idle cleanup waits for it
  if (!activity) return activity.error();
  auto w = workspaces_.get_active(existing->workspace_id);
  if (!w) return w.error();
  if (auto st = workspaces_.check_disk_quota(*w); !st) return st.error();
  // Before the plan turns "executing": a refusal leaves it as it was.
  auto slot = reserve_slot();
  if (!slot) return slot.error();
  auto plan = plans_.begin_execution(plan_id);
  if (!plan) return plan.error();

  // Stored steps are re-checked: plans written by an older server may lack defaults.
  json::array raw = plans_.describe(*plan).at("steps").as_array();
  auto normalized = services::normalize_steps(raw, plan->planner);
  if (!normalized) {
    (void)plans_.set_status(plan_id, "failed", normalized.error().message);
    return make_error(ErrorCode::kFailedPrecondition,
                      "plan '" + plan_id + "' has invalid steps: " + normalized.error().message +
                          "; fix them with update_plan");
  }
  json::array steps = std::move(*normalized);

  ExecutionRecord e;
  e.id = new_execution_id();
  e.workspace_id = w->id;
  e.plan_id = plan_id;
  e.kind = "plan";
  e.status = "running";
  e.started_at = now_ms();
  if (auto st = store_.insert_execution(e); !st) {
    (void)plans_.set_status(plan_id, "failed", st.error().message);
    return st.error();
  }
  workspaces_.touch(w->id);
  std::vector<services::LiveExecution::Step> live_steps;
  for (const auto& st : steps) {
    const json::object& so = st.as_object();
    live_steps.push_back({get_str(so, "id"), get_str(so, "title", get_str(so, "id"))});
  }
  auto live = std::make_shared<services::LiveExecution>(
      services::LiveExecution::Header{e.id, "plan", w->id, plan_id, e.started_at}, std::move(live_steps),
      static_cast<double>(2 * steps.size()));
  // The work owns what it needs: the request may be gone long before it ends.
  auto held = std::make_shared<WorkspaceService::Activity>(std::move(*activity));
  // The request watches before the work starts, so it hears the first line too.
  auto watch = std::make_unique<services::ExecutionWatch>(*live, ctx);
  start(std::move(*slot), live,
        [this, live, held, w = *w, steps = std::move(steps), e]() { run_plan(*live, w, steps, e); });
  return await(live, wait_ms, StreamOffsets{}, ctx, /*owner=*/true, std::move(watch));
}

void ExecutionService::run_plan(services::LiveExecution& live, const WorkspaceRecord& workspace,
                                const json::array& steps, ExecutionRecord e) {
  const WorkspaceRecord* w = &workspace;
  const std::string& plan_id = e.plan_id;
  const size_t n = steps.size();
  const int64_t deadline = e.started_at + config_.performance.operation_timeout * 1000;
  const size_t max_parallel =
      static_cast<size_t>(std::max<int64_t>(1, config_.performance.max_concurrent_operations));
  spdlog::info("execution {} of plan {}: {} steps, up to {} at once", e.id, plan_id, n, max_parallel);

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) index[get_str(steps[i].as_object(), "id")] = i;
  enum class State { kPending, kRunning, kDone };
  std::vector<State> state(n, State::kPending);
  std::vector<StepRecord> records(n);
  std::vector<bool> ok_for_dependents(n, false);

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<size_t, StepOutcome>> finished;
  std::vector<std::thread> threads;
  size_t running = 0, done = 0;
  bool stop = false;
  std::string stop_reason;
  std::optional<size_t> first_failure;

  // Changed files. A window opens (a snapshot) when a step starts while
  // none runs and closes (another snapshot) when the last running step
  // ends. A window of one step gives its changes to that step
  // (changed_files_scope "step"). In a window of overlapping steps nobody
  // can tell which step wrote what, so every step of it reports the
  // window's changes as changed_files_scope "concurrent_group" with the ids
  // of the group in concurrent_steps: never a silent misattribution. The
  // closing snapshot is the next window's opening one (nothing of this plan
  // runs in between). A step is recorded when it ends, its files when its
  // window closes.
  const std::vector<std::string> skip{kPrivateDir};
  std::optional<services::FileSnapshot> idle_snapshot;
  services::FileSnapshot window_before;
  std::vector<size_t> window;  // steps of the open window, in start order
  auto close_window = [&] {
    services::FileSnapshot after = services::FileSnapshot::take(w->path, skip);
    json::object files = after.diff_from(window_before);
    json::array group;
    for (size_t m : window) group.push_back(json::value(records[m].step_id));
    for (size_t m : window) {
      StepRecord& rec = records[m];
      boost::system::error_code pec;
      json::value dv = json::parse(rec.details_json, pec);
      json::object details = !pec && dv.is_object() ? dv.as_object() : json::object{};
      details["files"] = files;
      details["changed_files_scope"] = window.size() == 1 ? "step" : "concurrent_group";
      if (window.size() > 1) details["concurrent_steps"] = group;
      rec.details_json = json::serialize(details);
      if (auto st = store_.update_step_details(e.id, rec.step_id, rec.details_json); !st) {
        spdlog::error("recording the changed files of a step: {}", st.error().message);
      }
    }
    window.clear();
    idle_snapshot = std::move(after);
  };

  auto mark_skipped = [&](size_t i, const std::string& why) {
    const json::object& step = steps[i].as_object();
    StepRecord s;
    s.execution_id = e.id;
    s.seq = static_cast<int64_t>(i);
    s.step_id = get_str(step, "id");
    s.title = get_str(step, "title", s.step_id);
    s.cwd = get_str(step, "cwd", ".");
    json::object command;
    if (auto* a = step.if_contains("argv")) command["argv"] = *a;
    if (auto* sh = step.if_contains("shell")) command["shell"] = *sh;
    s.command_json = json::serialize(command);
    s.status = "skipped";
    s.started_at = s.finished_at = now_ms();
    s.details_json = json::serialize(json::object{{"phase", get_str(step, "phase", "custom")}, {"reason", why}});
    if (auto st = store_.insert_step(s); !st) spdlog::error("recording a step: {}", st.error().message);
    records[i] = std::move(s);
    state[i] = State::kDone;
    ++done;
    live.step_finished(records[i].step_id, "skipped", std::nullopt);
    live.progress("step '" + records[i].step_id + "' skipped: " + why);
    live.progress("step '" + records[i].step_id + "' skipped");
  };

  std::unique_lock<std::mutex> lock(mu);
  while (done < n) {
    if (!stop && live.cancel_requested()) {
      stop = true;
      stop_reason = live.server_stopping() ? "the server stopped while the plan ran" : "the execution was cancelled";
    }
    if (!stop && now_ms() >= deadline) {
      stop = true;
      stop_reason = "the plan ran longer than performance.operation_timeout";
    }
    // Start every step whose dependencies are done, in plan order.
    for (size_t i = 0; i < n; ++i) {
      if (state[i] != State::kPending) continue;
      const json::object& step = steps[i].as_object();
      bool ready = true;
      std::string blocked_by;
      for (const auto& d : step.at("depends_on").as_array()) {
        size_t j = index.at(std::string(d.as_string()));
        if (state[j] != State::kDone) ready = false;
        else if (!ok_for_dependents[j] && blocked_by.empty()) blocked_by = records[j].step_id;
      }
      if (!blocked_by.empty()) {
        mark_skipped(i, "step '" + blocked_by + "' it depends on did not succeed");
        continue;
      }
      if (stop) {
        mark_skipped(i, stop_reason);
        continue;
      }
      if (!ready || running >= max_parallel) continue;
      state[i] = State::kRunning;
      if (running == 0) {
        if (!idle_snapshot) idle_snapshot = services::FileSnapshot::take(w->path, skip);
        window_before = *idle_snapshot;
      }
      window.push_back(i);
      ++running;
      live.step_started(get_str(step, "id"));
      live.progress("step '" + get_str(step, "id") + "' started: " + get_str(step, "title"));
      threads.emplace_back([&, i] {
        StepOutcome outcome;
        try {
          outcome = run_step(*w, e.id, static_cast<int64_t>(i), steps[i].as_object(), live, deadline,
                             /*snapshot_files=*/false);
        } catch (const std::exception& ex) {
          outcome.record.execution_id = e.id;
          outcome.record.seq = static_cast<int64_t>(i);
          outcome.record.step_id = get_str(steps[i].as_object(), "id");
          outcome.record.title = get_str(steps[i].as_object(), "title");
          outcome.record.status = "failed";
          outcome.record.stderr_text = std::string("[sandbox] the executor failed: ") + ex.what();
          outcome.record.started_at = outcome.record.finished_at = now_ms();
        }
        std::lock_guard<std::mutex> g(mu);
        finished.emplace_back(i, std::move(outcome));
        cv.notify_all();
      });
    }
    if (done >= n) break;
    // Wake up for finished steps, and now and then to notice a cancellation
    // that arrives while a step waits for a slot.
    cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return !finished.empty(); });
    while (!finished.empty()) {
      auto [i, outcome] = std::move(finished.front());
      finished.pop_front();
      --running;
      ++done;
      state[i] = State::kDone;
      StepRecord& rec = outcome.record;
      if (auto st = store_.insert_step(rec); !st) spdlog::error("recording a step: {}", st.error().message);
      const bool coe = get_bool(steps[i].as_object(), "continue_on_error");
      ok_for_dependents[i] = rec.status == "succeeded" || (coe && rec.status == "failed");
      live.step_finished(rec.step_id, rec.status, rec.exit_code);
      live.progress("step '" + rec.step_id + "' " + rec.status + " in " + std::to_string(rec.duration_ms) + " ms");
      if (rec.status != "succeeded" && !ok_for_dependents[i] && !stop) {
        stop = true;
        if (!first_failure) first_failure = i;
        stop_reason = rec.status != "cancelled" ? "an earlier step did not succeed: step '" + rec.step_id + "' " +
                                                      rec.status
                      : live.server_stopping()  ? "the server stopped while the plan ran"
                                                : "the execution was cancelled";
      }
      records[i] = std::move(rec);
      if (running == 0) close_window();
    }
  }
  lock.unlock();
  for (auto& t : threads) t.join();

  const bool cancelled = live.cancel_requested();
  std::string status = "succeeded";
  std::optional<int64_t> exit_code = 0;
  if (cancelled) {
    status = "cancelled";
    exit_code.reset();
    if (stop_reason.empty()) {
      stop_reason = live.server_stopping() ? "the server stopped while the plan ran" : "the execution was cancelled";
    }
  } else if (first_failure) {
    status = "failed";
    exit_code = records[*first_failure].exit_code;
  }
  e.status = status;
  e.exit_code = exit_code;
  e.finished_at = now_ms();
  e.reason = status == "succeeded" ? "" : stop_reason;
  e.steps = std::move(records);
  if (auto st = store_.finish_execution(e.id, status, exit_code, e.finished_at, e.reason); !st) {
    spdlog::error("recording the end of execution {}: {}", e.id, st.error().message);
  }
  const std::string plan_status = status == "succeeded" ? "completed" : status;
  (void)plans_.set_status(plan_id, plan_status, e.reason);
  spdlog::info("execution {} of plan {}: {}", e.id, plan_id, status);
  workspaces_.watch_disk_while_running(*w);  // what the steps left running
  live.finish(final_result(e));
}

Result<json::object> ExecutionService::exec_command(const std::string& workspace_id, const std::string& command,
                                                    int64_t timeout_s, int64_t wait_ms, CallContext& ctx) {
  if (command.find_first_not_of(" \t\r\n") == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "command is empty; give a shell command line such as \"ls -la\"");
  }
  auto activity = workspaces_.begin_activity(workspace_id);  // idle cleanup waits for it
  if (!activity) return activity.error();
  auto w = workspaces_.get_active(workspace_id);
  if (!w) return w.error();
  if (auto st = workspaces_.check_disk_quota(*w); !st) return st.error();
  auto slot = reserve_slot();
  if (!slot) return slot.error();
  workspaces_.touch(workspace_id);
  ExecutionRecord e;
  e.id = new_execution_id();
  e.workspace_id = workspace_id;
  e.kind = "command";
  e.status = "running";
  e.started_at = now_ms();
  if (auto st = store_.insert_execution(e); !st) return st.error();
  // The title is for people scanning history; the full command stays in "command".
  std::string title = command.size() > 120 ? command.substr(0, 117) + "..." : command;
  json::object step{{"id", "command"}, {"title", title}, {"shell", command}, {"cwd", "."}, {"phase", "custom"}};
  if (timeout_s > 0) step["timeout_s"] = timeout_s;
  auto live = std::make_shared<services::LiveExecution>(
      services::LiveExecution::Header{e.id, "command", workspace_id, "", e.started_at},
      std::vector<services::LiveExecution::Step>{{"command", title}}, 0.0);
  auto held = std::make_shared<WorkspaceService::Activity>(std::move(*activity));
  // The request watches before the work starts, so it hears the first line too.
  auto watch = std::make_unique<services::ExecutionWatch>(*live, ctx);
  start(std::move(*slot), live,
        [this, live, held, w = *w, step = std::move(step), e]() { run_command(*live, w, step, e); });
  return await(live, wait_ms, StreamOffsets{}, ctx, /*owner=*/true, std::move(watch));
}

void ExecutionService::run_command(services::LiveExecution& live, const WorkspaceRecord& w, const json::object& step,
                                   ExecutionRecord e) {
  live.step_started("command");
  auto outcome = run_step(w, e.id, 0, step, live, 0, /*snapshot_files=*/true);
  if (auto st = store_.insert_step(outcome.record); !st) spdlog::error("recording a step: {}", st.error().message);
  const StepRecord& r = outcome.record;
  live.step_finished("command", r.status, r.exit_code);
  e.status = r.status == "succeeded" ? "succeeded" : r.status == "cancelled" ? "cancelled" : "failed";
  e.exit_code = r.exit_code;
  e.finished_at = r.finished_at;
  if (auto st = store_.finish_execution(e.id, e.status, r.exit_code, r.finished_at); !st) {
    spdlog::error("recording the end of execution {}: {}", e.id, st.error().message);
  }
  workspaces_.watch_disk_while_running(w);  // what the command left running
  e.steps.push_back(std::move(outcome.record));
  live.finish(final_result(e));
}

Result<json::object> ExecutionService::final_result(const ExecutionRecord& e) const {
  if (e.status == "running") {
    return make_error(ErrorCode::kFailedPrecondition,
                      "execution '" + e.id + "' is recorded as running, but this server does not run it; another "
                      "server process sharing the state directory may; get_execution_history shows its steps");
  }
  if (e.kind == "command") {
    if (e.steps.empty()) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "execution '" + e.id + "' ended " + e.status +
                            (e.reason.empty() ? std::string() : " (" + e.reason + ")") +
                            " before its command was recorded; get_execution_history shows what is known");
    }
    json::object out = describe_step(e.steps.front(), true);
    out["execution_id"] = e.id;
    out["workspace_id"] = e.workspace_id;
    return out;
  }
  if (e.status == "interrupted") {
    return make_error(ErrorCode::kFailedPrecondition,
                      "execution '" + e.id + "' of plan '" + e.plan_id + "' was interrupted: " +
                          (e.reason.empty() ? std::string("the server stopped while it ran") : e.reason) +
                          "; get_execution_history shows the steps that ended before");
  }
  json::array step_results;
  for (const auto& r : e.steps) step_results.push_back(describe_step(r, false));
  return json::object{{"execution_id", e.id},
                      {"plan_id", e.plan_id},
                      {"workspace_id", e.workspace_id},
                      {"status", e.status},
                      {"reason", e.reason},
                      {"exit_code", opt(e.exit_code)},
                      {"started_at", format_time(e.started_at)},
                      {"finished_at", format_time(e.finished_at)},
                      {"duration_ms", e.finished_at - e.started_at},
                      {"steps", step_results}};
}

Result<json::object> ExecutionService::cancel(const std::string& execution_id) {
  if (auto live = find_live(execution_id); live && !live->ended()) {
    live->request_cancel();
    spdlog::info("execution {}: cancellation requested", execution_id);
    return json::object{{"execution_id", execution_id}, {"status", "cancelling"}};
  }
  auto e = store_.get_execution(execution_id);
  if (!e) return e.error();
  if (!*e) {
    return make_error(ErrorCode::kNotFound, "execution '" + execution_id +
                                                "' not found; execution ids come from exec_command and "
                                                "execute_task_plan, and get_execution_history lists them");
  }
  return make_error(ErrorCode::kFailedPrecondition,
                    "execution '" + execution_id + "' is not running (it is " + (*e)->status + "); nothing to cancel");
}

Result<json::object> ExecutionService::history(const HistoryQuery& hq) {
  auto w = workspaces_.get_any(hq.workspace_id);
  if (!w) return w.error();
  ExecutionQuery q;
  q.workspace_id = hq.workspace_id;
  q.plan_id = hq.plan_id;
  q.status = hq.status;
  q.limit = hq.limit > 0 ? std::min<int64_t>(hq.limit, 500) : 50;
  if (!hq.since.empty()) {
    auto since = parse_rfc3339_ms(hq.since);
    if (!since) {
      return make_error(ErrorCode::kInvalidArgument, "since: '" + hq.since +
                                                         "' is not an RFC 3339 UTC time; use e.g. "
                                                         "2026-11-26T12:00:00Z");
    }
    q.since_ms = *since;
  }
  if (!hq.cursor.empty()) {
    long long started = 0, rowid = 0;
    char extra = 0;
    if (std::sscanf(hq.cursor.c_str(), "c%lld.%lld%c", &started, &rowid, &extra) != 2 || started <= 0 || rowid <= 0) {
      return make_error(ErrorCode::kInvalidArgument, "cursor: '" + hq.cursor +
                                                         "' is not a cursor of this server; pass the next_cursor of "
                                                         "an earlier page, or omit it for the first page");
    }
    q.before_started_at = started;
    q.before_rowid = rowid;
  }
  const int64_t page = q.limit;
  q.limit = page + 1;  // one more tells whether there is a next page
  auto rows = store_.list_executions(q);
  if (!rows) return rows.error();
  json::value next_cursor = nullptr;
  if (static_cast<int64_t>(rows->size()) > page) {
    rows->resize(static_cast<size_t>(page));
    const auto& last = rows->back();
    next_cursor = "c" + std::to_string(last.started_at) + "." + std::to_string(last.rowid);
  }
  json::array items;
  for (const auto& e : *rows) {
    json::array steps;
    for (const auto& s : e.steps) steps.push_back(describe_step(s, false));
    items.push_back(json::object{{"execution_id", e.id},
                                 {"kind", e.kind},
                                 {"plan_id", e.plan_id.empty() ? json::value(nullptr) : json::value(e.plan_id)},
                                 {"status", e.status},
                                 {"exit_code", opt(e.exit_code)},
                                 {"started_at", format_time(e.started_at)},
                                 {"finished_at", format_time(e.finished_at)},
                                 {"duration_ms", e.finished_at ? e.finished_at - e.started_at : 0},
                                 {"steps", steps}});
  }
  return json::object{{"workspace_id", hq.workspace_id},
                      {"workspace_status", w->status},
                      {"count", static_cast<int64_t>(items.size())},
                      {"next_cursor", next_cursor},
                      {"executions", items}};
}

Result<json::object> ExecutionService::log(const std::string& execution_id, const std::string& step_id,
                                           const std::string& stream, int64_t offset, int64_t limit) {
  if (stream != "stdout" && stream != "stderr") {
    return make_error(ErrorCode::kInvalidArgument, "stream: '" + stream + "' is not stdout or stderr");
  }
  if (offset < 0) return make_error(ErrorCode::kInvalidArgument, "offset must be 0 or more");
  if (limit <= 0) limit = 64 * 1024;
  limit = std::min(limit, kMaxLogSlice);
  auto e = store_.get_execution(execution_id);
  if (!e) return e.error();
  if (!*e) {
    return make_error(ErrorCode::kNotFound, "execution '" + execution_id +
                                                "' not found; get_execution_history lists execution ids");
  }
  // step_id names a file under the logs directory: it must be one of this
  // execution's steps (recorded, or for a running plan one of its plan's
  // steps), never a path, before any file name is built from it.
  std::string known;
  for (const auto& s : (*e)->steps) known += (known.empty() ? "" : ", ") + s.step_id;
  auto unknown_step = [&] {
    return make_error(ErrorCode::kNotFound, "execution '" + execution_id + "' has no step '" + step_id +
                                                "'; its steps are: " + (known.empty() ? "none recorded" : known));
  };
  if (!services::is_valid_step_id(step_id)) return unknown_step();
  const StepRecord* rec = nullptr;
  for (const auto& s : (*e)->steps) {
    if (s.step_id == step_id) rec = &s;
  }
  const bool running = (*e)->status == "running";
  if (!rec) {
    bool planned = false;
    if (running && !(*e)->plan_id.empty()) {
      if (auto plan = plans_.get((*e)->plan_id)) {
        for (const auto& st : plans_.describe(*plan).at("steps").as_array()) {
          if (st.is_object() && st.as_object().contains("id") && st.as_object().at("id") == step_id.c_str()) {
            planned = true;
          }
        }
      }
    } else if (running && (*e)->kind == "command") {
      planned = step_id == "command";
    }
    if (!planned) return unknown_step();
  }
  if (rec && rec->status == "skipped") {
    return make_error(ErrorCode::kNotFound, "step '" + step_id + "' of execution '" + execution_id +
                                                "' was skipped and has no output");
  }
  // Opened beneath the logs directory without following any symlink.
  auto file = services::open_step_log((fs::path(config_.state_dir()) / "logs").string(), execution_id, step_id, stream);
  if (!file) {
    return make_error(ErrorCode::kNotFound, "the " + stream + " log of step '" + step_id + "' of execution '" +
                                                execution_id + "' is not there (not started yet, or removed)");
  }
  struct stat st {};
  if (::fstat(file->get(), &st) < 0 || !S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInternal, "the " + stream + " log of step '" + step_id + "' is not a regular file");
  }
  const int64_t size = static_cast<int64_t>(st.st_size);
  std::string data;
  if (offset < size) {
    data.resize(static_cast<size_t>(std::min(limit, size - offset)));
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n = ::pread(file->get(), data.data() + got, data.size() - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    data.resize(got);
  }
  // Never cut a UTF-8 character in two: the next slice starts with it whole.
  if (offset + static_cast<int64_t>(data.size()) < size) {
    data.resize(data.size() - services::incomplete_utf8_suffix(data));
  }
  const int64_t next = offset + static_cast<int64_t>(data.size());
  return json::object{{"execution_id", execution_id},
                      {"step_id", step_id},
                      {"stream", stream},
                      {"offset", offset},
                      {"bytes", static_cast<int64_t>(data.size())},
                      {"next_offset", next},
                      {"size", size},
                      {"complete", !running},
                      {"eof", next >= size},
                      {"data", services::sanitize_utf8(data)}};
}

}  // namespace isb
