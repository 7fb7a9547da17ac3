// store.cpp: Store on SQLite (WAL mode, foreign keys on, numbered migrations).
// host paths only: the server's database; nothing here names a path inside a workspace.
#include <isb/core/store.hpp>

#include "store/migrations.hpp"
#include "time/utc_time.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <tuple>

namespace isb {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_time(int64_t ms) {
  if (ms <= 0) return "";
  return iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)), Iso8601::kMilliseconds);
}

namespace {

// A prepared statement with positional binding; finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  Stmt& bind(int i, std::optional<int64_t> v) {
    if (v) sqlite3_bind_int64(st_, i, *v);
    else sqlite3_bind_null(st_, i);
    return *this;
  }
  Stmt& bind_null_if_empty(int i, const std::string& v) {
    if (v.empty()) sqlite3_bind_null(st_, i);
    else bind(i, v);
    return *this;
  }
  int step() { return rc_ = sqlite3_step(st_); }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st_, col))) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }
  std::optional<int64_t> opt_integer(int col) const {
    if (sqlite3_column_type(st_, col) == SQLITE_NULL) return std::nullopt;
    return integer(col);
  }
  std::string error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  int rc_;
};

Error db_error(const std::string& what, sqlite3* db) {
  return make_error(ErrorCode::kInternal, "store: " + what + " failed: " + sqlite3_errmsg(db));
}

// Runs a write statement to completion.
Status run(sqlite3* db, Stmt& st, const char* what) {
  if (!st.ok()) return db_error(std::string("preparing ") + what, db);
  if (st.step() != SQLITE_DONE) return db_error(what, db);
  return ok_status();
}

void read_value(const Stmt& st, int col, std::string& out) { out = st.text(col); }
void read_value(const Stmt& st, int col, int64_t& out) { out = st.integer(col); }
void read_value(const Stmt& st, int col, std::optional<int64_t>& out) { out = st.opt_integer(col); }
void read_value(const Stmt& st, int col, bool& out) { out = st.integer(col) != 0; }

// The current row as a Record: column i goes into the i-th member pointer of
// fields, read as that member's type. Every table is read by this one
// function, so no reader numbers its columns by hand; each table's k*Fields
// sits beside its SELECT list (k*Columns) and names the members in that order.
template <class Record, class Fields>
Record read_row(const Stmt& st, const Fields& fields) {
  Record r;
  int col = 0;
  std::apply([&](auto... field) { (read_value(st, col++, r.*field), ...); }, fields);
  return r;
}

constexpr const char* kWorkspaceColumns =
    "id, source_path, path, backend, sandbox_id, status, isolation_json, resource_limits_json, created_at, "
    "last_used_at, destroyed_at";
constexpr auto kWorkspaceFields = std::make_tuple(
    &WorkspaceRecord::id, &WorkspaceRecord::source_path, &WorkspaceRecord::path, &WorkspaceRecord::backend,
    &WorkspaceRecord::sandbox_id, &WorkspaceRecord::status, &WorkspaceRecord::isolation_json,
    &WorkspaceRecord::resource_limits_json, &WorkspaceRecord::created_at, &WorkspaceRecord::last_used_at,
    &WorkspaceRecord::destroyed_at);

}  // namespace

int Store::latest_schema_version() { return static_cast<int>(store_internal::kMigrations.size()); }

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  std::unique_ptr<Store> s(new Store());
  s->path_ = path;
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable, "cannot create the state directory " + parent.string() + ": " +
                                                   ec.message() + "; set sandbox.state_dir to a writable directory");
  }
  int rc = sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = s->db_ ? sqlite3_errmsg(s->db_) : "out of memory";
    return make_error(ErrorCode::kUnavailable, "cannot open the database " + path + ": " + msg);
  }
  sqlite3_busy_timeout(s->db_, 5000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL;", "PRAGMA foreign_keys=ON;", "PRAGMA synchronous=NORMAL;"}) {
    if (auto st = s->exec(pragma); !st) return st.error();
  }
  if (auto st = s->migrate(); !st) return st.error();
  // A server that died mid-execution leaves rows "running": nothing runs them now.
  if (auto st = s->exec("UPDATE executions SET status='interrupted', reason='the server stopped while it ran', "
                        "finished_at=" + std::to_string(now_ms()) + " WHERE status='running';");
      !st) {
    return st.error();
  }
  if (auto st = s->exec("UPDATE plans SET status='interrupted', status_reason='the server stopped while the plan "
                        "was executing' WHERE status='executing';");
      !st) {
    return st.error();
  }
  return s;
}

