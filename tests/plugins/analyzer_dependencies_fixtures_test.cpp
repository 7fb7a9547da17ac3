// analyzer_dependencies_fixtures_test.cpp: runs the dependencies analyzer
// plugin (across the C ABI) on every tests/fixtures/analysis/deps-<name>/
// project and compares its facts with deps-expected/<name>.json, and
// validates every facts document against docs/schemas/analyzer-facts.schema.json.
//
// Expected file format (one line per fact, so a diff shows what changed):
//   "dependencies": "<ecosystem> <name> <constraint|-> <resolved|-> <scope> <direct|transitive> <file>[:line] in <project>"
//   "projects":     "<path> <ecosystem> direct=<n> transitive=<n> test=<framework|->"
//   "frameworks":   "<path> <name> <category> <version|-> <evidence file[:line]>, ..."
//   "warnings":     substrings each warning must contain, in order
#include <gtest/gtest.h>
#include <isb/plugin_abi.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "plugin_loader.hpp"
#include "schema_check.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const fs::path kFixtures = fs::path(ISB_SOURCE_DIR) / "tests/fixtures/analysis";

json::value read_json(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::string str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : std::string("-"); }

std::string where(const json::object& o) {
  std::string w = str(o.at("file"));
  if (auto* l = o.if_contains("line")) w += ":" + std::to_string(l->as_int64());
  return w;
}

json::array dependency_lines(const json::object& doc) {
  json::array out;
  for (const auto& d : doc.at("dependencies").as_array()) {
    const json::object& o = d.as_object();
    out.push_back(json::string(str(o.at("ecosystem")) + " " + str(o.at("name")) + " " + str(o.at("constraint")) +
                               " " + str(o.at("resolved")) + " " + str(o.at("scope")) + " " +
                               (o.at("direct").as_bool() ? "direct" : "transitive") + " " + where(o) + " in " +
                               str(o.at("project"))));
  }
  return out;
}

json::array project_lines(const json::object& doc) {
  json::array out;
  for (const auto& p : doc.at("dependency_projects").as_array()) {
    const json::object& o = p.as_object();
    const json::object& c = o.at("dependency_count").as_object();
    out.push_back(json::string(str(o.at("path")) + " " + str(o.at("ecosystem")) +
                               " direct=" + std::to_string(c.at("direct").as_int64()) +
                               " transitive=" + std::to_string(c.at("transitive").as_int64()) +
                               " test=" + str(o.at("test_framework"))));
  }
  return out;
}

json::array framework_lines(const json::object& doc) {
  json::array out;
  for (const auto& p : doc.at("dependency_projects").as_array())
    for (const auto& f : p.at("frameworks").as_array()) {
      const json::object& o = f.as_object();
      std::string line = str(p.at("path")) + " " + str(o.at("name")) + " " + str(o.at("category")) + " " +
                         str(o.at("version"));
      std::string sep = " ";
      for (const auto& e : o.at("evidence").as_array()) {
        line += sep + where(e.as_object());
        sep = ", ";
      }
      out.push_back(json::string(line));
    }
  return out;
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kFixtures / "deps-expected"))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class DependencyFixture : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(DependencyFixtureSet, EveryEcosystemHasAFixtureWithExpectedFacts) {
  const std::vector<std::string> names = fixture_names();
  for (const char* want : {"node", "python-poetry", "python-uv", "rust-workspace", "maven", "go", "ruby", "php",
                           "dotnet", "cmake", "pnpm-monorepo", "malformed"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  for (const auto& n : names) EXPECT_TRUE(fs::is_directory(kFixtures / ("deps-" + n))) << n;
}

TEST_P(DependencyFixture, MatchesExpectedFactsAndValidatesAgainstTheSchema) {
  const std::string name = GetParam();
  const json::object want = read_json(kFixtures / "deps-expected" / (name + ".json")).as_object();

  TestPlugin plugin("libisb-analyzer-dependencies.so");
  isb_instance* inst = plugin.create("{}");
  ASSERT_NE(inst, nullptr);
  const std::string root = (kFixtures / ("deps-" + name)).string();
  auto [status, text] = plugin.analyze(inst, root, "{\"include_dependencies\":true}");
  ASSERT_EQ(status, ISB_OK) << plugin.descriptor()->last_error(inst);
  plugin.descriptor()->destroy(inst);
  const json::value doc_value = json::parse(text);
  const json::object& doc = doc_value.as_object();

  EXPECT_EQ(schema_errors(doc_value, "analyzer-facts.schema.json"), "");

  EXPECT_EQ(dependency_lines(doc), want.at("dependencies")) << json::serialize(dependency_lines(doc));
  EXPECT_EQ(project_lines(doc), want.at("projects")) << json::serialize(project_lines(doc));
  EXPECT_EQ(framework_lines(doc), want.at("frameworks")) << json::serialize(framework_lines(doc));
  const json::array no_warnings;
  const json::array& want_w = want.contains("warnings") ? want.at("warnings").as_array() : no_warnings;
  const json::array& got_w = doc.at("warnings").as_array();
  ASSERT_EQ(got_w.size(), want_w.size()) << json::serialize(got_w);
  for (size_t i = 0; i < got_w.size(); ++i)
    EXPECT_NE(std::string(got_w[i].as_string()).find(std::string(want_w[i].as_string())), std::string::npos)
        << got_w[i].as_string() << " lacks " << want_w[i].as_string();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DependencyFixture, ::testing::ValuesIn(fixture_names()), [](const auto& info) {
  std::string n = info.param;
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});
