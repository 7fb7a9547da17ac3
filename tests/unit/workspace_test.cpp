// workspace_test.cpp: workspace ids, the source path policy, the credential-free
// tree copy, and WorkspaceService end to end on the real process isolation
// plugin loaded through PluginHost.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isb/core/plugin_host.hpp>
#include <isb/core/store.hpp>
#include <isb/core/file_tools.hpp>
#include <isb/core/workspace_service.hpp>

#include <boost/json/object.hpp>
#include <archive.h>
#include <archive_entry.h>
#include <boost/json/serialize.hpp>

#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace isb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// A temp directory (canonical path) removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isb-workspace-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? fs::canonical(p).string() : "";
    // mkdtemp makes it 0700; the process backend's jail runs as another uid
    // and must be able to reach the workspace below it.
    if (p) ::chmod(p, 0755);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Entries of a directory tree, relative, never following symlinks.
std::vector<std::string> tree(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    out.push_back(it->path().lexically_relative(root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ------------------------------------------------------------- workspace ids

TEST(WorkspaceIdTest, AcceptsValidIds) {
  for (const std::string& id : std::vector<std::string>{"a", "Z", "0", "ws-1", "my_project.v2", "A-b_c.d", std::string(64, 'x')}) {
    EXPECT_TRUE(validate_workspace_id(id).ok()) << id;
  }
}

TEST(WorkspaceIdTest, RejectsWorkspaceIdWithPathSeparators) {
  for (const std::string& id : std::vector<std::string>{"a/b", "/abs", "a\\b", "a/"}) {
    auto st = validate_workspace_id(id);
    ASSERT_FALSE(st.ok()) << id;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(st.error().message, HasSubstr("invalid workspace_id '" + id + "'"));
  }
}

TEST(WorkspaceIdTest, RejectsDotDot) {
  for (const std::string& id : std::vector<std::string>{"../x", "..", "a..b", "x/.."}) {
    auto st = validate_workspace_id(id);
    ASSERT_FALSE(st.ok()) << id;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(st.error().message, HasSubstr("'..'"));
  }
}

TEST(WorkspaceIdTest, RejectsEmptyAndTooLong) {
  EXPECT_FALSE(validate_workspace_id("").ok());
  auto st = validate_workspace_id(std::string(65, 'a'));
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("1-64 characters"));
}

TEST(WorkspaceIdTest, RejectsLeadingDashOrDot) {
  for (const std::string& id : std::vector<std::string>{"-rf", ".hidden", ".", "_x", " a", "a b", "ä"}) {
    EXPECT_FALSE(validate_workspace_id(id).ok()) << id;
  }
}

// ------------------------------------------------------------- source policy

class SourcePathPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp / "allowed/project/src");
    fs::create_directories(tmp / "outside/project");
    fs::create_directories(tmp / "allowed/state/db");
  }
  SourcePathPolicy policy() const { return SourcePathPolicy({tmp / "allowed"}, {tmp / "allowed/state"}); }
  TempDir tmp;
};

TEST_F(SourcePathPolicyTest, RefusesRoot) {
  auto r = SourcePathPolicy({"/"}, {}).check("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(r.error().message, HasSubstr("source_path '/' is refused"));
  // "/" as an allowed root is dropped, never honoured.
  EXPECT_TRUE(SourcePathPolicy({"/"}, {}).allowed_roots().empty());
  EXPECT_FALSE(SourcePathPolicy({"/"}, {}).check(tmp / "allowed/project").ok());
}

TEST_F(SourcePathPolicyTest, RefusesEtcProcSysDevBoot) {
  // Even when configured as allowed roots, system directories stay refused.
  SourcePathPolicy p({"/etc", "/proc", "/sys", "/dev", "/boot", tmp.path()}, {});
  for (const std::string& dir : std::vector<std::string>{"/etc", "/proc", "/proc/self", "/sys", "/dev", "/boot"}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    auto r = p.check(dir);
    ASSERT_FALSE(r.ok()) << dir;
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << dir;
    EXPECT_THAT(r.error().message, HasSubstr("which is never allowed as a source")) << dir;
  }
  auto r = p.check("/etc/../etc/");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("is inside /etc"));
}

TEST_F(SourcePathPolicyTest, RefusesStateDirOverlap) {
  // Inside the state dir, and a parent that contains it.
  for (const std::string& path : std::vector<std::string>{tmp / "allowed/state", tmp / "allowed/state/db", tmp / "allowed"}) {
    auto r = policy().check(path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
    EXPECT_THAT(r.error().message, HasSubstr("overlaps the server's own state or workspaces (" +
                                             (tmp / "allowed/state") + ")"));
  }
}

TEST_F(SourcePathPolicyTest, RefusesOutsideAllowedRoots) {
  auto r = policy().check(tmp / "outside/project");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(r.error().message, HasSubstr("is outside the allowed roots (" + (tmp / "allowed") + ")"));
  EXPECT_THAT(r.error().message, HasSubstr("sandbox.allowed_source_roots"));
  // A sibling whose name merely starts with the root's name is outside too.
  fs::create_directories(tmp / "allowed-not");
  EXPECT_FALSE(policy().check(tmp / "allowed-not").ok());
}

TEST_F(SourcePathPolicyTest, RefusesMissingPath) {
  auto r = policy().check(tmp / "allowed/missing");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message, HasSubstr("source_path '" + (tmp / "allowed/missing") + "' does not exist"));
  auto empty = policy().check("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SourcePathPolicyTest, RefusesFileNotDirectory) {
  write_file(tmp / "allowed/project/README", "hi");
  auto r = policy().check(tmp / "allowed/project/README");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("is not a directory"));
}

