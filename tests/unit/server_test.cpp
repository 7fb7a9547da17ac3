// server_test.cpp: the assembled server with the real plugins: backend choice
// and fallback, required plugins, and operations called through the registry
// (whose results are checked against their output schemas on every call).
#include <isb/core/server.hpp>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <isb/core/isolation_backends.hpp>
#include <isb/core/security.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

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
    // These tests are about the core, not about what this host can enforce:
    // the real process backend is checked at the lowest level only.
    config_.security.level = isb::SecurityLevel::kLow;
    // A Docker engine may run on this machine (the docker tests start one);
    // these tests want it out of reach, so that docker is "unavailable".
    config_.plugins.settings_json["docker"] = R"({"host":"unix:///nonexistent/docker.sock"})";
    project_ = root_ + "/project";
    fs::create_directories(project_);
    std::ofstream(project_ + "/hello.sh") << "#!/bin/sh\necho hello\n";
  }
  void TearDown() override { fs::remove_all(root_); }

  isb::Result<std::unique_ptr<isb::Server>> start(
      std::vector<std::string> plugin_dirs = {ISB_TEST_PLUGIN_DIR, ISB_TEST_SCRIPTED_PLUGIN_DIR}) {
    isb::ServerOptions options;
    options.extra_plugin_dirs = std::move(plugin_dirs);
    options.only_extra_plugin_dirs = true;
    return isb::Server::create(config_, options);
  }

  static json::value call(isb::Server& s, const std::string& op, json::object args) {
    isb::CallContext ctx(isb::RequestInfo{"test", "", "", "", ""});
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
  // Commands run in the workspace, wherever the backend mounts it.
  const auto& iso = ws.at("isolation").as_object();
  std::string where = iso.contains("workspace_mount") ? std::string(iso.at("workspace_mount").as_string())
                                                      : root_ + "/base/workspaces/srv";
  EXPECT_THAT(std::string(out.at("stdout").as_string()), HasSubstr("hello\n" + where + "\n"));
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
  isb::CallContext ctx(isb::RequestInfo{"test", "", "", "", ""});
  auto unknown = (*s)->operations().call("nope", json::object{}, ctx);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.error().message, HasSubstr("unknown operation 'nope'"));
  auto bad = (*s)->operations().call("exec_command", json::object{{"workspace_id", "x"}, {"command", 5}}, ctx);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, isb::ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("command"));
}

// ---- security levels against a backend whose probe is scripted ----

class SecurityPolicyTest : public ServerTest {
 protected:
  void use_scripted(const std::vector<std::string>& enforced) {
    json::array list;
    for (const auto& e : enforced) list.push_back(json::value(e));
    config_.isolation.backend = "scripted";
    config_.isolation.backend_explicit = true;
    config_.plugins.settings_json["scripted"] = json::serialize(json::object{{"enforced", list}});
  }
  isb::Result<json::value> try_call(isb::Server& s, const std::string& op, json::object args) {
    isb::CallContext ctx(isb::RequestInfo{"test", "", "", "", ""});
    return s.operations().call(op, args, ctx);
  }
  static std::vector<std::string> low_set() { return {"rlimits", "process_group_kill", "wall_clock_timeout"}; }
};

TEST_F(SecurityPolicyTest, MediumLevelRefusesBackendWithoutNamespacesAndCreatesNothing) {
  use_scripted(low_set());
  config_.security.level = isb::SecurityLevel::kMedium;
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto r = try_call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "w"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, isb::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(r.error().message, HasSubstr("security.level 'medium'"));
  EXPECT_THAT(r.error().message, HasSubstr("mount_namespace (scripted off)"));
  EXPECT_THAT(r.error().message, HasSubstr("seccomp"));
  EXPECT_THAT(r.error().message, HasSubstr("security.allow_degraded"));
  EXPECT_TRUE(fs::is_empty(config_.workspaces_dir())) << "nothing may be created";
  EXPECT_EQ(call(**s, "list_workspaces", {}).at("count").as_int64(), 0);
}

