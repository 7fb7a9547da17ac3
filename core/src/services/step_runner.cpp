// step_runner.cpp: one step of an execution in the workspace's sandbox: its
// command spec, retries with backoff, the step and plan deadlines, the disk
// watch, its logs, and what it left behind (test results, changed files).
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <isb/core/execution_service.hpp>
#include <thread>

#include "json/json_fields.hpp"
#include "services/disk_watch.hpp"
#include "services/file_snapshot.hpp"
#include "services/live_execution.hpp"
#include "services/step_evidence.hpp"
#include "services/step_graph.hpp"
#include "services/step_log.hpp"
#include "workspaces/safe_path.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace isb {

namespace {

using json_fields::bool_or;
using json_fields::int_at;
using json_fields::int_or_null;
using json_fields::string_or;

std::string megabytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

// Attempts and the pause between them: a step retries only when retryable.
std::pair<int64_t, int64_t> retry_policy(const json::object& step) {
  int64_t attempts = 1, backoff_ms = 0;
  if (bool_or(step, "retryable")) {
    if (auto* rp = step.if_contains("retry"); rp && rp->is_object()) {
      attempts = std::max<int64_t>(1, int_at(rp->as_object(), "attempts").value_or(1));
      backoff_ms = std::max<int64_t>(0, int_at(rp->as_object(), "backoff_ms").value_or(0));
    }
  }
  return {attempts, backoff_ms};
}

// What stopped a step, when a limit did.
struct LimitHit {
  bool over_disk = false;
  bool disk_image = false;  // disk_mb is held by a disk image (then it filled up)
  int64_t disk_used = 0;
  int64_t disk_limit = 0;
  bool plan_timeout = false;
  int64_t plan_timeout_s = 0;
  int64_t step_timeout_s = 0;
};

// Why a limit ended the step, with what the user can do; "" when none did.
std::string limit_reason(const LimitHit& hit, const std::string& status) {
  if (hit.over_disk && hit.disk_image) {
    return "the workspace's disk of " + megabytes(hit.disk_limit) +
           " (resource_limits.disk_mb) is full; the step was stopped. Delete files (delete_file) to make "
           "room; "
           "until then executions and writes are refused";
  }
  if (hit.over_disk) {
    return "the workspace uses " + megabytes(hit.disk_used) + ", over its disk limit of " +
           megabytes(hit.disk_limit) +
           " (resource_limits.disk_mb); the step was stopped. Delete files (delete_file) to get under the "
           "limit; "
           "until then executions and writes are refused";
  }
  if (hit.plan_timeout) {
    return "the plan ran longer than performance.operation_timeout (" + std::to_string(hit.plan_timeout_s) +
           " s)";
  }
  if (status == "timed_out") {
    return "the step ran longer than its timeout of " + std::to_string(hit.step_timeout_s) + " s";
  }
  return "";
}

}  // namespace

std::string ExecutionService::log_path(const std::string& execution_id, const std::string& step_id,
                                       const std::string& stream) const {
  return (fs::path(config_.state_dir()) / "logs" / execution_id / (step_id + "." + stream + ".log")).string();
}

