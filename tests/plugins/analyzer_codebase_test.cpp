// analyzer_codebase_test.cpp: drives libisb-analyzer-codebase.so across the C ABI
// on fixture trees built in a fresh temporary directory per test.
#include <gtest/gtest.h>
#include <isb/plugin_abi.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "analyzer_fixture.hpp"
#include "plugin_loader.hpp"
#include "schema_check.hpp"
#include "temp_tree.hpp"

namespace json = boost::json;

namespace {

class CodebaseTest : public AnalyzerTest {
 protected:
  CodebaseTest() : AnalyzerTest("libisb-analyzer-codebase.so") {}
};

const json::array& projects(const json::object& doc) { return doc.at("projects").as_array(); }

const json::object& project(const json::object& doc, const std::string& path, const std::string& eco) {
  for (const auto& p : projects(doc))
    if (p.at("path") == json::string(path) && p.at("ecosystem") == json::string(eco)) return p.as_object();
  static const json::object none;
  ADD_FAILURE() << "no " << eco << " project at " << path << " in " << json::serialize(doc.at("projects"));
  return none;
}

json::array argv(std::initializer_list<const char*> items) {
  json::array a;
  for (const char* s : items) a.push_back(json::string(s));
  return a;
}

json::array strs(std::initializer_list<const char*> items) { return argv(items); }

std::vector<std::string> warnings(const json::object& doc) {
  std::vector<std::string> out;
  for (const auto& w : doc.at("warnings").as_array()) out.emplace_back(w.as_string());
  return out;
}

bool has_warning(const json::object& doc, std::initializer_list<const char*> parts) {
  for (const auto& w : warnings(doc)) {
    bool all = true;
    for (const char* p : parts) all = all && w.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

const json::object& cmd(const json::object& proj, const char* kind) {
  static const json::object none;
  const auto& cmds = proj.at("commands").as_object();
  if (!cmds.contains(kind)) {
    ADD_FAILURE() << "no " << kind << " command in " << json::serialize(proj);
    return none;
  }
  return cmds.at(kind).as_object();
}

std::string evidence_file(const json::object& c, size_t i = 0) {
  return std::string(c.at("evidence").as_array().at(i).at("file").as_string());
}
std::string evidence_detail(const json::object& c, size_t i = 0) {
  return std::string(c.at("evidence").as_array().at(i).at("detail").as_string());
}

}  // namespace

TEST_F(CodebaseTest, DescriptorHasAbiAndKind) {
  const isb_plugin_descriptor* d = plugin_->descriptor();
  EXPECT_GE(d->struct_size, sizeof(isb_plugin_descriptor));
  EXPECT_EQ(d->abi_major, ISB_ABI_MAJOR);
  EXPECT_EQ(d->abi_minor, ISB_ABI_MINOR);
  EXPECT_EQ(d->kind, ISB_KIND_ANALYZER);
  EXPECT_STREQ(d->id, "codebase");
  EXPECT_STREQ(d->name, "Projects and commands");
  EXPECT_STREQ(d->version, "0.2.0");
  ASSERT_NE(d->config_schema, nullptr);
  json::value schema = json::parse(d->config_schema);
  EXPECT_EQ(schema.at("additionalProperties"), json::value(false));
  EXPECT_TRUE(schema.at("properties").as_object().contains("max_file_bytes"));
  ASSERT_NE(d->kind_api, nullptr);
  EXPECT_GE(plugin_->api<isb_analyzer_api>()->struct_size, sizeof(isb_analyzer_api));

  // Config: unknown keys and follow_symlinks=true are rejected.
  isb_instance* bad = nullptr;
  EXPECT_EQ(d->create(nullptr, R"({"colour":"red"})", &bad), ISB_INVALID_CONFIG);
  EXPECT_EQ(bad, nullptr);
  EXPECT_NE(std::string(d->last_error(nullptr)).find("colour"), std::string::npos);
  EXPECT_EQ(d->create(nullptr, R"({"follow_symlinks":true})", &bad), ISB_INVALID_CONFIG);
  EXPECT_EQ(d->create(nullptr, R"({"max_file_bytes":-1})", &bad), ISB_INVALID_CONFIG);
  isb_instance* ok = nullptr;
  ASSERT_EQ(d->create(nullptr, R"({"max_file_bytes":1024,"follow_symlinks":false})", &ok), ISB_OK);
  d->destroy(ok);
}

TEST_F(CodebaseTest, PythonUnittestProjectGetsUnittestCommand) {
  TempTree t;
  t.write("pyproject.toml", "[project]\nname = \"calc\"\nversion = \"1.0\"\n");
  t.write("calc.py", "def add(a, b):\n    return a + b\n");
  t.write("test_calc.py", "import unittest\nimport calc\n\nclass T(unittest.TestCase):\n    pass\n");
  json::object doc = analyze(t);
  ASSERT_EQ(projects(doc).size(), 1u);
  const auto& p = project(doc, ".", "python");
  EXPECT_EQ(p.at("package_manager"), "pip");
  EXPECT_EQ(p.at("package_manager_reason"), "no lockfile of another manager; pip is the default");
  EXPECT_EQ(p.at("manifests"), strs({"pyproject.toml"}));
  EXPECT_EQ(p.at("lockfiles"), json::array());
  const auto& test = cmd(p, "test");
  EXPECT_EQ(test.at("argv"), argv({"python3", "-m", "unittest", "discover", "-v"}));
  EXPECT_EQ(test.at("cwd"), ".");
  EXPECT_EQ(test.at("source"), "ecosystem_default");
  EXPECT_DOUBLE_EQ(test.at("confidence").as_double(), 0.5);
  EXPECT_EQ(evidence_file(test), "test_calc.py");
  EXPECT_EQ(evidence_detail(test), "unittest test module found, no pytest configuration");
  const auto& install = cmd(p, "install");
  EXPECT_EQ(install.at("argv"), argv({"python3", "-m", "pip", "install", "-e", "."}));
  EXPECT_FALSE(p.at("commands").as_object().contains("build"));  // no [build-system]
  EXPECT_EQ(p.at("commands").as_object().size(), 2u);
}

TEST_F(CodebaseTest, PythonPytestConfiguredUsesPytest) {
  {
    TempTree t;
    t.write("pyproject.toml",
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n"
            "[project]\nname = \"app\"\nversion = \"0.1\"\n\n[tool.pytest.ini_options]\ntestpaths = "
            "[\"tests\"]\n");
    t.write("requirements.txt", "requests==2.31\n");
    t.write("tests/test_app.py", "def test_x():\n    assert True\n");
    json::object doc = analyze(t);
    const auto& p = project(doc, ".", "python");
    EXPECT_EQ(p.at("manifests"), strs({"pyproject.toml", "requirements.txt"}));
    const auto& test = cmd(p, "test");
    EXPECT_EQ(test.at("argv"), argv({"python3", "-m", "pytest"}));
    EXPECT_EQ(evidence_file(test), "pyproject.toml");
    EXPECT_EQ(evidence_detail(test), "[tool.pytest.ini_options] configures pytest");
    EXPECT_DOUBLE_EQ(test.at("confidence").as_double(), 0.7);
    EXPECT_EQ(cmd(p, "install").at("argv"),
              argv({"python3", "-m", "pip", "install", "-r", "requirements.txt"}));
    const auto& build = cmd(p, "build");
    EXPECT_EQ(build.at("argv"), argv({"python3", "-m", "build"}));
    EXPECT_EQ(evidence_detail(build), "[build-system] uses hatchling.build");
  }
  {  // uv project: pytest only as a dependency-group entry.
    TempTree t;
    t.write("pyproject.toml",
            "[project]\nname = \"svc\"\nversion = \"0.1\"\ndependencies = [\"fastapi\"]\n\n"
            "[dependency-groups]\ndev = [\"ruff\", \"PyTest>=8\"]\n");
    t.write("uv.lock", "version = 1\n");
    json::object doc = analyze(t);
    const auto& p = project(doc, ".", "python");
    EXPECT_EQ(p.at("package_manager"), "uv");
    EXPECT_EQ(p.at("package_manager_reason"), "uv.lock present");
    EXPECT_EQ(p.at("lockfiles"), strs({"uv.lock"}));
    EXPECT_EQ(cmd(p, "install").at("argv"), argv({"uv", "sync"}));
    const auto& test = cmd(p, "test");
    EXPECT_EQ(test.at("argv"), argv({"uv", "run", "pytest"}));
    EXPECT_EQ(evidence_detail(test), "pytest listed in dependency-groups.dev");
  }
  {  // poetry with conftest.py
    TempTree t;
    t.write("pyproject.toml", "[tool.poetry]\nname = \"x\"\n");
    t.write("poetry.lock", "# lock\n");
    t.write("conftest.py", "\n");
    json::object doc = analyze(t);
    const auto& p = project(doc, ".", "python");
    EXPECT_EQ(p.at("package_manager"), "poetry");
    EXPECT_EQ(cmd(p, "install").at("argv"), argv({"poetry", "install"}));
    EXPECT_EQ(cmd(p, "test").at("argv"), argv({"poetry", "run", "pytest"}));
    EXPECT_EQ(evidence_file(cmd(p, "test")), "conftest.py");
  }
}

TEST_F(CodebaseTest, NodeNpmPlaceholderTestIsNotACommand) {
  TempTree t;
  t.write(
      "package.json",
      R"({"name":"x","version":"1.0.0","scripts":{"test":"echo \"Error: no test specified\" && exit 1"}})");
  t.write("package-lock.json", R"({"lockfileVersion":3})");
  t.write("index.js", "console.log('hi');\n");
  json::object doc = analyze(t);
  ASSERT_EQ(projects(doc).size(), 1u);
  const auto& p = project(doc, ".", "node");
  EXPECT_EQ(p.at("package_manager"), "npm");
  EXPECT_EQ(p.at("package_manager_reason"), "package-lock.json present");
  EXPECT_EQ(p.at("lockfiles"), strs({"package-lock.json"}));
  EXPECT_EQ(cmd(p, "install").at("argv"), argv({"npm", "ci"}));
  const auto& cmds = p.at("commands").as_object();
  EXPECT_FALSE(cmds.contains("test"));
  EXPECT_FALSE(cmds.contains("build"));
  EXPECT_EQ(cmds.size(), 1u);
  EXPECT_TRUE(has_warning(doc, {"package.json", "placeholder", "no test specified"})) << json::serialize(doc);
}

