// php.cpp: PHP projects (composer.json via Boost.JSON). Composer scripts named
// test/build/lint run through `composer run-script`; otherwise PHPUnit is the
// test command when phpunit.xml(.dist) configures it or composer requires it.
#include <boost/json.hpp>

#include "codebase/ecosystems.hpp"
#include "codebase/manifest_text.hpp"

namespace isb::analyzer {

namespace json = boost::json;

Project detect_php(const TreeView& tree, const std::string& dir, std::vector<std::string>& warnings) {
  Project p;
  p.path = dir;
  p.ecosystem = "php";
  p.package_manager = "composer";
  p.package_manager_reason = "composer.json is a Composer manifest";
  p.manifests = {"composer.json"};
  const auto& files = tree.walk.dirs.at(dir).files;
  auto rel = [&](const std::string& n) { return join_rel(dir, n); };
  const bool locked = files.count("composer.lock") > 0;
  if (locked) p.lockfiles.push_back("composer.lock");
  p.evidence.push_back({rel("composer.json"), "Composer manifest"});

  json::object manifest;
  if (const std::string* text = tree.text(dir, "composer.json")) {
    boost::system::error_code ec;
    size_t line = 0;
    json::value v = parse_json_with_line(*text, ec, line);
    if (ec)
      warnings.push_back(rel("composer.json") + ":" + std::to_string(line) + ": invalid JSON: " +
                         ec.message() + " (fix the file; the project is reported from what the tree shows)");
    else if (!v.is_object())
      warnings.push_back(rel("composer.json") + ": not a JSON object (a Composer manifest is an object)");
    else
      manifest = v.as_object();
  }

  p.commands.push_back(
      {"install", make_command({"composer", "install"}, dir, "ecosystem_default", kConfidenceDirect,
                               {locked ? Evidence{rel("composer.lock"), "composer.lock present"}
                                       : Evidence{rel("composer.json"), "composer.json present"}})});

  // Composer scripts: a string or an array of commands under "scripts".
  const json::object* scripts = nullptr;
  if (auto* s = manifest.if_contains("scripts"); s && s->is_object()) scripts = &s->as_object();
  auto script = [&](const char* name) -> std::optional<std::string> {
    if (!scripts) return std::nullopt;
    const json::value* v = scripts->if_contains(name);
    if (!v) return std::nullopt;
    if (v->is_string()) return std::string(v->as_string());
    if (v->is_array() && !v->as_array().empty()) {
      std::string joined;
      for (const auto& e : v->as_array())
        if (e.is_string()) joined += (joined.empty() ? "" : "; ") + std::string(e.as_string());
      return joined;
    }
    return std::nullopt;
  };
  for (const char* kind : {"build", "test", "lint"}) {
    if (auto body = script(kind))
      p.commands.push_back(
          {kind, make_command({"composer", "run-script", kind}, dir, "manifest_script", kConfidenceScript,
                              {{rel("composer.json"), std::string("scripts.") + kind + ": " + *body}})});
  }
  for (const auto& [kind, _] : p.commands)
    if (kind == "test") return p;

  std::optional<Evidence> phpunit;
  for (const char* cfg : {"phpunit.xml", "phpunit.xml.dist", "phpunit.dist.xml"})
    if (files.count(cfg)) {
      phpunit = Evidence{rel(cfg), "PHPUnit configuration"};
      break;
    }
  if (!phpunit)
    for (const char* section : {"require-dev", "require"})
      if (auto* r = manifest.if_contains(section);
          r && r->is_object() && r->as_object().contains("phpunit/phpunit")) {
        phpunit = Evidence{rel("composer.json"), std::string(section) + " has phpunit/phpunit"};
        break;
      }
  if (phpunit)
    p.commands.push_back({"test", make_command({"vendor/bin/phpunit"}, dir, "ecosystem_default",
                                               kConfidenceDirect, {*phpunit})});
  return p;
}

}  // namespace isb::analyzer
