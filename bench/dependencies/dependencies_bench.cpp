// dependencies_bench.cpp: the cost of the dependencies analyzer in a cold
// analysis, against the reference that dominates analyze_codebase today: the
// languages analyzer (the contender of bench/analysis) on the same tree, run
// in the same process. The service runs analyzers concurrently, so what the
// dependencies pass adds is its own CPU time; the target is at most ~10% of
// the languages analyzer's.
//
//   isb-bench-dependencies /tmp/x/usr-include /tmp/x/python-stdlib /tmp/x/fixtures-x40
//   scripts: bench/dependencies/run.sh copies the trees and runs this.
//
// Each analyzer runs in a forked child (so its peak RSS is its own), three
// times; the run with the least CPU time of the analyze call is reported. The
// page cache is warmed by one untimed languages run first.
#include "common/child_run.hpp"
#include <dlfcn.h>
#include <fcntl.h>
#include <isb/plugin_abi.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace json = boost::json;

namespace {

using isb::bench::in_child;
using isb::bench::Run;

double cpu_seconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Loads libisb-analyzer-<id>.so, analyzes root, writes the facts to stdout.
int run_analyzer(const std::string& id, const std::string& root) {
  const std::string path = std::string(ISB_BENCH_PLUGIN_DIR) + "/libisb-analyzer-" + id + ".so";
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return std::fprintf(stderr, "dlopen %s: %s\n", path.c_str(), dlerror()), 2;
  auto get = reinterpret_cast<isb_plugin_get_fn>(dlsym(h, ISB_PLUGIN_ENTRY_SYMBOL));
  const isb_plugin_descriptor* desc = get();
  isb_host_api host{};
  host.struct_size = sizeof(isb_host_api);
  host.abi_major = ISB_ABI_MAJOR;
  host.abi_minor = ISB_ABI_MINOR;
  host.log = [](void*, int32_t, const char*) {};
  host.host_info_json = "{\"name\":\"bench\",\"version\":\"0\",\"abi\":\"1.2\"}";
  isb_instance* inst = nullptr;
  if (desc->create(&host, "{}", &inst) != ISB_OK)
    return std::fprintf(stderr, "create %s: %s\n", id.c_str(), desc->last_error(nullptr)), 2;
  std::string doc;
  isb_json_out out{sizeof(isb_json_out), &doc,
                   [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
  auto* api = static_cast<const isb_analyzer_api*>(desc->kind_api);
  // Only the analyze call is timed: the server loads its plugins once, so
  // fork, dlopen and relocations are not part of an analysis. The root is
  // opened as the server opens a workspace: once, as a directory fd.
  const int root_fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return std::fprintf(stderr, "open %s: %s\n", root.c_str(), std::strerror(errno)), 2;
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  if (api->analyze_tree(inst, root_fd, "{\"include_dependencies\":true}", &out) != ISB_OK)
    return std::fprintf(stderr, "analyze %s: %s\n", id.c_str(), desc->last_error(inst)), 2;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%.6f %.6f\n", wall, cpu_seconds() - cpu0);
  std::fwrite(doc.data(), 1, doc.size(), stdout);
  return 0;
}

Run best_of_three(const std::string& id, const std::string& root) {
  Run best;
  for (int i = 0; i < 3; ++i) {
    Run r = in_child([&] { return run_analyzer(id, root); });
    if (r.status != 0) std::fprintf(stderr, "%s failed on %s\n", id.c_str(), root.c_str()), std::exit(1);
    // The child's first line: the analyze call's own wall and CPU seconds.
    const size_t nl = r.output.find('\n');
    std::sscanf(r.output.c_str(), "%lf %lf", &r.seconds, &r.cpu_seconds);
    r.output.erase(0, nl + 1);
    if (i == 0 || r.cpu_seconds < best.cpu_seconds) best = std::move(r);
  }
  return best;
}

void report(const std::string& root) {
  in_child([&] { return run_analyzer("languages", root); });  // warms the page cache
  const Run lang = best_of_three("languages", root);
  const Run deps = best_of_three("dependencies", root);
  const json::object doc = json::parse(deps.output).as_object();
  size_t projects = doc.at("dependency_projects").as_array().size();
  size_t dependencies = doc.at("dependencies").as_array().size();
  std::printf("\n== %s\n", root.c_str());
  std::printf("  %-34s %8s %8s %9s\n", "contender", "wall s", "cpu s", "peak MB");
  std::printf("  %-34s %8.3f %8.3f %9.1f\n", "languages analyzer (reference)", lang.seconds, lang.cpu_seconds,
              static_cast<double>(lang.peak_rss_kb) / 1024.0);
  std::printf("  %-34s %8.3f %8.3f %9.1f\n", "dependencies analyzer", deps.seconds, deps.cpu_seconds,
              static_cast<double>(deps.peak_rss_kb) / 1024.0);
  std::printf("  dependencies found: %zu in %zu projects\n", dependencies, projects);
  std::printf("  dependencies / languages: %.1f%% of the CPU time, %.1f%% of the wall time (target: <= ~10%%)\n",
              100.0 * deps.cpu_seconds / std::max(lang.cpu_seconds, 1e-9),
              100.0 * deps.seconds / std::max(lang.seconds, 1e-9));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TREE...   (bench/dependencies/run.sh prepares the trees)\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) report(argv[i]);
  return 0;
}
