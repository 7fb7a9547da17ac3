// isolation_process_test: drives libisb-isolation-process.so across the C ABI:
// the jail and the direct fallback (namespaces disabled by config). Run as
// root it tests the root jail; CTest runs it again as an ordinary user
// (tests/isolation/as_test_user.sh), where the same tests drive the rootless
// jail, and the few that need what only root gives (cgroups, the root
// fallback) say so when they skip. Attacks on the jail are in tests/isolation/.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "plugin_loader.hpp"
#include "sandbox_processes.hpp"
#include "schema_check.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

//! True while the process exists and is not a zombie.
bool process_alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

bool wait_dead(pid_t pid, int ms) {
  for (int i = 0; i < ms / 20; ++i) {
    if (!process_alive(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !process_alive(pid);
}

pid_t read_pid_file(const fs::path& p) {
  for (int i = 0; i < 100; ++i) {
    std::ifstream in(p);
    long pid = 0;
    if (in >> pid && pid > 0) return static_cast<pid_t>(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

//! Collects output per stream and answers is_cancelled.
struct Capture {
  std::string out, err;
  std::function<bool()> cancel;
  isb_output_sink sink() {
    isb_output_sink s{};
    s.struct_size = sizeof s;
    s.user = this;
    s.emit = [](void* u, int32_t stream, const char* b, size_t n) {
      auto* c = static_cast<Capture*>(u);
      (stream == ISB_STREAM_STDOUT ? c->out : c->err).append(b, n);
    };
    s.is_cancelled = [](void* u) -> uint8_t {
      auto* c = static_cast<Capture*>(u);
      return c->cancel && c->cancel() ? 1 : 0;
    };
    return s;
  }
};

class ProcessIsolation : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = std::make_unique<TestPlugin>("libisb-isolation-process.so");
    api_ = plugin_->api<isb_isolation_api>();
    inst_ = plugin_->create(config());
    ASSERT_NE(inst_, nullptr);
    char tmpl[] = "/tmp/isb-proc-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    ws_ = fs::canonical(tmpl);
  }
  void TearDown() override {
    if (inst_) plugin_->descriptor()->destroy(inst_);
    std::error_code ec;
    fs::remove_all(ws_, ec);
  }

  json::object create_sandbox(const std::string& id, json::object limits = {}) {
    json::object spec{{"workspace_id", id}, {"workspace_path", ws_.string()}, {"resource_limits", limits}};
    sandbox_test::JailSupervisors before = sandbox_test::jail_supervisors();
    auto [s, doc] = TestPlugin::call_json(
        [&](const isb_json_out* o) { return api_->sandbox_create(inst_, json::serialize(spec).c_str(), o); });
    EXPECT_EQ(s, ISB_OK) << error();
    if (s != ISB_OK) return json::object{};
    json::object created = json::parse(doc).as_object();
    if (created.contains("host_uid")) processes_[id] = sandbox_test::sandbox_processes(created, before);
    return created;
  }

  json::object probe() {
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(inst_, o); });
    EXPECT_EQ(s, ISB_OK);
    return s == ISB_OK ? json::parse(doc).as_object() : json::object{};
  }

  std::pair<isb_status, json::object> exec(const std::string& id, const json::object& spec, Capture& cap) {
    isb_output_sink sink = cap.sink();
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) {
      return api_->sandbox_exec(inst_, id.c_str(), json::serialize(spec).c_str(), &sink, o);
    });
    return {s, s == ISB_OK ? json::parse(doc).as_object() : json::object{}};
  }

  json::object exec_ok(const std::string& id, const json::object& spec, Capture& cap) {
    auto [s, r] = exec(id, spec, cap);
    EXPECT_EQ(s, ISB_OK) << error();
    return r;
  }

  std::string error() { return plugin_->descriptor()->last_error(inst_); }
  virtual std::string config() const { return R"({"kill_grace_ms": 300})"; }

  //! Runs a shell line in the sandbox and returns its stdout.
  std::string sh(const std::string& id, const std::string& line) {
    Capture cap;
    exec_ok(id, {{"shell", line}}, cap);
    return cap.out;
  }

  std::unique_ptr<TestPlugin> plugin_;
  const isb_isolation_api* api_ = nullptr;
  isb_instance* inst_ = nullptr;
  fs::path ws_;
  std::map<std::string, sandbox_test::SandboxProcesses> processes_;  // jailed sandboxes' processes, by id
};

