// isolation_docker_agent_test: the in-container agent under attack from the
// container it serves (security issue 13, findings 10, 11, 13), against the
// real engine (docker_fixture.hpp). Root in a container can replace the
// agent's socket, exhaust its pids limit, try to ptrace PID 1 or leave a
// listener of its own; the agent can be frozen. None of it may send a command
// into another workspace, and no call may wait on an agent past its bound.
// Calls that would hang on a defenceless server run on their own thread
// (bounded_execs): past their bound the test fails and removes the containers,
// which ends the calls, instead of hanging.
#include <sys/stat.h>

#include <condition_variable>
#include <functional>
#include <mutex>

#include "docker_fixture.hpp"

namespace {

// The fixture's kill_grace_ms and the plugin's default reply_margin_ms.
constexpr int64_t kGraceMs = 1000;
constexpr int64_t kMarginMs = 3000;

bool running(const std::string& id) {
  json::object st = container_state(id);
  return st.contains("Running") && st.at("Running").as_bool();
}

//! True once the container is no longer running (within 5 s).
bool stops(const std::string& id) {
  for (int i = 0; i < 50 && running(id); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return !running(id);
}

struct TimedOutcome {
  ExecOutcome outcome;
  int64_t ms = 0;
  bool overran = false;  // still running at the limit (ended by removing the containers)
};

class DockerAgentTest : public DockerBackendTest {
 protected:
  //! Copies the container probe (container_probe.c) into dir; returns its path in the container.
  static std::string probe_in(const fs::path& dir) {
    fs::copy_file(ISB_CONTAINER_PROBE, dir / "container_probe", fs::copy_options::overwrite_existing);
    fs::permissions(dir / "container_probe",
                    fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    return "/workspace/container_probe";
  }

  //! Removes every container of this test's instance: ends any call that still waits on one.
  void remove_all_containers() {
    for (const auto& id : containers_with_instance(instance_))
      engine_delete("/containers/" + id + "?force=true");
  }

  //! Runs each (instance, sandbox id, shell line, timeout) at once, each on its
  //! own thread. Calls still running limit_ms after the start overran: the
  //! containers are removed so that they return, and the test goes on to fail.
  struct Call {
    isb_instance* inst;
    std::string id;
    std::string script;
    int64_t timeout_ms;
  };
  std::vector<TimedOutcome> bounded_execs(const std::vector<Call>& calls, int64_t limit_ms) {
    std::vector<TimedOutcome> out(calls.size());
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (size_t i = 0; i < calls.size(); ++i) {
      threads.emplace_back([&, i] {
        TimedOutcome t = run_on(calls[i]);
        t.ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
                   .count();
        std::lock_guard<std::mutex> lock(mu);
        out[i] = std::move(t);
        ++done;
        cv.notify_all();
      });
    }
    std::vector<bool> overran(calls.size(), false);
    {
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_until(lock, t0 + std::chrono::milliseconds(limit_ms),
                         [&] { return done == calls.size(); })) {
        for (size_t i = 0; i < out.size(); ++i) overran[i] = out[i].ms == 0;
        lock.unlock();
        ADD_FAILURE() << "calls still waited on their agents " << limit_ms << " ms after they started";
        remove_all_containers();
      }
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < out.size(); ++i) out[i].overran = overran[i];
    return out;
  }

  TimedOutcome bounded_sh(const std::string& id, const std::string& script, int64_t timeout_ms,
                          int64_t limit_ms, isb_instance* inst = nullptr) {
    return bounded_execs({{inst ? inst : inst_, id, script, timeout_ms}}, limit_ms).at(0);
  }

  //! A plugin instance of the same server identity, as after a server restart.
  isb_instance* restarted_instance() { return plugin_.create(config_); }

 private:
  TimedOutcome run_on(const Call& c) {
    SinkState state;
    isb_output_sink sink{};
    sink.struct_size = sizeof sink;
    sink.user = &state;
    sink.emit = [](void* u, int32_t stream, const char* b, size_t n) {
      auto* st = static_cast<SinkState*>(u);
      (stream == ISB_STREAM_STDERR ? st->err : st->out).append(b, n);
    };
    std::string text = json::serialize(json::object{{"shell", c.script}, {"timeout_ms", c.timeout_ms}});
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) {
      return api_->sandbox_exec(c.inst, c.id.c_str(), text.c_str(), &sink, o);
    });
    TimedOutcome t;
    t.outcome.status = s;
    if (s == ISB_OK)
      t.outcome.result = json::parse(doc).as_object();
    else
      t.outcome.error = plugin_.descriptor()->last_error(c.inst);
    t.outcome.out = state.out;
    t.outcome.err = state.err;
    return t;
  }
};

