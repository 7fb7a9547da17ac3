// session_tasks.hpp: the MCP tasks (revision 2025-11-25, experimental) of one
// session, mapped onto the core's background executions.
//
// A task-augmented tools/call of a tool whose operation starts an execution
// ("task_support" in the catalogue: exec_command, execute_task_plan) calls it
// with wait false, so the execution starts in the background, and answers at
// once with a CreateTaskResult. The task then follows that execution:
// tasks/get says how it is doing, tasks/result blocks until it ended and
// returns what the tools/call would have returned, tasks/cancel stops it
// (cancel_execution), tasks/list pages through the session's tasks.
//
//   SessionTasks tasks(hooks);
//   auto created = tasks.create("exec_command", args, token, ttl_ms, ctx);  // a Reply
//   auto state = tasks.get(task_id);
//   auto result = tasks.result(task_id, [&] { return call.cancelled.load(); });
//   tasks.shutdown();   // the session ends: watchers stop, executions go on
//
// Each working task has a watcher thread that waits on its execution through
// the host (wait_execution, 50 s at a time) and forwards its output and
// progress as notifications tied to the task (and, when the tools/call had a
// progressToken, as progress for that token, which stays valid for the
// task's lifetime). Results are not kept here: tasks/result reads the ended
// execution's result from the core, so a task costs a few hundred bytes.
//
// Tasks belong to their session, and so to the API key that opened it (HTTP);
// ids are 128 random bits. At most kMaxTasks per session; a task is dropped
// ttl after its creation once it ended (default 1 h, at most 24 h). The
// execution outlives its task: wait_execution with the execution id named in
// the task's statusMessage follows it from any session.
//
// Threading: thread-safe. Ownership: the session owns this; shutdown() (or
// the destructor) stops and joins the watchers.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <condition_variable>
#include <functional>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace isb::mcp {

class SessionTasks {
 public:
  static constexpr size_t kMaxTasks = 256;
  static constexpr int64_t kDefaultTtlMs = 3600 * 1000;
  static constexpr int64_t kMaxTtlMs = 24 * 3600 * 1000;
  static constexpr int64_t kPollIntervalMs = 1000;
  static constexpr size_t kPageSize = 100;

  struct Hooks {
    isb::sdk::Host host;
    //! Sends a notification to the client (the session's own stream).
    std::function<void(boost::json::object notification)> notify;
    //! The session's log level (log_level_rank); outlives this.
    const std::atomic<int>* min_log_rank = nullptr;
    //! Whether results may carry resource_link content items.
    std::function<bool()> resource_links;
  };

  //! A JSON-RPC answer: a result (its JSON text) or an error.
  struct Reply {
    std::string result_json;  //!< set on success
    int error_code = 0;       //!< set on failure
    std::string error_message;
    static Reply ok(std::string result_json) { return Reply{std::move(result_json), 0, ""}; }
    static Reply error(int code, std::string message) { return Reply{"", code, std::move(message)}; }
  };

  explicit SessionTasks(Hooks hooks);
  ~SessionTasks();
  SessionTasks(const SessionTasks&) = delete;
  SessionTasks& operator=(const SessionTasks&) = delete;

  //! Starts tool (one of the catalogue's task tools) as a task and answers
  //! the tools/call with a CreateTaskResult. ttl_ms: the client's wish. ctx
  //! (the tools/call's) is also what the task's watcher calls the host with.
  //! cancelled and detached: the tools/call's own flags (isb_event_sink).
  Reply create(const std::string& tool, boost::json::object args,
               std::optional<boost::json::value> progress_token, std::optional<int64_t> ttl_ms,
               const isb::sdk::RequestContext& ctx, std::function<bool()> cancelled,
               std::function<bool()> detached);
  Reply get(const std::string& task_id);
  //! Blocks until the task ended (or stop_waiting() says its request was
  //! cancelled), then returns what the tools/call would have returned. ctx:
  //! the tasks/result request's.
  Reply result(const std::string& task_id, const isb::sdk::RequestContext& ctx,
               const std::function<bool()>& stop_waiting);
  Reply cancel(const std::string& task_id, const isb::sdk::RequestContext& ctx);
  Reply list(const boost::json::value* cursor);

  //! Stops every watcher and waits for them; the executions go on. Idempotent.
  void shutdown();

 private:
  struct Task {
    std::string id;
    std::string execution_id;  // empty when the call failed before starting one
    std::string status;        // working | completed | failed | cancelled
    std::string status_message;
    int64_t created_at = 0;  // ms since the epoch
    int64_t updated_at = 0;
    int64_t ttl_ms = kDefaultTtlMs;
    bool execution_ended = false;  // its final result can be read from the core
    std::string failure_json;      // the isError CallToolResult of a call that failed at once
    std::thread watcher;
  };

  void watch(std::shared_ptr<Task> task, boost::json::object since, std::optional<boost::json::value> token,
             isb::sdk::RequestContext ctx);
  //! Moves a working task to status; false when it ended already.
  bool set_status_locked(Task& task, const std::string& status, const std::string& message);
  void notify_status(const Task& task);
  boost::json::object describe_locked(const Task& task) const;
  //! Drops ended tasks past their ttl. Caller holds mu_.
  void purge_locked(int64_t now, std::vector<std::thread>& to_join);
  std::shared_ptr<Task> find_locked(const std::string& task_id);

  Hooks hooks_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<Task>> tasks_;  // in creation order
  std::atomic<bool> stopping_{false};
};

}  // namespace isb::mcp
