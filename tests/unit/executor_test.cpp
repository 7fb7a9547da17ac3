// executor_test.cpp: the plan executor (ExecutionService + step graph) on the
// assembled server with a scripted isolation backend
// (test_plugins/scripted_exec_isolation.cpp), so that ordering, overlap,
// failures, retries, timeouts, cancellation, crash recovery, changed-file
// attribution, build-tool test reports and the disk limit are driven exactly.
#include <isb/core/server.hpp>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

// "2026-11-26T12:00:00.123Z" -> ms since the epoch.
int64_t ms_of(const json::value& t) {
  std::string s(t.as_string());
  struct tm tm {};
  int ms = 0;
  std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
              &tm.tm_sec, &ms);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::vector<std::string> strings(const json::value& a) {
  std::vector<std::string> out;
  for (const auto& v : a.as_array()) out.emplace_back(v.as_string());
  return out;
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isb-executor-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    config_.sandbox.base_dir = root_ + "/base";
    config_.sandbox.allowed_source_roots = {root_};
    config_.logging.level = "warning";
    config_.isolation.backend = "scripted-exec";
    config_.isolation.backend_explicit = true;
    // The scripted backend enforces nothing and says so; the executor, not
    // the security gate, is under test here.
    config_.security.level = isb::SecurityLevel::kLow;
    config_.security.allow_degraded = true;
    project_ = root_ + "/project";
    fs::create_directories(project_);
    std::ofstream(project_ + "/README") << "a project\n";
  }
  void TearDown() override {
    server_.reset();  // unmounts what its workspaces mounted (disk images)
    fs::remove_all(root_);
  }

  void start() {
    isb::ServerOptions options;
    options.extra_plugin_dirs = {ISB_TEST_PLUGIN_DIR, ISB_TEST_SCRIPTED_EXEC_PLUGIN_DIR};
    options.only_extra_plugin_dirs = true;
    auto s = isb::Server::create(config_, options);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
  }

  isb::Result<json::value> try_call(const std::string& op, json::object args, isb::CallContext* ctx = nullptr) {
    isb::CallContext local(isb::RequestInfo{"test", "", "", "", ""});
    return server_->operations().call(op, args, ctx ? *ctx : local);
  }
  json::value call(const std::string& op, json::object args) {
    auto r = try_call(op, std::move(args));
    EXPECT_TRUE(r.ok()) << op << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : json::value();
  }

  //! Creates workspace "w"; returns how its disk_mb is enforced ("disk_image"
  //! where the server can make one, "watch" otherwise, "" without a limit).
  std::string workspace(json::object extra = {}) {
    json::object args{{"source_path", project_}, {"workspace_id", "w"}};
    for (const auto& kv : extra) args[kv.key()] = kv.value();
    auto r = call("create_workspace", args);
    auto* limit = r.is_object() ? r.at("isolation").as_object().if_contains("disk_limit") : nullptr;
    return limit ? std::string(limit->at("enforced_by").as_string()) : "";
  }
  std::string ws_path() const { return root_ + "/base/workspaces/w"; }

  //! Plans the steps (auto-approved) and executes them; returns the result.
  json::object run(json::array steps) {
    auto plan = call("create_task_plan", {{"workspace_id", "w"}, {"steps", steps}, {"auto_approve", true}});
    auto r = call("execute_task_plan", {{"plan_id", plan.at("plan_id")}});
    return r.is_object() ? r.as_object() : json::object{};
  }
  static const json::object& step(const json::object& run, const std::string& id) {
    for (const auto& s : run.at("steps").as_array()) {
      if (s.at("step_id").as_string() == id) return s.as_object();
    }
    static json::object none;
    ADD_FAILURE() << "no step " << id;
    return none;
  }

  std::string root_, project_;
  isb::Config config_;
  std::unique_ptr<isb::Server> server_;
};

