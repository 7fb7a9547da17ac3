// store.hpp: the durable store of workspaces, analyses, plans, executions and
// their steps, on SQLite in WAL mode with numbered schema migrations.
//
//   auto store = Store::open(state_dir + "/sandbox.db");
//   if (!store) { ... store.error().message ... }
//   (*store)->insert_workspace(rec);
//
// Threading: every method is thread-safe (one connection behind a mutex; the
// store is not on any hot path that would profit from a pool yet). Kept behind
// this class so that a PostgreSQL store can replace it for multi-replica setups.
#pragma once

#include <isb/core/result.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace isb {

//! Milliseconds since the Unix epoch.
int64_t now_ms();
//! RFC 3339 UTC text of a millisecond timestamp ("2026-11-26T11:25:07.123Z").
std::string format_time(int64_t ms);

struct WorkspaceRecord {
  std::string id;
  std::string source_path;
  std::string path;
  std::string backend;
  std::string sandbox_id;
  std::string status;  // active | destroyed
  std::string isolation_json = "{}";
  std::string resource_limits_json = "{}";
  int64_t created_at = 0;
  int64_t last_used_at = 0;
  int64_t destroyed_at = 0;
};

struct PlanRecord {
  std::string id;
  std::string workspace_id;
  std::string task;
  std::string planner;
  //! draft | pending_approval | approved | rejected | executing | completed |
  //! failed | cancelled | interrupted
  std::string status;
  std::string plan_json = "{}";  // the planner's document (steps, intents, ...)
  int64_t created_at = 0;
  int64_t approved_at = 0;
  int64_t updated_at = 0;      // last update_plan; 0 when never edited
  std::string status_reason;   // why it was rejected, cancelled, interrupted
};

struct StepRecord {
  std::string execution_id;
  int64_t seq = 0;
  std::string step_id;
  std::string title;
  std::string command_json = "{}";
  std::string cwd = ".";
  std::string status;  // succeeded | failed | skipped | timed_out | cancelled
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  bool timed_out = false;
  int64_t duration_ms = 0;
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;
  std::string result_json = "{}";  // the backend's full result document
  //! The executor's findings: attempts, test results, changed files, log files.
  std::string details_json = "{}";
  int64_t started_at = 0;
  int64_t finished_at = 0;
};

struct ExecutionRecord {
  std::string id;
  std::string workspace_id;
  std::string plan_id;  // empty for a single command
  std::string kind;     // plan | command
  std::string status;   // running | succeeded | failed | cancelled | interrupted
  std::optional<int64_t> exit_code;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int64_t rowid = 0;              // insertion order; breaks ties of started_at in cursors
  std::string reason;             // why it did not succeed (set when it ends)
  std::vector<StepRecord> steps;  // filled by list_executions and get_execution
};

struct ExecutionQuery {
  std::string workspace_id;
  std::string plan_id;   // optional filter
  std::string status;    // optional filter
  int64_t since_ms = 0;  // optional: started at or after
  //! Keyset cursor: only executions strictly older than (before_started_at,
  //! before_rowid); 0 means from the newest.
  int64_t before_started_at = 0;
  int64_t before_rowid = 0;
  int64_t limit = 50;
};

class Store {
 public:
  //! Opens (creating if needed) and migrates to the latest schema. Executions
  //! left "running" by a crash are marked "interrupted".
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  //! The latest schema version this build knows.
  static int latest_schema_version();
  int schema_version() const;
  const std::string& path() const { return path_; }

  Status insert_workspace(const WorkspaceRecord& w);
  Result<std::optional<WorkspaceRecord>> get_workspace(const std::string& id) const;
  //! Active workspaces, oldest first (all of them when include_destroyed).
  Result<std::vector<WorkspaceRecord>> list_workspaces(bool include_destroyed = false) const;
  Result<int64_t> count_active_workspaces() const;
  //! Executions per status ("running", "succeeded", ...), for the metrics.
  Result<std::map<std::string, int64_t>> count_executions_by_status() const;
  Status mark_workspace_destroyed(const std::string& id, int64_t at);
  //! Forgets a workspace row entirely (used to undo a failed creation).
  Status delete_workspace(const std::string& id);
  Status touch_workspace(const std::string& id, int64_t at);
  //! A sandbox recreated after a restart may have a new id (a new container).
  Status set_workspace_sandbox(const std::string& id, const std::string& sandbox_id);

  Status put_analysis(const std::string& workspace_id, const std::string& analysis_json, int64_t at);
  Result<std::optional<std::string>> latest_analysis(const std::string& workspace_id) const;

  Status insert_plan(const PlanRecord& p);
  Result<std::optional<PlanRecord>> get_plan(const std::string& id) const;
  Status update_plan_status(const std::string& id, const std::string& status, int64_t approved_at = 0);
  //! Sets the status with the reason for it (rejection, cancellation).
  Status set_plan_status_reason(const std::string& id, const std::string& status, const std::string& reason);
  //! Replaces the plan document and status; clears the approval time.
  Status replace_plan(const std::string& id, const std::string& plan_json, const std::string& status, int64_t at);
  //! Plans of a workspace, newest first.
  Result<std::vector<PlanRecord>> list_plans(const std::string& workspace_id, int64_t limit) const;

  Status insert_execution(const ExecutionRecord& e);
  Status finish_execution(const std::string& id, const std::string& status, std::optional<int64_t> exit_code,
                          int64_t finished_at, const std::string& reason = "");
  Status insert_step(const StepRecord& s);
  //! Replaces the details of a recorded step (the executor adds the changed
  //! files once the window of overlapping steps it ran in has closed).
  Status update_step_details(const std::string& execution_id, const std::string& step_id,
                             const std::string& details_json);
  //! Newest first, with their steps.
  Result<std::vector<ExecutionRecord>> list_executions(const ExecutionQuery& q) const;
  //! One execution with its steps.
  Result<std::optional<ExecutionRecord>> get_execution(const std::string& id) const;

 private:
  Store() = default;
  Status migrate();
  Status exec(const std::string& sql);
  Status load_steps(ExecutionRecord& e) const;  // caller holds mu_

  sqlite3* db_ = nullptr;
  std::string path_;
  int schema_version_ = 0;
  mutable std::mutex mu_;
};

}  // namespace isb
