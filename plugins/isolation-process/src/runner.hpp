// runner.hpp: runs one command as a child process in its own process group,
// with rlimits, streamed output, a wall-clock deadline and cancellation.
#pragma once

#include <sys/types.h>

#include <functional>
#include <isb/sdk/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

#include "isolation-common/signals.hpp"
#include "sandbox-agent/run_result.hpp"
#include "specs.hpp"

namespace isb::process {

struct RunRequest {
  std::vector<std::string> argv;
  std::string cwd;               // absolute directory to run in
  std::vector<std::string> env;  // "NAME=value" entries, the whole environment
  std::string search_path;       // PATH used to resolve argv[0] (the command's PATH)
  ResourceLimits limits;
  bool apply_nproc = false;  // RLIMIT_NPROC counts every process of the uid
  int64_t timeout_ms = 300000;
  int64_t max_output_bytes = 1 << 20;
  int64_t kill_grace_ms = 2000;
  //! How long after SIGKILL the main process may take to end before the run
  //! stops waiting for it (RunResult::unreaped).
  int64_t reply_margin_ms = 3000;
  std::optional<std::string> stdin_data;
};

//! The report of one run, shared with the jail client (sandbox-agent).
using agent::RunResult;

//! Runs req and waits for its main process, at most timeout_ms + kill_grace_ms +
//! reply_margin_ms. on_started(pgid) is called right after fork, before any
//! waiting, so the caller can kill the group from another thread. Throws
//! Error(ISB_ERROR, ...) when the process cannot be started at all.
RunResult run_command(const RunRequest& req, const sdk::OutputSink& sink,
                      const std::function<void(pid_t)>& on_started);

//! "SIGKILL" etc. (isolation-common: one rule for both backends).
using isolation::signal_name;

//! True when the process group still has at least one member.
bool process_group_alive(pid_t pgid);

}  // namespace isb::process
