// analysis_bench.cpp: how fast and how accurate the languages analyzer is on
// real trees, against two references run in the same process:
//   * cloc (Debian package), the accuracy and speed reference for counting;
//   * a bare walk-and-read (every regular file opened and read once, one
//     thread), the floor any analysis that reads every file must pay.
// Each contender runs in a forked child so that its peak RSS is its own.
// The bare walk runs first, so every contender sees the same warm page cache.
//
//   isb-bench-analysis /tmp/bench/usr-include /tmp/bench/python3.11
//   scripts: bench/analysis/run.sh copies the trees and runs this.
//
// Memory mode: `isb-bench-analysis --million-files DIR [--files N]` creates N
// (default 1,000,000) empty files in directories of 1,000 under DIR (which
// must not exist), runs the bare walk-and-read, the languages analyzer and the
// codebase analyzer on it, prints wall time and peak RSS of each, and removes
// DIR again. Target: the analyzers finish with peak RSS under 200 MB.
#include "common/child_run.hpp"
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <isb/plugin_abi.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace json = boost::json;

namespace {

using isb::bench::in_child;
using isb::bench::Run;

// Bare walk-and-read: readdir recursion, no symlinks, read() into one buffer.
std::uint64_t walk_and_read(const std::string& dir, std::vector<char>& buf, std::uint64_t& files) {
  std::uint64_t bytes = 0;
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    std::string p = dir + "/" + e->d_name;
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      bytes += walk_and_read(p, buf, files);
    } else if (S_ISREG(st.st_mode)) {
      int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      for (ssize_t n; (n = read(fd, buf.data(), buf.size())) > 0;) bytes += static_cast<std::uint64_t>(n);
      close(fd);
      ++files;
    }
  }
  closedir(d);
  return bytes;
}

