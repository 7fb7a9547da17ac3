// analyzer_ci_test.cpp: drives libisb-analyzer-ci.so across the C ABI on
// workflow files written to a temporary tree: what is listed, with which line,
// job, step and working directory, and how each command is classified.
#include <gtest/gtest.h>
#include <isb/plugin_abi.h>

#include <boost/json.hpp>
#include <string>

#include "analyzer_fixture.hpp"
#include "plugin_loader.hpp"
#include "temp_tree.hpp"

namespace json = boost::json;

namespace {

class CiTest : public AnalyzerTest {
 protected:
  CiTest() : AnalyzerTest("libisb-analyzer-ci.so") {}
};

json::object entry(const char* file, int line, const char* job, const char* step, const char* run,
                   const char* cwd, const char* kind, const char* eco) {
  return json::object{{"file", file},
                      {"line", line},
                      {"job", job},
                      {"step", step},
                      {"run", run},
                      {"cwd", cwd},
                      {"kind", kind ? json::value(kind) : json::value(nullptr)},
                      {"ecosystem", eco ? json::value(eco) : json::value(nullptr)}};
}

}  // namespace

TEST_F(CiTest, GithubWorkflowRunLinesWithLinesJobsAndWorkingDirectories) {
  TempTree t;
  t.write(".github/workflows/ci.yml",
          "name: ci\n"                                     // 1
          "on: [push]\n"                                   // 2
          "jobs:\n"                                        // 3
          "  test:\n"                                      // 4
          "    runs-on: ubuntu-latest\n"                   // 5
          "    defaults:\n"                                // 6
          "      run:\n"                                   // 7
          "        working-directory: ./web\n"             // 8
          "    steps:\n"                                   // 9
          "      - uses: actions/checkout@v4\n"            // 10
          "      - name: Install\n"                        // 11
          "        run: pnpm install --frozen-lockfile\n"  // 12
          "      - name: Checks\n"                         // 13
          "        run: |\n"                               // 14
          "          pnpm run lint\n"                      // 15
          "          pnpm test -- \\\n"                    // 16
          "            --coverage\n"                       // 17
          "      - run: python -m pytest -q\n"             // 18
          "        working-directory: api\n"               // 19
          "      - run: cd native && make check\n");       // 20
  json::object doc = analyze(t);
  const auto& ci = doc.at("ci").as_array();
  ASSERT_EQ(ci.size(), 5u) << json::serialize(ci);
  const char* f = ".github/workflows/ci.yml";
  EXPECT_EQ(ci[0],
            entry(f, 12, "test", "Install", "pnpm install --frozen-lockfile", "web", "install", "node"));
  EXPECT_EQ(ci[1], entry(f, 15, "test", "Checks", "pnpm run lint", "web", "lint", "node"));
  EXPECT_EQ(ci[2], entry(f, 16, "test", "Checks", "pnpm test -- --coverage", "web", "test", "node"));
  EXPECT_EQ(ci[3], entry(f, 18, "test", "step 4", "python -m pytest -q", "api", "test", "python"));
  EXPECT_EQ(ci[4], entry(f, 20, "test", "step 5", "make check", "web/native", "test", "make"));
  EXPECT_EQ(doc.at("warnings"), json::array());
}

TEST_F(CiTest, GitlabScriptsAreListedAndTemplatesSkipped) {
  TempTree t;
  t.write(".gitlab-ci.yml",
          "stages: [test]\n"                         // 1
          ".base:\n"                                 // 2
          "  script: [echo hidden]\n"                // 3
          "unit:\n"                                  // 4
          "  stage: test\n"                          // 5
          "  before_script:\n"                       // 6
          "    - pip install -r requirements.txt\n"  // 7
          "  script:\n"                              // 8
          "    - tox -e py311\n"                     // 9
          "    - echo done\n");                      // 10
  json::object doc = analyze(t);
  const auto& ci = doc.at("ci").as_array();
  ASSERT_EQ(ci.size(), 3u) << json::serialize(ci);
  EXPECT_EQ(ci[0], entry(".gitlab-ci.yml", 7, "unit", "before_script", "pip install -r requirements.txt", ".",
                         "install", "python"));
  EXPECT_EQ(ci[1], entry(".gitlab-ci.yml", 9, "unit", "script", "tox -e py311", ".", "test", "python"));
  EXPECT_EQ(ci[2], entry(".gitlab-ci.yml", 10, "unit", "script", "echo done", ".", nullptr, nullptr));
}

TEST_F(CiTest, MavenAndGradleGoalsDecideTheKind) {
  TempTree t;
  t.write(".github/workflows/java.yaml",
          "jobs:\n  b:\n    steps:\n      - run: mvn -B verify\n      - run: ./gradlew assemble\n"
          "      - run: mvn -B dependency:go-offline\n");
  const json::object doc = analyze(t);
  const auto& ci = doc.at("ci").as_array();
  ASSERT_EQ(ci.size(), 3u);
  EXPECT_EQ(ci[0].at("kind"), "test");
  EXPECT_EQ(ci[1].at("kind"), "build");
  EXPECT_EQ(ci[1].at("ecosystem"), "gradle");
  EXPECT_EQ(ci[2].at("kind"), "install");
}

TEST_F(CiTest, MalformedYamlIsAWarningWithFileAndLine) {
  TempTree t;
  t.write(".github/workflows/bad.yml", "jobs:\n  a:\n    steps: [\n      - run: x\n");
  t.write(".github/workflows/good.yml", "jobs:\n  a:\n    steps:\n      - run: go test ./...\n");
  t.write(".github/workflows/notes.txt", "run: not a workflow\n");
  json::object doc = analyze(t);
  const auto& w = doc.at("warnings").as_array();
  ASSERT_EQ(w.size(), 1u) << json::serialize(w);
  const std::string msg(w[0].as_string());
  EXPECT_EQ(msg.rfind(".github/workflows/bad.yml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
  const auto& ci = doc.at("ci").as_array();
  ASSERT_EQ(ci.size(), 1u);
  EXPECT_EQ(ci[0].at("run"), "go test ./...");
  EXPECT_EQ(ci[0].at("line"), 4);
}

TEST_F(CiTest, NoCiFilesGiveAnEmptyList) {
  TempTree t;
  t.write("main.go", "package main\n");
  json::object doc = analyze(t);
  EXPECT_EQ(doc.at("ci"), json::array());
  EXPECT_EQ(doc.at("analyzer").at("id"), "ci");
}
