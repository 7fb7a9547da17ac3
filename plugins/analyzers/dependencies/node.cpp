// node.cpp: the npm ecosystem: package.json (Boost.JSON), package-lock.json
// v1/v2/v3 and npm-shrinkwrap.json (Boost.JSON), yarn.lock v1 and berry (a
// line grammar), pnpm-lock.yaml v5/v6/v9 (yaml-cpp).
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

namespace json = boost::json;

namespace {

constexpr const char* kNpm = "npm";

// Protocols that point at the repository itself, not at a registry package.
bool is_local_spec(std::string_view spec) {
  for (std::string_view p : {"workspace:", "file:", "link:", "portal:"})
    if (spec.starts_with(p)) return true;
  return false;
}

// The offset of the next `"key":` at or after cursor, advancing cursor past it.
// Lockfiles list keys in document order, so one forward scan finds them all.
int next_key_line(std::string_view text, std::string_view key, size_t& cursor) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  for (size_t pos = text.find(quoted, cursor); pos != std::string_view::npos; pos = text.find(quoted, pos + 1)) {
    size_t after = pos + quoted.size();
    while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
    if (after < text.size() && text[after] == ':') {
      cursor = after;
      return line_at(text, pos);
    }
  }
  return 0;
}

// "@scope/name@^1.0" -> {"@scope/name", "^1.0"}: the separator is the last
// '@' that does not start the name.
std::pair<std::string, std::string> split_name_range(std::string_view spec) {
  size_t at = spec.find('@', 1);
  if (at == std::string_view::npos) return {std::string(spec), ""};
  return {std::string(spec.substr(0, at)), std::string(spec.substr(at + 1))};
}

// pnpm decorates versions with peer suffixes: "18.2.0(react@18.2.0)", v5 "1.0.0_react@18".
std::string pnpm_version(std::string v) {
  size_t cut = v.find_first_of("(_");
  if (cut != std::string::npos) v.resize(cut);
  return v;
}

}  // namespace

void parse_package_json(const SourceFile& f, FileFacts& out) {
  auto doc = parse_json_object(f, out);
  if (!doc) return;
  const std::pair<const char*, Scope> sections[] = {{"dependencies", Scope::kRuntime},
                                                    {"devDependencies", Scope::kDev},
                                                    {"optionalDependencies", Scope::kOptional}};
  for (const auto& [section, scope] : sections) {
    auto* s = doc->if_contains(section);
    if (!s) continue;
    if (!s->is_object()) {
      out.warnings.push_back(malformed(f, json_key_line(f.text, "", section),
                                       std::string("\"") + section + "\" must be an object of name: range"));
      continue;
    }
    for (const auto& [name, range] : s->as_object()) {
      std::string spec = range.is_string() ? std::string(range.as_string()) : std::string();
      if (is_local_spec(spec)) continue;
      Declared d;
      d.ecosystem = kNpm;
      d.name = name;
      d.constraint = spec;
      d.scope = scope;
      d.file = f.rel;
      d.line = json_key_line(f.text, section, name);
      out.declared.push_back(std::move(d));
    }
  }
}

namespace {

void add_lock_v1(const json::object& deps, const SourceFile& f, FileFacts& out, size_t& cursor) {
  for (const auto& [name, e] : deps) {
    if (!e.is_object()) continue;
    const json::object& o = e.as_object();
    Locked l;
    l.ecosystem = kNpm;
    l.name = name;
    l.version = json_string(o, "version");
    l.scope_known = true;
    l.scope = o.contains("dev") && o.at("dev") == true           ? Scope::kDev
              : o.contains("optional") && o.at("optional") == true ? Scope::kOptional
                                                                   : Scope::kRuntime;
    l.local = is_local_spec(l.version);
    l.file = f.rel;
    l.line = next_key_line(f.text, name, cursor);
    out.locked.push_back(std::move(l));
    if (auto* nested = o.if_contains("dependencies"); nested && nested->is_object())
      add_lock_v1(nested->as_object(), f, out, cursor);
  }
}

}  // namespace

void parse_package_lock_json(const SourceFile& f, FileFacts& out) {
  auto doc = parse_json_object(f, out);
  if (!doc) return;
  size_t cursor = 0;
  if (auto* packages = doc->if_contains("packages"); packages && packages->is_object()) {
    next_key_line(f.text, "packages", cursor);
    for (const auto& [key, e] : packages->as_object()) {
      const std::string_view k = key;
      size_t nm = k.find("node_modules/");
      if (nm == std::string_view::npos || !e.is_object()) continue;  // "" (the root) or a member's own entry
      const json::object& o = e.as_object();
      size_t last = k.rfind("node_modules/");
      Locked l;
      l.ecosystem = kNpm;
      l.name = std::string(k.substr(last + 13));
      l.version = json_string(o, "version");
      l.member = std::string(nm == 0 ? std::string_view() : k.substr(0, nm - 1));
      l.local = o.contains("link") && o.at("link") == true;
      l.scope_known = true;
      auto flag = [&](const char* n) { return o.contains(n) && o.at(n) == true; };
      l.scope = flag("dev") || flag("devOptional") ? Scope::kDev : flag("optional") ? Scope::kOptional : Scope::kRuntime;
      l.file = f.rel;
      l.line = next_key_line(f.text, key, cursor);
      out.locked.push_back(std::move(l));
    }
    return;
  }
  if (auto* deps = doc->if_contains("dependencies"); deps && deps->is_object()) {
    next_key_line(f.text, "dependencies", cursor);
    add_lock_v1(deps->as_object(), f, out, cursor);
  }
}

