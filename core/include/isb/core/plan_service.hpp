// plan_service.hpp: turns a task into a stored plan through the planner
// plugins (tried in configured order), and approves plans.
//
// Threading: thread-safe.
#pragma once

#include <isb/core/analysis_service.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>

#include <boost/json/object.hpp>

#include <mutex>
#include <vector>

namespace isb {

class PlanService {
 public:
  PlanService(Store& store, WorkspaceService& workspaces, AnalysisService& analysis, std::vector<PlannerPlugin> planners);

  Result<boost::json::object> create(const std::string& workspace_id, const std::string& task, bool auto_approve);
  Result<boost::json::object> approve(const std::string& plan_id);
  Result<PlanRecord> get(const std::string& plan_id) const;
  Status set_status(const std::string& plan_id, const std::string& status);
  boost::json::object describe(const PlanRecord& p) const;

 private:
  Store& store_;
  WorkspaceService& workspaces_;
  AnalysisService& analysis_;
  std::vector<PlannerPlugin> planners_;
  mutable std::mutex mu_;  // state transitions of one plan are atomic
};

}  // namespace isb
