// migrations.hpp: the store's schema history. Migration N brings a database
// from version N-1 to N; entries are only ever appended, never edited, because
// databases in the field were created by the older ones.
#pragma once

#include <array>

namespace isb::store_internal {

inline constexpr std::array<const char*, 4> kMigrations = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  source_path TEXT NOT NULL,
  path TEXT NOT NULL,
  backend TEXT NOT NULL,
  sandbox_id TEXT NOT NULL,
  status TEXT NOT NULL,
  isolation_json TEXT NOT NULL DEFAULT '{}',
  resource_limits_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  destroyed_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE analyses (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  created_at INTEGER NOT NULL,
  analysis_json TEXT NOT NULL
);
CREATE TABLE plans (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  task TEXT NOT NULL,
  planner TEXT NOT NULL,
  status TEXT NOT NULL,
  plan_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  approved_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE executions (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  plan_id TEXT,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  exit_code INTEGER,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE steps (
  execution_id TEXT NOT NULL REFERENCES executions(id),
  seq INTEGER NOT NULL,
  step_id TEXT NOT NULL,
  title TEXT NOT NULL,
  command_json TEXT NOT NULL,
  cwd TEXT NOT NULL,
  status TEXT NOT NULL,
  exit_code INTEGER,
  signal INTEGER,
  timed_out INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  stdout TEXT NOT NULL,
  stderr TEXT NOT NULL,
  output_truncated INTEGER NOT NULL,
  result_json TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  PRIMARY KEY (execution_id, seq)
);
)sql",
    // 2: history queries filter by workspace and sort by time.
    R"sql(
CREATE INDEX executions_by_workspace ON executions(workspace_id, started_at);
CREATE INDEX plans_by_workspace ON plans(workspace_id, created_at);
CREATE INDEX analyses_by_workspace ON analyses(workspace_id, created_at);
)sql",
    // 3: plan edits and rejection reasons; per-step details (attempts, test
    // results, changed files, log files) kept as one JSON document per step.
    R"sql(
ALTER TABLE plans ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE steps ADD COLUMN details_json TEXT NOT NULL DEFAULT '{}';
CREATE INDEX executions_by_status ON executions(workspace_id, status, started_at);
)sql",
    // 4: why an execution did not succeed, so that its result can be given
    // again long after it ended (wait_execution).
    R"sql(
ALTER TABLE executions ADD COLUMN reason TEXT NOT NULL DEFAULT '';
)sql",
};

}  // namespace isb::store_internal
