// cgroup_v2_test: what the process backend does on a cgroup v2 host, run only
// inside the tests/vm guest (run_guest.sh), where /sys/fs/cgroup is cgroup2.
// The guest runs it once per setup and says which in ISB_VM_SETUP:
//   root         the server is root: its own subtree under its cgroup
//   delegated    an ordinary user in a cgroup delegated to it (chowned, with
//                memory, pids and cpu enabled above it, as systemd's Delegate=yes)
//   nocpu        as delegated, but the cpu controller was not delegated
//   undelegated  an ordinary user in a cgroup it does not own
// Each test checks what that setup must give, and that the probe reports
// exactly that. On a host that is not cgroup v2 every test skips.
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "jail_harness.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using jail_test::JailBackend;
using jail_test::Outcome;
using jail_test::TempDir;

namespace {

constexpr const char* kConfig =
    R"({"kill_grace_ms": 200, "sandbox_uid_base": 330000, "cgroup_parent": "isb-vm-test"})";

std::string setup() {
  const char* s = std::getenv("ISB_VM_SETUP");
  return s ? s : "";
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) out += {d[c >> 4], d[c & 15]};
  return out;
}

//! The server's cgroup directory: the backend moves this process into the
//! leaf "isb-server" below it when it needs to.
fs::path server_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line, p = "/";
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) p = line.substr(3);
  }
  fs::path own("/sys/fs/cgroup" + (p == "/" ? "" : p));
  return own.filename() == "isb-server" ? own.parent_path() : own;
}

json::object protection(const json::object& probe, const std::string& name) {
  for (const auto& p : probe.at("protections").as_array()) {
    if (p.at("name").as_string() == name) return p.as_object();
  }
  ADD_FAILURE() << "no protection " << name << " in " << json::serialize(probe);
  return {};
}

bool listed(const json::value& array, const std::string& name) {
  return json::serialize(array).find("\"" + name + "\"") != std::string::npos;
}

class CgroupV2 : public ::testing::Test {
 protected:
  void SetUp() override {
    struct statfs s {};
    if (statfs("/sys/fs/cgroup", &s) != 0 || s.f_type != CGROUP2_SUPER_MAGIC)
      GTEST_SKIP() << "not a cgroup v2 host: these tests run in the tests/vm guest";
    ASSERT_NE(setup(), "") << "ISB_VM_SETUP must say which setup the guest made (root, delegated, ...)";
    backend_ = std::make_unique<JailBackend>(kConfig);
    ASSERT_TRUE(backend_->ok());
    probe_ = backend_->probe();
    ASSERT_EQ(probe_.at("isolation"), "jail") << json::serialize(probe_);
  }
  bool limited() const { return setup() == "root" || setup() == "delegated" || setup() == "nocpu"; }
  fs::path workspace_cgroup(const std::string& id) {
    return server_cgroup() / "isb-vm-test" / std::string(probe_.at("instance").as_string()) /
           ("ws-" + hex(id));
  }

  std::unique_ptr<JailBackend> backend_;
  json::object probe_;
  TempDir dir_;
};

TEST_F(CgroupV2, TheProbeReportsExactlyWhatThisSetupEnforces) {
  for (const char* name : {"cgroup_memory", "cgroup_pids", "cgroup_cpu", "command_tree_kill"}) {
    json::object p = protection(probe_, name);
    bool want = limited() && !(setup() == "nocpu" && std::string(name) == "cgroup_cpu");
    EXPECT_EQ(p.at("enforced"), want) << name << ": " << json::serialize(p);
    if (want) {
      EXPECT_NE(json::serialize(p.at("detail"))
                    .find(std::string(name) == "command_tree_kill" ? "cgroup.kill" : "cgroup v2"),
                std::string::npos)
          << json::serialize(p);
    } else {
      ASSERT_TRUE(p.contains("fix")) << name << " is unenforced without a fix: " << json::serialize(p);
    }
  }
  if (setup() == "nocpu") {
    std::string d = json::serialize(protection(probe_, "cgroup_cpu").at("detail"));
    EXPECT_NE(d.find("cpu controller is not delegated"), std::string::npos) << d;
  }
  if (setup() == "undelegated") {
    json::object p = protection(probe_, "cgroup_memory");
    EXPECT_NE(json::serialize(p.at("detail")).find("not delegated"), std::string::npos) << json::serialize(p);
    EXPECT_NE(json::serialize(p.at("fix")).find("Delegate=yes"), std::string::npos) << json::serialize(p);
  }
}