TEST_F(ExecutorTest, StepsStartOnlyAfterEveryDependencyFinished) {
  start();
  workspace();
  auto r = run(json::parse(R"([
      {"id": "a", "command": "sleep 120"},
      {"id": "b", "command": "sleep 60", "depends_on": ["a"]},
      {"id": "c", "command": "sleep 150", "depends_on": ["a"]},
      {"id": "d", "command": "echo done", "depends_on": ["b", "c"]}])")
               .as_array());
  ASSERT_EQ(r.at("status"), "succeeded");
  EXPECT_GE(ms_of(step(r, "b").at("started_at")), ms_of(step(r, "a").at("finished_at")));
  EXPECT_GE(ms_of(step(r, "c").at("started_at")), ms_of(step(r, "a").at("finished_at")));
  EXPECT_GE(ms_of(step(r, "d").at("started_at")), ms_of(step(r, "c").at("finished_at")));
  EXPECT_GE(ms_of(step(r, "d").at("started_at")), ms_of(step(r, "b").at("finished_at")));
  EXPECT_EQ(step(r, "d").at("stdout_tail"), "done\n");
}

TEST_F(ExecutorTest, IndependentStepsOverlapInTime) {
  start();
  workspace();
  auto r = run(json::parse(R"([{"id": "a", "command": "sleep 400"}, {"id": "b", "command": "sleep 400"}])").as_array());
  ASSERT_EQ(r.at("status"), "succeeded");
  // Each interval starts before the other ends.
  EXPECT_LT(ms_of(step(r, "a").at("started_at")), ms_of(step(r, "b").at("finished_at")));
  EXPECT_LT(ms_of(step(r, "b").at("started_at")), ms_of(step(r, "a").at("finished_at")));
  EXPECT_LT(r.at("duration_ms").as_int64(), 750);
}

TEST_F(ExecutorTest, MaxConcurrentOperationsOfOneRunsStepsOneAtATime) {
  config_.performance.max_concurrent_operations = 1;
  start();
  workspace();
  auto r = run(json::parse(R"([{"id": "a", "command": "sleep 150"}, {"id": "b", "command": "sleep 150"}])").as_array());
  ASSERT_EQ(r.at("status"), "succeeded");
  EXPECT_GE(ms_of(step(r, "b").at("started_at")), ms_of(step(r, "a").at("finished_at")));
}

TEST_F(ExecutorTest, FirstFailureSkipsDependentsAndStepsNotYetStarted) {
  start();
  workspace();
  auto r = run(json::parse(R"([
      {"id": "slow", "command": "sleep 300"},
      {"id": "bad", "command": "exit 3"},
      {"id": "after-bad", "command": "echo no", "depends_on": ["bad"]},
      {"id": "after-slow", "command": "echo no", "depends_on": ["slow"]}])")
               .as_array());
  EXPECT_EQ(r.at("status"), "failed");
  EXPECT_EQ(r.at("exit_code"), 3);
  EXPECT_EQ(step(r, "bad").at("status"), "failed");
  EXPECT_EQ(step(r, "slow").at("status"), "succeeded") << "a running step is not killed by another's failure";
  EXPECT_EQ(step(r, "after-bad").at("status"), "skipped");
  EXPECT_EQ(step(r, "after-bad").at("reason"), "step 'bad' it depends on did not succeed");
  EXPECT_EQ(step(r, "after-slow").at("status"), "skipped");
  EXPECT_EQ(step(r, "after-slow").at("reason"), "an earlier step did not succeed: step 'bad' failed");
  EXPECT_EQ(r.at("reason"), "an earlier step did not succeed: step 'bad' failed");
}

TEST_F(ExecutorTest, ContinueOnErrorLetsDependentsRun) {
  start();
  workspace();
  auto r = run(json::parse(R"([
      {"id": "lint", "command": "exit 1", "continue_on_error": true},
      {"id": "test", "command": "echo tested", "depends_on": ["lint"]}])")
               .as_array());
  EXPECT_EQ(step(r, "lint").at("status"), "failed");
  EXPECT_EQ(step(r, "lint").at("exit_code"), 1);
  EXPECT_EQ(step(r, "test").at("status"), "succeeded");
  EXPECT_EQ(r.at("status"), "succeeded");
}

