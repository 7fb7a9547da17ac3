// server.hpp: the assembled server. Builds everything from a Config: logging,
// state directories, the store, the plugin host, the isolation backend (with
// the docker -> process fallback), the services and the operation registry;
// then serves one transport until it ends or a signal arrives.
//
//   auto server = Server::create(config);
//   if (!server) { ...; return 1; }
//   return (*server)->serve("mcp-stdio") ? 0 : 1;
//
// Threading: create() and serve() from the main thread; request_stop() from any.
#pragma once

#include <isb/core/config.hpp>
#include <isb/core/operation_registry.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>

#include <atomic>
#include <memory>
#include <string>

namespace isb {

struct ServerOptions {
  //! Plugin directories searched before config and built-in ones (tests).
  std::vector<std::string> extra_plugin_dirs;
  //! Skip the built-in plugin directories (tests that want a controlled set).
  bool only_extra_plugin_dirs = false;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> create(Config config, ServerOptions options = {});
  ~Server();

  //! Runs the transport plugin with this id until it ends. SIGINT and SIGTERM
  //! stop it; SIGHUP reopens the installed SecurityGate's audit log (the
  //! caller must have blocked them, see block_stop_signals()).
  Status serve(const std::string& transport_id);
  void request_stop();

  const PluginHost& plugins() const;
  const OperationRegistry& operations() const;
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
