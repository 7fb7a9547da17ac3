// ruby.cpp: RubyGems through Bundler: Gemfile (gem lines, group blocks and
// group: options) and Gemfile.lock (GEM/GIT/PATH specs), both line grammars.
#include <vector>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

namespace {

constexpr const char* kRubygems = "rubygems";

// The scope a list of Bundler groups (":test", "[:development, :test]") gives.
Scope scope_of_groups(std::string_view groups, Scope current) {
  if (groups.find("test") != std::string_view::npos) return Scope::kTest;
  if (groups.find("development") != std::string_view::npos) return Scope::kDev;
  return current;
}

}  // namespace

void parse_gemfile(const SourceFile& f, FileFacts& out) {
  std::vector<Scope> blocks{Scope::kRuntime};  // one entry per open `... do` / `if`
  for (const Line& l : lines_of(f.text)) {
    std::string_view t = trim(l.text);
    if (size_t hash = t.find(" #"); hash != std::string_view::npos) t = trim(t.substr(0, hash));
    if (t.empty() || t.front() == '#') continue;
    if (t == "end") {
      if (blocks.size() > 1) blocks.pop_back();
      continue;
    }
    if (t.ends_with(" do") || t.find(" do |") != std::string_view::npos || t.starts_with("if ") || t.starts_with("unless ")) {
      Scope s = blocks.back();
      if (t.starts_with("group")) s = scope_of_groups(t, s);
      blocks.push_back(s);
      continue;
    }
    if (!t.starts_with("gem ") && !t.starts_with("gem(")) continue;
    std::string_view rest = trim(t.substr(3));
    if (rest.starts_with("(") && rest.ends_with(")")) rest = rest.substr(1, rest.size() - 2);
    std::vector<std::string_view> args = split_args(rest);
    std::string_view name = unquote(args[0]);
    if (name.empty() || name == args[0]) {
      out.warnings.push_back(malformed(f, l.number, "a gem line must start with the quoted gem name"));
      continue;
    }
    Declared d;
    d.ecosystem = kRubygems;
    d.name = std::string(name);
    d.scope = blocks.back();
    d.file = f.rel;
    d.line = l.number;
    bool local = false;
    for (size_t i = 1; i < args.size(); ++i) {
      std::string_view a = args[i];
      if (a.starts_with("\"") || a.starts_with("'")) {
        if (!d.constraint.empty()) d.constraint += ", ";
        d.constraint += std::string(unquote(a));
      } else if (a.starts_with("group:") || a.starts_with("groups:") || a.starts_with(":group =>")) {
        d.scope = scope_of_groups(a, d.scope);
      } else if (a.starts_with("path:")) {
        local = true;
      }
    }
    if (!local) out.declared.push_back(std::move(d));
  }
}

void parse_gemfile_lock(const SourceFile& f, FileFacts& out) {
  std::string_view section;
  bool in_specs = false;
  for (const Line& l : lines_of(f.text)) {
    std::string_view raw = l.text;
    if (raw.empty()) {
      in_specs = false;
      continue;
    }
    if (raw.front() != ' ') {
      section = trim(raw);
      in_specs = false;
      continue;
    }
    if (trim(raw) == "specs:") {
      in_specs = true;
      continue;
    }
    // Four spaces: a resolved gem "name (version)"; six: what it requires.
    if (!in_specs || raw.size() < 5 || raw.substr(0, 4) != "    " || raw[4] == ' ') continue;
    std::string_view spec = trim(raw);
    size_t open = spec.find(" (");
    if (open == std::string_view::npos || spec.back() != ')') {
      out.warnings.push_back(malformed(f, l.number, "expected \"name (version)\" in specs"));
      out.locked.clear();
      return;
    }
    Locked e;
    e.ecosystem = kRubygems;
    e.name = std::string(spec.substr(0, open));
    e.version = std::string(spec.substr(open + 2, spec.size() - open - 3));
    // Platform gems carry their platform: "nokogiri (1.15.4-x86_64-linux)".
    if (size_t dash = e.version.find('-'); dash != std::string::npos) e.version.resize(dash);
    e.local = section == "PATH";
    e.file = f.rel;
    e.line = l.number;
    out.locked.push_back(std::move(e));
  }
}

}  // namespace isb::analyzer::deps