TEST_F(ExecutorTest, RetryableStepIsRetriedWithBackoffUntilItSucceeds) {
  start();
  workspace();
  auto r = run(json::parse(R"([
      {"id": "flaky", "command": "fail-until 3; echo ok", "retryable": true,
       "retry": {"attempts": 4, "backoff_ms": 200}}])")
               .as_array());
  ASSERT_EQ(r.at("status"), "succeeded");
  const auto& attempts = step(r, "flaky").at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].at("status"), "failed");
  EXPECT_EQ(attempts[1].at("status"), "failed");
  EXPECT_EQ(attempts[2].at("status"), "succeeded");
  // Two backoffs of 200 ms separate the three attempts.
  EXPECT_GE(ms_of(step(r, "flaky").at("finished_at")) - ms_of(step(r, "flaky").at("started_at")), 400);
  EXPECT_EQ(step(r, "flaky").at("stdout_tail"), "ok\n") << "only the last attempt's output is kept";
}

TEST_F(ExecutorTest, RetriesStopAtTheConfiguredAttempts) {
  start();
  workspace();
  auto r = run(json::parse(R"([
      {"id": "broken", "command": "fail-until 9", "retryable": true, "retry": {"attempts": 2, "backoff_ms": 0}}])")
               .as_array());
  EXPECT_EQ(r.at("status"), "failed");
  EXPECT_EQ(step(r, "broken").at("attempts").as_array().size(), 2u);
}

TEST_F(ExecutorTest, StepTimeoutStopsTheStepAndSaysWhy) {
  start();
  workspace();
  auto r = run(json::parse(R"([{"id": "stuck", "command": "hang", "timeout_s": 1},
                               {"id": "next", "command": "echo no", "depends_on": ["stuck"]}])")
                   .as_array());
  EXPECT_EQ(r.at("status"), "failed");
  const auto& s = step(r, "stuck");
  EXPECT_EQ(s.at("status"), "timed_out");
  EXPECT_EQ(s.at("timed_out"), true);
  EXPECT_EQ(s.at("reason"), "the step ran longer than its timeout of 1 s");
  EXPECT_EQ(s.at("killed_by"), "timeout");
  EXPECT_GE(s.at("duration_ms").as_int64(), 1000);
  EXPECT_LT(s.at("duration_ms").as_int64(), 2000);
  EXPECT_EQ(step(r, "next").at("status"), "skipped");
}

TEST_F(ExecutorTest, PlanTimeoutCutsTheRunningStepAndSkipsTheRest) {
  config_.performance.operation_timeout = 1;
  start();
  workspace();
  auto r = run(json::parse(R"([{"id": "first", "command": "sleep 300"},
                               {"id": "long", "command": "hang", "timeout_s": 60, "depends_on": ["first"]},
                               {"id": "last", "command": "echo no", "depends_on": ["long"]}])")
                   .as_array());
  EXPECT_EQ(r.at("status"), "failed");
  EXPECT_EQ(step(r, "first").at("status"), "succeeded");
  EXPECT_EQ(step(r, "long").at("status"), "timed_out");
  EXPECT_EQ(step(r, "long").at("reason"), "the plan ran longer than performance.operation_timeout (1 s)");
  EXPECT_EQ(step(r, "last").at("status"), "skipped");
  EXPECT_LT(r.at("duration_ms").as_int64(), 2000);
}

