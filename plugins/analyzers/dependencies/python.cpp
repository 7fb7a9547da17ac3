// python.cpp: the PyPI ecosystem: pyproject.toml (PEP 621, PEP 735 groups,
// Poetry incl. groups, uv dev-dependencies, build-system.requires; toml++),
// requirements*.txt (a line grammar with -r includes and markers), poetry.lock
// and uv.lock (toml++).
#include <toml++/toml.h>

#include <cctype>
#include <filesystem>
#include <sstream>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"
#include "dependencies/toml_tables.hpp"

namespace isb::analyzer::deps {

namespace {

constexpr const char* kPypi = "pypi";

struct Requirement {
  std::string name, constraint, marker;
};

// A PEP 508 requirement: name, optional [extras], a version specifier (maybe
// in parentheses) or "@ url", and an optional "; marker".
std::optional<Requirement> parse_pep508(std::string_view s) {
  s = trim(s);
  Requirement r;
  size_t semi = s.find(';');
  if (semi != std::string_view::npos) {
    r.marker = std::string(trim(s.substr(semi + 1)));
    s = trim(s.substr(0, semi));
  }
  size_t i = 0;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
    ++i;
  if (i == 0) return std::nullopt;
  r.name = std::string(s.substr(0, i));
  std::string_view rest = trim(s.substr(i));
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    rest = trim(rest.substr(close + 1));
  }
  if (!rest.empty() && rest.front() == '(' && rest.back() == ')') rest = trim(rest.substr(1, rest.size() - 2));
  if (!rest.empty() && !(rest.front() == '=' || rest.front() == '<' || rest.front() == '>' || rest.front() == '~' ||
                         rest.front() == '!' || rest.front() == '@'))
    return std::nullopt;
  r.constraint = std::string(rest);
  return r;
}

// "==1.2.3" (one clause, no wildcard) pins a version.
std::string pinned_version(std::string_view constraint) {
  std::string_view c = trim(constraint);
  if (c.starts_with("===")) c.remove_prefix(3);
  else if (c.starts_with("==")) c.remove_prefix(2);
  else return "";
  c = trim(c);
  if (c.empty() || c.find_first_of(",*;<>!~ ") != std::string_view::npos) return "";
  return std::string(c);
}

//! A declared PyPI dependency from one parsed requirement.
Declared declared_requirement(const Requirement& r, Scope scope, const std::string& file, int line) {
  Declared d;
  d.ecosystem = kPypi;
  d.name = r.name;
  d.constraint = r.constraint;
  d.marker = r.marker;
  d.pinned = pinned_version(r.constraint);
  d.scope = scope;
  d.file = file;
  d.line = line;
  return d;
}

Scope scope_of_group(std::string_view group, Scope otherwise) {
  std::string g;
  for (char c : group) g += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (g == "test" || g == "tests" || g == "testing") return Scope::kTest;
  if (g == "dev" || g == "develop" || g == "development" || g == "lint" || g == "docs" || g == "typing")
    return Scope::kDev;
  return otherwise;
}

void add_pep508_array(const toml::node* n, Scope scope, const SourceFile& f, FileFacts& out, const char* where) {
  const toml::array* arr = n ? n->as_array() : nullptr;
  if (!arr) return;
  for (const auto& el : *arr) {
    auto s = el.value<std::string>();
    if (!s) continue;  // PEP 735 {include-group = "..."} tables name groups, not packages
    auto r = parse_pep508(*s);
    if (!r) {
      out.warnings.push_back(f.rel + ":" + std::to_string(toml_line(el)) + ": " + where + ": \"" + *s +
                             "\" is not a PEP 508 requirement (skipped)");
      continue;
    }
    out.declared.push_back(declared_requirement(*r, scope, f.rel, toml_line(el)));
  }
}

// Poetry: name = "^1.2" | {version = "^1.2", optional = true, ...} | [{...}, {...}].
void add_poetry_table(const toml::node* n, Scope scope, const SourceFile& f, FileFacts& out) {
  const toml::table* t = n ? n->as_table() : nullptr;
  if (!t) return;
  for (const auto& [key, value] : *t) {
    if (key.str() == "python") continue;  // the interpreter, not a package
    Declared d = declared_at_key(key, kPypi, scope, f);
    if (auto s = value.value<std::string>()) {
      d.constraint = *s;
    } else if (const toml::table* spec = value.as_table()) {
      if (spec->contains("path") || spec->contains("develop")) continue;  // a local package
      d.constraint = spec->get("version") ? spec->get("version")->value_or(std::string()) : std::string();
      if (spec->get("optional") && spec->get("optional")->value_or(false)) d.scope = Scope::kOptional;
      if (spec->get("markers")) d.marker = spec->get("markers")->value_or(std::string());
    } else if (const toml::array* alts = value.as_array()) {
      for (const auto& alt : *alts)
        if (const toml::table* at = alt.as_table(); at && at->get("version")) {
          if (!d.constraint.empty()) d.constraint += " || ";
          d.constraint += at->get("version")->value_or(std::string());
        }
    }
    if (d.constraint == "*") d.constraint.clear();
    out.declared.push_back(std::move(d));
  }
}

}  // namespace

