// specs.cpp: see specs.hpp.
#include "specs.hpp"

#include <sys/stat.h>

#include <filesystem>

#include "json_fields.hpp"

namespace isb::docker {
namespace {

[[noreturn]] void invalid(const std::string& message) { throw sdk::Error(ISB_INVALID_ARGUMENT, message); }

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

int64_t positive_int(const boost::json::value& v, const std::string& name) {
  auto n = as_int(v);
  if (!n || *n <= 0) invalid(name + " must be a positive integer");
  return *n;
}

}  // namespace

ResourceLimits parse_limits(const boost::json::value& v) {
  if (!v.is_object()) invalid("resource_limits must be an object");
  ResourceLimits l;
  for (const auto& [key, value] : v.as_object()) {
    std::string name = "resource_limits." + std::string(key);
    if (key == "memory_mb") {
      l.memory_mb = positive_int(value, name);
      // The engine refuses a memory limit below 6 MB with a message about bytes.
      if (*l.memory_mb < 6) invalid(name + " must be at least 6 (the engine's minimum)");
    } else if (key == "cpu_cores") {
      auto d = as_number(value);
      if (!d || !(*d > 0) || *d > 1024) invalid(name + " must be a number above 0 and at most 1024");
      l.cpu_cores = *d;
    } else if (key == "disk_mb") {
      l.disk_mb = positive_int(value, name);
    } else if (key == "max_processes") {
      l.max_processes = positive_int(value, name);
    } else if (key == "max_open_files") {
      l.max_open_files = positive_int(value, name);
    } else {
      // A limit this backend does not know would silently not be applied.
      invalid("unknown resource limit '" + std::string(key) +
              "' (known: memory_mb, cpu_cores, disk_mb, max_processes, max_open_files)");
    }
  }
  return l;
}

boost::json::object ResourceLimits::to_json() const {
  boost::json::object o;
  if (memory_mb) o["memory_mb"] = *memory_mb;
  if (cpu_cores) o["cpu_cores"] = *cpu_cores;
  if (disk_mb) o["disk_mb"] = *disk_mb;
  if (max_processes) o["max_processes"] = *max_processes;
  if (max_open_files) o["max_open_files"] = *max_open_files;
  return o;
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
      spec.limits = parse_limits(value);
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

ExecSpec parse_exec_spec(const std::string& spec_json) {
  boost::json::object obj = parse_object(spec_json, ISB_INVALID_ARGUMENT, "the exec spec");
  ExecSpec spec;
  bool have_argv = false, have_shell = false;
  for (const auto& [key, value] : obj) {
    if (key == "argv") {
      if (!value.is_array() || value.as_array().empty()) invalid("argv must be a non-empty array of strings");
      for (const auto& a : value.as_array()) {
        if (!a.is_string()) invalid("argv must be a non-empty array of strings");
        std::string s(a.as_string());
        if (has_nul(s)) invalid("an argv element contains a NUL character");
        spec.argv.push_back(std::move(s));
      }
      if (spec.argv[0].empty()) invalid("argv[0] must not be empty");
      have_argv = true;
    } else if (key == "shell") {
      if (!value.is_string() || value.as_string().empty()) invalid("shell must be a non-empty string");
      std::string s(value.as_string());
      if (has_nul(s)) invalid("shell contains a NUL character");
      spec.argv = {"/bin/sh", "-c", std::move(s)};
      have_shell = true;
    } else if (key == "cwd") {
      if (!value.is_string()) invalid("cwd must be a string (a path relative to the workspace)");
      spec.cwd = std::string(value.as_string());
    } else if (key == "env") {
      if (!value.is_object()) invalid("env must be an object of string to string");
      for (const auto& [k, v] : value.as_object()) {
        std::string name(k);
        if (name.empty() || name.find('=') != std::string::npos || has_nul(name)) {
          invalid("env name '" + name + "' is not a valid variable name");
        }
        if (!v.is_string()) invalid("env value of '" + name + "' must be a string");
        std::string val(v.as_string());
        if (has_nul(val)) invalid("env value of '" + name + "' contains a NUL character");
        spec.env[name] = std::move(val);
      }
    } else if (key == "timeout_ms") {
      spec.timeout_ms = positive_int(value, "timeout_ms");
    } else if (key == "max_output_bytes") {
      auto n = as_int(value);
      if (!n || *n < 0) invalid("max_output_bytes must be a non-negative integer");
      spec.max_output_bytes = *n;
    } else if (key == "stdin") {
      if (!value.is_string()) invalid("stdin must be a string");
      spec.stdin_data = std::string(value.as_string());
    } else {
      invalid("unknown exec spec key '" + std::string(key) +
              "' (known: argv, shell, cwd, env, timeout_ms, max_output_bytes, stdin)");
    }
  }
  if (have_argv == have_shell) invalid("the exec spec needs exactly one of argv or shell");
  if (spec.cwd.empty()) spec.cwd = ".";
  if (has_nul(spec.cwd)) invalid("cwd contains a NUL character");
  std::filesystem::path cwd(spec.cwd);
  if (cwd.is_absolute()) invalid("cwd '" + spec.cwd + "' must be relative to the workspace, not absolute");
  for (const auto& part : cwd) {
    if (part == "..") invalid("cwd '" + spec.cwd + "' must stay inside the workspace ('..' is not allowed)");
  }
  return spec;
}

}  // namespace isb::docker
