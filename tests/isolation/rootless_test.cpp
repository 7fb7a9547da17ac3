// rootless_test: what only a process backend that is not root does. CTest
// runs it as an ordinary user made for the test (as_test_user.sh); started as
// root, it skips. The rootless jail itself, attacked, is in attack_test and
// isolation_process_test (both run as root and as this user); here: where a
// rootless server keeps its instance registry and what reconcile removes
// there, what it refuses (overlay specs, workspaces of another owner), and
// what the probe says where no user namespace can be made.
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include "jail_harness.hpp"

namespace {

using namespace jail_test;

class Rootless : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() == 0)
      GTEST_SKIP() << "runs as an ordinary user: CTest runs it as one (rootless.Rootless.*)";
  }
  void TearDown() override {
    if (had_runtime_) setenv("XDG_RUNTIME_DIR", runtime_.c_str(), 1);
  }
  //! Sets XDG_RUNTIME_DIR for this test (restored after it).
  void set_runtime_dir(const std::string& dir) {
    if (const char* r = getenv("XDG_RUNTIME_DIR")) {
      had_runtime_ = true;
      runtime_ = r;
    }
    setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
  }
  void unset_runtime_dir() {
    if (const char* r = getenv("XDG_RUNTIME_DIR")) {
      had_runtime_ = true;
      runtime_ = r;
    }
    unsetenv("XDG_RUNTIME_DIR");
  }
  bool had_runtime_ = false;
  std::string runtime_;
};

std::string home() {
  const char* h = getenv("HOME");
  return h ? h : "";
}