void parse_pyproject_toml(const SourceFile& f, FileFacts& out) {
  auto t = parse_toml(f, out);
  if (!t) return;
  add_pep508_array(t->at_path("project.dependencies").node(), Scope::kRuntime, f, out, "project.dependencies");
  if (const toml::table* extras = t->at_path("project.optional-dependencies").as_table())
    for (const auto& [k, v] : *extras)
      add_pep508_array(&v, scope_of_group(k.str(), Scope::kOptional), f, out, "project.optional-dependencies");
  if (const toml::table* groups = t->at_path("dependency-groups").as_table())
    for (const auto& [k, v] : *groups) add_pep508_array(&v, scope_of_group(k.str(), Scope::kDev), f, out, "dependency-groups");
  add_pep508_array(t->at_path("tool.uv.dev-dependencies").node(), Scope::kDev, f, out, "tool.uv.dev-dependencies");
  add_pep508_array(t->at_path("build-system.requires").node(), Scope::kBuild, f, out, "build-system.requires");
  add_poetry_table(t->at_path("tool.poetry.dependencies").node(), Scope::kRuntime, f, out);
  add_poetry_table(t->at_path("tool.poetry.dev-dependencies").node(), Scope::kDev, f, out);
  if (const toml::table* groups = t->at_path("tool.poetry.group").as_table())
    for (const auto& [k, v] : *groups)
      if (const toml::table* g = v.as_table())
        add_poetry_table(g->get("dependencies"), scope_of_group(k.str(), Scope::kDev), f, out);
}

void parse_requirements_txt(const SourceFile& f, FileFacts& out, const ReadFile& read,
                            std::set<std::string>& visited) {
  if (!visited.insert(f.rel).second) return;
  const std::string base = std::filesystem::path(f.rel).filename().string();
  const Scope scope = base.find("test") != std::string::npos                                     ? Scope::kTest
                      : base.find("dev") != std::string::npos || base.find("lint") != std::string::npos ||
                              base.find("doc") != std::string::npos
                          ? Scope::kDev
                          : Scope::kRuntime;
  const std::vector<Line> lines = lines_of(f.text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int number = lines[i].number;
    std::string text(lines[i].text);
    // A trailing backslash continues the requirement on the next line.
    while (!text.empty() && text.back() == '\\' && i + 1 < lines.size()) {
      text.pop_back();
      text += " " + std::string(lines[++i].text);
    }
    for (size_t h = text.find('#'); h != std::string::npos; h = text.find('#', h + 1))
      if (h == 0 || std::isspace(static_cast<unsigned char>(text[h - 1]))) {
        text.resize(h);
        break;
      }
    std::string_view l = trim(text);
    if (l.empty()) continue;
    if (l.front() == '-') {
      for (std::string_view opt : {"--requirement", "-r"}) {
        if (!l.starts_with(opt)) continue;
        std::string_view target = trim(l.substr(opt.size()));
        if (!target.empty() && target.front() == '=') target = trim(target.substr(1));
        const std::string rel =
            (std::filesystem::path(f.rel).parent_path() / std::string(target)).lexically_normal().string();
        if (const std::string* included = read(rel))
          parse_requirements_txt({rel, *included}, out, read, visited);
        else if (!visited.count(rel))
          out.warnings.push_back(f.rel + ":" + std::to_string(number) + ": included file \"" +
                                 std::string(target) + "\" is not in the tree (its requirements are left out)");
        break;
      }
      continue;  // other options: -c constraints, -e editable/local, index URLs
    }
    // Per-requirement options (--hash=...) follow the requirement.
    if (size_t opt = l.find(" --"); opt != std::string_view::npos) l = trim(l.substr(0, opt));
    if (l.find("://") != std::string_view::npos && l.find('@') == std::string_view::npos) continue;  // bare URL
    if (l.starts_with(".") || l.starts_with("/")) continue;                                        // local path
    auto r = parse_pep508(l);
    if (!r) {
      out.warnings.push_back(f.rel + ":" + std::to_string(number) + ": \"" + std::string(l) +
                             "\" is not a requirement line (skipped)");
      continue;
    }
    out.declared.push_back(declared_requirement(*r, scope, f.rel, number));
  }
}

void parse_poetry_or_uv_lock(const SourceFile& f, FileFacts& out) {
  auto t = parse_toml(f, out);
  if (!t) return;
  read_lock_packages(*t, kPypi, f, out, [](const toml::table& entry, Locked& l) {
    if (auto* cat = entry.get("category")) {  // poetry.lock before 1.5
      l.scope_known = true;
      l.scope = cat->value_or(std::string()) == "dev" ? Scope::kDev : Scope::kRuntime;
    }
    if (const toml::table* src = entry.get_as<toml::table>("source")) {
      // uv: the project itself is {editable = "."} or {virtual = "."}; poetry: type = "directory".
      if (src->contains("editable") || src->contains("virtual") ||
          (src->get("type") && src->get("type")->value_or(std::string()) == "directory"))
        l.local = true;
    }
  });
}

}  // namespace isb::analyzer::deps
