// planner_rules_test: drives libisb-planner-rules.so across the C ABI.
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "plugin_loader.hpp"
#include "schema_check.hpp"

namespace json = boost::json;

namespace {

const char* kAnalysis = R"({
  "projects": [
    {"path": ".", "ecosystem": "python",
     "commands": {
       "install": {"argv": ["pip", "install", "-e", "."], "source": "pyproject", "confidence": 0.9,
                   "evidence": [{"file": "pyproject.toml", "detail": "build-system setuptools"}]},
       "test": {"argv": ["pytest", "-q"], "source": "pyproject",
                "evidence": [{"file": "pyproject.toml", "detail": "[tool.pytest.ini_options]"}]}}},
    {"path": "web", "name": "frontend", "ecosystem": "node",
     "commands": {
       "install": {"argv": ["npm", "ci"], "source": "package.json", "evidence": []},
       "build": {"shell": "npm run build", "source": "package.json", "evidence": []},
       "test": {"argv": ["npm", "test"], "source": "package.json", "evidence": []},
       "run": {"argv": ["npm", "start"], "source": "package.json", "evidence": []}}}
  ]
})";

class RulesPlanner : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = std::make_unique<TestPlugin>("libisb-planner-rules.so");
    inst_ = plugin_->create("{}");
    ASSERT_NE(inst_, nullptr);
  }
  void TearDown() override {
    if (inst_) plugin_->descriptor()->destroy(inst_);
  }

  std::pair<isb_status, std::string> plan_raw(const std::string& request) {
    return TestPlugin::call_json([&](const isb_json_out* o) {
      return plugin_->api<isb_planner_api>()->plan(inst_, request.c_str(), o);
    });
  }

  json::object plan(const std::string& task, const char* analysis = kAnalysis) {
    json::object req{{"task", task}, {"analysis", json::parse(analysis)}, {"options", json::object{}}};
    auto [s, doc] = plan_raw(json::serialize(req));
    EXPECT_EQ(s, ISB_OK) << error();
    return s == ISB_OK ? json::parse(doc).as_object() : json::object{};
  }

  static std::vector<std::string> ids(const json::object& p) {
    std::vector<std::string> out;
    for (const auto& s : p.at("steps").as_array()) out.emplace_back(s.at("id").as_string());
    return out;
  }
  //! "<id>@<cwd><-<dep>,<dep>" per step: order, place and dependencies at once.
  static std::vector<std::string> graph(const json::object& p) {
    std::vector<std::string> out;
    for (const auto& s : p.at("steps").as_array()) {
      std::string line = std::string(s.at("id").as_string()) + "@" + std::string(s.at("cwd").as_string());
      std::string deps;
      for (const auto& d : s.at("depends_on").as_array()) deps += (deps.empty() ? "" : ",") + std::string(d.as_string());
      out.push_back(deps.empty() ? line : line + "<-" + deps);
    }
    return out;
  }

  std::string error() { return plugin_->descriptor()->last_error(inst_); }

  std::unique_ptr<TestPlugin> plugin_;
  isb_instance* inst_ = nullptr;
};

TEST_F(RulesPlanner, TestIntentUsesAnalysisCommand) {
  EXPECT_EQ(plugin_->descriptor()->kind, ISB_KIND_PLANNER);
  EXPECT_STREQ(plugin_->descriptor()->id, "rules");
  EXPECT_STREQ(plugin_->descriptor()->name, "Rule-based planner");
  json::object p = plan("Just run the tests");
  EXPECT_EQ(p.at("planner"), "rules");
  EXPECT_EQ(p.at("task"), "Just run the tests");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["test"])"));
  EXPECT_EQ(p.at("implied"), json::array{});
  const json::array& steps = p.at("steps").as_array();
  ASSERT_EQ(steps.size(), 2u);
  const json::object& s = steps[0].as_object();
  EXPECT_EQ(s.at("id"), "test-1");
  EXPECT_EQ(s.at("phase"), "test");
  EXPECT_EQ(s.at("title"), "Run the tests of . (python)");
  EXPECT_EQ(s.at("argv"), json::parse(R"(["pytest","-q"])"));
  EXPECT_EQ(s.at("cwd"), ".");
  EXPECT_TRUE(s.at("timeout_s").is_null());
  EXPECT_EQ(s.at("depends_on"), json::array{});
  EXPECT_EQ(s.at("continue_on_error"), false);
  const json::object& prov = s.at("provenance").as_object();
  EXPECT_EQ(prov.at("project"), ".");
  EXPECT_EQ(prov.at("fact"), "projects[0].commands.test");
  EXPECT_EQ(prov.at("source"), "pyproject");
  EXPECT_EQ(prov.at("evidence").as_array().size(), 1u);
  EXPECT_EQ(steps[1].at("argv"), json::parse(R"(["npm","test"])"));
  EXPECT_EQ(steps[1].at("cwd"), "web");
  EXPECT_EQ(steps[1].at("provenance").at("fact"), "projects[1].commands.test");
  EXPECT_TRUE(p.at("unmet").as_array().empty());
}

