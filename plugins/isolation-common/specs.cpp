// specs.cpp: see specs.hpp.
#include "isolation-common/specs.hpp"

#include <filesystem>

#include "isolation-common/json_fields.hpp"

namespace isb::isolation {

boost::json::object ResourceLimits::to_json() const {
  boost::json::object o;
  if (memory_mb) o["memory_mb"] = *memory_mb;
  if (cpu_cores) o["cpu_cores"] = *cpu_cores;
  if (disk_mb) o["disk_mb"] = *disk_mb;
  if (max_processes) o["max_processes"] = *max_processes;
  if (max_open_files) o["max_open_files"] = *max_open_files;
  return o;
}

ResourceLimits parse_limits(const boost::json::value& v) {
  if (!v.is_object()) invalid("resource_limits must be an object");
  ResourceLimits l;
  for (const auto& [key, value] : v.as_object()) {
    std::string name = "resource_limits." + std::string(key);
    if (key == "memory_mb") {
      l.memory_mb = positive_int(value, name);
    } else if (key == "cpu_cores") {
      auto d = as_number(value);
      if (!d || !(*d > 0)) invalid(name + " must be a positive number");
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
        if (has_nul(s)) invalid("argv element contains a NUL character");
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

}  // namespace isb::isolation
