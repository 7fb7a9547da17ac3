// analysis_service.hpp: runs every analyzer plugin on a workspace, merges their
// facts into one analysis document (docs/schemas/analysis.schema.json), and
// caches it in the server's FileCache (space "analysis"), keyed by workspace
// and checked against a fingerprint of the tree.
//
//   AnalysisService s(store, workspaces, analyzers, &cache);
//   auto a = s.analyze("ws1", {.depth = AnalysisDepth::kFull});  // a->at("cached") on a second, unchanged
//   call
//
// Threading: thread-safe; concurrent analyses of one workspace may both run
// (the last one written wins in the cache and the store).
#pragma once

#include <boost/json/object.hpp>
#include <isb/core/file_cache.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_service.hpp>
#include <string>
#include <utility>
#include <vector>

namespace isb {

enum class AnalysisDepth { kQuick, kFull };

struct AnalysisOptions {
  //! kQuick: markers and commands only (no line counting); kFull: everything.
  AnalysisDepth depth = AnalysisDepth::kFull;
  //! true: the full dependencies[] list; false: per-project counts and frameworks only.
  bool include_dependencies = false;
};

//! Merges analyzer documents (docs/schemas/analyzer-facts.schema.json):
//! languages summed by name with shares and a primary language; projects,
//! ci commands and warnings concatenated; files from the first analyzer that
//! reports them; dependencies concatenated, and each project given the
//! frameworks, test framework and dependency counts reported for its path and
//! ecosystem (dependency_projects). A classified CI command replaces a project's command of the
//! same kind when the project sits in the command's working directory and
//! matches its ecosystem: what CI runs outranks manifest scripts and defaults.
boost::json::object merge_analyses(const std::vector<std::pair<std::string, boost::json::object>>& facts);

//! A 16-hex-digit hash of every entry beneath the directory fd root_dirfd
//! (relative path, type, size, mtime), symlinks not followed. Any change to
//! the tree changes it.
Result<std::string> tree_fingerprint(int root_dirfd);

class AnalysisService {
 public:
  //! cache: where results are cached (space "analysis"), owned by the
  //! caller and outliving the service; nullptr: no cache.
  AnalysisService(Store& store, WorkspaceService& workspaces, std::vector<AnalyzerPlugin> analyzers,
                  FileCache* cache = nullptr);
  //! Analyzes the workspace (or returns the cached result when its fingerprint,
  //! the options and the analyzers are unchanged) and stores the result.
  Result<boost::json::object> analyze(const std::string& workspace_id, const AnalysisOptions& options = {});
  //! The stored analysis when the tree has not changed since, else a new one.
  Result<boost::json::object> latest_or_analyze(const std::string& workspace_id);

 private:
  Store& store_;
  WorkspaceService& workspaces_;
  std::vector<AnalyzerPlugin> analyzers_;
  FileCache* cache_;
};

}  // namespace isb
