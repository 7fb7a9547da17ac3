// isolation_docker_test: drives libisb-isolation-docker.so across the C ABI
// against the real Docker engine (docker_fixture.hpp): the container, both
// exec paths, files, lifecycle and the attack cases of ISOLATION.md. The
// agent's own defences are in isolation_docker_agent_test.cpp.
#include "docker_fixture.hpp"

namespace {

//! The same plugin forced onto the engine's exec API (the fallback path).
class DockerExecApiTest : public DockerBackendTest {
 protected:
  std::string extra_config() const override { return R"(,"exec_path":"exec_api")"; }
};

// ---------------------------------------------------------------------------
// Probe and configuration

TEST_F(DockerBackendTest, ProbeReportsEngineAndWhatItEnforces) {
  auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(inst_, o); });
  ASSERT_EQ(s, ISB_OK) << last_error();
  json::object p = json::parse(doc).as_object();
  EXPECT_EQ(p.at("backend").as_string(), "docker");
  EXPECT_TRUE(p.at("available").as_bool());
  const json::object& engine = p.at("engine").as_object();
  // The version the engine's own /version (read with curl) implies: the
  // newest both sides speak, the backend speaking 1.41 to 1.54 (1.41 against
  // Debian 12's docker.io 20.10).
  json::value v = engine_get("/version");
  ASSERT_TRUE(v.is_object());
  const std::string engine_api(v.at("ApiVersion").as_string());
  const int newest = std::stoi(engine_api.substr(2));
  const std::string expected = "1." + std::to_string(std::min(newest, 54));
  EXPECT_EQ(engine.at("api_version").as_string(), expected) << "the engine speaks up to " << engine_api;
  EXPECT_EQ(engine.at("api_version_source").as_string(), "negotiated");
  EXPECT_EQ(engine.at("version").as_string(), v.at("Version").as_string());
  EXPECT_EQ(engine.at("engine_api_version").as_string(), engine_api);
  if (v.as_object().contains("MinAPIVersion")) {
    EXPECT_EQ(engine.at("engine_min_api_version").as_string(), v.at("MinAPIVersion").as_string());
    EXPECT_GE(std::min(newest, 54), std::stoi(std::string(v.at("MinAPIVersion").as_string()).substr(2)));
  }
  EXPECT_EQ(engine.at("exec_path").as_string(), "agent");
  std::map<std::string, bool> enforced;
  for (const auto& e : p.at("protections").as_array()) {
    enforced[std::string(e.as_object().at("name").as_string())] = e.as_object().at("enforced").as_bool();
  }
  EXPECT_EQ(enforced.size(), 17u);
  EXPECT_TRUE(enforced.at("seccomp"));
  EXPECT_TRUE(enforced.at("capabilities_dropped"));
  EXPECT_TRUE(enforced.at("no_new_privs"));
  EXPECT_TRUE(enforced.at("cgroup_memory"));
  EXPECT_TRUE(enforced.at("cgroup_pids"));
  EXPECT_TRUE(enforced.at("network_namespace"));
  // dockerd here runs without userns-remap: container root is host uid 0.
  EXPECT_FALSE(enforced.at("user_namespace"));
}

TEST_F(DockerBackendTest, ConfiguredApiVersionTheEngineDoesNotSpeakIsRefusedNamingItsRange) {
  json::value v = engine_get("/version");
  ASSERT_TRUE(v.is_object());
  const std::string engine_api(v.at("ApiVersion").as_string());
  const int newest = std::stoi(engine_api.substr(2));
  if (newest >= 54) {
    // An engine that speaks every version the backend knows takes the newest.
    isb_instance* other = plugin_.create(R"({"api_version":"1.54"})");
    ASSERT_NE(other, nullptr);
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(other, o); });
    EXPECT_EQ(json::parse(doc).at("engine").at("api_version").as_string(), "1.54") << doc;
    plugin_.descriptor()->destroy(other);
    return;
  }
  const std::string above = "1." + std::to_string(newest + 1);
  isb_instance* other = plugin_.create(R"({"api_version":")" + above + R"("})");
  ASSERT_NE(other, nullptr);
  auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(other, o); });
  ASSERT_EQ(s, ISB_OK);
  json::object p = json::parse(doc).as_object();
  EXPECT_FALSE(p.at("available").as_bool());
  std::string error(p.at("error").as_string());
  EXPECT_NE(error.find("api_version " + above + " is refused"), std::string::npos) << error;
  EXPECT_NE(error.find(" to " + engine_api), std::string::npos) << error;
  EXPECT_EQ(p.at("engine").at("engine_api_version").as_string(), engine_api);
  plugin_.descriptor()->destroy(other);
}

TEST_F(DockerBackendTest, ProbeSaysUnavailableWhenTheSocketIsAbsent) {
  isb_instance* other = plugin_.create(R"({"host":"unix:///nonexistent/docker.sock"})");
  ASSERT_NE(other, nullptr);
  auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(other, o); });
  ASSERT_EQ(s, ISB_OK);
  json::object p = json::parse(doc).as_object();
  EXPECT_FALSE(p.at("available").as_bool());
  EXPECT_NE(std::string(p.at("error").as_string()).find("/nonexistent/docker.sock"), std::string::npos);
  for (const auto& e : p.at("protections").as_array()) EXPECT_FALSE(e.as_object().at("enforced").as_bool());
  // Creating a sandbox there fails as unavailable, naming the socket.
  std::string spec = R"({"workspace_id":"w","workspace_path":")" + ws_.string() + R"(","image":"x"})";
  auto [cs, cdoc] = TestPlugin::call_json(
      [&](const isb_json_out* o) { return api_->sandbox_create(other, spec.c_str(), o); });
  EXPECT_EQ(cs, ISB_UNAVAILABLE);
  EXPECT_NE(std::string(plugin_.descriptor()->last_error(other)).find("start-dockerd.sh"), std::string::npos);
  plugin_.descriptor()->destroy(other);
}