TEST_F(SecurityPolicyTest, AllowDegradedCreatesWorkspaceThatSaysWhatIsMissing) {
  use_scripted(low_set());
  config_.security.level = isb::SecurityLevel::kMedium;
  config_.security.allow_degraded = true;
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto ws = call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "w"}});
  const auto& iso = ws.at("isolation").as_object();
  EXPECT_TRUE(iso.at("degraded").as_bool());
  EXPECT_THAT(std::string(iso.at("status").as_string()), ::testing::StartsWith("degraded: mount_namespace, "));
  auto status = call(**s, "get_sandbox_status", {});
  EXPECT_THAT(std::string(status.at("isolation").at("status").as_string()), ::testing::StartsWith("degraded: "));
}

TEST_F(SecurityPolicyTest, HighLevelIsSatisfiedOnlyWhenEverythingItNeedsIsEnforced) {
  std::vector<std::string> all = isb::required_protections(isb::SecurityLevel::kHigh);
  use_scripted(all);
  config_.security.level = isb::SecurityLevel::kHigh;
  {
    auto s = start();
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto ws = call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "full"}});
    EXPECT_EQ(ws.at("isolation").at("status").as_string(), "enforced");
    EXPECT_FALSE(ws.at("isolation").at("degraded").as_bool());
  }
  all.erase(std::find(all.begin(), all.end(), "cgroup_pids"));
  use_scripted(all);
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto r = try_call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "short"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("cgroup_pids"));
}

TEST_F(SecurityPolicyTest, LimitOverrideAboveConfiguredMaximumIsRefusedAndCreatesNothing) {
  use_scripted(low_set());
  config_.isolation.resource_limits.memory_mb = 512;
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto r = try_call(**s, "create_workspace",
                    {{"source_path", project_},
                     {"workspace_id", "big"},
                     {"isolation", {{"resource_limits", {{"memory_mb", 4096}}}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, isb::ErrorCode::kPermissionDenied);
  EXPECT_THAT(r.error().message, HasSubstr("memory_mb = 4096 exceeds the configured maximum 512"));
  EXPECT_TRUE(fs::is_empty(config_.workspaces_dir()));
}

TEST_F(SecurityPolicyTest, LimitOverrideBelowMaximumReachesTheBackend) {
  use_scripted(low_set());
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto ws = call(**s, "create_workspace",
                 {{"source_path", project_},
                  {"workspace_id", "small"},
                  {"isolation", {{"resource_limits", {{"memory_mb", 128}, {"max_processes", 7}}}}}});
  EXPECT_EQ(ws.at("resource_limits").at("memory_mb").as_int64(), 128);
  EXPECT_EQ(ws.at("resource_limits").at("max_processes").as_int64(), 7);
  EXPECT_EQ(ws.at("resource_limits").at("max_open_files").as_int64(), config_.isolation.resource_limits.max_open_files);
}

TEST_F(SecurityPolicyTest, BackendOverrideMustNameAnAvailableBackend) {
  use_scripted(low_set());
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto r = try_call(**s, "create_workspace",
                    {{"source_path", project_}, {"workspace_id", "x"}, {"isolation", {{"backend", "vm"}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, isb::ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message, HasSubstr("isolation backend 'vm' is not available"));
  EXPECT_THAT(r.error().message, HasSubstr("process"));
  EXPECT_THAT(r.error().message, HasSubstr("scripted"));
  // The seed's spelling selects docker, which is not available here either.
  auto d = try_call(**s, "create_workspace",
                    {{"source_path", project_}, {"workspace_id", "y"}, {"isolation", {{"use_docker", true}}}});
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message, HasSubstr("'docker'"));
}

TEST_F(SecurityPolicyTest, WorkspaceCommandsGoToTheBackendItWasCreatedOn) {
  use_scripted(low_set());
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "on-scripted"}});
  call(**s, "create_workspace",
       {{"source_path", project_}, {"workspace_id", "on-process"}, {"isolation", {{"backend", "process"}}}});
  auto a = call(**s, "exec_command", {{"workspace_id", "on-scripted"}, {"command", "echo real"}});
  EXPECT_EQ(a.at("stdout").as_string(), "scripted\n");
  auto b = call(**s, "exec_command", {{"workspace_id", "on-process"}, {"command", "echo real"}});
  EXPECT_EQ(b.at("stdout").as_string(), "real\n");
}

// ---- analyzers built against ABI 1.0/1.1 (path form only): fail-closed ----

class LegacyAnalyzerTest : public SecurityPolicyTest {
 protected:
  void SetUp() override {
    SecurityPolicyTest::SetUp();
    use_scripted(low_set());
    std::ofstream(project_ + "/app.py") << "print('hi')\n";
  }
};

TEST_F(LegacyAnalyzerTest, IsSkippedWithAWarningWhileTheOthersRun) {
  auto s = start({ISB_TEST_PLUGIN_DIR, ISB_TEST_SCRIPTED_PLUGIN_DIR, ISB_TEST_OLDER_MINOR_PLUGIN_DIR});
  ASSERT_TRUE(s.ok()) << s.error().message;
  call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "w"}});
  auto a = call(**s, "analyze_codebase", {{"workspace_id", "w"}});
  ASSERT_TRUE(a.is_object());
  std::vector<std::string> ids;
  for (const auto& x : a.at("analyzers").as_array()) ids.emplace_back(x.at("id").as_string());
  EXPECT_THAT(ids, ::testing::Contains(std::string("languages")));
  EXPECT_THAT(ids, ::testing::Not(::testing::Contains(std::string("older-minor"))));
  std::string warnings = json::serialize(a.at("warnings"));
  EXPECT_THAT(warnings, HasSubstr("analyzer 'older-minor' was skipped: it was built against plugin ABI 1.0"));
  EXPECT_THAT(warnings, HasSubstr("rebuild it against ABI 1.2"));
}

