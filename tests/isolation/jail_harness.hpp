// jail_harness.hpp: what the jail tests beyond the attack list share: one
// process-backend instance driven across the C ABI (JailBackend), and counts
// of host processes by uid and of an instance's cgroups.
//
//   JailBackend a(R"({"sandbox_uid_base": 310000, "cgroup_parent": "isb-x"})");
//   json::object sb = a.create("w", dir);
//   Outcome r = a.sh("w", "id -u");
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "plugin_loader.hpp"

namespace jail_test {

namespace fs = std::filesystem;
namespace json = boost::json;

struct Outcome {
  isb_status status = ISB_ERROR;
  json::object result;
  std::string out, err;
};

//! One backend instance. Not thread-safe itself except exec (the plugin is).
class JailBackend {
 public:
  explicit JailBackend(const std::string& config) : plugin_("libisb-isolation-process.so") {
    api_ = plugin_.api<isb_isolation_api>();
    inst_ = plugin_.create(config);
  }
  ~JailBackend() {
    if (inst_) plugin_.descriptor()->destroy(inst_);
  }
  bool ok() const { return inst_ != nullptr; }

  json::object probe() {
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(inst_, o); });
    EXPECT_EQ(s, ISB_OK) << error();
    return s == ISB_OK ? json::parse(doc).as_object() : json::object{};
  }
  std::string instance() { return std::string(probe().at("instance").as_string()); }

  //! extra: more sandbox spec members (e.g. "overlay").
  json::object create(const std::string& id, const fs::path& dir, json::object limits = {},
                      const json::object& extra = {}) {
    json::object spec{{"workspace_id", id}, {"workspace_path", dir.string()}, {"resource_limits", limits}};
    for (const auto& kv : extra) spec[kv.key()] = kv.value();
    auto [s, doc] = TestPlugin::call_json(
        [&](const isb_json_out* o) { return api_->sandbox_create(inst_, json::serialize(spec).c_str(), o); });
    EXPECT_EQ(s, ISB_OK) << error();
    return s == ISB_OK ? json::parse(doc).as_object() : json::object{};
  }

  //! Success when sandbox_create refuses spec with an error containing what.
  ::testing::AssertionResult create_fails(const json::object& spec, const std::string& what) {
    auto [s, doc] = TestPlugin::call_json(
        [&](const isb_json_out* o) { return api_->sandbox_create(inst_, json::serialize(spec).c_str(), o); });
    if (s == ISB_OK) return ::testing::AssertionFailure() << "sandbox_create succeeded: " << doc;
    if (error().find(what) == std::string::npos) return ::testing::AssertionFailure() << "error was: " << error();
    return ::testing::AssertionSuccess();
  }

  Outcome sh(const std::string& id, const std::string& line, int64_t timeout_ms = 20000) {
    struct Sink {
      std::string out, err;
    } cap;
    isb_output_sink sink{};
    sink.struct_size = sizeof sink;
    sink.user = &cap;
    sink.emit = [](void* u, int32_t stream, const char* b, size_t n) {
      auto* c = static_cast<Sink*>(u);
      (stream == ISB_STREAM_STDOUT ? c->out : c->err).append(b, n);
    };
    json::object spec{{"shell", line}, {"timeout_ms", timeout_ms}};
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) {
      return api_->sandbox_exec(inst_, id.c_str(), json::serialize(spec).c_str(), &sink, o);
    });
    Outcome r;
    r.status = s;
    if (s == ISB_OK) r.result = json::parse(doc).as_object();
    r.out = cap.out;
    r.err = cap.err;
    return r;
  }

  std::pair<isb_status, json::value> reconcile(const std::string& known_json) {
    auto [s, doc] = TestPlugin::call_json(
        [&](const isb_json_out* o) { return api_->reconcile(inst_, known_json.c_str(), o); });
    return {s, s == ISB_OK ? json::parse(doc) : json::value(error())};
  }

  isb_status destroy(const std::string& id) { return api_->sandbox_destroy(inst_, id.c_str()); }
  std::string error() { return plugin_.descriptor()->last_error(inst_); }

 private:
  TestPlugin plugin_;
  const isb_isolation_api* api_ = nullptr;
  isb_instance* inst_ = nullptr;
};

//! Live (non-zombie) host processes whose real uid is uid.
inline int processes_of_uid(uid_t uid) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream st(e.path() / "status");
    std::string line;
    bool mine = false, zombie = false;
    while (std::getline(st, line)) {
      if (line.rfind("State:", 0) == 0) zombie = line.find('Z') != std::string::npos;
      if (line.rfind("Uid:", 0) == 0) mine = static_cast<uid_t>(std::stoul(line.substr(4))) == uid;
    }
    n += mine && !zombie;
  }
  return n;
}

//! Waits up to two seconds for processes_of_uid(uid) to become want.
inline int settle(uid_t uid, int want) {
  int n = processes_of_uid(uid);
  for (int i = 0; i < 100 && n != want; ++i) {
    ::usleep(20000);
    n = processes_of_uid(uid);
  }
  return n;
}

//! <our cgroup of controller>/<parent>: where an instance's cgroups go.
inline fs::path cgroup_dir(const std::string& controller, const std::string& parent) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (line.substr(a + 1, b - a - 1) == controller) {
      std::string p = line.substr(b + 1);
      return fs::path("/sys/fs/cgroup/" + controller + (p == "/" ? "" : p)) / parent;
    }
  }
  return {};
}

//! A fresh directory under /tmp, removed with the object.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isb-jail-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace jail_test
