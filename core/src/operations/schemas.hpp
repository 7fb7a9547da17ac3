// schemas.hpp: JSON Schema fragments shared by several operations, so that a
// shape (a workspace, a plan step, an executed step) is written once.
#pragma once

#include <string>

namespace isb::operations::schemas {

inline const std::string kWorkspaceId =
    R"({"type":"string","minLength":1,"maxLength":64,"description":"Workspace id: 1-64 characters from A-Z a-z 0-9 _ . - starting with a letter or digit"})";

inline const std::string kWorkspace = R"({
  "type":"object",
  "required":["workspace_id","path","source_path","backend","status","created_at","isolation","resource_limits"],
  "properties":{
    "workspace_id":{"type":"string"},
    "path":{"type":"string","description":"Directory of the workspace on the server's host"},
    "source_path":{"type":"string"},
    "backend":{"type":"string","description":"Isolation backend plugin id"},
    "status":{"type":"string","enum":["active","destroyed"]},
    "created_at":{"type":"string"},
    "last_used_at":{"type":"string"},
    "isolation":{"type":"object","description":"Which protections the backend enforces here and which it does not"},
    "resource_limits":{"type":"object"},
    "copy":{"type":"object"}
  }})";

inline const std::string kPlanStep = R"({
  "type":"object",
  "required":["id","title","phase","cwd","depends_on","timeout_s","retryable","retry","continue_on_error","artifacts","provenance"],
  "properties":{
    "id":{"type":"string"},
    "title":{"type":"string"},
    "phase":{"type":"string","enum":["setup","install","build","test","lint","format","run","clean","custom"]},
    "argv":{"type":"array","items":{"type":"string"}},
    "shell":{"type":"string"},
    "cwd":{"type":"string","description":"Relative to the workspace root"},
    "env":{"type":"object","additionalProperties":{"type":"string"}},
    "timeout_s":{"type":["integer","null"],"description":"null: performance.operation_timeout"},
    "depends_on":{"type":"array","items":{"type":"string"}},
    "retryable":{"type":"boolean","description":"Only retryable steps are retried"},
    "retry":{"type":"object","required":["attempts","backoff_ms"],
      "properties":{"attempts":{"type":"integer"},"backoff_ms":{"type":"integer"}}},
    "continue_on_error":{"type":"boolean"},
    "artifacts":{"type":"array","items":{"type":"object","required":["type","path"],
      "properties":{"type":{"type":"string","enum":["junit"]},"path":{"type":"string"}}}},
    "provenance":{"type":"object","description":"Which fact produced the step: planner, analysis fact, evidence"}
  }})";

//! A step as a client writes it in create_task_plan(steps) and update_plan.
inline const std::string kStepInput = R"({
  "type":"object",
  "additionalProperties":false,
  "properties":{
    "id":{"type":"string","maxLength":64,"description":"Unique id of A-Z a-z 0-9 - _ . characters; default step-<n>"},
    "title":{"type":"string","maxLength":512},
    "name":{"type":"string","maxLength":512,"description":"Same as title"},
    "phase":{"type":"string","enum":["setup","install","build","test","lint","format","run","clean","custom"]},
    "command":{"type":["string","array"],"maxLength":65536,"maxItems":4096,"items":{"type":"string","maxLength":65536},"description":"A shell line, or argv"},
    "argv":{"type":"array","items":{"type":"string","maxLength":65536},"minItems":1,"maxItems":4096},
    "shell":{"type":"string","minLength":1,"maxLength":65536},
    "cwd":{"type":"string","maxLength":4096,"description":"Relative to the workspace root; default ."},
    "env":{"type":"object","maxProperties":256,"propertyNames":{"maxLength":256},"additionalProperties":{"type":"string","maxLength":32768}},
    "timeout_s":{"type":["integer","null"],"minimum":1,"maximum":86400,"description":"null or absent: performance.operation_timeout"},
    "depends_on":{"type":"array","maxItems":200,"items":{"type":"string","maxLength":64}},
    "retryable":{"type":"boolean","default":false},
    "retry":{"type":"object","additionalProperties":false,"properties":{
      "attempts":{"type":"integer","minimum":1,"maximum":10},"backoff_ms":{"type":"integer","minimum":0,"maximum":60000}}},
    "continue_on_error":{"type":"boolean","default":false},
    "artifacts":{"type":"array","maxItems":100,"items":{"type":"object","required":["type","path"],"additionalProperties":false,
      "properties":{"type":{"type":"string","enum":["junit"]},"path":{"type":"string","maxLength":4096}}}},
    "provenance":{"type":"object","maxProperties":64,"description":"Kept as given (at most 16 KiB as JSON), so that steps of get_plan can be edited and sent back"}
  }})";

