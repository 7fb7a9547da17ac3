// doctor_test.cpp: intelligent-sandbox doctor's report against a backend whose
// probe is scripted (test_plugins/scripted_isolation.cpp), so the verdict,
// the fixes and the path checks are tested the same on every host.
#include <isb/core/doctor.hpp>
#include <isb/core/isolation_backends.hpp>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::HasSubstr;

namespace {

class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isb-doctor-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    config_.sandbox.base_dir = root_ + "/base";
    config_.isolation.backend = "scripted";
    config_.security.level = isb::SecurityLevel::kMedium;
  }
  void TearDown() override { fs::remove_all(root_); }

  void script(const std::vector<std::string>& enforced, const std::string& fix = "") {
    json::array list;
    for (const auto& e : enforced) list.emplace_back(e);
    json::object settings{{"enforced", list}};
    if (!fix.empty()) settings["fix"] = fix;
    config_.plugins.settings_json["scripted"] = json::serialize(settings);
  }
  isb::doctor::Report examine() {
    return isb::doctor::examine(config_, {.plugin_dirs = {ISB_TEST_SCRIPTED_PLUGIN_DIR}, .only_plugin_dirs = true});
  }
  static const json::array& problems(const isb::doctor::Report& r) { return r.doc.at("problems").as_array(); }

  std::string root_;
  isb::Config config_;
};

TEST_F(DoctorTest, LevelMetByTheDefaultBackendIsOkWithNoProblems) {
  script(isb::required_protections(isb::SecurityLevel::kMedium));
  auto r = examine();
  EXPECT_TRUE(r.ok) << json::serialize(r.doc);
  EXPECT_TRUE(r.doc.at("ok").as_bool());
  EXPECT_TRUE(r.doc.at("security").at("met").as_bool());
  EXPECT_EQ(r.doc.at("isolation").at("default").as_string(), "scripted");
  EXPECT_TRUE(problems(r).empty()) << json::serialize(r.doc);
  const auto& backend = r.doc.at("isolation").at("backends").as_array().at(0).as_object();
  EXPECT_TRUE(backend.at("meets_level").as_bool());
  // Every protection is listed, required or not, with its detail.
  EXPECT_EQ(backend.at("protections").as_array().size(), 17u);
  EXPECT_THAT(isb::doctor::render_summary(r), HasSubstr("everything security.level medium needs is enforced"));
}

TEST_F(DoctorTest, MissingProtectionsAreAnErrorWithTheBackendsFixAndTheAlternatives) {
  script({"rlimits", "process_group_kill", "wall_clock_timeout"}, "run the server as root");
  auto r = examine();
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.doc.at("security").at("met").as_bool());
  ASSERT_EQ(problems(r).size(), 1u) << json::serialize(r.doc);
  const auto& p = problems(r).at(0).as_object();
  EXPECT_EQ(p.at("severity").as_string(), "error");
  EXPECT_THAT(std::string(p.at("what").as_string()), HasSubstr("security.level medium needs mount_namespace"));
  EXPECT_THAT(std::string(p.at("what").as_string()), HasSubstr("every create_workspace is refused"));
  EXPECT_EQ(p.at("fix").as_string(), "run the server as root");
  EXPECT_THAT(json::serialize(p.at("alternatives")), HasSubstr("SANDBOX_SECURITY_LEVEL=low"));
  // The protection itself carries the fix, and is marked as required.
  bool seen = false;
  for (const auto& pv : r.doc.at("isolation").at("backends").as_array().at(0).at("protections").as_array()) {
    if (pv.at("name") != "seccomp") continue;
    seen = true;
    EXPECT_FALSE(pv.at("enforced").as_bool());
    EXPECT_TRUE(pv.at("required").as_bool());
    EXPECT_EQ(pv.at("fix").as_string(), "run the server as root");
  }
  EXPECT_TRUE(seen);
  const std::string text = isb::doctor::render_text(r);
  EXPECT_THAT(text, HasSubstr("NOT OK: security.level medium is NOT met by the scripted backend"));
  EXPECT_THAT(text, HasSubstr("fix: run the server as root"));
  EXPECT_THAT(text, HasSubstr("or:  knowingly accept weaker isolation"));
}

