// specs.hpp: validated forms of the sandbox_create and sandbox_exec documents
// the core hands to the docker backend.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isb::docker {

//! Resource limits of a workspace's container; unset members are not limited.
struct ResourceLimits {
  std::optional<int64_t> memory_mb;       // HostConfig.Memory (and MemorySwap: no swap beyond it)
  std::optional<double> cpu_cores;        // HostConfig.NanoCpus
  std::optional<int64_t> disk_mb;         // RLIMIT_FSIZE ulimit (a per-file cap, not a quota)
  std::optional<int64_t> max_processes;   // HostConfig.PidsLimit
  std::optional<int64_t> max_open_files;  // RLIMIT_NOFILE ulimit

  boost::json::object to_json() const;
};

//! Parses a resource_limits object; throws Error(ISB_INVALID_ARGUMENT, ...).
ResourceLimits parse_limits(const boost::json::value& v);

struct SandboxSpec {
  std::string workspace_id;
  std::string workspace_path;  // absolute host directory, normalized
  ResourceLimits limits;
  std::string image;            // image reference, required
  bool network_egress = false;  // "network": "egress"; default "none"
};

//! Parses a sandbox_create spec; throws Error(ISB_INVALID_ARGUMENT, ...).
SandboxSpec parse_sandbox_spec(const std::string& spec_json);

struct ExecSpec {
  std::vector<std::string> argv;  // from "argv", or {"/bin/sh","-c",shell}
  std::string cwd = ".";          // relative to the workspace, no ".." components
  std::map<std::string, std::string> env;
  int64_t timeout_ms = 300000;
  int64_t max_output_bytes = 1 << 20;
  std::optional<std::string> stdin_data;
};

//! Parses a sandbox_exec spec; throws Error(ISB_INVALID_ARGUMENT, ...).
ExecSpec parse_exec_spec(const std::string& spec_json);

}  // namespace isb::docker
