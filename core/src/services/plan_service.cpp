// plan_service.cpp: planning through planner plugins or explicit steps;
// approval, rejection, edits and the execution state of plans.
#include <isb/core/plan_service.hpp>

#include "ids/random_id.hpp"
#include "services/step_graph.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>


namespace json = boost::json;

namespace isb {

namespace {

// Rejecting and updating need a plan that has not run yet; refused names
// what was refused.
Result<PlanRecord> get_unexecuted(const PlanService& plans, const std::string& plan_id, const std::string& refused) {
  auto p = plans.get(plan_id);
  if (!p) return p.error();
  if (p->status == "pending_approval" || p->status == "draft" || p->status == "approved") return p;
  return make_error(ErrorCode::kFailedPrecondition, "plan '" + p->id + "' is " + p->status +
                                                        "; only a plan that has not been executed can be " + refused);
}

std::string describe_unmet(const json::array& unmet) {
  std::string out;
  for (const auto& u : unmet) {
    if (!u.is_object()) continue;
    const auto& o = u.as_object();
    std::string intent = o.contains("intent") && o.at("intent").is_string() ? std::string(o.at("intent").as_string()) : "?";
    std::string reason = o.contains("reason") && o.at("reason").is_string() ? std::string(o.at("reason").as_string()) : "";
    out += (out.empty() ? "" : "; ") + intent + (reason.empty() ? "" : " (" + reason + ")");
  }
  return out;
}

// What the analysis does offer, e.g. "install (.), test (.)".
std::string offered_commands(const json::object& analysis) {
  std::string out;
  if (auto* p = analysis.if_contains("projects"); p && p->is_array()) {
    for (const auto& proj : p->as_array()) {
      if (!proj.is_object()) continue;
      const json::value* pv = proj.as_object().if_contains("path");
      std::string path = pv && pv->is_string() ? std::string(pv->as_string()) : ".";
      if (auto* c = proj.as_object().if_contains("commands"); c && c->is_object()) {
        for (const auto& kv : c->as_object()) out += (out.empty() ? "" : ", ") + std::string(kv.key()) + " (" + path + ")";
      }
    }
  }
  return out.empty() ? "no commands at all" : out;
}

}  // namespace

PlanService::PlanService(Store& store, WorkspaceService& workspaces, AnalysisService& analysis,
                         std::vector<PlannerPlugin> planners)
    : store_(store), workspaces_(workspaces), analysis_(analysis), planners_(std::move(planners)) {}

json::object PlanService::describe(const PlanRecord& p) const {
  boost::system::error_code ec;
  json::value doc = json::parse(p.plan_json, ec);
  json::object plan = ec || !doc.is_object() ? json::object{} : doc.as_object();
  json::object out{{"plan_id", p.id},
                   {"workspace_id", p.workspace_id},
                   {"task", p.task},
                   {"planner", p.planner},
                   {"status", p.status},
                   {"requires_approval", p.status == "pending_approval"},
                   {"created_at", format_time(p.created_at)},
                   {"approved_at", format_time(p.approved_at)},
                   {"updated_at", format_time(p.updated_at)},
                   {"status_reason", p.status_reason},
                   {"scope", plan.contains("scope") ? plan.at("scope") : json::value(nullptr)},
                   {"intents", plan.contains("intents") ? plan.at("intents") : json::array{}},
                   {"steps", plan.contains("steps") ? plan.at("steps") : json::array{}}};
  // Plans stored by an older server lack some step fields; show them with
  // the defaults the executor would apply.
  if (auto* st = plan.if_contains("steps"); st && st->is_array() && !st->as_array().empty()) {
    if (auto n = services::normalize_steps(st->as_array(), p.planner)) out["steps"] = std::move(*n);
  }
  return out;
}

Result<json::object> PlanService::create(const std::string& workspace_id, const std::string& task, bool auto_approve,
                                         const std::optional<json::array>& explicit_steps) {
  if (explicit_steps) {
    auto w = workspaces_.get_active(workspace_id);
    if (!w) return w.error();
    auto steps = services::normalize_steps(*explicit_steps, "explicit");
    if (!steps) return steps.error();
    workspaces_.touch(workspace_id);
    PlanRecord rec;
    rec.id = ids::new_id("plan-");
    rec.workspace_id = workspace_id;
    rec.task = task.empty() ? "explicit steps" : task;
    rec.planner = "explicit";
    rec.created_at = now_ms();
    rec.status = auto_approve ? "approved" : "pending_approval";
    rec.approved_at = auto_approve ? rec.created_at : 0;
    rec.plan_json = json::serialize(json::object{{"planner", "explicit"},
                                                 {"task", rec.task},
                                                 {"intents", json::array{"custom"}},
                                                 {"scope", nullptr},
                                                 {"steps", std::move(*steps)}});
    if (auto st = store_.insert_plan(rec); !st) return st.error();
    return describe(rec);
  }
  if (task.find_first_not_of(" \t\r\n") == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "task_description is empty; describe what to do, e.g. \"run the tests\" or \"build the project\"");
  }
  auto w = workspaces_.get_active(workspace_id);
  if (!w) return w.error();
  if (planners_.empty()) {
    return make_error(ErrorCode::kUnavailable, "no planner plugin is loaded; check `intelligent-sandbox plugins`");
  }
  auto analysis = analysis_.latest_or_analyze(workspace_id);
  if (!analysis) return analysis.error();
  workspaces_.touch(workspace_id);

