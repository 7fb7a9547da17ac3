// config.cpp: parsing and schema of the process backend's config.
#include "config.hpp"

#include "isolation-common/json_fields.hpp"

namespace isb::process {

using isolation::as_int;
using isolation::parse_object;

const char* const kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "isolation-process config",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "kill_grace_ms": {
      "type": "integer", "minimum": 0, "maximum": 600000, "default": 2000,
      "description": "Milliseconds between SIGTERM and SIGKILL to a command's process group on timeout or cancel."
    },
    "reply_margin_ms": {
      "type": "integer", "minimum": 100, "maximum": 600000, "default": 3000,
      "description": "Milliseconds the workspace's supervisor may take, after SIGKILL was asked for, to report a stopped command's end. Past timeout + kill_grace_ms + this margin the supervisor is treated as lost: its jail is killed and the workspace fails."
    },
    "sandbox_uid_base": {
      "type": "integer", "minimum": 1000, "maximum": 2000000000, "default": 200000,
      "description": "First unprivileged host uid given to sandboxes; each takes two consecutive uids (jail root, command user), 4096 sandboxes at most. Use a range no host account uses."
    },
    "cgroup_parent": {
      "type": "string", "pattern": "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", "default": "isb-process",
      "description": "Cgroup under the server's own cgroup (of each controller on cgroup v1) where workspace cgroups are made."
    },
    "disable": {
      "type": "array", "uniqueItems": true,
      "items": {"enum": ["namespaces", "user_namespace", "cgroups", "seccomp", "idmapped_mount"]},
      "description": "Protections and mechanisms to switch off (reported as such): namespaces = no jail, commands run as plain children; user_namespace = root fallback that drops to the sandbox uid after mounting; cgroups; seccomp; idmapped_mount = chown every workspace file to the sandbox uid instead."
    }
  }
})";

namespace {

[[noreturn]] void bad(const std::string& message) { throw sdk::Error(ISB_INVALID_CONFIG, message); }

}  // namespace

Config parse_config(const std::string& config_json) {
  std::string text = config_json.empty() ? "{}" : config_json;
  boost::json::object obj = parse_object(text, ISB_INVALID_CONFIG, "the process backend config");
  Config cfg;
  for (const auto& [key, value] : obj) {
    if (key == "kill_grace_ms") {
      auto n = as_int(value);
      if (!n || *n < 0 || *n > 600000) {
        bad("config key 'kill_grace_ms' must be an integer between 0 and 600000 (milliseconds)");
      }
      cfg.kill_grace_ms = *n;
    } else if (key == "reply_margin_ms") {
      auto n = as_int(value);
      if (!n || *n < 100 || *n > 600000) {
        bad("config key 'reply_margin_ms' must be an integer between 100 and 600000 (milliseconds)");
      }
      cfg.reply_margin_ms = *n;
    } else if (key == "sandbox_uid_base") {
      auto n = as_int(value);
      if (!n || *n < 1000 || *n > 2000000000) {
        bad("config key 'sandbox_uid_base' must be an integer between 1000 and 2000000000 (a host uid range "
            "no account uses)");
      }
      cfg.sandbox_uid_base = *n;
    } else if (key == "cgroup_parent") {
      std::string p = value.is_string() ? std::string(value.as_string()) : "";
      bool ok = !p.empty() && p.front() != '/' && p.back() != '/' && p.find("..") == std::string::npos &&
                p.find("//") == std::string::npos;
      for (char c : p)
        ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '/');
      if (!ok)
        bad("config key 'cgroup_parent' must be a relative cgroup name like 'isb-process' (letters, digits, "
            ". _ - /, no '..')");
      cfg.cgroup_parent = p;
    } else if (key == "disable") {
      if (!value.is_array()) bad("config key 'disable' must be an array of protection names");
      for (const auto& v : value.as_array()) {
        std::string n = v.is_string() ? std::string(v.as_string()) : "";
        if (n != "namespaces" && n != "user_namespace" && n != "cgroups" && n != "seccomp" &&
            n != "idmapped_mount") {
          bad("config key 'disable' has unknown entry " + boost::json::serialize(v) +
              " (known: namespaces, user_namespace, cgroups, seccomp, idmapped_mount)");
        }
        cfg.disable.insert(n);
      }
    } else {
      bad("unknown config key '" + std::string(key) +
          "' (the process backend knows: kill_grace_ms, reply_margin_ms, sandbox_uid_base, cgroup_parent, "
          "disable)");
    }
  }
  return cfg;
}

}  // namespace isb::process
