// docker_bench.cpp: how fast the docker isolation plugin makes a workspace
// ready and runs a command, against the docker CLI run in the same process on
// the same engine and image (the reference the issue names):
//   * ready: plugin sandbox_create (container create + start through the
//     Engine API) vs `docker run --rm IMAGE true` (create, start, wait, remove);
//   * exec: plugin sandbox_exec of `true` through the in-container agent and
//     through the Engine API's exec endpoints vs `docker exec CONTAINER true`.
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
  // Two instances of the plugin: the default (commands through the
  // in-container agent) and one forced onto the engine's exec API.
  std::string instance = "isb-bench-" + std::to_string(::getpid());
  auto make = [&](const std::string& extra) {
    isb_instance* inst = nullptr;
    if (d->create(&host, ("{\"instance_id\":\"" + instance + "\"" + extra + "}").c_str(), &inst) != ISB_OK) {
      std::fprintf(stderr, "create: %s\n", d->last_error(nullptr));
      std::exit(2);
    }
    return inst;
  };
  isb_instance* agent = make("");
  isb_instance* exec_api = make(R"(,"exec_path":"exec_api")");
  std::string doc;
  isb_json_out out{sizeof(isb_json_out), &doc,
                   [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
  if (api->probe(agent, &out) != ISB_OK || !json::parse(doc).at("available").as_bool()) {
    return std::fprintf(stderr, "the Docker engine is not available: %s\n", doc.c_str()), 2;
  }
  std::string engine_version(json::parse(doc).at("engine").at("version").as_string());

  std::filesystem::path ws = std::filesystem::temp_directory_path() / instance;
  std::filesystem::create_directories(ws);
  std::string spec = "{\"workspace_id\":\"bench\",\"workspace_path\":\"" + ws.string() + "\",\"image\":\"" +
                     image + "\",\"resource_limits\":{\"memory_mb\":512,\"max_processes\":256}}";

  // Warm-up: one of each, so the image and the engine's caches are hot for all.
  run_cli("docker run --rm --network none " + image + " true");

  struct Created {
    std::vector<double> ready, destroy;
    std::string keep;  // the first sandbox, kept for the exec round trips
    std::string exec_path;
  };
  auto create_series = [&](isb_instance* inst) {
    Created c;
    for (int i = 0; i < creates; ++i) {
      c.ready.push_back(time_ms([&] {
        if (api->sandbox_create(inst, spec.c_str(), &out) != ISB_OK) {
          std::fprintf(stderr, "sandbox_create: %s\n", d->last_error(inst));
          std::exit(2);
        }
      }));
      json::object created = json::parse(doc).as_object();
      std::string id(created.at("sandbox_id").as_string());
      c.exec_path = std::string(created.at("exec_path").as_string());
      if (c.keep.empty()) {
        c.keep = id;
        continue;
      }
      c.destroy.push_back(time_ms([&] { api->sandbox_destroy(inst, id.c_str()); }));
    }
    return c;
  };
  Created with_agent = create_series(agent);
  Created with_exec_api = create_series(exec_api);
  if (with_agent.exec_path != "agent") {
    std::fprintf(stderr, "the default plugin instance did not get the agent path (%s)\n",
                 with_agent.exec_path.c_str());
    return 2;
  }
  // Warm pool of one: each create takes the ready container (waiting for the
  // replacement first, outside the timing).
  isb_instance* warm = make(",\"warm_pool\":1,\"warm_image\":\"" + image + "\"");
  std::string warm_spec = spec;
  std::vector<double> warm_ready;
  for (int i = 0; i < creates; ++i) {
    for (int w = 0; w < 600; ++w) {
      if (api->probe(warm, &out) == ISB_OK &&
          json::parse(doc).at("engine").at("warm_pool").at("ready").as_int64() > 0)
        break;
      ::usleep(50000);
    }
    double ms = time_ms([&] {
      if (api->sandbox_create(warm, warm_spec.c_str(), &out) != ISB_OK) {
        std::fprintf(stderr, "sandbox_create (warm): %s\n", d->last_error(warm));
        std::exit(2);
      }
    });
    json::object created = json::parse(doc).as_object();
    if (!created.contains("warm")) {
      std::fprintf(stderr, "the warm pool did not serve create %d\n", i);
      return 2;
    }
    warm_ready.push_back(ms);
    api->sandbox_destroy(warm, std::string(created.at("sandbox_id").as_string()).c_str());
  }
  d->destroy(warm);

  std::vector<double> cli_run;
  for (int i = 0; i < creates; ++i) {
    cli_run.push_back(time_ms([&] { run_cli("docker run --rm --network none " + image + " true"); }));
  }

  // Interleaved, so load changes on the shared machine hit all three alike.
  isb_output_sink sink{sizeof(isb_output_sink), nullptr, [](void*, int32_t, const char*, size_t) {}, nullptr};
  std::vector<double> agent_exec, api_exec, cli_exec;
  const char* exec_spec = R"({"argv":["true"],"timeout_ms":10000})";
  auto plugin_exec = [&](isb_instance* inst, const std::string& id) {
    return time_ms([&] {
      if (api->sandbox_exec(inst, id.c_str(), exec_spec, &sink, &out) != ISB_OK) {
        std::fprintf(stderr, "sandbox_exec: %s\n", d->last_error(inst));
        std::exit(2);
      }
    });
  };
  for (int i = 0; i < execs; ++i) {
    agent_exec.push_back(plugin_exec(agent, with_agent.keep));
    api_exec.push_back(plugin_exec(exec_api, with_exec_api.keep));
    cli_exec.push_back(time_ms([&] { run_cli("docker exec " + with_agent.keep + " true"); }));
  }
  api->sandbox_destroy(agent, with_agent.keep.c_str());
  api->sandbox_destroy(exec_api, with_exec_api.keep.c_str());
  std::string removed;
  isb_json_out rout{sizeof(isb_json_out), &removed,
                    [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
  api->reconcile(agent, "[]", &rout);
  d->destroy(agent);
  d->destroy(exec_api);
  std::filesystem::remove_all(ws);

  Stats ra = summarize(with_agent.ready), re = summarize(with_exec_api.ready), rc = summarize(cli_run);
  Stats ea = summarize(agent_exec), ee = summarize(api_exec), ec = summarize(cli_exec);
  std::printf("docker isolation benchmark: engine %s, image %s, %d creates, %d execs\n",
              engine_version.c_str(), image.c_str(), creates, execs);
  std::printf("workspace ready (create + start):\n");
  row("plugin sandbox_create, agent as PID 1", ra);
  row("plugin sandbox_create, exec API path", re);
  row("plugin sandbox_create from the warm pool", summarize(warm_ready));
  row("reference: docker run --rm IMAGE true", rc);
  std::printf("  ratio agent/reference (median): %.2f   exec API/reference: %.2f   warm/reference: %.3f\n",
              ra.median_ms / rc.median_ms, re.median_ms / rc.median_ms,
              summarize(warm_ready).median_ms / rc.median_ms);
  row("plugin sandbox_destroy (remove, force)", summarize(with_agent.destroy));
  std::printf("exec round trip of `true` in a running container:\n");
  row("plugin sandbox_exec through the agent", ea);
  row("plugin sandbox_exec through the Engine API", ee);
  row("reference: docker exec CONTAINER true", ec);
  std::printf("  ratio agent/reference (median): %.2f   exec API/reference: %.2f\n",
              ea.median_ms / ec.median_ms, ee.median_ms / ec.median_ms);
  std::printf("leftover containers of this run: %s\n", removed.c_str());
  return 0;
}