//! name -> enforced, of a probe's or a create result's protections.
std::map<std::string, bool> enforced_by_name(const json::object& probe) {
  std::map<std::string, bool> out;
  for (const auto& v : probe.at("protections").as_array()) {
    out[std::string(v.at("name").as_string())] = v.at("enforced").as_bool();
  }
  return out;
}

//! Same tests, with the jail switched off: commands are plain children.
class DirectProcessIsolation : public ProcessIsolation {
 protected:
  std::string config() const override { return R"({"kill_grace_ms": 300, "disable": ["namespaces"]})"; }
};

TEST_F(ProcessIsolation, ProbeReportsEveryJailProtectionAsEnforcedOnThisHost) {
  if (geteuid() != 0)
    GTEST_SKIP() << "cgroup limits and host uids of its own need root (see the rootless probe test)";
  json::object p = probe();
  EXPECT_EQ(p.at("isolation"), "jail");
  EXPECT_EQ(p.at("workspace_mount"), "/workspace");
  std::map<std::string, bool> enforced = enforced_by_name(p);
  const char* names[] = {"user_namespace",
                         "host_uid_separation",
                         "mount_namespace",
                         "pid_namespace",
                         "network_namespace",
                         "ipc_namespace",
                         "uts_namespace",
                         "cgroup_namespace",
                         "filesystem_isolation",
                         "seccomp",
                         "no_new_privs",
                         "capabilities_dropped",
                         "cgroup_memory",
                         "cgroup_pids",
                         "cgroup_cpu",
                         "command_tree_kill",
                         "rlimits",
                         "process_group_kill",
                         "wall_clock_timeout"};
  EXPECT_EQ(enforced.size(), std::size(names));
  for (const char* n : names) {
    ASSERT_TRUE(enforced.count(n)) << n;
    EXPECT_TRUE(enforced.at(n)) << n;
  }
  json::object sb = create_sandbox("ws", {{"memory_mb", 256}, {"max_processes", 64}, {"cpu_cores", 1}});
  EXPECT_EQ(sb.at("workspace_mount"), "/workspace");
  EXPECT_EQ(sb.at("enforced").as_array().size(), std::size(names));
  EXPECT_TRUE(sb.at("not_enforced").as_array().empty());
}

// Rootless: the jail's namespaces, filesystem, seccomp and privileges are
// enforced; what needs root or a delegated cgroup is reported missing, each
// with the fix, and nothing else.
TEST_F(ProcessIsolation, ProbeReportsTheRootlessJailHonestly) {
  if (geteuid() == 0) GTEST_SKIP() << "rootless only: CTest runs this binary again as an ordinary user";
  json::object p = probe();
  ASSERT_EQ(p.at("isolation"), "jail") << json::serialize(p);
  EXPECT_EQ(p.at("running_as_root"), false);
  EXPECT_EQ(p.at("mounts_overlay"), false);
  EXPECT_EQ(p.at("workspace_ownership").at("method"), "server_user");
  std::map<std::string, bool> enforced = enforced_by_name(p);
  const std::set<std::string> missing{"host_uid_separation", "cgroup_memory", "cgroup_pids", "cgroup_cpu",
                                      "command_tree_kill"};
  EXPECT_EQ(enforced.size(), 19u);
  for (const auto& [name, on] : enforced) EXPECT_EQ(on, !missing.count(name)) << name;
  for (const auto& v : p.at("protections").as_array()) {
    if (v.at("enforced").as_bool()) continue;
    EXPECT_FALSE(v.at("fix").as_string().empty()) << v.at("name");
  }
  json::object sb = create_sandbox("ws", {{"memory_mb", 256}, {"max_processes", 64}, {"cpu_cores", 1}});
  EXPECT_EQ(sb.at("host_uid"), static_cast<int64_t>(geteuid())) << "the sandbox runs as the server's uid";
  EXPECT_EQ(sb.at("workspace_ownership"), "server_user");
  EXPECT_EQ(sb.at("unenforced_limits"), json::array{"cpu_cores"});
  std::set<std::string> not_enforced;
  for (const auto& v : sb.at("not_enforced").as_array())
    not_enforced.insert(std::string(v.at("name").as_string()));
  EXPECT_EQ(not_enforced, missing);
  EXPECT_EQ(
      sh("ws",
         "id -u; id -g; awk '/^Max processes/ {print $3} /^Max address space/ {print $4}' /proc/self/limits"),
      "1000\n1000\n65\n268435456\n");
}