  json::object request{{"task", task}, {"analysis", *analysis}, {"options", json::object{}}};
  std::string not_applicable;
  for (const auto& planner : planners_) {
    auto outcome = planner.plan(request);
    if (!outcome) return outcome.error();
    if (!outcome->applicable) {
      not_applicable += (not_applicable.empty() ? "" : "; ") + planner.info().id + ": " + outcome->reason;
      continue;
    }
    if (!outcome->plan.is_object()) {
      return make_error(ErrorCode::kInternal, "planner '" + planner.info().id + "' returned a plan that is not an object");
    }
    json::object& plan = outcome->plan.as_object();
    json::array unmet = plan.contains("unmet") && plan.at("unmet").is_array() ? plan.at("unmet").as_array() : json::array{};
    json::array steps = plan.contains("steps") && plan.at("steps").is_array() ? plan.at("steps").as_array() : json::array{};
    // A plan that silently drops part of the task would look successful when
    // it is not: refuse it and say what is missing and what exists.
    if (!unmet.empty()) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "cannot plan \"" + task + "\": the analysis of workspace '" + workspace_id +
                            "' has no fact for: " + describe_unmet(unmet) + ". It offers: " +
                            offered_commands(*analysis) + ". Rephrase the task or give the command in backticks.");
    }
    if (steps.empty()) {
      return make_error(ErrorCode::kFailedPrecondition, "planner '" + planner.info().id + "' produced no steps for \"" +
                                                            task + "\"; the analysis offers: " +
                                                            offered_commands(*analysis));
    }
    // Planner output is checked like client input: a planner bug must not
    // reach the executor as a cycle or a step without a command.
    auto normalized = services::normalize_steps(steps, planner.info().id);
    if (!normalized) {
      return make_error(ErrorCode::kInternal, "planner '" + planner.info().id +
                                                  "' produced invalid steps: " + normalized.error().message);
    }
    steps = std::move(*normalized);
    plan["steps"] = steps;
    plan.erase("unmet");
    PlanRecord rec;
    rec.id = ids::new_id("plan-");
    rec.workspace_id = workspace_id;
    rec.task = task;
    rec.planner = planner.info().id;
    rec.created_at = now_ms();
    rec.status = auto_approve ? "approved" : "pending_approval";
    rec.approved_at = auto_approve ? rec.created_at : 0;
    rec.plan_json = json::serialize(plan);
    if (auto st = store_.insert_plan(rec); !st) return st.error();
    spdlog::info("plan {} for workspace {}: {} steps by planner {}{}", rec.id, workspace_id, steps.size(), rec.planner,
                 auto_approve ? " (auto-approved)" : "");
    return describe(rec);
  }
  return make_error(ErrorCode::kInvalidArgument, "no planner could plan \"" + task + "\": " + not_applicable);
}

