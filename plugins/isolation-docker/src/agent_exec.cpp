// agent_exec.cpp: see agent_exec.hpp.
#include "isolation-common/signals.hpp"
#include "agent_exec.hpp"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>
#include <thread>

#include "jail_client.hpp"  // from the process backend (isb-jail-client)

namespace isb::docker {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

//! One connection attempt; -1 with errno set on failure.
int try_connect(const std::string& path) {
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  // Keep it above 2 like every other fd the process client handles.
  return process::raise_fd(fd, 3);
}


}  // namespace

std::string agent_socket_path(pid_t init_pid) {
  return "/proc/" + std::to_string(init_pid) + "/root" + kAgentRunDir + "/agent.sock";
}

void connect_agent(AgentChannel& ch, std::chrono::milliseconds wait) {
  std::lock_guard<std::mutex> lock(ch.send_mu);
  if (ch.control.get() >= 0) return;
  const auto deadline = Clock::now() + wait;
  for (;;) {
    int fd = try_connect(ch.socket_path);
    if (fd >= 0) {
      ch.control = process::Fd(fd);
      return;
    }
    int e = errno;
    // ENOENT/ECONNREFUSED: the agent has not bound or listened yet, unless
    // the container's init is gone altogether.
    bool init_gone = ::access(ch.socket_path.substr(0, ch.socket_path.find("/root/")).c_str(), F_OK) != 0;
    if ((e != ENOENT && e != ECONNREFUSED) || init_gone || Clock::now() >= deadline) {
      throw sdk::Error(ISB_UNAVAILABLE,
                       "cannot connect to the in-container agent at " + ch.socket_path + ": " + strerror(e));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string run_agent_exec(const ExecTarget& target, const ExecSpec& spec, const sdk::OutputSink& sink,
                           int64_t kill_grace_ms, AgentFailure* failure, std::string* detail) {
  *failure = AgentFailure::kNone;
  AgentChannel& ch = *target.agent;
  {
    std::lock_guard<std::mutex> lock(ch.send_mu);
    if (ch.control.get() < 0) {
      *failure = AgentFailure::kNotConnected;
      *detail = "not connected to the in-container agent";
      return "";
    }
  }

  process::JailRunRequest req;
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
  req.kill_grace_ms = kill_grace_ms;
  req.stdin_data = spec.stdin_data;

  // Usage is the container cgroup's, as on the exec API path, so both paths
  // report the same thing; the command's own rusage is added beside it.
  std::optional<CgroupSample> before;
  bool peak_reset = false;
  if (target.cgroup) {
    peak_reset = reset_cgroup_peak(*target.cgroup);
    before = sample_cgroup(*target.cgroup);
  }

  process::RunResult r;
  try {
    r = process::run_in_jail(ch.control, ch.send_mu, req, sink);
  } catch (const sdk::Error& e) {
    if (e.status() != ISB_UNAVAILABLE) throw;
    // The request never reached the agent: the connection is dead.
    std::lock_guard<std::mutex> lock(ch.send_mu);
    ch.control.reset();
    *failure = AgentFailure::kLostBeforeStart;
    *detail = e.what();
    return "";
  }
  if (r.supervisor_lost) {
    std::lock_guard<std::mutex> lock(ch.send_mu);
    ch.control.reset();
    *failure = AgentFailure::kLostDuringRun;
    *detail = r.error.value_or("the in-container agent went away while the command ran");
    return "";
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
