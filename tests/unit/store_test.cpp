// store_test.cpp: the SQLite store: WAL mode, schema migrations (including a
// database built by hand at version 1), crash recovery on open, and the
// record round trips.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isb/core/store.hpp>

#include "store/migrations.hpp"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace isb {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isb-store-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    ASSERT_NE(p, nullptr);
    dir_ = p;
    db_path_ = dir_ + "/state/sandbox.db";  // state/ does not exist yet: open creates it
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Store> open_ok() {
    auto r = Store::open(db_path_);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(*r) : nullptr;
  }

  // Runs SQL on a separate raw connection (the test's view of the file).
  void raw_exec(const std::string& sql) {
    fs::create_directories(fs::path(db_path_).parent_path());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in: " << sql;
    sqlite3_free(err);
    sqlite3_close(db);
  }

  // The rows of a one-column query, as text.
  std::vector<std::string> raw_query(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      out.push_back(t ? t : "NULL");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

  static WorkspaceRecord workspace(const std::string& id, int64_t created_at = 1000) {
    WorkspaceRecord w;
    w.id = id;
    w.source_path = "/home/u/" + id;
    w.path = "/tmp/ws/" + id;
    w.backend = "process";
    w.sandbox_id = "sb-" + id;
    w.status = "active";
    w.isolation_json = R"({"backend":"process"})";
    w.resource_limits_json = R"({"memory_mb":512})";
    w.created_at = created_at;
    w.last_used_at = created_at + 1;
    return w;
  }

  static ExecutionRecord execution(const std::string& id, const std::string& ws, int64_t started_at,
                                   const std::string& status = "succeeded") {
    ExecutionRecord e;
    e.id = id;
    e.workspace_id = ws;
    e.kind = "command";
    e.status = status;
    e.started_at = started_at;
    return e;
  }

  static ExecutionQuery query(const std::string& ws, const std::string& plan_id = "", int64_t limit = 50) {
    ExecutionQuery q;
    q.workspace_id = ws;
    q.plan_id = plan_id;
    q.limit = limit;
    return q;
  }

  std::string dir_;
  std::string db_path_;
};

TEST_F(StoreTest, FreshDatabaseIsAtLatestVersionInWalMode) {
  ASSERT_EQ(Store::latest_schema_version(), static_cast<int>(store_internal::kMigrations.size()));
  ASSERT_EQ(Store::latest_schema_version(), 4);
  auto store = open_ok();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version(), 4);
  EXPECT_EQ(store->path(), db_path_);
  EXPECT_TRUE(fs::exists(db_path_));
  EXPECT_THAT(raw_query("PRAGMA journal_mode;"), ElementsAre("wal"));
  EXPECT_THAT(raw_query("SELECT version FROM schema_migrations ORDER BY version;"), ElementsAre("1", "2", "3", "4"));
  EXPECT_THAT(raw_query("SELECT name FROM sqlite_master WHERE type='index' AND name='executions_by_workspace';"),
              ElementsAre("executions_by_workspace"));
}