// ---------------------------------------------------------------------------
// Finding 10: a planted socket never redirects a command

TEST_F(DockerAgentTest, PlantedSymlinkToAnotherWorkspacesAgentNeverRedirectsACommand) {
  fs::path ws2 = ws_.string() + "-w2";
  fs::create_directories(ws2);
  { std::ofstream(ws2 / "w2-marker") << "w2 secret\n"; }
  std::string w1 = create_at(ws_, "w1", R"({"max_processes":12})");
  std::string w2 = create_at(ws2, "w2");
  ASSERT_FALSE(w1.empty() || w2.empty());
  const std::string probe = probe_in(ws_);
  const pid_t w2_init = container_init_pid(w2);
  ASSERT_GT(w2_init, 1);

  // Root in w1 replaces its agent's socket with a link that, resolved on the
  // host, leads to w2's agent...
  const std::string link = "/proc/" + std::to_string(w2_init) + "/root/.isb/run/agent.sock";
  ExecOutcome plant = sh(w1, "rm /.isb/run/agent.sock && ln -s " + link +
                                 " /.isb/run/agent.sock && readlink "
                                 "/.isb/run/agent.sock");
  ASSERT_EQ(plant.status, ISB_OK) << plant.error;
  ASSERT_EQ(plant.out, link + "\n") << plant.err;
  // ...then fills its pids limit with sleepers, so that the agent's next fork fails.
  ExecOutcome fill = sh(w1, probe + " fill_pids 6");
  ASSERT_EQ(fill.status, ISB_OK) << fill.error;
  ASSERT_NE(fill.out.find("then EAGAIN"), std::string::npos) << fill.out << fill.err;

  // The filler's own pid, freed as it ended, is taken again by then.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string attack = "hostname; cat /workspace/w2-marker; echo from-w1 > /workspace/from-w1";
  TimedOutcome refused = bounded_sh(w1, attack, 10000, 20000);
  // The failed fork is that command's error, saying why and what to do; the
  // connection to w1's agent stays.
  EXPECT_EQ(refused.outcome.status, ISB_OK) << refused.outcome.error;
  if (refused.outcome.status == ISB_OK) {
    EXPECT_EQ(int_at(refused.outcome.result, "exit_code"), 127);
    std::string error(refused.outcome.result.at("error").as_string());
    EXPECT_NE(error.find("fork failed: Resource temporarily unavailable"), std::string::npos) << error;
    EXPECT_NE(error.find("max_processes"), std::string::npos) << error;
  }
  EXPECT_EQ(refused.outcome.out, "");

  // Once the sleepers are gone, commands run in w1 again, never in w2.
  ExecOutcome again;
  for (int i = 0; i < 40; ++i) {
    again = sh(w1, attack);
    // (Until then the agent's fork, or the shell's, fails.)
    if (again.status != ISB_OK || int_at(again.result, "exit_code") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_EQ(again.status, ISB_OK) << again.error;
  EXPECT_EQ(again.out.substr(0, again.out.find('\n') + 1), w1.substr(0, 12) + "\n") << again.out;
  EXPECT_EQ(again.out.find("w2 secret"), std::string::npos) << again.out;
  EXPECT_FALSE(fs::exists(ws2 / "from-w1"));
  EXPECT_TRUE(fs::exists(ws_ / "from-w1"));

  // A restarted server connects anew: it refuses the link, gives w1 up (its
  // container is killed) and never reaches w2's agent.
  isb_instance* restarted = restarted_instance();
  ASSERT_NE(restarted, nullptr);
  fs::remove(ws_ / "from-w1");
  TimedOutcome adopted = bounded_sh(w1, attack, 10000, 20000, restarted);
  EXPECT_EQ(adopted.outcome.status, ISB_UNAVAILABLE) << adopted.outcome.out;
  EXPECT_NE(adopted.outcome.error.find("workspace sandbox failed"), std::string::npos)
      << adopted.outcome.error;
  EXPECT_NE(adopted.outcome.error.find("symlink"), std::string::npos) << adopted.outcome.error;
  EXPECT_EQ(adopted.outcome.out.find(w2.substr(0, 12)), std::string::npos) << adopted.outcome.out;
  EXPECT_FALSE(fs::exists(ws2 / "from-w1"));
  EXPECT_TRUE(stops(w1));
  // w2 is untouched and served as before.
  TimedOutcome w2_runs = bounded_sh(w2, "hostname; cat /workspace/w2-marker", 10000, 20000, restarted);
  ASSERT_EQ(w2_runs.outcome.status, ISB_OK) << w2_runs.outcome.error;
  EXPECT_EQ(w2_runs.outcome.out, w2.substr(0, 12) + "\nw2 secret\n");
  plugin_.descriptor()->destroy(restarted);
  fs::remove_all(ws2);
}

TEST_F(DockerAgentTest, ListenerPlantedInTheContainerIsRefusedAndTheWorkspaceFails) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  const std::string probe = probe_in(ws_);
  // A command leaves its own listener on the agent's socket path: it accepts
  // requests and never answers.
  ExecOutcome plant = sh(id, probe +
                                 " fake_agent /.isb/run/agent.sock 120 >/dev/null 2>&1 & sleep 0.5; "
                                 "ls /.isb/run");
  ASSERT_EQ(plant.status, ISB_OK) << plant.error;
  ASSERT_EQ(plant.out, "agent.sock\n");
  // The connection the server already has is to the real agent.
  ExecOutcome still = sh(id, "echo still");
  EXPECT_EQ(still.out, "still\n") << still.error;

  // A restarted server is refused by the check of the listener (not PID 1),
  // at once, instead of handing the command to it.
  isb_instance* restarted = restarted_instance();
  ASSERT_NE(restarted, nullptr);
  TimedOutcome r = bounded_sh(id, "echo handed-over", 2000, 2000 + kGraceMs + kMarginMs + 8000, restarted);
  EXPECT_FALSE(r.overran);
  EXPECT_EQ(r.outcome.status, ISB_UNAVAILABLE) << r.outcome.out;
  EXPECT_NE(r.outcome.error.find("not the container's PID 1"), std::string::npos) << r.outcome.error;
  EXPECT_TRUE(stops(id));
  plugin_.descriptor()->destroy(restarted);
}

// ---------------------------------------------------------------------------
// Finding 11: the agent cannot be frozen from inside, and a frozen one holds nothing

TEST_F(DockerAgentTest, PtraceOfTheAgentIoUringAndTheAgentsProcFilesAreRefused) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  const std::string probe = probe_in(ws_);
  TimedOutcome r =
      bounded_sh(id,
                 probe + " ptrace_pid1; " + probe +
                     " io_uring_setup; cat /proc/1/environ >/dev/null 2>&1 || echo environ-denied; "
                     "grep -c . /proc/1/maps 2>/dev/null || echo maps-denied",
                 10000, 20000);
  ASSERT_EQ(r.outcome.status, ISB_OK) << r.outcome.error;
  EXPECT_EQ(r.outcome.out, "ptrace_pid1 EPERM\nio_uring_setup EPERM\nenviron-denied\nmaps-denied\n");
  // The agent was not stopped: the next command runs at once.
  TimedOutcome next = bounded_sh(id, "echo alive", 10000, 20000);
  EXPECT_EQ(next.outcome.out, "alive\n") << next.outcome.error;
  EXPECT_LT(next.ms, 2000);
  // The engine has our profile, and it leaves ptrace and io_uring out.
  json::value c = engine_get("/containers/" + id + "/json");
  std::string profile;
  for (const auto& o : c.at("HostConfig").at("SecurityOpt").as_array()) {
    std::string opt(o.as_string());
    if (opt.rfind("seccomp=", 0) == 0) profile = opt.substr(8);
  }
  ASSERT_FALSE(profile.empty());
  json::value p = json::parse(profile);
  EXPECT_EQ(p.at("defaultAction").as_string(), "SCMP_ACT_ERRNO");
  for (const auto& rule : p.at("syscalls").as_array()) {
    if (rule.at("action").as_string() != "SCMP_ACT_ALLOW") continue;
    for (const auto& n : rule.at("names").as_array()) {
      std::string name(n.as_string());
      EXPECT_TRUE(name != "ptrace" && name.rfind("io_uring", 0) != 0 && name.rfind("process_vm", 0) != 0)
          << name;
    }
  }
}