TEST_F(CodebaseTest, NodePnpmFromLockfileAndScripts) {
  TempTree t;
  t.write("package.json",
          R"({"name":"web","scripts":{"build":"tsc -p .","test":"vitest run","lint":"eslint ."}})");
  t.write("pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
  t.write("app/package.json", R"({"name":"app","packageManager":"yarn@4.1.0","scripts":{"test":"jest"}})");
  t.write("app/pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
  json::object doc = analyze(t);
  ASSERT_EQ(projects(doc).size(), 2u);
  const auto& p = project(doc, ".", "node");
  EXPECT_EQ(p.at("package_manager"), "pnpm");
  EXPECT_EQ(p.at("package_manager_reason"), "pnpm-lock.yaml present");
  EXPECT_EQ(cmd(p, "install").at("argv"), argv({"pnpm", "install", "--frozen-lockfile"}));
  EXPECT_DOUBLE_EQ(cmd(p, "install").at("confidence").as_double(), 0.7);
  const auto& build = cmd(p, "build");
  EXPECT_EQ(build.at("argv"), argv({"pnpm", "run", "build"}));
  EXPECT_EQ(build.at("source"), "manifest_script");
  EXPECT_DOUBLE_EQ(build.at("confidence").as_double(), 0.9);
  EXPECT_EQ(evidence_file(build), "package.json");
  EXPECT_EQ(evidence_detail(build), "scripts.build: tsc -p .");
  EXPECT_EQ(cmd(p, "test").at("argv"), argv({"pnpm", "test"}));
  EXPECT_EQ(cmd(p, "lint").at("argv"), argv({"pnpm", "run", "lint"}));
  // packageManager wins over the lockfile.
  const auto& app = project(doc, "app", "node");
  EXPECT_EQ(app.at("package_manager"), "yarn");
  EXPECT_EQ(app.at("package_manager_reason"), "package.json packageManager field is \"yarn@4.1.0\"");
  EXPECT_EQ(cmd(app, "test").at("argv"), argv({"yarn", "test"}));
  EXPECT_EQ(cmd(app, "test").at("cwd"), "app");
  EXPECT_EQ(evidence_file(cmd(app, "test")), "app/package.json");
  EXPECT_EQ(cmd(app, "install").at("argv"), argv({"yarn", "install"}));
}

TEST_F(CodebaseTest, GoAndRustDefaults) {
  TempTree t;
  t.write("svc/go.mod", "module example.com/svc\n\ngo 1.22\n");
  t.write("svc/main.go", "package main\n\nfunc main() {}\n");
  t.write("cli/Cargo.toml", "[package]\nname = \"cli\"\nversion = \"0.1.0\"\n");
  t.write("cli/Cargo.lock", "version = 3\n");
  t.write("cli/src/main.rs", "fn main() {}\n");
  json::object doc = analyze(t);
  ASSERT_EQ(projects(doc).size(), 2u);
  EXPECT_EQ(projects(doc)[0].at("path"), "cli");
  EXPECT_EQ(projects(doc)[1].at("path"), "svc");
  const auto& go = project(doc, "svc", "go");
  EXPECT_EQ(go.at("package_manager"), "go");
  EXPECT_EQ(cmd(go, "install").at("argv"), argv({"go", "mod", "download"}));
  EXPECT_EQ(cmd(go, "build").at("argv"), argv({"go", "build", "./..."}));
  EXPECT_EQ(cmd(go, "test").at("argv"), argv({"go", "test", "./..."}));
  EXPECT_EQ(cmd(go, "test").at("cwd"), "svc");
  EXPECT_EQ(evidence_file(cmd(go, "test")), "svc/go.mod");
  EXPECT_EQ(go.at("lockfiles"), json::array());
  const auto& rs = project(doc, "cli", "rust");
  EXPECT_EQ(rs.at("package_manager"), "cargo");
  EXPECT_EQ(rs.at("lockfiles"), strs({"Cargo.lock"}));
  EXPECT_EQ(cmd(rs, "install").at("argv"), argv({"cargo", "fetch"}));
  EXPECT_EQ(cmd(rs, "build").at("argv"), argv({"cargo", "build"}));
  EXPECT_EQ(cmd(rs, "test").at("argv"), argv({"cargo", "test"}));
  EXPECT_DOUBLE_EQ(cmd(rs, "test").at("confidence").as_double(), 0.7);
}

TEST_F(CodebaseTest, CMakeTestOnlyWithEnableTesting) {
  {
    TempTree t;
    t.write("CMakeLists.txt",
            "cmake_minimum_required(VERSION 3.20)\nproject(x CXX)\n# enable_testing()\n"
            "add_subdirectory(src)\n");
    t.write("src/CMakeLists.txt", "add_executable(x main.cpp)\n");
    json::object doc = analyze(t);
    ASSERT_EQ(projects(doc).size(), 1u);  // nested CMakeLists.txt is not a project
    const auto& p = project(doc, ".", "cmake");
    const auto& build = cmd(p, "build");
    EXPECT_EQ(build.at("shell"), "cmake -S . -B build && cmake --build build");
    EXPECT_FALSE(build.contains("argv"));
    EXPECT_FALSE(p.at("commands").as_object().contains("test"));
  }
  {
    TempTree t;
    t.write("CMakeLists.txt", "cmake_minimum_required(VERSION 3.20)\nproject(x CXX)\nENABLE_TESTING ()\n");
    json::object doc = analyze(t);
    const auto& test = cmd(project(doc, ".", "cmake"), "test");
    EXPECT_EQ(test.at("argv"), argv({"ctest", "--test-dir", "build", "--output-on-failure"}));
    EXPECT_EQ(evidence_file(test), "CMakeLists.txt");
    EXPECT_EQ(evidence_detail(test), "line 3: ENABLE_TESTING ()");
  }
  {  // add_test only in a nested file
    TempTree t;
    t.write("CMakeLists.txt", "project(x)\nadd_subdirectory(tests)\n");
    t.write("tests/CMakeLists.txt", "add_executable(t t.cpp)\nadd_test(NAME t COMMAND t)\n");
    json::object doc = analyze(t);
    const auto& test = cmd(project(doc, ".", "cmake"), "test");
    EXPECT_EQ(evidence_file(test), "tests/CMakeLists.txt");
    EXPECT_EQ(evidence_detail(test), "line 2: add_test(NAME t COMMAND t)");
  }
}

TEST_F(CodebaseTest, MakefileTargetsParsed) {
  TempTree t;
  t.write(
      "Makefile",
      "CC := gcc\nCFLAGS = -O2 -Wall -DX=a:b\n.PHONY: all test lint\n\nall: app\n\napp: main.o\n"
      "\t$(CC) -o app main.o\n%.o: %.c\n\t$(CC) -c $<\ntest: app\n\t./app --selftest\nlint:\n\techo lint\n");
  t.write("main.c", "int main(void) { return 0; }\n");
  t.write("lib/Makefile", "build check: \n\ttrue\n");
  t.write("lib/package.json", R"({"name":"lib","scripts":{"build":"node build.js"}})");
  json::object doc = analyze(t);
  ASSERT_EQ(projects(doc).size(), 3u);
  const auto& m = project(doc, ".", "make");
  const auto& build = cmd(m, "build");
  EXPECT_EQ(build.at("argv"), argv({"make"}));
  EXPECT_EQ(build.at("source"), "makefile_target");
  EXPECT_DOUBLE_EQ(build.at("confidence").as_double(), 0.9);
  EXPECT_EQ(evidence_detail(build), "default target: all");
  EXPECT_EQ(cmd(m, "test").at("argv"), argv({"make", "test"}));
  EXPECT_EQ(cmd(m, "lint").at("argv"), argv({"make", "lint"}));
  // A Makefile next to package.json: both projects, sorted by ecosystem.
  EXPECT_EQ(projects(doc)[1].at("ecosystem"), "make");
  EXPECT_EQ(projects(doc)[2].at("ecosystem"), "node");
  const auto& lib = project(doc, "lib", "make");
  EXPECT_EQ(evidence_detail(cmd(lib, "build")), "default target: build");
  EXPECT_EQ(cmd(lib, "test").at("argv"), argv({"make", "check"}));
  EXPECT_FALSE(lib.at("commands").as_object().contains("lint"));
  EXPECT_EQ(cmd(project(doc, "lib", "node"), "build").at("argv"), argv({"npm", "run", "build"}));
}

TEST_F(CodebaseTest, NestedProjectsInMonorepo) {
  TempTree t;
  t.write("package.json", R"({"name":"mono","private":true,"workspaces":["packages/*"]})");
  t.write("pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
  t.write("packages/web/package.json", R"({"name":"web","scripts":{"test":"vitest"}})");
  t.write("services/api/pyproject.toml", "[project]\nname = \"api\"\n");
  t.write("services/api/tests/test_api.py", "import unittest\n");
  t.write("services/api/worker/requirements.txt", "celery\n");
  t.write("services/api/worker/test_worker.py", "import unittest\n");
  t.write("tools/cli/Cargo.toml", "[package]\nname = \"cli\"\n");
  t.write("node_modules/dep/package.json", R"({"name":"dep"})");
  t.write("native/CMakeLists.txt", "project(n)\nadd_subdirectory(sub)\n");
  t.write("native/sub/CMakeLists.txt", "add_library(s s.c)\n");
  json::object doc = analyze(t);
  std::vector<std::string> got;
  for (const auto& p : projects(doc))
    got.push_back(std::string(p.at("path").as_string()) + ":" + std::string(p.at("ecosystem").as_string()));
  EXPECT_EQ(got,
            (std::vector<std::string>{".:node", "native:cmake", "packages/web:node", "services/api:python",
                                      "services/api/worker:python", "tools/cli:rust"}));
  const auto& web = project(doc, "packages/web", "node");
  EXPECT_EQ(web.at("package_manager"), "pnpm");
  EXPECT_EQ(web.at("package_manager_reason"), "workspace member of .: pnpm-lock.yaml present");
  EXPECT_EQ(web.at("workspace_root"), ".");
  EXPECT_EQ(project(doc, ".", "node").at("members"), strs({"packages/web"}));
  EXPECT_FALSE(web.at("commands").as_object().contains("install"));
  EXPECT_EQ(cmd(web, "test").at("argv"), argv({"pnpm", "test"}));
  // Each Python project finds its own tests only.
  const auto& api = project(doc, "services/api", "python");
  EXPECT_EQ(evidence_file(cmd(api, "test")), "services/api/tests/test_api.py");
  EXPECT_EQ(cmd(api, "test").at("cwd"), "services/api");
  const auto& worker = project(doc, "services/api/worker", "python");
  EXPECT_EQ(evidence_file(cmd(worker, "test")), "services/api/worker/test_worker.py");
  EXPECT_EQ(cmd(worker, "install").at("argv"),
            argv({"python3", "-m", "pip", "install", "-r", "requirements.txt"}));
}

TEST_F(CodebaseTest, DotnetSolutionCoversItsProjectsAndTestsNeedATestProject) {
  TempTree t;
  t.write("shop/Shop.sln", "\n");
  t.write("shop/src/Shop/Shop.csproj", "<Project Sdk=\"Microsoft.NET.Sdk\"/>\n");
  t.write("shop/tests/Shop.Tests/Shop.Tests.csproj",
          "<Project Sdk=\"Microsoft.NET.Sdk\">\n  <ItemGroup>\n"
          "    <PackageReference Include=\"Microsoft.NET.Test.Sdk\" Version=\"17.10.0\" />\n"
          "  </ItemGroup>\n</Project>\n");
  t.write("tools/A.csproj", "<Project/>\n");  // no enclosing solution: its own project
  t.write("tools/B.fsproj", "<Project/>\n");
  t.write("broken/Broken.csproj", "<Project>\n<ItemGroup>\n</Project>\n");
  json::object doc = analyze(t);
  std::vector<std::string> got;
  for (const auto& p : projects(doc)) got.push_back(std::string(p.at("path").as_string()));
  EXPECT_EQ(got, (std::vector<std::string>{"broken", "shop", "tools"}));
  const auto& sln = project(doc, "shop", "dotnet");
  EXPECT_EQ(sln.at("manifests"), strs({"Shop.sln"}));
  EXPECT_EQ(cmd(sln, "install").at("argv"), argv({"dotnet", "restore"}));
  EXPECT_EQ(cmd(sln, "build").at("argv"), argv({"dotnet", "build", "--no-restore"}));
  EXPECT_EQ(cmd(sln, "test").at("argv"), argv({"dotnet", "test", "--no-build"}));
  EXPECT_EQ(cmd(sln, "test").at("cwd"), "shop");
  EXPECT_EQ(cmd(sln, "test").at("confidence").as_double(), 0.7);
  EXPECT_EQ(evidence_file(cmd(sln, "test")), "shop/tests/Shop.Tests/Shop.Tests.csproj");
  EXPECT_EQ(evidence_detail(cmd(sln, "test")), "PackageReference Microsoft.NET.Test.Sdk");
  // Two project files in one directory: the CLI refuses to guess, so the first is named.
  const auto& tools = project(doc, "tools", "dotnet");
  EXPECT_EQ(cmd(tools, "build").at("argv"), argv({"dotnet", "build", "--no-restore", "A.csproj"}));
  EXPECT_EQ(cmd(tools, "test").at("confidence").as_double(), 0.5);
  EXPECT_TRUE(has_warning(doc, {"broken/Broken.csproj", "invalid XML", "line "}))
      << json::serialize(doc.at("warnings"));
}

TEST_F(CodebaseTest, RubyUsesRspecFromTheLockfileElseTheRakefileTestTask) {
  TempTree t;
  t.write("a/Gemfile", "source 'https://rubygems.org'\ngem 'rails'\n");
  t.write("a/Gemfile.lock", "GEM\n  specs:\n    rspec-core (3.13.0)\n");
  t.write("b/Gemfile", "gem \"minitest\"\n");
  t.write("b/Rakefile", "require 'rake/testtask'\n\nRake::TestTask.new(:test) do |t|\nend\n");
  t.write("c/Gemfile", "gem \"sinatra\"\n");
  t.write("c/Rakefile", "task :build do\nend\n");
  json::object doc = analyze(t);
  const auto& a = project(doc, "a", "ruby");
  EXPECT_EQ(cmd(a, "test").at("argv"), argv({"bundle", "exec", "rspec"}));
  EXPECT_EQ(evidence_detail(cmd(a, "test")), "line 3: rspec-core locked");
  EXPECT_EQ(a.at("lockfiles"), strs({"Gemfile.lock"}));
  const auto& b = project(doc, "b", "ruby");
  EXPECT_EQ(cmd(b, "test").at("argv"), argv({"bundle", "exec", "rake", "test"}));
  EXPECT_EQ(evidence_detail(cmd(b, "test")), "line 3: test task");
  EXPECT_EQ(cmd(b, "install").at("argv"), argv({"bundle", "install"}));
  const auto& c = project(doc, "c", "ruby");
  EXPECT_FALSE(c.at("commands").as_object().contains("test")) << json::serialize(c);
}

TEST_F(CodebaseTest, PhpComposerScriptBeatsPhpunitAndBadJsonIsAWarning) {
  TempTree t;
  t.write("a/composer.json",
          R"({"require-dev":{"phpunit/phpunit":"^10"},"scripts":{"test":["@lint","phpunit"]}})");
  t.write("b/composer.json", R"({"require-dev":{"phpunit/phpunit":"^10"}})");
  t.write("c/composer.json", "{\n  \"name\": \"x\",\n  oops\n}\n");
  t.write("c/phpunit.xml", "<phpunit/>\n");
  json::object doc = analyze(t);
  const auto& a = project(doc, "a", "php");
  EXPECT_EQ(cmd(a, "test").at("argv"), argv({"composer", "run-script", "test"}));
  EXPECT_EQ(evidence_detail(cmd(a, "test")), "scripts.test: @lint; phpunit");
  const auto& b = project(doc, "b", "php");
  EXPECT_EQ(cmd(b, "test").at("argv"), argv({"vendor/bin/phpunit"}));
  EXPECT_EQ(evidence_detail(cmd(b, "test")), "require-dev has phpunit/phpunit");
  const auto& c = project(doc, "c", "php");
  EXPECT_EQ(evidence_file(cmd(c, "test")), "c/phpunit.xml");
  EXPECT_TRUE(has_warning(doc, {"c/composer.json:3: invalid JSON"})) << json::serialize(doc.at("warnings"));
}

TEST_F(CodebaseTest, PnpmWorkspaceGlobsWithNegationAndDoubleStar) {
  TempTree t;
  t.write("package.json", R"({"name":"root","packageManager":"pnpm@9.1.0+sha512.abc"})");
  t.write("pnpm-workspace.yaml", "packages:\n  - 'packages/**'\n  - '!packages/legacy'\n  - apps/site\n");
  t.write("packages/a/package.json", R"({"scripts":{"test":"vitest"}})");
  t.write("packages/group/b/package.json", R"({"scripts":{"test":"vitest"}})");
  t.write("packages/legacy/package.json", "{}");
  t.write("apps/site/package.json", "{}");
  t.write("apps/other/package.json", "{}");
  json::object doc = analyze(t);
  const auto& root = project(doc, ".", "node");
  EXPECT_EQ(root.at("members"), strs({"apps/site", "packages/a", "packages/group/b"}));
  EXPECT_EQ(root.at("workspace_file"), "pnpm-workspace.yaml");
  EXPECT_EQ(root.at("toolchain").at("pnpm").at("version"), "9.1.0");
  const auto& b = project(doc, "packages/group/b", "node");
  EXPECT_EQ(b.at("workspace_root"), ".");
  EXPECT_EQ(b.at("package_manager"), "pnpm");
  // Members run their scripts from their own directory (see workspaces.cpp).
  EXPECT_EQ(cmd(b, "test").at("cwd"), "packages/group/b");
  EXPECT_FALSE(b.at("commands").as_object().contains("install"));
  EXPECT_FALSE(project(doc, "packages/legacy", "node").contains("workspace_root"));
  EXPECT_FALSE(project(doc, "apps/other", "node").contains("workspace_root"));
}

TEST_F(CodebaseTest, ToolchainHintsPreferVersionFilesOverAsdfOverManifestRanges) {
  TempTree t;
  t.write(".tool-versions", "nodejs 18.19.0\npython 3.12.2 3.11.8\ngolang 1.21.0\n");
  t.write("web/package.json", R"({"engines":{"node":">=16","pnpm":">=8"}})");
  t.write("web/.nvmrc", "# pinned\nlts/iron\n");
  t.write("old/package.json", R"({"engines":{"node":">=16"}})");
  t.write("py/pyproject.toml", "[project]\nname = \"p\"\nrequires-python = \">=3.9\"\n");
  t.write("go/go.mod", "module m\n\ngo 1.22 // language version\n\ntoolchain go1.22.4\n");
  t.write("rs/Cargo.toml", "[package]\nname = \"r\"\nrust-version = \"1.74\"\n");
  t.write("rs/rust-toolchain", "nightly-2024-05-01\n");
  t.write("jv/pom.xml", "<project><properties><java.version>21</java.version></properties></project>\n");
  json::object doc = analyze(t);
  auto hint = [&](const char* path, const char* eco, const char* tool) {
    const auto& tc = project(doc, path, eco).at("toolchain").as_object();
    return json::serialize(tc.at(tool));
  };
  EXPECT_EQ(hint("web", "node", "node"), R"({"version":"lts/iron","source":"web/.nvmrc"})");
  EXPECT_EQ(hint("web", "node", "pnpm"),
            R"({"version":">=8","source":"web/package.json","field":"engines.pnpm"})");
  EXPECT_EQ(hint("old", "node", "node"),
            R"({"version":"18.19.0","source":".tool-versions","field":"nodejs"})");
  EXPECT_EQ(hint("py", "python", "python"),
            R"({"version":"3.12.2","source":".tool-versions","field":"python"})");
  EXPECT_EQ(hint("go", "go", "go"), R"({"version":"1.22.4","source":"go/go.mod","field":"toolchain"})");
  EXPECT_EQ(hint("rs", "rust", "rust"), R"({"version":"nightly-2024-05-01","source":"rs/rust-toolchain"})");
  EXPECT_EQ(hint("jv", "maven", "java"),
            R"({"version":"21","source":"jv/pom.xml","field":"properties.java.version"})");
  // Only the ecosystem's own tools: the Go project gets no node hint from .tool-versions.
  EXPECT_EQ(project(doc, "go", "go").at("toolchain").as_object().size(), 1u);
}

TEST_F(CodebaseTest, RootFdThatIsNotAnOpenDirectoryIsInvalidArgument) {
  auto [status, doc] = plugin_->analyze_fd(inst_, -1, "{}");
  EXPECT_EQ(status, ISB_INVALID_ARGUMENT);
  EXPECT_TRUE(doc.empty());
  std::string err = plugin_->descriptor()->last_error(inst_);
  EXPECT_NE(err.find("root_dirfd -1 is not an open directory"), std::string::npos) << err;

  TempTree t;
  t.write("file.txt", "x\n");
  const int file = ::open((t.root() / "file.txt").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  auto [s2, d2] = plugin_->analyze_fd(inst_, file, "{}");
  ::close(file);
  EXPECT_EQ(s2, ISB_INVALID_ARGUMENT);
  err = plugin_->descriptor()->last_error(inst_);
  EXPECT_NE(err.find("is not an open directory"), std::string::npos) << err;

  auto [s3, d3] = call(inst_, t.path(), "[1,2]");
  EXPECT_EQ(s3, ISB_INVALID_ARGUMENT);
}

TEST_F(CodebaseTest, MalformedPackageJsonIsWarning) {
  TempTree t;
  t.write("package.json", "{ \"name\": \"broken\", ");
  t.write("py/pyproject.toml", "[project\nname = 1\n");
  json::object doc = analyze(t);
  EXPECT_TRUE(has_warning(doc, {"package.json", "invalid JSON"})) << json::serialize(doc.at("warnings"));
  EXPECT_TRUE(has_warning(doc, {"py/pyproject.toml", "invalid TOML", "line 1"}))
      << json::serialize(doc.at("warnings"));
  const auto& node = project(doc, ".", "node");
  EXPECT_EQ(cmd(node, "install").at("argv"), argv({"npm", "install"}));
  EXPECT_EQ(node.at("commands").as_object().size(), 1u);
  const auto& py = project(doc, "py", "python");
  EXPECT_EQ(py.at("commands").as_object().size(), 0u);
}

TEST_F(CodebaseTest, OutputValidatesAgainstSchema) {
  const std::string kSchema = "analyzer-facts.schema.json";
  std::vector<json::value> docs;
  {
    TempTree t;
    t.write("CMakeLists.txt", "project(x)\nenable_testing()\n");
    t.write("Makefile", "all:\n\techo\n");
    t.write("web/package.json",
            R"({"scripts":{"build":"vite build","test":"echo \"Error: no test specified\" && exit 1"}})");
    t.write("api/pyproject.toml", "[build-system]\nrequires=[]\n[project]\nname='a'\n");
    t.write("api/test_a.py", "\n");
    t.write("go/go.mod", "module m\n");
    t.write("rs/Cargo.toml", "[package]\n");
    t.write("jv/pom.xml", "<project/>\n");
    t.write("gr/build.gradle.kts", "plugins {}\n");
    t.write("gr/gradlew", "#!/bin/sh\n");
    t.write(".git/config", "x\n");
    docs.push_back(json::parse(json::serialize(analyze(t))));
  }
  {
    TempTree t;  // the ecosystems, workspaces and toolchain hints added later
    t.write("package.json",
            R"({"workspaces":["apps/*"],"engines":{"node":">=18"},"packageManager":"npm@10.2.0"})");
    t.write("apps/a/package.json", R"({"scripts":{"test":"node --test"}})");
    t.write(".nvmrc", "20\n");
    t.write("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n");
    t.write("crates/x/Cargo.toml", "[package]\nname = \"x\"\n");
    t.write("go.work", "use ./svc\n");
    t.write("svc/go.mod", "module svc\n\ngo 1.22\n");
    t.write("net/App.sln", "\n");
    t.write("net/App/App.csproj", "<Project/>\n");
    t.write("rb/Gemfile", "gem 'rspec'\n");
    t.write("php/composer.json", R"({"scripts":{"test":"phpunit"}})");
    t.write("ex/mix.exs", "defmodule X do end\n");
    t.write("ms/meson.build", "project('m', 'c')\n");
    t.write("at/configure.ac", "AC_INIT([x], [1])\n");
    docs.push_back(json::parse(json::serialize(analyze(t))));
  }
  {
    TempTree t;
    t.write("package.json", "{bad json");
    docs.push_back(json::parse(json::serialize(analyze(t))));
  }
  {
    TempTree t;  // empty tree
    docs.push_back(json::parse(json::serialize(analyze(t))));
  }
  ASSERT_EQ(docs[0].at("projects").as_array().size(), 8u) << json::serialize(docs[0]);
  ASSERT_EQ(docs[1].at("projects").as_array().size(), 12u) << json::serialize(docs[1]);
  for (const auto& d : docs) {
    EXPECT_EQ(schema_errors(d, kSchema), "") << json::serialize(d);
  }
  // The schema does reject wrong documents: a command with both argv and shell.
  json::value bad = docs[0];
  bad.at("projects").as_array()[0].at("commands").at("build").as_object()["argv"] = argv({"make"});
  EXPECT_NE(schema_errors(bad, kSchema), "");
  json::value bad2 = docs[3];
  bad2.as_object().erase("warnings");
  EXPECT_NE(schema_errors(bad2, kSchema), "");
}