TEST_F(StoreTest, MigratesVersionOneDatabase) {
  raw_exec(std::string("BEGIN;") + store_internal::kMigrations[0] +
           "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"
           "INSERT INTO schema_migrations(version, applied_at) VALUES (1, 1);"
           "INSERT INTO workspaces(id, source_path, path, backend, sandbox_id, status, created_at, last_used_at) "
           "VALUES ('old-ws', '/src/old', '/ws/old', 'process', 'sb-old', 'active', 10, 20);"
           "INSERT INTO executions(id, workspace_id, kind, status, exit_code, started_at, finished_at) "
           "VALUES ('ex-old', 'old-ws', 'command', 'succeeded', 0, 30, 40);"
           "COMMIT;");
  ASSERT_THAT(raw_query("SELECT name FROM sqlite_master WHERE name='executions_by_workspace';"), ElementsAre());

  auto store = open_ok();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version(), 4);
  EXPECT_THAT(raw_query("SELECT version FROM schema_migrations ORDER BY version;"), ElementsAre("1", "2", "3", "4"));
  EXPECT_THAT(raw_query("SELECT name FROM sqlite_master WHERE type='index' AND name LIKE '%_by_workspace' "
                        "ORDER BY name;"),
              ElementsAre("analyses_by_workspace", "executions_by_workspace", "plans_by_workspace"));

  auto w = store->get_workspace("old-ws");
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE(w->has_value());
  EXPECT_EQ((*w)->source_path, "/src/old");
  EXPECT_EQ((*w)->sandbox_id, "sb-old");
  EXPECT_EQ((*w)->isolation_json, "{}");  // the v1 column default
  EXPECT_EQ((*w)->created_at, 10);
  auto ex = store->list_executions(query("old-ws"));
  ASSERT_TRUE(ex.ok()) << ex.error().message;
  ASSERT_EQ(ex->size(), 1u);
  EXPECT_EQ((*ex)[0].id, "ex-old");
  EXPECT_EQ((*ex)[0].exit_code, 0);
  EXPECT_EQ((*ex)[0].finished_at, 40);
}

TEST_F(StoreTest, RefusesNewerSchemaVersion) {
  const int newer = Store::latest_schema_version() + 1;
  raw_exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"
           "INSERT INTO schema_migrations(version, applied_at) VALUES (" +
           std::to_string(newer) + ", 1);");
  auto r = Store::open(db_path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(r.error().message, HasSubstr(db_path_));
  EXPECT_THAT(r.error().message, HasSubstr("schema version " + std::to_string(newer)));
  EXPECT_THAT(r.error().message, HasSubstr("newer than this server supports (4)"));
  EXPECT_THAT(r.error().message, HasSubstr("upgrade the server"));
  // Nothing was applied on top of the newer schema.
  EXPECT_THAT(raw_query("SELECT version FROM schema_migrations;"), ElementsAre(std::to_string(newer)));
}

TEST_F(StoreTest, ReopenIsIdempotent) {
  {
    auto store = open_ok();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->insert_workspace(workspace("keep")).ok());
  }
  for (int i = 0; i < 2; ++i) {
    auto store = open_ok();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->schema_version(), 4);
    auto n = store->count_active_workspaces();
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1);
  }
  EXPECT_THAT(raw_query("SELECT version FROM schema_migrations ORDER BY version;"), ElementsAre("1", "2", "3", "4"));
}

TEST_F(StoreTest, RunningExecutionsBecomeInterruptedOnOpen) {
  const int64_t before = now_ms();
  {
    auto store = open_ok();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->insert_workspace(workspace("w")).ok());
    ASSERT_TRUE(store->insert_execution(execution("running-1", "w", 100, "running")).ok());
    auto done = execution("done-1", "w", 50, "succeeded");
    done.exit_code = 0;
    done.finished_at = 60;
    ASSERT_TRUE(store->insert_execution(done).ok());
    PlanRecord p;
    p.id = "plan-1";
    p.workspace_id = "w";
    p.task = "run tests";
    p.planner = "rules";
    p.status = "executing";
    p.created_at = 10;
    ASSERT_TRUE(store->insert_plan(p).ok());
  }
  auto store = open_ok();
  ASSERT_TRUE(store);
  auto ex = store->list_executions(query("w"));
  ASSERT_TRUE(ex.ok()) << ex.error().message;
  ASSERT_EQ(ex->size(), 2u);
  EXPECT_EQ((*ex)[0].id, "running-1");
  EXPECT_EQ((*ex)[0].status, "interrupted");
  EXPECT_GE((*ex)[0].finished_at, before);
  EXPECT_EQ((*ex)[1].id, "done-1");
  EXPECT_EQ((*ex)[1].status, "succeeded");
  EXPECT_EQ((*ex)[1].finished_at, 60);
  auto plan = store->get_plan("plan-1");
  ASSERT_TRUE(plan.ok() && plan->has_value());
  EXPECT_EQ((*plan)->status, "interrupted");
  EXPECT_EQ((*plan)->status_reason, "the server stopped while the plan was executing");
}