TEST_F(SourcePathPolicyTest, AcceptsPathUnderAllowedRoot) {
  auto r = policy().check(tmp / "allowed/project");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, tmp / "allowed/project");
  // The canonical path is returned.
  auto r2 = policy().check(tmp / "allowed/project/src/../src/./");
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(*r2, tmp / "allowed/project/src");
  EXPECT_EQ(policy().allowed_roots(), std::vector<std::string>{tmp / "allowed"});
}

TEST_F(SourcePathPolicyTest, SymlinkToOutsideIsResolvedAndRefused) {
  fs::create_directory_symlink(tmp / "outside/project", tmp / "allowed/link");
  auto r = policy().check(tmp / "allowed/link");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(r.error().message, HasSubstr("(" + (tmp / "outside/project") + ") is outside the allowed roots"));
  // And a symlink pointing inside is accepted as its target.
  fs::create_directory_symlink(tmp / "allowed/project", tmp / "allowed/inner-link");
  auto ok = policy().check(tmp / "allowed/inner-link");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, tmp / "allowed/project");
}

// ------------------------------------------------------------- client roots
// The roots an MCP client offers narrow the session's sources: to the
// client's directories when nothing is configured, else to where those and
// sandbox.allowed_source_roots overlap.
TEST_F(SourcePathPolicyTest, ClientRootsReplaceTheDefaultRoots) {
  SourcePathPolicy defaults({}, {tmp / "allowed/state"});
  auto session = defaults.restricted_to({.directories = {tmp / "allowed/project"}});
  EXPECT_EQ(session.allowed_roots(), std::vector<std::string>{tmp / "allowed/project"});
  ASSERT_TRUE(session.check(tmp / "allowed/project/src").ok());
  // Under a default root (the temp dir) but not under what the client offered.
  auto r = session.check(tmp / "outside/project");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(r.error().message, HasSubstr("outside the roots the MCP client offered for this session (" +
                                           (tmp / "allowed/project") + ")"));
  EXPECT_THAT(r.error().message, HasSubstr("open the project's folder in the client"));
}

TEST_F(SourcePathPolicyTest, ClientRootsAreCutToTheConfiguredRoots) {
  fs::create_directories(tmp / "outside/other");
  // A client root inside the configured one stays; one around it shrinks to
  // it; one beside it is dropped.
  auto session = policy().restricted_to({.directories = {tmp / "allowed/project/src", tmp.path(), tmp / "outside"}});
  EXPECT_THAT(session.allowed_roots(), UnorderedElementsAre(tmp / "allowed/project/src", tmp / "allowed"));
  EXPECT_TRUE(session.check(tmp / "allowed/project/src").ok());
  auto out = session.check(tmp / "outside/other");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.error().message, HasSubstr("within sandbox.allowed_source_roots"));
  // Nothing overlaps: the refusal names both lists.
  auto none = policy().restricted_to({.directories = {tmp / "outside"}});
  EXPECT_TRUE(none.allowed_roots().empty());
  auto r = none.check(tmp / "allowed/project");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("none of the roots the MCP client offered (" + (tmp / "outside") +
                                           ") lies under sandbox.allowed_source_roots (" + (tmp / "allowed") + ")"));
}

TEST_F(SourcePathPolicyTest, ClientRootsKeepStateAndSystemDirectoriesRefused) {
  auto session = policy().restricted_to({.directories = {tmp / "allowed", "/", "/etc"}});
  // "/" is never a root; /etc is offered but stays a system directory.
  EXPECT_THAT(session.allowed_roots(), UnorderedElementsAre(tmp / "allowed"));
  auto state = session.check(tmp / "allowed/state/db");
  ASSERT_FALSE(state.ok());
  EXPECT_THAT(state.error().message, HasSubstr("overlaps the server's own state"));
  auto etc = SourcePathPolicy({}, {}).restricted_to({.directories = {"/etc"}}).check("/etc");
  ASSERT_FALSE(etc.ok());
  EXPECT_THAT(etc.error().message, HasSubstr("never allowed as a source"));
}

TEST_F(SourcePathPolicyTest, ClientThatOfferedNoRootsOrAnUnknownListAllowsNothing) {
  auto empty = policy().restricted_to({});
  auto r = empty.check(tmp / "allowed/project");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("the MCP client offered no roots for this session"));
  auto unknown = policy().restricted_to({.directories = {}, .error = "the client did not answer roots/list within 10 s"});
  auto u = unknown.check(tmp / "allowed/project");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(u.error().message, HasSubstr("but they are not known (the client did not answer roots/list within 10 s)"));
}