void parse_yarn_lock(const SourceFile& f, FileFacts& out) {
  // An entry is an unindented header ("a@^1, a@^1.1:" or "\"a@npm:^1\":")
  // followed by indented fields; v1 writes `version "1.2.3"`, berry `version: 1.2.3`.
  Locked* current = nullptr;
  for (const Line& l : lines_of(f.text)) {
    if (l.text.empty() || l.text.front() == '#') continue;
    if (l.text.front() != ' ') {
      current = nullptr;
      std::string_view header = trim(l.text);
      if (header.empty() || header.back() != ':') {
        out.warnings.push_back(malformed(f, l.number, "yarn.lock entry header must end in ':'"));
        out.locked.clear();
        return;
      }
      header.remove_suffix(1);
      if (header == "__metadata") continue;
      Locked entry;
      entry.ecosystem = kNpm;
      entry.file = f.rel;
      entry.line = l.number;
      size_t start = 0;
      while (start <= header.size()) {
        size_t comma = header.find(',', start);
        std::string_view spec = unquote(header.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                                           : comma - start));
        auto [name, range] = split_name_range(spec);
        if (entry.name.empty()) entry.name = name;
        if (is_local_spec(range)) entry.local = true;
        entry.ranges.push_back(range);
        if (range.starts_with("npm:")) entry.ranges.push_back(range.substr(4));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      out.locked.push_back(std::move(entry));
      current = &out.locked.back();
      continue;
    }
    if (!current) continue;
    std::string_view field = trim(l.text);
    if (l.text.size() - field.size() != 2 || !field.starts_with("version")) continue;  // only top-level fields
    std::string_view v = trim(field.substr(7));
    if (!v.empty() && v.front() == ':') v = trim(v.substr(1));
    current->version = std::string(unquote(v));
  }
}

void parse_pnpm_lock_yaml(const SourceFile& f, FileFacts& out) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(f.text));
  } catch (const YAML::Exception& e) {
    out.warnings.push_back(malformed(f, e.mark.line + 1, "invalid YAML: " + e.msg));
    return;
  }
  if (!doc.IsMap()) {
    out.warnings.push_back(malformed(f, 1, "pnpm-lock.yaml is not a YAML mapping"));
    return;
  }
  try {
    // Direct dependencies per importer: v6/v9 {specifier, version}, v5 a bare version.
    auto add_importer = [&](const YAML::Node& imp, const std::string& member) {
      for (const char* section : {"dependencies", "devDependencies", "optionalDependencies"}) {
        const YAML::Node s = imp[section];
        if (!s || !s.IsMap()) continue;
        for (const auto& kv : s) {
          Locked l;
          l.ecosystem = kNpm;
          l.name = kv.first.as<std::string>();
          const YAML::Node v = kv.second.IsMap() ? kv.second["version"] : kv.second;
          l.version = v && v.IsScalar() ? pnpm_version(v.as<std::string>()) : std::string();
          l.local = is_local_spec(l.version);
          l.member = member == "." ? "" : member;
          l.importer = true;
          l.scope_known = true;
          l.scope = std::string_view(section) == "devDependencies"        ? Scope::kDev
                    : std::string_view(section) == "optionalDependencies" ? Scope::kOptional
                                                                          : Scope::kRuntime;
          l.file = f.rel;
          l.line = kv.first.Mark().line + 1;
          out.locked.push_back(std::move(l));
        }
      }
    };
    if (const YAML::Node importers = doc["importers"]; importers && importers.IsMap()) {
      for (const auto& kv : importers) add_importer(kv.second, kv.first.as<std::string>());
    } else {
      add_importer(doc, ".");
    }
    if (const YAML::Node packages = doc["packages"]; packages && packages.IsMap()) {
      for (const auto& kv : packages) {
        std::string key = kv.first.as<std::string>();
        if (!key.empty() && key.front() == '/') key.erase(0, 1);
        Locked l;
        l.ecosystem = kNpm;
        // v6/v9 "name@version", v5 "name/version" (scoped names keep their first '/').
        size_t at = key.find('@', 1);
        size_t paren = key.find('(');
        if (at != std::string::npos && (paren == std::string::npos || at < paren)) {
          l.name = key.substr(0, at);
          l.version = pnpm_version(key.substr(at + 1));
        } else {
          size_t slash = key.rfind('/');
          if (slash == std::string::npos) continue;
          l.name = key.substr(0, slash);
          l.version = pnpm_version(key.substr(slash + 1));
        }
        if (kv.second.IsMap() && kv.second["dev"] && kv.second["dev"].IsScalar()) {
          l.scope_known = true;
          l.scope = kv.second["dev"].as<std::string>() == "true" ? Scope::kDev : Scope::kRuntime;
        }
        l.file = f.rel;
        l.line = kv.first.Mark().line + 1;
        out.locked.push_back(std::move(l));
      }
    }
  } catch (const YAML::Exception& e) {
    out.locked.clear();
    out.warnings.push_back(malformed(f, e.mark.line + 1, "unexpected pnpm-lock.yaml structure: " + e.msg));
  }
}

}  // namespace isb::analyzer::deps