TEST_F(CgroupV2, LimitsAreWrittenToTheWorkspaceCgroupAndTheJailSeesOnlyItsOwnTree) {
  json::object sb =
      backend_->create("lim", dir_.path(), {{"memory_mb", 64}, {"max_processes", 32}, {"cpu_cores", 0.5}});
  ASSERT_FALSE(sb.empty());
  fs::path cg = workspace_cgroup("lim");
  if (!limited()) {
    EXPECT_FALSE(fs::exists(cg));
    EXPECT_TRUE(listed(sb.at("not_enforced"), "cgroup_memory")) << json::serialize(sb);
    EXPECT_TRUE(listed(sb.at("unenforced_limits"), "cpu_cores")) << json::serialize(sb);
  } else {
    EXPECT_EQ(read_file(cg / "memory.max"), std::to_string(64 << 20) + "\n");
    EXPECT_EQ(read_file(cg / "memory.swap.max"), "0\n");
    EXPECT_EQ(read_file(cg / "pids.max"), "33\n");
    EXPECT_TRUE(listed(sb.at("enforced"), "cgroup_memory")) << json::serialize(sb);
    if (setup() == "nocpu") {
      EXPECT_FALSE(fs::exists(cg / "cpu.max"));
      EXPECT_TRUE(listed(sb.at("unenforced_limits"), "cpu_cores")) << json::serialize(sb);
      EXPECT_TRUE(listed(sb.at("not_enforced"), "cgroup_cpu")) << json::serialize(sb);
    } else {
      EXPECT_EQ(read_file(cg / "cpu.max"), "50000 100000\n");
      EXPECT_FALSE(listed(sb.at("unenforced_limits"), "cpu_cores")) << json::serialize(sb);
    }
    EXPECT_EQ(read_file(cg / "cgroup.procs"), "") << "no-internal-process: the workspace cgroup holds none";
    EXPECT_NE(read_file(cg / "supervisor" / "cgroup.procs"), "");
  }
  // The cgroup namespace is rooted at the workspace cgroup: the host tree is hidden.
  Outcome r = backend_->sh("lim", "cat /proc/self/cgroup");
  if (limited()) {
    EXPECT_EQ(r.out.rfind("0::/c", 0), 0u) << r.out;
  } else {
    EXPECT_EQ(r.out, "0::/\n");
  }
  EXPECT_EQ(r.out.find("isb-"), std::string::npos) << r.out;
  ASSERT_EQ(backend_->destroy("lim"), ISB_OK);
  EXPECT_FALSE(fs::exists(cg)) << "destroy removes the workspace cgroup";
}

TEST_F(CgroupV2, AMemoryBombIsOomKilledReportedAndTheWorkspaceLivesOn) {
  json::object sb = backend_->create("mem", dir_.path(), {{"memory_mb", 64}});
  ASSERT_FALSE(sb.empty());
  Outcome r = backend_->sh("mem", "python3 -c 'b = bytearray(200 << 20); print(\"survived\")'", 60000);
  EXPECT_EQ(r.out, "");
  if (limited()) {
    EXPECT_EQ(r.result.at("killed_by"), "memory") << json::serialize(r.result);
    EXPECT_EQ(r.result.at("usage").at("oom_killed"), true) << json::serialize(r.result);
  } else {
    // RLIMIT_AS per process instead: the allocation fails.
    EXPECT_NE(r.err.find("MemoryError"), std::string::npos) << r.err;
    EXPECT_EQ(r.result.at("usage").at("oom_killed"), false);
  }
  EXPECT_EQ(backend_->sh("mem", "echo alive").out, "alive\n") << "the supervisor survives its command's OOM";
  // A shell that forks allocating children: each is killed, the host is fine.
  Outcome bomb = backend_->sh(
      "mem", "for i in 1 2 3 4; do python3 -c 'b = bytearray(100 << 20)' & done; wait; echo done", 60000);
  EXPECT_EQ(bomb.status, ISB_OK);
  if (limited()) {
    EXPECT_EQ(bomb.result.at("usage").at("oom_killed"), true) << json::serialize(bomb.result);
  }
  EXPECT_EQ(backend_->sh("mem", "echo alive").out, "alive\n");
}

TEST_F(CgroupV2, AForkBombIsCappedByThePidsLimit) {
  json::object sb = backend_->create("fork", dir_.path(), {{"max_processes", 24}});
  ASSERT_FALSE(sb.empty());
  Outcome r = backend_->sh("fork", "bomb() { bomb | bomb & }; bomb; sleep 3; echo after", 30000);
  EXPECT_EQ(r.status, ISB_OK);
  if (limited()) {
    EXPECT_EQ(r.result.at("pids_limit_hit"), true) << json::serialize(r.result);
  }
  EXPECT_EQ(std::system("true"), 0) << "the host can still fork";
  ASSERT_EQ(backend_->destroy("fork"), ISB_OK);
}

