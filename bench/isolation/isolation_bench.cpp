// isolation_bench: runs /bin/true N times (a) through the process backend's
// jail (sandbox_exec across the C ABI, cgroups and seccomp on), (b) with plain
// posix_spawn + waitpid (the floor), (c) with
// `bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc /bin/true` (the
// reference), interleaved round by round so load changes hit all three alike;
// then times workspace create and destroy. Prints median, p90 and p99 of each and
// the ratios jail/bwrap and jail/fork+exec, with the load average before and
// after (other work on the machine shows there).
//
// Run as root it measures the root jail; run as an ordinary user, the
// rootless one (and bwrap as that same user, in its own user namespace):
//
//   isb-bench-isolation [--runs 500] [--workspaces 50] [--plugin-dir DIR]
//   tests/isolation/as_test_user.sh build/bin/isb-bench-isolation
//
// --plugin-dir loads the backend (and its isb-supervisor) from DIR instead of
// the build's, e.g. a copy of an earlier build to compare before and after.
#include <dlfcn.h>
#include <isb/plugin_abi.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Stats {
  double median, p90, p99;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  return {at(0.5), at(0.9), at(0.99)};
}

//! posix_spawn + waitpid of argv; returns false when it did not exit 0.
bool spawn_wait(const std::vector<const char*>& argv) {
  pid_t pid;
  std::vector<char*> a;
  for (const char* s : argv) a.push_back(const_cast<char*>(s));
  a.push_back(nullptr);
  if (posix_spawn(&pid, a[0], nullptr, nullptr, a.data(), environ) != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

//! "1.05 0.98 0.77" (1, 5 and 15 minutes).
std::string load_average() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "isb-bench-isolation: %s\n", m.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 500, workspaces = 50;
  std::string plugin_dir = ISB_BENCH_PLUGIN_DIR;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) die(std::string("option ") + argv[i] + " needs a value");
    if (!std::strcmp(argv[i], "--runs"))
      runs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--workspaces"))
      workspaces = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--plugin-dir"))
      plugin_dir = argv[i + 1];
    else
      die(std::string("unknown option ") + argv[i] + " (known: --runs N, --workspaces N, --plugin-dir DIR)");
  }
  if (runs < 10 || workspaces < 1) die("--runs must be >= 10 and --workspaces >= 1");
  const std::string load_before = load_average();

  std::string lib = plugin_dir + "/libisb-isolation-process.so";
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) die(std::string("dlopen: ") + dlerror());
  auto get = reinterpret_cast<isb_plugin_get_fn>(dlsym(h, ISB_PLUGIN_ENTRY_SYMBOL));
  const isb_plugin_descriptor* d = get();
  auto* api = static_cast<const isb_isolation_api*>(d->kind_api);
  isb_host_api host{sizeof(isb_host_api),
                    ISB_ABI_MAJOR,
                    ISB_ABI_MINOR,
                    nullptr,
                    nullptr,
                    nullptr,
                    nullptr,
                    "{}",
                    nullptr,
                    nullptr};
  isb_instance* inst = nullptr;
  if (d->create(&host, R"({"sandbox_uid_base": 310000, "cgroup_parent": "isb-bench"})", &inst) != ISB_OK) {
    die(std::string("create: ") + d->last_error(nullptr));
  }
  std::string doc;
  isb_json_out out{sizeof(isb_json_out), &doc,
                   [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
  api->probe(inst, &out);
  boost::json::value probe = boost::json::parse(doc);
  if (probe.at("isolation") != "jail") die("the backend cannot build its jail here: " + doc);
  std::string enforced;
  for (const auto& p : probe.at("protections").as_array()) {
    if (p.at("enforced").as_bool()) enforced += std::string(p.at("name").as_string()) + " ";
  }

  auto dir = [] {
    char t[] = "/tmp/isb-bench-XXXXXX";
    if (!mkdtemp(t)) die("mkdtemp failed");
    return std::string(t);
  };
  std::string ws = dir();
  std::string spec = R"({"workspace_id":"bench","workspace_path":")" + ws +
                     R"(","resource_limits":{"memory_mb":512,"max_processes":64,"cpu_cores":1}})";
  if (api->sandbox_create(inst, spec.c_str(), &out) != ISB_OK)
    die(std::string("sandbox_create: ") + d->last_error(inst));
  isb_output_sink sink{sizeof(isb_output_sink), nullptr, nullptr, nullptr};

  bool have_bwrap = access("/usr/bin/bwrap", X_OK) == 0;
  std::vector<const char*> bwrap{"/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/",     "/",
                                 "--dev",          "/dev",          "--proc",    "/proc", "/bin/true"};
  std::vector<double> jail, fork_exec, bw;
  for (int i = 0; i < runs; ++i) {
    auto t = Clock::now();
    if (api->sandbox_exec(inst, "bench", R"({"argv":["/bin/true"]})", &sink, &out) != ISB_OK) {
      die(std::string("sandbox_exec: ") + d->last_error(inst));
    }
    jail.push_back(ms_since(t));
    t = Clock::now();
    if (!spawn_wait({"/bin/true"})) die("/bin/true failed");
    fork_exec.push_back(ms_since(t));
    if (have_bwrap) {
      t = Clock::now();
      if (!spawn_wait(bwrap)) die("bwrap failed (is unprivileged or root bubblewrap usable here?)");
      bw.push_back(ms_since(t));
    }
  }
  api->sandbox_destroy(inst, "bench");
  std::filesystem::remove_all(ws);

  std::vector<double> creates, destroys;
  for (int i = 0; i < workspaces; ++i) {
    std::string w = dir();
    std::string s = R"({"workspace_id":"cd","workspace_path":")" + w +
                    R"(","resource_limits":{"memory_mb":512,"max_processes":64,"cpu_cores":1}})";
    auto t = Clock::now();
    if (api->sandbox_create(inst, s.c_str(), &out) != ISB_OK)
      die(std::string("sandbox_create: ") + d->last_error(inst));
    creates.push_back(ms_since(t));
    t = Clock::now();
    api->sandbox_destroy(inst, "cd");
    destroys.push_back(ms_since(t));
    std::filesystem::remove_all(w);
  }
  d->destroy(inst);

  Stats j = stats(jail), f = stats(fork_exec);
  const bool root = geteuid() == 0;
  std::printf("process backend jail (%s, uid %u), enforced: %s\n", root ? "root" : "rootless",
              static_cast<unsigned>(geteuid()), enforced.c_str());
  std::printf("plugin: %s\nload average before: %s, after: %s\n", lib.c_str(), load_before.c_str(),
              load_average().c_str());
  std::printf("runs of /bin/true: %d (interleaved)\n\n", runs);
  std::printf("%-34s %10s %10s %10s\n", "", "median ms", "p90 ms", "p99 ms");
  std::printf("%-34s %10.3f %10.3f %10.3f\n", "jail (sandbox_exec)", j.median, j.p90, j.p99);
  std::printf("%-34s %10.3f %10.3f %10.3f\n", "plain fork+exec (posix_spawn)", f.median, f.p90, f.p99);
  if (have_bwrap) {
    Stats b = stats(bw);
    std::printf("%-34s %10.3f %10.3f %10.3f\n",
                root ? "bwrap --unshare-all" : "bwrap --unshare-all (same user)", b.median, b.p90, b.p99);
    std::printf("\nratio jail/bwrap (median): %.2f   (p99): %.2f\n", j.median / b.median, j.p99 / b.p99);
  } else {
    std::printf("\nbwrap not installed (apt-get install bubblewrap): no reference ratio\n");
  }
  std::printf("ratio jail/fork+exec (median): %.2f\n", j.median / f.median);
  Stats c = stats(creates), x = stats(destroys);
  const bool cgroups = enforced.find("cgroup_memory") != std::string::npos;
  std::printf("\nworkspaces: %d\n%-34s %10.3f %10.3f %10.3f\n%-34s %10.3f %10.3f %10.3f\n", workspaces,
              cgroups ? "workspace create (jail + cgroups)" : "workspace create (jail)", c.median, c.p90,
              c.p99, "workspace destroy", x.median, x.p90, x.p99);
  return 0;
}