TEST_F(ProcessIsolation, UnknownResourceLimitIsRejectedButUnknownSpecKeysAreIgnored) {
  auto create = [&](const std::string& spec) {
    return TestPlugin::call_json(
        [&](const isb_json_out* o) { return api_->sandbox_create(inst_, spec.c_str(), o); });
  };
  std::string ws = ws_.string();
  EXPECT_EQ(
      create(R"({"workspace_id":"a","workspace_path":")" + ws + R"(","resource_limits":{"gpus":1}})").first,
      ISB_INVALID_ARGUMENT);
  EXPECT_NE(error().find("unknown resource limit 'gpus'"), std::string::npos) << error();
  EXPECT_EQ(create(R"({"workspace_id":"a","workspace_path":")" + ws + R"(","network":"host"})").first,
            ISB_INVALID_ARGUMENT);
  EXPECT_NE(error().find("network must be \"none\""), std::string::npos) << error();
  EXPECT_EQ(
      create(R"({"workspace_id":"a","workspace_path":")" + ws + R"(","network":"none","later":1})").first,
      ISB_OK)
      << error();
}

TEST_F(DirectProcessIsolation, DescriptorAndProbeAreHonest) {
  const isb_plugin_descriptor* d = plugin_->descriptor();
  EXPECT_EQ(d->kind, ISB_KIND_ISOLATION);
  EXPECT_STREQ(d->id, "process");
  EXPECT_STREQ(d->name, "Process isolation");
  EXPECT_STREQ(d->version, "0.2.0");
  EXPECT_TRUE(d->capabilities & ISB_CAP_THREAD_SAFE);
  ASSERT_NE(d->config_schema, nullptr);
  EXPECT_TRUE(json::parse(d->config_schema).as_object().contains("properties"));

  auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(inst_, o); });
  ASSERT_EQ(s, ISB_OK);
  json::object p = json::parse(doc).as_object();
  EXPECT_EQ(p.at("backend"), "process");
  EXPECT_EQ(p.at("available"), true);
  EXPECT_EQ(p.at("isolation"), "none");
  std::map<std::string, bool> enforced;
  for (const auto& v : p.at("protections").as_array()) {
    enforced[std::string(v.at("name").as_string())] = v.at("enforced").as_bool();
    EXPECT_FALSE(v.at("detail").as_string().empty());
  }
  EXPECT_TRUE(enforced.at("rlimits"));
  EXPECT_TRUE(enforced.at("process_group_kill"));
  EXPECT_TRUE(enforced.at("wall_clock_timeout"));
  for (const char* name :
       {"user_namespace", "mount_namespace", "pid_namespace", "network_namespace", "filesystem_isolation",
        "cgroup_memory", "cgroup_pids", "seccomp", "no_new_privs", "command_tree_kill"}) {
    ASSERT_TRUE(enforced.count(name)) << name;
    EXPECT_FALSE(enforced.at(name)) << name;
  }
  EXPECT_FALSE(p.at("warnings").as_array().empty());
}

TEST_F(ProcessIsolation, RunsArgvInWorkspaceCwd) {
  fs::create_directory(ws_ / "sub");
  json::object sb = create_sandbox("ws1");
  EXPECT_EQ(sb.at("sandbox_id"), "ws1");
  Capture cap;
  json::object r = exec_ok("ws1", {{"argv", json::array{"pwd"}}}, cap);
  EXPECT_EQ(r.at("exit_code"), 0);
  EXPECT_EQ(cap.out, "/workspace\n");
  Capture sub;
  exec_ok("ws1", {{"argv", json::array{"pwd"}}, {"cwd", "sub"}}, sub);
  EXPECT_EQ(sub.out, "/workspace/sub\n");
  // The environment is the base one plus "env", not the server's.
  setenv("ISB_TEST_SECRET", "leak", 1);
  Capture env;
  exec_ok("ws1",
          {{"shell", "echo \"$HOME|$LANG|$TERM|$FOO|${ISB_TEST_SECRET:-unset}\""},
           {"env", json::object{{"FOO", "bar"}}}},
          env);
  EXPECT_EQ(env.out, "/workspace|C.UTF-8|dumb|bar|unset\n");
}

TEST_F(DirectProcessIsolation, RunsArgvInWorkspaceCwdOnTheHostPath) {
  fs::create_directory(ws_ / "sub");
  create_sandbox("ws1");
  Capture sub;
  exec_ok("ws1", {{"argv", json::array{"pwd"}}, {"cwd", "sub"}}, sub);
  EXPECT_EQ(sub.out, (ws_ / "sub").string() + "\n");
}