inline const std::string kPlanStatus =
    R"({"type":"string","enum":["draft","pending_approval","approved","rejected","executing","completed","failed","cancelled","interrupted"]})";

inline const std::string kPlan = R"({
  "type":"object",
  "required":["plan_id","workspace_id","task","planner","status","requires_approval","created_at","steps","intents"],
  "properties":{
    "plan_id":{"type":"string"},
    "workspace_id":{"type":"string"},
    "task":{"type":"string"},
    "planner":{"type":"string","description":"Planner plugin id, or explicit for client-given steps"},
    "status":)" + kPlanStatus + R"(,
    "status_reason":{"type":"string","description":"Why it was rejected, failed, cancelled or interrupted"},
    "requires_approval":{"type":"boolean"},
    "created_at":{"type":"string"},
    "approved_at":{"type":"string","description":"Empty until approved"},
    "updated_at":{"type":"string","description":"Empty until update_plan"},
    "scope":{"type":["array","null"],"items":{"type":"string"},"description":"Project paths the task named"},
    "intents":{"type":"array","items":{"type":"string"}},
    "steps":{"type":"array","items":)" + kPlanStep + R"(}
  }})";

inline const std::string kExecutedStepProperties = R"(
    "step_id":{"type":"string"},
    "title":{"type":"string"},
    "command":{"type":"object"},
    "cwd":{"type":"string"},
    "phase":{"type":"string"},
    "status":{"type":"string","enum":["succeeded","failed","timed_out","cancelled","skipped"]},
    "reason":{"type":"string","description":"Why the step did not succeed: skipped, timed out, cancelled, sandbox error"},
    "exit_code":{"type":["integer","null"]},
    "signal":{"type":["integer","null"]},
    "timed_out":{"type":"boolean"},
    "duration_ms":{"type":"integer"},
    "output_truncated":{"type":"boolean"},
    "started_at":{"type":"string"},
    "finished_at":{"type":"string"},
    "usage":{"type":["object","null"]},
    "attempts":{"type":"array","items":{"type":"object","required":["attempt","status","exit_code","duration_ms"],
      "properties":{"attempt":{"type":"integer"},"status":{"type":"string"},"exit_code":{"type":["integer","null"]},
        "duration_ms":{"type":"integer"}}}},
    "tests":{"type":["object","null"],"required":["passed","failed","skipped","total","failing_tests","source"],
      "properties":{"passed":{"type":"integer"},"failed":{"type":"integer"},"skipped":{"type":"integer"},
        "total":{"type":"integer"},"failing_tests":{"type":"array","items":{"type":"string"}},
        "source":{"type":"string","description":"junit, junit:<path> or summary:<runner>"}}},
    "files":{"type":["object","null"],"description":"Files the step added, modified and deleted, seen by path, size and mtime",
      "properties":{"added":{"type":"array","items":{"type":"string"}},"modified":{"type":"array","items":{"type":"string"}},
        "deleted":{"type":"array","items":{"type":"string"}},"added_count":{"type":"integer"},
        "modified_count":{"type":"integer"},"deleted_count":{"type":"integer"},"complete":{"type":"boolean"}}},
    "changed_files_scope":{"type":["string","null"],"enum":["step","concurrent_group",null],
      "description":"step: files are this step's own changes; concurrent_group: the step overlapped others (concurrent_steps) and files are the changes of that whole group, which cannot be told apart"},
    "concurrent_steps":{"type":"array","items":{"type":"string"},"description":"With concurrent_group: the ids of the overlapping steps"},
    "killed_by":{"type":["string","null"],"description":"The limit that stopped the command: timeout, memory, pids (from the backend) or disk, for resource_limits.disk_mb"},
    "logs":{"type":["object","null"],"description":"Full output files; read them with get_execution_log"})";