TEST(ClientRootsDocumentTest, ReadsRootsAndFailsClosedOnAnythingElse) {
  auto ok = parse_client_roots(R"({"roots":["/home/ann/proj","/srv/x"]})");
  EXPECT_EQ(ok.directories, (std::vector<std::string>{"/home/ann/proj", "/srv/x"}));
  EXPECT_TRUE(ok.error.empty());
  auto failed = parse_client_roots(R"({"roots":["/ignored"],"error":"the client answered roots/list with error -32601"})");
  EXPECT_TRUE(failed.directories.empty());
  EXPECT_THAT(failed.error, HasSubstr("-32601"));
  for (const char* bad : {"not json", "[]", R"({"roots":"/x"})", R"({"roots":["relative/path"]})", R"({"roots":[1]})"}) {
    auto r = parse_client_roots(bad);
    EXPECT_TRUE(r.directories.empty()) << bad;
    EXPECT_THAT(r.error, HasSubstr("this is a bug in the transport plugin")) << bad;
  }
}

// ------------------------------------------------------------- copy_tree

TEST(CopyTreeTest, PreservesModesTimestampsAndSymlinksAsLinks) {
  TempDir tmp;
  const std::string src = tmp / "src", dst = tmp / "dst";
  write_file(src + "/run.sh", "#!/bin/sh\necho hi\n");
  write_file(src + "/sub/data.txt", "12345");
  fs::permissions(src + "/run.sh", fs::perms(0750));
  fs::permissions(src + "/sub/data.txt", fs::perms(0604));
  fs::permissions(src + "/sub", fs::perms(0710));
  fs::create_symlink("run.sh", src + "/link-rel");
  fs::create_symlink("/nonexistent/target", src + "/link-dangling");
  const auto t1 = fs::file_time_type::clock::now() - std::chrono::hours(24 * 30);
  const auto t2 = fs::file_time_type::clock::now() - std::chrono::hours(24 * 60);
  fs::last_write_time(src + "/run.sh", t1);
  fs::last_write_time(src + "/sub/data.txt", t2);
  fs::last_write_time(src + "/sub", t1);

  auto r = copy_tree(src, dst);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->files, 2);
  EXPECT_EQ(r->directories, 1);
  EXPECT_EQ(r->symlinks, 2);
  EXPECT_EQ(r->bytes, 18 + 5);
  EXPECT_TRUE(r->skipped_credentials.empty());

  EXPECT_EQ(read_file(dst + "/sub/data.txt"), "12345");
  EXPECT_EQ(fs::status(dst + "/run.sh").permissions(), fs::perms(0750));
  EXPECT_EQ(fs::status(dst + "/sub/data.txt").permissions(), fs::perms(0604));
  EXPECT_EQ(fs::status(dst + "/sub").permissions(), fs::perms(0710));
  EXPECT_EQ(fs::last_write_time(dst + "/run.sh"), t1);
  EXPECT_EQ(fs::last_write_time(dst + "/sub/data.txt"), t2);
  EXPECT_EQ(fs::last_write_time(dst + "/sub"), t1);
  ASSERT_TRUE(fs::is_symlink(dst + "/link-rel"));
  EXPECT_EQ(fs::read_symlink(dst + "/link-rel"), "run.sh");
  ASSERT_TRUE(fs::is_symlink(fs::symlink_status(dst + "/link-dangling")));
  EXPECT_EQ(fs::read_symlink(dst + "/link-dangling"), "/nonexistent/target");

  // The target must not exist yet.
  auto again = copy_tree(src, dst);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST(CopyTreeTest, NeverCopiesCredentials) {
  TempDir tmp;
  const std::string src = tmp / "src", dst = tmp / "dst";
  for (const std::string& base : std::vector<std::string>{src, src + "/sub"}) {
    write_file(base + "/.ssh/id_ed25519", "PRIVATE KEY");
    write_file(base + "/.gnupg/secring.gpg", "KEY");
    write_file(base + "/.aws/credentials", "[default]");
    write_file(base + "/.netrc", "machine x password y");
    write_file(base + "/.docker/config.json", "{\"auths\":{}}");
    write_file(base + "/.docker/daemon.json", "{}");
    write_file(base + "/main.c", "int main(){}");
  }
  auto r = copy_tree(src, dst);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(r->skipped_credentials,
              UnorderedElementsAre(".ssh", ".gnupg", ".aws", ".netrc", ".docker/config.json", "sub/.ssh",
                                   "sub/.gnupg", "sub/.aws", "sub/.netrc", "sub/.docker/config.json"));
  EXPECT_THAT(tree(dst), UnorderedElementsAre(".docker", ".docker/daemon.json", "main.c", "sub", "sub/.docker",
                                              "sub/.docker/daemon.json", "sub/main.c"));
  EXPECT_EQ(r->files, 4);
}

TEST(CopyTreeTest, HonoursSandboxIgnore) {
  TempDir tmp;
  const std::string src = tmp / "src", dst = tmp / "dst";
  write_file(src + "/.sandboxignore", "# build output\nbuild/\n*.log\n/top.txt\n");
  for (const char* f : {"build/a.o", "sub/build/b.o", "x.log", "sub/y.log", "top.txt", "sub/top.txt", "keep.c"}) {
    write_file(src + "/" + f, "x");
  }
  auto r = copy_tree(src, dst);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(r->skipped_ignored, UnorderedElementsAre("build", "sub/build", "x.log", "sub/y.log", "top.txt"));
  EXPECT_THAT(tree(dst), UnorderedElementsAre(".sandboxignore", "keep.c", "sub", "sub/top.txt"));
}

