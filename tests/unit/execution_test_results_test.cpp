// execution_test_results_test.cpp: test counts from JUnit XML (pugixml) and
// from the console summaries of unittest, pytest, node --test, cargo and
// ctest; the flags that make runners write JUnit.
#include "services/test_results.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace json = boost::json;
using namespace isb::services;

TEST(ExecutionTestResults, CountsJUnitCasesAndNamesFailures) {
  auto r = parse_junit_text(R"(<?xml version="1.0"?>
<testsuites><testsuite name="calc" tests="4">
  <testcase classname="test_calc.CalcTest" name="test_add"/>
  <testcase classname="test_calc.CalcTest" name="test_div"><failure message="boom"/></testcase>
  <testcase classname="test_calc.CalcTest" name="test_err"><error/></testcase>
  <testcase classname="test_calc.CalcTest" name="test_skip"><skipped/></testcase>
</testsuite></testsuites>)");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->passed, 1);
  EXPECT_EQ(r->failed, 2);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"test_calc.CalcTest.test_div", "test_calc.CalcTest.test_err"}));
  EXPECT_EQ(r->to_json().at("total"), 4);
}

TEST(ExecutionTestResults, CtestJUnitNotRunCountsAsSkipped) {
  auto r = parse_junit_text(R"(<testsuite><testcase name="a" status="run"/><testcase name="b" status="notrun"/>
    <testcase name="c" status="fail"><failure message="Failed"/></testcase></testsuite>)");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->passed, 1);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"c"}));
}

TEST(ExecutionTestResults, RejectsXmlThatIsNotJUnit) {
  EXPECT_FALSE(parse_junit_text("<project><testcase/></project>"));
  EXPECT_FALSE(parse_junit_text("not xml"));
}

TEST(ExecutionTestResults, ReadsUnittestSummaryWithFailure) {
  auto r = parse_runner_summary(
      "..F.\n======================================================================\n"
      "FAIL: test_div (test_calc.CalcTest.test_div)\n----------------------------------------------------------------"
      "------\nTraceback...\nAssertionError: 2 != 3\n\n------------------------------------------------------------"
      "----------\nRan 4 tests in 0.001s\n\nFAILED (failures=1, skipped=1)\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, "summary:unittest");
  EXPECT_EQ(r->passed, 2);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"test_calc.CalcTest.test_div"}));
}

TEST(ExecutionTestResults, ReadsUnittestSummaryOk) {
  auto r = parse_runner_summary("...\n----------------------------------------------------------------------\n"
                                "Ran 3 tests in 0.000s\n\nOK\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->passed, 3);
  EXPECT_EQ(r->failed, 0);
}

TEST(ExecutionTestResults, ReadsPytestSummary) {
  auto r = parse_runner_summary("FAILED tests/test_a.py::test_x - assert 1 == 2\n"
                                "=========== 1 failed, 5 passed, 2 skipped in 0.12s ===========\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, "summary:pytest");
  EXPECT_EQ(r->passed, 5);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->skipped, 2);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"tests/test_a.py::test_x"}));
}

TEST(ExecutionTestResults, ReadsNodeTestSpecSummary) {
  auto r = parse_runner_summary("✔ adds (0.5ms)\n✖ divides (1.2ms)\nℹ tests 3\nℹ suites 0\nℹ pass 1\nℹ fail 1\n"
                                "ℹ cancelled 0\nℹ skipped 1\nℹ todo 0\nℹ duration_ms 40\n\n✖ failing tests:\n\n"
                                "✖ divides (1.2ms)\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, "summary:node");
  EXPECT_EQ(r->passed, 1);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"divides"}));
}

TEST(ExecutionTestResults, ReadsNodeTestTapSummary) {
  auto r = parse_runner_summary("TAP version 13\n# Subtest: adds\nok 1 - adds\n# Subtest: divides\nnot ok 2 - divides\n"
                                "1..2\n# tests 2\n# suites 0\n# pass 1\n# fail 1\n# cancelled 0\n# skipped 0\n"
                                "# todo 0\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->passed, 1);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"divides"}));
}

TEST(ExecutionTestResults, SumsCargoSummariesOfEveryTestBinary) {
  auto r = parse_runner_summary("test tests::adds ... ok\ntest tests::divides ... FAILED\n"
                                "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n"
                                "test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->passed, 3);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"tests::divides"}));
}

TEST(ExecutionTestResults, ReadsCtestSummary) {
  auto r = parse_runner_summary("50% tests passed, 1 tests failed out of 2\n\nTotal Test time (real) =   0.01 sec\n\n"
                                "The following tests FAILED:\n\t  2 - fails (Failed)\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, "summary:ctest");
  EXPECT_EQ(r->passed, 1);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"fails"}));
}

TEST(ExecutionTestResults, NoSummaryInOrdinaryOutput) { EXPECT_FALSE(parse_runner_summary("compiling...\ndone\n")); }

TEST(ExecutionTestResults, AddsJUnitFlagsPerRunner) {
  EXPECT_EQ(*add_junit_report(json::array{"pytest", "-q"}, "/r.xml"), (json::array{"pytest", "-q", "--junitxml=/r.xml"}));
  EXPECT_EQ(*add_junit_report(json::array{"python3", "-m", "pytest"}, "/r.xml"),
            (json::array{"python3", "-m", "pytest", "--junitxml=/r.xml"}));
  EXPECT_EQ(*add_junit_report(json::array{"ctest", "--test-dir", "build"}, "/r.xml"),
            (json::array{"ctest", "--test-dir", "build", "--output-junit", "/r.xml"}));
  EXPECT_EQ(*add_junit_report(json::array{"node", "--test"}, "/r.xml"),
            (json::array{"node", "--test-reporter=junit", "--test-reporter-destination=/r.xml", "--test-reporter=spec",
                         "--test-reporter-destination=stdout", "--test"}));
}

TEST(ExecutionTestResults, LeavesCommandsAloneThatAlreadyReportOrCannot) {
  EXPECT_FALSE(add_junit_report(json::array{"pytest", "--junitxml=mine.xml"}, "/r.xml"));
  EXPECT_FALSE(add_junit_report(json::array{"ctest", "--output-junit", "x.xml"}, "/r.xml"));
  EXPECT_FALSE(add_junit_report(json::array{"python3", "-m", "unittest"}, "/r.xml"));
  EXPECT_FALSE(add_junit_report(json::array{"npm", "test"}, "/r.xml"));
}