TEST_F(ProcessIsolation, ShellCommandExitCode) {
  create_sandbox("ws");
  Capture cap;
  json::object r = exec_ok("ws", {{"shell", "exit 3"}}, cap);
  EXPECT_EQ(r.at("exit_code"), 3);
  EXPECT_TRUE(r.at("signal").is_null());
  EXPECT_EQ(r.at("timed_out"), false);
  EXPECT_EQ(r.at("cancelled"), false);
  EXPECT_FALSE(r.contains("error"));
  EXPECT_TRUE(r.at("usage").as_object().contains("max_rss_kb"));
  EXPECT_EQ(schema_errors(r, "exec-result.schema.json"), "");
}

TEST_F(ProcessIsolation, StreamsStdoutAndStderrSeparately) {
  create_sandbox("ws");
  Capture cap;
  json::object r = exec_ok("ws", {{"shell", "echo out; echo err >&2; cat"}, {"stdin", "from stdin\n"}}, cap);
  EXPECT_EQ(r.at("exit_code"), 0);
  EXPECT_EQ(cap.out, "out\nfrom stdin\n");
  EXPECT_EQ(cap.err, "err\n");
  EXPECT_EQ(r.at("stdout_bytes"), 15);
  EXPECT_EQ(r.at("stderr_bytes"), 4);
  EXPECT_EQ(r.at("output_truncated"), false);
}

TEST_F(ProcessIsolation, TimeoutKillsWholeProcessGroup) {
  create_sandbox("ws");
  Capture cap;
  auto t0 = std::chrono::steady_clock::now();
  json::object r =
      exec_ok("ws", {{"shell", "sleep 30 & echo $! > bg.pid; sleep 30"}, {"timeout_ms", 300}}, cap);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.at("timed_out"), true);
  EXPECT_TRUE(r.at("exit_code").is_null());
  EXPECT_FALSE(r.at("signal").is_null());
  EXPECT_LT(r.at("duration_ms").as_int64(), 5000);
  EXPECT_LT(took, std::chrono::seconds(5));
  pid_t bg = read_pid_file(ws_ / "bg.pid");
  ASSERT_GT(bg, 0);
  // The pid is one of the jail's pid namespace: ask inside.
  std::string line = "for i in $(seq 100); do kill -0 " + std::to_string(bg) +
                     " 2>/dev/null || { echo dead; exit; }; sleep 0.02; done; echo alive";
  EXPECT_EQ(sh("ws", line), "dead\n");
}

TEST_F(ProcessIsolation, TimeoutEscalatesToSigkillAfterGrace) {
  create_sandbox("ws");
  Capture cap;
  json::object r = exec_ok("ws", {{"shell", "trap '' TERM; sleep 30"}, {"timeout_ms", 200}}, cap);
  EXPECT_EQ(r.at("timed_out"), true);
  EXPECT_EQ(r.at("signal_name"), "SIGKILL");
  EXPECT_LT(r.at("duration_ms").as_int64(), 5000);
}

TEST_F(ProcessIsolation, OutputCapIsEnforcedAndReported) {
  create_sandbox("ws");
  Capture cap;
  json::object r = exec_ok(
      "ws", {{"shell", "head -c 100000 /dev/zero; head -c 10 /dev/zero >&2"}, {"max_output_bytes", 1000}},
      cap);
  EXPECT_EQ(r.at("exit_code"), 0);
  EXPECT_EQ(cap.out.size(), 1000u);
  EXPECT_EQ(cap.err.size(), 10u);
  EXPECT_EQ(r.at("stdout_bytes"), 100000);
  EXPECT_EQ(r.at("output_truncated"), true);
}

TEST_F(ProcessIsolation, CancelStopsCommand) {
  create_sandbox("ws");
  Capture cap;
  auto t0 = std::chrono::steady_clock::now();
  cap.cancel = [t0] { return std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(200); };
  json::object r = exec_ok("ws", {{"argv", json::array{"sleep", "30"}}}, cap);
  EXPECT_EQ(r.at("cancelled"), true);
  EXPECT_EQ(r.at("timed_out"), false);
  EXPECT_TRUE(r.at("exit_code").is_null());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(schema_errors(r, "exec-result.schema.json"), "");
}