TEST_F(RulesPlanner, MultipleIntentsOrderedByPhase) {
  json::object p = plan("Test it, then build it and install the deps first");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["install","build","test"])"));
  EXPECT_EQ(p.at("implied"), json::array{});
  // Each step waits for its own project's previous step only.
  EXPECT_EQ(graph(p), (std::vector<std::string>{"install-1@.", "install-2@web", "build-1@web<-install-2",
                                                "test-1@.<-install-1", "test-2@web<-build-1"}));
  const json::array& steps = p.at("steps").as_array();
  EXPECT_EQ(steps[2].at("shell"), "npm run build");
  EXPECT_EQ(schema_errors(p, "plan.schema.json"), "");
}

TEST_F(RulesPlanner, BacktickCommandBecomesCustomStep) {
  json::object p = plan("build, then run `make docs` and `make dist`");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["build","custom"])"));
  EXPECT_EQ(graph(p), (std::vector<std::string>{"install-1@web", "build-1@web<-install-1", "custom-1@.<-build-1",
                                                "custom-2@.<-custom-1"}));
  const json::array& steps = p.at("steps").as_array();
  EXPECT_EQ(steps[2].at("phase"), "custom");
  EXPECT_EQ(steps[2].at("shell"), "make docs");
  EXPECT_FALSE(steps[2].as_object().contains("argv"));
  EXPECT_EQ(steps[3].at("shell"), "make dist");
  EXPECT_EQ(steps[2].at("provenance").at("source"), "task");
  EXPECT_EQ(schema_errors(p, "plan.schema.json"), "");
}

TEST_F(RulesPlanner, UnmetIntentListedWithAvailableCommands) {
  json::object p = plan("lint and test .", R"({"projects":[{"path":".","ecosystem":"python","commands":{
      "install":{"argv":["pip","install","."]},"test":{"argv":["pytest"]}}}]})");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["lint","test"])"));
  EXPECT_EQ(graph(p), (std::vector<std::string>{"install-1@.", "test-1@.<-install-1"}));
  const json::array& unmet = p.at("unmet").as_array();
  ASSERT_EQ(unmet.size(), 1u);
  EXPECT_EQ(unmet[0].at("intent"), "lint");
  EXPECT_EQ(unmet[0].at("reason"), "no project has a lint command");
  EXPECT_EQ(unmet[0].at("available"), json::parse(R"j(["install (.)","test (.)"])j"));
  // An implied phase without a command is not implied, and never unmet.
  EXPECT_EQ(p.at("implied"), json::parse(R"(["install"])"));
  EXPECT_EQ(schema_errors(p, "plan.schema.json"), "");
}

TEST_F(RulesPlanner, NoIntentIsNotSupported) {
  json::object req{{"task", "make me a sandwich"}, {"analysis", json::parse(kAnalysis)}};
  auto [s, doc] = plan_raw(json::serialize(req));
  EXPECT_EQ(s, ISB_NOT_SUPPORTED);
  EXPECT_NE(error().find("found no intent"), std::string::npos) << error();
  EXPECT_NE(error().find("backticks"), std::string::npos) << error();
}