int run_plugin(const std::string& plugin_dir, const std::string& root, const char* analyzer = "languages") {
  std::string path = plugin_dir + "/libisb-analyzer-" + analyzer + ".so";
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return std::fprintf(stderr, "dlopen %s: %s\n", path.c_str(), dlerror()), 2;
  auto get = reinterpret_cast<isb_plugin_get_fn>(dlsym(h, ISB_PLUGIN_ENTRY_SYMBOL));
  const isb_plugin_descriptor* desc = get();
  // Only the fields an analyzer uses are set; the rest of the ABI struct stays zero.
  isb_host_api host{};
  host.struct_size = sizeof(isb_host_api);
  host.abi_major = ISB_ABI_MAJOR;
  host.abi_minor = ISB_ABI_MINOR;
  host.log = [](void*, int32_t, const char*) {};
  host.host_info_json = "{\"name\":\"bench\",\"version\":\"0\",\"abi\":\"1.2\"}";
  isb_instance* inst = nullptr;
  // Counting every file, however large, keeps the comparison with cloc fair.
  if (desc->create(&host, "{\"max_file_bytes\":1073741824}", &inst) != ISB_OK)
    return std::fprintf(stderr, "create: %s\n", desc->last_error(nullptr)), 2;
  std::string doc;
  isb_json_out out{sizeof(isb_json_out), &doc,
                   [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
  auto* api = static_cast<const isb_analyzer_api*>(desc->kind_api);
  // The root is opened as the server opens a workspace: once, as a directory fd.
  const int root_fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return std::fprintf(stderr, "open %s: %s\n", root.c_str(), std::strerror(errno)), 2;
  if (api->analyze_tree(inst, root_fd, "{}", &out) != ISB_OK)
    return std::fprintf(stderr, "analyze: %s\n", desc->last_error(inst)), 2;
  std::fwrite(doc.data(), 1, doc.size(), stdout);
  return 0;
}

struct Counts {
  std::int64_t files = 0, code = 0, comment = 0, blank = 0;
};

std::int64_t num(const json::value* v) {
  return v && v->is_int64()    ? v->as_int64()
         : v && v->is_uint64() ? static_cast<std::int64_t>(v->as_uint64())
                               : 0;
}

// Groups so that both tools' names meet: cloc files .h as "C/C++ Header" where
// the analyzer decides C, C++ or Objective-C per file, and cloc splits shells.
std::string group_of(const std::string& name) {
  static const std::map<std::string, std::string> g{{"C", "C family (C, C++, headers)"},
                                                    {"C++", "C family (C, C++, headers)"},
                                                    {"C/C++ Header", "C family (C, C++, headers)"},
                                                    {"Objective-C", "C family (C, C++, headers)"},
                                                    {"Bourne Shell", "Shell"},
                                                    {"Bourne Again Shell", "Shell"},
                                                    {"zsh", "Shell"},
                                                    {"ksh", "Shell"}};
  auto it = g.find(name);
  return it == g.end() ? name : it->second;
}

void report(const std::string& root, const std::string& plugin_dir) {
  std::printf("\n== %s\n", root.c_str());
  Run bare = in_child([&] {
    std::vector<char> buf(1 << 20);
    std::uint64_t files = 0;
    std::uint64_t bytes = walk_and_read(root, buf, files);
    std::printf("%llu %llu", static_cast<unsigned long long>(files), static_cast<unsigned long long>(bytes));
    return 0;
  });
  Run ours = in_child([&] { return run_plugin(plugin_dir, root); });
  Run cloc = in_child([&] {
    execlp("cloc", "cloc", "--json", "--quiet", "--skip-uniqueness", root.c_str(),
           static_cast<char*>(nullptr));
    return 127;
  });
  if (ours.status != 0) {
    std::printf("analyzer failed\n");
    return;
  }
  std::map<std::string, Counts> a, c;
  boost::system::error_code ec;
  json::value ov = json::parse(ours.output, ec);
  if (ec || !ov.is_object()) {
    std::printf("analyzer output is not JSON: %.200s\n", ours.output.c_str());
    return;
  }
  for (const auto& l : ov.at("languages").as_array()) {
    Counts& k = a[group_of(std::string(l.at("name").as_string()))];
    k.files += num(l.as_object().if_contains("files"));
    k.code += num(l.as_object().if_contains("code"));
    k.comment += num(l.as_object().if_contains("comment"));
    k.blank += num(l.as_object().if_contains("blank"));
  }
  bool have_cloc = cloc.status == 0 && !cloc.output.empty();
  if (have_cloc) {
    json::value cv = json::parse(cloc.output, ec);
    if (ec || !cv.is_object()) {
      std::printf("cloc output is not JSON: %.200s\n", cloc.output.c_str());
      return;
    }
    for (const auto& [name, v] : cv.as_object()) {
      if (name == "header" || name == "SUM" || !v.is_object()) continue;
      Counts& k = c[group_of(std::string(name))];
      k.files += num(v.as_object().if_contains("nFiles"));
      k.code += num(v.as_object().if_contains("code"));
      k.comment += num(v.as_object().if_contains("comment"));
      k.blank += num(v.as_object().if_contains("blank"));
    }
  }
  std::printf("files: %s (bare walk: files bytes = %s)\n", json::serialize(ov.at("files")).c_str(),
              bare.output.c_str());
  // Wall time is what a user waits; CPU time shows the work when other
  // processes compete for the cores.
  std::printf("%-28s %9s %9s %12s %9s %9s\n", "contender", "wall s", "cpu s", "peak RSS MB", "wall/bare",
              "cpu/bare");
  auto row = [&](const char* name, const Run& r) {
    std::printf("%-28s %9.2f %9.2f %12.1f %8.2fx %8.2fx\n", name, r.seconds, r.cpu_seconds,
                r.peak_rss_kb / 1024.0, r.seconds / bare.seconds, r.cpu_seconds / bare.cpu_seconds);
  };
  row("bare walk-and-read (1 thr)", bare);
  row("isb languages analyzer", ours);
  if (have_cloc) {
    row("cloc --skip-uniqueness", cloc);
    std::printf("speed-up over cloc: %.1fx wall, %.1fx cpu\n", cloc.seconds / ours.seconds,
                cloc.cpu_seconds / ours.cpu_seconds);
  } else {
    std::printf("cloc not run (install the Debian package cloc)\n");
  }
  std::printf("\n%-28s %8s %8s %10s %10s %8s %10s %10s %8s\n", "language", "files", "cloc", "code", "cloc",
              "diff%", "comment", "cloc", "diff%");
  std::vector<std::pair<std::int64_t, std::string>> order;
  for (const auto& [name, k] : a) order.push_back({-k.code, name});
  std::sort(order.begin(), order.end());
  for (const auto& [_, name] : order) {
    const Counts& k = a[name];
    const Counts& r = c.count(name) ? c[name] : Counts{};
    auto pct = [](std::int64_t x, std::int64_t y) {
      return y ? 100.0 * static_cast<double>(x - y) / static_cast<double>(y) : 0.0;
    };
    std::printf("%-28s %8lld %8lld %10lld %10lld %+7.2f%% %10lld %10lld %+7.2f%%\n", name.c_str(),
                static_cast<long long>(k.files), static_cast<long long>(r.files),
                static_cast<long long>(k.code), static_cast<long long>(r.code), pct(k.code, r.code),
                static_cast<long long>(k.comment), static_cast<long long>(r.comment),
                pct(k.comment, r.comment));
  }
}

// Creates `files` empty files under root (1,000 per directory); false on the first failure.
bool make_file_tree(const std::string& root, long files) {
  if (mkdir(root.c_str(), 0755) != 0) return std::perror(root.c_str()), false;
  constexpr long kPerDir = 1000;
  for (long d = 0; d * kPerDir < files; ++d) {
    char dir[64];
    std::snprintf(dir, sizeof dir, "/d%05ld", d);
    const std::string dpath = root + dir;
    if (mkdir(dpath.c_str(), 0755) != 0) return std::perror(dpath.c_str()), false;
    for (long f = 0; f < kPerDir && d * kPerDir + f < files; ++f) {
      char name[64];
      // Mixed extensions, so that language detection does real work.
      static const char* const kExt[] = {"py", "c", "js", "go", "rs", "txt", "h", "md"};
      std::snprintf(name, sizeof name, "/f%07ld.%s", d * kPerDir + f, kExt[f % 8]);
      const std::string fpath = dpath + name;
      int fd = open(fpath.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) return std::perror(fpath.c_str()), false;
      close(fd);
    }
  }
  return true;
}

int million_files(const std::string& root, long files, const std::string& plugin_dir) {
  struct stat st {};
  if (lstat(root.c_str(), &st) == 0) {
    std::fprintf(stderr, "isb-bench-analysis: %s exists; give a path to create (it is removed afterwards)\n",
                 root.c_str());
    return 2;
  }
  std::printf("\n== %ld empty files under %s\n", files, root.c_str());
  auto t0 = std::chrono::steady_clock::now();
  const bool made = make_file_tree(root, files);
  std::printf("created in %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  int rc = 0;
  if (made) {
    Run bare = in_child([&] {
      std::vector<char> buf(1 << 20);
      std::uint64_t n = 0;
      walk_and_read(root, buf, n);
      std::printf("%llu", static_cast<unsigned long long>(n));
      return 0;
    });
    Run langs = in_child([&] { return run_plugin(plugin_dir, root, "languages"); });
    Run code = in_child([&] { return run_plugin(plugin_dir, root, "codebase"); });
    std::printf("%-28s %9s %9s %12s %9s\n", "contender", "wall s", "cpu s", "peak RSS MB", "wall/bare");
    auto row = [&](const char* name, const Run& r) {
      std::printf("%-28s %9.2f %9.2f %12.1f %8.2fx  %s\n", name, r.seconds, r.cpu_seconds,
                  r.peak_rss_kb / 1024.0, r.seconds / bare.seconds, r.status == 0 ? "" : "FAILED");
    };
    row("bare walk-and-read (1 thr)", bare);
    row("isb languages analyzer", langs);
    row("isb codebase analyzer", code);
    boost::system::error_code ec;
    json::value lv = json::parse(langs.output, ec);
    if (!ec && lv.is_object())
      std::printf("languages: files %s (bare walk: %s files)\n",
                  json::serialize(lv.at("files").at("total")).c_str(), bare.output.c_str());
    const bool within = langs.status == 0 && code.status == 0 && langs.peak_rss_kb < 200 * 1024 &&
                        code.peak_rss_kb < 200 * 1024;
    std::printf("peak RSS target (< 200 MB, both analyzers finish): %s\n", within ? "met" : "NOT met");
    rc = within ? 0 : 1;
  }
  t0 = std::chrono::steady_clock::now();
  std::error_code rm_ec;
  std::filesystem::remove_all(root, rm_ec);
  if (rm_ec) std::fprintf(stderr, "could not remove %s: %s\n", root.c_str(), rm_ec.message().c_str());
  std::printf("removed in %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return made ? rc : 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string plugin_dir = ISB_BENCH_PLUGIN_DIR;
  std::vector<std::string> roots;
  std::string million_root;
  long files = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--plugin-dir" && i + 1 < argc) {
      plugin_dir = argv[++i];
    } else if (a == "--million-files" && i + 1 < argc) {
      million_root = argv[++i];
    } else if (a == "--files" && i + 1 < argc) {
      files = std::atol(argv[++i]);
      if (files <= 0 || files > 5'000'000) {
        std::fprintf(stderr, "isb-bench-analysis: --files must be from 1 to 5000000\n");
        return 2;
      }
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: isb-bench-analysis [--plugin-dir DIR] TREE...\n"
          "       isb-bench-analysis [--plugin-dir DIR] --million-files NEW_DIR [--files N]\n");
      return 0;
    } else {
      roots.push_back(a);
    }
  }
  if (!million_root.empty()) return million_files(million_root, files, plugin_dir);
  if (roots.empty()) {
    std::fprintf(stderr, "isb-bench-analysis: give at least one directory to analyse (see --help)\n");
    return 2;
  }
  for (const auto& r : roots) report(r, plugin_dir);
  return 0;
}
