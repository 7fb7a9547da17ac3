// config.hpp: the instance configuration of the process backend.
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace isb::process {

struct Config {
  //! Time between SIGTERM and SIGKILL when a command is stopped.
  int64_t kill_grace_ms = 2000;
  //! How long after SIGKILL the supervisor may take to report a stopped
  //! command's end before it is treated as lost (jail_client.hpp).
  int64_t reply_margin_ms = 3000;
  //! First host uid handed to sandboxes; each sandbox takes two (jail root and
  //! the command user), from a pool of kMaxSandboxes slots.
  int64_t sandbox_uid_base = 200000;
  //! Cgroup name, relative to the server's own cgroup of each controller.
  std::string cgroup_parent = "isb-process";
  //! Protections switched off on purpose (tests of the fallbacks, hosts where
  //! one breaks): "namespaces" (no jail at all), "user_namespace" (root
  //! fallback), "cgroups", "seccomp", "idmapped_mount" (chown the workspace).
  std::set<std::string> disable;
};

//! Most sandboxes alive at once in one backend instance (uid slots).
constexpr int64_t kMaxSandboxes = 4096;

//! JSON Schema (draft-07) of the config; describes exactly what parse_config accepts.
extern const char* const kConfigSchema;

//! Parses config_json; throws Error(ISB_INVALID_CONFIG, ...) naming the bad key.
Config parse_config(const std::string& config_json);

}  // namespace isb::process