TEST_F(RulesPlanner, ScopedToNamedProject) {
  json::object p = plan("run the tests of web");
  EXPECT_EQ(graph(p), (std::vector<std::string>{"install-1@web", "build-1@web<-install-1", "test-1@web<-build-1"}));
  EXPECT_EQ(p.at("scope"), json::parse(R"(["web"])"));
  // By name, with "in the ... project".
  json::object byname = plan("build in the frontend project");
  EXPECT_EQ(graph(byname), (std::vector<std::string>{"install-1@web", "build-1@web<-install-1"}));
  // Scoped to ".": the build of web is not used, so build is unmet there.
  json::object root = plan("build and test in .");
  EXPECT_EQ(graph(root), (std::vector<std::string>{"install-1@.", "test-1@.<-install-1"}));
  ASSERT_EQ(root.at("unmet").as_array().size(), 1u);
  EXPECT_EQ(root.at("unmet").as_array()[0].at("reason"), "project '.' has no build command");
}

TEST_F(RulesPlanner, RunTheTestsIsNotRunIntent) {
  EXPECT_EQ(plan("run the tests").at("intents"), json::parse(R"(["test"])"));
  EXPECT_EQ(plan("Please run all tests.").at("intents"), json::parse(R"(["test"])"));
  EXPECT_EQ(plan("run the linter").at("intents"), json::parse(R"(["lint"])"));
  EXPECT_EQ(plan("check the formatting").at("intents"), json::parse(R"(["format"])"));
  json::object run = plan("build and run the app");
  EXPECT_EQ(run.at("intents"), json::parse(R"(["build","run"])"));
  EXPECT_EQ(ids(run), (std::vector<std::string>{"install-1", "build-1", "run-1"}));
  EXPECT_EQ(plan("start the server").at("intents"), json::parse(R"(["run"])"));
}

TEST_F(RulesPlanner, MalformedRequestInvalidArgument) {
  for (const char* bad : {"not json", "[]", R"({"analysis":{}})", R"({"task":5})", R"({"task":"  "})",
                          R"({"task":"test","analysis":{"projects":{}}})",
                          R"({"task":"test","analysis":{"projects":[{"path":".","commands":{"test":{"cmd":"x"}}}]}})"}) {
    auto [s, doc] = plan_raw(bad);
    EXPECT_EQ(s, ISB_INVALID_ARGUMENT) << bad;
    EXPECT_FALSE(error().empty()) << bad;
  }
}

}  // namespace

const char* kCmakeAndNode = R"({
  "projects": [
    {"path": "native", "ecosystem": "cmake",
     "commands": {
       "build": {"shell": "cmake -B build && cmake --build build", "source": "ecosystem_default", "evidence": []},
       "test": {"argv": ["ctest", "--test-dir", "build"], "source": "ecosystem_default", "evidence": []}}},
    {"path": "web", "ecosystem": "node",
     "commands": {
       "build": {"argv": ["npm", "run", "build"], "source": "package.json", "evidence": []},
       "test": {"argv": ["npm", "test"], "source": "package.json", "evidence": []},
       "clean": {"argv": ["npm", "run", "clean"], "source": "package.json", "evidence": []}}}
  ]
})";

TEST_F(RulesPlanner, TestsImplyTheBuildOfEachProjectThatHasOne) {
  json::object p = plan("run the tests", kCmakeAndNode);
  EXPECT_EQ(p.at("intents"), json::parse(R"(["test"])"));
  EXPECT_EQ(p.at("implied"), json::parse(R"(["build"])"));
  // No project has an install command, so none is implied.
  EXPECT_EQ(graph(p), (std::vector<std::string>{"build-1@native", "build-2@web", "test-1@native<-build-1",
                                                "test-2@web<-build-2"}));
  const json::array& steps = p.at("steps").as_array();
  EXPECT_EQ(steps[0].at("provenance").at("implied_by"), "test");
  EXPECT_EQ(steps[1].at("provenance").at("implied_by"), "test");
  EXPECT_FALSE(steps[2].at("provenance").as_object().contains("implied_by"));
  EXPECT_EQ(schema_errors(p, "plan.schema.json"), "");
}

TEST_F(RulesPlanner, AskedForBuildIsNotImplied) {
  json::object p = plan("build and test", kCmakeAndNode);
  EXPECT_EQ(p.at("intents"), json::parse(R"(["build","test"])"));
  EXPECT_EQ(p.at("implied"), json::array{});
  EXPECT_EQ(ids(p), (std::vector<std::string>{"build-1", "build-2", "test-1", "test-2"}));
}