TEST_F(ExecutorTest, CancellationStopsRunningStepsWithinASecondAndSkipsTheRest) {
  start();
  workspace();
  auto plan = call("create_task_plan", {{"workspace_id", "w"},
                                        {"steps", json::parse(R"([{"id": "a", "command": "hang"},
                                                                  {"id": "b", "command": "hang"},
                                                                  {"id": "c", "command": "echo no",
                                                                   "depends_on": ["a"]}])")},
                                        {"auto_approve", true}});
  auto running = std::async(std::launch::async, [&] { return call("execute_task_plan", {{"plan_id", plan.at("plan_id")}}); });
  std::string execution_id;
  for (int i = 0; i < 200 && execution_id.empty(); ++i) {
    auto h = call("get_execution_history", {{"workspace_id", "w"}, {"status", "running"}});
    if (h.at("count").as_int64() == 1) execution_id = h.at("executions").at(0).at("execution_id").as_string();
    else std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(execution_id.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto asked = std::chrono::steady_clock::now();
  auto c = call("cancel_execution", {{"execution_id", execution_id}});
  EXPECT_EQ(c.at("status"), "cancelling");
  ASSERT_EQ(running.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_LT(took, std::chrono::seconds(1));
  auto r = running.get().as_object();
  EXPECT_EQ(r.at("status"), "cancelled");
  EXPECT_EQ(step(r, "a").at("status"), "cancelled");
  EXPECT_EQ(step(r, "b").at("status"), "cancelled");
  EXPECT_EQ(step(r, "c").at("status"), "skipped");
  EXPECT_EQ(call("get_plan", {{"plan_id", plan.at("plan_id")}}).at("status"), "cancelled");
  auto again = try_call("cancel_execution", {{"execution_id", execution_id}});
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("is not running (it is cancelled)"));
}

TEST_F(ExecutorTest, ExecutionCutShortByAServerCrashIsInterruptedAfterRestart) {
  // The first server runs in a child process that is SIGKILLed mid-step.
  const std::string marker = root_ + "/base/workspaces/w/started.txt";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    start();
    workspace();
    run(json::parse(R"([{"id": "quick", "command": "echo ok"},
                        {"id": "stuck", "command": "write started.txt; hang", "depends_on": ["quick"]}])")
            .as_array());
    _exit(0);  // not reached: killed while "stuck" hangs
  }
  for (int i = 0; i < 1000 && !fs::exists(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(marker)) << "the child never reached the hanging step";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);

  start();
  auto h = call("get_execution_history", {{"workspace_id", "w"}});
  ASSERT_EQ(h.at("count").as_int64(), 1);
  const auto& e = h.at("executions").at(0).as_object();
  EXPECT_EQ(e.at("status"), "interrupted");
  // The step that finished before the crash is in the history.
  ASSERT_EQ(e.at("steps").as_array().size(), 1u);
  EXPECT_EQ(e.at("steps").at(0).at("step_id"), "quick");
  EXPECT_EQ(e.at("steps").at(0).at("status"), "succeeded");
  auto plans = call("list_plans", {{"workspace_id", "w"}});
  EXPECT_EQ(plans.at("plans").at(0).at("status"), "interrupted");
}

// ---- changed files per step ----

TEST_F(ExecutorTest, OverlappingStepsReportTheirChangesAsAConcurrentGroup) {
  start();
  workspace();
  auto r = run(json::parse(R"([
      {"id": "a", "command": "sleep 200; write a.txt"},
      {"id": "b", "command": "sleep 200; write sub/b.txt"},
      {"id": "c", "command": "write c.txt", "depends_on": ["a", "b"]}])")
                   .as_array());
  ASSERT_EQ(r.at("status"), "succeeded");
  for (const char* id : {"a", "b"}) {
    const auto& s = step(r, id);
    EXPECT_EQ(s.at("changed_files_scope"), "concurrent_group") << id;
    EXPECT_THAT(strings(s.at("concurrent_steps")), ElementsAre("a", "b")) << id;
    EXPECT_THAT(strings(s.at("files").at("added")), ElementsAre("a.txt", "sub/b.txt")) << id;
  }
  // c ran alone: its changes are its own.
  EXPECT_EQ(step(r, "c").at("changed_files_scope"), "step");
  EXPECT_FALSE(step(r, "c").contains("concurrent_steps"));
  EXPECT_THAT(strings(step(r, "c").at("files").at("added")), ElementsAre("c.txt"));
  // The history says the same.
  auto h = call("get_execution_history", {{"workspace_id", "w"}});
  const auto& hs = h.at("executions").at(0).at("steps").as_array();
  EXPECT_EQ(hs[0].at("changed_files_scope"), "concurrent_group");
  EXPECT_EQ(hs[2].at("changed_files_scope"), "step");
}

TEST_F(ExecutorTest, StepsRunOneAfterAnotherGetExactlyTheirOwnChanges) {
  config_.performance.max_concurrent_operations = 1;
  start();
  workspace();
  auto r = run(json::parse(R"([{"id": "a", "command": "write a.txt"},
                               {"id": "b", "command": "write b.txt 5; write a.txt 9"}])")
                   .as_array());
  ASSERT_EQ(r.at("status"), "succeeded");
  EXPECT_EQ(step(r, "a").at("changed_files_scope"), "step");
  EXPECT_THAT(strings(step(r, "a").at("files").at("added")), ElementsAre("a.txt"));
  EXPECT_THAT(strings(step(r, "b").at("files").at("added")), ElementsAre("b.txt"));
  EXPECT_THAT(strings(step(r, "b").at("files").at("modified")), ElementsAre("a.txt"));
}

