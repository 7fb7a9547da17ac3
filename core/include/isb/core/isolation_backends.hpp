// isolation_backends.hpp: the isolation backends this server can use, which
// one is the default, and what a security level requires of a backend.
//
// Fail-closed: a workspace is created on a backend only when the backend's
// probe says it enforces, on this host, every protection the configured
// security.level requires, unless security.allow_degraded is set (and then
// the workspace says exactly what is missing).
//
// Threading: filled at start-up, read-only afterwards; thread-safe.
#pragma once

#include <isb/core/config.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>

#include <boost/json/object.hpp>

#include <map>
#include <string>
#include <vector>

namespace isb {

//! Protection names (as reported by isolation probes) that a level requires.
std::vector<std::string> required_protections(SecurityLevel level);

//! What a backend enforces against what a level requires.
struct IsolationAssessment {
  std::vector<std::string> enforced;
  std::vector<std::string> missing;  // required but not enforced, with the backend's reason
  std::vector<std::string> fixes;    // distinct fixes the backend names for the missing ones
  boost::json::object summary;       // stored with the workspace and shown to clients
  bool mounts_overlay = false;       // the backend mounts overlay workspaces itself (see backend_mounts_overlay)
};

//! True when a backend's probe says "mounts_overlay": it then takes an
//! overlay workspace's layers in the sandbox spec ("overlay": {lower, upper,
//! work}) and mounts the overlay at workspace_path itself, so that it can
//! present the files to its sandbox user (on idmapped layers) without the
//! core's plain mount standing in the way.
bool backend_mounts_overlay(const boost::json::value& probe);

//! The backend new workspaces use: the requested one when it is available,
//! else process when isolation.fallback_isolation allows it (note then says
//! why). unavailable: the id of each backend that cannot be used -> why.
//! An error names why none can serve and what to set.
struct DefaultBackendChoice {
  std::string id;
  std::string note;  // empty unless the fallback was taken
};
Result<DefaultBackendChoice> choose_default_backend(const std::string& requested, bool fallback_isolation,
                                                    const std::vector<std::string>& available,
                                                    const std::map<std::string, std::string>& unavailable);

class IsolationBackends {
 public:
  void add(IsolationPlugin backend);
  //! The backend used when create_workspace names none; note explains a fallback.
  void set_default(const std::string& id, std::string note);

  const IsolationPlugin& default_backend() const;
  const std::string& default_id() const { return default_id_; }
  const std::string& note() const { return note_; }
  std::vector<std::string> ids() const;
  //! The backend with this id, or kNotFound listing the available ones.
  Result<IsolationPlugin> get(const std::string& id) const;

  //! Probes the backend and compares its protections with the level.
  Result<IsolationAssessment> assess(const IsolationPlugin& backend, SecurityLevel level) const;

 private:
  std::map<std::string, IsolationPlugin> backends_;
  std::string default_id_;
  std::string note_;
};

}  // namespace isb