Store::~Store() {
  if (db_) sqlite3_close_v2(db_);
}

Status Store::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return make_error(ErrorCode::kInternal, "store: " + m + " (in: " + sql.substr(0, 80) + ")");
  }
  return ok_status();
}

Status Store::migrate() {
  if (auto st = exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER "
                     "NOT NULL);");
      !st) {
    return st;
  }
  {
    Stmt q(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;");
    if (!q.ok() || q.step() != SQLITE_ROW) return db_error("reading the schema version", db_);
    schema_version_ = static_cast<int>(q.integer(0));
  }
  const int latest = latest_schema_version();
  if (schema_version_ > latest) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "the database " + path_ + " has schema version " + std::to_string(schema_version_) +
                          ", newer than this server supports (" + std::to_string(latest) +
                          "); upgrade the server or point sandbox.state_dir elsewhere");
  }
  for (int v = schema_version_ + 1; v <= latest; ++v) {
    std::string sql = std::string("BEGIN;") + store_internal::kMigrations[v - 1] +
                      "INSERT INTO schema_migrations(version, applied_at) VALUES (" + std::to_string(v) + ", " +
                      std::to_string(now_ms()) + ");COMMIT;";
    if (auto st = exec(sql); !st) {
      (void)exec("ROLLBACK;");
      return make_error(ErrorCode::kInternal, "migrating " + path_ + " to schema version " + std::to_string(v) +
                                                  " failed: " + st.error().message);
    }
    spdlog::info("store {} migrated to schema version {}", path_, v);
    schema_version_ = v;
  }
  return ok_status();
}

int Store::schema_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return schema_version_;
}

Status Store::insert_workspace(const WorkspaceRecord& w) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_,
          "INSERT INTO workspaces(id, source_path, path, backend, sandbox_id, status, isolation_json, "
          "resource_limits_json, created_at, last_used_at, destroyed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?);");
  st.bind(1, w.id).bind(2, w.source_path).bind(3, w.path).bind(4, w.backend).bind(5, w.sandbox_id).bind(6, w.status);
  st.bind(7, w.isolation_json).bind(8, w.resource_limits_json).bind(9, w.created_at).bind(10, w.last_used_at);
  st.bind(11, w.destroyed_at);
  return run(db_, st, "inserting a workspace");
}

Result<std::optional<WorkspaceRecord>> Store::get_workspace(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, (std::string("SELECT ") + kWorkspaceColumns + " FROM workspaces WHERE id=?;").c_str());
  if (!st.ok()) return db_error("reading a workspace", db_);
  st.bind(1, id);
  int rc = st.step();
  if (rc == SQLITE_ROW)
    return std::optional<WorkspaceRecord>(read_row<WorkspaceRecord>(st, kWorkspaceFields));
  if (rc == SQLITE_DONE) return std::optional<WorkspaceRecord>();
  return db_error("reading a workspace", db_);
}

Result<std::vector<WorkspaceRecord>> Store::list_workspaces(bool include_destroyed) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kWorkspaceColumns + " FROM workspaces" +
                    (include_destroyed ? "" : " WHERE status='active'") + " ORDER BY created_at, id;";
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return db_error("listing workspaces", db_);
  std::vector<WorkspaceRecord> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_row<WorkspaceRecord>(st, kWorkspaceFields));
  if (rc != SQLITE_DONE) return db_error("listing workspaces", db_);
  return out;
}