TEST_F(DockerBackendTest, RejectsUnknownConfigKeyNamingIt) {
  isb_instance* other = nullptr;
  EXPECT_EQ(plugin_.descriptor()->create(nullptr, R"({"sockett":"/x"})", &other), ISB_INVALID_CONFIG);
  EXPECT_EQ(other, nullptr);
  EXPECT_NE(std::string(plugin_.descriptor()->last_error(nullptr)).find("unknown key 'sockett'"),
            std::string::npos);
  EXPECT_EQ(plugin_.descriptor()->create(nullptr, R"({"api_version":"1.30"})", &other), ISB_INVALID_CONFIG);
  EXPECT_NE(std::string(plugin_.descriptor()->last_error(nullptr)).find("older than 1.41"),
            std::string::npos);
}

TEST_F(DockerBackendTest, ConfigSchemaAcceptsWhatCreateAcceptsAndRefusesUnknownKeys) {
  const json::value schema_doc = json::parse(plugin_.descriptor()->config_schema);
  auto valid = [&](const std::string& text) {
    return schema_errors_for(schema_doc, json::parse(text)).empty();
  };
  const std::string good =
      R"({"host":"tcp://127.0.0.1:2375","instance_id":"a.b-c","api_version":"1.41","kill_grace_ms":0,)"
      R"("tmp_size_mb":16,"keepalive_command":["sleep","1000"]})";
  EXPECT_TRUE(valid(good));
  isb_instance* other = plugin_.create(good);
  ASSERT_NE(other, nullptr);
  plugin_.descriptor()->destroy(other);
  EXPECT_FALSE(valid(R"({"sockett":"/x"})"));
  EXPECT_FALSE(valid(R"({"host":"http://x"})"));
}

TEST_F(DockerBackendTest, UnreachableTcpEngineIsUnavailableWithTheAddress) {
  // Port 1 on loopback: nothing listens there.
  isb_instance* other = plugin_.create(R"({"host":"tcp://127.0.0.1:1","request_timeout_ms":2000})");
  ASSERT_NE(other, nullptr);
  auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(other, o); });
  ASSERT_EQ(s, ISB_OK);
  json::object p = json::parse(doc).as_object();
  EXPECT_FALSE(p.at("available").as_bool());
  EXPECT_NE(std::string(p.at("error").as_string()).find("tcp://127.0.0.1:1"), std::string::npos);
  plugin_.descriptor()->destroy(other);
}

TEST_F(DockerBackendTest, MissingImageFailsNamingTheImage) {
  json::object spec{
      {"workspace_id", "w"}, {"workspace_path", ws_.string()}, {"image", "isb-no-such-image:0.0"}};
  auto [s, doc] = TestPlugin::call_json(
      [&](const isb_json_out* o) { return api_->sandbox_create(inst_, json::serialize(spec).c_str(), o); });
  EXPECT_EQ(s, ISB_INVALID_ARGUMENT);
  std::string msg = last_error();
  EXPECT_NE(msg.find("image 'isb-no-such-image:0.0'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("could not be pulled"), std::string::npos) << msg;
  EXPECT_TRUE(containers_with_instance(instance_).empty());
}

TEST_F(DockerBackendTest, RejectsSpecWithoutImage) {
  std::string spec = R"({"workspace_id":"w","workspace_path":")" + ws_.string() + R"("})";
  auto [s, doc] = TestPlugin::call_json(
      [&](const isb_json_out* o) { return api_->sandbox_create(inst_, spec.c_str(), o); });
  EXPECT_EQ(s, ISB_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("missing image"), std::string::npos) << last_error();
}

// ---------------------------------------------------------------------------
// The container

TEST_F(DockerBackendTest, ContainerCarriesLabelsMountAndHardeningInTheEngine) {
  std::string id = create(R"({"memory_mb":128,"cpu_cores":0.5,"max_processes":64,"max_open_files":256})");
  ASSERT_FALSE(id.empty());
  json::value c = engine_get("/containers/" + id + "/json");
  ASSERT_TRUE(c.is_object());
  const json::object& cfg = c.at("Config").as_object();
  EXPECT_EQ(cfg.at("Labels").at("dev.intelligent-sandbox.instance").as_string(), instance_);
  EXPECT_EQ(cfg.at("Labels").at("dev.intelligent-sandbox.workspace").as_string(), "ws-test");
  EXPECT_EQ(cfg.at("WorkingDir").as_string(), "/workspace");
  const json::object& hc = c.at("HostConfig").as_object();
  EXPECT_EQ(hc.at("Memory").as_int64(), 128 * 1024 * 1024);
  EXPECT_EQ(hc.at("MemorySwap").as_int64(), 128 * 1024 * 1024);
  EXPECT_EQ(hc.at("NanoCpus").as_int64(), 500000000);
  EXPECT_EQ(hc.at("PidsLimit").as_int64(), 64);
  EXPECT_EQ(hc.at("NetworkMode").as_string(), "none");
  EXPECT_TRUE(hc.at("ReadonlyRootfs").as_bool());
  EXPECT_EQ(hc.at("CapDrop").as_array().at(0).as_string(), "ALL");
  EXPECT_EQ(hc.at("SecurityOpt").as_array().at(0).as_string(), "no-new-privileges");
  EXPECT_EQ(hc.at("Binds").as_array().at(0).as_string(), ws_.string() + ":/workspace:rw");
}

TEST_F(DockerBackendTest, ExecStreamsStdoutStderrAndExitCode) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r = sh(id, "echo out; echo err >&2; exit 3");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(int_at(r.result, "exit_code"), 3);
  EXPECT_TRUE(r.result.at("signal").is_null());
  EXPECT_EQ(int_at(r.result, "stdout_bytes"), 4);
  EXPECT_EQ(int_at(r.result, "stderr_bytes"), 4);
  EXPECT_FALSE(r.result.at("timed_out").as_bool());
  EXPECT_EQ(schema_errors(r.result, "exec-result.schema.json"), "");
}

TEST_F(DockerBackendTest, ExecPassesStdinEnvAndCwd) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  fs::create_directories(ws_ / "sub");
  ExecOutcome r = exec(id, json::object{{"argv", json::array{"sh", "-c", "cat; echo \"$FOO\"; pwd"}},
                                        {"stdin", "hello\n"},
                                        {"env", json::object{{"FOO", "bar baz"}}},
                                        {"cwd", "sub"}});
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "hello\nbar baz\n/workspace/sub\n");
  EXPECT_EQ(int_at(r.result, "exit_code"), 0);
}