// ---- test reports Maven and Gradle write on their own ----

class BuildToolReportsTest : public ExecutorTest {
 protected:
  void SetUp() override {
    ExecutorTest::SetUp();
    fs::remove_all(project_);
    fs::copy(std::string(ISB_TEST_PROJECT_FIXTURES) + "/maven-surefire", project_, fs::copy_options::recursive);
    // The stale report is older than any step (as a report of an earlier run is).
    fs::last_write_time(project_ + "/target/surefire-reports/TEST-com.example.OldTest.xml",
                        fs::file_time_type::clock::now() - std::chrono::hours(24));
  }
};

TEST_F(BuildToolReportsTest, SurefireAndFailsafeReportsOfATestStepAreCountedWithoutDeclaringThem) {
  start();
  workspace();
  auto r = run(json::parse(R"([{"id": "test", "phase": "test", "command":
      "copy reports/TEST-com.example.CalculatorTest.xml target/surefire-reports/TEST-com.example.CalculatorTest.xml; copy reports/TEST-com.example.StringsIT.xml target/failsafe-reports/TEST-com.example.StringsIT.xml; exit 1"}])")
                   .as_array());
  const auto& t = step(r, "test").at("tests").as_object();
  EXPECT_EQ(t.at("passed"), 2);
  EXPECT_EQ(t.at("failed"), 2);
  EXPECT_EQ(t.at("skipped"), 1);
  EXPECT_EQ(t.at("total"), 5) << "the stale OldTest report (5 tests) is not this step's";
  EXPECT_THAT(strings(t.at("failing_tests")),
              ElementsAre("com.example.CalculatorTest.divides", "com.example.StringsIT.readsFile"));
  EXPECT_EQ(t.at("source"), "junit:target/surefire-reports,target/failsafe-reports");
}

TEST_F(BuildToolReportsTest, GradleTestResultsOfAGradleStepAreCountedInAnyPhase) {
  start();
  workspace();
  auto r = run(json::parse(R"([{"id": "check", "phase": "build", "command":
      "echo ./gradlew check; copy reports/TEST-com.example.CalculatorTest.xml build/test-results/test/TEST-com.example.CalculatorTest.xml"}])")
                   .as_array());
  const auto& t = step(r, "check").at("tests").as_object();
  EXPECT_EQ(t.at("passed"), 1);
  EXPECT_EQ(t.at("failed"), 1);
  EXPECT_EQ(t.at("skipped"), 1);
  EXPECT_EQ(t.at("source"), "junit:build/test-results");
}

TEST_F(BuildToolReportsTest, OnlyStaleReportsMeanNoTestResults) {
  start();
  workspace();
  auto r = run(json::parse(R"([{"id": "test", "phase": "test", "command": "echo nothing ran"}])").as_array());
  EXPECT_TRUE(step(r, "test").at("tests").is_null());
}

// ---- disk_mb ----

