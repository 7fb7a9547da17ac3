// docker_fixture.hpp: what the docker backend's plugin tests share: the
// plugin loaded across the C ABI against the real engine that
// scripts/start-dockerd.sh starts, with the image scripts/build-test-image.sh
// builds (ISB_TEST_DOCKER_IMAGE, default isb-test:latest), one workspace
// directory per test, and the engine's own view read with curl over the
// socket, independently of the plugin's HTTP client. Without an engine every
// test FAILS, by design: a container backend that was never exercised must not
// pass as tested.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "plugin_loader.hpp"
#include "schema_check.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;

inline const char* const kSocket = "/var/run/docker.sock";

inline std::string test_image() {
  const char* e = std::getenv("ISB_TEST_DOCKER_IMAGE");
  return e && *e ? e : "isb-test:latest";
}

//! Runs a command on the host and returns its stdout.
inline std::string host_output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

//! The engine's answer to a GET, read with curl (not with the plugin's client).
inline json::value engine_get(const std::string& path) {
  std::string body = host_output("curl -s --max-time 10 --unix-socket " + std::string(kSocket) +
                                 " 'http://localhost" + path + "'");
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec ? json::value(nullptr) : v;
}

inline void engine_delete(const std::string& path) {
  host_output("curl -s --max-time 10 -X DELETE --unix-socket " + std::string(kSocket) + " 'http://localhost" +
              path + "'");
}

inline std::vector<std::string> containers_with_instance(const std::string& instance) {
  std::string filter = "%7B%22label%22%3A%5B%22dev.intelligent-sandbox.instance%3D" + instance + "%22%5D%7D";
  json::value v = engine_get("/containers/json?all=true&filters=" + filter);
  std::vector<std::string> ids;
  if (v.is_array()) {
    for (const auto& c : v.as_array()) ids.emplace_back(c.as_object().at("Id").as_string());
  }
  return ids;
}

struct ExecOutcome {
  isb_status status = ISB_ERROR;
  std::string error;
  json::object result;
  std::string out;
  std::string err;
};

struct SinkState {
  std::string out, err;
  std::chrono::steady_clock::time_point cancel_at = std::chrono::steady_clock::time_point::max();
};

class DockerBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kSocket)) << "no Docker engine socket at " << kSocket
                                     << ": run scripts/start-dockerd.sh (these tests never skip)";
    instance_ = "isb-test-" + std::to_string(::getpid());
    config_ = R"({"instance_id":")" + instance_ + R"(","kill_grace_ms":1000)" + extra_config() + "}";
    inst_ = plugin_.create(config_);
    ASSERT_NE(inst_, nullptr);
    api_ = plugin_.api<isb_isolation_api>();
    ws_ = fs::temp_directory_path() / ("isb-docker-ws-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(ws_);
    fs::create_directories(ws_);
  }

  void TearDown() override {
    if (inst_) {
      // Nothing a test created may outlive it, whatever it asserted.
      TestPlugin::call_json([&](const isb_json_out* o) { return api_->reconcile(inst_, "[]", o); });
      plugin_.descriptor()->destroy(inst_);
    }
    std::error_code ec;
    fs::remove_all(ws_, ec);
  }

  //! More members of the plugin config (",\"key\":value"); the default picks the agent.
  virtual std::string extra_config() const { return ""; }

  std::string last_error() { return plugin_.descriptor()->last_error(inst_); }

  //! Creates a sandbox on ws_ with the given extra spec members; returns its id.
  //! The create result is kept in created_.
  std::string create(const std::string& limits_json = "{}", const std::string& image = test_image(),
                     const std::string& network = "none") {
    return create_at(ws_, "ws-test", limits_json, image, network);
  }

  //! Creates a sandbox for workspace_id on dir (which must exist); returns its id.
  std::string create_at(const fs::path& dir, const std::string& workspace_id,
                        const std::string& limits_json = "{}", const std::string& image = test_image(),
                        const std::string& network = "none") {
    json::object spec{{"workspace_id", workspace_id},
                      {"workspace_path", dir.string()},
                      {"image", image},
                      {"network", network},
                      {"resource_limits", json::parse(limits_json)}};
    auto [s, doc] = TestPlugin::call_json(
        [&](const isb_json_out* o) { return api_->sandbox_create(inst_, json::serialize(spec).c_str(), o); });
    EXPECT_EQ(s, ISB_OK) << last_error();
    if (s != ISB_OK) return "";
    created_ = json::parse(doc).as_object();
    return std::string(created_.at("sandbox_id").as_string());
  }

  ExecOutcome exec(const std::string& id, const json::object& spec, SinkState* state_in = nullptr) {
    SinkState local;
    SinkState* state = state_in ? state_in : &local;
    isb_output_sink sink{};
    sink.struct_size = sizeof sink;
    sink.user = state;
    sink.emit = [](void* u, int32_t stream, const char* b, size_t n) {
      auto* st = static_cast<SinkState*>(u);
      (stream == ISB_STREAM_STDERR ? st->err : st->out).append(b, n);
    };
    sink.is_cancelled = [](void* u) -> uint8_t {
      return std::chrono::steady_clock::now() >= static_cast<SinkState*>(u)->cancel_at ? 1 : 0;
    };
    std::string text = json::serialize(spec);
    auto [s, doc] = TestPlugin::call_json(
        [&](const isb_json_out* o) { return api_->sandbox_exec(inst_, id.c_str(), text.c_str(), &sink, o); });
    ExecOutcome r;
    r.status = s;
    if (s == ISB_OK) {
      r.result = json::parse(doc).as_object();
    } else {
      r.error = last_error();
    }
    r.out = state->out;
    r.err = state->err;
    return r;
  }

  ExecOutcome sh(const std::string& id, const std::string& script, int64_t timeout_ms = 20000) {
    return exec(id, json::object{{"shell", script}, {"timeout_ms", timeout_ms}});
  }

  TestPlugin plugin_{"libisb-isolation-docker.so"};
  const isb_isolation_api* api_ = nullptr;
  isb_instance* inst_ = nullptr;
  std::string instance_;
  std::string config_;  // the plugin config inst_ was created with
  fs::path ws_;
  json::object created_;
};

inline int64_t int_at(const json::object& o, const char* k) { return o.at(k).as_int64(); }

//! The engine's State of a container (Running, Status, Pid, ...); empty when it is gone.
inline json::object container_state(const std::string& id) {
  json::value c = engine_get("/containers/" + id + "/json");
  if (!c.is_object() || !c.as_object().contains("State")) return {};
  return c.at("State").as_object();
}

//! Host PID of a container's PID 1 (the agent on the agent path); 0 when not running.
inline pid_t container_init_pid(const std::string& id) {
  json::object st = container_state(id);
  return st.contains("Pid") ? static_cast<pid_t>(st.at("Pid").as_int64()) : 0;
}