TEST_F(DockerBackendTest, LargeStdinAndOutputDoNotDeadlock) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  std::string big(4 << 20, 'x');
  ExecOutcome r = exec(id, json::object{{"argv", json::array{"cat"}},
                                        {"stdin", big},
                                        {"max_output_bytes", 8 << 20},
                                        {"timeout_ms", 30000}});
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out.size(), big.size());
  EXPECT_EQ(r.out, big);
}

TEST_F(DockerBackendTest, OutputBeyondMaxOutputBytesIsCountedNotForwarded) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r = exec(id, json::object{{"shell", "head -c 100000 /dev/zero"}, {"max_output_bytes", 1000}});
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out.size(), 1000u);
  EXPECT_EQ(int_at(r.result, "stdout_bytes"), 100000);
  EXPECT_TRUE(r.result.at("output_truncated").as_bool());
}

TEST_F(DockerBackendTest, MissingCommandReportsNotFound) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r = exec(id, json::object{{"argv", json::array{"isb-no-such-command"}}});
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(int_at(r.result, "exit_code"), 127);
  EXPECT_NE(std::string(r.result.at("error").as_string()).find("isb-no-such-command"), std::string::npos);
}

TEST_F(DockerBackendTest, TimeoutKillsTheCommandAndItsBackgroundChildren) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(created_.at("exec_path").as_string(), "agent");
  auto t0 = std::chrono::steady_clock::now();
  // The agent signals the command's process group: SIGTERM, then SIGKILL
  // after kill_grace_ms (1000 here) for what ignores it.
  ExecOutcome r = sh(id, "sleep 101 & sleep 102 & trap '' TERM; sleep 103", 500);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_TRUE(r.result.at("timed_out").as_bool());
  EXPECT_EQ(r.result.at("exec_path").as_string(), "agent");
  EXPECT_EQ(r.result.at("signal_name").as_string(), "SIGKILL");  // the shell ignored SIGTERM
  EXPECT_TRUE(r.result.at("exit_code").is_null());
  EXPECT_GE(ms, 1400);  // timeout + grace
  EXPECT_LT(ms, 3000);
  EXPECT_EQ(r.result.at("stopped_by").as_string(), "agent_process_group");
  ExecOutcome ps = sh(id, "ps | grep -c 'sleep 10[123]' | grep -v grep; true");
  EXPECT_EQ(ps.out, "0\n") << "survivors of the timed-out command";
}

TEST_F(DockerBackendTest, TimeoutSigtermEndsACommandThatHonoursIt) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  auto t0 = std::chrono::steady_clock::now();
  ExecOutcome r = sh(id, "sleep 109", 300);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_TRUE(r.result.at("timed_out").as_bool());
  EXPECT_EQ(r.result.at("signal_name").as_string(), "SIGTERM");
  EXPECT_LT(ms, 1000);  // no grace period waited out
}

TEST_F(DockerExecApiTest, TimeoutKillsTheCommandAndItsBackgroundChildren) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(created_.at("exec_path").as_string(), "exec_api");
  auto t0 = std::chrono::steady_clock::now();
  ExecOutcome r = sh(id, "sleep 101 & sleep 102 & sleep 103", 500);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_TRUE(r.result.at("timed_out").as_bool());
  EXPECT_EQ(r.result.at("signal_name").as_string(), "SIGKILL");
  EXPECT_TRUE(r.result.at("exit_code").is_null());
  EXPECT_LT(ms, 3000);
  EXPECT_EQ(r.result.at("stopped_by").as_string(), "sigkill_session");
  ExecOutcome ps = sh(id, "ps | grep -c 'sleep 10[123]' | grep -v grep; true");
  EXPECT_EQ(ps.out, "0\n") << "survivors of the timed-out command";
}

TEST_F(DockerBackendTest, CancellationStopsTheCommand) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  SinkState st;
  st.cancel_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  ExecOutcome r = exec(id, json::object{{"shell", "echo started; sleep 60"}, {"timeout_ms", 30000}}, &st);
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_TRUE(r.result.at("cancelled").as_bool());
  EXPECT_FALSE(r.result.at("timed_out").as_bool());
  EXPECT_EQ(r.out, "started\n");
  EXPECT_LT(int_at(r.result, "duration_ms"), 3000);
}

TEST_F(DockerExecApiTest, EscapedSetsidChildIsEndedByContainerRestartAfterGrace) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  // setsid leaves the command's session but keeps its stdout open.
  ExecOutcome r = sh(id, "setsid sleep 104 & sleep 105", 400);
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_TRUE(r.result.at("timed_out").as_bool());
  EXPECT_TRUE(r.result.at("container_restarted").as_bool());
  ExecOutcome ps = sh(id, "ps | grep 'sleep 10[45]' | grep -vc grep; true");
  EXPECT_EQ(ps.out, "0\n");
}

TEST_F(DockerBackendTest, UsageComesFromTheContainerCgroup) {
  std::string id = create(R"({"memory_mb":256})");
  ASSERT_FALSE(id.empty());
  // ~40 MiB held in a shell variable? busybox dd with a 40M block allocates it.
  ExecOutcome r = sh(id,
                     "dd if=/dev/zero of=/dev/null bs=40M count=3 2>/dev/null; i=0; "
                     "while [ $i -lt 200000 ]; do i=$((i+1)); done");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  const json::object& u = r.result.at("usage").as_object();
  EXPECT_EQ(u.at("source").as_string(), "cgroup");
  EXPECT_GE(u.at("max_rss_kb").as_int64(), 40 * 1024);
  EXPECT_LT(u.at("max_rss_kb").as_int64(), 256 * 1024);
  EXPECT_GT(u.at("cpu_ms").as_int64(), 10);
  EXPECT_FALSE(u.at("oom_killed").as_bool());
}

TEST_F(DockerBackendTest, EscapedSetsidChildDoesNotHoldATimedOutCommandOnTheAgentPath) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  // setsid leaves the command's session and group but keeps its stdout open;
  // the agent reports the command's end without waiting for that output to close.
  auto t0 = std::chrono::steady_clock::now();
  ExecOutcome r = sh(id, "setsid sleep 104 & sleep 105", 400);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_TRUE(r.result.at("timed_out").as_bool());
  EXPECT_FALSE(r.result.contains("container_restarted"));
  EXPECT_LT(ms, 2000);
  // Left in the background, as on the process backend; the workspace goes on.
  ExecOutcome ps = sh(id, "ps | grep 'sleep 10[45]' | grep -vc grep; true");
  EXPECT_EQ(ps.out, "1\n");
}

