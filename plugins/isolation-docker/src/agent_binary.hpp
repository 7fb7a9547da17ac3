// agent_binary.hpp: the copy of the agent program that containers bind.
//
// A bind mount shows its source's path within the source filesystem in the
// container's /proc/self/mountinfo (the "root" field), so binding the agent
// straight from the plugin directory would tell every command where the
// server is installed. Instead the program is copied onto a small read-only
// tmpfs of this plugin instance,
// /run/intelligent-sandbox/docker-agent/<instance>-<pid>-<random>, and bound
// from there: inside a container that mount reads "/isb-supervisor" on a
// tmpfs named "isb-agent". Staging needs root (a mount); where it fails, the
// program is bound from the plugin directory and exposure() says so.
//
//   AgentBinary agent("/usr/lib/isb/plugins/isb-supervisor", "default");
//   std::string source = agent.source();   // bind source for /.isb/isb-supervisor
//
// THREADING: source() and exposure() may be called from any thread; staging
// happens once, on the first call.
#pragma once

#include <mutex>
#include <string>

namespace isb::docker {

class AgentBinary {
 public:
  //! program: the agent on this host (next to the plugin). Nothing is staged yet.
  AgentBinary(std::string program, std::string instance_id);
  //! Unmounts the staging tmpfs; containers keep their own bind of it.
  ~AgentBinary();
  AgentBinary(const AgentBinary&) = delete;
  AgentBinary& operator=(const AgentBinary&) = delete;

  //! The host path containers bind at /.isb/isb-supervisor: the staged copy,
  //! or the program itself when staging failed.
  std::string source();

  //! "" when the staged copy is used, else what a container's mountinfo shows
  //! of the host and why.
  std::string exposure();

 private:
  void stage_locked();

  const std::string program_;
  const std::string instance_id_;
  std::mutex mu_;
  bool tried_ = false;    // guarded by mu_
  std::string dir_;       // the staging tmpfs, "" unless mounted; guarded by mu_
  std::string exposure_;  // guarded by mu_
};

}  // namespace isb::docker
