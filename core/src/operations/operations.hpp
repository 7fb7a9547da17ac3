// operations.hpp: registration of the built-in operations, one function per
// group, each in its own file. The registry is the only place tools are defined.
#pragma once

#include <isb/core/analysis_service.hpp>
#include <isb/core/execution_service.hpp>
#include <isb/core/operation_registry.hpp>
#include <isb/core/plan_service.hpp>
#include <isb/core/workspace_service.hpp>

#include <boost/json/object.hpp>

// Handlers read their arguments with json_fields (validated against the input
// schema already, so types are right when present).
#include "json/json_fields.hpp"

#include <functional>

namespace isb::operations {

//! Everything the operations call into. Owned by the Server.
struct Services {
  WorkspaceService* workspaces = nullptr;
  AnalysisService* analysis = nullptr;
  PlanService* plans = nullptr;
  ExecutionService* executions = nullptr;
  //! Builds the get_sandbox_status document.
  std::function<Result<boost::json::object>()> status;
};

Status register_workspace_operations(OperationRegistry& r, const Services& s);
Status register_file_operations(OperationRegistry& r, const Services& s);
Status register_analysis_operations(OperationRegistry& r, const Services& s);
Status register_plan_operations(OperationRegistry& r, const Services& s);
Status register_execution_operations(OperationRegistry& r, const Services& s);
Status register_status_operations(OperationRegistry& r, const Services& s);
Status register_resource_operations(OperationRegistry& r, const Services& s);

//! Output schema member "resource_links" (no braces), for results that
//! add_log_resource_links() may extend.
extern const std::string kResourceLinksProperty;
//! Adds "resource_links" (sandbox:// URIs of the full step logs) to an
//! execution result that shows some output only in part.
void add_log_resource_links(boost::json::object& result);

//! All of the above, in the order tools are listed.
Status register_all(OperationRegistry& r, const Services& s);

//! Wraps a Result<object> into Result<value> for handlers.
inline Result<boost::json::value> to_value(Result<boost::json::object> r) {
  if (!r) return r.error();
  return boost::json::value(std::move(*r));
}

}  // namespace isb::operations