// ---------------------------------------------------------------------------
// Exec paths: the in-container agent, and the exec API as the fallback

TEST_F(DockerBackendTest, AgentIsPidOneAndRunsEveryCommand) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(created_.at("exec_path").as_string(), "agent");
  EXPECT_FALSE(created_.contains("exec_path_reason"));
  json::value c = engine_get("/containers/" + id + "/json");
  const auto& cmd = c.at("Config").at("Cmd").as_array();
  ASSERT_EQ(cmd.size(), 3u);
  EXPECT_EQ(cmd[0].as_string(), "/.isb/isb-supervisor");
  EXPECT_EQ(cmd[1].as_string(), "agent");
  // The command's parent is PID 1, the agent, not an engine exec shim.
  ExecOutcome r = sh(id, "tr '\\0' ' ' < /proc/1/cmdline; echo; grep PPid /proc/$$/status");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "/.isb/isb-supervisor agent /.isb/run \nPPid:\t1\n");
  EXPECT_EQ(r.result.at("exec_path").as_string(), "agent");
  EXPECT_EQ(schema_errors(r.result, "exec-result.schema.json"), "");
  // The engine ran no exec at all.
  EXPECT_TRUE(c.at("ExecIDs").is_null());
  json::value after = engine_get("/containers/" + id + "/json");
  EXPECT_TRUE(after.at("ExecIDs").is_null());
}

TEST_F(DockerBackendTest, AgentBinaryIsReadOnlyAndItsSocketSitsOnASmallTmpfs) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r = sh(id,
                     "echo x > /.isb/isb-supervisor 2>/dev/null && echo WROTE; "
                     "grep ' /.isb/isb-supervisor ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1; "
                     "grep ' /.isb/run ' /proc/mounts | cut -d' ' -f2,3,4 | cut -d, -f1; "
                     "head -c 100000 /dev/zero > /.isb/run/fill 2>/dev/null || echo FULL");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "/.isb/isb-supervisor ro\n/.isb/run tmpfs rw\nFULL\n");
}

TEST_F(DockerExecApiTest, ExecApiFallbackRunsCommandsAndSaysSo) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(created_.at("exec_path").as_string(), "exec_api");
  EXPECT_EQ(created_.at("exec_path_reason").as_string(), "configured (exec_path: exec_api)");
  ExecOutcome r = sh(id, "echo out; echo err >&2; exit 3");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(int_at(r.result, "exit_code"), 3);
  EXPECT_FALSE(r.result.at("exec_id").as_string().empty());
  EXPECT_EQ(schema_errors(r.result, "exec-result.schema.json"), "");
}

TEST_F(DockerExecApiTest, ContainerRemovedBehindTheServersBackIsReportedNotFound) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  engine_delete("/containers/" + id + "?force=true");
  ExecOutcome r = sh(id, "true");
  EXPECT_EQ(r.status, ISB_NOT_FOUND);
  EXPECT_NE(r.error.find("removed outside the server"), std::string::npos) << r.error;
}

//! An image whose /.isb is a file: the agent's mounts cannot be made there.
class DockerAgentRefusedTest : public DockerBackendTest {
 protected:
  static void SetUpTestSuite() {
    host_output("docker rm -f isb-noagent-build >/dev/null 2>&1; docker create --name isb-noagent-build " +
                test_image() +
                " /bin/true >/dev/null && printf x > /tmp/isb-noagent-file && "
                "docker cp /tmp/isb-noagent-file isb-noagent-build:/.isb && "
                "docker commit isb-noagent-build isb-test-noagent:latest >/dev/null; "
                "docker rm -f isb-noagent-build >/dev/null 2>&1; rm -f /tmp/isb-noagent-file");
  }
  static void TearDownTestSuite() { host_output("docker rmi isb-test-noagent:latest >/dev/null 2>&1"); }
};

TEST_F(DockerAgentRefusedTest, ImageWhereTheAgentCannotRunFallsBackToTheExecApi) {
  std::string id = create("{}", "isb-test-noagent:latest");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(created_.at("exec_path").as_string(), "exec_api");
  EXPECT_NE(std::string(created_.at("exec_path_reason").as_string()).find("with the agent as PID 1"),
            std::string::npos)
      << created_.at("exec_path_reason");
  // Only the exec API container is left, and it works.
  EXPECT_EQ(containers_with_instance(instance_).size(), 1u);
  ExecOutcome r = sh(id, "echo fine");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "fine\n");
}

//! An instance with a warm pool of one container of the test image.
class DockerWarmPoolTest : public DockerBackendTest {
 protected:
  std::string extra_config() const override {
    return R"(,"warm_pool":1,"warm_image":")" + test_image() + R"(")";
  }
  //! Ready pool containers as the probe reports them.
  int64_t ready() {
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(inst_, o); });
    if (s != ISB_OK) return -1;
    return json::parse(doc).at("engine").at("warm_pool").at("ready").as_int64();
  }
  bool wait_ready() {
    for (int i = 0; i < 300; ++i) {
      if (ready() == 1) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
};

TEST_F(DockerWarmPoolTest, ClaimedWarmContainerSeesTheWorkspaceWithTheRequestedLimitsAndIsReplaced) {
  ASSERT_TRUE(wait_ready()) << "the warm container was not ready within 15 s";
  std::ofstream(ws_ / "from-host") << "host\n";
  std::string id = create(R"({"memory_mb":96,"max_processes":30})");
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(created_.at("warm").as_bool());
  EXPECT_EQ(created_.at("exec_path").as_string(), "agent");
  // The workspace was bound in after the container started, and is live both ways.
  ExecOutcome r =
      sh(id, "cat /workspace/from-host; echo ctr > /workspace/from-ctr; cat /sys/fs/cgroup/pids/pids.max");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "host\n30\n");
  std::ifstream back(ws_ / "from-ctr");
  std::string line;
  std::getline(back, line);
  EXPECT_EQ(line, "ctr");
  json::value c = engine_get("/containers/" + id + "/json");
  EXPECT_EQ(c.at("HostConfig").at("Memory").as_int64(), 96 * 1024 * 1024);
  EXPECT_EQ(c.at("HostConfig").at("PidsLimit").as_int64(), 30);
  std::string slot(c.at("Config").at("Labels").at("dev.intelligent-sandbox.slot").as_string());
  // A replacement is made; reconcile leaves the pool alone.
  EXPECT_TRUE(wait_ready());
  auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) {
    return api_->reconcile(inst_, json::serialize(json::array{json::value(id)}).c_str(), o);
  });
  ASSERT_EQ(s, ISB_OK);
  EXPECT_TRUE(json::parse(doc).at("removed").as_array().empty()) << doc;
  EXPECT_EQ(ready(), 1);
  // Destroy unbinds the workspace and removes the slot; the workspace's files stay on the host.
  ASSERT_EQ(api_->sandbox_destroy(inst_, id.c_str()), ISB_OK) << last_error();
  EXPECT_FALSE(fs::exists(slot));
  EXPECT_TRUE(fs::exists(ws_ / "from-ctr"));
}