TEST_F(RulesPlanner, CleanIntentRunsFirstAndIsUnmetWithoutAFact) {
  json::object p = plan("clean, then run the tests of web", kCmakeAndNode);
  EXPECT_EQ(p.at("intents"), json::parse(R"(["clean","test"])"));
  EXPECT_EQ(graph(p), (std::vector<std::string>{"clean-1@web", "build-1@web<-clean-1", "test-1@web<-build-1"}));
  json::object native = plan("clean in the native project", kCmakeAndNode);
  ASSERT_EQ(native.at("unmet").as_array().size(), 1u);
  EXPECT_EQ(native.at("unmet").as_array()[0].at("reason"), "project 'native' has no clean command");
  EXPECT_EQ(schema_errors(native, "plan.schema.json"), "");
}

TEST_F(RulesPlanner, SeveralIntentsAtOnceForOneProject) {
  json::object p = plan("install the dependencies, lint, then run the tests of the frontend package and build it");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["install","build","lint","test"])"));
  EXPECT_EQ(p.at("scope"), json::parse(R"(["web"])"));
  EXPECT_EQ(ids(p), (std::vector<std::string>{"install-1", "build-1", "test-1"}));
  ASSERT_EQ(p.at("unmet").as_array().size(), 1u);
  EXPECT_EQ(p.at("unmet").as_array()[0].at("intent"), "lint");
}

TEST_F(RulesPlanner, RunTheTestsImpliesInstallAndBuildPerProjectWithProvenance) {
  json::object p = plan("run the tests");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["test"])"));
  EXPECT_EQ(p.at("implied"), json::parse(R"(["install","build"])"));
  // The python project has no build command: install -> test there;
  // web gets install -> build -> test; the two chains are independent.
  EXPECT_EQ(graph(p), (std::vector<std::string>{"install-1@.", "install-2@web", "build-1@web<-install-2",
                                                "test-1@.<-install-1", "test-2@web<-build-1"}));
  const json::array& steps = p.at("steps").as_array();
  for (size_t i : {0u, 1u, 2u}) EXPECT_EQ(steps[i].at("provenance").at("implied_by"), "test") << i;
  for (size_t i : {3u, 4u}) EXPECT_FALSE(steps[i].at("provenance").as_object().contains("implied_by")) << i;
  EXPECT_EQ(steps[0].at("provenance").at("fact"), "projects[0].commands.install");
  EXPECT_EQ(steps[2].at("provenance").at("fact"), "projects[1].commands.build");
  EXPECT_EQ(schema_errors(p, "plan.schema.json"), "");
}

TEST_F(RulesPlanner, ProjectDeclaringNoDependenciesGetsNoImpliedInstall) {
  // Same projects, but the dependencies analyzer found the python project's
  // manifest declaring nothing, and the web project's declaring something.
  json::value a = json::parse(kAnalysis);
  json::array& ps = a.at("projects").as_array();
  ps[0].as_object()["dependency_count"] = json::parse(R"({"direct":0,"transitive":0})");
  ps[1].as_object()["dependency_count"] = json::parse(R"({"direct":3,"transitive":40})");
  const std::string analysis = json::serialize(a);
  json::object p = plan("run the tests", analysis.c_str());
  EXPECT_EQ(graph(p), (std::vector<std::string>{"install-1@web", "build-1@web<-install-1", "test-1@.",
                                                "test-2@web<-build-1"}));
  // Asked for explicitly, install is planned all the same.
  json::object asked = plan("install the dependencies", analysis.c_str());
  EXPECT_EQ(ids(asked), (std::vector<std::string>{"install-1", "install-2"}));
}

TEST_F(RulesPlanner, BuildAndTestOfOnePackageImpliesOnlyThatPackagesInstall) {
  json::object p = plan("build and test the frontend package");
  EXPECT_EQ(p.at("scope"), json::parse(R"(["web"])"));
  EXPECT_EQ(p.at("intents"), json::parse(R"(["build","test"])"));
  EXPECT_EQ(p.at("implied"), json::parse(R"(["install"])"));
  EXPECT_EQ(graph(p), (std::vector<std::string>{"install-1@web", "build-1@web<-install-1", "test-1@web<-build-1"}));
  // The first asked phase that needs the install names it.
  EXPECT_EQ(p.at("steps").as_array()[0].at("provenance").at("implied_by"), "build");
}