TEST_F(ExecutorTest, StepGrowingPastDiskLimitIsStoppedAndFurtherWorkRefusedUntilFilesAreDeleted) {
  config_.sandbox.disk_images = false;  // the watch (a disk image: tests/e2e/security_memory_disk.test.mjs)
  start();
  const std::string enforced = workspace({{"isolation", json::object{{"resource_limits", json::object{{"disk_mb", 1}}}}}});
  auto r = run(json::parse(R"([{"id": "fill", "command": "write big.bin 2000000; hang", "timeout_s": 20}])").as_array());
  const auto& s = step(r, "fill");
  EXPECT_EQ(s.at("status"), "failed");
  EXPECT_EQ(s.at("killed_by"), "disk");
  EXPECT_LT(s.at("duration_ms").as_int64(), 5000) << "stopped by the watch, not by the 20 s timeout";
  // On a disk image the write itself stops at the limit (ENOSPC) and the
  // watch sees the image full; elsewhere the watch sees it grow past.
  EXPECT_THAT(std::string(s.at("reason").as_string()),
              HasSubstr(enforced == "disk_image"
                            ? "the workspace's disk of 1.0 MB (resource_limits.disk_mb) is full"
                            : "the workspace uses 1.9 MB, over its disk limit of 1.0 MB (resource_limits.disk_mb)"));
  EXPECT_EQ(r.at("status"), "failed");

  auto refused = try_call("exec_command", {{"workspace_id", "w"}, {"command", "echo hi"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, isb::ErrorCode::kResourceExhausted);
  EXPECT_THAT(refused.error().message,
              HasSubstr(enforced == "disk_image" ? "at its disk limit of 1 MB (resource_limits.disk_mb); delete files"
                                                 : "over its disk limit of 1 MB (resource_limits.disk_mb); delete files"));
  auto write = try_call("write_file", {{"workspace_id", "w"}, {"path", "x.txt"}, {"content", "x"}});
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().code, isb::ErrorCode::kResourceExhausted);

  call("delete_file", {{"workspace_id", "w"}, {"path", "big.bin"}});
  auto ok = call("exec_command", {{"workspace_id", "w"}, {"command", "echo hi"}});
  EXPECT_EQ(ok.at("status"), "succeeded");
}

TEST_F(ExecutorTest, QuickStepLeavingTheWorkspaceOverItsDiskLimitFails) {
  config_.sandbox.disk_images = false;
  start();
  const std::string enforced = workspace({{"isolation", json::object{{"resource_limits", json::object{{"disk_mb", 1}}}}}});
  auto r = call("exec_command", {{"workspace_id", "w"}, {"command", "write big.bin 1500000"}});
  EXPECT_EQ(r.at("status"), "failed");
  EXPECT_EQ(r.at("killed_by"), "disk");
  EXPECT_THAT(std::string(r.at("stderr").as_string()),
              HasSubstr(enforced == "disk_image" ? "disk of 1.0 MB (resource_limits.disk_mb) is full"
                                                 : "over its disk limit of 1.0 MB"));
}


// ---- background executions ----

//! Events a request receives, with when they came.
struct Recorded {
  std::mutex mu;
  std::vector<std::pair<std::chrono::steady_clock::time_point, json::object>> events;
  isb::CallContext::EventFn fn() {
    return [this](const json::object& e) {
      std::lock_guard<std::mutex> lock(mu);
      events.emplace_back(std::chrono::steady_clock::now(), e);
    };
  }
};

TEST_F(ExecutorTest, WaitFalseReturnsTheCommandRunningAndWaitExecutionGivesNewOutputThenTheResult) {
  start();
  workspace();
  const auto started = std::chrono::steady_clock::now();
  auto r = call("exec_command", {{"workspace_id", "w"}, {"command", "echo hi; sleep 600; echo bye"}, {"wait", false}});
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
  ASSERT_EQ(r.at("status"), "running") << json::serialize(r);
  EXPECT_EQ(r.at("kind"), "command");
  EXPECT_EQ(r.at("step_id"), "command");
  const std::string id(r.at("execution_id").as_string());

  // The first line comes soon, but a loaded machine may take its time: look
  // again until it is there (bounded), as a client polling would.
  json::value mid;
  for (int i = 0; i < 100; ++i) {
    mid = call("wait_execution", {{"execution_id", id}, {"timeout_s", 0}});
    if (mid.at("stdout") != "") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(mid.at("status"), "running");
  EXPECT_EQ(mid.at("stdout"), "hi\n");
  EXPECT_EQ(mid.at("since"), json::parse(R"({"stdout_offset":3,"stderr_offset":0})"));
  auto none = call("wait_execution", {{"execution_id", id}, {"timeout_s", 0}, {"since", mid.at("since")}});
  EXPECT_EQ(none.at("stdout"), "");

  auto done = call("wait_execution", {{"execution_id", id}, {"timeout_s", 10}, {"since", mid.at("since")}});
  EXPECT_EQ(done.at("status"), "succeeded");
  EXPECT_EQ(done.at("stdout"), "hi\nbye\n");
  EXPECT_EQ(done.at("execution_id").as_string(), id);
  // Long after: the same result, from the store.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(call("wait_execution", {{"execution_id", id}}), done);

  auto unknown = try_call("wait_execution", {{"execution_id", "exec-000000000000"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, isb::ErrorCode::kNotFound);
  EXPECT_THAT(unknown.error().message, HasSubstr("execution ids come from the execution_id of exec_command and "
                                                 "execute_task_plan results, and get_execution_history lists them"));
}

TEST_F(ExecutorTest, AWaitingRequestHearsProgressEveryTwoSecondsWithTheStepAndItsLatestLine) {
  start();
  workspace();
  Recorded got;
  isb::CallContext ctx(isb::RequestInfo{"test", "", "", "", ""}, got.fn());
  const auto from = std::chrono::steady_clock::now();
  auto r = try_call("exec_command", {{"workspace_id", "w"}, {"command", "echo first line; sleep 5500; echo done"}}, &ctx);
  const auto to = std::chrono::steady_clock::now();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("status"), "succeeded");
  std::lock_guard<std::mutex> lock(got.mu);
  std::vector<std::chrono::steady_clock::time_point> progress;
  double last = -1;
  for (const auto& [at, e] : got.events) {
    if (e.at("type") != "progress") continue;
    progress.push_back(at);
    EXPECT_THAT(std::string(e.at("message").as_string()),
                ::testing::MatchesRegex("step 'command' running for [0-9]+ s: first line"));
    EXPECT_GT(e.at("progress").to_number<double>(), last);
    last = e.at("progress").to_number<double>();
  }
  ASSERT_GE(progress.size(), 2u);
  auto prev = from;
  for (auto at : progress) {
    EXPECT_LE(at - prev, std::chrono::milliseconds(2600));
    prev = at;
  }
  EXPECT_LE(to - prev, std::chrono::milliseconds(2600));
  EXPECT_TRUE(std::any_of(got.events.begin(), got.events.end(), [](const auto& e) {
    return e.second.at("type") == "output" && e.second.at("data") == "first line\n";
  }));
}

TEST_F(ExecutorTest, ARequestWhoseClientWentAwayReturnsAndLeavesTheExecutionRunning) {
  start();
  workspace();
  std::atomic<bool> gone{false};
  isb::CallContext ctx(isb::RequestInfo{"test", "", "", "", ""}, {}, [&] { return gone.load(); },
                       [&] { return gone.load(); });
  auto later = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    gone = true;
  });
  const auto from = std::chrono::steady_clock::now();
  auto r = try_call("exec_command", {{"workspace_id", "w"}, {"command", "sleep 1500; echo finished"}}, &ctx);
  EXPECT_LT(std::chrono::steady_clock::now() - from, std::chrono::milliseconds(1000));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->at("status"), "running");
  auto done = call("wait_execution", {{"execution_id", r->at("execution_id")}, {"timeout_s", 10}});
  EXPECT_EQ(done.at("status"), "succeeded");
  EXPECT_EQ(done.at("stdout"), "finished\n");
}

