// analyzer_languages_test.cpp: drives libisb-analyzer-languages.so across the
// C ABI: language detection, cloc-compatible line counts (checked against the
// real cloc on tests/fixtures/analysis/cloc-sample), skip reasons, threads.
#include <gtest/gtest.h>
#include <isb/plugin_abi.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "analyzer_fixture.hpp"
#include "plugin_loader.hpp"
#include "temp_tree.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

class LanguagesTest : public AnalyzerTest {
 protected:
  LanguagesTest() : AnalyzerTest("libisb-analyzer-languages.so") {}
};

json::array strs(std::initializer_list<const char*> items) {
  json::array a;
  for (const char* s : items) a.push_back(json::string(s));
  return a;
}

std::map<std::string, json::object> by_name(const json::object& doc) {
  std::map<std::string, json::object> m;
  for (const auto& l : doc.at("languages").as_array())
    m[std::string(l.at("name").as_string())] = l.as_object();
  return m;
}

std::string read_command(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  pclose(p);
  return out;
}

}  // namespace

TEST_F(LanguagesTest, DescriptorIsAThreadSafeAnalyzer) {
  const auto* d = plugin_->descriptor();
  EXPECT_STREQ(d->id, "languages");
  EXPECT_EQ(d->kind, ISB_KIND_ANALYZER);
  EXPECT_TRUE(d->capabilities & ISB_CAP_THREAD_SAFE);
}

TEST_F(LanguagesTest, CountsCodeCommentBlankLines) {
  TempTree t;
  const std::string cpp =
      "// header comment\n"
      "#include <cstdio>\n"
      "\n"
      "/* block\n"
      "   still block */\n"
      "int main() {  // trailing comment\n"
      "  const char* s = \"/* not a comment\";\n"
      "  return 0;\n"
      "}\n";
  const std::string py =
      "#!/usr/bin/env python3\n"
      "\"\"\"Module docstring.\n"
      "\n"
      "More text.\"\"\"\n"
      "import os\n"
      "\n"
      "x = \"# not a comment\"\n"
      "# a comment\n"
      "def f():\n"
      "    '''Doc.'''\n"
      "    return x  # trailing\n";
  const std::string script = "#!/bin/sh\n# say hi\necho 'hi # there'\n";
  t.write("main.cpp", cpp);
  t.write("tool.py", py);
  t.write("run", script);
  t.write("notes.xyz", "unknown\n");
  json::object doc = analyze(t.path());
  EXPECT_EQ(doc.at("files").at("total"), 4);
  EXPECT_EQ(doc.at("files").at("analysed"), 4);
  const auto& langs = doc.at("languages").as_array();
  ASSERT_EQ(langs.size(), 3u) << json::serialize(langs);
  // Sorted by code lines. A "#!" line is code, as cloc counts it.
  EXPECT_EQ(
      langs[0],
      (json::object{
          {"name", "C++"}, {"files", 1}, {"code", 5}, {"comment", 3}, {"blank", 1}, {"bytes", cpp.size()}}));
  EXPECT_EQ(langs[1], (json::object{{"name", "Python"},
                                    {"files", 1},
                                    {"code", 5},
                                    {"comment", 4},
                                    {"blank", 2},
                                    {"bytes", py.size()}}));
  EXPECT_EQ(langs[2], (json::object{{"name", "Shell"},
                                    {"files", 1},
                                    {"code", 2},
                                    {"comment", 1},
                                    {"blank", 0},
                                    {"bytes", script.size()}}));
}

TEST_F(LanguagesTest, NestedBlockCommentsWhereTheLanguageNestsThem) {
  TempTree t;
  const std::string nested = "/* outer /* inner */ still comment */\nfn main() {}\n";
  t.write("a.rs", nested);  // Rust nests: the whole first line is a comment
  t.write("b.c", nested);   // C does not: " still comment */" is code
  t.write("c.hs", "{- a {- b -} c -}\nmain = pure ()\n");
  auto m = by_name(analyze(t.path()));
  EXPECT_EQ(m["Rust"].at("comment"), 1);
  EXPECT_EQ(m["Rust"].at("code"), 1);
  EXPECT_EQ(m["C"].at("comment"), 0);
  EXPECT_EQ(m["C"].at("code"), 2);
  EXPECT_EQ(m["Haskell"].at("comment"), 1);
  EXPECT_EQ(m["Haskell"].at("code"), 1);
}