TEST_F(DoctorTest, AllowDegradedStillReportsTheLevelAsUnmet) {
  script({"rlimits", "process_group_kill", "wall_clock_timeout"});
  config_.security.allow_degraded = true;
  auto r = examine();
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(problems(r).size(), 1u);
  EXPECT_THAT(std::string(problems(r).at(0).at("what").as_string()), HasSubstr("workspaces are created degraded"));
}

TEST_F(DoctorTest, NoUsableBackendIsAnError) {
  config_.isolation.backend = "nonexistent";
  config_.isolation.fallback_isolation = false;
  script(isb::required_protections(isb::SecurityLevel::kMedium));
  auto r = examine();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.doc.at("isolation").at("default").is_null());
  EXPECT_THAT(std::string(problems(r).at(0).at("what").as_string()),
              HasSubstr("no isolation plugin 'nonexistent' is loaded"));
}

TEST_F(DoctorTest, ConfigFileWritableByOthersIsAnErrorNamingPathAndMode) {
  script(isb::required_protections(isb::SecurityLevel::kMedium));
  const std::string file = root_ + "/sandbox.yaml";
  std::ofstream(file) << "security:\n  level: medium\n";
  ::chmod(file.c_str(), 0666);
  config_.source = file;
  auto r = examine();
  EXPECT_FALSE(r.ok);
  ASSERT_FALSE(problems(r).empty());
  const auto& p = problems(r).at(0).as_object();
  EXPECT_EQ(p.at("severity").as_string(), "error");
  EXPECT_THAT(std::string(p.at("what").as_string()), HasSubstr("config file " + file));
  EXPECT_THAT(std::string(p.at("what").as_string()), HasSubstr("mode 0666"));
  EXPECT_EQ(p.at("fix").as_string(), "chmod go-w " + file);
  EXPECT_EQ(r.doc.at("config").at("file").at("mode").as_string(), "0666");
}

TEST_F(DoctorTest, StateDirectoriesAreListedAndOneWritableByOthersIsAWarning) {
  script(isb::required_protections(isb::SecurityLevel::kMedium));
  fs::create_directories(config_.state_dir());
  ::chmod(config_.state_dir().c_str(), 0777);
  auto r = examine();
  EXPECT_TRUE(r.ok) << "a warning does not fail the level";
  bool state_listed = false, workspaces_listed = false;
  for (const auto& dv : r.doc.at("directories").as_array()) {
    const auto& d = dv.as_object();
    if (d.at("role") == "state_dir, audit_log_dir") {  // one directory, checked once
      state_listed = true;
      EXPECT_EQ(d.at("path").as_string(), config_.state_dir());
      EXPECT_EQ(d.at("mode").as_string(), "0777");
      EXPECT_TRUE(d.at("writable").as_bool());
    }
    if (d.at("role") == "workspaces_dir") {
      workspaces_listed = true;
      EXPECT_FALSE(d.at("exists").as_bool());
      EXPECT_THAT(std::string(d.at("note").as_string()), HasSubstr("created at start"));
    }
  }
  EXPECT_TRUE(state_listed && workspaces_listed);
  ASSERT_EQ(problems(r).size(), 1u);
  EXPECT_EQ(problems(r).at(0).at("severity").as_string(), "warning");
  EXPECT_EQ(problems(r).at(0).at("fix").as_string(), "chmod go-w " + config_.state_dir());
}

TEST_F(DoctorTest, DiskSpaceAndHowDiskMbIsHeldAreReported) {
  script(isb::required_protections(isb::SecurityLevel::kMedium));
  config_.isolation.resource_limits.disk_mb = int64_t{1} << 40;  // more than any disk here
  auto r = examine();
  const auto& disk = r.doc.at("disk").as_object();
  EXPECT_GT(disk.at("free_mb").as_int64(), 0);
  EXPECT_GT(disk.at("total_mb").as_int64(), 0);
  EXPECT_EQ(disk.at("measured_at").as_string(), root_);  // base_dir does not exist yet
  bool warned = false;
  for (const auto& p : problems(r)) warned |= std::string(p.at("what").as_string()).find("MB free") != std::string::npos;
  EXPECT_TRUE(warned) << json::serialize(r.doc);
  const std::string held(r.doc.at("disk_limit").at("enforced_by").as_string());
  EXPECT_TRUE(held == "disk_image" || held == "watch") << held;
}

}  // namespace
