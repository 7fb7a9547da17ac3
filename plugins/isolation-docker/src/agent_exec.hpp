// agent_exec.hpp: runs commands through the in-container agent, the process
// backend's static isb-supervisor started as the container's PID 1 in "agent"
// mode (plugins/isolation-process/supervisor/agent_mode.hpp). The server talks
// to it with the process backend's own client (jail_client.hpp) over the
// agent's Unix socket, reached from the host through /proc/<init pid>/root, so
// a command costs one fork+exec inside the container instead of the engine's
// exec round trips.
//
//   auto ch = std::make_shared<AgentChannel>();
//   ch->socket_path = agent_socket_path(init_pid);
//   connect_agent(*ch, std::chrono::seconds(3));      // after the container started
//   std::string result = run_agent_exec(target, spec, sink, kill_grace_ms);
//
// THREADING: several commands may run at once on one channel (the client
// serializes only the send of each request under send_mu).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <isb/sdk/plugin.hpp>
#include <mutex>
#include <string>

#include "exec_runner.hpp"
#include "fd.hpp"  // from the process backend (isb-jail-client)

namespace isb::docker {

//! Where the agent binary and its socket directory appear inside a container.
constexpr const char* kAgentBinaryMount = "/.isb/isb-supervisor";
constexpr const char* kAgentRunDir = "/.isb/run";

//! One connection to a container's agent.
struct AgentChannel {
  std::mutex send_mu;       // guards control (see process::run_in_jail)
  process::Fd control;      // connected SOCK_SEQPACKET socket; -1 until connected or after loss
  std::string socket_path;  // host path of the agent's socket
};

//! Host path of the agent socket of the container whose init has host PID init_pid.
std::string agent_socket_path(pid_t init_pid);

//! Connects ch (under send_mu), retrying until the agent listens or `wait`
//! passes. Throws Error(ISB_UNAVAILABLE) saying why it could not connect.
void connect_agent(AgentChannel& ch, std::chrono::milliseconds wait);

//! What went wrong with the agent itself, as opposed to the command.
enum class AgentFailure { kNone, kNotConnected, kLostBeforeStart, kLostDuringRun };

//! Runs spec through target.agent and returns the exec result document
//! (docs/schemas/exec-result.schema.json) with "exec_path": "agent". When the
//! agent cannot be reached or dies under the command, returns "" and sets
//! *failure (and *detail): the caller decides whether the container is gone.
std::string run_agent_exec(const ExecTarget& target, const ExecSpec& spec, const sdk::OutputSink& sink,
                           int64_t kill_grace_ms, AgentFailure* failure, std::string* detail);

}  // namespace isb::docker
