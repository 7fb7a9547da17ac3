// execution_service.hpp: runs approved plans and single commands inside a
// workspace's sandbox, streams their progress and output as events, and
// records every step (exit status, duration, attempts, test results, changed
// files, full output in capped log files) in the store.
//
//   auto r = executions.execute_plan("plan-1a2b", ctx);   // blocks until done
//   executions.cancel("exec-3c4d");                        // from another call
//
// Threading: thread-safe. A plan runs in one execute_plan call at a time; its
// independent steps run on up to performance.max_concurrent_operations
// threads owned by that call and joined before it returns.
#pragma once

#include <isb/core/config.hpp>
#include <isb/core/operation_registry.hpp>
#include <isb/core/plan_service.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_service.hpp>

#include <boost/json/object.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

namespace isb {

class ExecutionService {
 public:
  ExecutionService(const Config& config, Store& store, WorkspaceService& workspaces, PlanService& plans);

  //! Runs the step graph of an approved plan: a step starts once its
  //! dependencies are done; the first failure (of a step without
  //! continue_on_error) stops new steps from starting.
  Result<boost::json::object> execute_plan(const std::string& plan_id, CallContext& ctx);
  //! Runs one shell command line and records it as a one-step execution.
  Result<boost::json::object> exec_command(const std::string& workspace_id, const std::string& command,
                                           int64_t timeout_s, CallContext& ctx);
  //! Stops a running execution: its running steps are killed and the rest skipped.
  Result<boost::json::object> cancel(const std::string& execution_id);

  struct HistoryQuery {
    std::string workspace_id;
    std::string plan_id;
    std::string status;
    std::string since;   // RFC 3339 time, e.g. 2026-11-26T12:00:00Z
    std::string cursor;  // next_cursor of an earlier page
    int64_t limit = 50;
  };
  //! Executions of a workspace, newest first, one page at a time.
  Result<boost::json::object> history(const HistoryQuery& q);
  //! A slice of the full stdout or stderr log of one step.
  Result<boost::json::object> log(const std::string& execution_id, const std::string& step_id,
                                  const std::string& stream, int64_t offset, int64_t limit);

 private:
  struct RunControl {
    std::atomic<bool> cancel{false};
  };
  class Events;
  struct StepOutcome {
    StepRecord record;
    boost::json::object result;
  };
  //! Runs one step (with its retries). snapshot_files: diff the workspace
  //! around the step itself (single commands); plans attribute changed files
  //! per window of overlapping steps instead (see execute_plan).
  StepOutcome run_step(const WorkspaceRecord& w, const std::string& execution_id, int64_t seq,
                       const boost::json::object& step, Events& events, const RunControl& run, int64_t deadline_ms,
                       bool snapshot_files);
  boost::json::object describe_step(const StepRecord& s, bool full_output) const;
  std::string log_path(const std::string& execution_id, const std::string& step_id, const std::string& stream) const;
  std::shared_ptr<RunControl> start_run(const std::string& execution_id);
  void end_run(const std::string& execution_id);

  const Config& config_;
  Store& store_;
  WorkspaceService& workspaces_;
  PlanService& plans_;
  std::mutex running_mu_;
  std::map<std::string, std::shared_ptr<RunControl>> running_;  // by execution id
};

}  // namespace isb