// Long (about 150 lines) on purpose: the attempt loop shares the logs, the
// disk watch, the deadlines and the record with every way out of it, and each
// way out (backend error, disk, cancel, plan or step timeout) stays visible in
// one place next to the others.
ExecutionService::StepOutcome ExecutionService::run_step(const WorkspaceRecord& w,
                                                         const std::string& execution_id, int64_t seq,
                                                         const json::object& step,
                                                         services::LiveExecution& live, int64_t deadline_ms,
                                                         bool snapshot_files) {
  StepOutcome out;
  StepRecord& r = out.record;
  r.execution_id = execution_id;
  r.seq = seq;
  r.step_id = string_or(step, "id", "step-" + std::to_string(seq));
  r.title = string_or(step, "title", r.step_id);
  r.cwd = string_or(step, "cwd", ".");
  const json::object command = services::step_command(step);
  r.command_json = json::serialize(command);

  // The runner is asked for a JUnit report where it can write one (see
  // step_evidence.hpp); its cwd is checked beneath the workspace first.
  auto ws_root = workspaces::BeneathRoot::open(w.path);
  auto cwd_norm = workspaces::normalize_relative(r.cwd);
  json::object spec = command;
  const std::string report = services::request_junit_report(ws_root, cwd_norm, execution_id, r.step_id, spec);
  int64_t step_timeout_s = config_.performance.operation_timeout;
  if (auto t = int_at(step, "timeout_s"); t && *t > 0) step_timeout_s = *t;
  const int64_t cap = config_.performance.max_output_bytes;
  spec["cwd"] = r.cwd;
  spec["max_output_bytes"] = cap;
  if (auto* env = step.if_contains("env"); env && env->is_object() && !env->as_object().empty())
    spec["env"] = *env;

  const auto [attempts, backoff_ms] = retry_policy(step);

  services::StepLog out_log(log_path(execution_id, r.step_id, "stdout"), cap, services::kStoredTail);
  services::StepLog err_log(log_path(execution_id, r.step_id, "stderr"), cap, services::kStoredTail);
  const std::vector<std::string> skip{services::kPrivateDir};
  std::optional<services::FileSnapshot> before;
  if (snapshot_files) before = services::FileSnapshot::take(w.path, skip);
  auto stop_requested = [&] { return live.cancel_requested(); };
  // disk_mb: the step is stopped once the workspace grows past its limit
  // (on a disk image, once the image is full: measuring it is one statvfs).
  auto disk = workspaces_.disk_usage(w);
  const int64_t disk_limit = disk ? disk->limit_bytes : 0;
  const bool disk_image = disk && disk->kernel_enforced;
  services::DiskWatch disk_watch([this, &w]() { return workspaces_.disk_usage(w); }, disk_limit);
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
    Result<boost::json::value> result = backend ? backend->exec(w.sandbox_id, spec, on_output, stop_or_disk)
                                                : Result<boost::json::value>(backend.error());
    const int64_t attempt_ms = now_ms() - attempt_start;
    if (!result) {
      // The backend could not run the command (the sandbox is gone, ...):
      // a failure with the reason, never a step left running.
      r.status = "failed";
      r.exit_code.reset();
      reason = "the sandbox could not run the step: " + result.error().message;
      out.result = json::object{{"error", result.error().message}};
      attempt_log.push_back(json::object{
          {"attempt", attempt}, {"status", "failed"}, {"exit_code", nullptr}, {"duration_ms", attempt_ms}});
      break;
    }
    out.result = result->is_object() ? result->as_object() : json::object{};
    const json::object& res = out.result;
    r.exit_code = int_at(res, "exit_code");
    r.signal = int_at(res, "signal");
    r.timed_out = bool_or(res, "timed_out");
    r.duration_ms = int_at(res, "duration_ms").value_or(attempt_ms);
    if (auto e = string_or(res, "error"); !e.empty()) reason = "sandbox: " + e;
    if (disk_watch.exceeded() && !stop_requested()) {
      r.status = "failed";
      over_disk = true;
      disk_used = disk_watch.used_bytes();
    } else if (bool_or(res, "cancelled") || (stop_requested() && !(r.exit_code && *r.exit_code == 0))) {
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
    attempt_log.push_back(json::object{{"attempt", attempt},
                                       {"status", r.status},
                                       {"exit_code", int_or_null(r.exit_code)},
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
  if (std::string why = limit_reason({over_disk, disk_image, disk_used, disk_limit, plan_timeout,
                                      config_.performance.operation_timeout, step_timeout_s},
                                     r.status);
      !why.empty()) {
    reason = why;
  }
  r.finished_at = now_ms();
  if (r.duration_ms == 0) r.duration_ms = r.finished_at - r.started_at;
  const bool backend_truncated = bool_or(out.result, "output_truncated");
  out_log.finish(backend_truncated && out_log.total_bytes() >= cap);
  err_log.finish(backend_truncated && err_log.total_bytes() >= cap);
  r.stdout_text = services::sanitize_utf8(out_log.tail());
  r.stderr_text = services::sanitize_utf8(err_log.tail());
  if (!reason.empty() && r.status != "succeeded") {
    r.stderr_text +=
        (r.stderr_text.empty() || r.stderr_text.back() == '\n' ? "" : "\n") + ("[sandbox] " + reason);
  }
  r.output_truncated = out_log.truncated() || err_log.truncated() || backend_truncated ||
                       out_log.total_bytes() > static_cast<int64_t>(services::kStoredTail) ||
                       err_log.total_bytes() > static_cast<int64_t>(services::kStoredTail);
  r.result_json = json::serialize(out.result);

  json::value tests = nullptr;
  const std::string out_tail = out_log.tail(), err_tail = err_log.tail();
  if (auto parsed = services::collect_test_results(
          {ws_root, cwd_norm, report, step, command, r.started_at, out_tail, err_tail})) {
    tests = parsed->to_json();
  }

  auto stream_info = [](const services::StepLog& l) {
    return json::object{{"path", l.path()}, {"bytes", l.written_bytes()}, {"truncated", l.truncated()}};
  };
  json::object details{
      {"phase", string_or(step, "phase", "custom")},
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

}  // namespace isb
