// host_instances_test: several process-backend instances on one host (as
// several servers, or parallel test processes, would be) never collide: each
// has its own cgroups and host-wide unique sandbox uids, reconcile never
// touches a live instance's sandboxes, and the leftovers of a dead instance
// (its lock free) are removed by whoever reconciles next. Needs root.
#include <fcntl.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "jail_harness.hpp"

namespace {

using namespace jail_test;

constexpr const char* kInstances = "/run/intelligent-sandbox/instances";

//! Config for one test: its own uid base (the tests of this file may run in
//! parallel processes) and a cgroup parent of its own, removed at the end.
class HostInstances : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP()
          << "host-wide uid claims and cgroups are a root server's (rootless registry: rootless_test.cpp)";
    parent_ = "isb-instances-test-" + std::to_string(getpid());
  }
  void TearDown() override {
    for (const char* c : {"memory", "pids", "cpu", "freezer"}) ::rmdir(cgroup_dir(c, parent_).c_str());
  }
  std::string config(int uid_base) const {
    return R"({"kill_grace_ms": 200, "sandbox_uid_base": )" + std::to_string(uid_base) +
           R"(, "cgroup_parent": ")" + parent_ + R"("})";
  }
  //! The workspace cgroup of sandbox "w" (hex 77) of an instance, per controller.
  fs::path ws_cgroup(const std::string& controller, const std::string& instance) const {
    return cgroup_dir(controller, parent_) / instance / "ws-77";
  }
  std::string parent_;
};

uid_t host_uid(const json::object& created) { return static_cast<uid_t>(created.at("host_uid").as_int64()); }

TEST_F(HostInstances, TwoInstancesRunSandboxesAtTheSameTimeWithDistinctUidsAndCgroups) {
  JailBackend a(config(330000)), b(config(330000));  // same uid base, same cgroup parent
  ASSERT_TRUE(a.ok() && b.ok());
  TempDir wa, wb;
  uid_t ua = host_uid(a.create("w", wa.path())), ub = host_uid(b.create("w", wb.path()));
  std::set<uid_t> all{ua - 1, ua, ub - 1, ub};
  EXPECT_EQ(all.size(), 4u) << "jail root and command uid of both sandboxes are four distinct host uids";
  std::string ai = a.instance(), bi = b.instance();
  EXPECT_NE(ai, bi);
  Outcome ra, rb;
  std::thread ta([&] { ra = a.sh("w", "sleep 30 >/dev/null 2>&1 & sleep 0.3; id -u; pgrep -c sleep"); });
  std::thread tb([&] { rb = b.sh("w", "sleep 30 >/dev/null 2>&1 & sleep 0.3; id -u; pgrep -c sleep"); });
  ta.join();
  tb.join();
  EXPECT_EQ(ra.out, "1000\n1\n") << ra.err;
  EXPECT_EQ(rb.out, "1000\n1\n") << rb.err;
  EXPECT_EQ(processes_of_uid(ua), 2) << "a's supervisor and its background sleep";
  EXPECT_EQ(processes_of_uid(ub), 2) << "b's supervisor and its background sleep";
  for (const char* c : {"memory", "pids", "cpu", "freezer"}) {
    EXPECT_TRUE(fs::is_directory(ws_cgroup(c, ai))) << ws_cgroup(c, ai);
    EXPECT_TRUE(fs::is_directory(ws_cgroup(c, bi))) << ws_cgroup(c, bi);
  }
  EXPECT_EQ(a.destroy("w"), ISB_OK);
  EXPECT_EQ(processes_of_uid(ua), 0);
  EXPECT_EQ(processes_of_uid(ub), 2) << "destroying a's sandbox left b's alone";
  EXPECT_EQ(b.destroy("w"), ISB_OK);
  EXPECT_EQ(processes_of_uid(ub), 0);
}

TEST_F(HostInstances, ReconcileOfOneInstanceLeavesALiveInstancesSandboxRunning) {
  JailBackend a(config(331000)), b(config(331000));
  ASSERT_TRUE(a.ok() && b.ok());
  TempDir wb;
  uid_t ub = host_uid(b.create("w", wb.path()));
  ASSERT_EQ(b.sh("w", "setsid sleep 30 >/dev/null 2>&1 & echo ok").out, "ok\n");
  auto [s, removed] = a.reconcile("[]");  // a knows no sandbox at all
  ASSERT_EQ(s, ISB_OK) << removed;
  EXPECT_EQ(removed, json::parse(R"({"removed":[]})"));
  EXPECT_EQ(processes_of_uid(ub), 2);
  EXPECT_TRUE(fs::is_directory(ws_cgroup("memory", b.instance())));
  EXPECT_EQ(b.sh("w", "pgrep -c sleep").out, "1\n");
}

TEST_F(HostInstances, ReconcileRemovesTheLeftoversOfAnInstanceWhoseLockIsFree) {
  JailBackend a(config(332000)), b(config(332000));
  ASSERT_TRUE(a.ok() && b.ok());
  TempDir wb;
  uid_t ub = host_uid(b.create("w", wb.path()));
  ASSERT_EQ(b.sh("w", "setsid sleep 30 >/dev/null 2>&1 & echo ok").out, "ok\n");
  std::string bi = b.instance();
  fs::path lock = fs::path(kInstances) / bi / "lock";
  // b "dies": its lock is released, as the kernel does when a server crashes.
  // The fd number is pointed at /dev/null rather than closed, so that b's own
  // close later cannot hit an fd reused by someone else.
  int released = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(e.path(), ec) != lock) continue;
    int fd = std::stoi(e.path().filename().string());
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_EQ(::dup2(null, fd), fd);
    ::close(null);
    ++released;
  }
  ASSERT_EQ(released, 1) << "b holds its lock through exactly one fd";
  auto [s, removed] = a.reconcile("[]");
  ASSERT_EQ(s, ISB_OK) << removed;
  EXPECT_EQ(removed, json::parse(R"({"removed":["w"]})"));
  EXPECT_EQ(settle(ub, 0), 0) << "b's supervisor and its setsid sleep were killed";
  EXPECT_EQ(settle(ub - 1, 0), 0);
  for (const char* c : {"memory", "pids", "cpu", "freezer"}) {
    EXPECT_FALSE(fs::exists(cgroup_dir(c, parent_) / bi)) << c;
  }
  EXPECT_FALSE(fs::exists(fs::path(kInstances) / bi)) << "b's instance directory (and staging bind) went";
  EXPECT_EQ(b.destroy("w"), ISB_OK) << b.error();
}

TEST_F(HostInstances, UidSlotsAreExclusiveAcrossInstancesWithOverlappingUidRanges) {
  JailBackend a(config(333000)), b(config(333001));
  ASSERT_TRUE(a.ok() && b.ok());
  TempDir wa, wb;
  EXPECT_EQ(host_uid(a.create("w", wa.path())), 333001u) << "a: slot 0 = uids 333000 and 333001";
  // b's slot 0 would be 333001-333002, overlapping a's: it takes slot 1.
  EXPECT_EQ(host_uid(b.create("w", wb.path())), 333004u) << "b: slot 1 = uids 333003 and 333004";
}

}  // namespace
