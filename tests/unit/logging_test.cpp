// logging_test.cpp: the log file of logging.*: lines in a Python logging
// format (the seed's), rotation at max_size_mb keeping backup_count files,
// and max_size_mb 0 as one file that never rotates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <isb/core/logging.hpp>
#include <sstream>
#include <string>

namespace isb {
namespace {

namespace fs = std::filesystem;

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isb-logging-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    LoggingConfig quiet;
    (void)logging::init(quiet);  // closes the file before it goes
    fs::remove_all(dir_);
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_;
};

TEST_F(LoggingTest, TheSeedsPythonFormatPrintsEveryField) {
  LoggingConfig c;
  c.file_path = dir_ + "/sandbox.log";
  c.format = "%(asctime)s - %(name)s - %(levelname)-8s - %(levelno)s %(message)s";
  ASSERT_TRUE(logging::init(c).ok());
  spdlog::warn("disk nearly full");
  spdlog::default_logger()->flush();
  EXPECT_THAT(read(c.file_path),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} - "
                                      "intelligent-sandbox - WARNING  - 30 disk nearly full\n"));
}

TEST_F(LoggingTest, RotatesAtMaxSizeKeepingBackupCountFiles) {
  LoggingConfig c;
  c.file_path = dir_ + "/sandbox.log";
  c.max_size_mb = 1;
  c.backup_count = 2;
  ASSERT_TRUE(logging::init(c).ok());
  const std::string line(1000, 'x');
  for (int i = 0; i < 3500; ++i) spdlog::info("{}", line);  // about 3.5 MiB
  spdlog::default_logger()->flush();
  EXPECT_TRUE(fs::exists(dir_ + "/sandbox.1.log"));
  EXPECT_TRUE(fs::exists(dir_ + "/sandbox.2.log"));
  EXPECT_FALSE(fs::exists(dir_ + "/sandbox.3.log")) << "backup_count 2";
  EXPECT_LE(fs::file_size(c.file_path), 1024u * 1024u);
}

TEST_F(LoggingTest, MaxSizeZeroNeverRotates) {
  LoggingConfig c;
  c.file_path = dir_ + "/sandbox.log";
  c.max_size_mb = 0;
  ASSERT_TRUE(logging::init(c).ok());
  const std::string line(1000, 'x');
  for (int i = 0; i < 1500; ++i) spdlog::info("{}", line);
  spdlog::default_logger()->flush();
  EXPECT_GT(fs::file_size(c.file_path), 1024u * 1024u);
  EXPECT_FALSE(fs::exists(dir_ + "/sandbox.1.log"));
}

}  // namespace
}  // namespace isb
