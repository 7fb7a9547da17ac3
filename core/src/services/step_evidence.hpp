// step_evidence.hpp: what a step leaves behind that says how it went, beyond
// its exit status: its test results. The executor asks the step's test
// runner for a JUnit report before it runs, and afterwards takes the results
// from the best source there is. (Changed files are the other evidence: see
// file_snapshot.hpp, attributed per window of overlapping steps by
// ChangeWindows.)
//
//   auto report = request_junit_report(root, cwd, "exec-1", "test", spec);  // before exec
//   ...exec...
//   auto tests = collect_test_results({root, cwd, report, step, command, started_at, out, err});
//
// Threading: free functions, safe from any thread for different workspaces.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>
#include <optional>
#include <string>
#include <vector>

#include "services/file_snapshot.hpp"
#include "services/test_results.hpp"
#include "workspaces/safe_path.hpp"

namespace isb::services {

//! The executor's own directory inside a workspace (the reports it asked
//! for); file snapshots leave it out.
inline constexpr const char* kPrivateDir = ".isb";

//! Asks the step's runner for a JUnit report when it can write one: rewrites
//! spec["argv"] and returns the report's path relative to the workspace root
//! (the runner gets it relative to its cwd, since the sandbox sees the
//! workspace elsewhere than the host does); "" when nothing was asked. The
//! report directory is made beneath the workspace without following
//! symlinks: the sandbox may have planted .isb as a link to the host.
std::string request_junit_report(const Result<workspaces::BeneathRoot>& workspace_root,
                                 const Result<std::string>& cwd, const std::string& execution_id,
                                 const std::string& step_id, boost::json::object& spec);

//! What a finished step left to read its test results from.
struct StepTrail {
  const Result<workspaces::BeneathRoot>& workspace_root;
  const Result<std::string>& cwd;      //!< normalized, relative to the root
  const std::string& report;           //!< from request_junit_report; "" when none
  const boost::json::object& step;     //!< the plan step (artifacts, phase)
  const boost::json::object& command;  //!< {"argv"} or {"shell"}
  int64_t started_at = 0;              //!< ms; reports older than this are not the step's
  const std::string& stdout_tail;
  const std::string& stderr_tail;
};

//! The step's test results, from the first source that has them: the report
//! asked for (then removed), a JUnit file the step declares as an artifact,
//! the reports Maven and Gradle write on their own (a test-phase step or a
//! build tool's command), the runner's summary at the end of its output.
std::optional<TestResults> collect_test_results(const StepTrail& trail);

//! The changed files of a plan's steps. A window opens (a snapshot) when a
//! step starts while none runs and closes (another snapshot) when the last
//! running step ends. A window of one step gives its changes to that step
//! (changed_files_scope "step"). In a window of overlapping steps nobody can
//! tell which step wrote what, so every step of it reports the window's
//! changes as changed_files_scope "concurrent_group" with the ids of the group
//! in concurrent_steps: never a silent misattribution. The closing snapshot is
//! the next window's opening one (nothing of the plan runs in between).
//! Threading: one thread (the plan's scheduler).
class ChangeWindows {
 public:
  explicit ChangeWindows(std::string workspace_path) : path_(std::move(workspace_path)) {}
  //! Step i starts; running: how many steps ran just before it.
  void step_started(size_t i, size_t running);
  //! The last running step ended: writes the window's files into the details
  //! of each of its steps (records[i]) and hands each to save.
  void close(std::vector<StepRecord>& records, const std::function<void(const StepRecord&)>& save);

 private:
  std::string path_;
  std::optional<FileSnapshot> idle_snapshot_;
  FileSnapshot window_before_;
  std::vector<size_t> window_;  // steps of the open window, in start order
};

}  // namespace isb::services
