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
  "required":["id","title","phase","cwd"],
  "properties":{
    "id":{"type":"string"},
    "title":{"type":"string"},
    "phase":{"type":"string"},
    "argv":{"type":"array","items":{"type":"string"}},
    "shell":{"type":"string"},
    "cwd":{"type":"string"},
    "timeout_s":{"type":["integer","null"]},
    "depends_on":{"type":"array","items":{"type":"string"}},
    "continue_on_error":{"type":"boolean"},
    "provenance":{"type":"object"}
  }})";

inline const std::string kPlan = R"({
  "type":"object",
  "required":["plan_id","workspace_id","task","planner","status","requires_approval","created_at","steps","intents"],
  "properties":{
    "plan_id":{"type":"string"},
    "workspace_id":{"type":"string"},
    "task":{"type":"string"},
    "planner":{"type":"string"},
    "status":{"type":"string","enum":["pending_approval","approved","executing","completed","failed","rejected"]},
    "requires_approval":{"type":"boolean"},
    "created_at":{"type":"string"},
    "approved_at":{"type":"string","description":"Empty until approved"},
    "intents":{"type":"array","items":{"type":"string"}},
    "steps":{"type":"array","items":)" + kPlanStep + R"(}
  }})";

inline const std::string kExecutedStepProperties = R"(
    "step_id":{"type":"string"},
    "title":{"type":"string"},
    "command":{"type":"object"},
    "cwd":{"type":"string"},
    "status":{"type":"string","enum":["succeeded","failed","timed_out","cancelled","skipped"]},
    "exit_code":{"type":["integer","null"]},
    "signal":{"type":["integer","null"]},
    "timed_out":{"type":"boolean"},
    "duration_ms":{"type":"integer"},
    "output_truncated":{"type":"boolean"},
    "started_at":{"type":"string"},
    "finished_at":{"type":"string"},
    "usage":{"type":["object","null"]})";

inline const std::string kExecutedStep = R"({
  "type":"object",
  "required":["step_id","title","status","exit_code","timed_out","duration_ms"],
  "properties":{)" + kExecutedStepProperties + R"(,
    "stdout_tail":{"type":"string"},
    "stderr_tail":{"type":"string"}
  }})";

}  // namespace isb::operations::schemas
