// scripted_exec_isolation.cpp: an isolation plugin for the executor's unit
// tests. Its "commands" are scripts the plugin interprets itself, so that
// ordering, overlap, timeouts, retries, cancellation and file changes can be
// driven exactly and fast on any host. It enforces nothing and claims
// nothing (its probe reports no protection). Built into
// test-plugins/scripted-exec/, never into the real plugin directory.
//
// A script is statements separated by ';' (the step's shell line, or its
// argv joined by spaces), run in order inside <workspace>/<cwd>:
//
//   echo TEXT            TEXT and a newline on stdout
//   sleep MS             waits MS ms (cut short by the timeout or a cancel)
//   hang                 waits until the timeout or a cancel
//   write PATH [BYTES]   creates PATH (parents too) with BYTES 'x' (default 1)
//   copy FROM TO         copies a file (paths relative to the cwd)
//   touch-old PATH       sets PATH's mtime to 2001 (a report from another run)
//   fail-until N         exits 1 on the first N-1 runs of this exact script
//   exit N               stops with exit code N
//
//   exec("sleep 200; write out/a.txt 10; exit 0")
//
// Threading: thread-safe (ISB_CAP_THREAD_SAFE); each exec runs on the
// caller's thread.
#include <isb/sdk/plugin.hpp>

#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n"), e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

class ScriptedExecIsolation : public isb::sdk::IsolationBackend {
 public:
  static isb::sdk::PluginInfo info() {
    return {"scripted-exec", "Scripted executor backend (tests only)", "0.0.1",
            "Interprets tiny scripts (sleep, write, exit, hang...) in the workspace; enforces nothing",
            R"({"type":"object","additionalProperties":false,"properties":{}})", ISB_CAP_THREAD_SAFE};
  }
  ScriptedExecIsolation(isb::sdk::Host, const std::string&) {}

  std::string probe() override {
    return R"({"backend":"scripted-exec","available":true,"protections":[]})";
  }
  std::string create_sandbox(const std::string& spec_json) override {
    json::object spec = json::parse(spec_json).as_object();
    std::lock_guard<std::mutex> lock(mu_);
    std::string id(spec.at("workspace_id").as_string());
    roots_[id] = std::string(spec.at("workspace_path").as_string());
    return json::serialize(json::object{{"sandbox_id", id}});
  }
  void destroy_sandbox(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!roots_.erase(id)) throw isb::sdk::Error(ISB_NOT_FOUND, "no sandbox '" + id + "'");
  }
  std::string reconcile(const std::string&) override { return R"({"removed":[]})"; }

  std::string exec(const std::string& id, const std::string& spec_json, isb::sdk::OutputSink& sink) override {
    std::string root;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = roots_.find(id);
      if (it == roots_.end()) throw isb::sdk::Error(ISB_NOT_FOUND, "no sandbox '" + id + "'");
      root = it->second;
    }
    json::object spec = json::parse(spec_json).as_object();
    std::string script;
    if (auto* sh = spec.if_contains("shell")) script = std::string(sh->as_string());
    if (auto* argv = spec.if_contains("argv")) {
      for (const auto& a : argv->as_array()) script += (script.empty() ? "" : " ") + std::string(a.as_string());
    }
    const fs::path cwd = fs::path(root) / std::string(spec.at("cwd").as_string());
    const int64_t timeout_ms = spec.at("timeout_ms").to_number<int64_t>();
    const int64_t start = now_ms();
    int runs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      runs = ++runs_[id + "\n" + script];
    }
    auto result = [&](json::value exit_code, bool timed_out, bool cancelled) {
      return json::serialize(json::object{{"exit_code", exit_code},
                                          {"signal", nullptr},
                                          {"timed_out", timed_out},
                                          {"cancelled", cancelled},
                                          {"killed_by", timed_out ? json::value("timeout") : json::value(nullptr)},
                                          {"duration_ms", now_ms() - start}});
    };
    // Waits until `until` (ms, steady clock); false when cut short.
    enum class Cut { kNo, kTimeout, kCancel };
    auto wait_until = [&](int64_t until) {
      while (now_ms() < until) {
        if (sink.cancelled()) return Cut::kCancel;
        if (now_ms() - start >= timeout_ms) return Cut::kTimeout;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      return Cut::kNo;
    };
    std::stringstream statements(script);
    for (std::string stmt; std::getline(statements, stmt, ';');) {
      std::istringstream words(trim(stmt));
      std::string op;
      words >> op;
      if (op.empty()) continue;
      Cut cut = Cut::kNo;
      if (op == "echo") {
        std::string text;
        std::getline(words, text);
        text = trim(text) + "\n";
        sink.write(ISB_STREAM_STDOUT, text.data(), text.size());
      } else if (op == "sleep") {
        int64_t ms = 0;
        words >> ms;
        cut = wait_until(now_ms() + ms);
      } else if (op == "hang") {
        cut = wait_until(INT64_MAX);
      } else if (op == "write") {
        std::string path;
        int64_t bytes = 1;
        words >> path >> bytes;
        fs::create_directories((cwd / path).parent_path());
        std::ofstream(cwd / path, std::ios::binary) << std::string(static_cast<size_t>(bytes), 'x');
      } else if (op == "copy") {
        std::string from, to;
        words >> from >> to;
        fs::create_directories((cwd / to).parent_path());
        fs::copy_file(cwd / from, cwd / to, fs::copy_options::overwrite_existing);
      } else if (op == "touch-old") {
        std::string path;
        words >> path;
        const struct timespec old[2] = {{978307200, 0}, {978307200, 0}};  // 2001-01-01
        ::utimensat(AT_FDCWD, (cwd / path).c_str(), old, 0);
      } else if (op == "fail-until") {
        int n = 0;
        words >> n;
        if (runs < n) return result(1, false, false);
      } else if (op == "exit") {
        int64_t code = 0;
        words >> code;
        return result(code, false, false);
      } else {
        throw isb::sdk::Error(ISB_INVALID_ARGUMENT, "unknown scripted statement '" + op + "'");
      }
      if (cut == Cut::kTimeout) return result(nullptr, true, false);
      if (cut == Cut::kCancel) return result(nullptr, false, true);
    }
    return result(0, false, false);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> roots_;  // sandbox id -> workspace path
  std::map<std::string, int> runs_;           // sandbox id + script -> times run
};

}  // namespace

ISB_PLUGIN(ScriptedExecIsolation)
