// exec_runner.hpp: runs one command in a workspace's container through the
// Engine API's exec endpoints (create, start with a hijacked multiplexed
// stream, inspect), streaming output as it arrives.
//
// Stopping a command (timeout, cancellation): the API has no "kill exec", so on
// a local engine the server SIGKILLs the exec's process group and session by
// host PID (local_container.hpp); where that is not possible, or when something
// the command started still holds its output open after kill_grace_ms, the
// container is restarted, which ends every process in it.
// THREADING: run_exec may run concurrently for different commands; the
// EngineClient it uses is thread-safe.
#pragma once

#include <isb/sdk/plugin.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine_client.hpp"
#include "local_container.hpp"
#include "specs.hpp"

namespace isb::docker {

//! Where the workspace is mounted inside every container, and the default cwd.
constexpr const char* kWorkspaceMount = "/workspace";

struct AgentChannel;  // agent_exec.hpp

//! What run_exec and run_agent_exec need to know about the container.
struct ExecTarget {
  std::string container_id;
  std::optional<ContainerCgroup> cgroup;  // set when the engine is local and its cgroup readable
  bool local_pids = false;                // exec PIDs are visible and signalable from here
  pid_t init_pid = 0;                     // host PID of the container's PID 1
  std::vector<std::string> env;           // the container's environment (image ENV + ours)
  std::shared_ptr<AgentChannel> agent;    // set when PID 1 is the in-container agent
  bool running = true;                    // State.Running when inspected
  std::string state;                      // State.Status when inspected ("running", "exited", ...)
};

//! Runs spec in the container and returns the exec result document
//! (docs/schemas/exec-result.schema.json). Throws Error(ISB_NOT_FOUND) when the
//! container is gone, Error(ISB_UNAVAILABLE) when the engine goes away.
std::string run_exec(const EngineClient& engine, const ExecTarget& target, const ExecSpec& spec,
                     sdk::OutputSink& sink, int64_t kill_grace_ms);

}  // namespace isb::docker
