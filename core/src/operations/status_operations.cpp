// status_operations.cpp: get_sandbox_status.
#include "operations/operations.hpp"

namespace isb::operations {

Status register_status_operations(OperationRegistry& r, const Services& s) {
  auto status = s.status;
  return r.add({
      .name = "get_sandbox_status",
      .title = "Sandbox status",
      .description =
          "Server version, the configuration file used and where state, caches and logs go, loaded "
          "plugins, the isolation backend and what it enforces on this host, workspace counts, the "
          "cache, and operation metrics (calls, errors, latency percentiles) when monitoring is on.",
      .input_schema = R"({"type":"object","additionalProperties":false,"properties":{}})",
      .output_schema = R"({"type":"object",
        "required":["server","config_source","state_dir","security","isolation","plugins","workspaces","store"],
        "properties":{
          "server":{"type":"object","required":["name","version","uptime_s"],"properties":{
            "name":{"type":"string"},"version":{"type":"string"},"uptime_s":{"type":"integer"}}},
          "config_source":{"type":"string","description":"The config file used, or built-in defaults"},
          "config_origin":{"type":"string","description":"How that file was chosen: --config, $SANDBOX_CONFIG, user config, system config; empty for built-in defaults"},
          "state_dir":{"type":"string"},
          "paths":{"type":"object","properties":{"state_dir":{"type":"string"},"workspaces_dir":{"type":"string"},
            "cache_dir":{"type":"string"},"log_file":{"type":"string","description":"Empty: stderr only"},"audit_log":{"type":"string"}}},
          "cache":{"type":"object","required":["enabled","entries","size_bytes","max_bytes","ttl_s"],
            "description":"The server's cache, cache.*: entries, size against its bound, hits, misses, expired and evicted entries since start"},
          "metrics":{"type":"object","required":["enabled"],
            "description":"performance.monitoring_enabled: per operation calls, errors and latency percentiles in ms since start, and gauges: workspaces, executions, process RSS",
            "properties":{"enabled":{"type":"boolean"},"since":{"type":"string"},
              "operations":{"type":"object","additionalProperties":{"type":"object","required":["calls","errors","latency_ms"]}},
              "gauges":{"type":"object","additionalProperties":{"type":"number"}}}},
          "security":{"type":"object","required":["level","allow_degraded","required_protections"],"properties":{
            "level":{"type":"string","enum":["low","medium","high"]},"allow_degraded":{"type":"boolean"},
            "required_protections":{"type":"array","items":{"type":"string"}}}},
          "isolation":{"type":"object","required":["backend","probe","backends"],"properties":{
            "backend":{"type":"string","description":"Default backend for new workspaces"},
            "requested":{"type":"string"},"note":{"type":"string"},
            "backends":{"type":"array","items":{"type":"object","required":["id","available"],"properties":{
              "id":{"type":"string"},"available":{"type":"boolean"}}}},
            "status":{"type":"string","description":"enforced, or degraded: <protections missing for the security level>"},
            "enforced":{"type":"array","items":{"type":"string"}},
            "missing_for_level":{"type":"array","items":{"type":"string"}},
            "disk_limit":{"type":"object","required":["enforced_by","detail"],"properties":{
              "enforced_by":{"type":"string","enum":["disk_image","watch"]},"detail":{"type":"string"}},
              "description":"How resource_limits.disk_mb is held for new workspaces here"},
            "probe":{"type":"object"}}},
          "plugins":{"type":"array","items":{"type":"object","required":["id","kind","version","abi"],"properties":{
            "id":{"type":"string"},"kind":{"type":"string"},"version":{"type":"string"},"abi":{"type":"string"},
            "name":{"type":"string"},"path":{"type":"string"}}}},
          "workspaces":{"type":"object","required":["active","max"],"properties":{
            "active":{"type":"integer"},"max":{"type":"integer"}}},
          "store":{"type":"object","required":["path","schema_version"],"properties":{
            "path":{"type":"string"},"schema_version":{"type":"integer"}}}
        }})",
      .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [status](const boost::json::object&, CallContext&) -> Result<boost::json::value> {
        return to_value(status());
      },
  });
}

}  // namespace isb::operations
