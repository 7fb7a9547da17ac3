// plan_service.cpp: planning through planner plugins; approval.
#include <isb/core/plan_service.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <random>

namespace json = boost::json;

namespace isb {

namespace {

std::string new_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s = prefix;
  for (int i = 0; i < 12; ++i) s += kHex[rng() % 16];
  return s;
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
                   {"intents", plan.contains("intents") ? plan.at("intents") : json::array{}},
                   {"steps", plan.contains("steps") ? plan.at("steps") : json::array{}}};
  return out;
}

Result<json::object> PlanService::create(const std::string& workspace_id, const std::string& task, bool auto_approve) {
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
    PlanRecord rec;
    rec.id = new_id("plan-");
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
  if (p->status == "pending_approval") {
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

Status PlanService::set_status(const std::string& plan_id, const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  return store_.update_plan_status(plan_id, status);
}

}  // namespace isb
