// plan_service.hpp: turns a task into a stored plan, through the planner
// plugins (tried in configured order) or from steps the client gives itself,
// and moves plans through their states:
//
//   pending_approval --approve--> approved --execute--> executing --> completed
//        |   ^                      |                        |------> failed
//        |   '----update_plan-------'                        |------> cancelled
//        '--reject--> rejected                               '------> interrupted (server restart)
//
// Threading: thread-safe; state transitions of a plan are atomic.
#pragma once

#include <isb/core/analysis_service.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <mutex>
#include <optional>
#include <vector>

namespace isb {

class PlanService {
 public:
  PlanService(Store& store, WorkspaceService& workspaces, AnalysisService& analysis, std::vector<PlannerPlugin> planners);

  //! Plans task through the planners, or stores explicit steps when given
  //! (then task is only a label and may be empty).
  Result<boost::json::object> create(const std::string& workspace_id, const std::string& task, bool auto_approve,
                                     const std::optional<boost::json::array>& steps = std::nullopt);
  Result<boost::json::object> approve(const std::string& plan_id);
  Result<boost::json::object> reject(const std::string& plan_id, const std::string& reason);
  //! Replaces the steps of a plan not yet executed; it needs approval again.
  Result<boost::json::object> update(const std::string& plan_id, const boost::json::array& steps);
  Result<boost::json::object> list(const std::string& workspace_id, int64_t limit) const;
  Result<PlanRecord> get(const std::string& plan_id) const;
  Status set_status(const std::string& plan_id, const std::string& status, const std::string& reason = "");
  //! Atomically moves an executable plan to "executing"; refuses plans that
  //! are unapproved, rejected or already executing, saying what to do.
  Result<PlanRecord> begin_execution(const std::string& plan_id);
  boost::json::object describe(const PlanRecord& p) const;

 private:
  Store& store_;
  WorkspaceService& workspaces_;
  AnalysisService& analysis_;
  std::vector<PlannerPlugin> planners_;
  mutable std::mutex mu_;  // state transitions of one plan are atomic
};

}  // namespace isb