TEST(CopyTreeTest, CopiesManyFilesInParallelWithContents) {
  TempDir tmp;
  const std::string src = tmp / "src", dst = tmp / "dst";
  for (int i = 0; i < 300; ++i) write_file(src + "/d" + std::to_string(i % 7) + "/f" + std::to_string(i), std::to_string(i));
  auto r = copy_tree(src, dst);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->files, 300);
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(read_file(dst + "/d" + std::to_string(i % 7) + "/f" + std::to_string(i)), std::to_string(i));
  }
}

TEST(CopyTreeTest, DoesNotFollowSymlinkedDirectoryOutOfSource) {
  TempDir tmp;
  const std::string src = tmp / "src", dst = tmp / "dst";
  write_file(tmp / "outside/secret.txt", "secret");
  write_file(src + "/a.txt", "a");
  fs::create_directory_symlink(tmp / "outside", src + "/escape");
  auto r = copy_tree(src, dst);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->files, 1);
  EXPECT_EQ(r->symlinks, 1);
  EXPECT_EQ(r->directories, 0);
  EXPECT_THAT(tree(dst), UnorderedElementsAre("a.txt", "escape"));
  ASSERT_TRUE(fs::is_symlink(dst + "/escape"));
  EXPECT_EQ(fs::read_symlink(dst + "/escape"), tmp / "outside");
}

// ------------------------------------------------------------- WorkspaceService
TEST(CopyTreeTest, ConfiguredExcludesMergeWithSandboxIgnore) {
  TempDir tmp;
  const std::string src = tmp / "src", dst = tmp / "dst";
  write_file(src + "/.sandboxignore", "*.log\n");
  for (const char* f : {"node_modules/a/index.js", "web/node_modules/b.js", "x.log", "dist/app.js",
                               "web/dist/keep.js", "keep.c"}) {
    write_file(src + "/" + f, "x");
  }
  // sandbox.copy_excludes: a directory at any depth and an anchored path.
  auto r = copy_tree(src, dst, {"node_modules/", "/dist", "# a comment", ""});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(r->skipped_ignored, UnorderedElementsAre("node_modules", "web/node_modules", "x.log", "dist"));
  EXPECT_THAT(tree(dst), UnorderedElementsAre(".sandboxignore", "keep.c", "web", "web/dist", "web/dist/keep.js"));
}


class WorkspaceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.sandbox.base_dir = tmp / "base";
    config_.sandbox.allowed_source_roots = {tmp / "projects"};
    config_.sandbox.max_workspaces = 5;
    write_file(tmp / "projects/app/main.py", "print('hi')\n");
    write_file(tmp / "projects/app/.ssh/id_rsa", "KEY");
    auto store = Store::open(config_.state_dir() + "/sandbox.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    auto report = host_.load_directories({ISB_TEST_PLUGIN_DIR});
    ASSERT_NE(host_.find("process"), nullptr) << "process plugin not built in " ISB_TEST_PLUGIN_DIR;
    auto inst = host_.create("process", ISB_KIND_ISOLATION, boost::json::object{});
    ASSERT_TRUE(inst.ok()) << inst.error().message;
    // The process backend's protections vary by host; these tests are about
    // workspaces, not the security-level policy (server_test covers that).
    config_.security.level = SecurityLevel::kLow;
    config_.security.allow_degraded = true;
    backends_.add(IsolationPlugin(*inst));
    backends_.set_default("process", "");
    service_ = std::make_unique<WorkspaceService>(config_, *store_, backends_);
  }
  void TearDown() override {
    // As the server does on shutdown: sandboxes stop, mounts (overlays,
    // disk images) go, so the temporary tree can be removed.
    if (service_) service_->release_sandboxes();
    service_.reset();
    store_.reset();
  }
  std::string workspaces_dir() const { return config_.workspaces_dir(); }
  Result<boost::json::object> create(const std::string& id) {
    return service_->create({.source_path = tmp / "projects/app", .workspace_id = id});
  }

  TempDir tmp;
  Config config_;
  std::unique_ptr<Store> store_;
  PluginHost host_;
  IsolationBackends backends_;
  std::unique_ptr<WorkspaceService> service_;
};

