// plugin_host_test.cpp: PluginHost discovery, ABI checks and instance
// lifetime, against the real built-in plugins and against deliberately broken
// test plugins (tests/unit/bad_plugins, one directory per case).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isb/core/plugin_host.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

namespace isb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kRoot = ISB_TEST_BAD_PLUGIN_ROOT;

std::string case_dir(const std::string& c) { return kRoot + "/" + c; }
std::string case_file(const std::string& c, const std::string& what) {
  return case_dir(c) + "/libisb-test-" + what + ".so";
}

// A temp directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isb-plugin-host-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A directory fd to hand analyzers, closed at the end of the test.
class DirFd {
 public:
  explicit DirFd(const std::string& path) : fd_(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
    EXPECT_GE(fd_, 0) << path;
  }
  ~DirFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Loads one case directory; expects exactly one refusal and returns its message.
std::string refusal_of(const std::string& c) {
  PluginHost host;
  auto report = host.load_directories({case_dir(c)});
  EXPECT_TRUE(report.loaded.empty()) << "case " << c << " should not load";
  EXPECT_EQ(report.refused.size(), 1u) << "case " << c;
  EXPECT_TRUE(host.plugins().empty());
  return report.refused.empty() ? "" : report.refused.front();
}

TEST(PluginHostTest, LoadsBuiltInPlugins) {
  PluginHost host;
  auto report = host.load_directories({ISB_TEST_PLUGIN_DIR});
  for (const auto& r : report.refused) ADD_FAILURE() << "refused: " << r;
  struct Want {
    const char* id;
    int32_t kind;
  };
  for (const Want& w : {Want{"codebase", ISB_KIND_ANALYZER}, Want{"process", ISB_KIND_ISOLATION},
                        Want{"rules", ISB_KIND_PLANNER}, Want{"mcp-stdio", ISB_KIND_TRANSPORT}}) {
    const PluginInfo* info = host.find(w.id);
    ASSERT_NE(info, nullptr) << w.id << " was not loaded";
    EXPECT_EQ(info->kind, w.kind) << w.id;
    EXPECT_EQ(info->abi_major, ISB_ABI_MAJOR) << w.id;
    EXPECT_THAT(info->path, HasSubstr(std::string(ISB_TEST_PLUGIN_DIR) + "/libisb-")) << w.id;
    EXPECT_FALSE(info->version.empty()) << w.id;
  }
  EXPECT_THAT(host.ids_of_kind(ISB_KIND_ISOLATION), ::testing::Contains("process"));
  EXPECT_THAT(host.ids_of_kind(ISB_KIND_TRANSPORT), ::testing::Contains("mcp-stdio"));
  EXPECT_EQ(report.loaded.size(), host.plugins().size());
  EXPECT_GE(report.loaded.size(), 4u);
}

TEST(PluginHostTest, RefusesAbiMajorMismatchNamingBothVersions) {
  std::string m = refusal_of("abi-major");
  EXPECT_THAT(m, HasSubstr("'abi-major'"));
  // The plugin claims major 2 with this header's minor; the host has 1.<minor>.
  const std::string minor = "." + std::to_string(ISB_ABI_MINOR);
  EXPECT_THAT(m, HasSubstr("uses plugin ABI 2" + minor));
  EXPECT_THAT(m, HasSubstr("speaks ABI 1" + minor));
  EXPECT_THAT(m, HasSubstr(case_file("abi-major", "abi-major")));
}

TEST(PluginHostTest, RefusesNewerAbiMinor) {
  std::string m = refusal_of("abi-minor");
  const std::string plugin_abi = std::to_string(ISB_ABI_MAJOR) + "." + std::to_string(ISB_ABI_MINOR + 1);
  const std::string host_abi = std::to_string(ISB_ABI_MAJOR) + "." + std::to_string(ISB_ABI_MINOR);
  EXPECT_THAT(m, HasSubstr("'abi-minor'"));
  EXPECT_THAT(m, HasSubstr("needs plugin ABI " + plugin_abi));
  EXPECT_THAT(m, HasSubstr("only has " + host_abi));
  EXPECT_THAT(m, HasSubstr("upgrade"));
}

TEST(PluginHostTest, RefusesTruncatedDescriptor) {
  std::string m = refusal_of("small-descriptor");
  const size_t small = offsetof(isb_plugin_descriptor, kind_api);
  const size_t need = small + sizeof(void*);
  EXPECT_THAT(m, HasSubstr("'small-descriptor'"));
  EXPECT_THAT(m, HasSubstr("descriptor is " + std::to_string(small) + " bytes"));
  EXPECT_THAT(m, HasSubstr("less than the " + std::to_string(need)));
}

TEST(PluginHostTest, RefusesTruncatedKindTable) {
  std::string m = refusal_of("small-table");
  EXPECT_THAT(m, HasSubstr("'small-table'"));
  EXPECT_THAT(m, HasSubstr("analyzer function table is 4 bytes"));
  EXPECT_THAT(m, HasSubstr("less than the " + std::to_string(sizeof(isb_analyzer_api))));
}

TEST(PluginHostTest, RefusesNullFunction) {
  std::string m = refusal_of("null-fn");
  EXPECT_THAT(m, HasSubstr("'null-fn'"));
  EXPECT_THAT(m, HasSubstr("analyzer function table has NULL entries"));
}

TEST(PluginHostTest, RefusesBadId) {
  std::string m = refusal_of("bad-id");
  EXPECT_THAT(m, HasSubstr("'Bad_ID'"));
  EXPECT_THAT(m, HasSubstr("id must match ^[a-z0-9][a-z0-9-]{0,62}$"));
}

TEST(PluginHostTest, RefusesLibraryWithoutEntrySymbol) {
  std::string m = refusal_of("no-symbol");
  EXPECT_THAT(m, HasSubstr(case_file("no-symbol", "no-symbol")));
  EXPECT_THAT(m, HasSubstr("not an Intelligent Sandbox plugin (no isb_plugin_get symbol)"));

  PluginHost host;
  auto r = host.load_file(case_file("no-symbol", "no-symbol"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidConfig);
}

TEST(PluginHostTest, RefusesDuplicateIdNamingBothFiles) {
  PluginHost host;
  auto report = host.load_directories({case_dir("duplicate")});
  // Files load in name order: dup-a wins, dup-b is refused.
  ASSERT_EQ(report.loaded.size(), 1u);
  EXPECT_EQ(report.loaded[0].id, "dup");
  EXPECT_EQ(report.loaded[0].path, case_file("duplicate", "dup-a"));
  ASSERT_EQ(report.refused.size(), 1u);
  const std::string& m = report.refused[0];
  EXPECT_THAT(m, HasSubstr("'dup'"));
  EXPECT_THAT(m, HasSubstr(case_file("duplicate", "dup-a")));
  EXPECT_THAT(m, HasSubstr(case_file("duplicate", "dup-b")));
  EXPECT_THAT(m, HasSubstr("same id"));
  ASSERT_NE(host.find("dup"), nullptr);
  EXPECT_EQ(host.find("dup")->path, case_file("duplicate", "dup-a"));

  auto again = host.load_file(case_file("duplicate", "dup-b"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST(PluginHostTest, BadPluginDoesNotStopOthers) {
  TempDir dir;
  // "libisb-test-abi-major.so" sorts before "libisb-test-good.so": the bad one is tried first.
  fs::copy_file(case_file("abi-major", "abi-major"), dir.path() + "/libisb-test-abi-major.so");
  fs::copy_file(case_file("null-fn", "null-fn"), dir.path() + "/libisb-test-null-fn.so");
  fs::copy_file(case_file("good", "good"), dir.path() + "/libisb-test-good.so");
  PluginHost host;
  auto report = host.load_directories({dir.path() + "/does-not-exist", dir.path()});
  ASSERT_EQ(report.loaded.size(), 1u);
  EXPECT_EQ(report.loaded[0].id, "good");
  EXPECT_EQ(report.refused.size(), 2u);
  ASSERT_EQ(host.plugins().size(), 1u);
  EXPECT_EQ(host.plugins()[0].id, "good");
  EXPECT_EQ(host.find("abi-major"), nullptr);
  EXPECT_EQ(host.find("null-fn"), nullptr);
}

// Later minors append fields; a plugin built against the 1.0 header (whose
// analyzer table ends before analyze_tree) must keep loading and creating
// instances on this host. Its path form is never called on a tree: analyzing
// is refused with a message naming the plugin, its ABI and the fix
// (fail-closed, since 1.2).
TEST(PluginHostTest, PluginBuiltAgainstAnOlderMinorLoadsAndRuns) {
  static_assert(ISB_ABI_MINOR >= 2, "this test needs a host with analyze_tree");
  PluginHost host;
  auto loaded = host.load_file(case_file("older-minor", "older-minor"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->abi_minor, 0);
  auto inst = host.create("older-minor", ISB_KIND_ANALYZER, boost::json::object{});
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  AnalyzerPlugin analyzer(*inst);
  EXPECT_FALSE(analyzer.reads_tree_fd());
  TempDir tree;
  DirFd root(tree.path());
  auto r = analyzer.analyze(root.get(), boost::json::object{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(r.error().message, HasSubstr("analyzer 'older-minor'"));
  EXPECT_THAT(r.error().message, HasSubstr("plugin ABI 1.0"));
  EXPECT_THAT(r.error().message, HasSubstr("Rebuild it against ABI 1.2"));
}

TEST(PluginHostTest, AnalyzerGetsTheTreeAsADirectoryFd) {
  PluginHost host;
  ASSERT_TRUE(host.load_file(case_file("good", "good")).ok());
  auto inst = host.create("good", ISB_KIND_ANALYZER, boost::json::parse(R"({"threshold":1})"));
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  AnalyzerPlugin analyzer(*inst);
  EXPECT_TRUE(analyzer.reads_tree_fd());
  TempDir tree;
  DirFd root(tree.path());
  auto r = analyzer.analyze(root.get(), boost::json::object{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->at("root_is_dir").as_bool());
}

TEST(PluginHostTest, ConfigValidatedAgainstPluginSchema) {
  PluginHost host;
  auto loaded = host.load_file(case_file("good", "good"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_THAT(loaded->config_schema, HasSubstr("threshold"));

  auto wrong_type = host.create("good", ISB_KIND_ANALYZER, boost::json::parse(R"({"threshold":"high"})"));
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.error().code, ErrorCode::kInvalidConfig);
  EXPECT_THAT(wrong_type.error().message, HasSubstr("plugins.settings.good"));
  EXPECT_THAT(wrong_type.error().message, HasSubstr("threshold"));

  auto missing = host.create("good", ISB_KIND_ANALYZER, boost::json::object{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidConfig);
  EXPECT_THAT(missing.error().message, HasSubstr("threshold"));

  auto good = host.create("good", ISB_KIND_ANALYZER, boost::json::parse(R"({"threshold":3})"));
  ASSERT_TRUE(good.ok()) << good.error().message;
  TempDir tree;
  DirFd root(tree.path());
  auto r = AnalyzerPlugin(*good).analyze(root.get(), boost::json::object{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->at("ok").as_bool());
  EXPECT_EQ(r->at("id").as_string(), "good");
}

using CountFn = int (*)();

// Reads the good plugin's live-instance counter through a handle on the
// already loaded library (RTLD_NOLOAD: never loads a second copy). -1 when
// the library is not loaded.
int live_instances_if_loaded(const std::string& path) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (!h) return -1;
  auto fn = reinterpret_cast<CountFn>(dlsym(h, "isb_test_live_instances"));
  int n = fn ? fn() : -2;
  dlclose(h);
  return n;
}

TEST(PluginHostTest, InstanceKeepsLibraryLoaded) {
  const std::string path = case_file("good", "good");
  ASSERT_EQ(live_instances_if_loaded(path), -1) << "another test leaked the good plugin";
  std::shared_ptr<PluginInstance> inst;
  {
    PluginHost host;
    ASSERT_TRUE(host.load_file(path).ok());
    auto r = host.create("good", ISB_KIND_ANALYZER, boost::json::parse(R"({"threshold":1})"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    inst = *r;
    EXPECT_EQ(live_instances_if_loaded(path), 1);
  }
  // The host is gone; the instance alone keeps the library mapped.
  EXPECT_EQ(live_instances_if_loaded(path), 1);
  AnalyzerPlugin analyzer(inst);
  EXPECT_EQ(analyzer.info().id, "good");
  TempDir tree;
  DirFd root(tree.path());
  auto doc = analyzer.analyze(root.get(), boost::json::object{});
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_TRUE(doc->at("ok").as_bool());
  EXPECT_EQ(doc->at("live").as_int64(), 1);

  // Hold our own reference across the release to read the counter afterwards.
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(h, nullptr);
  auto live = reinterpret_cast<CountFn>(dlsym(h, "isb_test_live_instances"));
  auto destroyed = reinterpret_cast<CountFn>(dlsym(h, "isb_test_destroyed_count"));
  ASSERT_NE(live, nullptr);
  ASSERT_NE(destroyed, nullptr);
  analyzer = AnalyzerPlugin(nullptr);
  inst.reset();
  EXPECT_EQ(live(), 0);
  EXPECT_EQ(destroyed(), 1);
  dlclose(h);
  // Nothing refers to the library any more: it has been unloaded.
  EXPECT_EQ(live_instances_if_loaded(path), -1);
}

TEST(PluginHostTest, CreateUnknownPluginNamesLoadedOnes) {
  PluginHost host;
  host.load_directories({ISB_TEST_PLUGIN_DIR});
  auto r = host.create("firecracker", ISB_KIND_ISOLATION, boost::json::object{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message, HasSubstr("no isolation plugin 'firecracker' is loaded"));
  EXPECT_THAT(r.error().message, HasSubstr("loaded: "));
  EXPECT_THAT(r.error().message, HasSubstr("process"));
  // Only plugins of the requested kind are offered.
  EXPECT_THAT(r.error().message, Not(HasSubstr("codebase")));
}

TEST(PluginHostTest, CreateWrongKindIsError) {
  PluginHost host;
  host.load_directories({ISB_TEST_PLUGIN_DIR});
  ASSERT_NE(host.find("codebase"), nullptr);
  auto r = host.create("codebase", ISB_KIND_ISOLATION, boost::json::object{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidConfig);
  // Accepts "a"/"an": only the facts are asserted.
  EXPECT_THAT(r.error().message, HasSubstr("plugin 'codebase' is a"));
  EXPECT_THAT(r.error().message, HasSubstr("analyzer plugin, not a"));
  EXPECT_THAT(r.error().message, HasSubstr("isolation plugin"));
}

}  // namespace
}  // namespace isb
