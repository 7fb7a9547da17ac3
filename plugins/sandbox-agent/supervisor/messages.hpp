// messages.hpp: the supervisor side of the wire protocol, shared by the jail's
// pid 1 (supervisor_main.cpp) and the in-container agent (agent_mode.cpp):
// receiving a message with its passed fds, sending one, decoding a kRun, and
// the last steps of a command's child before exec.
//
// Everything here is plain system calls on the caller's thread; the
// supervisor is single-threaded, so the child-side function runs in an
// ordinary fork() child.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sandbox-agent/protocol.hpp"

namespace isb::agent::supervisor {

//! One received message and the fds that came with it (close-on-exec).
struct Message {
  std::string data;
  std::vector<int> fds;
  bool eof = false;  // the peer hung up (or the socket failed)
};

//! Receives one message. With nonblocking, a socket that has nothing after
//! all (a spurious wakeup) gives an empty message that is not eof.
Message receive(int sock, bool nonblocking = false);

//! Sends one message; a peer that is gone is not an error here (its socket's
//! hang-up is seen by the poll loop).
void send_message(int sock, const wire::Writer& w, bool nonblocking = false);

//! A decoded kRun: the command socket and the command's stdin/stdout/stderr
//! (all taken from the message's fds), argv, env, cwd and rlimits.
struct RunRequest {
  int sock = -1, in = -1, out = -1, err = -1;
  std::vector<std::string> argv, env;
  std::string cwd;
  std::vector<std::pair<uint32_t, uint64_t>> limits;  // (RLIMIT_*, value)
};

//! Decodes m as a kRun. Not a kRun (or the wrong fd count): closes the fds and
//! returns false. Malformed: also answers kExecFailed on the command socket.
bool decode_run(Message& m, RunRequest* out);

//! Answers kExecFailed(stage, errno) on sock and exits 127 (child side).
[[noreturn]] void child_failed(int sock, const char* stage);

//! The child's last steps: chdir to the working directory, the rlimits, exec.
//! Every fd except 0-2 must be close-on-exec by now.
[[noreturn]] void chdir_limit_and_exec(const RunRequest& run);

}  // namespace isb::agent::supervisor