inline const std::string kExecutedStep = R"({
  "type":"object",
  "required":["step_id","title","status","exit_code","timed_out","duration_ms"],
  "properties":{)" + kExecutedStepProperties + R"(,
    "stdout_tail":{"type":"string"},
    "stderr_tail":{"type":"string"}
  }})";

//! The "wait" argument of the tools that start an execution.
inline const std::string kWaitArgument =
    R"~({"type":["boolean","integer"],"minimum":0,"maximum":86400,"description":"How long to wait for the work before returning it as running (it goes on in the background either way): true or absent: performance.execution_wait_s (25 s unless configured); false or 0: return at once; a number: that many seconds, at most 50 (or performance.execution_wait_s when larger)"})~";

//! Offsets into a running execution's output (the "since" of a running
//! result), so that wait_execution returns only what follows them.
inline const std::string kSince = R"~({"type":"object","additionalProperties":false,
  "description":"Return only output after these byte offsets: pass the since of the previous running result. A command: stdout_offset and stderr_offset; a plan: steps.<step_id>.stdout_offset and stderr_offset. Absent: from the start",
  "properties":{
    "stdout_offset":{"type":"integer","minimum":0},
    "stderr_offset":{"type":"integer","minimum":0},
    "steps":{"type":"object","maxProperties":200,"additionalProperties":{"type":"object","additionalProperties":false,
      "properties":{"stdout_offset":{"type":"integer","minimum":0},"stderr_offset":{"type":"integer","minimum":0}}}}}})~";

//! An execution that was still running when the call returned.
inline const std::string kRunningExecution = R"~({
  "type":"object",
  "required":["execution_id","kind","workspace_id","plan_id","status","started_at","elapsed_ms","message","since","hint"],
  "properties":{
    "execution_id":{"type":"string"},
    "kind":{"type":"string","enum":["command","plan"]},
    "workspace_id":{"type":"string"},
    "plan_id":{"type":["string","null"]},
    "status":{"type":"string","enum":["running"],"description":"Still running in the background"},
    "started_at":{"type":"string"},
    "elapsed_ms":{"type":"integer"},
    "message":{"type":"string","description":"What runs now and the latest line it printed"},
    "step_id":{"type":"string","description":"A command: its one step"},
    "stdout":{"type":"string","description":"A command: output after the since offset (the newest 16 KiB at most)"},
    "stderr":{"type":"string"},
    "stdout_offset":{"type":"integer","description":"Where the output shown ends: the next since"},
    "stderr_offset":{"type":"integer"},
    "stdout_skipped_bytes":{"type":"integer","description":"Output after the since offset that is not shown (get_execution_log reads it)"},
    "stderr_skipped_bytes":{"type":"integer"},
    "steps":{"type":"array","description":"A plan: every step, with output after its since offsets once it started",
      "items":{"type":"object","required":["step_id","title","status"],"properties":{
        "step_id":{"type":"string"},"title":{"type":"string"},
        "status":{"type":"string","enum":["pending","running","succeeded","failed","timed_out","cancelled","skipped"]},
        "exit_code":{"type":["integer","null"]},
        "stdout":{"type":"string"},"stderr":{"type":"string"},
        "stdout_offset":{"type":"integer"},"stderr_offset":{"type":"integer"},
        "stdout_skipped_bytes":{"type":"integer"},"stderr_skipped_bytes":{"type":"integer"}}}},
    "since":{"type":"object","description":"Pass as since to wait_execution to get only the output that follows"},
    "hint":{"type":"string"}
  }})~";

}  // namespace isb::operations::schemas
