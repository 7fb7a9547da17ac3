// test_results.hpp: what a test step found: passed, failed and skipped counts
// and the names of the failing tests, read from JUnit XML (pugixml) when the
// runner wrote it, else from the runner's own summary lines.
//
//   auto cmd = add_junit_report(argv, ".isb/reports/e1-test.xml");   // relative to the step's cwd
//   ... run cmd ...
//   auto r = parse_junit_at(workspace_root, ".isb/reports/e1-test.xml");
//   if (!r) r = parse_runner_summary(stdout_text + stderr_text);
//
// Threading: pure functions.
#pragma once

#include "workspaces/safe_path.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

namespace isb::services {

struct TestResults {
  int64_t passed = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
  std::vector<std::string> failing;  // at most kMaxFailingNames
  std::string source;                // "junit:<path>" or "summary:<runner>"

  boost::json::object to_json() const;
};

inline constexpr size_t kMaxFailingNames = 100;

//! Reports larger than this are not parsed (they are written by sandboxed code).
inline constexpr int64_t kMaxReportBytes = 32 << 20;

//! Parses the JUnit XML report rel beneath root (testsuites/testsuite/
//! testcase, failure, error, skipped), opened without following symlinks.
//! nullopt when the file is missing, a symlink, too large or not JUnit XML.
std::optional<TestResults> parse_junit_at(const workspaces::BeneathRoot& root, const std::string& rel);
std::optional<TestResults> parse_junit_text(const std::string& xml);

//! Reads the summary of unittest, pytest, node --test, cargo test or ctest
//! from their console output. nullopt when none is recognised.
std::optional<TestResults> parse_runner_summary(const std::string& output);

//! Directories (relative to a step's cwd) where Maven and Gradle write JUnit
//! XML on their own: surefire, failsafe, Gradle's test-results/<task>.
inline constexpr const char* kBuildToolReportDirs[] = {"target/surefire-reports", "target/failsafe-reports",
                                                       "build/test-results"};

//! Reports Maven (surefire, failsafe) and Gradle wrote under cwd during a
//! step that did not declare them: TEST-*.xml in kBuildToolReportDirs (and
//! one level of submodules, <module>/target/...; Gradle's per-task
//! subdirectories), counting only files modified at or after since_ms, so a
//! report left by an earlier run is never taken for this step's. Sums every
//! file found; source is "junit:<dir>[,<dir>...]" relative to cwd. nullopt
//! when there is none. Bounded: at most kMaxDiscoveredReports files.
inline constexpr size_t kMaxDiscoveredReports = 2000;
std::optional<TestResults> discover_build_tool_reports(const workspaces::BeneathRoot& cwd, int64_t since_ms);

//! True when a step's command runs Maven or Gradle (mvn, mvnw, gradle,
//! gradlew, with or without a path), whose reports discovery looks for.
bool runs_build_tool_with_reports(const boost::json::object& command);

//! When argv runs a runner that can write JUnit XML (pytest, python -m
//! pytest, ctest, node --test) and does not already ask for a report, the
//! argv with the flags that write one to report_path; else nullopt.
std::optional<boost::json::array> add_junit_report(const boost::json::array& argv, const std::string& report_path);

}  // namespace isb::services