TEST_F(CgroupV2, WritingCgroupFilesFromInsideCannotLeaveTheLimits) {
  if (!limited()) GTEST_SKIP() << "no cgroup limits to leave in this setup";
  json::object sb = backend_->create("esc", dir_.path(), {{"memory_mb", 64}});
  ASSERT_FALSE(sb.empty());
  // No cgroup file system in the jail, none can be mounted, and pid 1's fds
  // (its fd of the workspace cgroup) are out of reach.
  Outcome r =
      backend_->sh("esc",
                   "mkdir -p /tmp/cg; mount -t cgroup2 none /tmp/cg 2>/dev/null && echo mounted; "
                   "unshare -C true 2>/dev/null && echo unshared; "
                   "ls /sys/fs/cgroup 2>/dev/null && echo sys; ls /proc/1/fd 2>/dev/null && echo fds; "
                   "for d in /sys/fs/cgroup /proc/1/root/sys/fs/cgroup /proc/self/root/sys/fs/cgroup; do "
                   "  echo $$ > $d/cgroup.procs 2>/dev/null && echo wrote $d; "
                   "  echo -memory > $d/cgroup.subtree_control 2>/dev/null && echo wrote $d; done; "
                   "cat /proc/self/cgroup");
  EXPECT_EQ(r.out.find("mounted"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("unshared"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("fds"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("wrote"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("sys"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind("0::/c", 0), 0u) << r.out;
  // The limit still holds afterwards.
  Outcome m = backend_->sh("esc", "python3 -c 'b = bytearray(200 << 20)'", 60000);
  EXPECT_EQ(m.result.at("usage").at("oom_killed"), true) << json::serialize(m.result);
  EXPECT_EQ(read_file(workspace_cgroup("esc") / "memory.max"), std::to_string(64 << 20) + "\n");
}

TEST_F(CgroupV2, ATimeoutKillsTheCommandsWholeCgroupAndNotEarlierBackgroundWork) {
  json::object sb = backend_->create("tree", dir_.path());
  ASSERT_FALSE(sb.empty());
  ASSERT_EQ(backend_->sh("tree", "sleep 60 >/dev/null 2>&1 & echo bg").out, "bg\n");
  Outcome t = backend_->sh(
      "tree", "setsid sh -c 'sleep 300' >/dev/null 2>&1 & nohup sleep 301 >/dev/null 2>&1 & sleep 30", 1000);
  EXPECT_EQ(t.result.at("timed_out"), true);
  std::string left = backend_->sh("tree", "sleep 0.5; pgrep -a sleep").out;
  EXPECT_NE(left.find("sleep 60"), std::string::npos) << left;
  if (limited()) {
    EXPECT_EQ(left.find("sleep 30"), std::string::npos)
        << left << " (cgroup.kill takes everything it started)";
  } else {
    EXPECT_NE(left.find("sleep 300"), std::string::npos)
        << left << " (only the process group without a cgroup)";
  }
}

TEST_F(CgroupV2, BusyLoopsAreThrottledToCpuMax) {
  json::object sb = backend_->create("cpu", dir_.path(), {{"cpu_cores", 0.25}});
  ASSERT_FALSE(sb.empty());
  if (setup() == "nocpu" || !limited()) {
    EXPECT_TRUE(listed(sb.at("unenforced_limits"), "cpu_cores")) << json::serialize(sb);
    return;
  }
  Outcome r = backend_->sh("cpu",
                           "python3 -c 'import os, time\n"
                           "pids = [os.fork() for _ in range(2)]\n"
                           "end = time.time() + 2.0\n"
                           "while time.time() < end: pass\n"
                           "if 0 in pids: os._exit(0)\n"
                           "for p in pids: os.waitpid(p, 0)'",
                           60000);
  std::string stat = read_file(workspace_cgroup("cpu") / "cpu.stat");
  int64_t wall = r.result.at("duration_ms").as_int64();
  int64_t used = r.result.at("usage").at("workspace_cpu_ms").as_int64();
  EXPECT_NE(stat.find("nr_throttled "), std::string::npos) << stat;
  EXPECT_EQ(stat.find("nr_throttled 0\n"), std::string::npos) << stat;
  // 0.25 of a core over the command's wall time (plus a period of slack).
  EXPECT_LT(used, wall / 4 + 100) << "used " << used << " ms of CPU in " << wall << " ms; cpu.stat:\n"
                                  << stat;
}

TEST_F(CgroupV2, UsageComesFromTheWorkspaceCgroup) {
  if (!limited()) GTEST_SKIP() << "no cgroup counters in this setup";
  json::object sb = backend_->create("use", dir_.path(), {{"memory_mb", 256}});
  ASSERT_FALSE(sb.empty());
  Outcome r =
      backend_->sh("use", "python3 -c 'b = bytearray(48 << 20); i = 0\nwhile i < 3000000: i += 1'", 60000);
  const json::object& usage = r.result.at("usage").as_object();
  if (setup() != "nocpu") {
    ASSERT_TRUE(usage.contains("workspace_cpu_ms")) << json::serialize(usage);
    EXPECT_GT(usage.at("workspace_cpu_ms").as_int64(), 10) << json::serialize(usage);
  }
  // The workspace's first large command raises its memory.peak: that is this
  // command's own peak even where the kernel cannot reset it (before 6.12).
  ASSERT_TRUE(usage.at("peak_memory_bytes").is_int64()) << json::serialize(usage);
  EXPECT_GT(usage.at("peak_memory_bytes").as_int64(), 48 << 20) << json::serialize(usage);
}

}  // namespace