TEST_F(DockerWarmPoolTest, SpecsThePoolCannotServeGetAColdContainer) {
  ASSERT_TRUE(wait_ready());
  std::string id = create(R"({"max_open_files":512})");  // a ulimit differs from the pool's
  ASSERT_FALSE(id.empty());
  EXPECT_FALSE(created_.contains("warm"));
  EXPECT_EQ(ready(), 1);
}

// ---------------------------------------------------------------------------
// Files in and out through the archive endpoints (sandbox_exec with "op")

TEST_F(DockerBackendTest, CopyInPutsFilesIntoTheWorkspaceAndCopyOutStreamsThemBackAsTar) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  fs::create_directories(ws_ / "in");
  ExecOutcome put = exec(
      id,
      json::object{
          {"op", "copy_in"},
          {"path", "/workspace/in"},
          {"files", json::array{json::object{{"name", "sub/a.txt"}, {"content", "hello\n"}, {"mode", 0600}},
                                json::object{{"name", "b.bin"}, {"content_base64", "AAH/"}}}}});
  ASSERT_EQ(put.status, ISB_OK) << put.error;
  EXPECT_EQ(int_at(put.result, "files"), 2);
  // On the host, through the bind mount, and in the container.
  std::ifstream a(ws_ / "in/sub/a.txt");
  std::string line;
  std::getline(a, line);
  EXPECT_EQ(line, "hello");
  EXPECT_EQ(fs::status(ws_ / "in/sub/a.txt").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::file_size(ws_ / "in/b.bin"), 3u);
  ExecOutcome cat = sh(id, "cat /workspace/in/sub/a.txt; od -An -tx1 /workspace/in/b.bin");
  EXPECT_EQ(cat.out, "hello\n 00 01 ff\n");

  ExecOutcome get = exec(id, json::object{{"op", "copy_out"}, {"path", "/workspace/in/sub"}});
  ASSERT_EQ(get.status, ISB_OK) << get.error;
  EXPECT_EQ(static_cast<size_t>(int_at(get.result, "archive_bytes")), get.out.size());
  const json::array& entries = get.result.at("entries").as_array();
  ASSERT_EQ(entries.size(), 2u) << json::serialize(entries);
  EXPECT_EQ(entries[0].at("name").as_string(), "sub/");
  EXPECT_EQ(entries[0].at("type").as_string(), "dir");
  EXPECT_EQ(entries[1].at("name").as_string(), "sub/a.txt");
  EXPECT_EQ(entries[1].at("type").as_string(), "file");
  EXPECT_EQ(entries[1].at("size").as_int64(), 6);
  EXPECT_EQ(entries[1].at("mode").as_int64(), 0600);
  // The streamed bytes are the tar itself: GNU tar reads the file back out of them.
  fs::path tar = ws_.string() + "-out.tar";
  std::ofstream(tar, std::ios::binary) << get.out;
  EXPECT_EQ(host_output("tar -xOf " + tar.string() + " sub/a.txt"), "hello\n");
  fs::remove(tar);
}

TEST_F(DockerBackendTest, CopyOutReadsTheImagesOwnFiles) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome get = exec(id, json::object{{"op", "copy_out"}, {"path", "/etc/passwd"}});
  ASSERT_EQ(get.status, ISB_OK) << get.error;
  const json::array& entries = get.result.at("entries").as_array();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].at("name").as_string(), "passwd");
  EXPECT_NE(get.out.find("root:x:0:0:root:/root:/bin/sh"), std::string::npos);
}

TEST_F(DockerBackendTest, CopyInOutsideTheWorkspaceIsRefusedSayingWhere) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome put =
      exec(id, json::object{{"op", "copy_in"},
                            {"path", "/tmp"},
                            {"files", json::array{json::object{{"name", "x"}, {"content", "x"}}}}});
  EXPECT_EQ(put.status, ISB_NOT_SUPPORTED);
  EXPECT_NE(put.error.find("read-only"), std::string::npos) << put.error;
  EXPECT_NE(put.error.find("put files under /workspace"), std::string::npos) << put.error;
  ExecOutcome get = exec(id, json::object{{"op", "copy_out"}, {"path", "/workspace/absent"}});
  EXPECT_EQ(get.status, ISB_NOT_FOUND);
  EXPECT_NE(get.error.find("'/workspace/absent' does not exist"), std::string::npos) << get.error;
}

TEST_F(DockerBackendTest, FileOperationsRejectBadSpecsNamingTheMember) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  auto files = [](const char* name) { return json::array{json::object{{"name", name}, {"content", "x"}}}; };
  ExecOutcome r = exec(id, json::object{{"op", "copy_in"}, {"path", "/workspace"}, {"files", files("../x")}});
  EXPECT_EQ(r.status, ISB_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("name '../x' must be a relative path"), std::string::npos) << r.error;
  r = exec(id, json::object{{"op", "move"}, {"path", "/workspace"}});
  EXPECT_EQ(r.status, ISB_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("op must be"), std::string::npos) << r.error;
  r = exec(id, json::object{{"op", "copy_out"}, {"path", "relative"}});
  EXPECT_EQ(r.status, ISB_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("absolute path"), std::string::npos) << r.error;
  r = exec(id, json::object{{"op", "copy_in"},
                            {"path", "/workspace"},
                            {"files", json::array{json::object{{"name", "y"}, {"content_base64", "!!"}}}}});
  EXPECT_EQ(r.status, ISB_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("not valid base64"), std::string::npos) << r.error;
}

