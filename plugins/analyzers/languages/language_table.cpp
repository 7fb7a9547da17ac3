// language_table.cpp: the languages the analyzer recognises and the rules that
// map a file to one of them.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <unordered_map>

#include "languages/language.hpp"

namespace isb::analyzer {

namespace {

using Blocks = std::vector<std::pair<std::string, std::string>>;

const Blocks kC{{"/*", "*/"}};
const Blocks kXml{{"<!--", "-->"}};
const Blocks kMl{{"(*", "*)"}};
const Blocks kHaskell{{"{-", "-}"}};

using Table = std::unordered_map<std::string, Language>;

const Table& table() {
  static const Table t = [] {
    Table t;
    auto add = [&](Language l) {
      auto mark = [&](const std::string& m) {
        if (!m.empty()) l.starts[static_cast<unsigned char>(m[0])] = true;
      };
      for (const auto& m : l.line_comments) mark(m);
      for (const auto& [open, close] : l.blocks) mark(open);
      for (char q : l.quotes) mark(std::string(1, q)), l.quote[static_cast<unsigned char>(q)] = true;
      if (l.triple_quote_comments) mark("\""), mark("'");
      t.emplace(l.name, std::move(l));
    };
    // C family: // and /* */, "..." and '...' on one line.
    for (const char* n :
         {"C",      "C++",      "Objective-C", "Objective-C++", "Java", "JavaScript", "TypeScript",
          "C#",     "Kotlin",   "Groovy",      "Dart",          "CUDA", "GLSL",       "Protocol Buffers",
          "Thrift", "Solidity", "Less",        "JSON5",         "Zig",  "Haxe"})
      add({n, {"//"}, kC, "\"'"});
    add({"Scala", {"//"}, kC, "\"", true});
    add({"Swift", {"//"}, kC, "\"", true});
    add({"Go", {"//"}, kC, "\"'`"});
    add({"Rust", {"//"}, kC, "\"", true});  // 'a is a lifetime, not a string
    add({"D", {"//"}, {{"/*", "*/"}, {"/+", "+/"}}, "\"'`", true});
    add({"CSS", {}, kC, "\"'"});
    add({"SCSS", {"//"}, kC, "\"'"});
    add({"Sass", {"//"}, kC, "\"'"});
    add({"PHP", {"//", "#"}, kC, "\"'"});
    add({"Python", {"#"}, {}, "\"'", false, true});
    add({"Cython", {"#"}, {}, "\"'", false, true});
    add({"Starlark", {"#"}, {}, "\"'", false, true});
    add({"Ruby", {"#"}, {{"=begin", "=end"}}, "\"'"});
    add({"Crystal", {"#"}, {}, "\"'"});
    add({"Perl", {"#"}, {{"=pod", "=cut"}, {"=head1", "=cut"}}, "\"'"});
    add({"Elixir", {"#"}, {}, "\"'"});
    add({"R", {"#"}, {}, "\"'"});
    add({"Julia", {"#"}, {{"#=", "=#"}}, "\"", true});
    add({"Nim", {"#"}, {{"#[", "]#"}}, "\"", true});
    add({"Shell", {"#"}, {}, "\"'"});
    add({"Fish", {"#"}, {}, "\"'"});
    add({"PowerShell", {"#"}, {{"<#", "#>"}}, "\"'"});
    add({"Tcl", {"#"}, {}, "\""});
    add({"AWK", {"#"}, {}, "\""});
    add({"Makefile", {"#"}, {}, ""});
    add({"CMake", {"#"}, {{"#[[", "]]"}}, "\""});
    add({"Meson", {"#"}, {}, "'"});
    add({"Dockerfile", {"#"}, {}, "\"'"});
    add({"YAML", {"#"}, {}, "\"'"});
    add({"TOML", {"#"}, {}, "\"'"});
    add({"INI", {";", "#"}, {}, "\""});
    add({"GraphQL", {"#"}, {}, "\""});
    add({"Nix", {"#"}, kC, "\""});
    add({"HCL", {"#", "//"}, kC, "\""});
    add({"Lua", {"--"}, {{"--[[", "]]"}}, "\"'"});
    add({"SQL", {"--"}, kC, "\"'"});
    add({"Haskell", {"--"}, kHaskell, "\"", true});
    add({"Elm", {"--"}, kHaskell, "\"", true});
    add({"PureScript", {"--"}, kHaskell, "\"", true});
    add({"Ada", {"--"}, {}, "\""});
    add({"VHDL", {"--"}, {}, "\""});
    add({"OCaml", {}, kMl, "\"", true});
    add({"F#", {"//"}, kMl, "\"", true});
    add({"Coq", {}, kMl, "\"", true});
    add({"Pascal", {"//"}, {{"{", "}"}, {"(*", "*)"}}, "'"});
    add({"Erlang", {"%"}, {}, "\""});
    add({"Prolog", {"%"}, kC, "\"'"});
    add({"MATLAB", {"%"}, {{"%{", "%}"}}, "\""});
    add({"TeX", {"%"}, {}, ""});
    add({"Clojure", {";"}, {}, "\""});
    add({"Lisp", {";"}, {{"#|", "|#"}}, "\"", true});
    add({"Emacs Lisp", {";"}, {}, "\""});
    add({"Scheme", {";"}, {{"#|", "|#"}}, "\"", true});
    add({"Racket", {";"}, {{"#|", "|#"}}, "\"", true});
    add({"Assembly", {";", "#", "//"}, kC, "\"'"});
    add({"Fortran", {"!"}, {}, "\"'"});
    add({"Verilog", {"//"}, kC, "\""});
    add({"SystemVerilog", {"//"}, kC, "\""});
    add({"Visual Basic", {"'"}, {}, "\""});
    add({"Vim Script", {"\""}, {}, "'", false, false, true});
    add({"Batch", {"REM ", "rem ", "::", "@REM ", "@rem "}, {}, "", false, false, true});
    add({"HTML", {}, kXml, ""});
    add({"XML", {}, kXml, ""});
    add({"XSLT", {}, kXml, ""});
    add({"SVG", {}, kXml, ""});
    add({"Qt Linguist", {}, kXml, ""});
    add({"Vue", {"//"}, {{"<!--", "-->"}, {"/*", "*/"}}, "\"'"});
    add({"Svelte", {"//"}, {{"<!--", "-->"}, {"/*", "*/"}}, "\"'"});
    add({"Markdown", {}, kXml, ""});
    add({"reStructuredText", {}, {}, ""});
    add({"JSON", {}, {}, "\""});
    return t;
  }();
  return t;
}

const std::unordered_map<std::string, std::string>& extensions() {
  static const std::unordered_map<std::string, std::string> m{{"c", "C"},
                                                              {"cc", "C++"},
                                                              {"cpp", "C++"},
                                                              {"cxx", "C++"},
                                                              {"c++", "C++"},
                                                              {"hpp", "C++"},
                                                              {"hh", "C++"},
                                                              {"hxx", "C++"},
                                                              {"h++", "C++"},
                                                              {"ipp", "C++"},
                                                              {"tcc", "C++"},
                                                              {"inl", "C++"},
                                                              {"mm", "Objective-C++"},
                                                              {"java", "Java"},
                                                              {"js", "JavaScript"},
                                                              {"mjs", "JavaScript"},
                                                              {"cjs", "JavaScript"},
                                                              {"jsx", "JavaScript"},
                                                              {"tsx", "TypeScript"},
                                                              {"mts", "TypeScript"},
                                                              {"cts", "TypeScript"},
                                                              {"cs", "C#"},
                                                              {"kt", "Kotlin"},
                                                              {"kts", "Kotlin"},
                                                              {"groovy", "Groovy"},
                                                              {"gradle", "Groovy"},
                                                              {"dart", "Dart"},
                                                              {"cu", "CUDA"},
                                                              {"cuh", "CUDA"},
                                                              {"glsl", "GLSL"},
                                                              {"vert", "GLSL"},
                                                              {"frag", "GLSL"},
                                                              {"proto", "Protocol Buffers"},
                                                              {"thrift", "Thrift"},
                                                              {"sol", "Solidity"},
                                                              {"less", "Less"},
                                                              {"json5", "JSON5"},
                                                              {"zig", "Zig"},
                                                              {"hx", "Haxe"},
                                                              {"scala", "Scala"},
                                                              {"sc", "Scala"},
                                                              {"swift", "Swift"},
                                                              {"go", "Go"},
                                                              {"rs", "Rust"},
                                                              {"d", "D"},
                                                              {"css", "CSS"},
                                                              {"scss", "SCSS"},
                                                              {"sass", "Sass"},
                                                              {"php", "PHP"},
                                                              {"py", "Python"},
                                                              {"pyi", "Python"},
                                                              {"pyw", "Python"},
                                                              {"pyx", "Cython"},
                                                              {"pxd", "Cython"},
                                                              {"bzl", "Starlark"},
                                                              {"star", "Starlark"},
                                                              {"rb", "Ruby"},
                                                              {"rake", "Ruby"},
                                                              {"gemspec", "Ruby"},
                                                              {"cr", "Crystal"},
                                                              {"pm", "Perl"},
                                                              {"t", "Perl"},
                                                              {"ex", "Elixir"},
                                                              {"exs", "Elixir"},
                                                              {"r", "R"},
                                                              {"jl", "Julia"},
                                                              {"nim", "Nim"},
                                                              {"sh", "Shell"},
                                                              {"bash", "Shell"},
                                                              {"zsh", "Shell"},
                                                              {"ksh", "Shell"},
                                                              {"fish", "Fish"},
                                                              {"ps1", "PowerShell"},
                                                              {"psm1", "PowerShell"},
                                                              {"tcl", "Tcl"},
                                                              {"awk", "AWK"},
                                                              {"mk", "Makefile"},
                                                              {"mak", "Makefile"},
                                                              {"cmake", "CMake"},
                                                              {"dockerfile", "Dockerfile"},
                                                              {"yaml", "YAML"},
                                                              {"yml", "YAML"},
                                                              {"toml", "TOML"},
                                                              {"ini", "INI"},
                                                              {"cfg", "INI"},
                                                              {"graphql", "GraphQL"},
                                                              {"gql", "GraphQL"},
                                                              {"nix", "Nix"},
                                                              {"tf", "HCL"},
                                                              {"hcl", "HCL"},
                                                              {"lua", "Lua"},
                                                              {"sql", "SQL"},
                                                              {"hs", "Haskell"},
                                                              {"elm", "Elm"},
                                                              {"purs", "PureScript"},
                                                              {"adb", "Ada"},
                                                              {"ads", "Ada"},
                                                              {"vhd", "VHDL"},
                                                              {"vhdl", "VHDL"},
                                                              {"ml", "OCaml"},
                                                              {"mli", "OCaml"},
                                                              {"fs", "F#"},
                                                              {"fsi", "F#"},
                                                              {"fsx", "F#"},
                                                              {"pas", "Pascal"},
                                                              {"erl", "Erlang"},
                                                              {"hrl", "Erlang"},
                                                              {"pro", "Prolog"},
                                                              {"tex", "TeX"},
                                                              {"sty", "TeX"},
                                                              {"clj", "Clojure"},
                                                              {"cljs", "Clojure"},
                                                              {"cljc", "Clojure"},
                                                              {"lisp", "Lisp"},
                                                              {"lsp", "Lisp"},
                                                              {"el", "Emacs Lisp"},
                                                              {"scm", "Scheme"},
                                                              {"ss", "Scheme"},
                                                              {"rkt", "Racket"},
                                                              {"s", "Assembly"},
                                                              {"asm", "Assembly"},
                                                              {"f90", "Fortran"},
                                                              {"f95", "Fortran"},
                                                              {"f03", "Fortran"},
                                                              {"f08", "Fortran"},
                                                              {"sv", "SystemVerilog"},
                                                              {"svh", "SystemVerilog"},
                                                              {"vb", "Visual Basic"},
                                                              {"vim", "Vim Script"},
                                                              {"bat", "Batch"},
                                                              {"cmd", "Batch"},
                                                              {"html", "HTML"},
                                                              {"htm", "HTML"},
                                                              {"xhtml", "HTML"},
                                                              {"xml", "XML"},
                                                              {"xsd", "XML"},
                                                              {"csproj", "XML"},
                                                              {"xsl", "XSLT"},
                                                              {"xslt", "XSLT"},
                                                              {"svg", "SVG"},
                                                              {"vue", "Vue"},
                                                              {"svelte", "Svelte"},
                                                              {"md", "Markdown"},
                                                              {"markdown", "Markdown"},
                                                              {"rst", "reStructuredText"},
                                                              {"json", "JSON"}};
  return m;
}

const std::unordered_map<std::string, std::string>& file_names() {
  static const std::unordered_map<std::string, std::string> m{
      {"Makefile", "Makefile"},    {"makefile", "Makefile"},       {"GNUmakefile", "Makefile"},
      {"CMakeLists.txt", "CMake"}, {"Dockerfile", "Dockerfile"},   {"Containerfile", "Dockerfile"},
      {"Gemfile", "Ruby"},         {"Rakefile", "Ruby"},           {"Vagrantfile", "Ruby"},
      {"Podfile", "Ruby"},         {"Jenkinsfile", "Groovy"},      {"BUILD", "Starlark"},
      {"BUILD.bazel", "Starlark"}, {"WORKSPACE", "Starlark"},      {"MODULE.bazel", "Starlark"},
      {"meson.build", "Meson"},    {"meson_options.txt", "Meson"}, {".bashrc", "Shell"},
      {".bash_profile", "Shell"},  {".profile", "Shell"},          {".zshrc", "Shell"},
      {"Pipfile", "TOML"},         {".vimrc", "Vim Script"}};
  return m;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

const Language* by_name(const std::string& name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : &it->second;
}

// Heuristics look at the first part of a file only, line by line (std::regex
// would cost more than counting the whole file): enough to see includes,
// declarations and proof keywords.
constexpr size_t kHeuristicBytes = 16 * 1024;

// Calls f with each line of the first kHeuristicBytes, leading blanks removed;
// stops when f returns true and reports whether it did.
template <typename F>
bool any_line(std::string_view text, F f) {
  text = text.substr(0, kHeuristicBytes);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    size_t b = line.find_first_not_of(" \t");
    if (b != std::string_view::npos && f(line.substr(b))) return true;
    pos = end + 1;
  }
  return false;
}

bool starts_with_any(std::string_view line, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes)
    if (starts_with(line, p)) return true;
  return false;
}

bool contains_any(std::string_view text, std::initializer_list<std::string_view> needles) {
  text = text.substr(0, kHeuristicBytes);
  for (auto n : needles)
    if (text.find(n) != std::string_view::npos) return true;
  return false;
}

// Whether needle occurs in text as the first thing on a line (after blanks),
// as any_line + starts_with would find it; memmem scans far faster than a
// search per line, and most .h files are headers of large trees.
bool line_starting_with(std::string_view text, std::string_view needle) {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  for (const char* p = begin; p < end;) {
    const void* hit = ::memmem(p, static_cast<size_t>(end - p), needle.data(), needle.size());
    if (!hit) return false;
    const char* h = static_cast<const char*>(hit);
    const char* q = h;
    while (q > begin && (q[-1] == ' ' || q[-1] == '\t')) --q;
    if (q == begin || q[-1] == '\n') return true;
    p = h + 1;
  }
  return false;
}

bool contains(std::string_view text, std::string_view needle) {
  return ::memmem(text.data(), text.size(), needle.data(), needle.size()) != nullptr;
}

const Language* header_language(std::string_view text) {
  text = text.substr(0, kHeuristicBytes);
  for (std::string_view objc : {"@interface", "@implementation", "@protocol", "#import "})
    if (line_starting_with(text, objc)) return by_name("Objective-C");
  for (std::string_view cpp : {"std::", "constexpr ", "nullptr", "namespace ", "template <", "template<"})
    if (contains(text, cpp)) return by_name("C++");
  for (std::string_view cpp : {"class ", "public:", "private:", "protected:", "#include <iostream>",
                               "#include <string>", "#include <vector>", "#include <memory>"})
    if (line_starting_with(text, cpp)) return by_name("C++");
  return by_name("C");
}

const Language* dot_m_language(std::string_view text) {
  if (any_line(text, [](std::string_view l) {
        return starts_with_any(l, {"@interface", "@implementation", "@protocol", "#import", "#include"});
      }))
    return by_name("Objective-C");
  if (any_line(text, [](std::string_view l) { return starts_with_any(l, {"%", "function "}); }))
    return by_name("MATLAB");
  return by_name("Objective-C");
}

const Language* dot_ts_language(std::string_view text) {
  return contains_any(text, {"<TS ", "<TS>", "<!DOCTYPE TS>"}) ? by_name("Qt Linguist")
                                                               : by_name("TypeScript");
}

const Language* dot_pl_language(std::string_view text) {
  if (starts_with(text, "#!") && text.substr(0, text.find('\n')).find("perl") != std::string_view::npos)
    return by_name("Perl");
  if (any_line(text, [](std::string_view l) {
        return starts_with_any(l, {"use strict", "use warnings", "my $", "my @", "my %", "sub "});
      }))
    return by_name("Perl");
  if (any_line(text, [](std::string_view l) {
        return starts_with(l, ":-") || l.find(") :-") != std::string_view::npos;
      }))
    return by_name("Prolog");
  return by_name("Perl");
}

const Language* dot_v_language(std::string_view text) {
  if (any_line(text, [](std::string_view l) {
        return starts_with_any(
            l, {"Require ", "Theorem ", "Lemma ", "Proof.", "Definition ", "Inductive ", "Fixpoint "});
      }))
    return by_name("Coq");
  return by_name("Verilog");
}

// "#!/usr/bin/env python3 -u" -> "python3"; "#!/bin/bash" -> "bash".
std::string shebang_interpreter(std::string_view content) {
  if (!starts_with(content, "#!")) return {};
  std::string_view line = content.substr(
      2, content.find('\n') == std::string_view::npos ? std::string_view::npos : content.find('\n') - 2);
  std::vector<std::string> words;
  std::string cur;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\r') {
      if (!cur.empty()) words.push_back(cur), cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) words.push_back(cur);
  if (words.empty()) return {};
  auto base = [](const std::string& w) {
    return w.substr(w.rfind('/') == std::string::npos ? 0 : w.rfind('/') + 1);
  };
  std::string prog = base(words[0]);
  if (prog == "env") {
    for (size_t i = 1; i < words.size(); ++i)
      if (words[i][0] != '-') return base(words[i]);
    return {};
  }
  return prog;
}

