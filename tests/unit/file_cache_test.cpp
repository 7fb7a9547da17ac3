// file_cache_test.cpp: the server's cache (cache.*): entries expire after the
// ttl, the least recently used go past the size bound, a sweep removes both,
// entries outlive a restart, keys cannot name paths, and a disabled cache
// keeps nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <isb/core/file_cache.hpp>
#include <string>
#include <thread>

namespace isb {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class FileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isb-cache-test-XXXXXX";
    dir_ = std::string(mkdtemp(tmpl)) + "/cache";
  }
  void TearDown() override { fs::remove_all(fs::path(dir_).parent_path()); }
  FileCacheOptions options(int64_t max_bytes = 1 << 20, seconds ttl = seconds(3600)) const {
    return FileCacheOptions{.dir = dir_, .enabled = true, .max_bytes = max_bytes, .ttl = ttl};
  }
  std::string dir_;
};

TEST_F(FileCacheTest, StoresAndReturnsAnEntryInAPrivateDirectory) {
  FileCache c(options());
  EXPECT_FALSE(c.get("analysis", "ws1"));
  ASSERT_TRUE(c.put("analysis", "ws1", "{\"a\":1}"));
  EXPECT_EQ(c.get("analysis", "ws1").value_or(""), "{\"a\":1}");
  struct stat st {};
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto s = c.status();
  EXPECT_EQ(s.at("entries").as_uint64(), 1u);
  EXPECT_EQ(s.at("hits").as_uint64(), 1u);
  EXPECT_EQ(s.at("misses").as_uint64(), 1u);
}

TEST_F(FileCacheTest, AnEntryOlderThanTheTtlIsNotUsed) {
  FileCache c(options(1 << 20, seconds(1)));
  ASSERT_TRUE(c.put("analysis", "ws1", "old"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(c.get("analysis", "ws1"));
  EXPECT_FALSE(fs::exists(dir_ + "/analysis/ws1"));
  EXPECT_EQ(c.status().at("expired").as_uint64(), 1u);
}

TEST_F(FileCacheTest, TheLeastRecentlyUsedGoWhenTheTotalPassesTheBound) {
  FileCache c(options(/*max_bytes=*/250));
  ASSERT_TRUE(c.put("analysis", "a", std::string(100, 'a')));
  ASSERT_TRUE(c.put("analysis", "b", std::string(100, 'b')));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(c.get("analysis", "a"));  // a is now used more recently than b
  ASSERT_TRUE(c.put("analysis", "c", std::string(100, 'c')));
  EXPECT_TRUE(c.get("analysis", "a"));
  EXPECT_FALSE(c.get("analysis", "b")) << "least recently used";
  EXPECT_TRUE(c.get("analysis", "c"));
  EXPECT_EQ(c.status().at("size_bytes").as_int64(), 200);
  EXPECT_EQ(c.status().at("evicted").as_uint64(), 1u);
  EXPECT_FALSE(c.put("analysis", "huge", std::string(300, 'h'))) << "larger than the whole cache";
}

TEST_F(FileCacheTest, SweepRemovesExpiredEntriesAndEntriesSurviveARestart) {
  {
    FileCache c(options());
    ASSERT_TRUE(c.put("analysis", "kept", "1"));
  }
  FileCache again(options());
  EXPECT_EQ(again.get("analysis", "kept").value_or(""), "1") << "indexed from disk";

  FileCache short_lived(options(1 << 20, seconds(1)));
  ASSERT_TRUE(short_lived.put("analysis", "x", "2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  FileCache::SweepReport r = short_lived.sweep();
  EXPECT_EQ(r.expired, 2u) << "kept (older) and x";
  EXPECT_EQ(short_lived.status().at("entries").as_uint64(), 0u);
}

TEST_F(FileCacheTest, KeysCannotNamePaths) {
  FileCache c(options());
  ASSERT_TRUE(c.put("analysis", "../../escape", "x"));
  EXPECT_FALSE(fs::exists(fs::path(dir_).parent_path() / "escape"));
  EXPECT_TRUE(fs::exists(dir_ + "/analysis/%2E.%2F..%2Fescape"));
  EXPECT_EQ(c.get("analysis", "../../escape").value_or(""), "x");
}

TEST_F(FileCacheTest, DisabledKeepsNothing) {
  FileCacheOptions o = options();
  o.enabled = false;
  FileCache c(o);
  EXPECT_FALSE(c.put("analysis", "ws1", "x"));
  EXPECT_FALSE(c.get("analysis", "ws1"));
  EXPECT_FALSE(fs::exists(dir_));
  EXPECT_FALSE(c.status().at("enabled").as_bool());
}

}  // namespace
}  // namespace isb