Result<PlanRecord> PlanService::get(const std::string& plan_id) const {
  auto p = store_.get_plan(plan_id);
  if (!p) return p.error();
  if (!*p) return make_error(ErrorCode::kNotFound, "plan '" + plan_id + "' not found; create_task_plan returns plan ids");
  return **p;
}

Result<json::object> PlanService::approve(const std::string& plan_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = get(plan_id);
  if (!p) return p.error();
  if (p->status == "pending_approval" || p->status == "draft") {
    p->approved_at = now_ms();
    p->status = "approved";
    if (auto st = store_.update_plan_status(plan_id, "approved", p->approved_at); !st) return st.error();
  } else if (p->status == "rejected") {
    return make_error(ErrorCode::kFailedPrecondition, "plan '" + plan_id + "' was rejected and cannot be approved; "
                                                                          "create a new plan");
  }
  // Approving an approved (or already executed) plan changes nothing.
  return describe(*p);
}

Result<json::object> PlanService::reject(const std::string& plan_id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = get_unexecuted(*this, plan_id, "rejected");
  if (!p) return p.error();
  p->status = "rejected";
  p->status_reason = reason.empty() ? "rejected without a reason" : reason;
  if (auto st = store_.set_plan_status_reason(plan_id, p->status, p->status_reason); !st) return st.error();
  return describe(*p);
}

Result<json::object> PlanService::update(const std::string& plan_id, const json::array& steps) {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = get_unexecuted(*this, plan_id, "updated; create a new plan instead");
  if (!p) return p.error();
  auto normalized = services::normalize_steps(steps, "explicit");
  if (!normalized) return normalized.error();
  boost::system::error_code ec;
  json::value doc = json::parse(p->plan_json, ec);
  json::object plan = ec || !doc.is_object() ? json::object{} : doc.as_object();
  plan["steps"] = std::move(*normalized);
  p->plan_json = json::serialize(plan);
  // Edited steps were not what was approved.
  p->status = "pending_approval";
  p->approved_at = 0;
  p->updated_at = now_ms();
  p->status_reason.clear();
  if (auto st = store_.replace_plan(plan_id, p->plan_json, p->status, p->updated_at); !st) return st.error();
  return describe(*p);
}

Result<json::object> PlanService::list(const std::string& workspace_id, int64_t limit) const {
  auto w = workspaces_.get_any(workspace_id);
  if (!w) return w.error();
  auto rows = store_.list_plans(workspace_id, limit > 0 ? std::min<int64_t>(limit, 500) : 50);
  if (!rows) return rows.error();
  json::array plans;
  for (const auto& p : *rows) plans.push_back(describe(p));
  return json::object{{"workspace_id", workspace_id},
                      {"count", static_cast<int64_t>(plans.size())},
                      {"plans", std::move(plans)}};
}

Result<PlanRecord> PlanService::begin_execution(const std::string& plan_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = get(plan_id);
  if (!p) return p.error();
  if (p->status == "pending_approval" || p->status == "draft") {
    return make_error(ErrorCode::kFailedPrecondition, "plan '" + plan_id +
                                                          "' must be approved before it can be executed: review its "
                                                          "steps, then call approve_plan (or create it with "
                                                          "auto_approve=true)");
  }
  if (p->status == "rejected") {
    return make_error(ErrorCode::kFailedPrecondition, "plan '" + plan_id + "' was rejected; create a new plan");
  }
  if (p->status == "executing") {
    return make_error(ErrorCode::kFailedPrecondition, "plan '" + plan_id +
                                                          "' is already executing; wait for it to finish or call "
                                                          "cancel_execution");
  }
  if (auto st = store_.set_plan_status_reason(plan_id, "executing", ""); !st) return st.error();
  p->status = "executing";
  return *p;
}

Status PlanService::set_status(const std::string& plan_id, const std::string& status, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  return store_.set_plan_status_reason(plan_id, status, reason);
}

}  // namespace isb
