// agent_mode.hpp: isb-supervisor's "agent" mode, the in-container agent of the
// docker backend.
//
//   docker run ... -v <host>/isb-supervisor:/.isb/isb-supervisor:ro
//       --tmpfs /.isb/run IMAGE /.isb/isb-supervisor agent /.isb/run
//
// The container is already the jail, so the agent sets nothing up: it is the
// container's PID 1 (immune to `kill -9 -1` from inside, the reaper of every
// orphan), listens on <dir>/agent.sock (AF_UNIX SOCK_SEQPACKET) and serves any
// number of connections, each speaking the control-socket side of
// protocol.hpp (kRun with SCM_RIGHTS, then kStarted/kExecFailed/kExited and
// kSignal on the command's own socket). A connection closing leaves the
// workspace's background processes running; SIGTERM (`docker stop`) ends the
// agent and with it the container. It is not dumpable, so the container's
// root (without CAP_SYS_PTRACE) can neither ptrace it nor read /proc/1.
#pragma once

namespace isb::agent::container {

//! File name of the listening socket inside the agent's directory.
inline constexpr const char* kSocketName = "agent.sock";

//! Runs the agent on <socket_dir>/agent.sock until SIGTERM. Returns the exit
//! status of PID 1 (non-zero when the socket cannot be set up, after saying why
//! on stderr, which the engine keeps as the container's log).
int run(const char* socket_dir);

}  // namespace isb::agent::container
