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

//! An overlay workspace this backend mounts itself (sandbox spec "overlay").
struct OverlaySpec {
  std::string lower;
  std::string upper;
  std::string work;
};

struct SandboxSpec {
  std::string workspace_id;
  std::string workspace_path;  // absolute, an existing directory, normalized
  ResourceLimits limits;
  std::optional<OverlaySpec> overlay;  // mount it at workspace_path (which must not be a mount yet)
};

//! Parses a sandbox_create spec; throws Error(ISB_INVALID_ARGUMENT, ...).
SandboxSpec parse_sandbox_spec(const std::string& spec_json);

}  // namespace isb::process