// Issue 13, finding 9 for containers: our profile leaves no way to make a
// device node (an overlay whiteout included); fifos and plain renames work.
TEST_F(DockerAgentTest, NoDeviceNodeOrWhiteoutCanBeMadeInAContainer) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  TimedOutcome r = bounded_sh(id, probe_in(ws_) + " devices", 10000, 20000);
  ASSERT_EQ(r.outcome.status, ISB_OK) << r.outcome.error;
  EXPECT_EQ(r.outcome.out, "mknod_whiteout EPERM\nmknod_block EPERM\nmkfifo ok\nrename_whiteout EPERM\nrename ok\n");
}

TEST_F(DockerAgentTest, FrozenAgentIsGivenUpWithinItsBoundAndTheWorkspaceFails) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  const pid_t init = container_init_pid(id);
  ASSERT_GT(init, 1);
  ASSERT_EQ(::kill(init, SIGSTOP), 0);
  const int64_t bound = 1000 + kGraceMs + kMarginMs;
  TimedOutcome r = bounded_sh(id, "echo never", 1000, bound + 8000);
  EXPECT_FALSE(r.overran);
  EXPECT_LT(r.ms, bound + 1500);
  EXPECT_GE(r.ms, bound - 100);
  EXPECT_EQ(r.outcome.status, ISB_UNAVAILABLE);
  EXPECT_NE(r.outcome.error.find("workspace sandbox failed"), std::string::npos) << r.outcome.error;
  EXPECT_NE(r.outcome.error.find("did not report the command's end within 3000 ms after SIGKILL"),
            std::string::npos)
      << r.outcome.error;
  // The server killed the container: nothing of it runs on unobserved.
  EXPECT_TRUE(stops(id));
  // Later calls fail at once, saying so.
  TimedOutcome later = bounded_sh(id, "echo never", 1000, bound + 8000);
  EXPECT_EQ(later.outcome.status, ISB_UNAVAILABLE);
  EXPECT_NE(later.outcome.error.find("was lost earlier"), std::string::npos) << later.outcome.error;
  EXPECT_LT(later.ms, 500);
  EXPECT_EQ(api_->sandbox_destroy(inst_, id.c_str()), ISB_OK) << last_error();
  EXPECT_TRUE(container_state(id).empty());
}

