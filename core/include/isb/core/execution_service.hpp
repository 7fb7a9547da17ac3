// execution_service.hpp: runs approved plans and single commands inside a
// workspace's sandbox, streams their progress and output as events, and
// records every step (exit status, duration, attempts, test results, changed
// files, full output in capped log files) in the store.
//
// An execution runs in the background, on a thread the service owns: the
// request that starts it waits for it up to a bound (wait_ms) and then
// returns it as running, with its output so far; wait() waits again, and a
// request that goes away leaves it running (only cancel() or the server
// stopping ends it early).
//
//   auto r = executions.exec_command("w", "make", 0, 25000, ctx);  // final, or {"status":"running",...}
//   auto more = executions.wait(r->at("execution_id").as_string().c_str(), 50000, since, ctx);
//   executions.cancel("exec-3c4d");
//
// Threading: thread-safe. Each execution runs on its own thread (its plan's
// independent steps on up to performance.max_concurrent_operations more),
// joined by shutdown(); at most performance.max_concurrent_operations
// executions run at once.
#pragma once

#include <isb/core/config.hpp>
#include <isb/core/call_context.hpp>
#include <isb/core/plan_service.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_service.hpp>

#include <boost/json/object.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace isb::services {
class LiveExecution;
class ExecutionWatch;
}  // namespace isb::services

namespace isb {

class ExecutionService {
 public:
  //! The longest a call waits when it asks for a number of seconds (clients'
  //! requests time out after 60 s by default), unless the configured default
  //! (performance.execution_wait_s) is longer.
  static constexpr int64_t kMaxWaitS = 50;

  ExecutionService(const Config& config, Store& store, WorkspaceService& workspaces, PlanService& plans);
  //! shutdown().
  ~ExecutionService();
  ExecutionService(const ExecutionService&) = delete;
  ExecutionService& operator=(const ExecutionService&) = delete;

  //! Starts the step graph of an approved plan in the background (a step
  //! starts once its dependencies are done; the first failure of a step
  //! without continue_on_error stops new steps from starting) and waits up to
  //! wait_ms: the final result when it ended by then, else a running
  //! snapshot (execution_id, status "running", steps and their output so far).
  //! Cancelling the request while it waits cancels the execution.
  Result<boost::json::object> execute_plan(const std::string& plan_id, int64_t wait_ms, CallContext& ctx);
  //! Runs one shell command line as a one-step execution, as execute_plan.
  Result<boost::json::object> exec_command(const std::string& workspace_id, const std::string& command,
                                           int64_t timeout_s, int64_t wait_ms, CallContext& ctx);
  //! Waits up to timeout_ms for an execution to end. Ended: its final result
  //! (also for executions ended long ago, from the store). Still running: a
  //! snapshot with the output written since the offsets in since
  //! ({"stdout_offset","stderr_offset"} of a command, or
  //! {"steps":{"<step id>":{"stdout_offset","stderr_offset"}}}). Cancelling
  //! the request only stops the waiting.
  Result<boost::json::object> wait(const std::string& execution_id, int64_t timeout_ms,
                                   const boost::json::object& since, CallContext& ctx);
  //! Stops a running execution: its running steps are killed and the rest skipped.
  Result<boost::json::object> cancel(const std::string& execution_id);
  //! Seconds a call waits when it does not say (performance.execution_wait_s).
  int64_t default_wait_s() const;
  //! Seconds a call waits at most when it names a number.
  int64_t max_wait_s() const;
  //! Stops every running execution (recorded as cancelled: the server
  //! stopped) and joins their threads; executions started later are refused.
  //! Idempotent.
  void shutdown();

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
  struct StepOutcome {
    StepRecord record;
    boost::json::object result;
  };
  //! A thread that runs one execution, and what it runs.
  struct Job {
    std::shared_ptr<services::LiveExecution> live;
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;  // the thread has returned from its work
  };
  //! A place among the executions that may run at once, held from before an
  //! execution is set up until its thread exists (then its Job counts).
  class Slot {
   public:
    explicit Slot(ExecutionService* service) : service_(service) {}
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    //! The job took the place over. Caller holds jobs_mu_.
    void hand_over_locked();

   private:
    ExecutionService* service_;
  };

  //! Runs one step (with its retries). snapshot_files: diff the workspace
  //! around the step itself (single commands); plans attribute changed files
  //! per window of overlapping steps instead (see run_plan).
  StepOutcome run_step(const WorkspaceRecord& w, const std::string& execution_id, int64_t seq,
                       const boost::json::object& step, services::LiveExecution& live, int64_t deadline_ms,
                       bool snapshot_files);
  //! The step graph of a plan execution, on its own thread.
  void run_plan(services::LiveExecution& live, const WorkspaceRecord& w, const boost::json::array& steps,
                ExecutionRecord e);
  //! The end of a plan execution, once its steps are done: its status and
  //! reason (the first failure, or why it stopped), recorded for it and its
  //! plan, and handed to live.
  void finish_plan(services::LiveExecution& live, const WorkspaceRecord& w, ExecutionRecord e,
                   std::vector<StepRecord> records, std::optional<size_t> first_failure, std::string stop_reason);
  //! A single command, on its own thread.
  void run_command(services::LiveExecution& live, const WorkspaceRecord& w, const boost::json::object& step,
                   ExecutionRecord e);
  boost::json::object describe_step(const StepRecord& s, bool full_output) const;
  //! What exec_command or execute_task_plan return for an ended execution
  //! (e with its steps), whether it just ended or is read from the store.
  Result<boost::json::object> final_result(const ExecutionRecord& e) const;
  std::string log_path(const std::string& execution_id, const std::string& step_id, const std::string& stream) const;

  //! A place among the executions that may run at once, or
  //! kResourceExhausted naming performance.max_concurrent_operations.
  Result<std::unique_ptr<Slot>> reserve_slot();
  //! Runs work on a new thread that owns the slot.
  void start(std::unique_ptr<Slot> slot, std::shared_ptr<services::LiveExecution> live,
             std::function<void()> work);
  //! Joins the threads that have finished. Caller holds jobs_mu_.
  void reap_locked();
  std::shared_ptr<services::LiveExecution> find_live(const std::string& execution_id);
  //! Byte offsets into a step's stdout and stderr logs, by step id.
  using StreamOffsets = std::map<std::string, std::pair<int64_t, int64_t>>;
  //! Waits up to wait_ms for live to end while ctx watches its events. owner:
  //! ctx is the request that started it, whose cancellation cancels it; its
  //! watch began before the work started (so it hears the first output too).
  //! Without one, the watch begins now.
  Result<boost::json::object> await(const std::shared_ptr<services::LiveExecution>& live, int64_t wait_ms,
                                    const StreamOffsets& since, CallContext& ctx, bool owner,
                                    std::unique_ptr<services::ExecutionWatch> watch = nullptr);
  //! A running execution as the client sees it: steps, output since the offsets.
  boost::json::object snapshot(const services::LiveExecution& live, const StreamOffsets& since) const;

  const Config& config_;
  Store& store_;
  WorkspaceService& workspaces_;
  PlanService& plans_;
  std::mutex jobs_mu_;
  std::map<std::string, Job> jobs_;  // by execution id; running, or ended and not yet joined
  size_t reserved_ = 0;              // slots taken by executions being set up
  bool stopping_ = false;
};

}  // namespace isb
