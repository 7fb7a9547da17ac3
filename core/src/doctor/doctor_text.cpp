// doctor_text.cpp: the doctor's report for a terminal (the --json form is the
// report document itself, so both always say the same).
#include <isb/core/doctor.hpp>

#include <boost/json/serialize.hpp>

#include "json/json_fields.hpp"

#include <algorithm>
#include <sstream>
#include <utility>
#include <vector>

namespace json = boost::json;

namespace isb::doctor {

namespace {

// A member as text for the report: strings as they are, other values as
// JSON (unlike json_fields::string_or, which falls back for them).
std::string s(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_null()) return "";
  return json::serialize(*v);
}

std::string pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

// "error: what" then "fix:" and each "or:", indented.
void write_problems(std::ostream& out, const json::array& problems, const char* indent) {
  for (const auto& pv : problems) {
    const json::object& p = pv.as_object();
    out << indent << s(p, "severity") << ": " << s(p, "what") << "\n";
    const std::string fix = s(p, "fix");
    const json::array& alternatives = json_fields::array_or_empty(p, "alternatives");
    if (!fix.empty()) out << indent << "  fix: " << fix << "\n";
    for (const auto& a : alternatives) {
      out << indent << (fix.empty() && &a == &alternatives.front() ? "  fix: " : "  or:  ")
          << std::string_view(a.as_string()) << "\n";
    }
  }
}

std::string verdict(const json::object& doc) {
  const json::object& sec = json_fields::object_or_empty(doc, "security");
  const json::object& iso = json_fields::object_or_empty(doc, "isolation");
  const std::string level = s(sec, "level");
  const std::string def = s(iso, "default");
  const size_t n = json_fields::array_or_empty(doc, "problems").size();
  std::string text;
  if (json_fields::bool_or(sec, "met")) {
    text = "everything security.level " + level + " needs is enforced by the " + def + " backend";
  } else if (def.empty()) {
    text = "no isolation backend can serve workspaces here";
  } else {
    text = "security.level " + level + " is NOT met by the " + def + " backend";
  }
  text += n == 0 ? "; no problems" : "; " + std::to_string(n) + (n == 1 ? " problem" : " problems");
  return text;
}

}  // namespace

std::string render_summary(const Report& report) {
  std::ostringstream out;
  out << "doctor: " << verdict(report.doc) << " (all of it: " << s(report.doc, "binary") << " doctor)\n";
  write_problems(out, json_fields::array_or_empty(report.doc, "problems"), "  ");
  return out.str();
}

