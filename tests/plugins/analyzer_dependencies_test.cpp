// analyzer_dependencies_test.cpp: the dependencies analyzer plugin across the
// C ABI, one parser at a time: each test writes a small, real-world-shaped
// manifest (and lockfile) into a scratch tree and checks the exact
// dependencies, versions, scopes and lines reported. The fixture projects are
// compared in analyzer_dependencies_fixtures_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <isb/plugin_abi.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "plugin_loader.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace {

class Tree {
 public:
  Tree() {
    std::string tmpl = (fs::temp_directory_path() / "isb-deps-XXXXXX").string();
    root_ = mkdtemp(tmpl.data());
  }
  ~Tree() { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  std::string path() const { return root_.string(); }

 private:
  fs::path root_;
};

std::string str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : std::string("-"); }

class DependenciesAnalyzer : public ::testing::Test {
 protected:
  json::object analyze(const Tree& t, const std::string& options = R"({"include_dependencies":true})") {
    isb_instance* inst = plugin_.create("{}");
    auto [status, text] = TestPlugin::call_json([&](const isb_json_out* out) {
      return plugin_.api<isb_analyzer_api>()->analyze(inst, t.path().c_str(), options.c_str(), out);
    });
    EXPECT_EQ(status, ISB_OK) << plugin_.descriptor()->last_error(inst);
    plugin_.descriptor()->destroy(inst);
    return status == ISB_OK ? json::parse(text).as_object() : json::object{};
  }
  // "<name> <constraint|-> <resolved|-> <scope> <direct|transitive> <file>[:line]" per dependency.
  static std::vector<std::string> deps(const json::object& doc) {
    std::vector<std::string> out;
    for (const auto& d : doc.at("dependencies").as_array()) {
      const json::object& o = d.as_object();
      std::string line = str(o.at("name")) + " " + str(o.at("constraint")) + " " + str(o.at("resolved")) + " " +
                         str(o.at("scope")) + " " + (o.at("direct").as_bool() ? "direct" : "transitive") + " " +
                         str(o.at("file"));
      if (auto* l = o.if_contains("line")) line += ":" + std::to_string(l->as_int64());
      out.push_back(line);
    }
    return out;
  }
  static std::vector<std::string> warnings(const json::object& doc) {
    std::vector<std::string> out;
    for (const auto& w : doc.at("warnings").as_array()) out.emplace_back(w.as_string());
    return out;
  }
  TestPlugin plugin_{"libisb-analyzer-dependencies.so"};
};

}  // namespace

TEST_F(DependenciesAnalyzer, DescribesItselfAsAThreadSafeAnalyzer) {
  EXPECT_STREQ(plugin_.descriptor()->id, "dependencies");
  EXPECT_EQ(plugin_.descriptor()->kind, ISB_KIND_ANALYZER);
  EXPECT_TRUE(plugin_.descriptor()->capabilities & ISB_CAP_THREAD_SAFE);
}

TEST_F(DependenciesAnalyzer, RejectsARootThatDoesNotExist) {
  isb_instance* inst = plugin_.create("{}");
  auto [status, text] = TestPlugin::call_json([&](const isb_json_out* out) {
    return plugin_.api<isb_analyzer_api>()->analyze(inst, "/nonexistent/isb-deps", "{}", out);
  });
  EXPECT_EQ(status, ISB_INVALID_ARGUMENT);
  EXPECT_THAT(plugin_.descriptor()->last_error(inst), HasSubstr("/nonexistent/isb-deps"));
  plugin_.descriptor()->destroy(inst);
}

