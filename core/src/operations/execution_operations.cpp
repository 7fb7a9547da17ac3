// execution_operations.cpp: execute_task_plan, exec_command, get_execution_history.
#include "operations/operations.hpp"
#include "operations/schemas.hpp"

namespace isb::operations {

Status register_execution_operations(OperationRegistry& r, const Services& s) {
  auto* ex = s.executions;
  if (auto st = r.add({
          .name = "execute_task_plan",
          .title = "Execute task plan",
          .description = "Run the steps of an approved plan inside the workspace's sandbox, in order, stopping at "
                         "the first failing step. Output is streamed as progress; every step is recorded in the "
                         "execution history.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["plan_id"],
            "properties":{"plan_id":{"type":"string","minLength":1}}})",
          .output_schema = R"({"type":"object",
            "required":["execution_id","plan_id","workspace_id","status","exit_code","duration_ms","steps"],
            "properties":{
              "execution_id":{"type":"string"},"plan_id":{"type":"string"},"workspace_id":{"type":"string"},
              "status":{"type":"string","enum":["succeeded","failed","cancelled"]},
              "exit_code":{"type":["integer","null"]},
              "started_at":{"type":"string"},"finished_at":{"type":"string"},
              "duration_ms":{"type":"integer"},
              "steps":{"type":"array","items":)" + schemas::kExecutedStep + R"(}}})",
          .annotations = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false},
          .handler =
              [ex](const boost::json::object& args, CallContext& ctx) -> Result<boost::json::value> {
                return to_value(ex->execute_plan(arg_string(args, "plan_id"), ctx));
              },
      });
      !st) {
    return st;
  }
  if (auto st = r.add({
          .name = "exec_command",
          .title = "Run a command",
          .description = "Run one shell command line in the workspace's sandbox (working directory: the workspace "
                         "root) and return its exit code and output. Recorded in the execution history.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id","command"],
            "properties":{
              "workspace_id":)" + schemas::kWorkspaceId + R"(,
              "command":{"type":"string","minLength":1,"description":"Shell command line, run with /bin/sh -c"},
              "timeout_s":{"type":"integer","minimum":1,"maximum":86400,"description":"Wall-clock limit; default performance.operation_timeout"}}})",
          .output_schema = R"({"type":"object",
            "required":["execution_id","workspace_id","step_id","status","exit_code","timed_out","duration_ms","stdout","stderr"],
            "properties":{
              "execution_id":{"type":"string"},"workspace_id":{"type":"string"},)" +
                           schemas::kExecutedStepProperties + R"(,
              "stdout":{"type":"string"},"stderr":{"type":"string"}}})",
          .annotations = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false},
          .handler =
              [ex](const boost::json::object& args, CallContext& ctx) -> Result<boost::json::value> {
                return to_value(ex->exec_command(arg_string(args, "workspace_id"), arg_string(args, "command"),
                                                 arg_int(args, "timeout_s", 0), ctx));
              },
      });
      !st) {
    return st;
  }
  return r.add({
      .name = "get_execution_history",
      .title = "Execution history",
      .description = "List the executions of a workspace (plans and single commands), newest first, with each "
                     "step's command, status, exit code, duration and the tail of its output. Works for destroyed "
                     "workspaces too.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id"],
        "properties":{
          "workspace_id":)" + schemas::kWorkspaceId + R"(,
          "plan_id":{"type":"string","description":"Only executions of this plan"},
          "limit":{"type":"integer","minimum":1,"maximum":500,"default":50}}})",
      .output_schema = R"({"type":"object","required":["workspace_id","workspace_status","count","executions"],
        "properties":{
          "workspace_id":{"type":"string"},"workspace_status":{"type":"string"},"count":{"type":"integer"},
          "executions":{"type":"array","items":{"type":"object",
            "required":["execution_id","kind","plan_id","status","exit_code","started_at","steps"],
            "properties":{
              "execution_id":{"type":"string"},"kind":{"type":"string","enum":["plan","command"]},
              "plan_id":{"type":["string","null"]},
              "status":{"type":"string","enum":["running","succeeded","failed","cancelled","interrupted"]},
              "exit_code":{"type":["integer","null"]},"started_at":{"type":"string"},"finished_at":{"type":"string"},
              "duration_ms":{"type":"integer"},
              "steps":{"type":"array","items":)" + schemas::kExecutedStep + R"(}}}}}})",
      .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [ex](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(
            ex->history(arg_string(args, "workspace_id"), arg_string(args, "plan_id"), arg_int(args, "limit", 50)));
      },
  });
}

}  // namespace isb::operations
