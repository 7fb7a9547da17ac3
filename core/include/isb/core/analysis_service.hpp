// analysis_service.hpp: runs every analyzer plugin on a workspace and merges
// their facts into one analysis document, stored per workspace.
//
// Threading: thread-safe (analyzers are serialized per instance by the host).
#pragma once

#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_service.hpp>

#include <boost/json/object.hpp>

#include <vector>

namespace isb {

//! Merges analyzer documents: languages summed by name with shares and a
//! primary language, projects/warnings concatenated, files from the first
//! analyzer that reports them.
boost::json::object merge_analyses(const std::vector<std::pair<std::string, boost::json::object>>& facts);

class AnalysisService {
 public:
  AnalysisService(Store& store, WorkspaceService& workspaces, std::vector<AnalyzerPlugin> analyzers);
  //! Analyzes the workspace now and stores the result.
  Result<boost::json::object> analyze(const std::string& workspace_id);
  //! The stored analysis, running one first when there is none.
  Result<boost::json::object> latest_or_analyze(const std::string& workspace_id);

 private:
  Store& store_;
  WorkspaceService& workspaces_;
  std::vector<AnalyzerPlugin> analyzers_;
};

}  // namespace isb