std::string render_text(const Report& report) {
  const json::object& doc = report.doc;
  std::ostringstream out;
  const json::object& who = json_fields::object_or_empty(doc, "running_as");
  out << "Intelligent Sandbox " << s(doc, "version") << " doctor: " << s(doc, "binary") << ", running as "
      << s(who, "user") << " (uid " << s(who, "uid") << (json_fields::bool_or(who, "root") ? ", root" : ", not root") << ")\n\n";

  out << "Configuration\n";
  const json::object& cfg = json_fields::object_or_empty(doc, "config");
  out << "  config:  " << s(cfg, "source");
  if (const json::object& f = json_fields::object_or_empty(cfg, "file"); !f.empty())
    out << " (owner " << s(f, "owner") << ", mode " << s(f, "mode") << ")";
  out << "\n";
  for (const auto& d : json_fields::array_or_empty(doc, "plugin_directories")) {
    const json::object& o = d.as_object();
    out << "  plugins: " << s(o, "path") << " (owner " << s(o, "owner") << ", mode " << s(o, "mode") << ")\n";
  }

  const json::object& sec = json_fields::object_or_empty(doc, "security");
  std::string needs;
  for (const auto& r : json_fields::array_or_empty(sec, "required_protections"))
    needs += (needs.empty() ? "" : ", ") + std::string(r.as_string());
  out << "\nIsolation: security.level " << s(sec, "level")
      << (json_fields::bool_or(sec, "allow_degraded") ? " (allow_degraded)" : "") << " needs " << needs << "\n";
  const json::object& iso = json_fields::object_or_empty(doc, "isolation");
  if (!s(iso, "note").empty()) out << "  note: " << s(iso, "note") << "\n";
  for (const auto& bv : json_fields::array_or_empty(iso, "backends")) {
    const json::object& be = bv.as_object();
    out << "  " << s(be, "id") << (json_fields::bool_or(be, "default") ? " (default for new workspaces)" : "") << ": ";
    if (!json_fields::bool_or(be, "available")) {
      out << "NOT AVAILABLE: " << s(be, "error") << "\n";
      if (!s(be, "fix").empty()) out << "      fix: " << s(be, "fix") << "\n";
      continue;
    }
    const size_t missing = json_fields::array_or_empty(be, "missing_for_level").size();
    out << (missing == 0 ? "meets the level"
                         : "misses " + std::to_string(missing) + " of what the level needs")
        << "\n";
    // Enforced ones one per line; the others grouped by reason and fix,
    // which one cause (such as not being root) often shares.
    std::vector<std::pair<std::pair<std::string, std::string>, std::vector<std::string>>> missing_groups;
    for (const auto& pv : json_fields::array_or_empty(be, "protections")) {
      const json::object& p = pv.as_object();
      const std::string name = s(p, "name") + (json_fields::bool_or(p, "required") ? " (required)" : "");
      if (json_fields::bool_or(p, "enforced")) {
        out << "    yes " << pad(name, 34) << s(p, "detail") << "\n";
        continue;
      }
      auto key = std::make_pair(s(p, "detail"), s(p, "fix"));
      auto it = std::find_if(missing_groups.begin(), missing_groups.end(),
                             [&](const auto& g) { return g.first == key; });
      if (it == missing_groups.end()) {
        missing_groups.push_back({key, {name}});
      } else {
        it->second.push_back(name);
      }
    }
    for (const auto& [key, names] : missing_groups) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      out << "    NO  " << list << "\n        why: " << key.first << "\n";
      if (!key.second.empty()) out << "        fix: " << key.second << "\n";
    }
  }

  out << "\nDocker engine\n";
  if (const json::object& d = json_fields::object_or_empty(doc, "docker"); d.empty()) {
    out << "  no docker plugin is loaded\n";
  } else if (!json_fields::bool_or(d, "available")) {
    out << "  not usable: " << s(d, "error") << "\n";
    if (!s(d, "fix").empty()) out << "  fix: " << s(d, "fix") << "\n";
  } else {
    const json::object& e = json_fields::object_or_empty(d, "engine");
    out << "  Docker " << s(e, "version") << " at " << s(e, "host") << ": engine API "
        << s(e, "engine_api_version") << ", used at API " << s(e, "api_version") << "\n";
  }

  out << "\nDirectories\n";
  for (const auto& dv : json_fields::array_or_empty(doc, "directories")) {
    const json::object& d = dv.as_object();
    out << "  " << s(d, "role") << ": " << s(d, "path") << "\n      ";
    if (json_fields::bool_or(d, "exists")) {
      out << "owner " << s(d, "owner") << ", mode " << s(d, "mode") << (json_fields::bool_or(d, "writable") ? ", writable" : ", NOT writable");
    } else {
      out << (json_fields::bool_or(d, "writable") ? "not there yet: " + s(d, "note") : "missing, and cannot be created");
    }
    out << "\n";
  }

  const json::object& disk = json_fields::object_or_empty(doc, "disk");
  const json::object& held = json_fields::object_or_empty(doc, "disk_limit");
  out << "\nDisk\n  " << s(disk, "free_mb") << " MB free of " << s(disk, "total_mb") << " MB at "
      << s(disk, "measured_at") << "; one workspace may use disk_mb " << s(disk, "workspace_disk_mb")
      << " MB\n"
      << "  disk_mb is held by " << s(held, "enforced_by") << ": " << s(held, "detail") << "\n";
  if (!s(held, "fix").empty())
    out << "  for a disk image that holds it at all times: " << s(held, "fix") << "\n";

  out << "\n" << (report.ok ? "OK: " : "NOT OK: ") << verdict(doc) << "\n";
  write_problems(out, json_fields::array_or_empty(doc, "problems"), "  ");
  return out.str();
}

}  // namespace isb::doctor
