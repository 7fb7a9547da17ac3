// file_tools_test.cpp: the workspace file tools on real directories, and a
// corpus of hostile paths (dot-dot, absolute, encoded, symlinks to / and out,
// a symlink swapped while the tools run) that must never reach outside.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isb/core/file_tools.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace isb::file_tools {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isb-file-tools-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? fs::canonical(p).string() : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class FileToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ws = tmp / "ws";
    put(ws + "/README.md", "hello\nworld\n");
    put(ws + "/src/main.c", "int main() {\n  return 0;\n}\n");
    put(ws + "/src/util.c", "int helper(void) { return 42; }\n");
    put(ws + "/bin/blob", std::string("\x00\x01\x02\xff", 4));
    put(tmp / "outside/secret.txt", "OUTSIDE SECRET");
  }
  TempDir tmp;
  std::string ws;
};

// ------------------------------------------------------------------ read

TEST_F(FileToolsTest, ReadsTextAsUtf8WithSizeAndEof) {
  auto r = read_file(ws, {.path = "README.md"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("encoding").as_string(), "utf-8");
  EXPECT_EQ(r->at("content").as_string(), "hello\nworld\n");
  EXPECT_EQ(r->at("size").as_int64(), 12);
  EXPECT_EQ(r->at("length").as_int64(), 12);
  EXPECT_TRUE(r->at("eof").as_bool());
}

TEST_F(FileToolsTest, ReadsBinaryAsBase64) {
  auto r = read_file(ws, {.path = "bin/blob"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("encoding").as_string(), "base64");
  EXPECT_EQ(r->at("content").as_string(), "AAEC/w==");
}

TEST_F(FileToolsTest, ReadHonoursOffsetAndLimit) {
  auto r = read_file(ws, {.path = "README.md", .offset = 6, .limit = 3});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("content").as_string(), "wor");
  EXPECT_FALSE(r->at("eof").as_bool());
  auto big = read_file(ws, {.path = "README.md", .limit = (1 << 20) + 1});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(big.error().message, HasSubstr("read in chunks using offset"));
}

TEST_F(FileToolsTest, ReadOfDirectoryOrMissingFileSaysWhatToDo) {
  auto dir = read_file(ws, {.path = "src"});
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(dir.error().message, "'src' is a directory; use list_files");
  auto missing = read_file(ws, {.path = "nope.txt"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("list_files shows what exists"));
}

// ----------------------------------------------------------------- write

TEST_F(FileToolsTest, WriteCreatesParentsAndAppends) {
  auto r = write_file(ws, {.path = "new/dir/file.txt", .content = "one\n"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->at("created").as_bool());
  EXPECT_EQ(r->at("size").as_int64(), 4);
  auto a = write_file(ws, {.path = "new/dir/file.txt", .content = "two\n", .mode = "append"});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_FALSE(a->at("created").as_bool());
  EXPECT_EQ(slurp(ws + "/new/dir/file.txt"), "one\ntwo\n");
}

// The workspace root belongs to whoever the sandbox runs as (an idmapped or
// chowned owner); what the file tools create must stay theirs, or the
// sandbox could not change a file the agent wrote. Existing files keep
// their owner.
TEST_F(FileToolsTest, WriteGivesWhatItCreatesToTheWorkspaceRootsOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  constexpr uid_t kOwner = 4321;
  ASSERT_EQ(::chown(ws.c_str(), kOwner, kOwner), 0);
  ASSERT_TRUE(write_file(ws, {.path = "made/deep/f.txt", .content = "x"}).ok());
  ASSERT_TRUE(write_file(ws, {.path = "README.md", .content = "y"}).ok());
  auto owner = [&](const std::string& rel) {
    struct stat st {};
    return ::lstat((ws + "/" + rel).c_str(), &st) == 0 ? std::make_pair(st.st_uid, st.st_gid)
                                                        : std::make_pair(uid_t(-1), gid_t(-1));
  };
  for (const char* rel : {"made", "made/deep", "made/deep/f.txt"}) {
    EXPECT_EQ(owner(rel), std::make_pair(kOwner, gid_t(kOwner))) << rel;
  }
  EXPECT_EQ(owner("README.md"), std::make_pair(uid_t(0), gid_t(0)));
}

TEST_F(FileToolsTest, WriteCreateModeRefusesExistingFile) {
  auto r = write_file(ws, {.path = "README.md", .content = "x", .mode = "create"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(slurp(ws + "/README.md"), "hello\nworld\n");
}

TEST_F(FileToolsTest, WriteBase64RoundTripsBinary) {
  auto w = write_file(ws, {.path = "b.bin", .content = "AAEC/w==", .encoding = "base64"});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(slurp(ws + "/b.bin"), std::string("\x00\x01\x02\xff", 4));
  auto bad = write_file(ws, {.path = "c.bin", .content = "!!!", .encoding = "base64"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("not valid base64"));
  EXPECT_FALSE(fs::exists(ws + "/c.bin"));
}

TEST_F(FileToolsTest, WriteBeyondQuotaIsRefusedAndWritesNothing) {
  auto r = write_file(ws, {.path = "big.txt", .content = std::string(11, 'x'), .quota_remaining = 10});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_THAT(r.error().message, HasSubstr("disk quota (resource_limits.disk_mb): only 10 bytes remain"));
  EXPECT_FALSE(fs::exists(ws + "/big.txt"));
  // Overwriting a file only counts the growth.
  auto ok = write_file(ws, {.path = "README.md", .content = std::string(20, 'y'), .quota_remaining = 10});
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

TEST_F(FileToolsTest, UnknownWriteModeIsRefused) {
  auto r = write_file(ws, {.path = "x", .content = "", .mode = "truncate"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "mode 'truncate' is unknown; use overwrite, append or create");
}

// ---------------------------------------------------------------- delete

TEST_F(FileToolsTest, DeleteRemovesSymlinkNotItsTarget) {
  fs::create_symlink(tmp / "outside/secret.txt", ws + "/link");
  auto r = delete_file(ws, "link", false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(fs::exists(fs::symlink_status(ws + "/link")));
  EXPECT_EQ(slurp(tmp / "outside/secret.txt"), "OUTSIDE SECRET");
}

TEST_F(FileToolsTest, DeleteDirectoryNeedsRecursive) {
  auto r = delete_file(ws, "src", false);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("pass recursive: true"));
  auto ok = delete_file(ws, "src", true);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->at("entries_removed").as_int64(), 3);
  EXPECT_FALSE(fs::exists(ws + "/src"));
}

TEST_F(FileToolsTest, RecursiveDeleteDoesNotFollowSymlinkedDirectory) {
  fs::create_directory_symlink(tmp / "outside", ws + "/src/out");
  auto ok = delete_file(ws, "src", true);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(slurp(tmp / "outside/secret.txt"), "OUTSIDE SECRET");
}

// ------------------------------------------------------------------ list

TEST_F(FileToolsTest, ListsRecursivelyWithGlob) {
  auto r = list_files(ws, {.path = "", .recursive = true, .glob = "*.c"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<std::string> paths;
  for (const auto& e : r->at("entries").as_array()) paths.emplace_back(e.at("path").as_string());
  EXPECT_THAT(paths, UnorderedElementsAre("src/main.c", "src/util.c"));
  auto top = list_files(ws, {.path = "."});
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->at("count").as_int64(), 3);  // README.md, bin, src
}

TEST_F(FileToolsTest, ListReportsSymlinkTargetWithoutFollowing) {
  fs::create_directory_symlink("/", ws + "/root");
  auto r = list_files(ws, {.path = "", .recursive = true});
  ASSERT_TRUE(r.ok()) << r.error().message;
  bool seen = false;
  for (const auto& e : r->at("entries").as_array()) {
    EXPECT_EQ(e.at("path").as_string().find("root/"), std::string::npos) << "walked into a symlink";
    if (e.at("path").as_string() == "root") {
      seen = true;
      EXPECT_EQ(e.at("type").as_string(), "symlink");
      EXPECT_EQ(e.at("target").as_string(), "/");
    }
  }
  EXPECT_TRUE(seen);
}

// ---------------------------------------------------------------- search

TEST_F(FileToolsTest, SearchFindsLinesAndSkipsBinary) {
  auto r = search_files(ws, {.pattern = "return [0-9]+"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->at("count").as_int64(), 2);
  const auto& m = r->at("matches").as_array();
  EXPECT_EQ(m[0].at("path").as_string(), "src/main.c");
  EXPECT_EQ(m[0].at("line").as_int64(), 2);
  EXPECT_EQ(m[0].at("text").as_string(), "  return 0;");
  EXPECT_EQ(m[1].at("path").as_string(), "src/util.c");
  EXPECT_EQ(r->at("skipped_binary").as_int64(), 1);
}

TEST_F(FileToolsTest, SearchTruncatesAtMaxResults) {
  auto r = search_files(ws, {.pattern = ".", .max_results = 3});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("count").as_int64(), 3);
  EXPECT_TRUE(r->at("truncated").as_bool());
}

TEST_F(FileToolsTest, SearchRejectsInvalidRegex) {
  auto r = search_files(ws, {.pattern = "(unclosed"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("is not a valid POSIX extended regular expression"));
}

TEST_F(FileToolsTest, SymlinksInsideTheWorkspaceStillWork) {
  fs::create_symlink("src/main.c", ws + "/main_link.c");
  fs::create_directory_symlink("..", ws + "/src/up");  // src/up -> the root, still inside
  auto a = read_file(ws, {.path = "main_link.c"});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->at("content").as_string(), "int main() {\n  return 0;\n}\n");
  auto b = read_file(ws, {.path = "src/up/README.md"});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->at("content").as_string(), "hello\nworld\n");
}

// --------------------------------------------------------- hostile paths

struct Hostile {
  std::string path;
  ErrorCode code;
};

class HostilePathTest : public FileToolsTest {
 protected:
  void SetUp() override {
    FileToolsTest::SetUp();
    fs::create_directory_symlink("/", ws + "/to_root");
    fs::create_directory_symlink(tmp / "outside", ws + "/to_outside");
    fs::create_directory_symlink("../outside", ws + "/rel_outside");
    fs::create_symlink(tmp / "outside/secret.txt", ws + "/secret_link");
    fs::create_symlink("../../outside/newfile", ws + "/src/dangling_out");
  }
  std::vector<Hostile> corpus() const {
    const auto denied = ErrorCode::kPermissionDenied;
    return {
        {"../outside/secret.txt", denied},
        {"src/../../outside/secret.txt", denied},
        {"./../outside/secret.txt", denied},
        {"src/./../../outside/secret.txt", denied},
        {"..", denied},
        {"/etc/passwd", ErrorCode::kInvalidArgument},
        {tmp / "outside/secret.txt", ErrorCode::kInvalidArgument},
        {"to_root/etc/passwd", denied},
        {"to_outside/secret.txt", denied},
        {"rel_outside/secret.txt", denied},
        {"secret_link", denied},
        // Encodings are not decoded: they are plain (missing) names inside.
        {"%2e%2e/outside/secret.txt", ErrorCode::kNotFound},
        {"..%2foutside%2fsecret.txt", ErrorCode::kNotFound},
        {"..\\outside\\secret.txt", ErrorCode::kNotFound},
    };
  }
  void expect_outside_untouched() {
    EXPECT_EQ(slurp(tmp / "outside/secret.txt"), "OUTSIDE SECRET");
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(tmp / "outside")) names.push_back(e.path().filename().string());
    EXPECT_THAT(names, UnorderedElementsAre("secret.txt"));
  }
};

TEST_F(HostilePathTest, ReadRefusesEveryPathLeavingTheWorkspace) {
  for (const auto& h : corpus()) {
    auto r = read_file(ws, {.path = h.path});
    ASSERT_FALSE(r.ok()) << h.path << " was read: " << r->at("content").as_string();
    EXPECT_EQ(r.error().code, h.code) << h.path << ": " << r.error().message;
    EXPECT_THAT(r.error().message, HasSubstr("'")) << h.path;
  }
}

TEST_F(HostilePathTest, WriteRefusesEveryPathLeavingTheWorkspace) {
  for (auto h : corpus()) {
    auto r = write_file(ws, {.path = h.path, .content = "PWNED", .create_parents = false});
    if (h.code == ErrorCode::kNotFound && r.ok()) {
      // An encoded name is a literal file name: it may be written, inside.
      EXPECT_EQ(slurp(ws + "/" + h.path), "PWNED") << h.path;
      continue;
    }
    ASSERT_FALSE(r.ok()) << h.path << " was written";
  }
  // A dangling symlink pointing out must not create its target.
  auto d = write_file(ws, {.path = "src/dangling_out", .content = "PWNED"});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(d.error().message, HasSubstr("resolves outside the workspace"));
  expect_outside_untouched();
}

TEST_F(HostilePathTest, DeleteListAndSearchRefuseEveryPathLeavingTheWorkspace) {
  for (const auto& h : corpus()) {
    auto l = list_files(ws, {.path = h.path, .recursive = true});
    EXPECT_FALSE(l.ok()) << "listed " << h.path;
    auto s = search_files(ws, {.pattern = "SECRET", .path = h.path});
    EXPECT_FALSE(s.ok()) << "searched " << h.path;
    // Deleting "secret_link" removes the link itself, which is inside: allowed.
    if (h.path == "secret_link") continue;
    auto d = delete_file(ws, h.path, true);
    EXPECT_FALSE(d.ok()) << "deleted " << h.path;
  }
  expect_outside_untouched();
  // A whole-workspace search never reports content from outside.
  auto all = search_files(ws, {.pattern = "SECRET"});
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(all->at("count").as_int64(), 0);
}

// A symlink flipped between a directory inside and one outside while reads
// and writes run: every operation either stays inside or is refused.
TEST_F(HostilePathTest, SymlinkSwappedDuringUseNeverEscapes) {
  put(ws + "/inside_dir/secret.txt", "inside");
  fs::create_directory_symlink("inside_dir", ws + "/swap");
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    // Bounded: at most 200000 flips, and it stops when the reader is done.
    for (int i = 0; i < 200000 && !stop; ++i) {
      const std::string tmp_link = ws + "/.swap-tmp";
      ::unlink(tmp_link.c_str());
      const std::string target = (i % 2) ? (tmp / "outside") : std::string("inside_dir");
      if (::symlink(target.c_str(), tmp_link.c_str()) == 0) ::rename(tmp_link.c_str(), (ws + "/swap").c_str());
    }
  });
  int inside = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    auto r = read_file(ws, {.path = "swap/secret.txt"});
    if (r.ok()) {
      ASSERT_EQ(r->at("content").as_string(), "inside") << "read outside content on iteration " << i;
      ++inside;
    } else {
      ASSERT_NE(r.error().code, ErrorCode::kInternal);
      ++refused;
    }
    (void)write_file(ws, {.path = "swap/written.txt", .content = "PWNED", .create_parents = false});
  }
  stop = true;
  flipper.join();
  EXPECT_EQ(inside + refused, 3000);
  expect_outside_untouched();
}

TEST(Base64Test, EncodesAndDecodesStandardAlphabet) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*base64_decode("Zm9vYmE="), "fooba");
  EXPECT_FALSE(base64_decode("Zm9v*").ok());
}

}  // namespace
}  // namespace isb::file_tools
