// user_namespaces_test: the process backend's diagnosis of hosts that forbid
// unprivileged user namespaces (plugins/isolation-process/src/user_namespaces.cpp,
// compiled into this test), on fake /proc/sys trees: each setting is named
// with its value and a fix an operator can paste. The probe's use of it on a
// host where user namespaces really are used up is in rootless_test.cpp.
#include "user_namespaces.hpp"

#include <errno.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;
using isb::process::explain_userns_errno;
using isb::process::find_userns_blocker;

//! A fake /proc/sys with the given files ("kernel/x" -> "value").
class FakeProcSys {
 public:
  explicit FakeProcSys(std::initializer_list<std::pair<const char*, const char*>> files) {
    char tmpl[] = "/tmp/isb-procsys-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    for (const auto& [rel, value] : files) {
      fs::create_directories((root_ / rel).parent_path());
      std::ofstream(root_ / rel) << value << "\n";
    }
  }
  ~FakeProcSys() { fs::remove_all(root_); }
  std::string path() const { return root_.string(); }

 private:
  fs::path root_;
};

TEST(UserNamespaceBlockers, NoneOnAHostThatAllowsThem) {
  FakeProcSys sys({{"kernel/unprivileged_userns_clone", "1"},
                   {"user/max_user_namespaces", "63000"},
                   {"kernel/apparmor_restrict_unprivileged_userns", "0"}});
  EXPECT_FALSE(find_userns_blocker(sys.path(), "/usr/bin/intelligent-sandbox"));
  FakeProcSys none({});
  EXPECT_FALSE(find_userns_blocker(none.path(), ""))
      << "a kernel without these sysctls forbids nothing by them";
}

TEST(UserNamespaceBlockers, DebianSwitchIsNamedWithItsFix) {
  FakeProcSys sys({{"kernel/unprivileged_userns_clone", "0"}, {"user/max_user_namespaces", "63000"}});
  auto b = find_userns_blocker(sys.path(), "");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->certain);
  EXPECT_EQ(b->setting, "kernel.unprivileged_userns_clone = 0");
  EXPECT_EQ(
      b->fix,
      "sudo sysctl -w kernel.unprivileged_userns_clone=1 && echo 'kernel.unprivileged_userns_clone = 1' | "
      "sudo tee /etc/sysctl.d/60-intelligent-sandbox-userns.conf");
}

TEST(UserNamespaceBlockers, ZeroUserNamespacesIsNamedWithItsFix) {
  FakeProcSys sys({{"user/max_user_namespaces", "0"}});
  auto b = find_userns_blocker(sys.path(), "");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->certain);
  EXPECT_EQ(b->setting, "user.max_user_namespaces = 0");
  EXPECT_NE(b->fix.find("sudo sysctl -w user.max_user_namespaces=15000"), std::string::npos) << b->fix;
}

TEST(UserNamespaceBlockers, UbuntuAppArmorRestrictionGetsAProfileForTheServerAsItsFix) {
  FakeProcSys sys(
      {{"kernel/unprivileged_userns_clone", "1"}, {"kernel/apparmor_restrict_unprivileged_userns", "1"}});
  auto b = find_userns_blocker(sys.path(), "/opt/isb/bin/intelligent-sandbox");
  ASSERT_TRUE(b);
  // A profile may allow them: named only when building the jail fails.
  EXPECT_FALSE(b->certain);
  EXPECT_EQ(b->setting, "kernel.apparmor_restrict_unprivileged_userns = 1");
  EXPECT_NE(b->fix.find("profile intelligent-sandbox /opt/isb/bin/intelligent-sandbox flags=(unconfined)"),
            std::string::npos)
      << b->fix;
  EXPECT_NE(b->fix.find("userns,"), std::string::npos) << b->fix;
  EXPECT_NE(b->fix.find("sudo apparmor_parser -r /etc/apparmor.d/intelligent-sandbox"), std::string::npos)
      << b->fix;
  EXPECT_NE(b->fix.find("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"), std::string::npos)
      << b->fix;
}

TEST(UserNamespaceBlockers, FailedCloneIsExplainedByItsErrno) {
  FakeProcSys sys({{"user/max_user_namespaces", "10"}});
  auto used_up = explain_userns_errno(ENOSPC, sys.path());
  EXPECT_EQ(used_up.setting, "user.max_user_namespaces");
  EXPECT_NE(used_up.detail.find("No space left on device"), std::string::npos) << used_up.detail;
  EXPECT_NE(used_up.detail.find("allowed here, 10,"), std::string::npos) << used_up.detail;
  auto refused = explain_userns_errno(EPERM, sys.path());
  EXPECT_NE(refused.detail.find("no sysctl forbids it"), std::string::npos) << refused.detail;
  EXPECT_NE(refused.fix.find("seccomp=unconfined"), std::string::npos) << refused.fix;
  auto missing = explain_userns_errno(EINVAL, sys.path());
  EXPECT_NE(missing.fix.find("CONFIG_USER_NS=y"), std::string::npos) << missing.fix;
}

}  // namespace