// ---------------------------------------------------------------------------
// Lifecycle

TEST_F(DockerBackendTest, DestroyRemovesTheContainer) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(containers_with_instance(instance_).size(), 1u);
  ASSERT_EQ(api_->sandbox_destroy(inst_, id.c_str()), ISB_OK) << last_error();
  EXPECT_TRUE(containers_with_instance(instance_).empty());
  EXPECT_EQ(api_->sandbox_destroy(inst_, id.c_str()), ISB_NOT_FOUND);
  ExecOutcome r = sh(id, "true");
  EXPECT_EQ(r.status, ISB_NOT_FOUND);
}

TEST_F(DockerBackendTest, ReconcileRemovesOnlyThisInstancesUnknownContainers) {
  std::string keep = create();
  std::string orphan = create();
  ASSERT_FALSE(keep.empty());
  ASSERT_FALSE(orphan.empty());
  // A container of another server instance on the same engine.
  std::string other_instance = instance_ + "-other";
  isb_instance* other = plugin_.create(R"({"instance_id":")" + other_instance + R"("})");
  ASSERT_NE(other, nullptr);
  std::string spec =
      R"({"workspace_id":"o","workspace_path":")" + ws_.string() + R"(","image":")" + test_image() + R"("})";
  auto [cs, cdoc] = TestPlugin::call_json(
      [&](const isb_json_out* o) { return api_->sandbox_create(other, spec.c_str(), o); });
  ASSERT_EQ(cs, ISB_OK) << plugin_.descriptor()->last_error(other);

  std::string known = "[\"" + keep + "\"]";
  auto [s, doc] =
      TestPlugin::call_json([&](const isb_json_out* o) { return api_->reconcile(inst_, known.c_str(), o); });
  ASSERT_EQ(s, ISB_OK) << last_error();
  json::array removed = json::parse(doc).as_object().at("removed").as_array();
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].as_string(), orphan);
  EXPECT_EQ(containers_with_instance(instance_), std::vector<std::string>{keep});
  EXPECT_EQ(containers_with_instance(other_instance).size(), 1u);

  TestPlugin::call_json([&](const isb_json_out* o) { return api_->reconcile(other, "[]", o); });
  plugin_.descriptor()->destroy(other);
  EXPECT_TRUE(containers_with_instance(other_instance).empty());
}

TEST_F(DockerBackendTest, NewPluginInstanceAdoptsAndReconcilesContainersOfACrashedOne) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  // A fresh instance with the same instance id, as after a server restart.
  isb_instance* restarted = plugin_.create(R"({"instance_id":")" + instance_ + R"("})");
  ASSERT_NE(restarted, nullptr);
  isb_output_sink sink{sizeof(isb_output_sink), nullptr, nullptr, nullptr};
  auto [es, edoc] = TestPlugin::call_json([&](const isb_json_out* o) {
    return api_->sandbox_exec(restarted, id.c_str(), R"({"shell":"exit 7"})", &sink, o);
  });
  ASSERT_EQ(es, ISB_OK) << plugin_.descriptor()->last_error(restarted);
  EXPECT_EQ(json::parse(edoc).at("exit_code").as_int64(), 7);
  auto [s, doc] =
      TestPlugin::call_json([&](const isb_json_out* o) { return api_->reconcile(restarted, "[]", o); });
  ASSERT_EQ(s, ISB_OK);
  EXPECT_EQ(json::parse(doc).at("removed").as_array().size(), 1u);
  EXPECT_TRUE(containers_with_instance(instance_).empty());
  plugin_.descriptor()->destroy(restarted);
}

TEST_F(DockerBackendTest, ContainerRemovedBehindTheServersBackIsReportedNotFound) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  engine_delete("/containers/" + id + "?force=true");
  ExecOutcome r = sh(id, "true");
  EXPECT_EQ(r.status, ISB_NOT_FOUND);
  EXPECT_EQ(r.error.rfind("workspace sandbox is gone: ", 0), 0u) << r.error;
  EXPECT_NE(r.error.find("removed outside the server"), std::string::npos) << r.error;
}

// ---------------------------------------------------------------------------
// The engine restarting under a running command. A private engine
// (scripts/start-dockerd.sh with ISB_DOCKERD_ROOT) is stopped and started
// again, so the engine the other tests and engineers use is never touched.

class DockerEngineRestartTest : public ::testing::Test {
 protected:
  static fs::path root() { return "/tmp/isb-dockerd-restart-" + std::to_string(::getpid()); }
  static std::string sock() { return (root() / "docker.sock").string(); }

  static void start_engine() {
    host_output("ISB_DOCKERD_ROOT=" + root().string() + " ISB_DOCKERD_WAIT_S=30 " + ISB_SOURCE_DIR +
                "/scripts/start-dockerd.sh 2>/dev/null");
  }

  //! SIGTERM to the private engine, then waits (at most 30 s) until it is gone.
  static void stop_engine() {
    std::ifstream in(root() / "dockerd.pid");
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 1) return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string pid_field, comm, state;
      if (!(stat >> pid_field >> comm >> state) || state == "Z") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  static void SetUpTestSuite() {
    start_engine();
    host_output("docker save " + test_image() + " | docker -H unix://" + sock() + " load >/dev/null 2>&1");
  }
  static void TearDownTestSuite() {
    stop_engine();
    std::error_code ec;
    fs::remove_all(root(), ec);
  }
};