TEST_F(StoreTest, WorkspaceRoundTrip) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  WorkspaceRecord a = workspace("a", 1000);
  WorkspaceRecord b = workspace("b", 2000);
  ASSERT_TRUE(store->insert_workspace(b).ok());
  ASSERT_TRUE(store->insert_workspace(a).ok());
  auto dup = store->insert_workspace(a);
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.error().message, HasSubstr("inserting a workspace"));

  auto got = store->get_workspace("a");
  ASSERT_TRUE(got.ok() && got->has_value());
  const WorkspaceRecord& g = **got;
  EXPECT_EQ(g.id, "a");
  EXPECT_EQ(g.source_path, "/home/u/a");
  EXPECT_EQ(g.path, "/tmp/ws/a");
  EXPECT_EQ(g.backend, "process");
  EXPECT_EQ(g.sandbox_id, "sb-a");
  EXPECT_EQ(g.status, "active");
  EXPECT_EQ(g.isolation_json, R"({"backend":"process"})");
  EXPECT_EQ(g.resource_limits_json, R"({"memory_mb":512})");
  EXPECT_EQ(g.created_at, 1000);
  EXPECT_EQ(g.last_used_at, 1001);
  EXPECT_EQ(g.destroyed_at, 0);

  auto missing = store->get_workspace("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto list = store->list_workspaces();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "a");  // oldest first
  EXPECT_EQ((*list)[1].id, "b");

  ASSERT_TRUE(store->touch_workspace("a", 5000).ok());
  EXPECT_EQ((*store->get_workspace("a"))->last_used_at, 5000);

  ASSERT_TRUE(store->mark_workspace_destroyed("a", 6000).ok());
  EXPECT_EQ(*store->count_active_workspaces(), 1);
  auto active = store->list_workspaces(false);
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].id, "b");
  auto all = store->list_workspaces(true);
  ASSERT_EQ(all->size(), 2u);
  auto destroyed = store->get_workspace("a");
  EXPECT_EQ((*destroyed)->status, "destroyed");
  EXPECT_EQ((*destroyed)->destroyed_at, 6000);

  ASSERT_TRUE(store->delete_workspace("b").ok());
  EXPECT_FALSE(store->get_workspace("b")->has_value());
  EXPECT_EQ(*store->count_active_workspaces(), 0);
}