TEST_F(DependenciesAnalyzer, NpmWorkspaceMemberGetsItsNestedLockVersionBeforeTheRootOne) {
  Tree t;
  t.write("package.json", R"({"name":"mono","workspaces":["packages/*"],"devDependencies":{"typescript":"^5.3.0"}})");
  t.write("packages/app/package.json", R"({"name":"app","dependencies":{"lodash":"^3.10.0","lib":"workspace:*"}})");
  t.write("package-lock.json", R"({
  "lockfileVersion": 2,
  "packages": {
    "": {"name": "mono"},
    "node_modules/app": {"resolved": "packages/app", "link": true},
    "node_modules/lodash": {"version": "4.17.21"},
    "node_modules/typescript": {"version": "5.3.3", "dev": true},
    "packages/app": {"version": "1.0.0"},
    "packages/app/node_modules/lodash": {"version": "3.10.1"}
  }
})");
  // The root's lodash 4.17.21 is what other packages pull in: a transitive entry.
  EXPECT_THAT(deps(analyze(t)), ElementsAre("typescript ^5.3.0 5.3.3 dev direct package.json:1",
                                            "lodash - 4.17.21 runtime transitive package-lock.json:6",
                                            "lodash ^3.10.0 3.10.1 runtime direct packages/app/package.json:1"));
}

TEST_F(DependenciesAnalyzer, YarnV1LockResolvesTheEntryRecordedForTheDeclaredRange) {
  Tree t;
  t.write("package.json", "{\n  \"dependencies\": {\n    \"chalk\": \"^4.1.0\"\n  }\n}\n");
  t.write("yarn.lock", R"(# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


chalk@^2.4.2:
  version "2.4.2"
  resolved "https://registry.yarnpkg.com/chalk/-/chalk-2.4.2.tgz"

chalk@^4.1.0, chalk@^4.1.2:
  version "4.1.2"
  resolved "https://registry.yarnpkg.com/chalk/-/chalk-4.1.2.tgz"
  dependencies:
    supports-color "^7.1.0"

"supports-color@^7.1.0":
  version "7.2.0"
)");
  EXPECT_THAT(deps(analyze(t)), ElementsAre("chalk ^4.1.0 4.1.2 runtime direct package.json:3",
                                            "chalk - 2.4.2 runtime transitive yarn.lock:5",
                                            "supports-color - 7.2.0 runtime transitive yarn.lock:15"));
}

TEST_F(DependenciesAnalyzer, YarnBerryLockReadsNpmProtocolEntriesAndSkipsWorkspaces) {
  Tree t;
  t.write("package.json", R"({"name":"site","devDependencies":{"@types/node":"^20.11.0"}})");
  t.write("yarn.lock", R"(__metadata:
  version: 8
  cacheKey: 10c0

"@types/node@npm:^20.11.0":
  version: 20.11.16
  resolution: "@types/node@npm:20.11.16"
  languageName: node
  linkType: hard

"site@workspace:.":
  version: 0.0.0-use.local
  resolution: "site@workspace:."
  languageName: unknown
  linkType: soft
)");
  EXPECT_THAT(deps(analyze(t)), ElementsAre("@types/node ^20.11.0 20.11.16 dev direct package.json:1"));
}

TEST_F(DependenciesAnalyzer, PnpmV6LockResolvesImportersAndStripsPeerSuffixes) {
  Tree t;
  t.write("package.json", R"({"dependencies":{"react-dom":"^18.2.0"},"devDependencies":{"eslint":"^8.56.0"}})");
  t.write("pnpm-lock.yaml", R"(lockfileVersion: '6.0'

dependencies:
  react-dom:
    specifier: ^18.2.0
    version: 18.2.0(react@18.2.0)

devDependencies:
  eslint:
    specifier: ^8.56.0
    version: 8.56.0

packages:

  /eslint@8.56.0:
    resolution: {integrity: sha512-x}
    dev: true

  /loose-envify@1.4.0:
    resolution: {integrity: sha512-y}
    dev: false

  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-z}
    dev: false
)");
  EXPECT_THAT(deps(analyze(t)), ElementsAre("react-dom ^18.2.0 18.2.0 runtime direct package.json:1",
                                            "eslint ^8.56.0 8.56.0 dev direct package.json:1",
                                            "loose-envify - 1.4.0 runtime transitive pnpm-lock.yaml:19"));
}

TEST_F(DependenciesAnalyzer, RequirementsFollowIncludesOnceAndKeepMarkersAndPins) {
  Tree t;
  t.write("requirements.txt",
          "# runtime\n"
          "Flask==3.0.2  # web\n"
          "requests[socks]>=2.31,<3 ; python_version >= \"3.8\"\n"
          "gunicorn==21.2.0 \\\n"
          "    --hash=sha256:3213aa5e8c24949e792bcacfc176fef362e7aac80b76c56f6b5122bf350722f0\n"
          "-e ./libs/shared\n"
          "--index-url https://pypi.org/simple\n");
  t.write("requirements-dev.txt", "-r requirements.txt\npytest~=8.0\n");
  const json::object doc = analyze(t);
  EXPECT_THAT(deps(doc), ElementsAre("Flask ==3.0.2 3.0.2 runtime direct requirements.txt:2",
                                     "requests >=2.31,<3 - runtime direct requirements.txt:3",
                                     "gunicorn ==21.2.0 21.2.0 runtime direct requirements.txt:4",
                                     "pytest ~=8.0 - dev direct requirements-dev.txt:2"));
  EXPECT_EQ(doc.at("dependencies").as_array()[1].at("marker"), "python_version >= \"3.8\"");
  const json::object& proj = doc.at("dependency_projects").as_array()[0].as_object();
  EXPECT_EQ(proj.at("test_framework"), "pytest");
  EXPECT_THAT(warnings(doc), IsEmpty());
}

TEST_F(DependenciesAnalyzer, CargoReadsTargetTablesRenamesAndSkipsPathCrates) {
  Tree t;
  t.write("Cargo.toml", R"([package]
name = "agent"
version = "0.1.0"

[dependencies]
log = "0.4"
rustls = { package = "rustls-webpki", version = "0.102", optional = true }
helper = { path = "../helper" }

[target.'cfg(unix)'.dependencies]
nix = "0.27"
)");
  EXPECT_THAT(deps(analyze(t)), ElementsAre("log 0.4 - runtime direct Cargo.toml:6",
                                            "rustls-webpki 0.102 - optional direct Cargo.toml:7",
                                            "nix 0.27 - runtime direct Cargo.toml:11"));
}

TEST_F(DependenciesAnalyzer, CMakeCommandsSpanLinesAndCommentsAreIgnored) {
  Tree t;
  t.write("CMakeLists.txt", R"(cmake_minimum_required(VERSION 3.20)
project(tool C)
# find_package(Commented REQUIRED)
find_package(
  ZLIB 1.2.11   # system zlib
  EXACT REQUIRED)
FetchContent_Declare(catch2 URL https://example.com/Catch2-3.5.2.tar.gz)
find_package(${DEP_NAME})
)");
  EXPECT_THAT(deps(analyze(t)), ElementsAre("ZLIB 1.2.11 1.2.11 runtime direct CMakeLists.txt:4",
                                            "catch2 https://example.com/Catch2-3.5.2.tar.gz - test direct CMakeLists.txt:7"));
}

TEST_F(DependenciesAnalyzer, MixExsDepsTakeTheirScopeFromOnlyAndVersionsFromMixLock) {
  Tree t;
  t.write("mix.exs", R"(defmodule Chat.MixProject do
  use Mix.Project

  defp deps do
    [
      {:phoenix, "~> 1.7.10"},
      # {:commented, "~> 1.0"},
      {:ex_doc, "~> 0.31", only: :dev, runtime: false},
      {:mox, "~> 1.1", only: :test},
      {:shared, in_umbrella: true}
    ]
  end
end
)");
  t.write("mix.lock", R"(%{
  "ex_doc": {:hex, :ex_doc, "0.31.1", "8a2355ac42b1cc7b2379da9e40243f2670143721dd50748bf6c3b1184dae2089", [:mix], [], "hexpm", "3178c3a407c557d8343479e1ff117a96fd31bafe52a039079593fb0524ef61b0"},
  "mox": {:hex, :mox, "1.1.0", "0f5e399649ce9ab7602f72e718305c0f9cdc351190f72844599545e4996af73c", [:mix], [], "hexpm", "d44474c50be02d5b72131070281a5d3895c0e7a95c780e90bc0cfe712f633a13"},
  "phoenix": {:hex, :phoenix, "1.7.11", "1d88fc6b05ab0c735b250932c4e6e33bfa1c186f76dcf623d8dd52f07d6379c7", [:mix], [], "hexpm", "b1ec57f2e40316b306708fe59b92a16b9f6f4bf50ccfa41aa8c7feb79e0ec02a"},
}
)");
  const json::object doc = analyze(t);
  EXPECT_THAT(deps(doc), ElementsAre("phoenix ~> 1.7.10 1.7.11 runtime direct mix.exs:6",
                                     "ex_doc ~> 0.31 0.31.1 dev direct mix.exs:8",
                                     "mox ~> 1.1 1.1.0 test direct mix.exs:9"));
  EXPECT_EQ(doc.at("dependency_projects").as_array()[0].at("frameworks").as_array()[0].at("name"), "Phoenix");
}

TEST_F(DependenciesAnalyzer, MalformedXmlTomlAndYamlBecomeWarningsWithFileAndLine) {
  Tree t;
  t.write("api/pom.xml", "<project>\n  <dependencies>\n    <dependency>\n  </dependencies>\n</project>\n");
  t.write("web/package.json", R"({"dependencies":{"vue":"^3.4.0"}})");
  t.write("web/pnpm-lock.yaml", "lockfileVersion: '9.0'\nimporters:\n  .: [unclosed\n");
  t.write("py/pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\"httpx\"\n");
  const json::object doc = analyze(t);
  EXPECT_THAT(warnings(doc), ElementsAre(HasSubstr("api/pom.xml:4: invalid XML"),
                                         HasSubstr("py/pyproject.toml:3: invalid TOML"),
                                         HasSubstr("web/pnpm-lock.yaml:4: invalid YAML")));
  // The valid manifest is still analysed.
  EXPECT_THAT(deps(doc), ElementsAre("vue ^3.4.0 - runtime direct web/package.json:1"));
}

TEST_F(DependenciesAnalyzer, WithoutIncludeDependenciesReportsCountsAndFrameworksOnly) {
  Tree t;
  t.write("package.json", R"({"dependencies":{"express":"^4.18.2"},"devDependencies":{"mocha":"^10.2.0"}})");
  t.write(".mocharc.yml", "spec: test/**/*.spec.js\n");
  const json::object doc = analyze(t, R"({"include_dependencies":false})");
  EXPECT_FALSE(doc.contains("dependencies"));
  const json::object& p = doc.at("dependency_projects").as_array()[0].as_object();
  EXPECT_EQ(p.at("dependency_count"), (json::object{{"direct", 2}, {"transitive", 0}}));
  EXPECT_EQ(p.at("test_framework"), "Mocha");
  std::vector<std::string> names;
  for (const auto& f : p.at("frameworks").as_array()) names.emplace_back(f.at("name").as_string());
  EXPECT_THAT(names, ElementsAre("Express", "Mocha"));
}

TEST_F(DependenciesAnalyzer, ReadsOnlyManifestNamesOutsideVendoredDirectories) {
  Tree t;
  t.write("package.json.orig", R"({"dependencies":{"left-pad":"1.0.0"}})");
  t.write("node_modules/react/package.json", R"({"dependencies":{"loose-envify":"^1.1.0"}})");
  t.write("vendor/package.json", R"({"dependencies":{"jquery":"^3.0.0"}})");
  const json::object doc = analyze(t);
  EXPECT_THAT(deps(doc), IsEmpty());
  EXPECT_THAT(doc.at("dependency_projects").as_array(), IsEmpty());
}
