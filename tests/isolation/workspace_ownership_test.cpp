// workspace_ownership_test: how the sandbox user comes to own its workspace.
// Where idmapped mounts work (probed once), the workspace is mounted idmapped:
// nothing is chowned at create (constant time, and an overlay workspace copies
// nothing up), files of the workspace root's on-disk owner appear as the
// sandbox user, and what the sandbox writes lands with that owner on disk.
// With "disable": ["idmapped_mount"] every file is chowned instead. Needs root.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "jail_harness.hpp"

namespace {

using namespace jail_test;

constexpr uid_t kOwner = 4321;  // on-disk owner of the test workspaces (no account)

class WorkspaceOwnership : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "idmapped mounts and chown need root (rootless ownership: rootless_test.cpp)";
  }
  static std::string config(int uid_base, const char* extra = "") {
    return R"({"kill_grace_ms": 200, "cgroup_parent": "isb-ownership-test", "sandbox_uid_base": )" +
           std::to_string(uid_base) + extra + "}";
  }
};

void write(const fs::path& p, const std::string& text, uid_t owner) {
  std::ofstream(p) << text;
  ASSERT_EQ(::lchown(p.c_str(), owner, owner), 0);
}

uid_t owner_of(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

TEST_F(WorkspaceOwnership, WorkspaceIsMountedIdmappedAndNoFileIsChowned) {
  JailBackend b(config(340000));
  ASSERT_TRUE(b.ok());
  json::object probe = b.probe();
  ASSERT_EQ(probe.at("workspace_ownership").at("method"), "idmapped_mount") << json::serialize(probe);
  TempDir ws;
  ASSERT_EQ(::chown(ws.path().c_str(), kOwner, kOwner), 0);
  fs::create_directory(ws.path() / "sub");
  ASSERT_EQ(::chown((ws.path() / "sub").c_str(), kOwner, kOwner), 0);
  for (int i = 0; i < 100; ++i) write(ws.path() / "sub" / ("f" + std::to_string(i)), "x", kOwner);
  write(ws.path() / "mine", "a\n", kOwner);
  write(ws.path() / "roots", "r\n", 0);
  json::object sb = b.create("w", ws.path());
  EXPECT_EQ(sb.at("workspace_ownership"), "idmapped_mount");
  uid_t user = static_cast<uid_t>(sb.at("host_uid").as_int64());
  Outcome r = b.sh("w",
                   "stat -c '%u %g' . sub sub/f7 mine roots; echo b >> mine && echo appended; "
                   "echo r2 >> roots 2>/dev/null || echo roots read-only; mkdir d && echo n > d/new; "
                   "stat -c %u d/new");
  EXPECT_EQ(r.out,
            "1000 1000\n1000 1000\n1000 1000\n1000 1000\n65534 65534\nappended\nroots read-only\n1000\n")
      << r.err;
  EXPECT_EQ(owner_of(ws.path() / "sub" / "f7"), kOwner) << "nothing was chowned";
  EXPECT_EQ(owner_of(ws.path() / "d" / "new"), kOwner) << "new files land with the workspace's owner";
  EXPECT_EQ(owner_of(ws.path() / "d"), kOwner);
  std::ifstream mine(ws.path() / "mine");
  std::string text((std::istreambuf_iterator<char>(mine)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "a\nb\n");
  for (const auto& e : fs::recursive_directory_iterator(ws.path())) {
    EXPECT_NE(owner_of(e.path()), user) << e.path() << " carries the sandbox's host uid";
  }
}

bool is_mount_root(const fs::path& p) {
  struct statx stx {};
  return ::statx(AT_FDCWD, p.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// Given the layers ("overlay" in the spec), the backend mounts the overlay
// itself, on idmapped clones of them: the sandbox user owns the source's
// files without any of them being chowned, so nothing is copied up until the
// sandbox changes it, and root (the server's file tools) can still create files.
TEST_F(WorkspaceOwnership, OverlayWorkspaceIsMountedOnIdmappedLayersAndNothingIsCopiedUp) {
  JailBackend b(config(343000));
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b.probe().at("mounts_overlay"), true);
  TempDir t;
  for (const char* d : {"lower", "meta", "meta/upper", "meta/work", "merged"}) fs::create_directory(t.path() / d);
  ASSERT_EQ(::chown((t.path() / "lower").c_str(), kOwner, kOwner), 0);
  ASSERT_EQ(::chown((t.path() / "meta/upper").c_str(), kOwner, kOwner), 0);  // as the core gives it
  for (int i = 0; i < 50; ++i) write(t.path() / "lower" / ("f" + std::to_string(i)), "lower\n", kOwner);
  write(t.path() / "lower" / "roots", "r\n", 0);
  const fs::path merged = t.path() / "merged", upper = t.path() / "meta/upper";
  json::object overlay{{"lower", (t.path() / "lower").string()},
                       {"upper", upper.string()},
                       {"work", (t.path() / "meta/work").string()}};
  {
    json::object sb = b.create("w", merged, {}, {{"overlay", overlay}});
    EXPECT_EQ(sb.at("workspace_ownership"), "idmapped_overlay_layers") << json::serialize(sb);
    EXPECT_EQ(sb.at("overlay_mounted"), true);
    EXPECT_TRUE(is_mount_root(merged));
    Outcome r = b.sh("w", "stat -c %u . f5 roots; echo changed > f5; cat f5; echo n > new; stat -c %u new");
    EXPECT_EQ(r.out, "1000\n1000\n65534\nchanged\n1000\n") << r.err;
    std::set<std::string> copied_up;
    for (const auto& e : fs::directory_iterator(upper)) copied_up.insert(e.path().filename().string());
    EXPECT_EQ(copied_up, (std::set<std::string>{"f5", "new"}));
    EXPECT_EQ(owner_of(upper / "f5"), kOwner);
    EXPECT_EQ(owner_of(upper / "new"), kOwner);
    EXPECT_EQ(owner_of(t.path() / "lower" / "f5"), kOwner);
    // Root writing through the overlay: created, not refused for lack of a mapping.
    std::ofstream(merged / "by-root") << "r";
    EXPECT_TRUE(fs::exists(upper / "by-root"));
    EXPECT_EQ(b.destroy("w"), ISB_OK);
  }
  EXPECT_FALSE(is_mount_root(merged)) << "the backend unmounts what it mounted";
  EXPECT_TRUE(fs::exists(upper / "new")) << "changes stay in the upper layer";
}

// A source owned by root (the usual case for a server running as root): after
// a restart the sandbox has another uid, and the same layers must mount
// writable again. What root and overlayfs created (its work dir) keeps an
// on-disk id of root's own, or overlayfs could not reuse the work dir and
// would mount read-only.
TEST_F(WorkspaceOwnership, RootOwnedOverlayMountsWritableAgainForAnotherSandboxUid) {
  TempDir t;
  for (const char* d : {"lower", "meta", "meta/upper", "meta/work", "merged"}) fs::create_directory(t.path() / d);
  write(t.path() / "lower" / "f", "lower\n", 0);
  const fs::path merged = t.path() / "merged";
  json::object overlay{{"lower", (t.path() / "lower").string()},
                       {"upper", (t.path() / "meta/upper").string()},
                       {"work", (t.path() / "meta/work").string()}};
  for (int base : {346000, 347000}) {
    JailBackend b(config(base));
    ASSERT_TRUE(b.ok());
    json::object sb = b.create("w", merged, {}, {{"overlay", overlay}});
    EXPECT_EQ(sb.at("workspace_ownership"), "idmapped_overlay_layers") << json::serialize(sb);
    std::ofstream(merged / ("by-root-" + std::to_string(base))) << "r";
    EXPECT_EQ(b.sh("w", "echo " + std::to_string(base) + " >> f && echo written; stat -c %u f").out,
              "written\n1000\n");
    EXPECT_EQ(b.destroy("w"), ISB_OK);
  }
  std::ifstream f(t.path() / "meta/upper/f");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "lower\n346000\n347000\n");
}

TEST_F(WorkspaceOwnership, OverlaySpecIsRefusedWhenTheWorkspacePathIsAMountAlready) {
  JailBackend b(config(344000));
  ASSERT_TRUE(b.ok());
  TempDir t;
  for (const char* d : {"lower", "upper", "work", "merged"}) fs::create_directory(t.path() / d);
  const fs::path merged = t.path() / "merged";
  ASSERT_EQ(::mount("tmpfs", merged.c_str(), "tmpfs", 0, "size=1m"), 0);
  json::object overlay{{"lower", (t.path() / "lower").string()},
                       {"upper", (t.path() / "upper").string()},
                       {"work", (t.path() / "work").string()}};
  json::object spec{{"workspace_id", "w"}, {"workspace_path", merged.string()}, {"overlay", overlay}};
  EXPECT_TRUE(b.create_fails(spec, "is a mount already; unmount it before passing overlay"));
  ASSERT_EQ(::umount2(merged.c_str(), MNT_DETACH), 0);
}

// overlayfs cannot be idmapped itself (the kernel supports idmapped layers
// under an overlay, not an idmapped overlay), so a workspace that is an
// overlay the caller mounted falls back to chown, and the create result says why.
TEST_F(WorkspaceOwnership, OverlayMountedByTheCallerFallsBackToChownAndSaysWhy) {
  JailBackend b(config(341000));
  ASSERT_TRUE(b.ok());
  TempDir t;
  for (const char* d : {"lower", "upper", "work", "merged"}) fs::create_directory(t.path() / d);
  for (int i = 0; i < 20; ++i) write(t.path() / "lower" / ("f" + std::to_string(i)), "lower\n", 0);
  fs::path merged = t.path() / "merged";
  std::string opts = "lowerdir=" + (t.path() / "lower").string() + ",upperdir=" + (t.path() / "upper").string() +
                     ",workdir=" + (t.path() / "work").string();
  ASSERT_EQ(::mount("overlay", merged.c_str(), "overlay", MS_NOSUID | MS_NODEV, opts.c_str()), 0)
      << strerror(errno);
  {
    json::object sb = b.create("w", merged);
    EXPECT_EQ(sb.at("workspace_ownership"), "chown");
    EXPECT_EQ(std::string(sb.at("workspace_ownership_note").as_string()),
              "idmapped mount: " + merged.string() +
                  " is an overlayfs mount, and overlayfs cannot be idmapped itself (only its layers can, when "
                  "the overlay is mounted on idmapped lower and upper directories); the workspace was chowned "
                  "instead");
    Outcome r = b.sh("w", "cat f5; echo changed > f5; cat f5; stat -c %u f5 f6");
    EXPECT_EQ(r.out, "lower\nchanged\n1000\n1000\n") << r.err;
    EXPECT_EQ(b.destroy("w"), ISB_OK);
  }
  ASSERT_EQ(::umount2(merged.c_str(), MNT_DETACH), 0);
}

TEST_F(WorkspaceOwnership, EveryFileIsChownedWhenIdmappedMountsAreDisabled) {
  JailBackend b(config(342000, R"(, "disable": ["idmapped_mount"])"));
  ASSERT_TRUE(b.ok());
  json::object probe = b.probe();
  EXPECT_EQ(probe.at("workspace_ownership").at("method"), "chown");
  EXPECT_EQ(probe.at("workspace_ownership").at("detail"),
            "every file is lchowned to the sandbox uid at create (O(files)): idmapped mounts disabled by "
            "config");
  TempDir ws;
  write(ws.path() / "f", "x", 0);
  json::object sb = b.create("w", ws.path());
  EXPECT_EQ(sb.at("workspace_ownership"), "chown");
  uid_t user = static_cast<uid_t>(sb.at("host_uid").as_int64());
  EXPECT_EQ(owner_of(ws.path() / "f"), user);
  EXPECT_EQ(b.sh("w", "echo y > g; stat -c %u f g").out, "1000\n1000\n");
  EXPECT_EQ(owner_of(ws.path() / "g"), user);
}

}  // namespace
