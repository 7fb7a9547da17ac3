// isolation_backends.cpp: backend registry and the security-level check.
#include <isb/core/isolation_backends.hpp>

#include <algorithm>

namespace json = boost::json;

namespace isb {

std::vector<std::string> required_protections(SecurityLevel level) {
  std::vector<std::string> low = {"rlimits", "process_group_kill", "wall_clock_timeout"};
  if (level == SecurityLevel::kLow) return low;
  std::vector<std::string> medium = low;
  for (const char* p : {"mount_namespace", "pid_namespace", "network_namespace", "ipc_namespace", "uts_namespace",
                        "filesystem_isolation", "seccomp", "no_new_privs"}) {
    medium.emplace_back(p);
  }
  if (level == SecurityLevel::kMedium) return medium;
  std::vector<std::string> high = medium;
  for (const char* p : {"user_namespace", "cgroup_namespace", "capabilities_dropped", "cgroup_memory", "cgroup_pids"}) {
    high.emplace_back(p);
  }
  return high;
}

void IsolationBackends::add(IsolationPlugin backend) {
  std::string id = backend.info().id;
  backends_.insert_or_assign(id, std::move(backend));
}

void IsolationBackends::set_default(const std::string& id, std::string note) {
  default_id_ = id;
  note_ = std::move(note);
}

const IsolationPlugin& IsolationBackends::default_backend() const { return backends_.at(default_id_); }

std::vector<std::string> IsolationBackends::ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, _] : backends_) ids.push_back(id);
  return ids;
}

Result<IsolationPlugin> IsolationBackends::get(const std::string& id) const {
  auto it = backends_.find(id);
  if (it != backends_.end()) return it->second;
  std::string have;
  for (const auto& i : ids()) have += (have.empty() ? "" : ", ") + i;
  return make_error(ErrorCode::kNotFound, "isolation backend '" + id + "' is not available on this server; available: " +
                                              (have.empty() ? "none" : have));
}

Result<DefaultBackendChoice> choose_default_backend(const std::string& requested, bool fallback_isolation,
                                                    const std::vector<std::string>& available,
                                                    const std::map<std::string, std::string>& unavailable) {
  auto has = [&](const std::string& id) {
    return std::find(available.begin(), available.end(), id) != available.end();
  };
  if (has(requested)) return DefaultBackendChoice{requested, ""};
  auto it = unavailable.find(requested);
  const std::string why_not =
      it != unavailable.end() ? it->second : "no isolation plugin '" + requested + "' is loaded";
  if (requested != "process" && fallback_isolation && has("process")) {
    return DefaultBackendChoice{"process", "isolation backend '" + requested + "' is unavailable (" + why_not +
                                               "); using the process backend because isolation.fallback_isolation "
                                               "is true"};
  }
  return make_error(ErrorCode::kUnavailable,
                    "isolation backend '" + requested + "' is unavailable: " + why_not +
                        (requested != "process" ? "; set isolation.fallback_isolation: true to use the process "
                                                  "backend instead"
                                                : ""));
}

bool backend_mounts_overlay(const json::value& probe) {
  if (!probe.is_object()) return false;
  auto* v = probe.as_object().if_contains("mounts_overlay");
  return v && v->is_bool() && v->as_bool();
}

Result<IsolationAssessment> IsolationBackends::assess(const IsolationPlugin& backend, SecurityLevel level) const {
  auto probe = backend.probe();
  if (!probe) return probe.error();
  struct Reported {
    bool enforced = false;
    std::string detail;
    std::string fix;  // what an operator runs so that it is enforced; "" when the backend names nothing
  };
  std::map<std::string, Reported> reported;
  if (probe->is_object()) {
    if (auto* prot = probe->as_object().if_contains("protections"); prot && prot->is_array()) {
      for (const auto& p : prot->as_array()) {
        if (!p.is_object()) continue;
        const auto& o = p.as_object();
        auto* name = o.if_contains("name");
        if (!name || !name->is_string()) continue;
        auto* on = o.if_contains("enforced");
        auto* detail = o.if_contains("detail");
        auto* fix = o.if_contains("fix");
        reported[std::string(name->as_string())] = {
            on && on->is_bool() && on->as_bool(),
            detail && detail->is_string() ? std::string(detail->as_string()) : std::string(),
            fix && fix->is_string() ? std::string(fix->as_string()) : std::string()};
      }
    }
  }
  IsolationAssessment a;
  a.mounts_overlay = backend_mounts_overlay(*probe);
  json::array enforced, not_enforced, missing;
  for (const auto& [name, state] : reported) {
    if (state.enforced) {
      a.enforced.push_back(name);
      enforced.push_back(json::value(name));
    } else {
      json::object entry{{"name", name}, {"reason", state.detail}};
      if (!state.fix.empty()) entry["fix"] = state.fix;
      not_enforced.push_back(std::move(entry));
    }
  }
  for (const auto& need : required_protections(level)) {
    auto it = reported.find(need);
    if (it != reported.end() && it->second.enforced) continue;
    std::string why = it == reported.end() ? "not reported by the backend" : it->second.detail;
    a.missing.push_back(need + (why.empty() ? "" : " (" + why + ")"));
    missing.push_back(json::value(need));
    if (it != reported.end() && !it->second.fix.empty() &&
        std::find(a.fixes.begin(), a.fixes.end(), it->second.fix) == a.fixes.end()) {
      a.fixes.push_back(it->second.fix);
    }
  }
  std::string status = "enforced";
  if (!a.missing.empty()) {
    status = "degraded: ";
    for (size_t i = 0; i < missing.size(); ++i) status += (i ? ", " : "") + std::string(missing[i].as_string());
  }
  a.summary = json::object{{"backend", backend.info().id},
                           {"security_level", security_level_name(level)},
                           {"status", status},
                           {"degraded", !a.missing.empty()},
                           {"enforced", enforced},
                           {"not_enforced", not_enforced},
                           {"missing_for_level", missing}};
  return a;
}

}  // namespace isb