TEST_F(DockerAgentTest, ThirtyHungWorkspacesHoldUpNeitherOtherWorkspacesNorDestroy) {
  constexpr int kHung = 30;
  std::vector<std::string> hung;
  for (int i = 0; i < kHung; ++i) {
    fs::path dir = ws_ / ("hung-" + std::to_string(i));
    fs::create_directories(dir);
    hung.push_back(create_at(dir, "hung-" + std::to_string(i)));
    ASSERT_FALSE(hung.back().empty());
  }
  fs::path healthy_dir = ws_ / "healthy";
  fs::create_directories(healthy_dir);
  std::string healthy = create_at(healthy_dir, "healthy");
  ASSERT_FALSE(healthy.empty());
  for (const auto& id : hung) ASSERT_EQ(::kill(container_init_pid(id), SIGSTOP), 0) << id;

  const int64_t bound = 1000 + kGraceMs + kMarginMs;
  std::vector<Call> calls;
  for (const auto& id : hung) calls.push_back({inst_, id, "echo never", 1000});
  std::vector<TimedOutcome> outcomes;
  std::thread hung_calls([&] { outcomes = bounded_execs(calls, bound + 15000); });

  // While all 30 wait on frozen agents, another workspace runs commands and a
  // hung one is destroyed, both promptly.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto t0 = std::chrono::steady_clock::now();
  ExecOutcome ok = sh(healthy, "echo healthy");
  auto exec_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ok.out, "healthy\n") << ok.error;
  EXPECT_LT(exec_ms, 1500);
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(api_->sandbox_destroy(inst_, hung[0].c_str()), ISB_OK) << last_error();
  auto destroy_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(destroy_ms, 3000);
  hung_calls.join();

  ASSERT_EQ(outcomes.size(), static_cast<size_t>(kHung));
  for (int i = 0; i < kHung; ++i) {
    const TimedOutcome& t = outcomes[i];
    EXPECT_FALSE(t.overran) << hung[i];
    EXPECT_LT(t.ms, bound + 4000) << hung[i];
    // The destroyed one ended with its container; the others were given up.
    EXPECT_NE(t.outcome.status, ISB_OK) << hung[i] << ": " << t.outcome.out;
    if (i > 0) {
      EXPECT_NE(t.outcome.error.find("workspace sandbox failed"), std::string::npos) << t.outcome.error;
    }
  }
  ExecOutcome still = sh(healthy, "echo still");
  EXPECT_EQ(still.out, "still\n") << still.error;
  for (int i = 1; i < kHung; ++i)
    EXPECT_EQ(api_->sandbox_destroy(inst_, hung[i].c_str()), ISB_OK) << last_error();
}