Result<int64_t> Store::count_active_workspaces() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "SELECT COUNT(*) FROM workspaces WHERE status='active';");
  if (!st.ok() || st.step() != SQLITE_ROW) return db_error("counting workspaces", db_);
  return st.integer(0);
}

Result<std::map<std::string, int64_t>> Store::count_executions_by_status() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "SELECT status, COUNT(*) FROM executions GROUP BY status;");
  if (!st.ok()) return db_error("counting executions", db_);
  std::map<std::string, int64_t> counts;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) counts[st.text(0)] = st.integer(1);
  if (rc != SQLITE_DONE) return db_error("counting executions", db_);
  return counts;
}

Status Store::mark_workspace_destroyed(const std::string& id, int64_t at) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "UPDATE workspaces SET status='destroyed', destroyed_at=? WHERE id=?;");
  st.bind(1, at).bind(2, id);
  return run(db_, st, "marking a workspace destroyed");
}

Status Store::delete_workspace(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "DELETE FROM workspaces WHERE id=?;");
  st.bind(1, id);
  return run(db_, st, "deleting a workspace");
}

Status Store::touch_workspace(const std::string& id, int64_t at) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "UPDATE workspaces SET last_used_at=? WHERE id=?;");
  st.bind(1, at).bind(2, id);
  return run(db_, st, "updating a workspace");
}

Status Store::set_workspace_sandbox(const std::string& id, const std::string& sandbox_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "UPDATE workspaces SET sandbox_id=? WHERE id=?;");
  st.bind(1, sandbox_id).bind(2, id);
  return run(db_, st, "updating a workspace's sandbox");
}

Status Store::put_analysis(const std::string& workspace_id, const std::string& analysis_json, int64_t at) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "INSERT INTO analyses(workspace_id, created_at, analysis_json) VALUES (?,?,?);");
  st.bind(1, workspace_id).bind(2, at).bind(3, analysis_json);
  return run(db_, st, "storing an analysis");
}

Result<std::optional<std::string>> Store::latest_analysis(const std::string& workspace_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "SELECT analysis_json FROM analyses WHERE workspace_id=? ORDER BY created_at DESC, id DESC LIMIT 1;");
  if (!st.ok()) return db_error("reading an analysis", db_);
  st.bind(1, workspace_id);
  int rc = st.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(st.text(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return db_error("reading an analysis", db_);
}

Status Store::insert_plan(const PlanRecord& p) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_,
          "INSERT INTO plans(id, workspace_id, task, planner, status, plan_json, created_at, approved_at) VALUES "
          "(?,?,?,?,?,?,?,?);");
  st.bind(1, p.id).bind(2, p.workspace_id).bind(3, p.task).bind(4, p.planner).bind(5, p.status);
  st.bind(6, p.plan_json).bind(7, p.created_at).bind(8, p.approved_at);
  return run(db_, st, "inserting a plan");
}

namespace {

constexpr const char* kPlanColumns =
    "id, workspace_id, task, planner, status, plan_json, created_at, approved_at, updated_at, status_reason";
constexpr auto kPlanFields =
    std::make_tuple(&PlanRecord::id, &PlanRecord::workspace_id, &PlanRecord::task, &PlanRecord::planner,
                    &PlanRecord::status, &PlanRecord::plan_json, &PlanRecord::created_at,
                    &PlanRecord::approved_at, &PlanRecord::updated_at, &PlanRecord::status_reason);

}  // namespace

Result<std::optional<PlanRecord>> Store::get_plan(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, (std::string("SELECT ") + kPlanColumns + " FROM plans WHERE id=?;").c_str());
  if (!st.ok()) return db_error("reading a plan", db_);
  st.bind(1, id);
  int rc = st.step();
  if (rc == SQLITE_DONE) return std::optional<PlanRecord>();
  if (rc != SQLITE_ROW) return db_error("reading a plan", db_);
  return std::optional<PlanRecord>(read_row<PlanRecord>(st, kPlanFields));
}

