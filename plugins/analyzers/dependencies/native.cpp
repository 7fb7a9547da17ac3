// native.cpp: C and C++ dependencies: CMakeLists.txt find_package and
// FetchContent_Declare (a small CMake command grammar), conanfile.txt (INI
// sections), vcpkg.json (Boost.JSON, with its overrides as exact versions).
#include <boost/json.hpp>
#include <cctype>
#include <map>
#include <set>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

namespace json = boost::json;

namespace {

// Test frameworks and build tools among C/C++ packages (lower case); other
// packages are linked into what the project ships.
Scope native_scope(std::string_view key) {
  static const std::set<std::string, std::less<>> test{"gtest", "googletest", "gmock", "catch2", "doctest",
                                                       "benchmark", "cppunit", "boost-test"};
  static const std::set<std::string, std::less<>> build{"pkgconfig", "git", "doxygen", "python", "python3",
                                                        "pythoninterp", "perl", "bison", "flex", "ninja", "cmake"};
  if (test.count(key)) return Scope::kTest;
  if (build.count(key)) return Scope::kBuild;
  return Scope::kRuntime;
}

std::string lower(std::string_view s) {
  std::string o;
  for (char c : s) o += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

struct CMakeCommand {
  std::string name;  // lower case
  std::vector<std::string> args;
  int line = 0;
};

// Commands of a CMake file: `name(args...)`, comments dropped, quoted
// arguments kept whole, nested parentheses balanced. Returns false (with the
// line) when a command's parenthesis is never closed.
bool cmake_commands(std::string_view text, std::vector<CMakeCommand>& out, int& bad_line) {
  size_t i = 0;
  const size_t n = text.size();
  auto skip_comment = [&] {
    if (text.substr(i, 3) == "#[[" || text.substr(i, 4) == "#[=[") {
      size_t end = text.find("]]", i);
      if (end == std::string_view::npos) end = text.find("]=]", i);
      i = end == std::string_view::npos ? n : end + 2;
    } else {
      while (i < n && text[i] != '\n') ++i;
    }
  };
  while (i < n) {
    char c = text[i];
    if (c == '#') {
      skip_comment();
      continue;
    }
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '_')) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < n && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
    CMakeCommand cmd;
    cmd.name = lower(text.substr(start, i - start));
    cmd.line = line_at(text, start);
    size_t j = i;
    while (j < n && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (j >= n || text[j] != '(') continue;
    i = j + 1;
    int depth = 1;
    std::string arg;
    auto flush = [&] {
      if (!arg.empty()) cmd.args.push_back(std::move(arg));
      arg.clear();
    };
    while (i < n && depth > 0) {
      c = text[i];
      if (c == '"') {
        size_t close = text.find('"', i + 1);
        while (close != std::string_view::npos && text[close - 1] == '\\') close = text.find('"', close + 1);
        if (close == std::string_view::npos) break;
        arg += text.substr(i + 1, close - i - 1);
        i = close + 1;
        continue;
      }
      if (c == '#') {
        flush();
        skip_comment();
        continue;
      }
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0) break;
      if (std::isspace(static_cast<unsigned char>(c)))
        flush();
      else
        arg += c;
      ++i;
    }
    if (depth > 0) {
      bad_line = cmd.line;
      return false;
    }
    flush();
    ++i;
    out.push_back(std::move(cmd));
  }
  return true;
}

bool starts_with_digit(std::string_view s) { return !s.empty() && std::isdigit(static_cast<unsigned char>(s[0])); }

}  // namespace

void parse_cmakelists(const SourceFile& f, FileFacts& out) {
  std::vector<CMakeCommand> cmds;
  int bad = 0;
  if (!cmake_commands(f.text, cmds, bad)) {
    out.warnings.push_back(malformed(f, bad, "unbalanced parentheses in a CMake command"));
    return;
  }
  for (const auto& c : cmds) {
    if (c.args.empty()) continue;
    if (c.args[0].find("${") != std::string::npos) continue;  // a name computed at configure time
    Declared d;
    d.ecosystem = "cmake";
    d.name = c.args[0];
    d.scope = native_scope(lower(d.name));
    d.file = f.rel;
    d.line = c.line;
    if (c.name == "find_package") {
      if (c.args.size() > 1 && starts_with_digit(c.args[1])) {
        d.constraint = c.args[1];
        for (const auto& a : c.args)
          if (a == "EXACT") d.pinned = d.constraint;
      }
    } else if (c.name == "fetchcontent_declare") {
      for (size_t k = 1; k + 1 < c.args.size(); ++k) {
        if (c.args[k] == "GIT_TAG") d.constraint = d.pinned = c.args[k + 1];  // a tag or commit is one exact version
        if (c.args[k] == "URL" && d.constraint.empty()) d.constraint = c.args[k + 1];
      }
    } else {
      continue;
    }
    out.declared.push_back(std::move(d));
  }
}

