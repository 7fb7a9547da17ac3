// serve_settings.cpp: the serve command's settings, from its command line, the
// MCP settings file and the config.
// host paths only: the MCP settings file the operator names; nothing here names a path inside a workspace.
#include <boost/asio/ip/address.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <isb/core/mcp_config.hpp>
#include <isb/core/serve_settings.hpp>

#ifndef ISB_VERSION
#define ISB_VERSION "0.0.0"
#endif

namespace isb {
namespace {

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

// Host and port of the HTTP transport into plugins.settings.mcp-http; the
// command line and --mcp-config win over what the settings already say.
// Returns the host it listens on.
std::string settle_http_address(Config& config, const std::string& host, int64_t port, bool host_given,
                                bool port_given) {
  boost::json::object settings;
  auto it = config.plugins.settings_json.find("mcp-http");
  if (it != config.plugins.settings_json.end()) {
    boost::system::error_code ec;
    auto v = boost::json::parse(it->second, ec);
    if (!ec && v.is_object()) settings = v.as_object();
  }
  if (host_given || !settings.contains("host")) settings["host"] = host;
  if (port_given || !settings.contains("port")) settings["port"] = port;
  std::string listen = std::string(settings["host"].as_string());
  config.plugins.settings_json["mcp-http"] = boost::json::serialize(settings);
  return listen;
}

}  // namespace

std::string transport_plugin_id(const std::string& name) {
  if (name == "stdio") return "mcp-stdio";
  if (name == "http") return "mcp-http";
  return name;
}

Result<ServeSettings> resolve_serve_settings(const ServeRequest& request, Config& config, uid_t uid) {
  std::string transport = "stdio";
  std::string host = "127.0.0.1";
  int64_t port = 8080;
  std::optional<McpConfig> mcp;
  if (!request.mcp_config_path.empty()) {
    auto m = load_mcp_config(request.mcp_config_path, uid);
    if (!m) return make_error(m.error().code, "invalid MCP configuration: " + m.error().message);
    mcp = std::move(*m);
    if (mcp->transport) transport = *mcp->transport;
    if (mcp->host) host = *mcp->host;
    if (mcp->port) port = *mcp->port;
  }
  if (request.transport) transport = *request.transport;
  if (request.host) host = *request.host;
  if (request.port) port = *request.port;
  if (port < 0 || port > 65535)
    return make_error(ErrorCode::kInvalidArgument, "--port must be from 0 to 65535");

  ServeSettings out;
  out.transport_id = transport_plugin_id(transport);
  if (mcp) {
    auto notes = apply_mcp_config(*mcp, config, out.transport_id);
    if (!notes) return make_error(notes.error().code, "invalid MCP configuration: " + notes.error().message);
    for (const auto& n : *notes) out.notes.push_back("note: " + n);
    if (mcp->server_version && *mcp->server_version != ISB_VERSION) {
      out.notes.push_back("note: " + request.mcp_config_path + ": server.version is " + *mcp->server_version +
                          ", this server is " + ISB_VERSION + "; clients are told " + ISB_VERSION);
    }
    out.exposed_tools = mcp->tools;
    out.exposed_tools_source = request.mcp_config_path;
  }
  if (out.transport_id == "mcp-http") {
    const bool file = !request.mcp_config_path.empty();
    host = settle_http_address(config, host, port, file || request.host.has_value(),
                               file || request.port.has_value());
  }
  if (request.dev) {
    config.logging.level = "debug";
    bool local =
        out.transport_id == "mcp-stdio" || (out.transport_id == "mcp-http" && is_loopback_host(host));
    if (local) {
      config.security.api_keys.clear();
      out.notes.push_back("--dev: API keys are not checked on this loopback/stdio server");
    } else {
      out.notes.push_back("--dev: " + host + " is not a loopback address, API keys stay required");
    }
  }
  // API keys guard network front doors. A stdio server's one client is the
  // process that started it (trusted: docs/security.md), and no stdio client
  // can send a key; the seed's .env sets SANDBOX_API_KEY for its HTTP
  // deployment, so the same environment must still serve over stdio.
  if (out.transport_id == "mcp-stdio" && !config.security.api_keys.empty()) {
    out.notes.push_back(
        "API keys are configured; they apply to HTTP (--transport http). This stdio server serves the "
        "process "
        "that started it, without a key");
    config.security.api_keys.clear();
  }
  return out;
}

}  // namespace isb
