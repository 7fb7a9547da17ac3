// plan_operations.cpp: create_task_plan, get_plan, list_plans, approve_plan,
// reject_plan, update_plan.
#include "operations/operations.hpp"
#include "operations/schemas.hpp"

#include <optional>

namespace isb::operations {

namespace {

std::optional<boost::json::array> arg_steps(const boost::json::object& args) {
  auto* v = args.if_contains("steps");
  if (!v || !v->is_array()) return std::nullopt;
  return v->as_array();
}

}  // namespace

Status register_plan_operations(OperationRegistry& r, const Services& s) {
  auto* plans = s.plans;
  const std::string plan_id_only = R"({"type":"object","additionalProperties":false,"required":["plan_id"],
        "properties":{"plan_id":{"type":"string","minLength":1,"maxLength":64}}})";
  std::vector<OperationSpec> specs;
  specs.push_back({
      .name = "create_task_plan",
      .title = "Create task plan",
      .description =
          "Turn a task such as \"install the dependencies, lint, then run the tests of the api package\" into a plan "
          "of concrete steps taken from the workspace's analysis (install before build before test; a command in "
          "backticks is taken literally). When the analysis has no fact for part of the task, the call fails and "
          "says what is missing and what the analysis offers instead of guessing. Or pass `steps` to give the "
          "commands yourself (with ids, depends_on, timeouts, retries). Plans need approve_plan unless "
          "auto_approve is true.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id"],
            "anyOf":[{"required":["task_description"]},{"required":["steps"]}],
            "properties":{
              "workspace_id":)" + schemas::kWorkspaceId + R"(,
              "task_description":{"type":"string","minLength":1,"maxLength":20000,"description":"What to do, in plain words"},
              "steps":{"type":"array","minItems":1,"maxItems":200,"items":)" + schemas::kStepInput + R"(,
                "description":"Explicit steps instead of a task text"},
              "auto_approve":{"type":"boolean","default":false,"description":"Approve the plan at once"}}})",
      .output_schema = schemas::kPlan,
      .annotations = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false},
      .handler = [plans](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(plans->create(json_fields::string_or(args, "workspace_id"), json_fields::string_or(args, "task_description"),
                                      json_fields::bool_or(args, "auto_approve", false), arg_steps(args)));
      },
  });
  specs.push_back({
      .name = "get_plan",
      .title = "Get plan",
      .description = "A plan with its status and steps.",
      .input_schema = plan_id_only,
      .output_schema = schemas::kPlan,
      .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [plans](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        auto p = plans->get(json_fields::string_or(args, "plan_id"));
        if (!p) return p.error();
        return boost::json::value(plans->describe(*p));
      },
  });
  specs.push_back({
      .name = "list_plans",
      .title = "List plans",
      .description = "The plans of a workspace, newest first.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id"],
        "properties":{"workspace_id":)" + schemas::kWorkspaceId + R"(,
          "limit":{"type":"integer","minimum":1,"maximum":500,"default":50}}})",
      .output_schema = R"({"type":"object","required":["workspace_id","count","plans"],
        "properties":{"workspace_id":{"type":"string"},"count":{"type":"integer"},
          "plans":{"type":"array","items":)" + schemas::kPlan + R"(}}})",
      .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [plans](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(plans->list(json_fields::string_or(args, "workspace_id"), json_fields::int_or(args, "limit", 50)));
      },
  });
  specs.push_back({
      .name = "approve_plan",
      .title = "Approve plan",
      .description = "Approve a plan after reviewing its steps, so that execute_task_plan may run it.",
      .input_schema = plan_id_only,
      .output_schema = schemas::kPlan,
      .annotations = {.read_only = false, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [plans](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(plans->approve(json_fields::string_or(args, "plan_id")));
      },
  });
  specs.push_back({
      .name = "reject_plan",
      .title = "Reject plan",
      .description = "Reject a plan that has not been executed, with the reason; it can no longer be approved.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["plan_id"],
        "properties":{"plan_id":{"type":"string","minLength":1,"maxLength":64},
          "reason":{"type":"string","maxLength":2000,"description":"Why, for the history"}}})",
      .output_schema = schemas::kPlan,
      .annotations = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false},
      .handler = [plans](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(plans->reject(json_fields::string_or(args, "plan_id"), json_fields::string_or(args, "reason")));
      },
  });
  specs.push_back({
      .name = "update_plan",
      .title = "Update plan",
      .description = "Replace the steps of a plan that has not been executed yet. The plan then needs approval "
                     "again.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["plan_id","steps"],
        "properties":{"plan_id":{"type":"string","minLength":1,"maxLength":64},
          "steps":{"type":"array","minItems":1,"maxItems":200,"items":)" + schemas::kStepInput + R"(}}})",
      .output_schema = schemas::kPlan,
      .annotations = {.read_only = false, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [plans](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(plans->update(json_fields::string_or(args, "plan_id"), *arg_steps(args)));
      },
  });
  for (auto& spec : specs) {
    if (auto st = r.add(std::move(spec)); !st) return st;
  }
  return ok_status();
}

}  // namespace isb::operations
