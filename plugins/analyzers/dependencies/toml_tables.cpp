// toml_tables.cpp: TOML reading shared by the python and rust parsers.
#include "dependencies/toml_tables.hpp"

#include <string>
#include <utility>

#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

std::optional<toml::table> parse_toml(const SourceFile& f, FileFacts& out) {
  try {
    return toml::parse(f.text, f.rel);
  } catch (const toml::parse_error& e) {
    out.warnings.push_back(malformed(f, static_cast<int>(e.source().begin.line),
                                     "invalid TOML: " + std::string(e.description())));
    return std::nullopt;
  }
}

int toml_line(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

Declared declared_at_key(const toml::key& key, const char* ecosystem, Scope scope, const SourceFile& f) {
  Declared d;
  d.ecosystem = ecosystem;
  d.name = std::string(key.str());
  d.scope = scope;
  d.file = f.rel;
  d.line = static_cast<int>(key.source().begin.line);
  return d;
}

void read_lock_packages(const toml::table& lock, const char* ecosystem, const SourceFile& f, FileFacts& out,
                        const std::function<void(const toml::table& entry, Locked& l)>& complete) {
  const toml::array* packages = lock.get_as<toml::array>("package");
  if (!packages) return;
  for (const auto& p : *packages) {
    const toml::table* pt = p.as_table();
    if (!pt) continue;
    Locked l;
    l.ecosystem = ecosystem;
    l.name = pt->get("name") ? pt->get("name")->value_or(std::string()) : std::string();
    l.version = pt->get("version") ? pt->get("version")->value_or(std::string()) : std::string();
    if (l.name.empty()) continue;
    l.file = f.rel;
    l.line = toml_line(p);
    complete(*pt, l);
    out.locked.push_back(std::move(l));
  }
}

}  // namespace isb::analyzer::deps
