// php.cpp: Packagist through Composer: composer.json (require, require-dev)
// and composer.lock (packages, packages-dev), both through Boost.JSON.
#include <boost/json.hpp>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

namespace json = boost::json;

namespace {

constexpr const char* kPackagist = "packagist";

// "php", "ext-json", "lib-icu", "composer-plugin-api": the platform, not packages.
bool is_platform(std::string_view name) {
  return name == "php" || name.starts_with("ext-") || name.starts_with("lib-") || name.starts_with("composer-") ||
         name == "hhvm";
}

}  // namespace

void parse_composer_json(const SourceFile& f, FileFacts& out) {
  auto doc = parse_json_object(f, out);
  if (!doc) return;
  for (const auto& [section, scope] :
       {std::pair<const char*, Scope>{"require", Scope::kRuntime}, {"require-dev", Scope::kDev}}) {
    auto* s = doc->if_contains(section);
    if (!s) continue;
    if (!s->is_object()) {
      out.warnings.push_back(malformed(f, json_key_line(f.text, "", section),
                                       std::string("\"") + section + "\" must be an object of name: constraint"));
      continue;
    }
    for (const auto& [name, c] : s->as_object()) {
      if (is_platform(name)) continue;
      Declared d;
      d.ecosystem = kPackagist;
      d.name = name;
      d.constraint = c.is_string() ? std::string(c.as_string()) : std::string();
      d.scope = scope;
      d.file = f.rel;
      d.line = json_key_line(f.text, section, name);
      out.declared.push_back(std::move(d));
    }
  }
}

void parse_composer_lock(const SourceFile& f, FileFacts& out) {
  auto doc = parse_json_object(f, out);
  if (!doc) return;
  for (const auto& [section, scope] :
       {std::pair<const char*, Scope>{"packages", Scope::kRuntime}, {"packages-dev", Scope::kDev}}) {
    auto* s = doc->if_contains(section);
    if (!s || !s->is_array()) continue;
    for (const auto& p : s->as_array()) {
      if (!p.is_object()) continue;
      Locked l;
      l.ecosystem = kPackagist;
      l.name = json_string(p.as_object(), "name");
      l.version = json_string(p.as_object(), "version");
      if (l.name.empty()) continue;
      l.scope = scope;
      l.scope_known = true;
      l.file = f.rel;
      // "name": "vendor/pkg" is unique per lockfile: its line is the entry's.
      if (size_t pos = f.text.find("\"" + l.name + "\""); pos != std::string_view::npos)
        l.line = line_at(f.text, pos);
      out.locked.push_back(std::move(l));
    }
  }
}

}  // namespace isb::analyzer::deps