TEST_F(LegacyAnalyzerTest, AnalysisFailsWhenNoAnalyzerTakesADirectoryFd) {
  auto s = start({ISB_TEST_SCRIPTED_PLUGIN_DIR, ISB_TEST_OLDER_MINOR_PLUGIN_DIR});
  ASSERT_TRUE(s.ok()) << s.error().message;
  call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "w"}});
  auto r = try_call(**s, "analyze_codebase", {{"workspace_id", "w"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, isb::ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message, HasSubstr("no loaded analyzer can read a workspace tree safely"));
  EXPECT_THAT(r.error().message, HasSubstr("ABI 1.2"));
}

// ---------------------------------------------------------------------------
// Issue 14: the status names what the server uses; the cache, the metrics and
// the tools list of mcp_config.json are real; untrusted places are refused.

TEST_F(ServerTest, StatusNamesConfigPathsCacheAndMetrics) {
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  (void)call(**s, "get_sandbox_status", {});
  auto status = call(**s, "get_sandbox_status", {});
  EXPECT_EQ(status.at("config_source").as_string(), "built-in defaults");
  EXPECT_EQ(status.at("paths").at("state_dir").as_string(), root_ + "/base/state");
  EXPECT_EQ(status.at("paths").at("workspaces_dir").as_string(), root_ + "/base/workspaces");
  EXPECT_EQ(status.at("cache").at("dir").as_string(), root_ + "/base/state/cache");
  const auto& metrics = status.at("metrics").as_object();
  EXPECT_TRUE(metrics.at("enabled").as_bool());
  EXPECT_GE(metrics.at("operations").at("get_sandbox_status").at("calls").as_uint64(), 1u);
  EXPECT_EQ(metrics.at("gauges").at("workspaces_active").as_double(), 0.0);
  EXPECT_GT(metrics.at("gauges").at("process_rss_bytes").as_double(), 0.0);
  EXPECT_TRUE(metrics.at("gauges").as_object().contains("executions_running"));
}

TEST_F(ServerTest, MonitoringOffCollectsNothing) {
  config_.performance.monitoring_enabled = false;
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto status = call(**s, "get_sandbox_status", {});
  EXPECT_FALSE(status.at("metrics").at("enabled").as_bool());
  EXPECT_FALSE(status.at("metrics").as_object().contains("operations"));
}

TEST_F(ServerTest, AnalysisIsCachedUntilTheTtlPasses) {
  config_.cache.ttl = 1;
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "cached"}});
  EXPECT_FALSE(call(**s, "analyze_codebase", {{"workspace_id", "cached"}}).at("cached").as_bool());
  EXPECT_TRUE(call(**s, "analyze_codebase", {{"workspace_id", "cached"}}).at("cached").as_bool());
  EXPECT_EQ(call(**s, "get_sandbox_status", {}).at("cache").at("entries").as_uint64(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(call(**s, "analyze_codebase", {{"workspace_id", "cached"}}).at("cached").as_bool())
      << "older than cache.ttl";
  EXPECT_EQ(call(**s, "get_sandbox_status", {}).at("cache").at("expired").as_uint64(), 1u);
}

TEST_F(ServerTest, CacheSweepRunsEveryCleanupInterval) {
  config_.cache.ttl = 1;
  config_.cache.cleanup_interval = 1;
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "swept"}});
  call(**s, "analyze_codebase", {{"workspace_id", "swept"}});
  EXPECT_EQ(call(**s, "get_sandbox_status", {}).at("cache").at("entries").as_uint64(), 1u);
  uint64_t entries = 1;
  for (int i = 0; i < 40 && entries > 0; ++i) {  // the ttl passes, then the next sweep removes it
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    entries = call(**s, "get_sandbox_status", {}).at("cache").at("entries").as_uint64();
  }
  EXPECT_EQ(entries, 0u) << "removed by the sweep, without another analyze_codebase";
  EXPECT_FALSE(fs::exists(root_ + "/base/state/cache/analysis/swept"));
}

