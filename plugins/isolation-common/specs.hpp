// specs.hpp: the validated forms of the parts of the sandbox documents that
// every isolation backend reads the same way: resource_limits (of
// sandbox_create) and the whole sandbox_exec spec. Each backend parses the
// rest of sandbox_create itself and adds its own bounds to the limits.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isb::isolation {

//! Resource limits of a sandbox; unset members are not limited. How each is
//! enforced is the backend's (cgroups and rlimits in the jail, HostConfig in
//! docker); see the backends' READMEs.
struct ResourceLimits {
  std::optional<int64_t> memory_mb;
  std::optional<double> cpu_cores;
  std::optional<int64_t> disk_mb;
  std::optional<int64_t> max_processes;
  std::optional<int64_t> max_open_files;

  boost::json::object to_json() const;
};

//! Parses a resource_limits object: positive values, no unknown key (a limit
//! a backend does not know would silently not be applied). Throws
//! sdk::Error(ISB_INVALID_ARGUMENT) naming the key.
ResourceLimits parse_limits(const boost::json::value& v);

struct ExecSpec {
  std::vector<std::string> argv;  // from "argv", or {"/bin/sh","-c",shell}
  std::string cwd = ".";          // relative to the workspace, no ".." components
  std::map<std::string, std::string> env;
  int64_t timeout_ms = 300000;
  int64_t max_output_bytes = 1 << 20;
  std::optional<std::string> stdin_data;
};

//! Parses a sandbox_exec spec; throws sdk::Error(ISB_INVALID_ARGUMENT) naming
//! the key (unknown keys included).
ExecSpec parse_exec_spec(const std::string& spec_json);

}  // namespace isb::isolation