// ---------------------------------------------------------------------------
// Finding 13: what a container learns of the host from its mount table

TEST_F(DockerAgentTest, MountinfoDoesNotShowWhereTheServerIsInstalled) {
  std::string id = create();
  ASSERT_FALSE(id.empty());
  ExecOutcome agent = sh(id, "grep -F ' /.isb/isb-supervisor ' /proc/self/mountinfo | cut -d' ' -f4");
  ASSERT_EQ(agent.status, ISB_OK) << agent.error;
  EXPECT_EQ(agent.out, "/isb-supervisor\n");
  ExecOutcome all = sh(id, "cat /proc/self/mountinfo");
  const std::string plugin_dir = fs::canonical(ISB_TEST_PLUGIN_DIR).string();
  EXPECT_EQ(all.out.find(plugin_dir), std::string::npos) << all.out;
  // What it still shows is said in the probe.
  auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(inst_, o); });
  ASSERT_EQ(s, ISB_OK) << last_error();
  json::value probe = json::parse(doc);
  const json::array& shows = probe.at("engine").at("mountinfo_shows").as_array();
  ASSERT_EQ(shows.size(), 2u) << doc;
  EXPECT_NE(std::string(shows[0].as_string()).find("workspace's path"), std::string::npos);
}

}  // namespace
