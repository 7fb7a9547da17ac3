// live_execution.hpp: one execution while the server runs it in the
// background. It holds what the requests waiting on it read (which steps run,
// the latest output line of each, whether it ended, its final result), its
// cancel switch, and hands its events (progress, output) to the requests
// that watch it at this moment.
//
//   auto live = std::make_shared<LiveExecution>(header, steps, /*progress_total=*/0);
//   // the executor's thread                  // a request's thread
//   live->step_started("command");            ExecutionWatch w(*live, ctx);
//   live->output("command", 1, "tick 1\n");   live->wait_for_change(until_ms);
//   live->finish(result);                     w.heartbeat_if_due();
//
// The executor keeps writing the full output to the step logs; nothing here
// keeps more than the latest line per step.
//
// Threading: thread-safe. Events reach a watching request's CallContext under
// one mutex, so a request never gets two at once (the ABI's rule for one
// call), and never after its Watch ended (no notification follows a result).
#pragma once

#include <isb/core/call_context.hpp>
#include <isb/core/result.hpp>

#include <boost/json/object.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace isb::services {

//! How often a waiting request hears that a step still runs, when nothing
//! else was said to it meanwhile (MCP clients show it; 5 s at most).
inline constexpr int64_t kHeartbeatMs = 2000;

class ExecutionWatch;

class LiveExecution {
 public:
  struct Header {
    std::string id;
    std::string kind;  // command | plan
    std::string workspace_id;
    std::string plan_id;     // empty for a command
    int64_t started_at = 0;  // ms since the epoch
  };
  struct Step {
    Step(std::string step_id, std::string step_title) : id(std::move(step_id)), title(std::move(step_title)) {}
    std::string id;
    std::string title;
    std::string status =
        "pending";  // pending | running | succeeded | failed | timed_out | cancelled | skipped
    std::optional<int64_t> exit_code;
    int64_t started_ms = 0;  // steady clock, 0 until it starts
    std::string last_line;   // the latest non-empty line it printed (stdout or stderr)
  };

  //! steps in plan order; progress_total: units of progress the executor
  //! reports (0: none, as for a single command).
  LiveExecution(Header header, std::vector<Step> steps, double progress_total);
  LiveExecution(const LiveExecution&) = delete;
  LiveExecution& operator=(const LiveExecution&) = delete;

  const Header& header() const { return header_; }

  // ---- the executor ----
  void step_started(const std::string& step_id);
  void step_finished(const std::string& step_id, const std::string& status, std::optional<int64_t> exit_code);
  //! One more unit of progress, with what happened, to every watching request.
  void progress(const std::string& message);
  //! A chunk of output (valid UTF-8) of one step, to every watching request.
  void output(const std::string& step_id, int32_t stream, const std::string& text);
  //! The execution ended with this result (what exec_command or
  //! execute_task_plan return, or why there is none); wakes every waiting
  //! request.
  void finish(Result<boost::json::object> final_result);

  // ---- cancellation ----
  //! Asks the executor to stop; server_stopping says why (for the record).
  void request_cancel(bool server_stopping = false);
  bool cancel_requested() const { return cancel_.load(); }
  bool server_stopping() const { return server_stopping_.load(); }

  // ---- readers ----
  bool ended() const;
  //! The final result; valid once ended().
  Result<boost::json::object> final_result() const;
  std::vector<Step> steps() const;
  //! What runs now and what it printed last: "step 'build' running for 42 s: [ 40%] Building ...".
  std::string status_message() const;
  //! Blocks until a step starts or ends, the execution ends, or until_ms
  //! (steady clock ms, see steady_ms()) passes.
  void wait_for_change(int64_t until_ms) const;

  //! Milliseconds of a monotonic clock.
  static int64_t steady_ms();

 private:
  Step* find_locked(const std::string& step_id);
  std::string status_message_locked() const;
  //! Progress value now: units done plus a share of the next that grows
  //! with time (a command without units: seconds since it started).
  double progress_value_locked() const;

  const Header header_;
  const double progress_total_;
  const int64_t started_steady_ms_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> server_stopping_{false};

  mutable std::mutex mu_;  // state below
  mutable std::condition_variable changed_;
  std::vector<Step> steps_;
  std::string last_line_step_;              // the step that printed last
  std::vector<std::string> partial_lines_;  // per step: a line not yet ended
  double progress_done_ = 0;
  int64_t progress_done_at_ms_ = 0;  // steady ms of the last unit
  bool ended_ = false;
  Result<boost::json::object> result_{boost::json::object{}};

  std::mutex events_mu_;  // the watchers, and every event sent to one
  friend class ExecutionWatch;
  std::vector<ExecutionWatch*> watchers_;
};

//! A request watching the execution: it gets the execution's events from
//! construction until destruction. Not copyable; one thread uses it.
class ExecutionWatch {
 public:
  ExecutionWatch(LiveExecution& live, const CallContext& ctx);
  ~ExecutionWatch();
  ExecutionWatch(const ExecutionWatch&) = delete;
  ExecutionWatch& operator=(const ExecutionWatch&) = delete;
  //! Sends a progress event with status_message() when nothing was sent to
  //! this request for kHeartbeatMs.
  void heartbeat_if_due();

 private:
  friend class LiveExecution;
  LiveExecution& live_;
  const CallContext& ctx_;
  int64_t last_progress_ms_;  // guarded by live_.events_mu_
};

}  // namespace isb::services
