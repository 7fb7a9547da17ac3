// docker_bench.cpp: how fast the docker isolation plugin makes a workspace
// ready and runs a command, against the docker CLI run in the same process on
// the same engine and image (the reference the issue names):
//   * ready: plugin sandbox_create (container create + start through the
//     Engine API) vs `docker run --rm IMAGE true` (create, start, wait, remove);
//   * exec: plugin sandbox_exec of `true` vs `docker exec CONTAINER true`, both
//     into the same running container.
// The engine must be running (scripts/start-dockerd.sh) and the image present
// (scripts/build-test-image.sh).
//
//   isb-bench-docker [--image isb-test:latest] [--execs 30] [--creates 8]
#include <dlfcn.h>
#include <isb/plugin_abi.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace json = boost::json;

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median_ms = 0, p90_ms = 0, min_ms = 0;
};

Stats summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Stats s;
  s.min_ms = v.front();
  s.median_ms = v[v.size() / 2];
  s.p90_ms = v[std::min(v.size() - 1, v.size() * 9 / 10)];
  return s;
}

double time_ms(const std::function<void()>& fn) {
  auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void run_cli(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  if (rc != 0) {
    std::fprintf(stderr, "reference command failed (%d): %s\n", rc, cmd.c_str());
    std::exit(2);
  }
}

void row(const char* what, const Stats& s) {
  std::printf("  %-44s median %8.1f ms   p90 %8.1f ms   min %8.1f ms\n", what, s.median_ms, s.p90_ms,
              s.min_ms);
}

}  // namespace

int main(int argc, char** argv) {
  std::string image = "isb-test:latest";
  int execs = 30, creates = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--image"))
      image = argv[i + 1];
    else if (!std::strcmp(argv[i], "--execs"))
      execs = std::max(3, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--creates"))
      creates = std::max(3, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: %s [--image REF] [--execs N] [--creates N]\n", argv[0]);
      return 2;
    }
  }

  std::string lib = std::string(ISB_BENCH_PLUGIN_DIR) + "/libisb-isolation-docker.so";
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return std::fprintf(stderr, "dlopen %s: %s\n", lib.c_str(), dlerror()), 2;
  auto get = reinterpret_cast<isb_plugin_get_fn>(dlsym(h, ISB_PLUGIN_ENTRY_SYMBOL));
  const isb_plugin_descriptor* d = get();
  const auto* api = static_cast<const isb_isolation_api*>(d->kind_api);
  isb_host_api host{};
  host.struct_size = sizeof host;
  host.abi_major = ISB_ABI_MAJOR;
  host.abi_minor = ISB_ABI_MINOR;
  host.log = [](void*, int32_t, const char*) {};
  host.host_info_json = R"({"name":"bench","version":"0","abi":"1.0"})";
  isb_instance* inst = nullptr;
  std::string instance = "isb-bench-" + std::to_string(::getpid());
  if (d->create(&host, ("{\"instance_id\":\"" + instance + "\"}").c_str(), &inst) != ISB_OK) {
    return std::fprintf(stderr, "create: %s\n", d->last_error(nullptr)), 2;
  }
  std::string doc;
  isb_json_out out{sizeof(isb_json_out), &doc,
                   [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
  if (api->probe(inst, &out) != ISB_OK || !json::parse(doc).at("available").as_bool()) {
    return std::fprintf(stderr, "the Docker engine is not available: %s\n", doc.c_str()), 2;
  }
  std::string engine_version(json::parse(doc).at("engine").at("version").as_string());

  std::filesystem::path ws = std::filesystem::temp_directory_path() / instance;
  std::filesystem::create_directories(ws);
  std::string spec = "{\"workspace_id\":\"bench\",\"workspace_path\":\"" + ws.string() + "\",\"image\":\"" +
                     image + "\",\"resource_limits\":{\"memory_mb\":512,\"max_processes\":256}}";

  // Warm-up: one of each, so the image and the engine's caches are hot for all.
  run_cli("docker run --rm --network none " + image + " true");

  std::vector<double> ready, destroy, cli_run;
  std::string keep;
  for (int i = 0; i < creates; ++i) {
    ready.push_back(time_ms([&] {
      if (api->sandbox_create(inst, spec.c_str(), &out) != ISB_OK) {
        std::fprintf(stderr, "sandbox_create: %s\n", d->last_error(inst));
        std::exit(2);
      }
    }));
    std::string id(json::parse(doc).at("sandbox_id").as_string());
    if (keep.empty()) {
      keep = id;
      continue;
    }
    destroy.push_back(time_ms([&] { api->sandbox_destroy(inst, id.c_str()); }));
  }
  for (int i = 0; i < creates; ++i) {
    cli_run.push_back(time_ms([&] { run_cli("docker run --rm --network none " + image + " true"); }));
  }

  isb_output_sink sink{sizeof(isb_output_sink), nullptr, [](void*, int32_t, const char*, size_t) {}, nullptr};
  std::vector<double> plugin_exec, cli_exec;
  const char* exec_spec = R"({"argv":["true"],"timeout_ms":10000})";
  for (int i = 0; i < execs; ++i) {
    plugin_exec.push_back(time_ms([&] {
      if (api->sandbox_exec(inst, keep.c_str(), exec_spec, &sink, &out) != ISB_OK) {
        std::fprintf(stderr, "sandbox_exec: %s\n", d->last_error(inst));
        std::exit(2);
      }
    }));
    cli_exec.push_back(time_ms([&] { run_cli("docker exec " + keep + " true"); }));
  }
  api->sandbox_destroy(inst, keep.c_str());
  std::string removed;
  isb_json_out rout{sizeof(isb_json_out), &removed,
                    [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
  api->reconcile(inst, "[]", &rout);
  d->destroy(inst);
  std::filesystem::remove_all(ws);

  Stats r = summarize(ready), rc = summarize(cli_run), e = summarize(plugin_exec), ec = summarize(cli_exec);
  std::printf("docker isolation benchmark: engine %s, image %s, %d creates, %d execs\n",
              engine_version.c_str(), image.c_str(), creates, execs);
  std::printf("workspace ready (create + start):\n");
  row("plugin sandbox_create", r);
  row("reference: docker run --rm IMAGE true", rc);
  std::printf("  ratio plugin/reference (median): %.2f\n", r.median_ms / rc.median_ms);
  row("plugin sandbox_destroy (remove, force)", summarize(destroy));
  std::printf("exec round trip of `true` in a running container:\n");
  row("plugin sandbox_exec (Engine API exec)", e);
  row("reference: docker exec CONTAINER true", ec);
  std::printf("  ratio plugin/reference (median): %.2f\n", e.median_ms / ec.median_ms);
  std::printf("leftover containers of this run: %s\n", removed.c_str());
  return 0;
}