TEST_F(DockerEngineRestartTest, RunningCommandsFailWithinTheirTimeoutAndTheStoppedSandboxIsReportedGone) {
  ASSERT_TRUE(fs::exists(sock())) << "the private engine did not start; see " << (root() / "dockerd.log");
  TestPlugin plugin("libisb-isolation-docker.so");
  const auto* api = plugin.api<isb_isolation_api>();
  const std::string base = R"({"host":"unix://)" + sock() + R"(","instance_id":"isb-restart-test")";
  isb_instance* agent = plugin.create(base + "}");
  isb_instance* exec_api = plugin.create(base + R"(,"exec_path":"exec_api"})");
  ASSERT_NE(agent, nullptr);
  ASSERT_NE(exec_api, nullptr);
  fs::path ws = root() / "ws";
  fs::create_directories(ws);
  std::string spec = json::serialize(
      json::object{{"workspace_id", "restart"}, {"workspace_path", ws.string()}, {"image", test_image()}});
  auto create = [&](isb_instance* inst) {
    auto [s, doc] = TestPlugin::call_json(
        [&](const isb_json_out* o) { return api->sandbox_create(inst, spec.c_str(), o); });
    EXPECT_EQ(s, ISB_OK) << plugin.descriptor()->last_error(inst);
    return s == ISB_OK ? json::parse(doc).as_object() : json::object{};
  };
  json::object a = create(agent), e = create(exec_api);
  ASSERT_EQ(a.at("exec_path").as_string(), "agent");
  ASSERT_EQ(e.at("exec_path").as_string(), "exec_api");
  std::string agent_id(a.at("sandbox_id").as_string()), api_id(e.at("sandbox_id").as_string());

  struct Run {
    std::atomic<bool> started{false};
    isb_status status = ISB_OK;
    std::string error;
    int64_t ms = 0;
  };
  auto run = [&](isb_instance* inst, const std::string& id, Run* r) {
    isb_output_sink sink{};
    sink.struct_size = sizeof sink;
    sink.user = r;
    sink.emit = [](void* u, int32_t, const char*, size_t) { static_cast<Run*>(u)->started = true; };
    auto t0 = std::chrono::steady_clock::now();
    const char* cmd = R"({"shell":"echo started; sleep 60","timeout_ms":30000})";
    auto [s, doc] = TestPlugin::call_json(
        [&](const isb_json_out* o) { return api->sandbox_exec(inst, id.c_str(), cmd, &sink, o); });
    r->ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    r->status = s;
    r->error = s == ISB_OK ? doc : plugin.descriptor()->last_error(inst);
  };
  Run ra, re;
  std::thread ta(run, agent, agent_id, &ra), te(run, exec_api, api_id, &re);
  for (int i = 0; i < 200 && !(ra.started && re.started); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(ra.started && re.started);
  stop_engine();
  ta.join();
  te.join();
  start_engine();

  EXPECT_EQ(ra.status, ISB_UNAVAILABLE) << ra.error;
  EXPECT_EQ(ra.error.rfind("workspace sandbox is gone: ", 0), 0u) << ra.error;
  EXPECT_NE(ra.error.find("the command ended with it"), std::string::npos) << ra.error;
  EXPECT_LT(ra.ms, 30000);
  EXPECT_EQ(re.status, ISB_UNAVAILABLE) << re.error;
  EXPECT_LT(re.ms, 30000);

  // Back up, the engine has the containers, stopped: neither is used silently.
  for (auto [inst, id] : {std::pair{agent, agent_id}, std::pair{exec_api, api_id}}) {
    isb_output_sink sink{};
    sink.struct_size = sizeof sink;
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) {
      return api->sandbox_exec(inst, id.c_str(), R"({"shell":"true"})", &sink, o);
    });
    std::string err = plugin.descriptor()->last_error(inst);
    EXPECT_EQ(s, ISB_UNAVAILABLE) << err;
    EXPECT_NE(err.find("did the engine restart?"), std::string::npos) << err;
    EXPECT_EQ(api->sandbox_destroy(inst, id.c_str()), ISB_OK) << plugin.descriptor()->last_error(inst);
  }
  TestPlugin::call_json([&](const isb_json_out* o) { return api->reconcile(agent, "[]", o); });
  plugin.descriptor()->destroy(agent);
  plugin.descriptor()->destroy(exec_api);
}

// ---------------------------------------------------------------------------
// Attack cases from ISOLATION.md that apply to containers

TEST_F(DockerBackendTest, HostFilesAreAbsent) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  // Host paths that exist on every test machine; the container sees the image instead.
  ExecOutcome r = sh(id, "cat /etc/shadow; ls /root/.ssh; cat /etc/os-release; test -e /work && echo WORK");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("/etc/shadow"), std::string::npos);
  // Only the container's own processes are visible.
  ExecOutcome p = sh(id, "ls /proc | grep -c '^[0-9]'");
  EXPECT_LE(std::stoi(p.out), 5) << p.out;
}

TEST_F(DockerBackendTest, RootIsReadOnlyWhileWorkspaceAndTmpAreWritable) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r = sh(id,
                     "touch /usr/x 2>/dev/null && echo USR; touch /etc/x 2>/dev/null && echo ETC; "
                     "touch /x 2>/dev/null && echo ROOT; echo data > /workspace/f && echo WS; "
                     "echo t > /tmp/t && echo TMP");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "WS\nTMP\n");
  std::ifstream f(ws_ / "f");
  std::string content;
  std::getline(f, content);
  EXPECT_EQ(content, "data");
}

TEST_F(DockerBackendTest, SymlinkToHostPathResolvesInsideTheContainer) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  fs::create_symlink("/etc/hostname", ws_ / "link");
  ExecOutcome host = sh(id, "cat /workspace/link");
  ASSERT_EQ(host.status, ISB_OK);
  // The container's /etc/hostname is the container id prefix, not the host's.
  EXPECT_EQ(host.out, id.substr(0, 12) + "\n");
}

TEST_F(DockerBackendTest, NoCapabilitiesAndNoNewPrivileges) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r = sh(id, "grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out,
            "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
            "NoNewPrivs:\t1\nSeccomp:\t2\n");
}

TEST_F(DockerBackendTest, MountUnshareMknodAndSysrqAreDenied) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r =
      sh(id,
         "mount -t tmpfs none /tmp 2>/dev/null && echo MOUNT; "
         "unshare -U true 2>/dev/null && echo UNSHARE; "
         "mknod /tmp/mem c 1 1 2>/dev/null && echo MKNOD; "
         "echo h > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ; "
         "cat /dev/kmsg 2>/dev/null | head -c1 | grep -q . && echo KMSG; "
         // busybox date -s exits 0 even when settimeofday fails: check the clock.
         "date -s 2000-01-01 >/dev/null 2>&1; date +%Y | grep -q '^2000' && echo DATE; echo done");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "done\n");
}