Result<std::vector<PlanRecord>> Store::list_plans(const std::string& workspace_id, int64_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, (std::string("SELECT ") + kPlanColumns +
                " FROM plans WHERE workspace_id=? ORDER BY created_at DESC, rowid DESC LIMIT ?;")
                   .c_str());
  if (!st.ok()) return db_error("listing plans", db_);
  st.bind(1, workspace_id).bind(2, limit);
  std::vector<PlanRecord> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_row<PlanRecord>(st, kPlanFields));
  if (rc != SQLITE_DONE) return db_error("listing plans", db_);
  return out;
}

Status Store::set_plan_status_reason(const std::string& id, const std::string& status, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "UPDATE plans SET status=?, status_reason=? WHERE id=?;");
  st.bind(1, status).bind(2, reason).bind(3, id);
  return run(db_, st, "updating a plan");
}

Status Store::replace_plan(const std::string& id, const std::string& plan_json, const std::string& status,
                           int64_t at) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "UPDATE plans SET plan_json=?, status=?, approved_at=0, updated_at=?, status_reason='' WHERE id=?;");
  st.bind(1, plan_json).bind(2, status).bind(3, at).bind(4, id);
  return run(db_, st, "updating a plan");
}

Status Store::update_plan_status(const std::string& id, const std::string& status, int64_t approved_at) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, approved_at ? "UPDATE plans SET status=?, approved_at=? WHERE id=?;"
                           : "UPDATE plans SET status=? WHERE id=?;");
  st.bind(1, status);
  if (approved_at) st.bind(2, approved_at).bind(3, id);
  else st.bind(2, id);
  return run(db_, st, "updating a plan");
}

Status Store::insert_execution(const ExecutionRecord& e) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_,
          "INSERT INTO executions(id, workspace_id, plan_id, kind, status, exit_code, started_at, finished_at) "
          "VALUES (?,?,?,?,?,?,?,?);");
  st.bind(1, e.id).bind(2, e.workspace_id).bind_null_if_empty(3, e.plan_id).bind(4, e.kind).bind(5, e.status);
  st.bind(6, e.exit_code).bind(7, e.started_at).bind(8, e.finished_at);
  return run(db_, st, "inserting an execution");
}

Status Store::finish_execution(const std::string& id, const std::string& status, std::optional<int64_t> exit_code,
                               int64_t finished_at, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "UPDATE executions SET status=?, exit_code=?, finished_at=?, reason=? WHERE id=?;");
  st.bind(1, status).bind(2, exit_code).bind(3, finished_at).bind(4, reason).bind(5, id);
  return run(db_, st, "finishing an execution");
}

Status Store::insert_step(const StepRecord& s) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_,
          "INSERT INTO steps(execution_id, seq, step_id, title, command_json, cwd, status, exit_code, signal, "
          "timed_out, duration_ms, stdout, stderr, output_truncated, result_json, started_at, finished_at, "
          "details_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);");
  st.bind(1, s.execution_id).bind(2, s.seq).bind(3, s.step_id).bind(4, s.title).bind(5, s.command_json);
  st.bind(6, s.cwd).bind(7, s.status).bind(8, s.exit_code).bind(9, s.signal).bind(10, int64_t{s.timed_out});
  st.bind(11, s.duration_ms).bind(12, s.stdout_text).bind(13, s.stderr_text).bind(14, int64_t{s.output_truncated});
  st.bind(15, s.result_json).bind(16, s.started_at).bind(17, s.finished_at).bind(18, s.details_json);
  return run(db_, st, "inserting a step");
}

Status Store::update_step_details(const std::string& execution_id, const std::string& step_id,
                                  const std::string& details_json) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "UPDATE steps SET details_json=? WHERE execution_id=? AND step_id=?;");
  st.bind(1, details_json).bind(2, execution_id).bind(3, step_id);
  return run(db_, st, "updating a step");
}

