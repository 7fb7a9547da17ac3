// plan_step_graph_test.cpp: validation and defaults of plan steps (explicit
// and planner-made), cycle and unknown-dependency refusals, ordering.
#include "services/step_graph.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace json = boost::json;
using isb::services::normalize_steps;
using isb::services::topological_order;

namespace {

json::array steps(const char* text) { return json::parse(text).as_array(); }

std::string error_of(const char* text) {
  auto r = normalize_steps(steps(text), "explicit");
  return r ? std::string("<no error>") : r.error().message;
}

}  // namespace

TEST(PlanStepGraph, FillsDefaultsForAShellCommand) {
  auto r = normalize_steps(steps(R"([{"command":"make check"}])"), "explicit");
  ASSERT_TRUE(r) << r.error().message;
  const json::object& s = (*r)[0].as_object();
  EXPECT_EQ(s.at("id"), "step-1");
  EXPECT_EQ(s.at("title"), "make check");
  EXPECT_EQ(s.at("shell"), "make check");
  EXPECT_FALSE(s.contains("argv"));
  EXPECT_EQ(s.at("phase"), "custom");
  EXPECT_EQ(s.at("cwd"), ".");
  EXPECT_TRUE(s.at("timeout_s").is_null());
  EXPECT_EQ(s.at("depends_on"), json::array{});
  EXPECT_EQ(s.at("retryable"), false);
  EXPECT_EQ(s.at("retry"), (json::object{{"attempts", 1}, {"backoff_ms", 1000}}));
  EXPECT_EQ(s.at("continue_on_error"), false);
  EXPECT_EQ(s.at("provenance"), (json::object{{"source", "explicit"}}));
}

TEST(PlanStepGraph, ArrayCommandBecomesArgv) {
  auto r = normalize_steps(steps(R"([{"id":"t","name":"Tests","command":["ctest","--test-dir","build"],"phase":"test",
                                     "timeout_s":30,"retryable":true,"retry":{"attempts":3,"backoff_ms":10}}])"),
                           "explicit");
  ASSERT_TRUE(r) << r.error().message;
  const json::object& s = (*r)[0].as_object();
  EXPECT_EQ(s.at("argv"), (json::array{"ctest", "--test-dir", "build"}));
  EXPECT_EQ(s.at("title"), "Tests");
  EXPECT_EQ(s.at("timeout_s"), 30);
  EXPECT_EQ(s.at("retry"), (json::object{{"attempts", 3}, {"backoff_ms", 10}}));
}

TEST(PlanStepGraph, RefusesDependencyOnUnknownStepNamingBoth) {
  EXPECT_EQ(error_of(R"([{"id":"build","command":"make"},{"id":"test","command":"make check","depends_on":["biuld"]}])"),
            "step 'test': depends on unknown step 'biuld'; the steps are: build, test");
}

TEST(PlanStepGraph, RefusesCycleNamingTheStepsInOrder) {
  EXPECT_EQ(error_of(R"([{"id":"a","command":"x","depends_on":["c"]},{"id":"b","command":"y","depends_on":["a"]},
                        {"id":"c","command":"z","depends_on":["b"]}])"),
            "steps: depends_on forms a cycle: a -> c -> b -> a; remove one of these dependencies");
}

TEST(PlanStepGraph, RefusesSelfDependency) {
  EXPECT_EQ(error_of(R"([{"id":"a","command":"x","depends_on":["a"]}])"),
            "step 'a': depends on itself; remove it from its own depends_on");
}

TEST(PlanStepGraph, RefusesDuplicateIds) {
  EXPECT_EQ(error_of(R"([{"id":"a","command":"x"},{"id":"a","command":"y"}])"),
            "steps[1].id: 'a' is also the id of steps[0]; step ids must be unique");
}

TEST(PlanStepGraph, RefusesRetriesOnAStepNotMarkedRetryable) {
  EXPECT_EQ(error_of(R"([{"id":"deploy","command":"x","retry":{"attempts":3}}])"),
            "step 'deploy'.retry: asks for 3 attempts but the step is not marked \"retryable\": true; mark it so only "
            "when running it twice is safe");
}

TEST(PlanStepGraph, RefusesCwdOutsideTheWorkspace) {
  EXPECT_EQ(error_of(R"([{"id":"a","command":"x","cwd":"../etc"}])"),
            "step 'a'.cwd: must be a path relative to the workspace root without '..' (e.g. \"packages/api\")");
  EXPECT_EQ(error_of(R"([{"id":"a","command":"x","cwd":"/etc"}])"),
            "step 'a'.cwd: must be a path relative to the workspace root without '..' (e.g. \"packages/api\")");
}

TEST(PlanStepGraph, RefusesStepWithoutCommandOrWithTwo) {
  EXPECT_EQ(error_of(R"([{"id":"a"}])"),
            "step 'a': has no command; give \"command\": \"make check\" (a shell line) or [\"make\", \"check\"] (argv)");
  EXPECT_EQ(error_of(R"([{"id":"a","shell":"x","argv":["x"]}])"),
            "step 'a': gives more than one of command, argv and shell; keep one");
}

TEST(PlanStepGraph, RefusesUnknownFieldsAndEmptyPlans) {
  EXPECT_EQ(error_of(R"([{"id":"a","command":"x","timeout":5}])").rfind("steps[0]: unknown field 'timeout'", 0), 0u);
  EXPECT_EQ(error_of("[]"), "steps: the plan has no steps; give at least one {\"command\": ...}");
}

TEST(PlanStepGraph, TopologicalOrderPutsDependenciesFirst) {
  auto r = normalize_steps(steps(R"([{"id":"test","command":"t","depends_on":["build"]},
                                     {"id":"build","command":"b","depends_on":["install"]},
                                     {"id":"install","command":"i"},{"id":"lint","command":"l"}])"),
                           "explicit");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(topological_order(*r), (std::vector<size_t>{2, 1, 0, 3}));
}
