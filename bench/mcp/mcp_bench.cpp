// mcp_bench.cpp: MCP over stdio, this server against the reference TypeScript
// server (@modelcontextprotocol/server-everything), with one raw line-based
// client for both, in the same run:
//   - pipelined tools/call throughput: 64 requests in flight, a trivial
//     read-only tool (ours: list_workspaces; reference: echo);
//   - sequential tools/call latency p50/p99 (one request at a time);
//   - peak RSS of each server process (VmHWM) after the load;
// then, through the node scripts beside this file:
//   - sdk_latency.mjs: sequential latency p50/p99 with the official SDK client;
//   - http_load.mjs: Streamable HTTP, 64 concurrent sessions for 10 s, calls/s
//     and errors (must be zero).
//
//   build-x/bin/isb-bench-mcp [calls=5000] [http_seconds=10]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  int in = -1;   // our end of its stdin
  int out = -1;  // our end of its stdout
  std::string buffer;
};

Child spawn(const std::vector<std::string>& argv, const std::string& base_dir) {
  int to[2], from[2];
  if (pipe(to) != 0 || pipe(from) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    setenv("SANDBOX_BASE_DIR", base_dir.c_str(), 1);
    setenv("SANDBOX_SECURITY_AUDIT_LOGGING", "false", 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  return {pid, to[1], from[0], {}};
}

void send_line(Child& c, const std::string& line) {
  std::string l = line + "\n";
  const char* p = l.data();
  size_t left = l.size();
  while (left) {
    ssize_t w = write(c.in, p, left);
    if (w <= 0) std::abort();
    p += w;
    left -= static_cast<size_t>(w);
  }
}

// Next line that is a response (has "id" and no "method").
boost::json::object read_response(Child& c) {
  for (;;) {
    size_t nl;
    while ((nl = c.buffer.find('\n')) == std::string::npos) {
      char buf[65536];
      ssize_t n = read(c.out, buf, sizeof buf);
      if (n <= 0) {
        std::fprintf(stderr, "server closed its stdout\n");
        std::exit(1);
      }
      c.buffer.append(buf, static_cast<size_t>(n));
    }
    std::string line = c.buffer.substr(0, nl);
    c.buffer.erase(0, nl + 1);
    auto v = boost::json::parse(line).as_object();
    if (v.contains("id") && !v.contains("method")) return v;
  }
}

std::string call(int id, const std::string& tool, const std::string& args) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"tools/call","params":{"name":")" +
         tool + R"(","arguments":)" + args + "}}";
}

long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

struct Figures {
  double calls_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  long peak_rss_kib = 0;
  int errors = 0;
};

Figures measure(const char* name, const std::vector<std::string>& argv, const std::string& tool,
                const std::string& args, int calls) {
  auto base = std::filesystem::temp_directory_path() / ("isb-bench-mcp-" + std::to_string(getpid()));
  Child c = spawn(argv, base.string());
  send_line(c, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
               R"("capabilities":{},"clientInfo":{"name":"bench","version":"1"}}})");
  read_response(c);
  send_line(c, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  Figures f;
  // Warm-up, then pipelined: keep 64 requests in flight.
  for (int i = 1; i <= 100; ++i) send_line(c, call(i, tool, args)), read_response(c);
  constexpr int kInFlight = 64;
  int sent = 0, done = 0, next_id = 1000;
  auto t0 = Clock::now();
  while (done < calls) {
    while (sent < calls && sent - done < kInFlight) send_line(c, call(next_id++, tool, args)), ++sent;
    auto r = read_response(c);
    const boost::json::value* result = r.if_contains("result");
    const boost::json::value* is_error =
        result && result->is_object() ? result->as_object().if_contains("isError") : nullptr;
    if (!result || (is_error && is_error->is_bool() && is_error->as_bool())) ++f.errors;
    ++done;
  }
  f.calls_per_s = calls / std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> lat;
  for (int i = 0; i < 1000; ++i) {
    auto s = Clock::now();
    send_line(c, call(next_id++, tool, args));
    read_response(c);
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
  }
  std::sort(lat.begin(), lat.end());
  f.p50_ms = lat[lat.size() / 2];
  f.p99_ms = lat[lat.size() * 99 / 100];
  f.peak_rss_kib = peak_rss_kib(c.pid);
  close(c.in);
  kill(c.pid, SIGTERM);
  waitpid(c.pid, nullptr, 0);
  close(c.out);
  std::filesystem::remove_all(base);
  std::printf("%-28s %10.0f calls/s  p50 %7.3f ms  p99 %7.3f ms  peak RSS %7.1f MiB  errors %d\n", name,
              f.calls_per_s, f.p50_ms, f.p99_ms, f.peak_rss_kib / 1024.0, f.errors);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int calls = argc > 1 ? std::atoi(argv[1]) : 5000;
  int http_seconds = argc > 2 ? std::atoi(argv[2]) : 10;
  if (calls < 100 || http_seconds < 1 || http_seconds > 120) {
    std::fprintf(stderr, "usage: isb-bench-mcp [calls >= 100] [http_seconds 1-120]\n");
    return 2;
  }
  if (!std::filesystem::exists(ISB_BENCH_REFERENCE)) {
    std::fprintf(stderr, "reference server missing: %s (cd tests && npm install)\n", ISB_BENCH_REFERENCE);
    return 1;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("MCP stdio, %d pipelined tools/call (64 in flight), then 1000 sequential\n", calls);
  Figures ours = measure("intelligent-sandbox", {ISB_BENCH_SERVER, "serve"}, "list_workspaces", "{}", calls);
  Figures ref = measure("server-everything (echo)", {"node", ISB_BENCH_REFERENCE, "stdio"}, "echo",
                        R"({"message":"hi"})", calls);
  std::printf("ratio: throughput x%.2f, p50 x%.2f, peak RSS x%.2f (ours / reference; target >= 3, <= 0.2)\n",
              ours.calls_per_s / ref.calls_per_s, ours.p50_ms / ref.p50_ms,
              static_cast<double>(ours.peak_rss_kib) / static_cast<double>(ref.peak_rss_kib));
  std::fflush(stdout);
  const std::string scripts = ISB_BENCH_SCRIPTS;
  const std::string servers = std::string(" '") + ISB_BENCH_SERVER + "' '" + ISB_BENCH_REFERENCE + "'";
  int sdk = std::system(("node '" + scripts + "/sdk_latency.mjs'" + servers + " 1000").c_str());
  int http = std::system(
      ("node '" + scripts + "/http_load.mjs'" + servers + " " + std::to_string(http_seconds) + " 64")
          .c_str());
  return ours.errors || ref.errors || sdk != 0 || http != 0 ? 1 : 0;
}
