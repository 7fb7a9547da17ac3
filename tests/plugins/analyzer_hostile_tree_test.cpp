// analyzer_hostile_tree_test.cpp: every analyzer plugin on a tree written by
// hostile code, across the C ABI as the host calls it (the root opened once, as
// a directory fd):
//   * while another thread swaps project directories with symlinks to a 0700
//     directory of host secrets (renameat2 RENAME_EXCHANGE in a tight loop, as
//     code inside a sandbox can), no byte of those secrets, neither a file's
//     content nor its name, may reach the facts;
//   * a 4 GiB sparse file is skipped as too large without being read.
//
// Each analyzer is its own test case, so CTest may run them side by side. The
// race runs for ISB_RACE_SECONDS (default 10) per analyzer.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <isb/plugin_abi.h>
#include <linux/fs.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "plugin_loader.hpp"
#include "temp_tree.hpp"

namespace json = boost::json;

namespace {

// A token that appears nowhere but in the host's secrets.
std::string make_marker() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "isbsecret%08x%08x", rd(), rd());
  return buf;
}

// Swaps each pair of entries (paths relative to root) with renameat2
// RENAME_EXCHANGE as fast as it can, on its own thread, until stopped.
class Swapper {
 public:
  Swapper(const std::filesystem::path& root, std::vector<std::pair<std::string, std::string>> pairs) {
    for (auto& [a, b] : pairs) pairs_.emplace_back((root / a).string(), (root / b).string());
    thread_ = std::thread([this] {
      while (!stop_.load(std::memory_order_relaxed)) {
        for (const auto& [a, b] : pairs_) {
          if (::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0)
            swaps_.fetch_add(1, std::memory_order_relaxed);
          else
            last_errno_ = errno;
        }
      }
    });
  }
  ~Swapper() { stop(); }
  Swapper(const Swapper&) = delete;
  Swapper& operator=(const Swapper&) = delete;

  //! Stops swapping; returns the number of swaps made.
  std::uint64_t stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return swaps_;
  }
  int last_errno() const { return last_errno_; }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> swaps_{0};
  std::atomic<int> last_errno_{0};
  std::thread thread_;
};

int race_seconds() {
  const char* s = std::getenv("ISB_RACE_SECONDS");
  const int n = s ? std::atoi(s) : 0;
  return n > 0 ? n : 10;
}

class HostileTree : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    plugin_ = std::make_unique<TestPlugin>("libisb-analyzer-" + GetParam() + ".so", ISB_LOG_INFO);
    inst_ = plugin_->create("{}");
    ASSERT_NE(inst_, nullptr);
  }
  void TearDown() override {
    if (inst_) plugin_->descriptor()->destroy(inst_);
  }

  std::unique_ptr<TestPlugin> plugin_;
  isb_instance* inst_ = nullptr;
};

