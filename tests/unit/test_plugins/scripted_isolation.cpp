// scripted_isolation.cpp: an isolation plugin for core tests whose probe
// reports exactly the protections its config lists, so the core's
// security-level policy (fail-closed, allow_degraded) can be tested on any
// host. It runs nothing: exec answers exit code 0 with a fixed line. Built
// into test-plugins/scripted/, never into the real plugin directory.
#include <isb/sdk/plugin.hpp>

#include <boost/json.hpp>

#include <mutex>
#include <set>

namespace json = boost::json;

namespace {

class ScriptedIsolation : public isb::sdk::IsolationBackend {
 public:
  static isb::sdk::PluginInfo info() {
    return {"scripted", "Scripted isolation (tests only)", "0.0.1", "Reports configured protections; runs nothing",
            R"({"type":"object","additionalProperties":false,"properties":{
                 "enforced":{"type":"array","items":{"type":"string"}},
                 "fix":{"type":"string"}}})",
            ISB_CAP_THREAD_SAFE};
  }
  ScriptedIsolation(isb::sdk::Host, const std::string& config_json) {
    json::value cfg = json::parse(config_json);
    if (auto* e = cfg.as_object().if_contains("enforced")) {
      for (const auto& v : e->as_array()) enforced_.insert(std::string(v.as_string()));
    }
    if (auto* f = cfg.as_object().if_contains("fix")) fix_ = std::string(f->as_string());
  }
  std::string probe() override {
    static const char* kAll[] = {"user_namespace", "mount_namespace", "pid_namespace", "network_namespace",
                                 "ipc_namespace", "uts_namespace", "cgroup_namespace", "filesystem_isolation",
                                 "seccomp", "no_new_privs", "capabilities_dropped", "cgroup_memory", "cgroup_pids",
                                 "cgroup_cpu", "rlimits", "process_group_kill", "wall_clock_timeout"};
    json::array prot;
    for (const char* n : kAll) {
      bool on = enforced_.count(n) != 0;
      json::object p{{"name", n}, {"enforced", on}, {"detail", on ? "scripted" : "scripted off"}};
      if (!on && !fix_.empty()) p["fix"] = fix_;  // what doctor shows as the remedy
      prot.push_back(std::move(p));
    }
    return json::serialize(json::object{{"backend", "scripted"}, {"available", true}, {"protections", prot}});
  }
  std::string create_sandbox(const std::string& spec_json) override {
    json::object spec = json::parse(spec_json).as_object();
    std::lock_guard<std::mutex> lock(mu_);
    last_spec_ = spec_json;
    std::string id(spec.at("workspace_id").as_string());
    sandboxes_.insert(id);
    return json::serialize(json::object{{"sandbox_id", id}, {"received_spec", spec}});
  }
  std::string exec(const std::string& id, const std::string&, isb::sdk::OutputSink& sink) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!sandboxes_.count(id)) throw isb::sdk::Error(ISB_NOT_FOUND, "no sandbox '" + id + "'");
    }
    static const char kLine[] = "scripted\n";
    sink.write(ISB_STREAM_STDOUT, kLine, sizeof kLine - 1);
    return R"({"exit_code":0,"signal":null,"timed_out":false,"cancelled":false,"duration_ms":0})";
  }
  void destroy_sandbox(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!sandboxes_.erase(id)) throw isb::sdk::Error(ISB_NOT_FOUND, "no sandbox '" + id + "'");
  }
  std::string reconcile(const std::string&) override { return R"({"removed":[]})"; }

 private:
  std::set<std::string> enforced_;
  std::string fix_;
  std::mutex mu_;
  std::set<std::string> sandboxes_;
  std::string last_spec_;
};

}  // namespace

ISB_PLUGIN(ScriptedIsolation)