const Language* from_shebang(std::string_view content) {
  const std::string interp = shebang_interpreter(content);
  if (interp.empty()) return nullptr;
  static const std::vector<std::pair<std::string, std::string>> prefixes{
      {"python", "Python"},  {"bash", "Shell"},      {"zsh", "Shell"},       {"dash", "Shell"},
      {"ksh", "Shell"},      {"node", "JavaScript"}, {"deno", "TypeScript"}, {"perl", "Perl"},
      {"ruby", "Ruby"},      {"php", "PHP"},         {"lua", "Lua"},         {"Rscript", "R"},
      {"tclsh", "Tcl"},      {"wish", "Tcl"},        {"gawk", "AWK"},        {"awk", "AWK"},
      {"fish", "Fish"},      {"pwsh", "PowerShell"}, {"julia", "Julia"},     {"elixir", "Elixir"},
      {"escript", "Erlang"}, {"make", "Makefile"}};
  if (interp == "sh") return by_name("Shell");
  for (const auto& [prefix, name] : prefixes)
    if (starts_with(interp, prefix)) return by_name(name);
  return nullptr;
}

std::string lower(std::string s);

// An Emacs mode line in the first line ("// -*- C++ -*-", "# -*- mode: python -*-")
// names the language of files without an extension, such as <vector>.
const Language* from_mode_line(std::string_view content) {
  std::string_view first = content.substr(0, std::min(content.find('\n'), size_t{256}));
  size_t a = first.find("-*-");
  if (a == std::string_view::npos) return nullptr;
  size_t b = first.find("-*-", a + 3);
  if (b == std::string_view::npos) return nullptr;
  std::string mode = lower(std::string(first.substr(a + 3, b - a - 3)));
  if (size_t m = mode.find("mode:"); m != std::string::npos) mode = mode.substr(m + 5);
  mode = mode.substr(0, mode.find(';'));
  size_t s = mode.find_first_not_of(' '), e = mode.find_last_not_of(' ');
  if (s == std::string::npos) return nullptr;
  mode = mode.substr(s, e - s + 1);
  static const std::unordered_map<std::string, std::string> modes{{"c++", "C++"},
                                                                  {"c", "C"},
                                                                  {"python", "Python"},
                                                                  {"sh", "Shell"},
                                                                  {"shell-script", "Shell"},
                                                                  {"perl", "Perl"},
                                                                  {"ruby", "Ruby"},
                                                                  {"makefile", "Makefile"},
                                                                  {"java", "Java"},
                                                                  {"js", "JavaScript"},
                                                                  {"javascript", "JavaScript"},
                                                                  {"emacs-lisp", "Emacs Lisp"},
                                                                  {"lisp", "Lisp"},
                                                                  {"objc", "Objective-C"}};
  auto it = modes.find(mode);
  return it == modes.end() ? nullptr : by_name(it->second);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::size_t language_count() { return table().size(); }

std::vector<std::string> language_names() {
  std::vector<std::string> v;
  for (const auto& [name, _] : table()) v.push_back(name);
  std::sort(v.begin(), v.end());
  return v;
}

const Language* detect_language(const std::string& rel_path, std::string_view content) {
  size_t slash = rel_path.rfind('/');
  const std::string name = slash == std::string::npos ? rel_path : rel_path.substr(slash + 1);
  if (auto it = file_names().find(name); it != file_names().end()) return by_name(it->second);
  if (starts_with(name, "Dockerfile.")) return by_name("Dockerfile");
  size_t dot = name.rfind('.');
  if (dot != std::string::npos && dot != 0) {
    std::string raw_ext = name.substr(dot + 1);
    // Case matters for one pair: .S is preprocessed assembly like .s, but .C is C++.
    if (raw_ext == "C" || raw_ext == "H") return by_name("C++");
    const std::string ext = lower(raw_ext);
    if (ext == "h") return header_language(content);
    if (ext == "m") return dot_m_language(content);
    if (ext == "ts") return dot_ts_language(content);
    if (ext == "pl") return dot_pl_language(content);
    if (ext == "v") return dot_v_language(content);
    if (auto it = extensions().find(ext); it != extensions().end()) return by_name(it->second);
    // An unknown extension may still be a script (tool.sh-completion, run.local).
  }
  if (const Language* l = from_shebang(content)) return l;
  return from_mode_line(content);
}

}  // namespace isb::analyzer