TEST_P(HostileTree, NeverReadsThroughADirectorySwappedForASymlink) {
  const std::string marker = make_marker();
  // The host's secrets: a 0700 directory outside the tree (mkdtemp's mode),
  // with the marker in the content and the names of files every analyzer reads
  // or lists: manifests, a lockfile, a CI workflow, a vendored file (reported
  // among skipped samples), a .NET project (reported by its name).
  TempTree secret;
  ASSERT_EQ(::chmod(secret.path().c_str(), 0700), 0);
  secret.write("package.json", R"({"name":")" + marker + R"(","version":"1.0.0","scripts":{"build":")" +
                                   marker + R"(","test":")" + marker + R"("},"dependencies":{")" + marker +
                                   R"(":"^1.0.0"}})");
  secret.write("package-lock.json", R"({"name":")" + marker +
                                        R"(","lockfileVersion":3,"packages":{"":{"name":")" + marker +
                                        R"("},"node_modules/)" + marker + R"(":{"version":"1.2.3"}}})");
  secret.write("requirements.txt", marker + "==1.0\n");
  secret.write("Cargo.toml", "[package]\nname = \"" + marker + "\"\nversion = \"0.1.0\"\n\n[dependencies]\n" +
                                 marker + " = \"1\"\n");
  secret.write("ci.yml", "on: push\njobs:\n  " + marker +
                             ":\n    runs-on: x\n    steps:\n      - run: make " + marker + "\n");
  secret.write(marker + ".min.js", "var a=1;\n");
  secret.write(marker + ".csproj", "<Project Sdk=\"Microsoft.NET.Sdk\"></Project>\n");

  // The tree: harmless projects, and symlinks to the secrets that the swapper
  // exchanges with the project directories.
  TempTree tree;
  tree.write("proj/package.json", R"({"name":"app","version":"1.0.0","scripts":{"test":"jest"}})");
  tree.write("proj/requirements.txt", "requests==2.31.0\n");
  tree.write("proj/Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n");
  tree.write("proj/main.py", "print('hello')\n");
  tree.write(".github/workflows/ci.yml",
             "on: push\njobs:\n  test:\n    runs-on: x\n    steps:\n      - run: make test\n");
  std::filesystem::create_directory_symlink(secret.root(), tree.root() / "dlink");
  std::filesystem::create_directory_symlink(secret.root(), tree.root() / ".github" / "wlink");

  // The host opens the root once; the analyzer gets only this fd.
  const int root_fd = ::open(tree.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root_fd, 0);
  const std::string opts = R"({"include_dependencies":true})";

  Swapper swapper(tree.root(), {{"proj", "dlink"}, {".github/workflows", ".github/wlink"}});
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(race_seconds());
  std::uint64_t runs = 0, failures = 0, leaks = 0;
  std::string first_leak, first_failure;
  while (std::chrono::steady_clock::now() < until) {
    auto [status, doc] = plugin_->analyze_fd(inst_, root_fd, opts);
    ++runs;
    if (status != ISB_OK && failures++ == 0) first_failure = plugin_->descriptor()->last_error(inst_);
    if (doc.find(marker) != std::string::npos && leaks++ == 0) first_leak = doc;
  }
  const std::uint64_t swaps = swapper.stop();
  ::close(root_fd);

  EXPECT_EQ(leaks, 0u) << leaks << " of " << runs << " results held the host's secret; the first:\n"
                       << first_leak;
  EXPECT_EQ(failures, 0u) << first_failure;
  EXPECT_GT(runs, 10u);
  EXPECT_GT(swaps, runs) << "the swapper did not race the analyzer (last errno " << swapper.last_errno()
                         << ")";
  RecordProperty("runs", std::to_string(runs));
  RecordProperty("swaps", std::to_string(swaps));
}

TEST_P(HostileTree, SkipsAFourGibSparseFileWithoutReadingIt) {
  constexpr off_t kFourGib = off_t{4} << 30;
  TempTree tree;
  // Names each analyzer wants the content of: a manifest, a requirements
  // file, a CI workflow, a source file.
  for (const char* rel :
       {"big/package.json", "big/requirements.txt", ".github/workflows/big.yml", "big/data.py"}) {
    tree.write(rel, "");
    ASSERT_EQ(::truncate((tree.root() / rel).c_str(), kFourGib), 0) << rel;
  }
  struct rusage before {};
  ::getrusage(RUSAGE_SELF, &before);
  auto [status, doc] = plugin_->analyze(inst_, tree.path(), R"({"include_dependencies":true})");
  struct rusage after {};
  ::getrusage(RUSAGE_SELF, &after);
  ASSERT_EQ(status, ISB_OK) << plugin_->descriptor()->last_error(inst_);
  // Reading any of them whole would add gigabytes to the peak.
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 256 * 1024)
      << "peak RSS grew by " << after.ru_maxrss - before.ru_maxrss << " KiB";
  const json::object facts = json::parse(doc).as_object();
  if (GetParam() == "languages") {
    EXPECT_EQ(facts.at("files").at("skipped").at("too_large").to_number<std::uint64_t>(), 4u) << doc;
  }
  if (GetParam() == "dependencies") {
    EXPECT_NE(doc.find("cannot read big/package.json: larger than max_file_bytes"), std::string::npos) << doc;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryAnalyzer, HostileTree,
                         ::testing::Values("languages", "codebase", "ci", "dependencies"),
                         [](const auto& info) { return info.param; });

}  // namespace
