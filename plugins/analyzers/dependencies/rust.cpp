// rust.cpp: the crates.io ecosystem: Cargo.toml ([dependencies],
// [dev-dependencies], [build-dependencies], their [target.*] forms and
// [workspace.dependencies]) and Cargo.lock, both through toml++.
#include <toml++/toml.h>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

namespace {

constexpr const char* kCargo = "cargo";

std::optional<toml::table> parse_cargo_file(const SourceFile& f, FileFacts& out) {
  try {
    return toml::parse(f.text, f.rel);
  } catch (const toml::parse_error& e) {
    out.warnings.push_back(malformed(f, static_cast<int>(e.source().begin.line),
                                     "invalid TOML: " + std::string(e.description())));
    return std::nullopt;
  }
}

// name = "1.0" | { version = "1", optional = true, path = "..", workspace = true, package = "real-name" }
void add_section(const toml::table* t, Scope scope, const SourceFile& f, FileFacts& out) {
  if (!t) return;
  for (const auto& [key, value] : *t) {
    Declared d;
    d.ecosystem = kCargo;
    d.name = std::string(key.str());
    d.scope = scope;
    d.file = f.rel;
    d.line = static_cast<int>(key.source().begin.line);
    if (auto s = value.value<std::string>()) {
      d.constraint = *s;
    } else if (const toml::table* spec = value.as_table()) {
      if (spec->contains("path")) continue;  // a crate of this repository
      if (auto* p = spec->get("package")) d.name = p->value_or(d.name);
      if (auto* v = spec->get("version")) d.constraint = v->value_or(std::string());
      if (auto* g = spec->get("git")) d.constraint = "git " + g->value_or(std::string());
      if (auto* o = spec->get("optional"); o && o->value_or(false)) d.scope = Scope::kOptional;
    }
    out.declared.push_back(std::move(d));
  }
}

void add_dependency_tables(const toml::table& t, const SourceFile& f, FileFacts& out) {
  add_section(t.get_as<toml::table>("dependencies"), Scope::kRuntime, f, out);
  add_section(t.get_as<toml::table>("dev-dependencies"), Scope::kDev, f, out);
  add_section(t.get_as<toml::table>("build-dependencies"), Scope::kBuild, f, out);
}

}  // namespace

void parse_cargo_toml(const SourceFile& f, FileFacts& out) {
  auto t = parse_cargo_file(f, out);
  if (!t) return;
  add_dependency_tables(*t, f, out);
  if (const toml::table* targets = t->get_as<toml::table>("target"))
    for (const auto& [cfg, v] : *targets)
      if (const toml::table* tt = v.as_table()) add_dependency_tables(*tt, f, out);
  // Members inherit these with `dep.workspace = true`; the root declares them once.
  add_section(t->at_path("workspace.dependencies").as_table(), Scope::kRuntime, f, out);
}

void parse_cargo_lock(const SourceFile& f, FileFacts& out) {
  auto t = parse_cargo_file(f, out);
  if (!t) return;
  const toml::array* packages = t->get_as<toml::array>("package");
  if (!packages) return;
  for (const auto& p : *packages) {
    const toml::table* pt = p.as_table();
    if (!pt) continue;
    Locked l;
    l.ecosystem = kCargo;
    l.name = pt->get("name") ? pt->get("name")->value_or(std::string()) : std::string();
    l.version = pt->get("version") ? pt->get("version")->value_or(std::string()) : std::string();
    if (l.name.empty()) continue;
    l.local = !pt->contains("source");  // workspace members and path crates have no source
    l.file = f.rel;
    l.line = static_cast<int>(p.source().begin.line);
    out.locked.push_back(std::move(l));
  }
}

}  // namespace isb::analyzer::deps
