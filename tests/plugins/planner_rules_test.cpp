// planner_rules_test: drives libisb-planner-rules.so across the C ABI.
#include "plugin_loader.hpp"

#include <boost/json.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include <fstream>
#include <sstream>

namespace json = boost::json;

namespace {

//! Validates doc against docs/schemas/<file>; returns the error list ("" when valid).
std::string schema_errors(const json::value& doc, const std::string& file) {
  std::ifstream in(std::string(ISB_SOURCE_DIR) + "/docs/schemas/" + file);
  std::stringstream text;
  text << in.rdbuf();
  json::value schema_doc = json::parse(text.str());
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::BoostJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::BoostJsonAdapter doc_adapter(doc);
  if (validator.validate(schema, doc_adapter, &results)) return "";
  std::string out;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) {
    std::string ctx;
    for (const auto& c : e.context) ctx += c;
    out += ctx + ": " + e.description + "\n";
  }
  return out.empty() ? "invalid" : out;
}

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

  std::string error() { return plugin_->descriptor()->last_error(inst_); }

  std::unique_ptr<TestPlugin> plugin_;
  isb_instance* inst_ = nullptr;
};

TEST_F(RulesPlanner, TestIntentUsesAnalysisCommand) {
  EXPECT_EQ(plugin_->descriptor()->kind, ISB_KIND_PLANNER);
  EXPECT_STREQ(plugin_->descriptor()->id, "rules");
  EXPECT_STREQ(plugin_->descriptor()->name, "Rule-based planner");
  json::object p = plan("Run the tests");
  EXPECT_EQ(p.at("planner"), "rules");
  EXPECT_EQ(p.at("task"), "Run the tests");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["test"])"));
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
  EXPECT_EQ(ids(p), (std::vector<std::string>{"install-1", "install-2", "build-1", "test-1", "test-2"}));
  const json::array& steps = p.at("steps").as_array();
  EXPECT_EQ(steps[2].at("shell"), "npm run build");
  EXPECT_EQ(steps[2].at("depends_on"), json::parse(R"(["install-1","install-2"])"));
  EXPECT_EQ(steps[3].at("depends_on"), json::parse(R"(["build-1"])"));
  EXPECT_EQ(steps[0].at("depends_on"), json::array{});
  EXPECT_EQ(schema_errors(p, "plan.schema.json"), "");
}

TEST_F(RulesPlanner, BacktickCommandBecomesCustomStep) {
  json::object p = plan("build, then run `make docs` and `make dist`");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["build","custom"])"));
  EXPECT_EQ(ids(p), (std::vector<std::string>{"build-1", "custom-1", "custom-2"}));
  const json::array& steps = p.at("steps").as_array();
  EXPECT_EQ(steps[1].at("phase"), "custom");
  EXPECT_EQ(steps[1].at("shell"), "make docs");
  EXPECT_FALSE(steps[1].as_object().contains("argv"));
  EXPECT_EQ(steps[1].at("depends_on"), json::parse(R"(["build-1"])"));
  EXPECT_EQ(steps[2].at("shell"), "make dist");
  EXPECT_EQ(steps[2].at("depends_on"), json::parse(R"(["custom-1"])"));
  EXPECT_EQ(steps[1].at("provenance").at("source"), "task");
  EXPECT_EQ(schema_errors(p, "plan.schema.json"), "");
}

TEST_F(RulesPlanner, UnmetIntentListedWithAvailableCommands) {
  json::object p = plan("lint and test .", R"({"projects":[{"path":".","ecosystem":"python","commands":{
      "install":{"argv":["pip","install","."]},"test":{"argv":["pytest"]}}}]})");
  EXPECT_EQ(p.at("intents"), json::parse(R"(["lint","test"])"));
  EXPECT_EQ(ids(p), (std::vector<std::string>{"test-1"}));
  const json::array& unmet = p.at("unmet").as_array();
  ASSERT_EQ(unmet.size(), 1u);
  EXPECT_EQ(unmet[0].at("intent"), "lint");
  EXPECT_EQ(unmet[0].at("reason"), "no project has a lint command");
  EXPECT_EQ(unmet[0].at("available"), json::parse(R"j(["install (.)","test (.)"])j"));
  // Nothing implied: a test step does not drag in install.
  EXPECT_EQ(p.at("steps").as_array()[0].at("depends_on"), json::array{});
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
  EXPECT_EQ(ids(p), (std::vector<std::string>{"test-1"}));
  EXPECT_EQ(p.at("steps").as_array()[0].at("cwd"), "web");
  EXPECT_EQ(p.at("scope"), json::parse(R"(["web"])"));
  // By name, with "in the ... project".
  json::object byname = plan("build in the frontend project");
  EXPECT_EQ(ids(byname), (std::vector<std::string>{"build-1"}));
  EXPECT_EQ(byname.at("steps").as_array()[0].at("cwd"), "web");
  // Scoped to ".": the build of web is not used, so build is unmet there.
  json::object root = plan("build and test in .");
  EXPECT_EQ(ids(root), (std::vector<std::string>{"test-1"}));
  EXPECT_EQ(root.at("steps").as_array()[0].at("cwd"), ".");
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
  EXPECT_EQ(ids(run), (std::vector<std::string>{"build-1", "run-1"}));
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

TEST_F(RulesPlanner, TestsOfCmakeProjectImplyItsBuildOnly) {
  json::object p = plan("run the tests", kCmakeAndNode);
  EXPECT_EQ(p.at("intents"), json::parse(R"(["test"])"));
  EXPECT_EQ(p.at("implied"), json::parse(R"(["build"])"));
  // Only the CMake project gets the implied build; npm test needs none.
  EXPECT_EQ(ids(p), (std::vector<std::string>{"build-1", "test-1", "test-2"}));
  const json::array& steps = p.at("steps").as_array();
  EXPECT_EQ(steps[0].at("cwd"), "native");
  EXPECT_EQ(steps[0].at("provenance").at("implied_by"), "test");
  EXPECT_EQ(steps[1].at("depends_on"), json::parse(R"(["build-1"])"));
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
  EXPECT_EQ(ids(p), (std::vector<std::string>{"clean-1", "test-1"}));
  EXPECT_EQ(p.at("steps").as_array()[1].at("depends_on"), json::parse(R"(["clean-1"])"));
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
