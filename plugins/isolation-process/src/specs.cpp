// specs.cpp: validation of the sandbox_create and sandbox_exec documents.
#include "specs.hpp"

#include <sys/stat.h>

#include <filesystem>

#include "isolation-common/json_fields.hpp"

namespace isb::process {

using isolation::has_nul;
using isolation::invalid;
using isolation::parse_object;

namespace {

std::string existing_dir(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) invalid(std::string("overlay.") + key + " must be a string (an absolute directory path)");
  std::string path(v->as_string());
  struct stat st {};
  if (path.empty() || path[0] != '/' || has_nul(path) || ::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    invalid(std::string("overlay.") + key + " '" + path + "' is not an existing absolute directory");
  }
  path = std::filesystem::path(path).lexically_normal().string();
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

OverlaySpec parse_overlay(const boost::json::value& value) {
  if (!value.is_object()) invalid("overlay must be an object {\"lower\", \"upper\", \"work\"}");
  const auto& o = value.as_object();
  OverlaySpec ov{existing_dir(o, "lower"), existing_dir(o, "upper"), existing_dir(o, "work")};
  if (std::filesystem::path(ov.upper).parent_path() != std::filesystem::path(ov.work).parent_path()) {
    invalid("overlay.upper and overlay.work must be in the same directory (got " + ov.upper + " and " + ov.work +
            ")");
  }
  return ov;
}

}  // namespace

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
      spec.limits = isolation::parse_limits(value);
    } else if (key == "overlay") {
      spec.overlay = parse_overlay(value);
    } else if (key == "network") {
      // Only "none" exists so far; anything else would be a promise not kept.
      if (!value.is_string() || value.as_string() != "none") {
        invalid("network must be \"none\" (this backend gives each sandbox only a loopback interface)");
      }
    }
    // Other keys belong to other backends or later versions and are ignored.
  }
  if (spec.workspace_id.empty()) invalid("the sandbox spec is missing workspace_id");
  if (has_nul(spec.workspace_id)) invalid("workspace_id contains a NUL character");
  if (!have_path) invalid("the sandbox spec is missing workspace_path");
  if (spec.workspace_path.empty() || spec.workspace_path[0] != '/' || has_nul(spec.workspace_path)) {
    invalid("workspace_path must be an absolute path, got '" + spec.workspace_path + "'");
  }
  struct stat st {};
  if (::stat(spec.workspace_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    invalid("workspace_path '" + spec.workspace_path + "' is not an existing directory");
  }
  spec.workspace_path = std::filesystem::path(spec.workspace_path).lexically_normal().string();
  if (spec.workspace_path.size() > 1 && spec.workspace_path.back() == '/') spec.workspace_path.pop_back();
  return spec;
}

}  // namespace isb::process
