// analyzer_fixtures_test.cpp: runs the codebase and ci analyzer plugins on
// every project under tests/fixtures/analysis/ and compares their facts with
// tests/fixtures/analysis/expected/<name>.json (format: the fixtures' README).
#include <gtest/gtest.h>
#include <isb/plugin_abi.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "plugin_loader.hpp"

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

json::object run(TestPlugin& plugin, const fs::path& root) {
  isb_instance* inst = plugin.create("{}");
  auto [status, doc] = plugin.analyze(inst, root.string());
  EXPECT_EQ(status, ISB_OK) << plugin.descriptor()->last_error(inst);
  plugin.descriptor()->destroy(inst);
  return status == ISB_OK ? json::parse(doc).as_object() : json::object{};
}

// The facts the expected files speak about, in the same shape.
json::array project_facts(const json::object& doc) {
  json::array out;
  for (const auto& p : doc.at("projects").as_array()) {
    json::object cmds;
    for (const auto& [kind, c] : p.at("commands").as_object()) {
      json::object o{{"source", c.at("source")}};
      if (auto* a = c.as_object().if_contains("argv")) o["argv"] = *a;
      if (auto* s = c.as_object().if_contains("shell")) o["shell"] = *s;
      cmds[kind] = std::move(o);
    }
    json::object o{{"path", p.at("path")},
                   {"ecosystem", p.at("ecosystem")},
                   {"package_manager", p.at("package_manager")},
                   {"commands", std::move(cmds)}};
    // Monorepo links and toolchain hints, whenever the analyzer reports them.
    for (const char* key : {"workspace_root", "members", "toolchain"})
      if (auto* v = p.as_object().if_contains(key)) o[key] = *v;
    out.push_back(std::move(o));
  }
  return out;
}

json::array ci_facts(const json::object& doc) {
  json::array out;
  for (const auto& c : doc.at("ci").as_array())
    out.push_back(json::object{
        {"line", c.at("line")}, {"run", c.at("run")}, {"cwd", c.at("cwd")}, {"kind", c.at("kind")}});
  return out;
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kFixtures / "expected"))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class FixtureFacts : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(FixtureSet, AtLeastTwelveFixtureProjectsHaveExpectedFacts) {
  EXPECT_GE(fixture_names().size(), 12u);
  for (const auto& n : fixture_names()) EXPECT_TRUE(fs::is_directory(kFixtures / n)) << n;
}

TEST_P(FixtureFacts, MatchExpectedFile) {
  const std::string name = GetParam();
  const json::object want = read_json(kFixtures / "expected" / (name + ".json")).as_object();
  TestPlugin codebase("libisb-analyzer-codebase.so");
  TestPlugin ci("libisb-analyzer-ci.so");
  const json::object facts = run(codebase, kFixtures / name);
  const json::object ci_doc = run(ci, kFixtures / name);
  EXPECT_EQ(project_facts(facts), want.at("projects")) << name;
  if (auto* c = want.if_contains("ci")) {
    EXPECT_EQ(ci_facts(ci_doc), *c) << name;
  }
  std::vector<std::string> warnings;
  for (const auto* d : {&facts, &ci_doc})
    for (const auto& w : d->at("warnings").as_array()) warnings.emplace_back(w.as_string());
  const json::array no_warnings;
  const json::array& want_w = want.contains("warnings") ? want.at("warnings").as_array() : no_warnings;
  ASSERT_EQ(warnings.size(), want_w.size()) << name << ": " << json::serialize(json::value_from(warnings));
  for (size_t i = 0; i < warnings.size(); ++i)
    EXPECT_NE(warnings[i].find(std::string(want_w[i].as_string())), std::string::npos)
        << name << ": warning " << warnings[i] << " lacks " << want_w[i].as_string();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureFacts, ::testing::ValuesIn(fixture_names()), [](const auto& info) {
  std::string n = info.param;
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});