TEST_F(ExecutorTest, CancellingTheRequestThatWaitsCancelsItsExecution) {
  start();
  workspace();
  std::atomic<bool> cancelled{false};
  isb::CallContext ctx(isb::RequestInfo{"test", "", "", "", ""}, {}, [&] { return cancelled.load(); });
  auto later = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancelled = true;
  });
  auto r = try_call("exec_command", {{"workspace_id", "w"}, {"command", "hang"}}, &ctx);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("status"), "cancelled");
  EXPECT_EQ(r->at("reason"), "cancelled on request");
}

TEST_F(ExecutorTest, ABackgroundExecutionKeepsItsWorkspaceFromIdleCleanup) {
  // The scripted backend reports no processes (no sandbox_status), so only
  // the execution's workspace activity keeps the workspace alive.
  config_.sandbox.workspace_timeout = 1;
  config_.sandbox.cleanup_interval = 1;
  start();
  workspace();
  auto r = call("exec_command", {{"workspace_id", "w"}, {"command", "hang"}, {"wait", false}});
  ASSERT_EQ(r.at("status"), "running");
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  auto listed = call("list_workspaces", {});
  ASSERT_EQ(listed.at("workspaces").as_array().size(), 1u) << "cleaned up while its execution ran";
  call("cancel_execution", {{"execution_id", r.at("execution_id")}});
  EXPECT_EQ(call("wait_execution", {{"execution_id", r.at("execution_id")}, {"timeout_s", 5}}).at("status"),
            "cancelled");
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = call("list_workspaces", {}).at("workspaces").as_array().empty();
  }
  EXPECT_TRUE(gone) << "idle cleanup never ran once the execution ended";
}

