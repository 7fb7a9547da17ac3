// workspace_archive_test.cpp: unpacking .tar, .tar.gz and .zip workspace
// sources, and a hostile archive corpus generated at run time: nothing may be
// written outside the destination, and bombs are refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "workspaces/archive_import.hpp"

#include <isb/core/config.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace isb::workspaces {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const SecretPaths kSecrets(SandboxConfig{}.secret_paths);

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isb-archive-test-XXXXXX";
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

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One entry to write into a generated archive.
struct Entry {
  std::string path{};
  unsigned type = AE_IFREG;
  std::string data{};      // file content
  std::string link{};      // symlink target
  std::string hardlink{};  // hard link target
  unsigned perm = 0644;
  int64_t zero_bytes = 0;  // extra zero bytes appended (for bombs)
};

void write_archive(const std::string& path, const std::string& format, const std::vector<Entry>& entries) {
  struct archive* a = archive_write_new();
  if (format == "zip") {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    if (format == "tar.gz") archive_write_add_filter_gzip(a);
  }
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& e : entries) {
    struct archive_entry* ent = archive_entry_new();
    archive_entry_set_pathname(ent, e.path.c_str());
    archive_entry_set_filetype(ent, e.type);
    archive_entry_set_perm(ent, e.perm);
    if (!e.link.empty()) archive_entry_set_symlink(ent, e.link.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(ent, e.hardlink.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK) archive_entry_set_rdev(ent, makedev(1, 3));
    const int64_t size = e.type == AE_IFREG && e.hardlink.empty() ? static_cast<int64_t>(e.data.size()) + e.zero_bytes : 0;
    archive_entry_set_size(ent, size);
    archive_entry_set_mtime(ent, 1700000000, 0);
    EXPECT_EQ(archive_write_header(a, ent), ARCHIVE_OK) << e.path << ": " << archive_error_string(a);
    if (size > 0) {
      archive_write_data(a, e.data.data(), e.data.size());
      std::string zeros(65536, '\0');
      for (int64_t left = e.zero_bytes; left > 0; left -= static_cast<int64_t>(zeros.size())) {
        archive_write_data(a, zeros.data(), static_cast<size_t>(std::min<int64_t>(left, zeros.size())));
      }
    }
    archive_entry_free(ent);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::vector<std::string> tree(const std::string& root) {
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    out.push_back(it->path().lexically_relative(root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ArchiveImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dest = tmp / "dest";
    fs::create_directories(dest);
    fs::create_directories(tmp / "outside");
    std::ofstream(tmp / "outside/victim.txt") << "VICTIM";
  }
  void expect_outside_untouched() {
    EXPECT_EQ(slurp(tmp / "outside/victim.txt"), "VICTIM");
    EXPECT_THAT(tree(tmp / "outside"), UnorderedElementsAre("victim.txt"));
    EXPECT_FALSE(fs::exists(tmp / "evil"));
    EXPECT_FALSE(fs::exists("/tmp/isb-archive-escape"));
  }
  TempDir tmp;
  std::string dest;
};

TEST_F(ArchiveImportTest, UnpacksEachFormatWithModesAndLinks) {
  for (const std::string format : {"tar", "tar.gz", "zip"}) {
    const std::string archive = tmp / ("p." + format);
    const std::string out = tmp / ("out-" + format);
    fs::create_directories(out);
    write_archive(archive, format,
                  {{.path = "src/", .type = AE_IFDIR, .perm = 0755},
                   {.path = "src/main.py", .data = "print(1)\n"},
                   {.path = "run.sh", .data = "#!/bin/sh\n", .perm = 0755},
                   {.path = "link", .type = AE_IFLNK, .link = "src/main.py"}});
    auto r = import_archive(archive, out, kSecrets);
    ASSERT_TRUE(r.ok()) << format << ": " << r.error().message;
    EXPECT_EQ(r->files, 2) << format;
    EXPECT_EQ(r->symlinks, 1) << format;
    EXPECT_TRUE(r->skipped.empty()) << format;
    EXPECT_EQ(slurp(out + "/src/main.py"), "print(1)\n");
    EXPECT_EQ(fs::read_symlink(out + "/link"), "src/main.py");
    EXPECT_EQ(fs::status(out + "/run.sh").permissions() & fs::perms::owner_exec, fs::perms::owner_exec);
  }
}

TEST_F(ArchiveImportTest, HostileEntriesAreSkippedAndNothingLandsOutside) {
  const std::string archive = tmp / "hostile.tar";
  write_archive(archive, "tar",
                {{.path = "/tmp/isb-archive-escape", .data = "abs"},
                 {.path = "../evil", .data = "dotdot"},
                 {.path = "ok/../../evil", .data = "dotdot2"},
                 {.path = "to_etc", .type = AE_IFLNK, .link = "/etc"},
                 {.path = "to_outside", .type = AE_IFLNK, .link = "../outside"},
                 {.path = "deep/up", .type = AE_IFLNK, .link = "../../outside/victim.txt"},
                 // Written "through" the (skipped) symlink: must land inside.
                 {.path = "to_outside/victim.txt", .data = "PWNED"},
                 {.path = "hard_out", .hardlink = "/etc/passwd"},
                 {.path = "hard_up", .hardlink = "../outside/victim.txt"},
                 {.path = "null", .type = AE_IFCHR},
                 {.path = "fifo", .type = AE_IFIFO},
                 {.path = "suid", .data = "x", .perm = 04755},
                 {.path = ".ssh/id_rsa", .data = "KEY"},
                 {.path = "fine.txt", .data = "fine"}});
  auto r = import_archive(archive, dest, kSecrets);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(r->skipped,
              UnorderedElementsAre("/tmp/isb-archive-escape: absolute path", "../evil: path with '..'",
                                   "ok/../../evil: path with '..'", "to_etc: symlink pointing outside (/etc)",
                                   "to_outside: symlink pointing outside (../outside)",
                                   "deep/up: symlink pointing outside (../../outside/victim.txt)",
                                   "hard_out: hard link pointing outside", "hard_up: hard link pointing outside",
                                   "null: device, fifo or socket", "fifo: device, fifo or socket",
                                   ".ssh/id_rsa: credential, never unpacked"));
  expect_outside_untouched();
  EXPECT_THAT(tree(dest), UnorderedElementsAre("fine.txt", "suid", "to_outside", "to_outside/victim.txt"));
  EXPECT_EQ(slurp(dest + "/to_outside/victim.txt"), "PWNED");  // a plain file inside
  EXPECT_FALSE(fs::is_symlink(dest + "/to_outside"));
  EXPECT_EQ(fs::status(dest + "/suid").permissions() & fs::perms::set_uid, fs::perms::none);
}

TEST_F(ArchiveImportTest, HardLinkToEarlierFileBecomesACopy) {
  const std::string archive = tmp / "hard.tar";
  write_archive(archive, "tar", {{.path = "a.txt", .data = "shared"}, {.path = "b.txt", .hardlink = "a.txt"}});
  auto r = import_archive(archive, dest, kSecrets);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(slurp(dest + "/b.txt"), "shared");
  EXPECT_EQ(fs::hard_link_count(dest + "/a.txt"), 1u);
}

TEST_F(ArchiveImportTest, EntryCountBombIsRefused) {
  std::vector<Entry> many;
  for (int i = 0; i < 60; ++i) many.push_back({.path = "f" + std::to_string(i), .data = "x"});
  const std::string archive = tmp / "many.tar.gz";
  write_archive(archive, "tar.gz", many);
  auto r = import_archive(archive, dest, kSecrets, {.max_entries = 50});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_THAT(r.error().message, HasSubstr("has more than 50 entries; refusing it as a possible archive bomb"));
}

TEST_F(ArchiveImportTest, SizeBombIsRefusedWhileUnpacking) {
  const std::string archive = tmp / "bomb.tar.gz";
  write_archive(archive, "tar.gz", {{.path = "zeros", .zero_bytes = 8 << 20}});
  EXPECT_LT(fs::file_size(archive), 64u * 1024);  // 8 MiB of zeros compress to a few KiB
  auto r = import_archive(archive, dest, kSecrets, {.max_entries = 10, .max_total_bytes = 1 << 20, .max_entry_bytes = 1 << 20});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_THAT(r.error().message, HasSubstr("refusing it as a possible bomb"));
}

TEST_F(ArchiveImportTest, NotAnArchiveIsAClearError) {
  std::ofstream(tmp / "fake.tar.gz") << "this is not an archive";
  auto r = import_archive(tmp / "fake.tar.gz", dest, kSecrets);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("fake.tar.gz"));
}

TEST(ArchivePathTest, RecognisesSupportedSuffixes) {
  EXPECT_TRUE(is_archive_path("/x/p.tar"));
  EXPECT_TRUE(is_archive_path("/x/p.tar.gz"));
  EXPECT_TRUE(is_archive_path("/x/p.tgz"));
  EXPECT_TRUE(is_archive_path("/x/p.zip"));
  EXPECT_FALSE(is_archive_path("/x/p.rar"));
  EXPECT_FALSE(is_archive_path("/x/project"));
}

}  // namespace
}  // namespace isb::workspaces
