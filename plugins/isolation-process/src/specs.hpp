// specs.hpp: validated forms of the sandbox_create and sandbox_exec documents.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "isolation-common/specs.hpp"

namespace isb::process {

using isolation::ExecSpec;
using isolation::parse_exec_spec;
using isolation::ResourceLimits;

struct SandboxSpec {
  std::string workspace_id;
  std::string workspace_path;  // absolute, an existing directory, normalized
  ResourceLimits limits;
};

//! Parses a sandbox_create spec; throws Error(ISB_INVALID_ARGUMENT, ...).
SandboxSpec parse_sandbox_spec(const std::string& spec_json);

}  // namespace isb::process