TEST_F(ExecutorTest, ExecutionsBeyondMaxConcurrentOperationsAreRefusedNamingTheKey) {
  config_.performance.max_concurrent_operations = 1;
  start();
  workspace();
  auto r = call("exec_command", {{"workspace_id", "w"}, {"command", "hang"}, {"wait", false}});
  auto refused = try_call("exec_command", {{"workspace_id", "w"}, {"command", "echo no"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, isb::ErrorCode::kResourceExhausted);
  EXPECT_THAT(refused.error().message, HasSubstr("(performance.max_concurrent_operations); wait for one to end"));
  // A plan refused this way stays approved: it never started.
  auto plan = call("create_task_plan", {{"workspace_id", "w"}, {"steps", json::parse(R"([{"command": "echo p"}])")},
                                        {"auto_approve", true}});
  ASSERT_FALSE(try_call("execute_task_plan", {{"plan_id", plan.at("plan_id")}}).ok());
  EXPECT_EQ(call("get_plan", {{"plan_id", plan.at("plan_id")}}).at("status"), "approved");
  call("cancel_execution", {{"execution_id", r.at("execution_id")}});
  call("wait_execution", {{"execution_id", r.at("execution_id")}, {"timeout_s", 5}});
  EXPECT_EQ(call("exec_command", {{"workspace_id", "w"}, {"command", "echo yes"}}).at("stdout"), "yes\n");
}

TEST_F(ExecutorTest, APlanRunningInTheBackgroundListsItsStepsAndTakesOffsetsPerStep) {
  config_.performance.execution_wait_s = 0;
  start();
  workspace();
  auto plan = call("create_task_plan", {{"workspace_id", "w"},
                                        {"steps", json::parse(R"([{"id": "a", "command": "echo A; sleep 400"},
                                                                  {"id": "b", "command": "echo B", "depends_on": ["a"]}])")},
                                        {"auto_approve", true}});
  auto r = call("execute_task_plan", {{"plan_id", plan.at("plan_id")}});
  ASSERT_EQ(r.at("status"), "running");
  EXPECT_EQ(r.at("plan_id"), plan.at("plan_id"));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto mid = call("wait_execution", {{"execution_id", r.at("execution_id")}, {"timeout_s", 0}});
  ASSERT_EQ(mid.at("steps").as_array().size(), 2u);
  EXPECT_EQ(mid.at("steps").at(0).at("status"), "running");
  EXPECT_EQ(mid.at("steps").at(0).at("stdout"), "A\n");
  EXPECT_EQ(mid.at("steps").at(1).at("status"), "pending");
  EXPECT_EQ(mid.at("since"), json::parse(R"({"steps":{"a":{"stdout_offset":2,"stderr_offset":0}}})"));
  auto flat = try_call("wait_execution", {{"execution_id", r.at("execution_id")}, {"since", json::object{{"stdout_offset", 1}}}});
  ASSERT_FALSE(flat.ok());
  EXPECT_THAT(flat.error().message, HasSubstr("is a plan; give its offsets per step"));
  auto done = call("wait_execution", {{"execution_id", r.at("execution_id")}, {"timeout_s", 10}, {"since", mid.at("since")}});
  EXPECT_EQ(done.at("status"), "succeeded");
  EXPECT_EQ(step(done.as_object(), "b").at("stdout_tail"), "B\n");
}

TEST_F(ExecutorTest, StoppingTheServerCancelsItsExecutionsAndRecordsWhy) {
  start();
  workspace();
  auto r = call("exec_command", {{"workspace_id", "w"}, {"command", "echo before; hang"}, {"wait", false}});
  const std::string id(r.at("execution_id").as_string());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto from = std::chrono::steady_clock::now();
  server_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - from, std::chrono::seconds(2));
  start();
  auto done = call("wait_execution", {{"execution_id", id}});
  EXPECT_EQ(done.at("status"), "cancelled");
  EXPECT_EQ(done.at("reason"), "the server stopped while the step ran");
  EXPECT_EQ(done.at("stdout"), "before\n");
}

}  // namespace
