// execution_service.hpp: runs approved plans and single commands inside a
// workspace's sandbox, streams their output as events, and records every
// step in the store.
//
// Threading: thread-safe; a plan is executed by one call at a time.
#pragma once

#include <isb/core/config.hpp>
#include <isb/core/operation_registry.hpp>
#include <isb/core/plan_service.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_service.hpp>

#include <boost/json/object.hpp>

#include <mutex>
#include <set>

namespace isb {

class ExecutionService {
 public:
  ExecutionService(const Config& config, Store& store, WorkspaceService& workspaces, PlanService& plans);

  //! Runs the steps of an approved plan in order; stops at the first failure.
  Result<boost::json::object> execute_plan(const std::string& plan_id, CallContext& ctx);
  //! Runs one shell command line and records it as a one-step execution.
  Result<boost::json::object> exec_command(const std::string& workspace_id, const std::string& command,
                                           int64_t timeout_s, CallContext& ctx);
  //! Executions of a workspace, newest first.
  Result<boost::json::object> history(const std::string& workspace_id, const std::string& plan_id, int64_t limit);

 private:
  struct StepOutcome {
    StepRecord record;
    boost::json::object result;
  };
  StepOutcome run_step(const WorkspaceRecord& w, const std::string& execution_id, int64_t seq,
                       const boost::json::object& step, CallContext& ctx);
  boost::json::object describe_step(const StepRecord& s, bool full_output) const;

  const Config& config_;
  Store& store_;
  WorkspaceService& workspaces_;
  PlanService& plans_;
  std::mutex running_mu_;
  std::set<std::string> running_plans_;
};

}  // namespace isb