TEST_F(StoreTest, ExecutionsWithStepsNewestFirst) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_workspace(workspace("w")).ok());
  ASSERT_TRUE(store->insert_workspace(workspace("other")).ok());
  auto e1 = execution("e1", "w", 100);
  e1.exit_code = 0;
  auto e3 = execution("e3", "w", 300, "failed");
  e3.kind = "plan";
  e3.plan_id = "p1";
  e3.exit_code = 2;
  auto e2 = execution("e2", "w", 200);
  ASSERT_TRUE(store->insert_execution(e1).ok());
  ASSERT_TRUE(store->insert_execution(e3).ok());
  ASSERT_TRUE(store->insert_execution(e2).ok());
  ASSERT_TRUE(store->insert_execution(execution("x", "other", 999)).ok());

  // Steps inserted out of order come back by seq.
  for (int64_t seq : {2, 1}) {
    StepRecord s;
    s.execution_id = "e3";
    s.seq = seq;
    s.step_id = "step-" + std::to_string(seq);
    s.title = "Step " + std::to_string(seq);
    s.command_json = R"({"argv":["make"]})";
    s.status = seq == 1 ? "succeeded" : "failed";
    if (seq == 1) s.exit_code = 0;
    else s.signal = 9;
    s.timed_out = seq == 2;
    s.duration_ms = 10 * seq;
    s.stdout_text = "out" + std::to_string(seq);
    s.stderr_text = "err" + std::to_string(seq);
    s.output_truncated = seq == 2;
    s.started_at = 300 + seq;
    s.finished_at = 310 + seq;
    ASSERT_TRUE(store->insert_step(s).ok());
  }

  auto r = store->list_executions(query("w"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].id, "e3");
  EXPECT_EQ((*r)[1].id, "e2");
  EXPECT_EQ((*r)[2].id, "e1");
  EXPECT_EQ((*r)[0].plan_id, "p1");
  EXPECT_EQ((*r)[1].plan_id, "");
  EXPECT_EQ((*r)[0].exit_code, 2);
  EXPECT_FALSE((*r)[1].exit_code.has_value());
  EXPECT_TRUE((*r)[1].steps.empty());

  const auto& steps = (*r)[0].steps;
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].seq, 1);
  EXPECT_EQ(steps[0].step_id, "step-1");
  EXPECT_EQ(steps[0].exit_code, 0);
  EXPECT_FALSE(steps[0].signal.has_value());
  EXPECT_FALSE(steps[0].timed_out);
  EXPECT_EQ(steps[0].stdout_text, "out1");
  EXPECT_EQ(steps[1].seq, 2);
  EXPECT_FALSE(steps[1].exit_code.has_value());
  EXPECT_EQ(steps[1].signal, 9);
  EXPECT_TRUE(steps[1].timed_out);
  EXPECT_TRUE(steps[1].output_truncated);
  EXPECT_EQ(steps[1].stderr_text, "err2");
  EXPECT_EQ(steps[1].duration_ms, 20);
  EXPECT_EQ(steps[1].command_json, R"({"argv":["make"]})");

  auto limited = store->list_executions(query("w", "", 2));
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 2u);
  EXPECT_EQ((*limited)[1].id, "e2");

  auto by_plan = store->list_executions(query("w", "p1"));
  ASSERT_TRUE(by_plan.ok());
  ASSERT_EQ(by_plan->size(), 1u);
  EXPECT_EQ((*by_plan)[0].id, "e3");

  ASSERT_TRUE(store->finish_execution("e2", "cancelled", std::nullopt, 250, "the execution was cancelled").ok());
  auto after = store->list_executions(query("w"));
  EXPECT_EQ((*after)[1].status, "cancelled");
  EXPECT_EQ((*after)[1].finished_at, 250);
  EXPECT_EQ((*after)[1].reason, "the execution was cancelled");
  auto one = store->get_execution("e2");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((**one).reason, "the execution was cancelled");
}

TEST_F(StoreTest, PlanStatusUpdates) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_workspace(workspace("w")).ok());
  PlanRecord p;
  p.id = "plan-1";
  p.workspace_id = "w";
  p.task = "run the tests";
  p.planner = "rules";
  p.status = "pending_approval";
  p.plan_json = R"({"steps":[]})";
  p.created_at = 100;
  ASSERT_TRUE(store->insert_plan(p).ok());

  auto got = store->get_plan("plan-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->status, "pending_approval");
  EXPECT_EQ((*got)->task, "run the tests");
  EXPECT_EQ((*got)->planner, "rules");
  EXPECT_EQ((*got)->plan_json, R"({"steps":[]})");
  EXPECT_EQ((*got)->approved_at, 0);

  ASSERT_TRUE(store->update_plan_status("plan-1", "approved", 200).ok());
  got = store->get_plan("plan-1");
  EXPECT_EQ((*got)->status, "approved");
  EXPECT_EQ((*got)->approved_at, 200);

  // Without approved_at the approval time is kept.
  ASSERT_TRUE(store->update_plan_status("plan-1", "completed").ok());
  got = store->get_plan("plan-1");
  EXPECT_EQ((*got)->status, "completed");
  EXPECT_EQ((*got)->approved_at, 200);

  auto missing = store->get_plan("plan-2");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // Foreign keys are on: a plan for an unknown workspace is refused.
  PlanRecord orphan = p;
  orphan.id = "plan-3";
  orphan.workspace_id = "ghost";
  EXPECT_FALSE(store->insert_plan(orphan).ok());
}