TEST_F(ServerTest, DefaultWorkspaceModeComesFromTheConfig) {
  config_.sandbox.workspace_mode = "overlay";
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto ws = call(**s, "create_workspace", {{"source_path", project_}, {"workspace_id", "ov"}});
  // Overlay where it can be mounted, else a copy that says overlay was asked for.
  const json::object& w = ws.as_object();
  const bool overlay = w.at("mode").as_string() == "overlay";
  EXPECT_TRUE(overlay || std::string(w.at("mode_note").as_string()).find("overlay") != std::string::npos)
      << json::serialize(ws);
}

TEST_F(ServerTest, PluginKeysOfTheConfigDecideWhatLoads) {
  config_.plugins.directories = {ISB_TEST_SCRIPTED_PLUGIN_DIR};
  auto s = start({ISB_TEST_PLUGIN_DIR});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_NE((*s)->plugins().find("scripted"), nullptr) << "found through plugins.directories";

  config_.plugins.planners = {"no-such-planner"};
  auto p = start({ISB_TEST_PLUGIN_DIR});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("plugins.planners"));
}

TEST_F(ServerTest, AuditLoggingOffWritesNoAuditLog) {
  config_.security.audit_log_path = root_ + "/audit.log";
  config_.security.audit_logging = false;
  auto gate = isb::Server::security_gate_for(config_);
  ASSERT_TRUE(gate.ok()) << gate.error().message;
  EXPECT_THAT((*gate)->policy_json(), HasSubstr(R"("audit_logging":false)"));
  EXPECT_FALSE(fs::exists(root_ + "/audit.log"));
  config_.security.audit_logging = true;
  auto on = isb::Server::security_gate_for(config_);
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(fs::exists(root_ + "/audit.log"));
}

// What mcp-http hands the host API for one HTTP request (http_transport.cpp).
isb_request_ctx http_request(const char* peer, const char* credential) {
  isb_request_ctx ctx{};
  ctx.struct_size = sizeof ctx;
  ctx.transport = "mcp-http";
  ctx.client_id = peer;
  ctx.credential = credential;
  ctx.client_address = peer;
  return ctx;
}

