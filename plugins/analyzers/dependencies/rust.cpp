// rust.cpp: the crates.io ecosystem: Cargo.toml ([dependencies],
// [dev-dependencies], [build-dependencies], their [target.*] forms and
// [workspace.dependencies]) and Cargo.lock, both through toml++.
#include <toml++/toml.h>

#include "dependencies/dependency.hpp"
#include "dependencies/toml_tables.hpp"

namespace isb::analyzer::deps {

namespace {

constexpr const char* kCargo = "cargo";

// name = "1.0" | { version = "1", optional = true, path = "..", workspace = true, package = "real-name" }
void add_section(const toml::table* t, Scope scope, const SourceFile& f, FileFacts& out) {
  if (!t) return;
  for (const auto& [key, value] : *t) {
    Declared d = declared_at_key(key, kCargo, scope, f);
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
  auto t = parse_toml(f, out);
  if (!t) return;
  add_dependency_tables(*t, f, out);
  if (const toml::table* targets = t->get_as<toml::table>("target"))
    for (const auto& [cfg, v] : *targets)
      if (const toml::table* tt = v.as_table()) add_dependency_tables(*tt, f, out);
  // Members inherit these with `dep.workspace = true`; the root declares them once.
  add_section(t->at_path("workspace.dependencies").as_table(), Scope::kRuntime, f, out);
}

void parse_cargo_lock(const SourceFile& f, FileFacts& out) {
  auto t = parse_toml(f, out);
  if (!t) return;
  read_lock_packages(*t, kCargo, f, out, [](const toml::table& entry, Locked& l) {
    l.local = !entry.contains("source");  // workspace members and path crates have no source
  });
}

}  // namespace isb::analyzer::deps
