// test_results.hpp: what a test step found: passed, failed and skipped counts
// and the names of the failing tests, read from JUnit XML (pugixml) when the
// runner wrote it, else from the runner's own summary lines.
//
//   auto cmd = add_junit_report(argv, "/ws/.isb/reports/e1-test.xml");
//   ... run cmd ...
//   auto r = parse_junit_file("/ws/.isb/reports/e1-test.xml");
//   if (!r) r = parse_runner_summary(stdout_text + stderr_text);
//
// Threading: pure functions.
#pragma once

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

//! Parses a JUnit XML report (testsuites/testsuite/testcase, failure, error,
//! skipped). nullopt when the file is missing or is not JUnit XML.
std::optional<TestResults> parse_junit_file(const std::string& path);
std::optional<TestResults> parse_junit_text(const std::string& xml);

//! Reads the summary of unittest, pytest, node --test, cargo test or ctest
//! from their console output. nullopt when none is recognised.
std::optional<TestResults> parse_runner_summary(const std::string& output);

//! When argv runs a runner that can write JUnit XML (pytest, python -m
//! pytest, ctest, node --test) and does not already ask for a report, the
//! argv with the flags that write one to report_path; else nullopt.
std::optional<boost::json::array> add_junit_report(const boost::json::array& argv, const std::string& report_path);

}  // namespace isb::services
