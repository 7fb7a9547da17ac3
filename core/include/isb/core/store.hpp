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
  std::string status;  // pending_approval | approved | executing | completed | failed | rejected
  std::string plan_json = "{}";  // the planner's document (steps, intents, ...)
  int64_t created_at = 0;
  int64_t approved_at = 0;
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
  std::vector<StepRecord> steps;  // filled by list_executions
};

struct ExecutionQuery {
  std::string workspace_id;
  std::string plan_id;  // optional filter
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
  Status mark_workspace_destroyed(const std::string& id, int64_t at);
  //! Forgets a workspace row entirely (used to undo a failed creation).
  Status delete_workspace(const std::string& id);
  Status touch_workspace(const std::string& id, int64_t at);

  Status put_analysis(const std::string& workspace_id, const std::string& analysis_json, int64_t at);
  Result<std::optional<std::string>> latest_analysis(const std::string& workspace_id) const;

  Status insert_plan(const PlanRecord& p);
  Result<std::optional<PlanRecord>> get_plan(const std::string& id) const;
  Status update_plan_status(const std::string& id, const std::string& status, int64_t approved_at = 0);

  Status insert_execution(const ExecutionRecord& e);
  Status finish_execution(const std::string& id, const std::string& status, std::optional<int64_t> exit_code,
                          int64_t finished_at);
  Status insert_step(const StepRecord& s);
  //! Newest first, with their steps.
  Result<std::vector<ExecutionRecord>> list_executions(const ExecutionQuery& q) const;

 private:
  Store() = default;
  Status migrate();
  Status exec(const std::string& sql);

  sqlite3* db_ = nullptr;
  std::string path_;
  int schema_version_ = 0;
  mutable std::mutex mu_;
};

}  // namespace isb
