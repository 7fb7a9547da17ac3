// specs.hpp: validated forms of the sandbox_create and sandbox_exec documents.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isb::process {

//! Resource limits of a sandbox; unset members are not limited.
struct ResourceLimits {
  std::optional<int64_t> memory_mb;       // memory cgroup (+memsw); RLIMIT_AS without cgroups
  std::optional<double> cpu_cores;        // CFS quota of the cpu cgroup
  std::optional<int64_t> disk_mb;         // RLIMIT_FSIZE (per file) and the size of /tmp, /dev/shm
  std::optional<int64_t> max_processes;   // pids cgroup; RLIMIT_NPROC (per-sandbox uid in the jail)
  std::optional<int64_t> max_open_files;  // RLIMIT_NOFILE

  boost::json::object to_json() const;
};

struct SandboxSpec {
  std::string workspace_id;
  std::string workspace_path;  // absolute, an existing directory, normalized
  ResourceLimits limits;
};

//! Parses a sandbox_create spec; throws Error(ISB_INVALID_ARGUMENT, ...).
SandboxSpec parse_sandbox_spec(const std::string& spec_json);

struct ExecSpec {
  std::vector<std::string> argv;  // from "argv", or {"/bin/sh","-c",shell}
  bool is_shell = false;
  std::string cwd = ".";  // relative to the workspace, no ".." components
  std::map<std::string, std::string> env;
  int64_t timeout_ms = 300000;
  int64_t max_output_bytes = 1 << 20;
  std::optional<std::string> stdin_data;
};

//! Parses a sandbox_exec spec; throws Error(ISB_INVALID_ARGUMENT, ...).
ExecSpec parse_exec_spec(const std::string& spec_json);

}  // namespace isb::process