TEST_F(LanguagesTest, AmbiguousExtensionsDecidedByContent) {
  TempTree t;
  t.write("plain.h", "#ifndef P_H\n#define P_H\nint add(int a, int b);\n#endif\n");
  t.write("klass.h", "#pragma once\nnamespace geo {\nclass Point {\n public:\n  int x;\n};\n}\n");
  t.write("view.h", "#import <Foundation/Foundation.h>\n@interface View : NSObject\n@end\n");
  t.write("solve.m", "% solve a system\nfunction x = solve(A, b)\n  x = A \\ b;\nend\n");
  t.write("app.m", "#import \"View.h\"\n@implementation View\n@end\n");
  t.write("strings.ts", "<?xml version=\"1.0\"?>\n<!DOCTYPE TS>\n<TS version=\"2.1\">\n</TS>\n");
  t.write("main.ts", "const x: number = 1;\nexport default x;\n");
  t.write("family.pl", "parent(tom, bob).\nancestor(X, Y) :- parent(X, Y).\n");
  t.write("script.pl", "use strict;\nmy $x = 1;\nprint $x;\n");
  t.write("proof.v", "Require Import Arith.\nTheorem t : 1 = 1.\nProof. reflexivity. Qed.\n");
  t.write("counter.v", "module counter(input clk);\nendmodule\n");
  t.write("vector", "// The vector header -*- C++ -*-\n#include <bits/stl_vector.h>\n");  // Emacs mode line
  auto m = by_name(analyze(t.path()));
  for (const char* name :
       {"C", "C++", "Objective-C", "MATLAB", "Qt Linguist", "TypeScript", "Prolog", "Perl", "Coq", "Verilog"})
    EXPECT_TRUE(m.count(name)) << name << " missing";
  EXPECT_EQ(m["C"].at("files"), 1);
  EXPECT_EQ(m["C++"].at("files"), 2);
  EXPECT_EQ(m["Objective-C"].at("files"), 2);
  EXPECT_EQ(m["MATLAB"].at("comment"), 1);
}

TEST_F(LanguagesTest, RecognisesAtLeastSixtyLanguagesByNameExtensionAndShebang) {
  TempTree t;
  const char* files[] = {
      "a.c",      "a.cpp",     "a.mm",     "a.java",         "a.js",        "a.ts",       "a.cs",   "a.kt",
      "a.groovy", "a.dart",    "a.cu",     "a.glsl",         "a.proto",     "a.thrift",   "a.sol",  "a.less",
      "a.zig",    "a.hx",      "a.scala",  "a.swift",        "a.go",        "a.rs",       "a.d",    "a.css",
      "a.scss",   "a.sass",    "a.php",    "a.py",           "a.pyx",       "a.bzl",      "a.rb",   "a.cr",
      "a.pm",     "a.ex",      "a.r",      "a.jl",           "a.nim",       "a.sh",       "a.fish", "a.ps1",
      "a.tcl",    "a.awk",     "Makefile", "CMakeLists.txt", "meson.build", "Dockerfile", "a.yaml", "a.toml",
      "a.ini",    "a.graphql", "a.nix",    "a.tf",           "a.lua",       "a.sql",      "a.hs",   "a.elm",
      "a.purs",   "a.adb",     "a.vhd",    "a.ml",           "a.fs",        "a.pas",      "a.erl",  "a.tex",
      "a.clj",    "a.lisp",    "a.el",     "a.scm",          "a.rkt",       "a.asm",      "a.f90",  "a.sv",
      "a.vb",     "a.vim",     "a.bat",    "a.html",         "a.xml",       "a.xsl",      "a.svg",  "a.vue",
      "a.svelte", "a.md",      "a.rst",    "a.json"};
  for (const char* f : files) t.write(f, "x\n");
  t.write("tool", "#!/usr/bin/env ruby\nputs 1\n");  // no extension: shebang
  const auto m = by_name(analyze(t.path()));
  EXPECT_GE(m.size(), 60u);
  EXPECT_EQ(m.size(), 84u) << "one language per file above";
  EXPECT_EQ(m.at("Ruby").at("files"), 2);
}

