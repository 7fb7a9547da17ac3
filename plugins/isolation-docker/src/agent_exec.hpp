// agent_exec.hpp: runs commands through the in-container agent, the sandbox
// agent's static isb-supervisor started as the container's PID 1 in "agent"
// mode (plugins/sandbox-agent/supervisor/agent_mode.hpp). The server talks
// to it with the sandbox agent's client (sandbox-agent/jail_client.hpp) over the
// agent's Unix socket, so a command costs one fork+exec inside the container
// instead of the engine's exec round trips.
//
// The connection is made once per container (agent_socket.hpp says how it is
// verified) and never re-made by path: the socket's path is the container's
// to shape. When the connection fails, or the agent does not answer within a
// command's bound (timeout + kill grace + reply margin), the agent is lost for
// good: give_up_agent() kills the container's PID 1, and the workspace fails.
//
//   auto ch = std::make_shared<AgentChannel>();
//   ch->init_pid = init_pid; ch->container_id = id;
//   connect_agent(*ch, std::chrono::seconds(3));      // after the container started
//   std::string detail;
//   if (auto result = run_agent_exec(target, spec, sink, limits, &detail)) ...;
//   else give_up_agent(*ch, detail);
//
// THREADING: several commands may run at once on one channel; send_mu guards
// the channel's mutable state.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <isb/sdk/plugin.hpp>
#include <mutex>
#include <optional>
#include <string>

#include "exec_runner.hpp"
#include "sandbox-agent/fd.hpp"

namespace isb::docker {

//! Where the agent binary and its socket directory appear inside a container.
constexpr const char* kAgentBinaryMount = "/.isb/isb-supervisor";
constexpr const char* kAgentRunDir = "/.isb/run";

//! The one connection to a container's agent.
struct AgentChannel {
  pid_t init_pid = 0;        // host PID of the container's PID 1 (the agent)
  std::string container_id;  // the container it belongs to
  std::mutex send_mu;        // guards the members below (see agent::run_in_jail)
  agent::Fd control;       // connected SOCK_SEQPACKET socket; -1 before connect_agent and once lost
  agent::Fd init_pidfd;    // pidfd of PID 1, taken by connect_agent; kills it when the agent is lost
  std::string lost;          // why the agent was given up; "" while it serves
};

//! Connects ch (under send_mu), retrying while the agent has not yet bound or
//! listened, until `wait` passes. Returns at once when connected. Throws
//! Error(ISB_UNAVAILABLE) saying why it could not connect, and always once
//! the agent was lost: a channel is connected at most once.
void connect_agent(AgentChannel& ch, std::chrono::milliseconds wait);

//! Why the agent was given up, "" while it serves.
std::string agent_lost_reason(AgentChannel& ch);

//! Gives the agent up for `why` (kept for every later call): drops the
//! connection and SIGKILLs the container's PID 1, which ends the container,
//! since nothing can end what runs there any more. Returns false when PID 1
//! had already exited on its own (the container stopped under the server),
//! true when it was killed now or the agent had been given up before.
bool give_up_agent(AgentChannel& ch, const std::string& why);

//! Bounds of one command on the agent path.
struct AgentWaits {
  int64_t kill_grace_ms = 2000;    // SIGTERM to SIGKILL after timeout or cancel
  int64_t reply_margin_ms = 3000;  // SIGKILL to the agent's report of the end
};

//! Runs spec through target.agent and returns the exec result document
//! (docs/schemas/exec-result.schema.json) with "exec_path": "agent", within
//! spec.timeout_ms + kill_grace_ms + reply_margin_ms. When the agent is not
//! connected, hangs up without reporting the command's end, or misses that
//! bound, returns nullopt and sets *lost_detail: the caller gives it up.
std::optional<std::string> run_agent_exec(const ExecTarget& target, const ExecSpec& spec,
                                          const sdk::OutputSink& sink, const AgentWaits& waits,
                                          std::string* lost_detail);

}  // namespace isb::docker
