// jail_client.hpp: runs one command through a workspace's supervisor: sends
// kRun with the command's own socket and stdio pipes, streams the pipes to the
// sink, enforces timeout and cancellation by signalling the command's process
// group through the supervisor, and returns the exit report.
#pragma once

#include <cstdint>
#include <isb/sdk/plugin.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fd.hpp"
#include "runner.hpp"

namespace isb::process {

struct JailRunRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;                        // "NAME=value", the whole environment
  std::string cwd;                                     // absolute path inside the jail
  std::vector<std::pair<uint32_t, uint64_t>> rlimits;  // (RLIMIT_*, value)
  int64_t timeout_ms = 300000;
  int64_t max_output_bytes = 1 << 20;
  int64_t kill_grace_ms = 2000;
  std::optional<std::string> stdin_data;
};

//! THREADING: any number of calls may run at once on one jail. send_mu guards
//! control: the fd is read and written only under it, so a concurrent destroy
//! (which closes it under send_mu) can never make a request reach a reused fd.
RunResult run_in_jail(const Fd& control, std::mutex& send_mu, const JailRunRequest& req,
                      const sdk::OutputSink& sink);

}  // namespace isb::process