TEST_F(ProcessIsolation, CancelKillsDescendantsThatLeftTheCommandsSession) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs a freezer cgroup per command (root); rootless reports command_tree_kill "
                    "unenforced";
  create_sandbox("ws");
  Capture cap;
  auto t0 = std::chrono::steady_clock::now();
  cap.cancel = [t0] { return std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(300); };
  json::object r =
      exec_ok("ws", {{"shell", "setsid sh -c 'sleep 300' >/dev/null 2>&1 & setsid sleep 300 & sleep 30"}}, cap);
  EXPECT_EQ(r.at("cancelled"), true);
  EXPECT_EQ(r.at("killed_by"), "cancelled");
  EXPECT_EQ(processes_["ws"].settle(1), 1) << "only the supervisor is left";
}

TEST_F(ProcessIsolation, CommandNotFoundGives127WithError) {
  create_sandbox("ws");
  Capture cap;
  json::object r = exec_ok("ws", {{"argv", json::array{"isb-no-such-command-xyz", "arg"}}}, cap);
  EXPECT_EQ(r.at("exit_code"), 127);
  ASSERT_TRUE(r.contains("error"));
  std::string err(r.at("error").as_string());
  EXPECT_EQ(err.rfind("exec failed: ", 0), 0u) << err;
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
  EXPECT_EQ(schema_errors(r, "exec-result.schema.json"), "");
}

TEST_F(ProcessIsolation, RefusesCwdOutsideWorkspace) {
  create_sandbox("ws");
  for (const char* cwd : {"/tmp", "..", "sub/../..", "a/../b"}) {
    Capture cap;
    auto [s, r] = exec("ws", {{"argv", json::array{"pwd"}}, {"cwd", cwd}}, cap);
    EXPECT_EQ(s, ISB_INVALID_ARGUMENT) << cwd;
    EXPECT_NE(error().find("cwd"), std::string::npos) << error();
  }
  Capture cap;
  auto [s, r] = exec("ws", {{"argv", json::array{"pwd"}}, {"shell", "pwd"}}, cap);
  EXPECT_EQ(s, ISB_INVALID_ARGUMENT);
}

TEST_F(ProcessIsolation, UnknownSandboxIsNotFound) {
  Capture cap;
  auto [s, r] = exec("nope", {{"argv", json::array{"true"}}}, cap);
  EXPECT_EQ(s, ISB_NOT_FOUND);
  EXPECT_EQ(error(), "no sandbox 'nope'");
  EXPECT_EQ(api_->sandbox_destroy(inst_, "nope"), ISB_NOT_FOUND);
}

TEST_F(ProcessIsolation, CreateValidatesSpec) {
  auto create = [&](const std::string& spec) {
    return TestPlugin::call_json(
        [&](const isb_json_out* o) { return api_->sandbox_create(inst_, spec.c_str(), o); });
  };
  EXPECT_EQ(create(R"({"workspace_id":"a"})").first, ISB_INVALID_ARGUMENT);
  EXPECT_NE(error().find("workspace_path"), std::string::npos);
  EXPECT_EQ(create(R"({"workspace_id":"a","workspace_path":"/no/such/dir"})").first, ISB_INVALID_ARGUMENT);
  EXPECT_EQ(create(R"({"workspace_id":"a","workspace_path":")" + ws_.string() +
                   R"(","resource_limits":{"memory_mb":"big"}})")
                .first,
            ISB_INVALID_ARGUMENT);
  EXPECT_NE(error().find("memory_mb"), std::string::npos);
  create_sandbox("dup");
  EXPECT_EQ(create(R"({"workspace_id":"dup","workspace_path":")" + ws_.string() + R"("})").first,
            ISB_INVALID_ARGUMENT);
}

