// config.hpp: the instance configuration of the docker backend (the plugin's
// config section), its JSON Schema and its parser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api_version.hpp"
#include "specs.hpp"

namespace isb::docker {

struct Config {
  //! Where the engine listens: unix:///path or tcp://host:port. Default:
  //! $DOCKER_HOST, else unix:///var/run/docker.sock.
  std::string host;
  //! Value of the instance label on every container this server creates;
  //! reconcile only ever touches containers carrying it.
  std::string instance_id = "default";
  //! Engine API version to use instead of negotiating it (within kOldestApi
  //! to kNewestApi); nullopt: negotiate the newest both sides speak.
  std::optional<ApiVersion> api_version;
  //! Bound on every ordinary engine request (not on command runs).
  int64_t request_timeout_ms = 30000;
  //! Bound on pulling a missing image.
  int64_t pull_timeout_ms = 300000;
  //! Time a stopped command's output stream may stay open before it is abandoned.
  int64_t kill_grace_ms = 2000;
  //! Agent path: how long after SIGKILL the agent may take to report a stopped
  //! command's end. Past timeout + kill_grace_ms + this margin the agent is
  //! lost: its container is killed and the workspace fails (agent_exec.hpp).
  int64_t reply_margin_ms = 3000;
  //! Size of the writable /tmp tmpfs in each container.
  int64_t tmp_size_mb = 256;
  //! How commands reach a container: "agent" (the static isb-supervisor as the
  //! container's PID 1, spoken to over a Unix socket: one fork+exec per
  //! command), "exec_api" (the engine's exec endpoints, with keepalive_command
  //! as PID 1) or "auto" (the agent where it can run, else the exec API).
  std::string exec_path = "auto";
  //! How long a new container's agent may take to listen before the container
  //! is given up ("agent") or re-created for the exec API ("auto").
  int64_t agent_start_timeout_ms = 5000;
  //! Containers kept created, started and with the agent listening, so that a
  //! workspace with warm_image, no egress and warm_resource_limits' ulimits is
  //! ready in milliseconds. 0: no pool.
  int64_t warm_pool = 0;
  std::string warm_image;
  ResourceLimits warm_resource_limits;
  //! The container's PID 1 on the exec API path. Commands run through exec; PID 1 has to stay alive
  //! and reap the orphans they leave. The engine's own init (tini) is not used:
  //! it exits when its child dies, so `kill -9 -1` in a command would stop the
  //! whole container, while PID 1 itself is immune to signals from inside its
  //! namespace. The shell's `wait` reaps every child, adopted orphans included.
  std::vector<std::string> keepalive_command = {
      "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 2147483647 & wait; done"};
};

//! JSON Schema (draft-07) of the config; describes exactly what parse_config accepts.
extern const char* const kConfigSchema;

//! Parses config_json; throws Error(ISB_INVALID_CONFIG, ...) naming the bad key.
Config parse_config(const std::string& config_json);

}  // namespace isb::docker