TEST_F(DockerBackendTest, NetworkIsOffIncludingHostLoopback) {
  // A TCP server on the host's loopback that a command must not reach.
  int srv = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(srv, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(srv, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);

  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r =
      sh(id, "ls /sys/class/net; echo x | nc -w 1 127.0.0.1 " + std::to_string(port) +
                 " 2>/dev/null && echo LOOPBACK; wget -q -T 1 -O- http://1.1.1.1/ 2>/dev/null && echo NET;"
                 " nslookup example.com >/dev/null 2>&1 && echo DNS; echo done");
  ::close(srv);
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "lo\ndone\n");
}

TEST_F(DockerBackendTest, EgressGetsANetworkOfItsOwnThatReachesOutAndGoesWithTheWorkspace) {
  std::string id = create("{}", test_image(), "egress");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(created_.at("network").as_string(), "egress");
  std::string name(created_.at("network_name").as_string());
  EXPECT_EQ(name.rfind("isb-" + instance_ + "-", 0), 0u) << name;
  json::value net = engine_get("/networks/" + name);
  ASSERT_TRUE(net.is_object());
  EXPECT_EQ(net.at("Driver").as_string(), "bridge");
  EXPECT_EQ(net.at("Labels").at("dev.intelligent-sandbox.instance").as_string(), instance_);
  json::value c = engine_get("/containers/" + id + "/json");
  EXPECT_EQ(c.at("HostConfig").at("NetworkMode").as_string(), name);
  // Out of the container to a TCP server on the host side of its bridge.
  std::string gateway(net.at("IPAM").at("Config").at(0).at("Gateway").as_string());
  int srv = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(srv, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ASSERT_EQ(::inet_pton(AF_INET, gateway.c_str(), &addr.sin_addr), 1) << gateway;
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(srv, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread acceptor([srv] {
    pollfd p{srv, POLLIN, 0};
    if (::poll(&p, 1, 10000) == 1) {
      int conn = ::accept(srv, nullptr, nullptr);
      if (conn >= 0) {
        ::send(conn, "pong\n", 5, MSG_NOSIGNAL);
        ::close(conn);
      }
    }
  });
  ExecOutcome r = sh(id, "ls /sys/class/net; nc -w 2 " + gateway + " " +
                             std::to_string(ntohs(addr.sin_port)) + " </dev/null");
  acceptor.join();
  ::close(srv);
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "eth0\nlo\npong\n");
  ASSERT_EQ(api_->sandbox_destroy(inst_, id.c_str()), ISB_OK) << last_error();
  EXPECT_TRUE(engine_get("/networks/" + name).as_object().contains("message")) << "network left behind";
}

TEST_F(DockerBackendTest, DockerSocketIsUnreachable) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r = sh(id, "ls /var/run/docker.sock /run/docker.sock 2>/dev/null; echo done");
  EXPECT_EQ(r.out, "done\n");
}

TEST_F(DockerBackendTest, KillAllOnlyKillsSandboxProcessesAndTheWorkspaceSurvives) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  pid_t me = ::getpid();
  ExecOutcome r = sh(id, "sleep 106 & kill -9 -1; echo after");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(::kill(me, 0), 0);
  ExecOutcome next = sh(id, "echo alive");
  ASSERT_EQ(next.status, ISB_OK) << next.error;
  EXPECT_EQ(next.out, "alive\n");
}

TEST_F(DockerBackendTest, OrphansAreReapedByPidOne) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome r = sh(id, "(sleep 0.1 &); (sleep 0.1 &); sleep 0.6; ps -o stat | grep -c '^Z'; true");
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.out, "0\n");
}

TEST_F(DockerBackendTest, ForkBombIsCappedByThePidsLimit) {
  std::string id = create(R"({"max_processes":20})");
  ASSERT_FALSE(id.empty());
  // The bomb runs in a subshell, which dies at the first refused fork; the
  // outer shell then reads the pids cgroup with builtins only (it cannot fork).
  ExecOutcome r =
      sh(id,
         "( i=0; while [ $i -lt 60 ]; do sleep 107 >/dev/null 2>&1 & i=$((i+1)); done ) 2>/dev/null; "
         "read c < /sys/fs/cgroup/pids/pids.current; read m < /sys/fs/cgroup/pids/pids.max; echo $c $m",
         10000);
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  std::istringstream in(r.out);
  int current = 0, max = 0;
  ASSERT_TRUE(in >> current >> max) << r.out << r.err;
  EXPECT_EQ(max, 20);
  EXPECT_LE(current, 20);
  EXPECT_GE(current, 15);  // the bomb did run into the cap
}

TEST_F(DockerBackendTest, AllocatingTwiceTheMemoryLimitIsOomKilledAndReported) {
  std::string id = create(R"({"memory_mb":32})");
  ASSERT_FALSE(id.empty());
  ExecOutcome r =
      exec(id, json::object{{"argv", json::array{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}},
                            {"timeout_ms", 20000}});
  ASSERT_EQ(r.status, ISB_OK) << r.error;
  EXPECT_EQ(r.result.at("signal_name").as_string(), "SIGKILL");
  EXPECT_TRUE(r.result.at("usage").at("oom_killed").as_bool());
  EXPECT_FALSE(r.result.at("timed_out").as_bool());
  ExecOutcome next = sh(id, "echo alive");
  EXPECT_EQ(next.out, "alive\n");
}

TEST_F(DockerBackendTest, TwoWorkspacesCannotSeeEachOthersTmpOrProcesses) {
  std::string a = create();
  ASSERT_FALSE(a.empty());
  fs::path ws_b = ws_.string() + "-b";
  fs::create_directories(ws_b);
  json::object spec{{"workspace_id", "b"}, {"workspace_path", ws_b.string()}, {"image", test_image()}};
  auto [s, doc] = TestPlugin::call_json(
      [&](const isb_json_out* o) { return api_->sandbox_create(inst_, json::serialize(spec).c_str(), o); });
  ASSERT_EQ(s, ISB_OK) << last_error();
  std::string b(json::parse(doc).at("sandbox_id").as_string());
  sh(a, "echo secret > /tmp/a-secret; sleep 108 >/dev/null 2>&1 &");
  ExecOutcome r = sh(b, "ls /tmp; ps | grep -c 'sleep 10[8]'; ls /workspace");
  EXPECT_EQ(r.out, "0\n");
  fs::remove_all(ws_b);
}

}  // namespace
