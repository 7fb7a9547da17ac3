// server.hpp: the assembled server. Builds everything from a Config: logging,
// state directories, the store, the plugin host, the isolation backend (with
// the docker -> process fallback), the services and the operation registry,
// the cache, the metrics and the front door (a HostApi over the registry and
// a SecurityGate built from the config); then serves one transport until it
// ends or a signal arrives.
//
//   auto server = Server::create(config);
//   if (!server) { ...; return 1; }
//   return (*server)->serve("mcp-stdio") ? 0 : 1;
//
// Threading: create() and serve() from the main thread; request_stop() from any.
#pragma once

#include <isb/core/config.hpp>
#include <isb/core/host_api.hpp>
#include <isb/core/operation_registry.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace isb {

struct ServerOptions {
  //! Plugin directories searched before config and built-in ones (tests).
  std::vector<std::string> extra_plugin_dirs;
  //! Skip the built-in plugin directories (tests that want a controlled set).
  bool only_extra_plugin_dirs = false;
  //! The tools to offer (mcp_config.json "tools"); nullopt: every operation.
  //! Checked against the registry at create(): see OperationRegistry::expose_only.
  std::optional<std::vector<ToolExposure>> exposed_tools;
  //! Where exposed_tools came from, for messages (the MCP config file).
  std::string exposed_tools_source;
  //! The front door's gate; null: create() builds it from the config with
  //! Server::security_gate_for (main builds it first, to tell a bad key list
  //! from a server that cannot start).
  std::shared_ptr<SecurityGate> security_gate;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> create(Config config, ServerOptions options = {});

  //! Makes the state, workspaces, cache and log directories of config (new
  //! ones mode 0700) and checks that each belongs to this user alone. create()
  //! calls it; call it first when something opens files there before create()
  //! (the SecurityGate's audit log), so that it finds them made private.
  static Status prepare_directories(const Config& config);

  //! The SecurityGate for config's security.* keys (opens the audit log:
  //! call prepare_directories first). The one place config becomes gate options.
  static Result<std::shared_ptr<SecurityGate>> security_gate_for(const Config& config);
  ~Server();

  //! Runs the transport plugin with this id until it ends. SIGINT and SIGTERM
  //! stop it; SIGHUP reopens the front door's audit log (the
  //! caller must have blocked them, see block_stop_signals()).
  Status serve(const std::string& transport_id);
  void request_stop();

  const PluginHost& plugins() const;
  const OperationRegistry& operations() const;
  //! What the transport calls back into: the same front door for every
  //! transport, and for a test that calls it as a transport would.
  const HostApi& host_api() const;
  const Config& config() const;

  //! Blocks SIGINT/SIGTERM/SIGHUP in the calling thread (and so in threads it
  //! starts later) so that serve() can wait for them synchronously. Call first in main().
  static void block_stop_signals();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace isb