TEST_F(ProcessIsolation, MemoryLimitStopsAllocation) {
  if (system("command -v python3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not installed";
  if (geteuid() != 0)
    GTEST_SKIP() << "needs a memory cgroup (root); rootless, RLIMIT_AS stops it "
                    "(NoCgroupsIsolation.WithoutCgroupsLimitsFallBackToRlimitsAndProbeSaysSo)";
  create_sandbox("ws", {{"memory_mb", 256}});
  Capture small;
  json::object ok = exec_ok("ws", {{"argv", json::array{"python3", "-c", "b = bytearray(16 << 20)"}}}, small);
  EXPECT_EQ(ok.at("exit_code"), 0) << small.err;
  Capture cap;
  json::object r = exec_ok("ws", {{"argv", json::array{"python3", "-c", "b = bytearray(1 << 30)"}}}, cap);
  // The memory cgroup OOM-kills the command and says so.
  EXPECT_EQ(r.at("signal_name"), "SIGKILL") << json::serialize(r);
  EXPECT_EQ(r.at("killed_by"), "memory");
  EXPECT_EQ(r.at("usage").at("oom_killed"), true);
  EXPECT_GE(r.at("usage").at("peak_memory_bytes").as_int64(), 200 << 20);
  EXPECT_LE(r.at("usage").at("peak_memory_bytes").as_int64(), 256 << 20);
}

TEST_F(DirectProcessIsolation, MemoryLimitStopsAllocationWithRlimit) {
  if (system("command -v python3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not installed";
  create_sandbox("ws", {{"memory_mb", 256}});
  Capture cap;
  json::object r = exec_ok("ws", {{"argv", json::array{"python3", "-c", "b = bytearray(1 << 30)"}}}, cap);
  EXPECT_FALSE(r.at("exit_code") == 0);
  EXPECT_NE(cap.err.find("MemoryError"), std::string::npos) << cap.err;
}

TEST_F(ProcessIsolation, DestroyKillsEveryProcessOfTheSandbox) {
  create_sandbox("ws");
  Capture cap;
  json::object r =
      exec_ok("ws", {{"shell", "setsid sleep 60 >/dev/null 2>&1 & nohup sleep 60 >/dev/null 2>&1 &"}}, cap);
  EXPECT_EQ(r.at("exit_code"), 0);
  EXPECT_EQ(processes_["ws"].settle(3), 3);  // the supervisor and both sleeps
  EXPECT_EQ(api_->sandbox_destroy(inst_, "ws"), ISB_OK);
  EXPECT_EQ(processes_["ws"].count(), 0);
  EXPECT_TRUE(fs::exists(ws_)) << "destroy must not delete the workspace";
}

TEST_F(DirectProcessIsolation, DestroyKillsBackgroundProcesses) {
  create_sandbox("ws");
  Capture cap;
  json::object r = exec_ok("ws", {{"shell", "sleep 60 >/dev/null 2>&1 & echo $! > bg.pid"}}, cap);
  EXPECT_EQ(r.at("exit_code"), 0);
  pid_t bg = read_pid_file(ws_ / "bg.pid");
  ASSERT_GT(bg, 0);
  // Background processes persist between commands of one sandbox...
  Capture again;
  exec_ok("ws", {{"argv", json::array{"true"}}}, again);
  EXPECT_TRUE(process_alive(bg));
  // ...until the sandbox is destroyed.
  EXPECT_EQ(api_->sandbox_destroy(inst_, "ws"), ISB_OK);
  EXPECT_TRUE(wait_dead(bg, 2000)) << "background sleep " << bg << " survived destroy";
  EXPECT_EQ(api_->sandbox_destroy(inst_, "ws"), ISB_NOT_FOUND);
  EXPECT_TRUE(fs::exists(ws_)) << "destroy must not delete the workspace";
}

TEST_F(ProcessIsolation, InvalidConfigRejectedWithKeyName) {
  const isb_plugin_descriptor* d = plugin_->descriptor();
  isb_host_api host{};  // later ABI fields stay zero
  host.struct_size = sizeof host;
  host.abi_major = ISB_ABI_MAJOR;
  host.abi_minor = ISB_ABI_MINOR;
  host.host_info_json = "{}";
  isb_instance* inst = nullptr;
  EXPECT_EQ(d->create(&host, R"({"kill_grace":5})", &inst), ISB_INVALID_CONFIG);
  EXPECT_EQ(inst, nullptr);
  EXPECT_NE(std::string(d->last_error(nullptr)).find("kill_grace"), std::string::npos);
  EXPECT_EQ(d->create(&host, R"({"kill_grace_ms":"soon"})", &inst), ISB_INVALID_CONFIG);
  EXPECT_NE(std::string(d->last_error(nullptr)).find("kill_grace_ms"), std::string::npos);
  EXPECT_EQ(d->create(&host, "[1]", &inst), ISB_INVALID_CONFIG);
  ASSERT_EQ(d->create(&host, R"({"kill_grace_ms":0})", &inst), ISB_OK);
  d->destroy(inst);
}

TEST_F(ProcessIsolation, ConcurrentExecs) {
  // A workspace belongs to one sandbox (its uid owns the files): one each.
  create_sandbox("a");
  char tmpl[] = "/tmp/isb-proc-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path other = tmpl;
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{other};
  auto [st, doc] = TestPlugin::call_json([&](const isb_json_out* o) {
    json::object spec{{"workspace_id", "b"}, {"workspace_path", other.string()}};
    return api_->sandbox_create(inst_, json::serialize(spec).c_str(), o);
  });
  ASSERT_EQ(st, ISB_OK) << error();
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        Capture cap;
        std::string word = "t" + std::to_string(t) + "-" + std::to_string(i);
        json::object spec{{"argv", json::array{"sh", "-c", "sleep 0.05; echo " + word}}};
        auto [s, r] = exec(t % 2 ? "a" : "b", spec, cap);
        if (s == ISB_OK && r.at("exit_code") == 0 && cap.out == word + "\n") ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 20);
}

TEST_F(ProcessIsolation, ForkFailureAtThePidsLimitIsThatCommandsErrorAndTheSupervisorStays) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs a pids cgroup (root): rootless, RLIMIT_NPROC limits the commands' "
                    "forks, not the supervisor's";
  create_sandbox("eagain", {{"max_processes", 8}});
  fs::copy_file(ISB_CONTAINER_PROBE, ws_ / "probe");
  fs::permissions(ws_ / "probe", fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  // Sleepers fill the pids limit, and one of them takes each pid that frees up.
  std::string fill = sh("eagain", "./probe fill_pids 5");
  ASSERT_NE(fill.find("then EAGAIN"), std::string::npos) << fill;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Capture cap;
  auto [s, r] = exec("eagain", {{"shell", "echo ran"}, {"timeout_ms", 10000}}, cap);
  // The supervisor's failed fork is that command's error, not a lost supervisor.
  ASSERT_EQ(s, ISB_OK) << error();
  EXPECT_EQ(r.at("exit_code"), 127);
  std::string message(r.at("error").as_string());
  EXPECT_NE(message.find("fork failed: Resource temporarily unavailable"), std::string::npos) << message;
  EXPECT_NE(message.find("max_processes"), std::string::npos) << message;
  EXPECT_TRUE(r.at("signal").is_null());
  // Once the sleepers are gone, the same supervisor runs commands again.
  std::string out;
  for (int i = 0; i < 40 && out != "ran\n"; ++i) {
    Capture again;
    auto [s2, r2] = exec("eagain", {{"shell", "echo ran"}}, again);
    ASSERT_EQ(s2, ISB_OK) << error();
    out = again.out;
    if (out != "ran\n") std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(out, "ran\n");
}

TEST_F(ProcessIsolation, FrozenSupervisorIsGivenUpWithinItsBoundAndTheSandboxFails) {
  create_sandbox("frozen");
  const pid_t supervisor = processes_["frozen"].supervisor;
  ASSERT_GT(supervisor, 1);
  ASSERT_EQ(::kill(supervisor, SIGSTOP), 0);
  // timeout 500 ms + kill_grace_ms 300 + the default reply_margin_ms 3000.
  const int64_t bound = 500 + 300 + 3000;
  isb_status status = ISB_OK;
  std::string message;
  std::atomic<bool> done{false};
  const auto t0 = std::chrono::steady_clock::now();
  std::thread call([&] {
    Capture cap;
    auto [s, r] = exec("frozen", {{"shell", "echo never"}, {"timeout_ms", 500}}, cap);
    status = s;
    message = error();
    done = true;
  });
  while (!done && std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(bound + 8000))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  // A call that still waits has no bound: fail, and end it by killing the supervisor.
  EXPECT_TRUE(done.load()) << "exec still waited on the frozen supervisor after " << ms << " ms";
  if (!done) ::kill(supervisor, SIGKILL);
  call.join();
  EXPECT_LT(ms, bound + 1500);
  EXPECT_EQ(status, ISB_UNAVAILABLE);
  EXPECT_NE(
      message.find("has failed: its supervisor was lost (it did not report the command's end within 3000 ms"),
      std::string::npos)
      << message;
  // Its jail was killed; later calls fail at once, saying so.
  EXPECT_TRUE(wait_dead(supervisor, 2000));
  Capture later;
  auto [s2, r2] = exec("frozen", {{"shell", "echo never"}}, later);
  EXPECT_EQ(s2, ISB_UNAVAILABLE);
  EXPECT_NE(error().find("has failed"), std::string::npos) << error();
  EXPECT_EQ(api_->sandbox_destroy(inst_, "frozen"), ISB_OK) << error();
}

TEST_F(ProcessIsolation, ReconcileRemovesNothing) {
  auto [s, doc] =
      TestPlugin::call_json([&](const isb_json_out* o) { return api_->reconcile(inst_, "[\"x\"]", o); });
  ASSERT_EQ(s, ISB_OK);
  EXPECT_EQ(json::parse(doc), json::parse(R"({"removed":[]})"));
}

}  // namespace

namespace {

//! The root fallback: no user namespace; the jail is built as root and drops
//! to the sandbox's host uid.
class NoUserNamespaceIsolation : public ProcessIsolation {
 protected:
  std::string config() const override { return R"({"kill_grace_ms": 300, "disable": ["user_namespace"]})"; }
};

TEST_F(NoUserNamespaceIsolation, JailWithoutUserNamespaceRunsAsTheSandboxHostUidWithoutPrivileges) {
  if (geteuid() != 0) GTEST_SKIP() << "the root fallback needs root (rootless: the test below)";
  auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(inst_, o); });
  ASSERT_EQ(s, ISB_OK);
  std::map<std::string, bool> enforced;
  json::value probe = json::parse(doc);
  for (const auto& v : probe.at("protections").as_array()) {
    enforced[std::string(v.at("name").as_string())] = v.at("enforced").as_bool();
  }
  EXPECT_FALSE(enforced.at("user_namespace"));
  EXPECT_TRUE(enforced.at("pid_namespace"));
  EXPECT_TRUE(enforced.at("filesystem_isolation"));
  EXPECT_TRUE(enforced.at("seccomp"));
  json::object sb = create_sandbox("ws");
  int64_t uid = sb.at("host_uid").as_int64();
  EXPECT_EQ(
      sh("ws",
         "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status; touch /usr/x 2>/dev/null || "
         "echo ro; ls /proc | grep -c '^[0-9]'"),
      std::to_string(uid) +
          "\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\nro\n4\n");  // pids 1, sh,
                                                                                               // ls, grep
}

// Rootless, a jail needs its user namespace: switched off by config, there is
// none, and the probe says why.
TEST_F(NoUserNamespaceIsolation, WithoutRootTheUserNamespaceCannotBeSwitchedOffAndTheProbeSaysSo) {
  if (geteuid() == 0) GTEST_SKIP() << "rootless only: CTest runs this binary again as an ordinary user";
  json::object p = probe();
  EXPECT_EQ(p.at("isolation"), "none");
  std::string warning(p.at("warnings").at(0).as_string());
  EXPECT_NE(warning.find("user_namespace disabled by config and the server is not root"), std::string::npos)
      << warning;
  std::map<std::string, bool> enforced = enforced_by_name(p);
  for (const char* n :
       {"user_namespace", "mount_namespace", "filesystem_isolation", "seccomp", "no_new_privs"})
    EXPECT_FALSE(enforced.at(n)) << n;
}

class NoCgroupsIsolation : public ProcessIsolation {
 protected:
  std::string config() const override { return R"({"kill_grace_ms": 300, "disable": ["cgroups"]})"; }
};

// Also rootless, where there are no cgroups anyway: the same fallback.
TEST_F(NoCgroupsIsolation, WithoutCgroupsLimitsFallBackToRlimitsAndProbeSaysSo) {
  if (system("command -v python3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not installed";
  json::object sb = create_sandbox("ws", {{"memory_mb", 256}, {"cpu_cores", 1}});
  std::set<std::string> not_enforced;
  for (const auto& v : sb.at("not_enforced").as_array())
    not_enforced.insert(std::string(v.at("name").as_string()));
  std::set<std::string> expected{"cgroup_memory", "cgroup_pids", "cgroup_cpu", "command_tree_kill"};
  if (geteuid() != 0) expected.insert("host_uid_separation");
  EXPECT_EQ(not_enforced, expected);
  EXPECT_EQ(sb.at("unenforced_limits"), json::array{"cpu_cores"});
  Capture cap;
  json::object r = exec_ok("ws", {{"argv", json::array{"python3", "-c", "b = bytearray(1 << 30)"}}}, cap);
  EXPECT_NE(cap.err.find("MemoryError"), std::string::npos) << cap.err;
  EXPECT_EQ(r.at("usage").at("oom_killed"), false);
  EXPECT_TRUE(r.at("usage").at("peak_memory_bytes").is_null());
}

}  // namespace
