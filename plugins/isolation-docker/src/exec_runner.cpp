// exec_runner.cpp: see exec_runner.hpp.
#include "exec_runner.hpp"

#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "isolation-common/json_fields.hpp"
#include "isolation-common/signals.hpp"
#include "mux_decoder.hpp"

namespace isb::docker {

using isolation::as_int;
using isolation::parse_object;
using isolation::string_at;
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// How the runtime (runc via containerd) starts its message when a command cannot be started.
constexpr const char* kRuntimeExecFailed = "OCI runtime exec failed";

// How long one read waits before cancellation and the deadline are checked again.
constexpr std::chrono::milliseconds kPollInterval(20);

std::string short_id(const std::string& id) { return id.substr(0, 12); }

[[noreturn]] void container_error(const std::string& id, const EngineClient::Response& r,
                                  const std::string& what) {
  std::string msg = engine_message(r.body);
  if (r.status == 404) {
    throw sdk::Error(ISB_NOT_FOUND,
                     "container " + short_id(id) + " of this workspace no longer exists (" + msg +
                         "); it was removed outside the server: destroy and re-create the workspace");
  }
  if (r.status == 409) {
    throw sdk::Error(ISB_UNAVAILABLE, "container " + short_id(id) + " cannot run commands: " + msg +
                                          " (did the engine restart?); destroy and re-create the workspace");
  }
  throw sdk::Error(ISB_ERROR, what + " failed with engine status " + std::to_string(r.status) + ": " + msg);
}

//! Container-wide usage counters from the stats endpoint, for engines whose
//! cgroup is not readable from here.
struct StatsSample {
  uint64_t cpu_ns = 0;
  uint64_t peak_bytes = 0;
  bool ok = false;
};

StatsSample stats_sample(const EngineClient& engine, const std::string& id) {
  StatsSample s;
  auto r = engine.request("GET", "/containers/" + id + "/stats?stream=false&one-shot=true");
  if (r.status != 200) return s;
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return s;
  const json::value* cpu = v.as_object().if_contains("cpu_stats");
  const json::value* mem = v.as_object().if_contains("memory_stats");
  if (cpu && cpu->is_object()) {
    if (auto* u = cpu->as_object().if_contains("cpu_usage"); u && u->is_object()) {
      if (auto* t = u->as_object().if_contains("total_usage")) s.cpu_ns = as_int(*t).value_or(0);
    }
  }
  if (mem && mem->is_object()) {
    const json::object& m = mem->as_object();
    if (auto* p = m.if_contains("max_usage")) s.peak_bytes = as_int(*p).value_or(0);
    if (s.peak_bytes == 0) {
      if (auto* u = m.if_contains("usage")) s.peak_bytes = as_int(*u).value_or(0);
    }
  }
  s.ok = true;
  return s;
}

struct ExecState {
  bool running = false;
  std::optional<int64_t> exit_code;
  int64_t pid = 0;
};

ExecState inspect_exec(const EngineClient& engine, const std::string& exec_id) {
  auto r = engine.request("GET", "/exec/" + exec_id + "/json");
  if (r.status != 200) {
    throw sdk::Error(ISB_UNAVAILABLE, "inspecting exec " + short_id(exec_id) + " failed with engine status " +
                                          std::to_string(r.status) + ": " + engine_message(r.body));
  }
  json::object o = parse_object(r.body, ISB_UNAVAILABLE, "the engine's exec inspect answer");
  ExecState s;
  if (auto* v = o.if_contains("Running"); v && v->is_bool()) s.running = v->as_bool();
  if (auto* v = o.if_contains("ExitCode")) s.exit_code = as_int(*v);
  if (auto* v = o.if_contains("Pid")) s.pid = as_int(*v).value_or(0);
  return s;
}

}  // namespace