TEST_F(WorkspaceServiceTest, CreateAndDestroyRemovesDirectory) {
  auto r = create("ws1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string path = workspaces_dir() + "/ws1";
  EXPECT_EQ(r->at("workspace_id").as_string(), "ws1");
  EXPECT_EQ(r->at("path").as_string(), path);
  EXPECT_EQ(r->at("source_path").as_string(), tmp / "projects/app");
  EXPECT_EQ(r->at("backend").as_string(), "process");
  EXPECT_EQ(r->at("status").as_string(), "active");
  EXPECT_EQ(r->at("copy").at("files").as_int64(), 1);
  ASSERT_EQ(r->at("copy").at("skipped_credentials").as_array().size(), 1u);
  EXPECT_EQ(r->at("copy").at("skipped_credentials").as_array()[0].as_string(), ".ssh");
  EXPECT_EQ(read_file(path + "/main.py"), "print('hi')\n");
  EXPECT_FALSE(fs::exists(path + "/.ssh"));
  EXPECT_THAT(tree(workspaces_dir()), UnorderedElementsAre("ws1", "ws1/main.py"));  // no staging leftovers

  auto row = store_->get_workspace("ws1");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->status, "active");
  EXPECT_EQ((*row)->path, path);
  ASSERT_TRUE(service_->get_active("ws1").ok());

  auto d = service_->destroy("ws1");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->at("destroyed").as_bool());
  EXPECT_TRUE(d->at("path_removed").as_bool());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ((*store_->get_workspace("ws1"))->status, "destroyed");
  auto gone = service_->get_active("ws1");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(gone.error().message, HasSubstr("workspace 'ws1' was destroyed"));
  EXPECT_TRUE(service_->get_any("ws1").ok());  // history stays
}

TEST_F(WorkspaceServiceTest, CreateFollowsTheClientsRootsAndCreatesNothingOutside) {
  write_file(tmp / "projects/other/a.txt", "a");
  auto refused = service_->create({.source_path = tmp / "projects/other",
                                   .workspace_id = "ws-outside",
                                   .client_roots = ClientRoots{{tmp / "projects/app"}, ""}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(refused.error().message, HasSubstr("roots the MCP client offered"));
  EXPECT_FALSE(fs::exists(workspaces_dir() + "/ws-outside"));
  auto created = service_->create({.source_path = tmp / "projects/app",
                                   .workspace_id = "ws-inside",
                                   .client_roots = ClientRoots{{tmp / "projects/app"}, ""}});
  ASSERT_TRUE(created.ok()) << created.error().message;
}

TEST_F(WorkspaceServiceTest, InvalidIdCreatesNothing) {
  for (const std::string& id : std::vector<std::string>{"../evil", "a/b", ".."}) {
    auto r = create(id);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message, HasSubstr("invalid workspace_id"));
  }
  EXPECT_TRUE(tree(workspaces_dir()).empty());
  for (const auto& entry : tree(config_.sandbox.base_dir)) {
    EXPECT_EQ(entry.rfind("state", 0), 0u) << "unexpected " << entry;  // only state/ and the database
  }
  EXPECT_FALSE(fs::exists(tmp / "evil"));
  EXPECT_FALSE(fs::exists(tmp / "base/evil"));
  auto rows = store_->list_workspaces(true);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST_F(WorkspaceServiceTest, MaxWorkspacesReachedIsClearAndCreatesNothing) {
  config_.sandbox.max_workspaces = 1;
  ASSERT_TRUE(create("first").ok());
  auto r = create("second");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_THAT(r.error().message, HasSubstr("max_workspaces reached (1 of 1 active)"));
  EXPECT_THAT(r.error().message, HasSubstr("sandbox.max_workspaces"));
  EXPECT_THAT(tree(workspaces_dir()), UnorderedElementsAre("first", "first/main.py"));
  EXPECT_FALSE(store_->get_workspace("second")->has_value());
  // Destroying the first frees the slot.
  ASSERT_TRUE(service_->destroy("first").ok());
  EXPECT_TRUE(create("second").ok());
}

TEST_F(WorkspaceServiceTest, DuplicateIdRefused) {
  ASSERT_TRUE(create("dup").ok());
  auto r = create("dup");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(r.error().message, HasSubstr("workspace 'dup' already exists"));
  EXPECT_THAT(tree(workspaces_dir()), UnorderedElementsAre("dup", "dup/main.py"));

  ASSERT_TRUE(service_->destroy("dup").ok());
  auto after = create("dup");
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(after.error().message, HasSubstr("destroyed; its history is kept under this id"));
}

TEST_F(WorkspaceServiceTest, UnknownWorkspaceErrorNamesId) {
  auto d = service_->destroy("ghost");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(d.error().message, HasSubstr("workspace 'ghost' not found"));
  auto g = service_->get_active("ghost-2");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(g.error().message, HasSubstr("'ghost-2'"));
}

// ------------------------------------------------- modes, lifecycle, recovery

bool mounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  // Field 5 is the mount point; field 4 (the root of a bind mount) may name
  // the same path when a backend binds the workspace elsewhere.
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point == path) return true;
  }
  return false;
}

