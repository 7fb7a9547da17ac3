// specs.cpp: see specs.hpp.
#include "specs.hpp"

#include <sys/stat.h>

#include <filesystem>

#include "isolation-common/json_fields.hpp"

namespace isb::docker {

using isolation::has_nul;
using isolation::invalid;
using isolation::parse_object;

ResourceLimits parse_docker_limits(const boost::json::value& v) {
  ResourceLimits l = isolation::parse_limits(v);
  // The engine refuses a memory limit below 6 MB with a message about bytes.
  if (l.memory_mb && *l.memory_mb < 6) {
    invalid("resource_limits.memory_mb must be at least 6 (the engine's minimum)");
  }
  if (l.cpu_cores && *l.cpu_cores > 1024) {
    invalid("resource_limits.cpu_cores must be a number above 0 and at most 1024");
  }
  return l;
}

SandboxSpec parse_sandbox_spec(const std::string& spec_json) {
  boost::json::object obj = parse_object(spec_json, ISB_INVALID_ARGUMENT, "the sandbox spec");
  SandboxSpec spec;
  bool have_path = false;
  for (const auto& [key, value] : obj) {
    if (key == "workspace_id") {
      if (!value.is_string() || value.as_string().empty()) invalid("workspace_id must be a non-empty string");
      spec.workspace_id = std::string(value.as_string());
    } else if (key == "workspace_path") {
      if (!value.is_string()) invalid("workspace_path must be a string");
      spec.workspace_path = std::string(value.as_string());
      have_path = true;
    } else if (key == "resource_limits") {
      spec.limits = parse_docker_limits(value);
    } else if (key == "image") {
      if (!value.is_string() || value.as_string().empty()) {
        invalid(
            "image must be a non-empty image reference such as \"debian:bookworm\" "
            "(isolation.container_image)");
      }
      spec.image = std::string(value.as_string());
    } else if (key == "network") {
      std::string n = value.is_string() ? std::string(value.as_string()) : "";
      if (n != "none" && n != "egress") invalid("network must be \"none\" or \"egress\"");
      spec.network_egress = n == "egress";
    } else {
      invalid("unknown sandbox spec key '" + std::string(key) +
              "' (known: workspace_id, workspace_path, resource_limits, image, network)");
    }
  }
  if (spec.workspace_id.empty()) invalid("the sandbox spec is missing workspace_id");
  if (has_nul(spec.workspace_id)) invalid("workspace_id contains a NUL character");
  if (spec.image.empty()) {
    invalid(
        "the sandbox spec is missing image: set isolation.container_image or pass isolation.image to "
        "create_workspace");
  }
  if (has_nul(spec.image)) invalid("image contains a NUL character");
  if (!have_path) invalid("the sandbox spec is missing workspace_path");
  if (spec.workspace_path.empty() || spec.workspace_path[0] != '/' || has_nul(spec.workspace_path) ||
      spec.workspace_path.find(':') != std::string::npos) {
    // ':' separates the fields of an engine bind specification.
    invalid("workspace_path must be an absolute path without ':', got '" + spec.workspace_path + "'");
  }
  struct stat st {};
  if (::stat(spec.workspace_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    invalid("workspace_path '" + spec.workspace_path + "' is not an existing directory");
  }
  spec.workspace_path = std::filesystem::path(spec.workspace_path).lexically_normal().string();
  if (spec.workspace_path.size() > 1 && spec.workspace_path.back() == '/') spec.workspace_path.pop_back();
  return spec;
}

}  // namespace isb::docker
