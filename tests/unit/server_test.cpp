// server_test.cpp: the assembled server with the real plugins: backend choice
// and fallback, required plugins, and operations called through the registry
// (whose results are checked against their output schemas on every call).
#include <isb/core/server.hpp>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::HasSubstr;

namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isb-server-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    config_.sandbox.base_dir = root_ + "/base";
    config_.sandbox.allowed_source_roots = {root_};
    config_.logging.level = "warning";
    project_ = root_ + "/project";
    fs::create_directories(project_);
    std::ofstream(project_ + "/hello.sh") << "#!/bin/sh\necho hello\n";
  }
  void TearDown() override { fs::remove_all(root_); }

  isb::Result<std::unique_ptr<isb::Server>> start() {
    isb::ServerOptions options;
    options.extra_plugin_dirs = {ISB_TEST_PLUGIN_DIR};
    options.only_extra_plugin_dirs = true;
    return isb::Server::create(config_, options);
  }

  static json::value call(isb::Server& s, const std::string& op, json::object args) {
    isb::CallContext ctx(isb::RequestInfo{"test"});
    auto r = s.operations().call(op, args, ctx);
    EXPECT_TRUE(r.ok()) << op << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : json::value();
  }

  std::string root_;
  std::string project_;
  isb::Config config_;
};

TEST_F(ServerTest, DockerBackendFallsBackToProcessAndSaysSo) {
  config_.isolation.backend = "docker";
  config_.isolation.backend_explicit = true;
  config_.isolation.fallback_isolation = true;
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto status = call(**s, "get_sandbox_status", {});
  const auto& iso = status.at("isolation").as_object();
  EXPECT_EQ(iso.at("backend").as_string(), "process");
  EXPECT_EQ(iso.at("requested").as_string(), "docker");
  EXPECT_THAT(std::string(iso.at("note").as_string()), HasSubstr("fallback_isolation is true"));
}

TEST_F(ServerTest, DockerBackendWithoutFallbackRefusesToStart) {
  config_.isolation.backend = "docker";
  config_.isolation.backend_explicit = true;
  config_.isolation.fallback_isolation = false;
  auto s = start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("isolation backend 'docker' is unavailable"));
  EXPECT_THAT(s.error().message, HasSubstr("fallback_isolation"));
}

TEST_F(ServerTest, MissingRequiredPluginRefusesToStart) {
  config_.plugins.required = {"no-such-plugin"};
  auto s = start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("plugins.required lists 'no-such-plugin'"));
}

TEST_F(ServerTest, RegistersTheSeedToolsAndTheFoundationTools) {
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::vector<std::string> names;
  for (const auto& op : (*s)->operations().list()) names.emplace_back(op.at("name").as_string());
  for (const char* n : {"create_workspace", "analyze_codebase", "create_task_plan", "approve_plan",
                        "execute_task_plan", "get_execution_history", "destroy_workspace", "get_sandbox_status",
                        "list_workspaces", "exec_command"}) {
    EXPECT_THAT(names, ::testing::Contains(std::string(n)));
  }
}

TEST_F(ServerTest, ExecCommandRunsInWorkspaceAndIsRecorded) {
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto ws = call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "srv"}});
  ASSERT_TRUE(ws.is_object());
  auto out = call(**s, "exec_command", {{"workspace_id", "srv"}, {"command", "sh hello.sh; pwd; exit 3"}});
  EXPECT_EQ(out.at("exit_code").as_int64(), 3);
  EXPECT_EQ(out.at("status").as_string(), "failed");
  EXPECT_THAT(std::string(out.at("stdout").as_string()), HasSubstr("hello\n" + root_ + "/base/workspaces/srv\n"));
  auto history = call(**s, "get_execution_history", {{"workspace_id", "srv"}});
  ASSERT_EQ(history.at("count").as_int64(), 1);
  EXPECT_EQ(history.at("executions").at(0).at("kind").as_string(), "command");
  EXPECT_EQ(history.at("executions").at(0).at("exit_code").as_int64(), 3);
}

TEST_F(ServerTest, ExecutionsLeftRunningAreInterruptedAfterRestartAndWorkspacesSurvive) {
  {
    auto s = start();
    ASSERT_TRUE(s.ok()) << s.error().message;
    call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "keep"}});
  }
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto list = call(**s, "list_workspaces", {});
  ASSERT_EQ(list.at("count").as_int64(), 1);
  auto out = call(**s, "exec_command", {{"workspace_id", "keep"}, {"command", "echo again"}});
  EXPECT_EQ(out.at("exit_code").as_int64(), 0) << "the sandbox is recreated on restart";
}

TEST_F(ServerTest, UnknownOperationAndBadArgumentsAreClearErrors) {
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  isb::CallContext ctx(isb::RequestInfo{"test"});
  auto unknown = (*s)->operations().call("nope", json::object{}, ctx);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.error().message, HasSubstr("unknown operation 'nope'"));
  auto bad = (*s)->operations().call("exec_command", json::object{{"workspace_id", "x"}, {"command", 5}}, ctx);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, isb::ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("command"));
}

}  // namespace