TEST_F(WorkspaceServiceTest, OverlayModeIsCopyOnWriteOverTheSource) {
  auto r = service_->create({.source_path = tmp / "projects/app", .workspace_id = "ov", .mode = "overlay"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->at("mode").as_string(), "overlay") << boost::json::serialize(*r);
  const std::string path = workspaces_dir() + "/ov";
  EXPECT_TRUE(mounted(path));
  EXPECT_EQ(read_file(path + "/main.py"), "print('hi')\n");
  EXPECT_FALSE(fs::exists(path + "/.ssh")) << "credentials visible through the overlay";
  ASSERT_EQ(r->at("overlay").at("hidden").as_array().size(), 1u);

  write_file(path + "/main.py", "print('changed')\n");
  write_file(path + "/added.txt", "new\n");
  EXPECT_EQ(read_file(tmp / "projects/app/main.py"), "print('hi')\n");  // the source is never written
  EXPECT_FALSE(fs::exists(tmp / "projects/app/added.txt"));

  auto w = service_->get_active("ov");
  ASSERT_TRUE(w.ok());
  auto src = service_->change_sources(*w);
  ASSERT_TRUE(src.ok()) << src.error().message;
  auto d = workspace_diff(*src, {});
  ASSERT_TRUE(d.ok()) << d.error().message;
  const auto& files = d->at("files").as_array();
  ASSERT_EQ(files.size(), 2u) << boost::json::serialize(*d);
  EXPECT_EQ(files[0].at("path").as_string(), "added.txt");
  EXPECT_EQ(files[0].at("status").as_string(), "added");
  EXPECT_EQ(files[1].at("path").as_string(), "main.py");
  EXPECT_EQ(files[1].at("diff").as_string(),
            "--- a/main.py\n+++ b/main.py\n@@ -1,1 +1,1 @@\n-print('hi')\n+print('changed')\n");

  fs::remove(path + "/main.py");
  auto d2 = workspace_diff(*src, {});
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2->at("files").as_array()[1].at("status").as_string(), "deleted");
  EXPECT_EQ(read_file(tmp / "projects/app/main.py"), "print('hi')\n");

  ASSERT_TRUE(service_->destroy("ov").ok());
  EXPECT_FALSE(mounted(path));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(read_file(tmp / "projects/app/main.py"), "print('hi')\n");
  EXPECT_TRUE(fs::exists(tmp / "projects/app/.ssh/id_rsa"));
}

TEST_F(WorkspaceServiceTest, ConfiguredCopyExcludesKeepEntriesOutOfCopyAndOverlayWorkspaces) {
  config_.sandbox.copy_excludes = {"cache/", "*.tmp"};
  write_file(tmp / "projects/app/cache/big.bin", "x");
  write_file(tmp / "projects/app/notes.tmp", "x");
  auto c = service_->create({.source_path = tmp / "projects/app", .workspace_id = "cx", .isolation = {}, .mode = "copy", .snapshot = false});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->at("copy").at("skipped_ignored").as_int64(), 2);
  EXPECT_FALSE(fs::exists(workspaces_dir() + "/cx/cache"));
  EXPECT_FALSE(fs::exists(workspaces_dir() + "/cx/notes.tmp"));
  EXPECT_TRUE(fs::exists(workspaces_dir() + "/cx/main.py"));
  auto o = service_->create(
      {.source_path = tmp / "projects/app", .workspace_id = "ox", .isolation = {}, .mode = "overlay", .snapshot = false});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->at("mode").as_string(), "overlay");
  EXPECT_FALSE(fs::exists(workspaces_dir() + "/ox/cache")) << "hidden by a whiteout";
  EXPECT_FALSE(fs::exists(workspaces_dir() + "/ox/notes.tmp"));
  EXPECT_TRUE(fs::exists(workspaces_dir() + "/ox/main.py"));
  EXPECT_TRUE(fs::exists(tmp / "projects/app/cache/big.bin")) << "the source keeps them";
  ASSERT_TRUE(service_->destroy("ox").ok());
}

TEST_F(WorkspaceServiceTest, OverlaySnapshotKeepsLaterSourceChangesOut) {
  auto r = service_->create(
      {.source_path = tmp / "projects/app", .workspace_id = "snap", .isolation = {}, .mode = "overlay", .snapshot = true});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->at("mode").as_string(), "overlay") << boost::json::serialize(*r);
  const auto& snap = r->at("overlay").at("snapshot").as_object();
  EXPECT_EQ(snap.at("files").as_int64(), 1) << "main.py; the credential is never snapshotted";
  EXPECT_EQ(r->at("overlay").at("lower").as_string(), snap.at("path").as_string());
  EXPECT_FALSE(r->at("overlay").as_object().contains("caveat"));
  const std::string path = workspaces_dir() + "/snap";
  // The source changes after creation: none of it shows in the workspace.
  write_file(tmp / "projects/app/main.py", "print('edited at the source')\n");
  write_file(tmp / "projects/app/late.txt", "late\n");
  EXPECT_EQ(read_file(path + "/main.py"), "print('hi')\n");
  EXPECT_FALSE(fs::exists(path + "/late.txt"));
  // Diffs are against the snapshot, not the moved-on source.
  write_file(path + "/added.txt", "new\n");
  auto w = service_->get_active("snap");
  ASSERT_TRUE(w.ok());
  auto src = service_->change_sources(*w);
  ASSERT_TRUE(src.ok()) << src.error().message;
  auto d = workspace_diff(*src, {});
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_EQ(d->at("files").as_array().size(), 1u) << boost::json::serialize(*d);
  EXPECT_EQ(d->at("files").as_array()[0].at("path").as_string(), "added.txt");
  ASSERT_TRUE(service_->destroy("snap").ok());
  EXPECT_FALSE(fs::exists(snap.at("path").as_string().c_str())) << "the snapshot goes with the workspace";
}

