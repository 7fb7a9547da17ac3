// agent_exec.cpp: see agent_exec.hpp.
#include "agent_exec.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <thread>

#include "agent_socket.hpp"
#include "isolation-common/signals.hpp"
#include "sandbox-agent/jail_client.hpp"

namespace isb::docker {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

}  // namespace

void connect_agent(AgentChannel& ch, std::chrono::milliseconds wait) {
  std::lock_guard<std::mutex> lock(ch.send_mu);
  const std::string what = "the in-container agent of container " + ch.container_id.substr(0, 12);
  if (!ch.lost.empty()) throw sdk::Error(ISB_UNAVAILABLE, what + " was lost: " + ch.lost);
  if (ch.control.get() >= 0) return;
  if (ch.init_pidfd.get() < 0) ch.init_pidfd = open_container_init(ch.init_pid, ch.container_id);
  const auto deadline = Clock::now() + wait;
  for (;;) {
    AgentConnectAttempt a = connect_agent_socket(ch.init_pid, ch.init_pidfd.get());
    if (a.socket.get() >= 0) {
      ch.control = std::move(a.socket);
      return;
    }
    // Not listening yet is normal right after the container started, unless
    // its PID 1 is gone altogether.
    if (!a.retry || !container_init_alive(ch.init_pidfd.get()) || Clock::now() >= deadline) {
      throw sdk::Error(ISB_UNAVAILABLE, "cannot connect to " + what + ": " + a.error);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string agent_lost_reason(AgentChannel& ch) {
  std::lock_guard<std::mutex> lock(ch.send_mu);
  return ch.lost;
}

bool give_up_agent(AgentChannel& ch, const std::string& why) {
  std::lock_guard<std::mutex> lock(ch.send_mu);
  ch.control.reset();
  if (!ch.lost.empty()) return true;  // another call gave it up (and killed it) first
  ch.lost = why;
  if (ch.init_pidfd.get() < 0) return false;
  // An agent that ends (the engine stops the container) closes its sockets
  // just before it becomes a zombie: a hang-up is followed by its exit at
  // once, which the pidfd reports as readable.
  pollfd exited{ch.init_pidfd.get(), POLLIN, 0};
  if (::poll(&exited, 1, 200) == 1) return false;
  // Through the pidfd: the very process that was verified as the
  // container's PID 1, never a recycled PID.
  return ::syscall(SYS_pidfd_send_signal, ch.init_pidfd.get(), SIGKILL, nullptr, 0) == 0;
}

std::optional<std::string> run_agent_exec(const ExecTarget& target, const ExecSpec& spec,
                                          const sdk::OutputSink& sink, const AgentWaits& waits,
                                          std::string* lost_detail) {
  AgentChannel& ch = *target.agent;
  {
    std::lock_guard<std::mutex> lock(ch.send_mu);
    if (ch.control.get() < 0) {
      *lost_detail = ch.lost.empty() ? "not connected to the in-container agent" : ch.lost;
      return std::nullopt;
    }
  }

  agent::JailRunRequest req;
  req.argv = spec.argv;
  // The whole environment: the container's, then the command's on top.
  std::map<std::string, std::string> env;
  for (const auto& e : target.env) {
    auto eq = e.find('=');
    if (eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  for (const auto& [k, v] : spec.env) env[k] = v;
  for (const auto& [k, v] : env) req.env.push_back(k + "=" + v);
  req.cwd = kWorkspaceMount;
  if (spec.cwd != ".") req.cwd += "/" + spec.cwd;
  req.timeout_ms = spec.timeout_ms;
  req.max_output_bytes = spec.max_output_bytes;
  req.kill_grace_ms = waits.kill_grace_ms;
  req.reply_margin_ms = waits.reply_margin_ms;
  req.stdin_data = spec.stdin_data;

  // Usage is the container cgroup's, as on the exec API path, so both paths
  // report the same thing; the command's own rusage is added beside it.
  std::optional<CgroupSample> before;
  bool peak_reset = false;
  if (target.cgroup) {
    peak_reset = reset_cgroup_peak(*target.cgroup);
    before = sample_cgroup(*target.cgroup);
  }

  agent::RunResult r;
  try {
    r = agent::run_in_jail(ch.control, ch.send_mu, req, sink);
  } catch (const sdk::Error& e) {
    // Closed meanwhile: another call gave the agent up.
    if (e.status() != ISB_NOT_FOUND) throw;
    *lost_detail = agent_lost_reason(ch);
    return std::nullopt;
  }
  if (r.supervisor_lost) {
    *lost_detail = *r.error;
    return std::nullopt;
  }
  // The agent signalled the command's process group; a member that changed
  // its group but stayed in the session is ended from here.
  int swept = 0;
  if ((r.timed_out || r.cancelled) && target.local_pids && r.pgid > 1) {
    swept = kill_agent_command_processes(r.pgid, target.container_id);
  }

  json::object usage{{"command_max_rss_kb", r.max_rss_kb}, {"command_cpu_ms", r.cpu_ms}};
  bool oom_killed = false;
  if (target.cgroup && before) {
    CgroupSample after = sample_cgroup(*target.cgroup);
    oom_killed = after.oom_kills > before->oom_kills;
    usage["max_rss_kb"] = static_cast<int64_t>(after.peak_bytes / 1024);
    usage["cpu_ms"] = static_cast<int64_t>((after.cpu_ns - std::min(after.cpu_ns, before->cpu_ns)) / 1000000);
    usage["source"] = "cgroup";
    usage["scope"] = peak_reset ? "container cgroup during this command (peak includes page cache)"
                                : "container cgroup; peak memory since the container started";
  } else {
    usage["max_rss_kb"] = r.max_rss_kb;
    usage["cpu_ms"] = r.cpu_ms;
    usage["source"] = "rusage";
    usage["scope"] = "the command and the descendants it waited for";
  }
  usage["oom_killed"] = oom_killed;

  json::object result{
      {"exit_code", r.exit_code ? json::value(*r.exit_code) : json::value(nullptr)},
      {"signal", r.signal ? json::value(*r.signal) : json::value(nullptr)},
      {"signal_name", r.signal ? json::value(isolation::signal_name(*r.signal)) : json::value(nullptr)},
      {"timed_out", r.timed_out},
      {"cancelled", r.cancelled},
      {"duration_ms", r.duration_ms},
      {"stdout_bytes", r.stdout_bytes},
      {"stderr_bytes", r.stderr_bytes},
      {"output_truncated", r.output_truncated},
      {"usage", std::move(usage)},
      {"exec_path", "agent"},
  };
  if (r.timed_out || r.cancelled) {
    result["stopped_by"] = "agent_process_group";
    if (swept > 0) result["session_members_killed"] = swept;
  }
  if (r.error) {
    result["exit_code"] = 127;
    result["error"] = *r.error;
  }
  return json::serialize(result);
}

}  // namespace isb::docker
