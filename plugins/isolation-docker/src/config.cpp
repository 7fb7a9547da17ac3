// config.cpp: see config.hpp.
#include "config.hpp"

#include <cstdlib>

#include "isolation-common/json_fields.hpp"

namespace isb::docker {

using isolation::as_int;
using isolation::parse_object;

const char* const kConfigSchema = R"schema({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "docker isolation backend",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "host": {"type": "string", "pattern": "^(unix|tcp)://.+",
             "description": "Engine address, unix:///var/run/docker.sock or tcp://host:port; default $DOCKER_HOST, else the standard socket"},
    "instance_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
                    "description": "Label value identifying this server's containers; reconcile removes only these"},
    "api_version": {"type": "string", "pattern": "^1\\.(4[1-9]|5[0-4])$",
                    "description": "Engine API version to use instead of negotiating it from /version (1.41 to 1.54, and within the engine's range)"},
    "request_timeout_ms": {"type": "integer", "minimum": 100, "maximum": 600000},
    "pull_timeout_ms": {"type": "integer", "minimum": 1000, "maximum": 3600000},
    "kill_grace_ms": {"type": "integer", "minimum": 0, "maximum": 60000},
    "reply_margin_ms": {"type": "integer", "minimum": 100, "maximum": 600000,
                        "description": "How long after SIGKILL the agent may take to report a stopped command's end; past timeout + kill_grace_ms + this margin the agent is lost: the container is killed and the workspace fails"},
    "tmp_size_mb": {"type": "integer", "minimum": 1, "maximum": 1048576},
    "keepalive_command": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
    "exec_path": {"enum": ["auto", "agent", "exec_api"],
                  "description": "agent: isb-supervisor as the container's PID 1 runs commands; exec_api: the engine's exec endpoints; auto: the agent where it can run"},
    "agent_start_timeout_ms": {"type": "integer", "minimum": 100, "maximum": 120000},
    "warm_pool": {"type": "integer", "minimum": 0, "maximum": 64,
                  "description": "Containers kept ready for new workspaces of warm_image (needs the agent)"},
    "warm_image": {"type": "string", "minLength": 1},
    "warm_resource_limits": {"type": "object"}
  }
})schema";

namespace {

[[noreturn]] void bad(const std::string& message) { throw sdk::Error(ISB_INVALID_CONFIG, message); }

int64_t bounded_int(const boost::json::value& v, const std::string& key, int64_t lo, int64_t hi) {
  auto n = as_int(v);
  if (!n || *n < lo || *n > hi) {
    bad("docker config: " + key + " must be an integer from " + std::to_string(lo) + " to " +
        std::to_string(hi));
  }
  return *n;
}

bool valid_instance_id(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return false;
  }
  return true;
}

}  // namespace

Config parse_config(const std::string& config_json) {
  boost::json::object obj = parse_object(config_json, ISB_INVALID_CONFIG, "the docker backend config");
  Config c;
  for (const auto& [k, v] : obj) {
    std::string key(k);
    if (key == "host") {
      if (!v.is_string()) bad("docker config: host must be a string like unix:///var/run/docker.sock");
      c.host = std::string(v.as_string());
      if (c.host.rfind("unix://", 0) != 0 && c.host.rfind("tcp://", 0) != 0) {
        bad("docker config: host '" + c.host + "' must start with unix:// or tcp://");
      }
    } else if (key == "instance_id") {
      if (!v.is_string() || !valid_instance_id(std::string(v.as_string()))) {
        bad("docker config: instance_id must be 1-63 characters of letters, digits, '_', '.', '-', starting "
            "with a letter or digit");
      }
      c.instance_id = std::string(v.as_string());
    } else if (key == "api_version") {
      std::string s = v.is_string() ? std::string(v.as_string()) : "";
      auto version = ApiVersion::parse(s);
      if (!version || version->major != 1) bad("docker config: api_version must look like \"1.44\"");
      if (*version < kOldestApi) {
        bad("docker config: api_version " + s + " is older than " + kOldestApi.str() +
            ", the oldest this backend speaks (" + supported_api_range() + "); remove it to negotiate");
      }
      if (*version > kNewestApi) {
        bad("docker config: api_version " + s + " is newer than " + kNewestApi.str() +
            ", the newest this backend speaks (" + supported_api_range() +
            "); requests of a version it does not know could be wrong, so remove it to negotiate");
      }
      c.api_version = version;
    } else if (key == "request_timeout_ms") {
      c.request_timeout_ms = bounded_int(v, key, 100, 600000);
    } else if (key == "pull_timeout_ms") {
      c.pull_timeout_ms = bounded_int(v, key, 1000, 3600000);
    } else if (key == "kill_grace_ms") {
      c.kill_grace_ms = bounded_int(v, key, 0, 60000);
    } else if (key == "reply_margin_ms") {
      c.reply_margin_ms = bounded_int(v, key, 100, 600000);
    } else if (key == "tmp_size_mb") {
      c.tmp_size_mb = bounded_int(v, key, 1, 1048576);
    } else if (key == "keepalive_command") {
      if (!v.is_array() || v.as_array().empty())
        bad("docker config: keepalive_command must be a non-empty array of strings");
      c.keepalive_command.clear();
      for (const auto& e : v.as_array()) {
        if (!e.is_string() || e.as_string().empty())
          bad("docker config: keepalive_command must hold non-empty strings");
        c.keepalive_command.emplace_back(e.as_string());
      }
    } else if (key == "exec_path") {
      std::string s = v.is_string() ? std::string(v.as_string()) : "";
      if (s != "auto" && s != "agent" && s != "exec_api")
        bad("docker config: exec_path must be \"auto\", \"agent\" or \"exec_api\"");
      c.exec_path = s;
    } else if (key == "agent_start_timeout_ms") {
      c.agent_start_timeout_ms = bounded_int(v, key, 100, 120000);
    } else if (key == "warm_pool") {
      c.warm_pool = bounded_int(v, key, 0, 64);
    } else if (key == "warm_image") {
      if (!v.is_string() || v.as_string().empty())
        bad("docker config: warm_image must be an image reference");
      c.warm_image = std::string(v.as_string());
    } else if (key == "warm_resource_limits") {
      try {
        c.warm_resource_limits = parse_docker_limits(v);
      } catch (const sdk::Error& e) {
        bad(std::string("docker config: warm_") + e.what());
      }
    } else {
      bad("docker config: unknown key '" + key +
          "' (known: host, instance_id, api_version, request_timeout_ms, pull_timeout_ms, kill_grace_ms, "
          "reply_margin_ms, tmp_size_mb, keepalive_command, exec_path, agent_start_timeout_ms, warm_pool, "
          "warm_image, "
          "warm_resource_limits)");
    }
  }
  if (c.warm_pool > 0 && c.warm_image.empty())
    bad("docker config: warm_pool needs warm_image, the image its containers are made from");
  if (c.warm_pool > 0 && c.exec_path == "exec_api")
    bad("docker config: warm_pool needs the agent (exec_path auto or agent), not exec_api");
  if (c.host.empty()) {
    const char* env = std::getenv("DOCKER_HOST");
    c.host = env && *env ? env : "unix:///var/run/docker.sock";
    if (c.host.rfind("unix://", 0) != 0 && c.host.rfind("tcp://", 0) != 0) {
      bad("DOCKER_HOST '" + c.host +
          "' is not supported: use unix:///path or tcp://host:port (TLS is not supported)");
    }
  }
  return c;
}

}  // namespace isb::docker