TEST_F(LanguagesTest, MatchesClocOnTheFixtureSample) {
  if (std::system("cloc --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "cloc is not installed (scripts/install-deps.sh installs it)";
  const std::string root = std::string(ISB_SOURCE_DIR) + "/tests/fixtures/analysis/cloc-sample";
  const auto ours = by_name(analyze(root));
  json::value cloc = json::parse(read_command("cloc --json --quiet " + root));
  const std::map<std::string, std::string> names{
      {"C", "C"},   {"C++", "C++"},   {"Python", "Python"}, {"JavaScript", "JavaScript"},
      {"Go", "Go"}, {"Rust", "Rust"}, {"Java", "Java"},     {"Shell", "Bourne Shell"}};
  for (const auto& [mine, theirs] : names) {
    ASSERT_TRUE(ours.count(mine)) << mine;
    const auto& c = cloc.at(theirs).as_object();
    const auto& o = ours.at(mine);
    for (const char* k : {"code", "comment", "blank"}) {
      const double want = static_cast<double>(c.at(k).to_number<int64_t>());
      const double got = static_cast<double>(o.at(k).to_number<int64_t>());
      EXPECT_LE(std::abs(got - want), 0.02 * want)
          << mine << " " << k << ": ours " << got << ", cloc " << want;
    }
  }
  // The sample is small enough to be exact; 2% is the bar for large trees.
  EXPECT_EQ(ours.at("C").at("code"), 31);
  EXPECT_EQ(ours.at("Python").at("comment"), 10);
}

TEST_F(LanguagesTest, SkipsVendoredGeneratedBinaryAndGitignoredByReason) {
  TempTree t;
  t.write(".git/HEAD", "ref: refs/heads/main\n");
  t.write(".gitignore", "# build output\n*.log\nout/\n/secret.txt\n");
  t.write("node_modules/x.js", "module.exports = 1;\n");
  t.write("vendor/lib.go", "package lib\n");
  t.write("lib/jquery.min.js", "var a=1;\n");
  t.write("img.png", std::string("\x89PNG\0\0\0\rIHDR", 12));
  t.write("big.txt", std::string(200, 'x'));
  t.write("app.log", "log line\n");
  t.write("out/gen.c", "int g;\n");
  t.write("secret.txt", "s\n");
  t.write("sub/secret.txt", "not anchored at root\n");
  t.write("api.pb.go", "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage api\n");
  t.write("schema.js", "/* @generated */\nexport default 1;\n");
  t.write("package-lock.json", "{}\n");
  t.write("main.c", "int main(void) { return 0; }\n");
  fs::create_symlink(t.root() / "main.c", t.root() / "link.c");
  fs::create_symlink(t.root(), t.root() / "loop");  // a loop is never entered
  isb_instance* small = plugin_->create(R"({"max_file_bytes":100})");
  ASSERT_NE(small, nullptr);
  json::object doc = analyze(t.path(), small);
  plugin_->descriptor()->destroy(small);
  const auto& files = doc.at("files").as_object();
  EXPECT_EQ(files.at("analysed"), 3);  // .gitignore, main.c, sub/secret.txt
  EXPECT_EQ(files.at("total"), 15);
  EXPECT_EQ(
      files.at("skipped"),
      (json::object{
          {"vcs", 1}, {"vendored", 3}, {"generated", 3}, {"binary", 1}, {"too_large", 1}, {"ignored", 3}}));
  EXPECT_EQ(files.at("skipped_samples"),
            strs({".git/", "api.pb.go", "app.log", "big.txt", "img.png", "lib/jquery.min.js", "node_modules/",
                  "out/", "package-lock.json", "schema.js"}));
  const auto& langs = doc.at("languages").as_array();
  ASSERT_EQ(langs.size(), 1u) << json::serialize(langs);
  EXPECT_EQ(langs[0].at("name"), "C");
  EXPECT_EQ(langs[0].at("files"), 1);  // the symlink is not followed
}

TEST_F(LanguagesTest, VeryLongLinesMarkAFileGenerated) {
  TempTree t;
  t.write("bundle.js", "var a=" + std::string(6000, '1') + ";\n");
  t.write("app.js", "var a = 1;\n");
  json::object doc = analyze(t.path());
  EXPECT_EQ(doc.at("files").at("skipped").at("generated"), 1);
  EXPECT_EQ(by_name(doc)["JavaScript"].at("files"), 1);
}

TEST_F(LanguagesTest, SameResultOnOneThreadAndOnTwo) {
  TempTree t;
  for (int i = 0; i < 40; ++i) {
    t.write("d" + std::to_string(i % 5) + "/f" + std::to_string(i) + ".py",
            std::string(static_cast<size_t>(i), '\n') + "# c\nx = " + std::to_string(i) + "\n");
    t.write("d" + std::to_string(i % 5) + "/g" + std::to_string(i) + ".c", "/* c */\nint x;\n");
  }
  isb_instance* one = plugin_->create(R"({"threads":1})");
  isb_instance* two = plugin_->create(R"({"threads":2})");
  ASSERT_TRUE(one && two);
  json::object a = analyze(t.path(), one);
  json::object b = analyze(t.path(), two);
  plugin_->descriptor()->destroy(one);
  plugin_->descriptor()->destroy(two);
  EXPECT_EQ(a.at("languages"), b.at("languages"));
  EXPECT_EQ(a.at("files"), b.at("files"));
  EXPECT_EQ(by_name(a)["Python"].at("blank"), 780);  // 0 + 1 + ... + 39
}

TEST_F(LanguagesTest, QuickDepthCountsFilesWithoutReadingThem) {
  TempTree t;
  t.write("a.py", "x = 1\n");
  t.write("b.c", "int b;\n");
  json::object doc = analyze(t.path(), nullptr, R"({"depth":"quick"})");
  EXPECT_EQ(doc.at("files").at("analysed"), 2);
  EXPECT_EQ(doc.at("languages"), json::array());
}

TEST_F(LanguagesTest, NonUtf8NamesAndContentsAreCounted) {
  TempTree t;
  t.write(std::string("caf\xe9.py"), std::string("s = '\xff\xfe'\n# \xe9t\xe9\n"));
  auto m = by_name(analyze(t.path()));
  EXPECT_EQ(m["Python"].at("code"), 1);
  EXPECT_EQ(m["Python"].at("comment"), 1);
}

TEST_F(LanguagesTest, BadConfigAndOptionsSayWhatIsWrong) {
  isb_instance* inst = nullptr;
  isb_status s = plugin_->descriptor()->create(nullptr, R"({"threads":-1})", &inst);
  EXPECT_NE(s, ISB_OK);
  TempTree t;
  auto [status, doc] = call(inst_, t.path(), R"({"depth":"deep"})");
  EXPECT_EQ(status, ISB_INVALID_ARGUMENT);
  EXPECT_NE(std::string(plugin_->descriptor()->last_error(inst_)).find("options.depth"), std::string::npos);
  auto [s2, d2] = call(inst_, "/nonexistent/isb-languages-" + std::to_string(getpid()));
  EXPECT_EQ(s2, ISB_INVALID_ARGUMENT);
  EXPECT_NE(std::string(plugin_->descriptor()->last_error(inst_)).find("is not an open directory"),
            std::string::npos);
}

// Nested .gitignore files, negation, anchoring, "**", dir-only patterns and
// .git/info/exclude, judged by git itself: every file the walker analyses is
// one `git check-ignore` does not ignore (neither it nor a parent directory),
// counted per language, and the ignored entries agree in number.
TEST_F(LanguagesTest, GitignoreSemanticsEqualGitCheckIgnore) {
  if (std::system("git --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "git is not installed";
  TempTree t;
  ASSERT_EQ(std::system(("git init -q " + t.path()).c_str()), 0);
  t.write(
      ".gitignore",
      "# root rules\n*.rb\n!keep/special.rb\n/top.c\nbuild-out/\ndocs/**/*.lua\n**/tmp\na?c.go\n[ab]x.py\n"
      "\\#hash.sql\nspaced.hs   \n/anchored/dir/\n*.kt\n");
  t.write("sub/.gitignore", "!*.rb\n/local.java\n!keep.kt\n");
  t.write("sub/deeper/.gitignore", "*.rb\n!x.kt\n");
  t.write(".git/info/exclude", "*.swift\n!*.scala\nexcluded/\n");
  const std::vector<std::string> files{"top.c",           "src/top.c",        "main.rb",
                                       "keep/special.rb", "keep/other.rb",    "build-out/a.c",
                                       "build-out",       "docs/a/b/x.lua",   "docs/x.lua",
                                       "lua/docs/x.lua",  "x/tmp/t.py",       "tmp",
                                       "abc.go",          "abbc.go",          "ax.py",
                                       "cx.py",           "#hash.sql",        "other.sql",
                                       "spaced.hs",       "anchored/dir/z.c", "x/anchored/dir/z.c",
                                       "sub/a.rb",        "sub/local.java",   "sub/x/local.java",
                                       "local.java",      "sub/k.kt",         "sub/keep.kt",
                                       "sub/deeper/b.rb", "sub/deeper/x.kt",  "sub/deeper/y.kt",
                                       "app.swift",       "app.scala",        "excluded/e.c",
                                       "plain.go"};
  for (const auto& f : files) {
    if (f == "build-out" || f == "tmp") continue;  // written below as a file named like a dir rule
    t.write(f, "code\n");
  }
  t.write("build-out2/build-out", "x\n");  // a file named build-out: "build-out/" matches directories only
  t.write("tmpdir/tmp", "code\n");         // a file named tmp: "**/tmp" matches it

  // Every file and directory of the tree, as paths for git.
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(t.root()); it != fs::recursive_directory_iterator(); ++it) {
    const std::string rel = fs::relative(it->path(), t.root()).string();
    if (rel == ".git" || rel.rfind(".git/", 0) == 0) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    paths.push_back(rel);
  }
  std::string args;
  for (const auto& p : paths) args += " '" + p + "'";
  const std::string out =
      read_command("cd " + t.path() +
                   " && GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 git check-ignore"
                   " --no-index" +
                   args);
  std::set<std::string> git_ignored;
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);) git_ignored.insert(l);
  ASSERT_FALSE(git_ignored.empty()) << "git check-ignore reported nothing";

  auto effectively_ignored = [&](const std::string& rel) {
    for (std::string p = rel;;) {
      if (git_ignored.count(p)) return true;
      size_t slash = p.rfind('/');
      if (slash == std::string::npos) return false;
      p = p.substr(0, slash);
    }
  };
  // Expected: per language, the files git keeps; and the topmost ignored entries.
  std::map<std::string, std::int64_t> want_files;
  std::int64_t want_ignored_entries = 0;
  for (const auto& rel : paths) {
    const bool is_dir = fs::is_directory(t.root() / rel);
    const size_t slash = rel.rfind('/');
    const bool parent_ignored = slash != std::string::npos && effectively_ignored(rel.substr(0, slash));
    if (git_ignored.count(rel) && !parent_ignored) ++want_ignored_entries;
    if (is_dir || effectively_ignored(rel)) continue;
    const std::string ext = rel.substr(rel.rfind('.') == std::string::npos ? rel.size() : rel.rfind('.'));
    static const std::map<std::string, std::string> lang{
        {".c", "C"},       {".rb", "Ruby"},     {".lua", "Lua"},    {".py", "Python"},
        {".go", "Go"},     {".sql", "SQL"},     {".hs", "Haskell"}, {".java", "Java"},
        {".kt", "Kotlin"}, {".swift", "Swift"}, {".scala", "Scala"}};
    if (auto it = lang.find(ext); it != lang.end()) ++want_files[it->second];
  }
  json::object doc = analyze(t.path());
  std::map<std::string, std::int64_t> got_files;
  for (const auto& [name, l] : by_name(doc)) got_files[name] = l.at("files").as_int64();
  EXPECT_EQ(got_files, want_files) << "git check-ignore said: " << out;
  EXPECT_EQ(doc.at("files").at("skipped").at("ignored").as_int64(), want_ignored_entries) << out;
  // A few verdicts spelled out, so that a change in git's output cannot hide a regression.
  for (const char* p :
       {"top.c", "main.rb", "keep/other.rb", "build-out", "docs/a/b/x.lua", "docs/x.lua", "x/tmp", "abc.go",
        "ax.py", "#hash.sql", "spaced.hs", "anchored/dir", "sub/local.java", "sub/k.kt", "sub/deeper/b.rb",
        "sub/deeper/y.kt", "app.swift", "excluded", "tmpdir/tmp"})
    EXPECT_TRUE(git_ignored.count(p)) << p << " should be ignored by git; it said: " << out;
  for (const char* p : {"src/top.c", "keep/special.rb", "lua/docs/x.lua", "abbc.go", "cx.py", "other.sql",
                        "x/anchored/dir/z.c", "sub/a.rb", "sub/x/local.java", "local.java", "sub/keep.kt",
                        "sub/deeper/x.kt", "app.scala", "plain.go", "build-out2/build-out"})
    EXPECT_FALSE(effectively_ignored(p)) << p << " should be kept; git said: " << out;
}

TEST_F(LanguagesTest, GitattributesLinguistOverridesVendoredAndGenerated) {
  TempTree t;
  t.write(".gitattributes",
          "# linguist overrides\ngen/** linguist-generated\nlib/*.go linguist-vendored=true\n"
          "vendor/keep/** -linguist-vendored\nassets/app.min.js -linguist-vendored\n"
          "big/data.c -linguist-generated\n!neg.c linguist-vendored\n");
  t.write("src/.gitattributes", "*.c linguist-generated\nkeep.c !linguist-generated\n");
  t.write("gen/a.py", "x = 1\n");
  t.write("lib/l.go", "package lib\n");
  t.write("lib/sub/m.go", "package sub\n");  // lib/*.go does not reach below lib/
  t.write("vendor/other.c", "int o;\n");
  t.write("vendor/keep/k.c", "int k;\n");
  t.write("assets/app.min.js", "var a = 1;\n");
  t.write("big/data.c", "int d[] = {" + std::string(6000, '1') + "};\n");  // long line, but not generated
  t.write("src/s.c", "int s;\n");
  t.write("src/keep.c", "int keep;\n");
  t.write("neg.c", "int n;\n");
  json::object doc = analyze(t.path());
  const auto& files = doc.at("files").as_object();
  EXPECT_EQ(
      files.at("skipped"),
      (json::object{
          {"vcs", 0}, {"vendored", 2}, {"generated", 2}, {"binary", 0}, {"too_large", 0}, {"ignored", 0}}))
      << json::serialize(files);
  EXPECT_EQ(files.at("skipped_samples"), strs({"gen/a.py", "lib/l.go", "src/s.c", "vendor/other.c"}));
  auto langs = by_name(doc);
  EXPECT_EQ(langs["C"].at("files"), 4);  // vendor/keep/k.c, big/data.c, src/keep.c, neg.c
  EXPECT_EQ(langs["Go"].at("files"), 1);
  EXPECT_EQ(langs["JavaScript"].at("files"), 1);
  EXPECT_TRUE(std::any_of(doc.at("warnings").as_array().begin(), doc.at("warnings").as_array().end(),
                          [](const json::value& w) {
                            return std::string(w.as_string()).find(".gitattributes:7: negative patterns") ==
                                   0;
                          }))
      << json::serialize(doc.at("warnings"));
}
