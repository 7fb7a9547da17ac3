#include "language_stats.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace isb::analyzer::codebase {

namespace {

using Blocks = std::vector<std::pair<std::string, std::string>>;

const Blocks kCBlock{{"/*", "*/"}};
const Blocks kXmlBlock{{"<!--", "-->"}};

// One table of all known languages, keyed by name.
const std::unordered_map<std::string, Language>& languages() {
  static const std::unordered_map<std::string, Language> table = [] {
    std::unordered_map<std::string, Language> t;
    auto add = [&](Language l) { t.emplace(l.name, std::move(l)); };
    for (const char* n : {"C", "C++", "C/C++ Header", "Java", "JavaScript", "TypeScript", "C#", "Kotlin", "Swift"})
      add({n, {"//"}, kCBlock, "\"'", false});
    add({"Go", {"//"}, kCBlock, "\"'`", false});
    add({"Rust", {"//"}, kCBlock, "\"", false});  // 'a is a lifetime, not a string
    add({"SCSS", {"//"}, kCBlock, "\"'", false});
    add({"CSS", {}, kCBlock, "\"'", false});
    add({"PHP", {"//", "#"}, kCBlock, "\"'", false});
    add({"Python", {"#"}, {}, "\"'", true});
    add({"Ruby", {"#"}, {{"=begin", "=end"}}, "\"'", false});
    add({"Perl", {"#"}, {}, "\"'", false});
    add({"R", {"#"}, {}, "\"'", false});
    add({"Shell", {"#"}, {}, "\"'", false});
    add({"Makefile", {"#"}, {}, "", false});
    add({"CMake", {"#"}, {{"#[[", "]]"}}, "\"", false});
    add({"Dockerfile", {"#"}, {}, "\"'", false});
    add({"YAML", {"#"}, {}, "\"'", false});
    add({"TOML", {"#"}, {}, "\"'", false});
    add({"INI", {";", "#"}, {}, "\"", false});
    add({"Lua", {"--"}, {{"--[[", "]]"}}, "\"'", false});
    add({"SQL", {"--"}, kCBlock, "\"'", false});
    add({"HTML", {}, kXmlBlock, "", false});
    add({"XML", {}, kXmlBlock, "", false});
    add({"Markdown", {}, kXmlBlock, "", false});
    add({"JSON", {}, {}, "\"", false});
    return t;
  }();
  return table;
}

const std::unordered_map<std::string, std::string>& extension_map() {
  static const std::unordered_map<std::string, std::string> m{
      {"c", "C"},          {"cc", "C++"},         {"cpp", "C++"},       {"cxx", "C++"},        {"c++", "C++"},
      {"h", "C/C++ Header"}, {"hh", "C/C++ Header"}, {"hpp", "C/C++ Header"}, {"hxx", "C/C++ Header"},
      {"py", "Python"},    {"pyi", "Python"},     {"pyw", "Python"},    {"js", "JavaScript"},  {"mjs", "JavaScript"},
      {"cjs", "JavaScript"}, {"jsx", "JavaScript"}, {"ts", "TypeScript"}, {"tsx", "TypeScript"},
      {"mts", "TypeScript"}, {"cts", "TypeScript"}, {"java", "Java"},   {"go", "Go"},          {"rs", "Rust"},
      {"rb", "Ruby"},      {"php", "PHP"},        {"cs", "C#"},         {"kt", "Kotlin"},      {"kts", "Kotlin"},
      {"swift", "Swift"},  {"sh", "Shell"},       {"bash", "Shell"},    {"zsh", "Shell"},      {"ksh", "Shell"},
      {"mk", "Makefile"},  {"cmake", "CMake"},    {"html", "HTML"},     {"htm", "HTML"},       {"css", "CSS"},
      {"scss", "SCSS"},    {"json", "JSON"},      {"yaml", "YAML"},     {"yml", "YAML"},       {"toml", "TOML"},
      {"xml", "XML"},      {"md", "Markdown"},    {"markdown", "Markdown"}, {"sql", "SQL"},    {"lua", "Lua"},
      {"pl", "Perl"},      {"pm", "Perl"},        {"r", "R"},           {"ini", "INI"},        {"dockerfile", "Dockerfile"}};
  return m;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

const Language* by_name(const std::string& name) {
  auto it = languages().find(name);
  return it == languages().end() ? nullptr : &it->second;
}

// "#!/usr/bin/env python3 -u" -> "python3"; "#!/bin/bash" -> "bash".
std::string shebang_interpreter(std::string_view content) {
  if (!starts_with(content, "#!")) return {};
  std::string_view line = content.substr(2, content.find('\n') == std::string_view::npos ? std::string_view::npos
                                                                                          : content.find('\n') - 2);
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
  auto base = [](const std::string& w) { return w.substr(w.rfind('/') == std::string::npos ? 0 : w.rfind('/') + 1); };
  std::string prog = base(words[0]);
  if (prog == "env") {
    for (size_t i = 1; i < words.size(); ++i)
      if (words[i][0] != '-') return base(words[i]);
    return {};
  }
  return prog;
}

const Language* from_shebang(std::string_view content) {
  std::string interp = shebang_interpreter(content);
  if (interp.empty()) return nullptr;
  if (starts_with(interp, "python")) return by_name("Python");
  if (interp == "sh" || interp == "bash" || interp == "zsh" || interp == "dash" || interp == "ksh")
    return by_name("Shell");
  if (starts_with(interp, "node")) return by_name("JavaScript");
  if (starts_with(interp, "perl")) return by_name("Perl");
  if (starts_with(interp, "ruby")) return by_name("Ruby");
  return nullptr;
}

struct ScanState {
  std::string end;       // closing marker of an open multi-line construct, "" when none
  bool in_code = false;  // the open construct is a (code) string, not a comment
};

size_t match_any(std::string_view line, size_t i, const std::vector<std::string>& markers) {
  for (size_t k = 0; k < markers.size(); ++k)
    if (line.compare(i, markers[k].size(), markers[k]) == 0) return k;
  return std::string::npos;
}

void classify_line(const Language& lang, std::string_view line, ScanState& st, LineCounts& out) {
  bool code = false, comment = false;
  size_t i = 0;
  const size_t n = line.size();
  while (i < n) {
    if (!st.end.empty()) {
      // Inside a block comment or multi-line string: whitespace lines stay blank.
      size_t j = i;
      while (j < n && std::isspace(static_cast<unsigned char>(line[j]))) ++j;
      if (j == n) break;
      (st.in_code ? code : comment) = true;
      size_t e = line.find(st.end, j);
      if (e == std::string_view::npos) break;
      i = e + st.end.size();
      st.end.clear();
      continue;
    }
    const char c = line[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    bool matched = false;
    for (const auto& [open, close] : lang.blocks) {
      if (line.compare(i, open.size(), open) == 0) {
        comment = true;
        st.end = close;
        st.in_code = false;
        i += open.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (match_any(line, i, lang.line_comments) != std::string::npos) {
      comment = true;
      break;
    }
    if (lang.python_docstrings && (line.compare(i, 3, "\"\"\"") == 0 || line.compare(i, 3, "'''") == 0)) {
      st.end = std::string(line.substr(i, 3));
      st.in_code = code;  // at statement start it is a docstring, i.e. a comment
      (code ? code : comment) = true;
      i += 3;
      continue;
    }
    if (lang.quotes.find(c) != std::string::npos) {
      code = true;
      size_t j = i + 1;
      while (j < n && line[j] != c) j += (line[j] == '\\') ? 2 : 1;
      i = j + 1;
      continue;
    }
    code = true;
    ++i;
  }
  if (code)
    ++out.code;
  else if (comment)
    ++out.comment;
  else
    ++out.blank;
}

}  // namespace

const Language* detect_language(const std::string& rel_path, std::string_view content) {
  size_t slash = rel_path.rfind('/');
  const std::string name = slash == std::string::npos ? rel_path : rel_path.substr(slash + 1);
  if (name == "Makefile" || name == "makefile" || name == "GNUmakefile") return by_name("Makefile");
  if (name == "CMakeLists.txt") return by_name("CMake");
  if (name == "Dockerfile" || name == "Containerfile" || starts_with(name, "Dockerfile."))
    return by_name("Dockerfile");
  if (name == "Gemfile" || name == "Rakefile") return by_name("Ruby");
  size_t dot = name.rfind('.');
  if (dot != std::string::npos && dot != 0) {
    auto it = extension_map().find(lower(name.substr(dot + 1)));
    if (it != extension_map().end()) return by_name(it->second);
    return nullptr;
  }
  return from_shebang(content);
}

LineCounts count_lines(const Language& lang, std::string_view content) {
  LineCounts out;
  ScanState st;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    size_t end = nl == std::string_view::npos ? content.size() : nl;
    std::string_view line = content.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    classify_line(lang, line, st, out);
    pos = end + 1;
  }
  return out;
}

bool LanguageStats::add(const std::string& rel_path, std::string_view content) {
  const Language* lang = detect_language(rel_path, content);
  if (!lang) return false;
  LineCounts c = count_lines(*lang, content);
  LanguageTotals& t = totals_[lang->name];
  t.name = lang->name;
  ++t.files;
  t.code += c.code;
  t.comment += c.comment;
  t.blank += c.blank;
  t.bytes += content.size();
  return true;
}

std::vector<LanguageTotals> LanguageStats::sorted() const {
  std::vector<LanguageTotals> v;
  for (const auto& [name, t] : totals_) v.push_back(t);
  std::sort(v.begin(), v.end(), [](const LanguageTotals& a, const LanguageTotals& b) {
    return a.code != b.code ? a.code > b.code : a.name < b.name;
  });
  return v;
}

}  // namespace isb::analyzer::codebase
