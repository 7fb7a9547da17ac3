// plan_operations.cpp: create_task_plan, approve_plan.
#include "operations/operations.hpp"
#include "operations/schemas.hpp"

namespace isb::operations {

Status register_plan_operations(OperationRegistry& r, const Services& s) {
  auto* plans = s.plans;
  if (auto st = r.add({
          .name = "create_task_plan",
          .title = "Create task plan",
          .description = "Turn a task such as \"install the dependencies and run the tests\" into a plan of concrete "
                         "steps taken from the workspace's analysis (a command in backticks is taken literally). "
                         "When the analysis has no fact for part of the task, the call fails and says what is "
                         "missing instead of guessing. Plans need approve_plan unless auto_approve is true.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id","task_description"],
            "properties":{
              "workspace_id":)" + schemas::kWorkspaceId + R"(,
              "task_description":{"type":"string","minLength":1,"description":"What to do, in plain words"},
              "auto_approve":{"type":"boolean","default":false,"description":"Approve the plan at once"}}})",
          .output_schema = schemas::kPlan,
          .annotations = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false},
          .handler =
              [plans](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
                return to_value(plans->create(arg_string(args, "workspace_id"), arg_string(args, "task_description"),
                                              arg_bool(args, "auto_approve", false)));
              },
      });
      !st) {
    return st;
  }
  return r.add({
      .name = "approve_plan",
      .title = "Approve plan",
      .description = "Approve a plan after reviewing its steps, so that execute_task_plan may run it.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["plan_id"],
        "properties":{"plan_id":{"type":"string","minLength":1}}})",
      .output_schema = schemas::kPlan,
      .annotations = {.read_only = false, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [plans](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(plans->approve(arg_string(args, "plan_id")));
      },
  });
}

}  // namespace isb::operations
