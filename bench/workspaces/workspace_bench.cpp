// workspace_bench.cpp: how long create_workspace takes on a large tree, in
// copy and overlay mode, against `cp -a` of the same tree run in the same
// process (the reference: what a user would do by hand).
//
// The tree is generated: 50,000 files (default) of 200-4,000 bytes in 500
// directories. Every contender runs `rounds` times on a warm page cache (the
// reference first, so no contender gets a cache the others did not have);
// the median is reported. Workspace creation goes through WorkspaceService
// with the real process isolation plugin, so it includes the sandbox and the
// store row, not just the file work.
//
//   isb-bench-workspaces [files=50000] [rounds=3] [dir=/tmp]
#include <cstdlib>
#include <isb/core/plugin_host.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_service.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void generate(const std::string& root, int files) {
  std::string payload;
  for (int i = 0; i < 4000; ++i) payload += static_cast<char>('a' + (i * 7) % 26);
  for (int i = 0; i < files; ++i) {
    const std::string dir = root + "/pkg" + std::to_string(i / 100) + "/sub";
    if (i % 100 == 0) fs::create_directories(dir);
    std::ofstream(dir + "/file" + std::to_string(i) + ".txt") << payload.substr(0, 200 + (i * 37) % 3800);
  }
}

int run_cp(const std::string& from, const std::string& to) {
  pid_t pid = fork();
  if (pid == 0) {
    execlp("cp", "cp", "-a", from.c_str(), to.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const int files = argc > 1 ? std::atoi(argv[1]) : 50000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::string base = argc > 3 ? argv[3] : "/tmp";
  char tmpl[4096];
  std::snprintf(tmpl, sizeof tmpl, "%s/isb-bench-ws-XXXXXX", base.c_str());
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  // mkdtemp makes it 0700; the process backend's jail runs as another uid.
  ::chmod(tmpl, 0755);
  const std::string root = fs::canonical(tmpl).string();
  const std::string src = root + "/projects/tree";
  std::printf("generating %d files under %s ...\n", files, src.c_str());
  generate(src, files);

  isb::Config config;
  config.sandbox.base_dir = root + "/base";
  config.sandbox.allowed_source_roots = {root + "/projects"};
  config.sandbox.max_workspaces = 100;
  config.sandbox.auto_cleanup = false;
  config.security.level = isb::SecurityLevel::kLow;
  config.security.allow_degraded = true;
  auto store = isb::Store::open(config.state_dir() + "/sandbox.db");
  if (!store) {
    std::fprintf(stderr, "store: %s\n", store.error().message.c_str());
    return 1;
  }
  isb::PluginHost host;
  (void)host.load_directories({ISB_BENCH_PLUGIN_DIR});
  auto inst = host.create("process", ISB_KIND_ISOLATION, boost::json::object{});
  if (!inst) {
    std::fprintf(stderr, "process plugin: %s\n", inst.error().message.c_str());
    return 1;
  }
  isb::IsolationBackends backends;
  backends.add(isb::IsolationPlugin(*inst));
  backends.set_default("process", "");
  isb::WorkspaceService service(config, **store, backends);
  // The same, with disk_mb held by a disk image per workspace (root only).
  isb::Config image_config = config;
  image_config.sandbox.disk_images = true;
  config.sandbox.disk_images = false;
  isb::WorkspaceService image_service(image_config, **store, backends);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("load average before: %.2f %.2f %.2f\n", load[0], load[1], load[2]);

  std::vector<double> cp_times, copy_times, overlay_times, image_copy_times, image_overlay_times;
  std::string image_note;
  std::string overlay_note;
  std::map<std::string, std::string> ownership;  // mode -> how the sandbox user owns the files
  for (int r = 0; r < rounds; ++r) {
    const std::string dst = root + "/cp-" + std::to_string(r);
    auto t = Clock::now();
    if (run_cp(src, dst) != 0) {
      std::fprintf(stderr, "cp -a failed\n");
      return 1;
    }
    cp_times.push_back(seconds_since(t));
    fs::remove_all(dst);

    for (const std::string mode : {"copy", "overlay"}) {
      const std::string id = mode + "-" + std::to_string(r);
      t = Clock::now();
      auto w = service.create({.source_path = src, .workspace_id = id, .mode = mode});
      const double s = seconds_since(t);
      if (!w) {
        std::fprintf(stderr, "%s: %s\n", id.c_str(), w.error().message.c_str());
        return 1;
      }
      if (mode == "overlay" && w->at("mode").as_string() != "overlay") {
        overlay_note = std::string(w->at("mode_note").as_string());
      }
      if (r == 0) {
        const auto* own = w->at("isolation").as_object().if_contains("workspace_ownership");
        ownership[mode] = own && own->is_string() ? std::string(own->as_string()) : "(not reported)";
      }
      (mode == "copy" ? copy_times : overlay_times).push_back(s);
      (void)service.destroy(id);

      // Interleaved: the same mode on a disk image of disk_mb (5120 MB).
      const std::string image_id = mode + "-image-" + std::to_string(r);
      t = Clock::now();
      auto wi = image_service.create({.source_path = src, .workspace_id = image_id, .mode = mode});
      const double si = seconds_since(t);
      if (!wi) {
        std::fprintf(stderr, "%s: %s\n", image_id.c_str(), wi.error().message.c_str());
        return 1;
      }
      if (image_note.empty()) {
        image_note = std::string(wi->at("isolation").at("disk_limit").at("enforced_by").as_string());
      }
      (mode == "copy" ? image_copy_times : image_overlay_times).push_back(si);
      (void)image_service.destroy(image_id);
    }
  }
  const double cp = median(cp_times), copy = median(copy_times), overlay = median(overlay_times);
  std::printf("\nworkspace creation from %d files (median of %d rounds, warm cache)\n", files, rounds);
  std::printf("  %-34s %10.1f ms   1.00x (reference)\n", "cp -a", cp * 1000);
  std::printf("  %-34s %10.1f ms   %.2fx of cp -a\n", "create_workspace mode=copy", copy * 1000, copy / cp);
  std::printf("  %-34s %10.1f ms   %.3fx of cp -a\n", "create_workspace mode=overlay", overlay * 1000, overlay / cp);
  std::printf("  %-34s %10.1f ms   %.2fx of cp -a\n", "  the same on a disk image", median(image_copy_times) * 1000,
              median(image_copy_times) / cp);
  std::printf("  %-34s %10.1f ms   %.3fx of cp -a\n", "  the same on a disk image", median(image_overlay_times) * 1000,
              median(image_overlay_times) / cp);
  std::printf("  disk_mb on the second rows enforced by: %s\n", image_note.c_str());
  for (const auto& [m, how] : ownership) std::printf("  %s: workspace ownership %s\n", m.c_str(), how.c_str());
  if (!overlay_note.empty()) std::printf("  note: overlay fell back to copy: %s\n", overlay_note.c_str());
  service.release_sandboxes();
  image_service.release_sandboxes();
  fs::remove_all(root);
  return 0;
}