TEST_F(Rootless, TheInstanceRegistryIsInTheUsersOwnRuntimeDirectory) {
  TempDir runtime;  // mkdtemp: 0700, the user's
  set_runtime_dir(runtime.path().string());
  JailBackend b("{}");
  ASSERT_TRUE(b.ok());
  json::object p = b.probe();
  ASSERT_EQ(p.at("isolation"), "jail") << json::serialize(p);
  fs::path registry = runtime.path() / "intelligent-sandbox/instances";
  EXPECT_EQ(p.at("instance_registry").as_string(), registry.string());
  struct stat st {};
  ASSERT_EQ(stat(registry.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "nobody else's business";
  EXPECT_TRUE(fs::exists(registry / std::string(p.at("instance").as_string()) / "lock"));
}

TEST_F(Rootless, ARuntimeDirectoryOfAnotherUserIsNotUsed) {
  set_runtime_dir("/tmp");  // root's: another user could see or fake this user's instances there
  JailBackend b("{}");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.probe().at("instance_registry").as_string(),
            home() + "/.local/state/intelligent-sandbox/instances");
}

TEST_F(Rootless, ReconcileRemovesDeadInstancesOfThisUserAndNoLiveOne) {
  unset_runtime_dir();
  JailBackend a("{}"), b("{}");
  ASSERT_TRUE(a.ok() && b.ok());
  TempDir wb;
  b.create("w", wb.path());
  const fs::path registry(std::string(a.probe().at("instance_registry").as_string()));
  // A crashed server's directory: its lock is held by nobody.
  const fs::path dead = registry / "1-0badcafe";
  fs::create_directories(dead);
  { std::ofstream(dead / "lock") << ""; }
  auto [s, removed] = a.reconcile("[]");
  ASSERT_EQ(s, ISB_OK) << a.error();
  EXPECT_EQ(removed, json::parse(R"({"removed":[]})")) << "no cgroups rootless";
  EXPECT_FALSE(fs::exists(dead)) << "the dead instance's directory went";
  EXPECT_TRUE(fs::exists(registry / b.instance())) << "the live instance's stays";
  EXPECT_EQ(b.sh("w", "echo alive").out, "alive\n") << "and its sandbox runs";
}

TEST_F(Rootless, OverlayWorkspacesAreLeftToTheCoreAndAnOverlaySpecIsRefused) {
  JailBackend b("{}");
  ASSERT_TRUE(b.ok());
  // An overlay mounted in the jail's mount namespace would be invisible to
  // the server's file tools on the host path: the core copies instead.
  EXPECT_EQ(b.probe().at("mounts_overlay"), false);
  TempDir ws, layers;
  for (const char* d : {"lower", "upper", "work"}) fs::create_directory(layers.path() / d);
  json::object spec{{"workspace_id", "o"},
                    {"workspace_path", ws.path().string()},
                    {"overlay", json::object{{"lower", (layers.path() / "lower").string()},
                                             {"upper", (layers.path() / "upper").string()},
                                             {"work", (layers.path() / "work").string()}}}};
  EXPECT_TRUE(b.create_fails(spec, "mounts overlay workspaces only when the server is root"));
}

TEST_F(Rootless, AWorkspaceOfAnotherOwnerIsRefusedWithTheReason) {
  JailBackend b("{}");
  ASSERT_TRUE(b.ok());
  json::object spec{{"workspace_id", "x"}, {"workspace_path", "/usr/share"}};
  EXPECT_TRUE(b.create_fails(spec, "the workspace /usr/share belongs to uid 0, not to the server's user"));
}

//! Runs argv, returns (exit status, stdout).
std::pair<int, std::string> run(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) line += "'" + a + "' ";
  std::string out;
  FILE* p = popen(line.c_str(), "r");
  if (!p) return {-1, ""};
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Where no user namespace can be made the probe says there is no jail, names
// the setting and gives the fix. Made real without touching the host's
// sysctls: an enclosing user namespace whose own limit is used up, and the
// backend (isb-test-probe) run as uid 1000 in a namespace inside it.
TEST_F(Rootless, WithoutUserNamespacesTheProbeNamesTheLimitAndTheFix) {
  if (run({"unshare", "--user", "--map-user=1000", "--map-group=1000", "true"}).first != 0) {
    GTEST_SKIP() << "util-linux unshare with --map-user is needed to build the used-up namespace";
  }
  auto [status, out] = run({"unshare", "--user", "--map-root-user", "sh", "-c",
                            "echo 1 > /proc/sys/user/max_user_namespaces && exec unshare --user "
                            "--map-user=1000 --map-group=1000 \"$0\" \"$1\"",
                            ISB_TEST_PROBE, ISB_TEST_PLUGIN_DIR});
  ASSERT_EQ(status, 0) << out;
  auto nl = out.find('\n');
  json::object probe = json::parse(out.substr(0, nl)).as_object();
  json::object created = json::parse(out.substr(nl + 1)).as_object();
  EXPECT_EQ(probe.at("isolation"), "none");
  std::string warning(probe.at("warnings").at(0).as_string());
  EXPECT_NE(warning.find("cannot create a user namespace for the jail: user.max_user_namespaces"),
            std::string::npos)
      << warning;
  EXPECT_NE(warning.find("No space left on device"), std::string::npos) << warning;
  std::string fix(probe.at("fix").as_string());
  EXPECT_EQ(fix.rfind("sudo sysctl -w user.max_user_namespaces=15000", 0), 0u) << fix;
  // Every protection of the jail is off, and says how to get it.
  std::set<std::string> off;
  for (const auto& v : probe.at("protections").as_array()) {
    if (v.at("enforced").as_bool()) continue;
    off.insert(std::string(v.at("name").as_string()));
    EXPECT_EQ(v.at("fix").as_string(), fix) << v.at("name");
  }
  for (const char* n : {"user_namespace", "mount_namespace", "pid_namespace", "network_namespace",
                        "filesystem_isolation", "seccomp", "no_new_privs"})
    EXPECT_TRUE(off.count(n)) << n;
  for (const auto& v : created.at("not_enforced").as_array())
    EXPECT_EQ(v.at("fix").as_string(), fix) << v.at("name");
}

}  // namespace
