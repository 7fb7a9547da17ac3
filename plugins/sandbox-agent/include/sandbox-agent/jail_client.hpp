// jail_client.hpp: runs one command through a workspace's supervisor: sends
// kRun with the command's own socket and stdio pipes, streams the pipes to the
// sink, enforces timeout and cancellation by signalling the command's process
// group through the supervisor, and returns the exit report.
//
// Every wait on the supervisor is bounded: the request must be taken, and the
// command's end reported, by timeout_ms + kill_grace_ms + reply_margin_ms (or,
// after a cancel, cancel + kill_grace_ms + reply_margin_ms). A supervisor that
// misses that bound, or hangs up without reporting the end, is "lost"
// (RunResult::supervisor_lost): the caller must then stop using it and kill
// it, since it can no longer be trusted to end what it started.
#pragma once

#include <cstdint>
#include <isb/sdk/plugin.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sandbox-agent/fd.hpp"
#include "sandbox-agent/run_result.hpp"

namespace isb::agent {

struct JailRunRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;                        // "NAME=value", the whole environment
  std::string cwd;                                     // absolute path inside the jail
  std::vector<std::pair<uint32_t, uint64_t>> rlimits;  // (RLIMIT_*, value)
  int64_t timeout_ms = 300000;
  int64_t max_output_bytes = 1 << 20;
  int64_t kill_grace_ms = 2000;
  //! How long after SIGKILL was asked for the supervisor may take to report
  //! the command's end before it is treated as lost.
  int64_t reply_margin_ms = 3000;
  std::optional<std::string> stdin_data;
};

//! Runs req and returns its report. A command the supervisor could not start
//! (fork failed, e.g. EAGAIN at the pids limit; exec failed) is exit_code 127
//! with `error`: a failure of that command, not of the supervisor. When the
//! supervisor is lost, supervisor_lost is set and `error` says how, with the
//! supervisor as "it" ("it hung up while the command ran"). Throws
//! Error(ISB_NOT_FOUND) when control is already closed (sandbox destroyed).
//! THREADING: any number of calls may run at once on one jail. send_mu guards
//! control: it is only duplicated under it (the request goes through the
//! duplicate), so a concurrent destroy, which closes it under send_mu, can
//! never make a request reach a reused fd number.
RunResult run_in_jail(const Fd& control, std::mutex& send_mu, const JailRunRequest& req,
                      const sdk::OutputSink& sink);

}  // namespace isb::agent
