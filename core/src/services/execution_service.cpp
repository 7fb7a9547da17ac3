// execution_service.cpp: the plan executor (step graph, parallelism, plan
// deadline, cancellation) and single commands. One step is run by
// step_runner.cpp, what was recorded is read back by execution_history.cpp,
// and the threads executions run on are execution_jobs.cpp's.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <isb/core/execution_service.hpp>
#include <thread>

#include "ids/random_id.hpp"
#include "json/json_fields.hpp"
#include "services/file_snapshot.hpp"
#include "services/live_execution.hpp"
#include "services/step_evidence.hpp"
#include "services/step_graph.hpp"
#include "services/step_log.hpp"
#include "workspaces/safe_path.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace isb {

ExecutionService::ExecutionService(const Config& config, Store& store, WorkspaceService& workspaces,
                                   PlanService& plans)
    : config_(config), store_(store), workspaces_(workspaces), plans_(plans) {}

ExecutionService::~ExecutionService() { shutdown(); }

Result<json::object> ExecutionService::execute_plan(const std::string& plan_id, int64_t wait_ms,
                                                    CallContext& ctx) {
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
  e.id = ids::new_id("exec-");
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
    live_steps.push_back({json_fields::string_or(so, "id"),
                          json_fields::string_or(so, "title", json_fields::string_or(so, "id"))});
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

// Long (about 140 lines) on purpose: the scheduler's state (step states,
// records, the queue of finished steps) is shared by reference with the step
// threads it starts, and stays in this one scope so that every access to it
// is under mu and visible at once. Changed files are ChangeWindows', the end
// of the execution is finish_plan().
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
  for (size_t i = 0; i < n; ++i) index[json_fields::string_or(steps[i].as_object(), "id")] = i;
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

  // A step is recorded when it ends, its changed files when its window
  // closes (see ChangeWindows).
  services::ChangeWindows windows(w->path);
  auto close_window = [&] {
    windows.close(records, [&](const StepRecord& rec) {
      if (auto st = store_.update_step_details(e.id, rec.step_id, rec.details_json); !st) {
        spdlog::error("recording the changed files of a step: {}", st.error().message);
      }
    });
  };

  auto mark_skipped = [&](size_t i, const std::string& why) {
    const json::object& step = steps[i].as_object();
    StepRecord s;
    s.execution_id = e.id;
    s.seq = static_cast<int64_t>(i);
    s.step_id = json_fields::string_or(step, "id");
    s.title = json_fields::string_or(step, "title", s.step_id);
    s.cwd = json_fields::string_or(step, "cwd", ".");
    s.command_json = json::serialize(services::step_command(step));
    s.status = "skipped";
    s.started_at = s.finished_at = now_ms();
    s.details_json = json::serialize(
        json::object{{"phase", json_fields::string_or(step, "phase", "custom")}, {"reason", why}});
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
      stop_reason =
          live.server_stopping() ? "the server stopped while the plan ran" : "the execution was cancelled";
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
        if (state[j] != State::kDone)
          ready = false;
        else if (!ok_for_dependents[j] && blocked_by.empty())
          blocked_by = records[j].step_id;
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
      windows.step_started(i, running);
      ++running;
      live.step_started(json_fields::string_or(step, "id"));
      live.progress("step '" + json_fields::string_or(step, "id") +
                    "' started: " + json_fields::string_or(step, "title"));
      threads.emplace_back([&, i] {
        StepOutcome outcome;
        try {
          outcome = run_step(*w, e.id, static_cast<int64_t>(i), steps[i].as_object(), live, deadline,
                             /*snapshot_files=*/false);
        } catch (const std::exception& ex) {
          outcome.record.execution_id = e.id;
          outcome.record.seq = static_cast<int64_t>(i);
          outcome.record.step_id = json_fields::string_or(steps[i].as_object(), "id");
          outcome.record.title = json_fields::string_or(steps[i].as_object(), "title");
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
      const bool coe = json_fields::bool_or(steps[i].as_object(), "continue_on_error");
      ok_for_dependents[i] = rec.status == "succeeded" || (coe && rec.status == "failed");
      live.step_finished(rec.step_id, rec.status, rec.exit_code);
      live.progress("step '" + rec.step_id + "' " + rec.status + " in " + std::to_string(rec.duration_ms) +
                    " ms");
      if (rec.status != "succeeded" && !ok_for_dependents[i] && !stop) {
        stop = true;
        if (!first_failure) first_failure = i;
        stop_reason = rec.status != "cancelled"
                          ? "an earlier step did not succeed: step '" + rec.step_id + "' " + rec.status
                      : live.server_stopping() ? "the server stopped while the plan ran"
                                               : "the execution was cancelled";
      }
      records[i] = std::move(rec);
      if (running == 0) close_window();
    }
  }
  lock.unlock();
  for (auto& t : threads) t.join();
  finish_plan(live, *w, std::move(e), std::move(records), first_failure, std::move(stop_reason));
}

void ExecutionService::finish_plan(services::LiveExecution& live, const WorkspaceRecord& w, ExecutionRecord e,
                                   std::vector<StepRecord> records, std::optional<size_t> first_failure,
                                   std::string stop_reason) {
  const std::string& plan_id = e.plan_id;
  const bool cancelled = live.cancel_requested();
  std::string status = "succeeded";
  std::optional<int64_t> exit_code = 0;
  if (cancelled) {
    status = "cancelled";
    exit_code.reset();
    if (stop_reason.empty()) {
      stop_reason =
          live.server_stopping() ? "the server stopped while the plan ran" : "the execution was cancelled";
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
  workspaces_.watch_disk_while_running(w);  // what the steps left running
  live.finish(final_result(e));
}

Result<json::object> ExecutionService::exec_command(const std::string& workspace_id,
                                                    const std::string& command, int64_t timeout_s,
                                                    int64_t wait_ms, CallContext& ctx) {
  if (command.find_first_not_of(" \t\r\n") == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "command is empty; give a shell command line such as \"ls -la\"");
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
  e.id = ids::new_id("exec-");
  e.workspace_id = workspace_id;
  e.kind = "command";
  e.status = "running";
  e.started_at = now_ms();
  if (auto st = store_.insert_execution(e); !st) return st.error();
  // The title is for people scanning history; the full command stays in "command".
  std::string title = command.size() > 120 ? command.substr(0, 117) + "..." : command;
  json::object step{
      {"id", "command"}, {"title", title}, {"shell", command}, {"cwd", "."}, {"phase", "custom"}};
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

void ExecutionService::run_command(services::LiveExecution& live, const WorkspaceRecord& w,
                                   const json::object& step, ExecutionRecord e) {
  live.step_started("command");
  auto outcome = run_step(w, e.id, 0, step, live, 0, /*snapshot_files=*/true);
  if (auto st = store_.insert_step(outcome.record); !st)
    spdlog::error("recording a step: {}", st.error().message);
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
  return make_error(
      ErrorCode::kFailedPrecondition,
      "execution '" + execution_id + "' is not running (it is " + (*e)->status + "); nothing to cancel");
}

}  // namespace isb
