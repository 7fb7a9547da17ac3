// doctor.cpp: gathers the doctor's report (see isb/core/doctor.hpp).
// host paths only: the server's config file, plugin directories and state directories, never a workspace.
#include <isb/core/doctor.hpp>

#include <isb/core/isolation_backends.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/workspace_service.hpp>

#include "doctor/path_checks.hpp"
#include "json/json_fields.hpp"
#include "workspaces/disk_image.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/json/parse.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#ifndef ISB_VERSION
#define ISB_VERSION "0.0.0"
#endif

namespace fs = std::filesystem;
namespace json = boost::json;

namespace isb::doctor {

namespace {

std::string joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

json::value plugin_settings(const Config& config, const std::string& id) {
  auto it = config.plugins.settings_json.find(id);
  if (it == config.plugins.settings_json.end()) return json::object{};
  boost::system::error_code ec;
  json::value v = json::parse(it->second, ec);
  return ec ? json::value(json::object{}) : v;
}

std::string this_binary() {
  boost::system::error_code ec;
  auto exe = boost::dll::program_location(ec);
  return ec ? std::string("intelligent-sandbox") : exe.string();
}

// One isolation backend as the doctor sees it.
struct BackendView {
  std::string id;
  bool available = false;
  json::object probe;
  std::string error;                 // why it is not available
  std::string fix;                   // what makes it available
  std::vector<std::string> missing;  // required by the level, not enforced
  std::vector<std::string> missing_fixes;
};

BackendView look_at(const PluginHost& host, const Config& config, const std::string& id) {
  BackendView b;
  b.id = id;
  auto inst = host.create(id, ISB_KIND_ISOLATION, plugin_settings(config, id));
  if (!inst) {
    b.error = inst.error().message;
    b.fix = "correct plugins.settings." + id + " (the message says which key)";
    return b;
  }
  IsolationPlugin plugin(*inst);
  auto probe = plugin.probe();
  if (!probe || !probe->is_object()) {
    b.error = probe ? "its probe is not a JSON object" : probe.error().message;
    return b;
  }
  b.probe = probe->as_object();
  const json::value* a = b.probe.if_contains("available");
  b.available = a && a->is_bool() && a->as_bool();
  if (!b.available) {
    b.error = json_fields::string_or(b.probe, "error");
    if (b.error.empty()) b.error = "the backend reports it is not available on this host";
    b.fix = json_fields::string_or(b.probe, "fix");
  }
  // What the level needs that the backend does not enforce, with the fix
  // the backend knows for each.
  std::map<std::string, const json::object*> reported;
  if (auto* prot = b.probe.if_contains("protections"); prot && prot->is_array()) {
    for (const auto& p : prot->as_array()) {
      if (p.is_object()) reported[json_fields::string_or(p.as_object(), "name")] = &p.as_object();
    }
  }
  for (const auto& need : required_protections(config.security.level)) {
    auto it = reported.find(need);
    const json::value* on = it != reported.end() ? it->second->if_contains("enforced") : nullptr;
    if (on && on->is_bool() && on->as_bool()) continue;
    b.missing.push_back(need);
    std::string fix = it != reported.end() ? json_fields::string_or(*it->second, "fix") : "";
    if (!fix.empty() &&
        std::find(b.missing_fixes.begin(), b.missing_fixes.end(), fix) == b.missing_fixes.end())
      b.missing_fixes.push_back(fix);
  }
  return b;
}

json::object backend_doc(const BackendView& b, const Config& config, bool is_default) {
  const auto required = required_protections(config.security.level);
  json::array protections;
  if (auto* prot = b.probe.if_contains("protections"); prot && prot->is_array()) {
    for (const auto& p : prot->as_array()) {
      if (!p.is_object()) continue;
      json::object e = p.as_object();
      e["required"] = std::find(required.begin(), required.end(), json_fields::string_or(e, "name")) != required.end();
      protections.push_back(std::move(e));
    }
  }
  json::array missing;
  for (const auto& m : b.missing) missing.emplace_back(m);
  json::object d{{"id", b.id},
                 {"available", b.available},
                 {"default", is_default},
                 {"meets_level", b.available && b.missing.empty()},
                 {"missing_for_level", std::move(missing)},
                 {"protections", std::move(protections)}};
  if (!b.error.empty()) d["error"] = b.error;
  if (!b.fix.empty()) d["fix"] = b.fix;
  for (const char* k : {"isolation", "running_as_root", "engine", "warnings"}) {
    if (auto* v = b.probe.if_contains(k)) d[k] = *v;
  }
  return d;
}

json::array problems_doc(const std::vector<Problem>& problems) {
  json::array a;
  for (const auto& p : problems) {
    json::object o{{"severity", p.severity}, {"what", p.what}};
    if (!p.fix.empty()) o["fix"] = p.fix;
    if (!p.alternatives.empty()) {
      json::array alt;
      for (const auto& x : p.alternatives) alt.emplace_back(x);
      o["alternatives"] = std::move(alt);
    }
    a.push_back(std::move(o));
  }
  return a;
}

}  // namespace

Report examine(const Config& config, const Options& options) {
  std::vector<Problem> problems;
  const std::string level = security_level_name(config.security.level);
  json::object doc{{"version", ISB_VERSION},
                   {"binary", this_binary()},
                   {"running_as", json::object{{"user", current_user()},
                                               {"uid", static_cast<int64_t>(::geteuid())},
                                               {"root", ::geteuid() == 0}}}};

  // The configuration and the code the server trusts.
  json::object cfg{{"source", config.source}};
  if (config.source != "built-in defaults")
    cfg["file"] = check_trusted_path("config file", config.source, problems);
  doc["config"] = std::move(cfg);
  std::vector<std::string> dirs = options.plugin_dirs;
  if (!options.only_plugin_dirs) {
    dirs.insert(dirs.end(), config.plugins.directories.begin(), config.plugins.directories.end());
    auto builtin = PluginHost::default_directories();
    dirs.insert(dirs.end(), builtin.begin(), builtin.end());
  }
  json::array plugin_dirs;
  for (const auto& d : dirs) {
    json::object e = check_trusted_path("plugin directory", d, problems);
    if (e.at("exists").as_bool()) plugin_dirs.push_back(std::move(e));
  }
  doc["plugin_directories"] = std::move(plugin_dirs);

  // Where the state goes; a directory that serves several roles is checked once.
  json::array state;
  auto add_dir = [&](const std::string& role, const std::string& path, const std::string& setting) {
    for (auto& d : state) {
      json::object& o = d.as_object();
      if (o.at("path").as_string() == path) {
        o["role"] = std::string(o.at("role").as_string()) + ", " + role;
        return;
      }
    }
    state.push_back(check_state_dir(role, path, setting, problems));
  };
  add_dir("base_dir", config.sandbox.base_dir, "sandbox.base_dir (SANDBOX_BASE_DIR)");
  add_dir("state_dir", config.state_dir(), "sandbox.state_dir");
  add_dir("workspaces_dir", config.workspaces_dir(), "sandbox.base_dir (SANDBOX_BASE_DIR)");
  add_dir("cache_dir", config.cache_dir(), "cache.cache_dir");
  if (config.security.audit_logging) {
    add_dir("audit_log_dir", fs::path(config.audit_log_path()).parent_path().string(), "security.audit_log_path");
  }
  if (!config.logging.file_path.empty()) {
    add_dir("log_dir", fs::path(config.logging.file_path).parent_path().string(), "logging.file_path");
  }
  doc["directories"] = std::move(state);
  doc["disk"] = check_free_space(config.sandbox.base_dir, config.isolation.resource_limits.disk_mb, problems);
  json::object disk_limit = disk_limit_enforcement(config);
  if (json_fields::string_or(disk_limit, "enforced_by") == "watch" && config.sandbox.disk_images) {
    if (const auto& gap = workspaces::disk_image_gap()) disk_limit["fix"] = gap->fix;
  }
  doc["disk_limit"] = std::move(disk_limit);

  // The isolation backends, against the level.
  PluginHost host;
  host.load_directories(dirs);
  std::vector<BackendView> views;
  std::vector<std::string> available;
  std::map<std::string, std::string> unavailable;
  for (const auto& id : host.ids_of_kind(ISB_KIND_ISOLATION)) {
    views.push_back(look_at(host, config, id));
    if (views.back().available) {
      available.push_back(id);
    } else {
      unavailable[id] = views.back().error;
    }
  }
  auto choice = choose_default_backend(config.isolation.backend, config.isolation.fallback_isolation,
                                       available, unavailable);
  json::array required;
  for (const auto& r : required_protections(config.security.level)) required.emplace_back(r);
  json::object isolation{{"requested", config.isolation.backend}};
  json::array backends;
  // The backend new workspaces use first.
  std::stable_partition(views.begin(), views.end(),
                        [&](const BackendView& b) { return choice && choice->id == b.id; });
  for (const auto& b : views) backends.push_back(backend_doc(b, config, choice && choice->id == b.id));
  isolation["backends"] = std::move(backends);
  for (const auto& b : views) {
    if (b.id != "docker") continue;
    json::object docker{{"available", b.available}};
    if (auto* e = b.probe.if_contains("engine"); e && e->is_object()) docker["engine"] = *e;
    if (!b.error.empty()) docker["error"] = b.error;
    if (!b.fix.empty()) docker["fix"] = b.fix;
    doc["docker"] = std::move(docker);
  }

  bool level_met = false;
  if (!choice) {
    isolation["default"] = nullptr;
    auto it = std::find_if(views.begin(), views.end(),
                           [&](const BackendView& b) { return b.id == config.isolation.backend; });
    problems.push_back({"error", "no isolation backend can serve: " + choice.error().message,
                        it != views.end() && !it->fix.empty() ? it->fix : "see the backends above"});
  } else {
    isolation["default"] = choice->id;
    if (!choice->note.empty()) isolation["note"] = choice->note;
    const BackendView& def =
        *std::find_if(views.begin(), views.end(), [&](const BackendView& b) { return b.id == choice->id; });
    level_met = def.missing.empty();
    if (!level_met) {
      std::vector<std::string> alternatives;
      for (const auto& b : views) {
        if (b.id == def.id) continue;
        if (b.available && b.missing.empty()) {
          alternatives.push_back("use the " + b.id +
                                 " backend, which enforces all of it here: isolation.backend: " + b.id +
                                 " (SANDBOX_ISOLATION_BACKEND=" + b.id + ")");
        } else if (!b.available && !b.fix.empty()) {
          // What it would enforce is known only once it runs.
          alternatives.push_back("make the " + b.id + " backend usable (" + b.fix +
                                 ") and select it: isolation.backend: " + b.id +
                                 " (SANDBOX_ISOLATION_BACKEND=" + b.id +
                                 "); doctor then shows what it enforces");
        }
      }
      alternatives.push_back(
          "knowingly accept weaker isolation: security.level: low (SANDBOX_SECURITY_LEVEL=low), or "
          "security.allow_degraded: true (SANDBOX_SECURITY_ALLOW_DEGRADED=true; workspaces then say what "
          "they lack)");
      problems.push_back(
          {"error",
           "security.level " + level + " needs " + joined(def.missing) + ", which the " + def.id +
               " backend does not enforce on this host; " +
               (config.security.allow_degraded ? "security.allow_degraded is true, so workspaces are created "
                                                 "degraded"
                                               : "every create_workspace is refused"),
           joined(def.missing_fixes, "; and "), std::move(alternatives)});
    }
  }
  doc["isolation"] = std::move(isolation);
  doc["security"] = json::object{{"level", level},
                                 {"allow_degraded", config.security.allow_degraded},
                                 {"required_protections", std::move(required)},
                                 {"met", level_met}};

  Report report;
  report.ok =
      std::none_of(problems.begin(), problems.end(), [](const Problem& p) { return p.severity == "error"; });
  doc["ok"] = report.ok;
  doc["problems"] = problems_doc(problems);
  report.doc = std::move(doc);
  return report;
}

}  // namespace isb::doctor