TEST_F(StoreTest, ExecutionQueryFiltersByStatusAndSinceAndPagesByKeyset) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_workspace(workspace("w")).ok());
  // Two executions share a start time: the cursor must not lose or repeat one.
  for (auto e : {execution("e1", "w", 100), execution("e2", "w", 200, "failed"), execution("e3", "w", 200),
                 execution("e4", "w", 300, "failed")}) {
    ASSERT_TRUE(store->insert_execution(e).ok());
  }
  auto ids = [](const Result<std::vector<ExecutionRecord>>& r) {
    std::vector<std::string> out;
    if (r.ok()) {
      for (const auto& e : *r) out.push_back(e.id);
    }
    return out;
  };
  ExecutionQuery q = query("w", "", 2);
  auto page1 = store->list_executions(q);
  ASSERT_TRUE(page1.ok()) << page1.error().message;
  EXPECT_THAT(ids(page1), ElementsAre("e4", "e3"));
  q.before_started_at = page1->back().started_at;
  q.before_rowid = page1->back().rowid;
  EXPECT_THAT(ids(store->list_executions(q)), ElementsAre("e2", "e1"));

  ExecutionQuery failed = query("w");
  failed.status = "failed";
  EXPECT_THAT(ids(store->list_executions(failed)), ElementsAre("e4", "e2"));
  ExecutionQuery since = query("w");
  since.since_ms = 200;
  EXPECT_THAT(ids(store->list_executions(since)), ElementsAre("e4", "e3", "e2"));
}

TEST_F(StoreTest, StepDetailsAndOneExecutionRoundTrip) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_workspace(workspace("w")).ok());
  ASSERT_TRUE(store->insert_execution(execution("e1", "w", 100, "running")).ok());
  StepRecord s;
  s.execution_id = "e1";
  s.step_id = "test";
  s.title = "tests";
  s.status = "failed";
  s.details_json = R"({"tests":{"passed":2,"failed":1}})";
  ASSERT_TRUE(store->insert_step(s).ok());
  auto e = store->get_execution("e1");
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->status, "running");
  ASSERT_EQ((*e)->steps.size(), 1u);
  EXPECT_EQ((*e)->steps[0].details_json, R"({"tests":{"passed":2,"failed":1}})");
  auto missing = store->get_execution("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(StoreTest, ReplacedPlanLosesItsApprovalAndListsNewestFirst) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_workspace(workspace("w")).ok());
  for (int i = 1; i <= 2; ++i) {
    PlanRecord p;
    p.id = "plan-" + std::to_string(i);
    p.workspace_id = "w";
    p.task = "t";
    p.planner = "explicit";
    p.status = "approved";
    p.created_at = i * 10;
    p.approved_at = i * 10;
    ASSERT_TRUE(store->insert_plan(p).ok());
  }
  ASSERT_TRUE(store->replace_plan("plan-1", R"({"steps":[]})", "pending_approval", 99).ok());
  ASSERT_TRUE(store->set_plan_status_reason("plan-2", "rejected", "wrong target").ok());
  auto plans = store->list_plans("w", 10);
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 2u);
  EXPECT_EQ((*plans)[0].id, "plan-2");
  EXPECT_EQ((*plans)[0].status, "rejected");
  EXPECT_EQ((*plans)[0].status_reason, "wrong target");
  EXPECT_EQ((*plans)[1].status, "pending_approval");
  EXPECT_EQ((*plans)[1].approved_at, 0);
  EXPECT_EQ((*plans)[1].updated_at, 99);
  EXPECT_EQ((*plans)[1].plan_json, R"({"steps":[]})");
}

}  // namespace
}  // namespace isb