// The phrasing table of intents.cpp, one row per phrasing, against kAnalysis
// (".": install, test; "web": install, build, test, run).
TEST_F(RulesPlanner, PhrasingRulesSuppressOrKeepImpliedPhases) {
  struct Row {
    const char* task;
    std::vector<std::string> graph;
  };
  const std::vector<std::string> all = {"install-1@.", "install-2@web", "build-1@web<-install-2", "test-1@.<-install-1",
                                        "test-2@web<-build-1"};
  const std::vector<std::string> tests_only = {"test-1@.", "test-2@web"};
  const std::vector<std::string> no_install = {"build-1@web", "test-1@.", "test-2@web<-build-1"};
  const std::vector<std::string> no_build = {"install-1@.", "install-2@web", "test-1@.<-install-1",
                                             "test-2@web<-install-2"};
  const std::vector<Row> rows = {
      {"run the tests", all},
      {"Just run the tests", tests_only},
      {"only run the tests", tests_only},
      {"run the tests only", tests_only},
      {"run only the tests.", tests_only},
      {"run the tests but skip the install", no_install},
      {"run the tests without installing", no_install},
      {"test it, no install", no_install},
      {"don't install anything, run the tests", no_install},
      {"run the tests (do not install the dependencies)", no_install},
      {"run the tests, skip the build", no_build},
      {"run the tests without building", no_build},
      {"run the tests without installing or building", tests_only},
      {"skip the install and run the tests", no_install},  // "and" does not carry the exclusion on
      {"No, run the tests", all},                           // "no" binds to the very next word only
  };
  for (const auto& row : rows) {
    json::object p = plan(row.task);
    EXPECT_EQ(p.at("intents"), json::parse(R"(["test"])")) << row.task;
    EXPECT_EQ(graph(p), row.graph) << row.task;
  }
}

TEST_F(RulesPlanner, ExcludedIntentIsNotPlannedEvenWhenNamed) {
  json::object p = plan("build it but don't run the tests");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["build"])"));
  EXPECT_EQ(ids(p), (std::vector<std::string>{"install-1", "build-1"}));
  json::object q = plan("install, build and test; skip linting");
  EXPECT_EQ(q.at("intents"), json::parse(R"(["install","build","test"])"));
  EXPECT_TRUE(q.at("unmet").as_array().empty()) << "an excluded intent is not unmet";
}

const char* kPnpmWorkspace = R"({
  "projects": [
    {"path": ".", "ecosystem": "node",
     "commands": {"install": {"argv": ["pnpm", "install", "--frozen-lockfile"], "source": "ecosystem_default"},
                  "test": {"argv": ["pnpm", "test"], "source": "manifest_script"}}},
    {"path": "packages/api", "ecosystem": "node",
     "commands": {"test": {"argv": ["pnpm", "test"], "source": "manifest_script"}}},
    {"path": "packages/web", "ecosystem": "node",
     "commands": {"build": {"argv": ["pnpm", "run", "build"], "source": "manifest_script"},
                  "test": {"argv": ["pnpm", "test"], "source": "manifest_script"}}},
    {"path": "tools", "ecosystem": "python",
     "commands": {"test": {"argv": ["pytest"], "source": "pyproject"}}}
  ]
})";

TEST_F(RulesPlanner, PackageWithoutInstallIsInstalledByItsWorkspaceRoot) {
  json::object api = plan("run the tests of the api package", kPnpmWorkspace);
  EXPECT_EQ(graph(api), (std::vector<std::string>{"install-1@.", "test-1@packages/api<-install-1"}));
  const json::object& prov = api.at("steps").as_array()[0].at("provenance").as_object();
  EXPECT_EQ(prov.at("project"), ".");
  EXPECT_EQ(prov.at("implied_by"), "test");
  // Every project: one root install serves both packages; the python tool
  // (another ecosystem) is not installed by pnpm and runs on its own.
  json::object all = plan("run the tests", kPnpmWorkspace);
  EXPECT_EQ(graph(all), (std::vector<std::string>{"install-1@.", "build-1@packages/web<-install-1",
                                                  "test-1@.<-install-1", "test-2@packages/api<-install-1",
                                                  "test-3@packages/web<-build-1", "test-4@tools"}));
  EXPECT_EQ(schema_errors(all, "plan.schema.json"), "");
}
