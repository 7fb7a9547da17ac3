// execution_operations.cpp: execute_task_plan, exec_command, wait_execution,
// cancel_execution, get_execution_history, get_execution_log.
#include "operations/operations.hpp"
#include "operations/schemas.hpp"

#include <algorithm>

namespace isb::operations {

namespace {

// Points the result at the full logs of output it shows only in part.
Result<boost::json::value> with_log_links(Result<boost::json::object> r) {
  if (r) add_log_resource_links(*r);
  return to_value(std::move(r));
}

// Milliseconds to wait for, from a "wait" (boolean or seconds) or
// "timeout_s" (seconds) argument: absent or true is the configured default,
// false is 0, a number is capped.
int64_t wait_ms_of(const boost::json::object& args, const char* key, const ExecutionService& ex) {
  const boost::json::value* v = args.if_contains(key);
  int64_t seconds = ex.default_wait_s();
  if (v && v->is_bool()) {
    seconds = v->as_bool() ? seconds : 0;
  } else if (v) {
    seconds = std::clamp<int64_t>(json_fields::int_or(args, key, seconds), 0, ex.max_wait_s());
  }
  return seconds * 1000;
}

// The final result of an execution as exec_command and execute_task_plan
// give it (a plan's steps show the tails of their output).
const std::string& command_result_schema() {
  static const std::string s = R"({"type":"object",
    "required":["execution_id","workspace_id","step_id","status","exit_code","timed_out","duration_ms","stdout","stderr"],
    "properties":{
      "execution_id":{"type":"string"},"workspace_id":{"type":"string"},)" +
                               schemas::kExecutedStepProperties + R"(,
      "stdout":{"type":"string"},"stderr":{"type":"string"},)" + kResourceLinksProperty + R"(}})";
  return s;
}
const std::string& plan_result_schema() {
  static const std::string s = R"({"type":"object",
    "required":["execution_id","plan_id","workspace_id","status","exit_code","duration_ms","steps"],
    "properties":{
      "execution_id":{"type":"string"},"plan_id":{"type":"string"},"workspace_id":{"type":"string"},
      "status":{"type":"string","enum":["succeeded","failed","cancelled"]},
      "reason":{"type":"string","description":"Why it did not succeed"},
      "exit_code":{"type":["integer","null"]},
      "started_at":{"type":"string"},"finished_at":{"type":"string"},
      "duration_ms":{"type":"integer"},
      "steps":{"type":"array","items":)" + schemas::kExecutedStep + R"(},)" + kResourceLinksProperty + R"(}})";
  return s;
}

}  // namespace