struct JsonOut {
  std::string text;
  isb_json_out out{sizeof(isb_json_out), &text,
                   [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
};

TEST_F(ServerTest, AServerBuiltInATestRefusesABadApiKeyAtItsFrontDoor) {
  config_.security.api_keys = {"the-right-key-0123456789"};
  auto s = start();
  ASSERT_TRUE(s.ok()) << s.error().message;
  const isb::HostApi& door = (*s)->host_api();
  EXPECT_THAT(door.security_policy_json(), HasSubstr(R"("api_keys_required":true)"));

  isb_request_ctx wrong = http_request("10.1.2.3", "a-wrong-key");
  JsonOut admitted;
  EXPECT_EQ(door.admit("mcp-http", &wrong, &admitted.out), ISB_INVALID_ARGUMENT);
  EXPECT_EQ(json::parse(admitted.text).at("error").at("code"), "unauthenticated") << admitted.text;

  JsonOut result;
  EXPECT_EQ(door.call_operation("mcp-http", "list_workspaces", "{}", &wrong, nullptr, &result.out),
            ISB_INVALID_ARGUMENT);
  EXPECT_EQ(json::parse(result.text).at("error").at("code"), "permission_denied") << result.text;

  isb_request_ctx none = http_request("10.1.2.3", nullptr);
  JsonOut anonymous;
  EXPECT_EQ(door.call_operation("mcp-http", "list_workspaces", "{}", &none, nullptr, &anonymous.out),
            ISB_INVALID_ARGUMENT)
      << "no key at all is refused too";

  isb_request_ctx right = http_request("10.1.2.3", "the-right-key-0123456789");
  JsonOut ok;
  EXPECT_EQ(door.call_operation("mcp-http", "list_workspaces", "{}", &right, nullptr, &ok.out), ISB_OK) << ok.text;
  EXPECT_TRUE(json::parse(ok.text).as_object().contains("workspaces")) << ok.text;

  // Every call through the door is audited, refused or not.
  std::ifstream audit(config_.audit_log_path());
  std::string log((std::istreambuf_iterator<char>(audit)), std::istreambuf_iterator<char>());
  EXPECT_THAT(log, HasSubstr("list_workspaces"));
  EXPECT_THAT(log, HasSubstr("unauthenticated"));
}

TEST_F(ServerTest, ExposedToolsAreAllTheRegistryOffers) {
  isb::ServerOptions options;
  options.extra_plugin_dirs = {ISB_TEST_PLUGIN_DIR};
  options.only_extra_plugin_dirs = true;
  options.exposed_tools =
      std::vector<isb::ToolExposure>{{"get_sandbox_status", std::nullopt, {}},
                                     {"create_workspace", std::nullopt, {{"source_path", "string"}}}};
  options.exposed_tools_source = "mcp.json";
  auto s = isb::Server::create(config_, options);
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::vector<std::string> names;
  for (const auto& op : (*s)->operations().list()) names.emplace_back(op.at("name").as_string());
  EXPECT_EQ(names, (std::vector<std::string>{"create_workspace", "get_sandbox_status"}));

  options.exposed_tools->push_back({"run_anything", std::nullopt, {}});
  auto bad = isb::Server::create(config_, options);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message,
              HasSubstr("mcp.json: tools[2] (run_anything): this server has no tool of that name"));
}

TEST_F(ServerTest, PluginDirectoryOthersCanWriteRefusesToStart) {
  const std::string dir = root_ + "/open-plugins";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::all);
  auto s = start({dir, ISB_TEST_PLUGIN_DIR});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("plugin directory " + dir + ": refused: " + dir +
                                           " is writable by others (mode 0777"));
}

TEST_F(ServerTest, StateDirectoryOfAnotherUserIsRefusedNamingTheOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string state = root_ + "/base/state";
  fs::create_directories(state);
  ASSERT_EQ(chown(state.c_str(), 4242, 4242), 0);
  auto s = start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("state directory " + state + " belongs to uid 4242"));
}

}  // namespace