TEST_F(WorkspaceServiceTest, OverlayWithoutSnapshotStatesTheCaveatAndSnapshotNeedsOverlay) {
  auto r = service_->create(
      {.source_path = tmp / "projects/app", .workspace_id = "plain", .isolation = {}, .mode = "overlay", .snapshot = false});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->at("mode").as_string(), "overlay");
  EXPECT_THAT(std::string(r->at("overlay").at("caveat").as_string()), HasSubstr("snapshot: true"));
  ASSERT_TRUE(service_->destroy("plain").ok());
  auto bad = service_->create(
      {.source_path = tmp / "projects/app", .workspace_id = "c", .isolation = {}, .mode = "copy", .snapshot = true});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("snapshot applies to mode overlay only"));
}

TEST_F(WorkspaceServiceTest, OverlayOnIdmappedLayersTakesAPathOverlayfsOptionsCannotName) {
  // The jail mounts the overlay on idmapped clones of its layers, attached
  // at paths of its own, so a ',' in the source path does not matter.
  auto probe = backends_.default_backend().probe();
  ASSERT_TRUE(probe.ok());
  if (probe->at("workspace_ownership").at("method") != "idmapped_mount") GTEST_SKIP() << "no idmapped mounts here";
  write_file(tmp / "projects/a,b/f.txt", "x");
  auto r = service_->create({.source_path = tmp / "projects/a,b", .workspace_id = "comma", .mode = "overlay"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("mode").as_string(), "overlay");
  EXPECT_EQ(read_file(workspaces_dir() + "/comma/f.txt"), "x");
  EXPECT_TRUE(mounted(workspaces_dir() + "/comma"));
  ASSERT_TRUE(service_->destroy("comma").ok());
  EXPECT_FALSE(mounted(workspaces_dir() + "/comma"));
}

TEST_F(WorkspaceServiceTest, OverlayFallsBackToCopyAndSaysWhy) {
  // Without idmapped mounts the backend mounts the overlay plainly, and
  // overlayfs cannot take a lower dir whose path contains ','.
  auto plain = host_.create("process", ISB_KIND_ISOLATION, boost::json::object{{"disable", boost::json::array{"idmapped_mount"}}});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  backends_.add(IsolationPlugin(*plain));
  config_.sandbox.disk_images = false;  // no disk image: the only mount would be the overlay's
  service_ = std::make_unique<WorkspaceService>(config_, *store_, backends_);
  write_file(tmp / "projects/a,b/f.txt", "x");
  auto r = service_->create({.source_path = tmp / "projects/a,b", .workspace_id = "fb", .mode = "overlay"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("mode").as_string(), "copy");
  EXPECT_THAT(std::string(r->at("mode_note").as_string()),
              HasSubstr("overlay is unavailable here (process plugin: sandbox_create failed: overlayfs cannot take "
                        "the path"));
  EXPECT_THAT(std::string(r->at("mode_note").as_string()), HasSubstr("the workspace was copied instead"));
  EXPECT_EQ(read_file(workspaces_dir() + "/fb/f.txt"), "x");
  EXPECT_FALSE(mounted(workspaces_dir() + "/fb"));
}

TEST_F(WorkspaceServiceTest, UnknownModeIsRefused) {
  auto r = service_->create({.source_path = tmp / "projects/app", .workspace_id = "m", .mode = "hardlink"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "mode 'hardlink' is unknown; use copy or overlay");
  EXPECT_TRUE(tree(workspaces_dir()).empty());
}

TEST_F(WorkspaceServiceTest, IdleCleanupDestroysOnlyWorkspacesPastTheTimeout) {
  config_.sandbox.workspace_timeout = 60;
  ASSERT_TRUE(create("idle").ok());
  ASSERT_TRUE(create("busy").ok());
  const int64_t t0 = now_ms();
  ASSERT_TRUE(store_->touch_workspace("busy", t0 + 50'000).ok());
  EXPECT_TRUE(service_->cleanup_idle(t0 + 30'000).empty());
  EXPECT_THAT(service_->cleanup_idle(t0 + 61'000 + 1000), UnorderedElementsAre("idle"));
  EXPECT_FALSE(fs::exists(workspaces_dir() + "/idle"));
  EXPECT_TRUE(service_->get_active("busy").ok());
  // use() restarts the idle clock.
  ASSERT_TRUE(service_->use("busy").ok());
  EXPECT_TRUE(service_->cleanup_idle(now_ms() + 59'000).empty());
}

TEST_F(WorkspaceServiceTest, CleanupThreadExpiresIdleWorkspaceAndStopsPromptly) {
  config_.sandbox.workspace_timeout = 1;
  config_.sandbox.cleanup_interval = 1;
  config_.sandbox.auto_cleanup = true;
  ASSERT_TRUE(create("short").ok());
  service_->start_cleanup();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (service_->get_active("short").ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(service_->get_active("short").ok()) << "not expired within 10 s";
  const auto t = std::chrono::steady_clock::now();
  service_->stop_cleanup();
  EXPECT_LT(std::chrono::steady_clock::now() - t, std::chrono::milliseconds(500));
}

TEST_F(WorkspaceServiceTest, DiskQuotaRemainingFollowsDiskMb) {
  auto r = service_->create({.source_path = tmp / "projects/app",
                             .workspace_id = "q",
                             .isolation = {.resource_limits = boost::json::object{{"disk_mb", 1}}}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto w = service_->get_active("q");
  ASSERT_TRUE(w.ok());
  auto left = service_->disk_quota_remaining(*w);
  ASSERT_TRUE(left.ok()) << left.error().message;
  if (r->at("isolation").at("disk_limit").at("enforced_by") == "disk_image") {
    // The image's blocks in use count (a block for main.py, the directories).
    EXPECT_LE(*left, 1024 * 1024 - 4096);
    EXPECT_GT(*left, 1024 * 1024 - 256 * 1024);
  } else {
    EXPECT_EQ(*left, 1024 * 1024 - 12);  // main.py is 12 bytes
  }
  auto big = file_tools::write_file(w->path, {.path = "big.bin", .content = std::string(1024 * 1024, 'x'),
                                              .quota_remaining = *left});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kResourceExhausted);
  EXPECT_FALSE(fs::exists(w->path + "/big.bin"));
}

TEST_F(WorkspaceServiceTest, RestartRemountsOverlaysAndRemovesOrphans) {
  auto r = service_->create({.source_path = tmp / "projects/app", .workspace_id = "keep", .mode = "overlay"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->at("mode").as_string(), "overlay");
  const std::string path = workspaces_dir() + "/keep";
  write_file(path + "/work.txt", "in progress\n");
  // A crash: the service disappears without releasing anything, the mount is
  // lost (as after a reboot), and debris is left behind.
  service_.reset();
  ASSERT_EQ(::umount2(path.c_str(), MNT_DETACH), 0);
  fs::create_directories(workspaces_dir() + "/.creating-x-abc123/sub");
  fs::create_directories(workspaces_dir() + "/orphan");
  ASSERT_EQ(::mount("tmpfs", (workspaces_dir() + "/orphan").c_str(), "tmpfs", 0, "size=1m"), 0);
  fs::create_directories(config_.state_dir() + "/workspace-meta/ghost");

  service_ = std::make_unique<WorkspaceService>(config_, *store_, backends_);
  service_->restore_sandboxes();
  service_->stop_cleanup();
  EXPECT_TRUE(mounted(path));
  EXPECT_EQ(read_file(path + "/work.txt"), "in progress\n");
  EXPECT_EQ(read_file(path + "/main.py"), "print('hi')\n");
  EXPECT_FALSE(mounted(workspaces_dir() + "/orphan"));
  EXPECT_THAT(tree(workspaces_dir()), UnorderedElementsAre("keep", "keep/main.py", "keep/work.txt"));
  EXPECT_FALSE(fs::exists(config_.state_dir() + "/workspace-meta/ghost"));
  ASSERT_TRUE(service_->destroy("keep").ok());
  EXPECT_FALSE(mounted(path));
}

void write_tar_gz(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& [name, data] : files) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

TEST_F(WorkspaceServiceTest, CreatesFromTarGzArchiveAndDiffsAgainstIt) {
  const std::string archive = tmp / "projects/app.tar.gz";
  write_tar_gz(archive, {{"src/main.py", "print(1)\n"}, {"../evil.txt", "escape"}});
  auto r = service_->create({.source_path = archive, .workspace_id = "arc"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("source_path").as_string(), archive);
  EXPECT_EQ(r->at("archive").at("files").as_int64(), 1);
  ASSERT_EQ(r->at("archive").at("skipped_entries").as_array().size(), 1u);
  EXPECT_EQ(r->at("archive").at("skipped_entries").as_array()[0].as_string(), "../evil.txt: path with '..'");
  EXPECT_FALSE(fs::exists(tmp / "projects/evil.txt"));
  EXPECT_FALSE(fs::exists(tmp / "evil.txt"));
  const std::string path = workspaces_dir() + "/arc";
  EXPECT_EQ(read_file(path + "/src/main.py"), "print(1)\n");
  write_file(path + "/src/main.py", "print(2)\n");
  auto w = service_->get_active("arc");
  ASSERT_TRUE(w.ok());
  auto src = service_->change_sources(*w);
  ASSERT_TRUE(src.ok()) << src.error().message;
  auto d = workspace_diff(*src, {});
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_EQ(d->at("files").as_array().size(), 1u);
  EXPECT_EQ(d->at("files").as_array()[0].at("diff").as_string(),
            "--- a/src/main.py\n+++ b/src/main.py\n@@ -1,1 +1,1 @@\n-print(1)\n+print(2)\n");
  ASSERT_TRUE(service_->destroy("arc").ok());
}

TEST_F(WorkspaceServiceTest, ArchiveSourceOutsideAllowedRootsIsRefused) {
  fs::create_directories(tmp / "other");
  write_tar_gz(tmp / "other/elsewhere.tar.gz", {{"a.txt", "a"}});
  auto r = service_->create({.source_path = tmp / "other/elsewhere.tar.gz", .workspace_id = "no"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("outside the allowed roots"));
}

}  // namespace
}  // namespace isb