Status register_execution_operations(OperationRegistry& r, const Services& s) {
  auto* ex = s.executions;
  if (auto st = r.add({
          .name = "execute_task_plan",
          .title = "Execute task plan",
          .description = "Run the steps of an approved plan inside the workspace's sandbox: a step starts when "
                         "its depends_on steps are done (independent steps run in parallel up to "
                         "performance.max_concurrent_operations); the first failing step without continue_on_error "
                         "stops the rest. The plan runs in the background: the call returns its result when it "
                         "ends within wait (25 s by default), else status \"running\" with the output so far; "
                         "then wait_execution(execution_id, since) follows it to its result. Progress and output "
                         "are streamed while a call waits; cancel with cancel_execution, or by cancelling this "
                         "request while it waits. Every step (exit code, duration, attempts, test counts, changed "
                         "files, full logs) is recorded in the execution history.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["plan_id"],
            "properties":{"plan_id":{"type":"string","minLength":1,"maxLength":64},
              "wait":)" + schemas::kWaitArgument + R"(}})",
          .output_schema = R"({"type":"object","anyOf":[)" + plan_result_schema() + "," +
                           schemas::kRunningExecution + "]}",
          .annotations = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false},
          .handler =
              [ex](const boost::json::object& args, CallContext& ctx) -> Result<boost::json::value> {
                return with_log_links(
                    ex->execute_plan(json_fields::string_or(args, "plan_id"), wait_ms_of(args, "wait", *ex), ctx));
              },
          .starts_execution = true,
          .companions = {"wait_execution", "cancel_execution"},
      });
      !st) {
    return st;
  }
  if (auto st = r.add({
          .name = "exec_command",
          .title = "Run a command",
          .description = "Run one shell command line in the workspace's sandbox (working directory: the workspace "
                         "root) and return its exit code and output. It runs in the background: the call returns "
                         "the result when the command ends within wait (25 s by default), else status "
                         "\"running\" with its output so far and the offsets where that output ends; "
                         "wait_execution(execution_id, since) then returns what follows and the result. Recorded "
                         "in the execution history.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id","command"],
            "properties":{
              "workspace_id":)" + schemas::kWorkspaceId + R"(,
              "command":{"type":"string","minLength":1,"maxLength":65536,"description":"Shell command line, run with /bin/sh -c"},
              "timeout_s":{"type":"integer","minimum":1,"maximum":86400,"description":"Wall-clock limit; default performance.operation_timeout"},
              "wait":)" + schemas::kWaitArgument + R"(}})",
          .output_schema = R"({"type":"object","anyOf":[)" + command_result_schema() + "," +
                           schemas::kRunningExecution + "]}",
          .annotations = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false},
          .handler =
              [ex](const boost::json::object& args, CallContext& ctx) -> Result<boost::json::value> {
                return with_log_links(ex->exec_command(json_fields::string_or(args, "workspace_id"), json_fields::string_or(args, "command"),
                                                       json_fields::int_or(args, "timeout_s", 0), wait_ms_of(args, "wait", *ex),
                                                       ctx));
              },
          .starts_execution = true,
          .companions = {"wait_execution", "cancel_execution"},
      });
      !st) {
    return st;
  }
  if (auto st = r.add({
          .name = "wait_execution",
          .title = "Wait for an execution",
          .description = "Wait up to timeout_s (25 s by default, at most 50) for an execution started by "
                         "exec_command or execute_task_plan to end. Ended: its final result, the same as those "
                         "tools return (at once for an execution that ended before). Still running: status "
                         "\"running\", the output written after the offsets in since, and the since to pass "
                         "next time. Progress and output are streamed while it waits. Cancelling this request "
                         "only stops the waiting; cancel_execution stops the execution.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["execution_id"],
            "properties":{"execution_id":{"type":"string","minLength":1,"maxLength":64,
                "description":"The execution_id of an exec_command or execute_task_plan result; get_execution_history lists them"},
              "timeout_s":{"type":"integer","minimum":0,"maximum":86400,"description":"Seconds to wait at most; default performance.execution_wait_s (25); more than 50 waits 50"},
              "since":)" + schemas::kSince + R"(}})",
          .output_schema = R"({"type":"object","anyOf":[)" + command_result_schema() + "," + plan_result_schema() +
                           "," + schemas::kRunningExecution + "]}",
          .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
          .handler =
              [ex](const boost::json::object& args, CallContext& ctx) -> Result<boost::json::value> {
                const boost::json::value* since = args.if_contains("since");
                return with_log_links(ex->wait(json_fields::string_or(args, "execution_id"), wait_ms_of(args, "timeout_s", *ex),
                                               since && since->is_object() ? since->as_object() : boost::json::object{},
                                               ctx));
              },
          .long_running = true,
      });
      !st) {
    return st;
  }
  if (auto st = r.add({
          .name = "cancel_execution",
          .title = "Cancel execution",
          .description = "Stop a running execution (plan or command): its running steps are killed within about "
                         "a second and the remaining steps are skipped; the plan ends cancelled.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["execution_id"],
            "properties":{"execution_id":{"type":"string","minLength":1,"maxLength":64}}})",
          .output_schema = R"({"type":"object","required":["execution_id","status"],
            "properties":{"execution_id":{"type":"string"},"status":{"type":"string","enum":["cancelling"]}}})",
          .annotations = {.read_only = false, .destructive = false, .idempotent = true, .open_world = false},
          .handler = [ex](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
            return to_value(ex->cancel(json_fields::string_or(args, "execution_id")));
          },
      });
      !st) {
    return st;
  }
  if (auto st = r.add({
          .name = "get_execution_log",
          .title = "Execution log",
          .description = "A slice of the full stdout or stderr of one step (history keeps only the tails). Read on "
                         "with offset=next_offset until eof; logs are capped at performance.max_output_bytes per "
                         "stream with a note at the end when output was discarded.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["execution_id","step_id","stream"],
            "properties":{"execution_id":{"type":"string","minLength":1,"maxLength":64},"step_id":{"type":"string","minLength":1,"maxLength":64},
              "stream":{"type":"string","enum":["stdout","stderr"]},
              "offset":{"type":"integer","minimum":0,"default":0},
              "limit":{"type":"integer","minimum":1,"maximum":1048576,"default":65536}}})",
          .output_schema = R"({"type":"object",
            "required":["execution_id","step_id","stream","offset","bytes","next_offset","size","eof","complete","data"],
            "properties":{"execution_id":{"type":"string"},"step_id":{"type":"string"},
              "stream":{"type":"string","enum":["stdout","stderr"]},"offset":{"type":"integer"},
              "bytes":{"type":"integer"},"next_offset":{"type":"integer"},"size":{"type":"integer"},
              "eof":{"type":"boolean"},"complete":{"type":"boolean","description":"false while the execution runs"},
              "data":{"type":"string"},)" + kResourceLinksProperty + R"(}})",
          .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
          .handler = [ex](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
            return with_log_links(ex->log(json_fields::string_or(args, "execution_id"), json_fields::string_or(args, "step_id"),
                                    json_fields::string_or(args, "stream"), json_fields::int_or(args, "offset", 0),
                                    json_fields::int_or(args, "limit", 65536)));
          },
      });
      !st) {
    return st;
  }
  return r.add({
      .name = "get_execution_history",
      .title = "Execution history",
      .description = "List the executions of a workspace (plans and single commands), newest first, with each "
                     "step's command, status, exit code, duration, attempts, test counts, changed files and the "
                     "tail of its output. Filter by plan_id, status and since; page with limit and cursor. Works "
                     "for destroyed workspaces too.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id"],
        "properties":{
          "workspace_id":)" + schemas::kWorkspaceId + R"(,
          "plan_id":{"type":"string","maxLength":64,"description":"Only executions of this plan"},
          "status":{"type":"string","enum":["running","succeeded","failed","cancelled","interrupted"]},
          "since":{"type":"string","description":"Only executions started at or after this RFC 3339 UTC time"},
          "cursor":{"type":"string","description":"next_cursor of the previous page"},
          "limit":{"type":"integer","minimum":1,"maximum":500,"default":50}}})",
      .output_schema = R"({"type":"object","required":["workspace_id","workspace_status","count","next_cursor","executions"],
        "properties":{
          "workspace_id":{"type":"string"},"workspace_status":{"type":"string"},"count":{"type":"integer"},
          "next_cursor":{"type":["string","null"],"description":"Pass as cursor for older executions; null at the end"},
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
        ExecutionService::HistoryQuery q;
        q.workspace_id = json_fields::string_or(args, "workspace_id");
        q.plan_id = json_fields::string_or(args, "plan_id");
        q.status = json_fields::string_or(args, "status");
        q.since = json_fields::string_or(args, "since");
        q.cursor = json_fields::string_or(args, "cursor");
        q.limit = json_fields::int_or(args, "limit", 50);
        return to_value(ex->history(q));
      },
  });
}

}  // namespace isb::operations