namespace {

constexpr const char* kExecutionColumns =
    "id, workspace_id, COALESCE(plan_id, ''), kind, status, exit_code, started_at, finished_at, rowid, reason";
constexpr auto kExecutionFields =
    std::make_tuple(&ExecutionRecord::id, &ExecutionRecord::workspace_id, &ExecutionRecord::plan_id,
                    &ExecutionRecord::kind, &ExecutionRecord::status, &ExecutionRecord::exit_code,
                    &ExecutionRecord::started_at, &ExecutionRecord::finished_at, &ExecutionRecord::rowid,
                    &ExecutionRecord::reason);

constexpr const char* kStepColumns =
    "seq, step_id, title, command_json, cwd, status, exit_code, signal, timed_out, duration_ms, stdout, "
    "stderr, output_truncated, result_json, started_at, finished_at, details_json";
constexpr auto kStepFields =
    std::make_tuple(&StepRecord::seq, &StepRecord::step_id, &StepRecord::title, &StepRecord::command_json,
                    &StepRecord::cwd, &StepRecord::status, &StepRecord::exit_code, &StepRecord::signal,
                    &StepRecord::timed_out, &StepRecord::duration_ms, &StepRecord::stdout_text,
                    &StepRecord::stderr_text, &StepRecord::output_truncated, &StepRecord::result_json,
                    &StepRecord::started_at, &StepRecord::finished_at, &StepRecord::details_json);

}  // namespace

Status Store::load_steps(ExecutionRecord& e) const {
  Stmt s(db_,
         (std::string("SELECT ") + kStepColumns + " FROM steps WHERE execution_id=? ORDER BY seq;").c_str());
  if (!s.ok()) return db_error("listing steps", db_);
  s.bind(1, e.id);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    StepRecord r = read_row<StepRecord>(s, kStepFields);
    r.execution_id = e.id;  // the key the rows were selected by, not a column
    e.steps.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_error("listing steps", db_);
  return ok_status();
}

Result<std::vector<ExecutionRecord>> Store::list_executions(const ExecutionQuery& q) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kExecutionColumns + " FROM executions WHERE workspace_id=?";
  if (!q.plan_id.empty()) sql += " AND plan_id=?";
  if (!q.status.empty()) sql += " AND status=?";
  if (q.since_ms > 0) sql += " AND started_at>=?";
  if (q.before_started_at > 0) sql += " AND (started_at<? OR (started_at=? AND rowid<?))";
  sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?;";
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return db_error("listing executions", db_);
  int i = 1;
  st.bind(i++, q.workspace_id);
  if (!q.plan_id.empty()) st.bind(i++, q.plan_id);
  if (!q.status.empty()) st.bind(i++, q.status);
  if (q.since_ms > 0) st.bind(i++, q.since_ms);
  if (q.before_started_at > 0) {
    st.bind(i, q.before_started_at).bind(i + 1, q.before_started_at).bind(i + 2, q.before_rowid);
    i += 3;
  }
  st.bind(i++, q.limit);
  std::vector<ExecutionRecord> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_row<ExecutionRecord>(st, kExecutionFields));
  if (rc != SQLITE_DONE) return db_error("listing executions", db_);
  for (auto& e : out) {
    if (auto s = load_steps(e); !s) return s.error();
  }
  return out;
}

Result<std::optional<ExecutionRecord>> Store::get_execution(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, (std::string("SELECT ") + kExecutionColumns + " FROM executions WHERE id=?;").c_str());
  if (!st.ok()) return db_error("reading an execution", db_);
  st.bind(1, id);
  int rc = st.step();
  if (rc == SQLITE_DONE) return std::optional<ExecutionRecord>();
  if (rc != SQLITE_ROW) return db_error("reading an execution", db_);
  ExecutionRecord e = read_row<ExecutionRecord>(st, kExecutionFields);
  if (auto s = load_steps(e); !s) return s.error();
  return std::optional<ExecutionRecord>(std::move(e));
}

}  // namespace isb