std::string run_exec(const EngineClient& engine, const ExecTarget& target, const ExecSpec& spec,
                     sdk::OutputSink& sink, int64_t kill_grace_ms) {
  const std::string& id = target.container_id;
  const auto started = Clock::now();

  json::array cmd;
  for (const auto& a : spec.argv) cmd.emplace_back(a);
  json::array env;
  for (const auto& [k, v] : spec.env) env.emplace_back(k + "=" + v);
  std::string cwd = kWorkspaceMount;
  if (spec.cwd != ".") cwd += "/" + spec.cwd;
  json::object create{{"AttachStdin", spec.stdin_data.has_value()},
                      {"AttachStdout", true},
                      {"AttachStderr", true},
                      {"Tty", false},
                      {"Cmd", std::move(cmd)},
                      {"Env", std::move(env)},
                      {"WorkingDir", cwd}};
  auto r = engine.request("POST", "/containers/" + id + "/exec", json::serialize(create));
  if (r.status != 201) container_error(id, r, "creating the exec");
  std::string exec_id = string_at(parse_object(r.body, ISB_ERROR, "the engine's exec create answer"), "Id");
  if (exec_id.empty()) throw sdk::Error(ISB_ERROR, "the engine's exec create answer has no Id: " + r.body);

  // Usage is measured on the container's cgroup around the command: the
  // engine has no per-exec accounting.
  std::optional<CgroupSample> cg_before;
  bool peak_reset = false;
  StatsSample stats_before;
  if (target.cgroup) {
    peak_reset = reset_cgroup_peak(*target.cgroup);
    cg_before = sample_cgroup(*target.cgroup);
  } else {
    stats_before = stats_sample(engine, id);
  }

  EngineClient::Response err;
  auto stream = engine.hijack("/exec/" + exec_id + "/start", R"({"Detach":false,"Tty":false})", &err);
  if (!stream) container_error(id, err, "starting the exec");
  if (spec.stdin_data) stream->start_stdin(*spec.stdin_data);

  const auto deadline = started + std::chrono::milliseconds(spec.timeout_ms);
  const auto cap = static_cast<uint64_t>(spec.max_output_bytes);
  uint64_t out_bytes = 0, err_bytes = 0;
  bool truncated = false;
  std::string first_output;  // the start of the output, to recognise the runtime's own errors
  MuxDecoder decoder;
  auto forward = [&](int stream_no, const char* p, size_t n) {
    uint64_t& count = stream_no == 2 ? err_bytes : out_bytes;
    uint64_t room = count < cap ? cap - count : 0;
    size_t send = static_cast<size_t>(std::min<uint64_t>(room, n));
    if (send < n) truncated = true;
    if (send > 0) sink.write(stream_no == 2 ? ISB_STREAM_STDERR : ISB_STREAM_STDOUT, p, send);
    if (first_output.size() < 512) first_output.append(p, std::min<size_t>(n, 512 - first_output.size()));
    count += n;
  };

  bool timed_out = false, cancelled = false, restarted = false, stream_abandoned = false;
  std::optional<Clock::time_point> killed_at;
  std::string stop_method;
  auto stop_everything = [&] {
    // Last resort: a restart ends every process of the container, including
    // those that left the command's session.
    auto rr = engine.request("POST", "/containers/" + id + "/restart?t=0");
    if (rr.status != 204) container_error(id, rr, "restarting the container to stop the command");
    restarted = true;
    stop_method = "container_restart";
  };
  auto stop_command = [&] {
    killed_at = Clock::now();
    if (target.local_pids) {
      ExecState st = inspect_exec(engine, exec_id);
      if (st.pid > 0 && kill_exec_processes(static_cast<pid_t>(st.pid), id) >= 0) {
        stop_method = "sigkill_session";
        return;
      }
    }
    stop_everything();
  };

  std::string chunk;
  for (;;) {
    auto now = Clock::now();
    if (!killed_at) {
      if (sink.cancelled()) {
        cancelled = true;
        stop_command();
      } else if (now >= deadline) {
        timed_out = true;
        stop_command();
      }
    } else if (now - *killed_at > std::chrono::milliseconds(kill_grace_ms)) {
      // Something outside the killed session still holds the output open.
      if (!restarted) {
        stop_everything();
        killed_at = Clock::now();
      } else {
        stream_abandoned = true;
        stream->close();
        break;
      }
    }
    chunk.clear();
    auto rr = stream->read_some(chunk, kPollInterval);
    if (!chunk.empty() && !decoder.feed(chunk.data(), chunk.size(), forward)) {
      throw sdk::Error(ISB_ERROR,
                       "the engine's exec stream is not multiplexed as expected for a non-TTY exec");
    }
    if (rr == RawStream::ReadResult::kEof) break;
  }
  stream.reset();

  // The engine marks the exec finished shortly after its stream ends.
  ExecState st = inspect_exec(engine, exec_id);
  for (int i = 0; i < 100 && st.running && !stream_abandoned; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    st = inspect_exec(engine, exec_id);
  }
  const auto ended = Clock::now();

  json::object usage;
  std::optional<int64_t> exit_code = st.exit_code;
  const int64_t reported_status = st.exit_code.value_or(-1);
  std::optional<int> signal;
  bool oom_killed = false;
  if (target.cgroup && cg_before) {
    CgroupSample after = sample_cgroup(*target.cgroup);
    usage["max_rss_kb"] = static_cast<int64_t>(after.peak_bytes / 1024);
    usage["cpu_ms"] =
        static_cast<int64_t>((after.cpu_ns - std::min(after.cpu_ns, cg_before->cpu_ns)) / 1000000);
    oom_killed = after.oom_kills > cg_before->oom_kills;
    usage["oom_killed"] = oom_killed;
    usage["source"] = "cgroup";
    usage["scope"] = peak_reset ? "container cgroup during this command (peak includes page cache)"
                                : "container cgroup; peak memory since the container started";
  } else {
    StatsSample after = stats_sample(engine, id);
    usage["max_rss_kb"] = static_cast<int64_t>(after.peak_bytes / 1024);
    usage["cpu_ms"] =
        static_cast<int64_t>((after.cpu_ns - std::min(after.cpu_ns, stats_before.cpu_ns)) / 1000000);
    usage["source"] = after.ok ? "engine stats" : "unavailable";
    usage["scope"] = "whole container";
  }

  // The engine reports a process ended by signal N as exit status 128+N, the
  // shell convention; it is read as a signal only when the server sent it or
  // the kernel's OOM killer did, since a program may also exit(137) itself.
  if (exit_code && *exit_code > 128 && *exit_code < 128 + 65 && (killed_at || oom_killed)) {
    signal = static_cast<int>(*exit_code - 128);
    exit_code.reset();
  } else if (killed_at && (!exit_code || *exit_code < 0)) {
    signal = SIGKILL;
    exit_code.reset();
  }

  json::object result{
      {"exit_code", exit_code ? json::value(*exit_code) : json::value(nullptr)},
      {"signal", signal ? json::value(*signal) : json::value(nullptr)},
      {"signal_name", signal ? json::value(isolation::signal_name(*signal)) : json::value(nullptr)},
      {"timed_out", timed_out},
      {"cancelled", cancelled},
      {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(ended - started).count()},
      {"stdout_bytes", static_cast<int64_t>(out_bytes)},
      {"stderr_bytes", static_cast<int64_t>(err_bytes)},
      {"output_truncated", truncated},
      {"usage", std::move(usage)},
      {"exec_id", exec_id},
  };
  if (!stop_method.empty()) result["stopped_by"] = stop_method;
  if (restarted) result["container_restarted"] = true;
  if (stream_abandoned) result["note"] = "processes outside the command's session held its output open";
  if (st.running && !stream_abandoned && !killed_at) {
    result["note"] = "the engine still reported the exec as running after its output ended";
  }
  // The runtime reports a command it could not start as exit status 126 with
  // its message as the only output; the result then says so as the process
  // backend does: 127 and "error".
  if (!killed_at && reported_status == 126 && first_output.rfind(kRuntimeExecFailed, 0) == 0) {
    std::string msg = first_output.substr(0, first_output.find_first_of("\r\n"));
    result["exit_code"] = 127;
    result["error"] = "exec failed: " + msg;
  }
  return json::serialize(result);
}

}  // namespace isb::docker