void parse_conanfile_txt(const SourceFile& f, FileFacts& out) {
  Scope scope = Scope::kRuntime;
  bool in_deps = false;
  for (const Line& l : lines_of(f.text)) {
    std::string_view t = trim(l.text);
    if (t.empty() || t.front() == '#') continue;
    if (t.front() == '[') {
      if (t.back() != ']') {
        out.warnings.push_back(malformed(f, l.number, "section header must end in ']'"));
        out.declared.clear();
        return;
      }
      std::string_view s = t.substr(1, t.size() - 2);
      in_deps = s == "requires" || s == "tool_requires" || s == "build_requires" || s == "test_requires";
      scope = s == "requires" ? Scope::kRuntime : s == "test_requires" ? Scope::kTest : Scope::kBuild;
      continue;
    }
    if (!in_deps) continue;
    // name/version[@user/channel][#revision]; version may be a range "[>=1 <2]".
    std::string_view ref = t.substr(0, t.find_first_of("@#"));
    size_t slash = ref.find('/');
    if (slash == std::string_view::npos) {
      out.warnings.push_back(malformed(f, l.number, "expected \"name/version\""));
      continue;
    }
    Declared d;
    d.ecosystem = "conan";
    d.name = std::string(ref.substr(0, slash));
    d.constraint = std::string(ref.substr(slash + 1));
    if (d.constraint.find('[') == std::string::npos) d.pinned = d.constraint;
    d.scope = scope == Scope::kRuntime ? native_scope(lower(d.name)) : scope;
    d.file = f.rel;
    d.line = l.number;
    out.declared.push_back(std::move(d));
  }
}

void parse_vcpkg_json(const SourceFile& f, FileFacts& out) {
  auto doc = parse_json_object(f, out);
  if (!doc) return;
  std::map<std::string, std::string> overrides;
  if (auto* o = doc->if_contains("overrides"); o && o->is_array())
    for (const auto& e : o->as_array())
      if (e.is_object()) {
        std::string v = json_string(e.as_object(), "version");
        if (v.empty()) v = json_string(e.as_object(), "version-string");
        overrides[json_string(e.as_object(), "name")] = v;
      }
  auto* deps = doc->if_contains("dependencies");
  if (!deps) return;
  if (!deps->is_array()) {
    out.warnings.push_back(malformed(f, json_key_line(f.text, "", "dependencies"),
                                     "\"dependencies\" must be an array of names or objects"));
    return;
  }
  size_t cursor = f.text.find("\"dependencies\"");
  for (const auto& e : deps->as_array()) {
    Declared d;
    d.ecosystem = "vcpkg";
    if (e.is_string()) {
      d.name = e.as_string();
    } else if (e.is_object()) {
      d.name = json_string(e.as_object(), "name");
      if (std::string v = json_string(e.as_object(), "version>="); !v.empty()) d.constraint = ">=" + v;
    }
    if (d.name.empty()) continue;
    d.scope = e.is_object() && e.as_object().contains("host") && e.as_object().at("host") == true
                  ? Scope::kBuild
                  : native_scope(lower(d.name));
    if (auto it = overrides.find(d.name); it != overrides.end()) d.pinned = it->second;
    d.file = f.rel;
    const std::string quoted = "\"" + d.name + "\"";
    if (size_t pos = f.text.find(quoted, cursor); pos != std::string_view::npos) {
      d.line = line_at(f.text, pos);
      cursor = pos + quoted.size();
    }
    out.declared.push_back(std::move(d));
  }
}

}  // namespace isb::analyzer::deps
