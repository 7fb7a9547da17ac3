// specs.hpp: validated forms of the sandbox_create and sandbox_exec documents
// the core hands to the docker backend.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "isolation-common/specs.hpp"

namespace isb::docker {

using isolation::ExecSpec;
using isolation::parse_exec_spec;
using isolation::ResourceLimits;

//! The shared resource_limits parse (isolation-common) plus the engine's own
//! bounds (memory at least 6 MB, at most 1024 cpus); throws
//! Error(ISB_INVALID_ARGUMENT, ...).
ResourceLimits parse_docker_limits(const boost::json::value& v);

struct SandboxSpec {
  std::string workspace_id;
  std::string workspace_path;  // absolute host directory, normalized
  ResourceLimits limits;
  std::string image;            // image reference, required
  bool network_egress = false;  // "network": "egress"; default "none"
};

//! Parses a sandbox_create spec; throws Error(ISB_INVALID_ARGUMENT, ...).
SandboxSpec parse_sandbox_spec(const std::string& spec_json);

}  // namespace isb::docker
