// main.cpp: the intelligent-sandbox command line.
//
//   intelligent-sandbox serve [--config FILE] [--transport stdio|http] [--port N] [--host H]
//                             [--mcp-config FILE] [--dev] [--plugin-dir DIR]...
//   intelligent-sandbox plugins [--config FILE] [--plugin-dir DIR]...
//   intelligent-sandbox doctor [--config FILE] [--plugin-dir DIR]... [--json | --summary]
//   intelligent-sandbox --version
//
// In stdio mode stdout carries protocol messages only: everything serve says
// for humans goes to stderr. plugins and doctor print their reports on stdout.
// host paths only: files the operator names on the command line; nothing here names a path inside a workspace.
#include <isb/plugin_abi.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <isb/core/config.hpp>
#include <isb/core/doctor.hpp>
#include <isb/core/logging.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/serve_settings.hpp>
#include <isb/core/server.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#ifndef ISB_VERSION
#define ISB_VERSION "0.0.0"
#endif

namespace po = boost::program_options;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* kUsage =
    "Usage: intelligent-sandbox <command> [options]\n"
    "\n"
    "Isolated, codebase-aware workspaces for AI agents, served over MCP.\n"
    "\n"
    "Commands:\n"
    "  serve      run the server (default transport: MCP over stdio)\n"
    "  plugins    list the plugins found, with kind, id, version and ABI\n"
    "  doctor     what this host enforces against security.level, with a fix for each problem\n"
    "\n"
    "Options:\n"
    "  -h, --help     show help (also: intelligent-sandbox <command> --help)\n"
    "  --version      print the version and the plugin ABI version\n";

struct CommonOptions {
  std::string config_file;
  std::vector<std::string> plugin_dirs;
};

void add_common(po::options_description& desc, CommonOptions& common) {
  desc.add_options()("help,h", "show this help")(
      "config", po::value(&common.config_file),
      "config file (default: $SANDBOX_CONFIG, then ~/.config/intelligent-sandbox/sandbox.yaml when not root, "
      "then /etc/intelligent-sandbox/sandbox.yaml, then built-in defaults; never the working directory)")(
      "plugin-dir", po::value(&common.plugin_dirs)->composing(),
      "extra plugin directory, searched first (repeatable)");
}

// The configuration, or nullopt after saying why it is invalid.
std::optional<isb::Config> load(const CommonOptions& common) {
  isb::ConfigSource source;
  if (!common.config_file.empty()) source.explicit_file = common.config_file;
  auto config = isb::load_config(source);
  if (!config) {
    std::cerr << "intelligent-sandbox: invalid configuration: " << config.error().message << "\n";
    return std::nullopt;
  }
  return std::move(*config);
}

// plugins and doctor print their findings: the log says errors only, and
// they write into no log file of the server's.
void log_errors_only(const isb::Config& config) {
  isb::LoggingConfig quiet = config.logging;
  quiet.level = "error";
  quiet.file_path.clear();
  (void)isb::logging::init(quiet);
}

int parse_or_usage(const std::vector<std::string>& args, po::options_description& desc, po::variables_map& vm,
                   const char* usage_line) {
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "intelligent-sandbox: " << e.what() << "\n" << usage_line << "\n" << desc;
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << usage_line << "\n" << desc;
    return kExitOk;
  }
  return -1;
}

int cmd_serve(const std::vector<std::string>& args) {
  CommonOptions common;
  std::string mcp_config;
  po::options_description desc("serve options");
  add_common(desc, common);
  desc.add_options()(
      "transport", po::value<std::string>(),
      "transport: stdio (MCP over stdin/stdout, default), http (MCP Streamable HTTP on /mcp), or the "
      "id of a transport plugin")(
      "host", po::value<std::string>(),
      "http: address to listen on (default 127.0.0.1; any other requires API keys)")(
      "port", po::value<int64_t>(), "http: TCP port (default 8080; 0 picks a free one, logged at start)")(
      "mcp-config", po::value(&mcp_config),
      "MCP settings file in the seed's format: server, transport, tools, authentication, rate_limiting "
      "(format: config/mcp_config.json, docs/mcp.md)")(
      "dev", "development: debug logging, and no API key needed while listening on a loopback address");
  po::variables_map vm;
  if (int rc = parse_or_usage(args, desc, vm, "Usage: intelligent-sandbox serve [options]"); rc >= 0)
    return rc;

  auto config = load(common);
  if (!config) return kExitUsage;
  isb::ServeRequest request;
  request.mcp_config_path = mcp_config;
  if (vm.count("transport")) request.transport = vm["transport"].as<std::string>();
  if (vm.count("host")) request.host = vm["host"].as<std::string>();
  if (vm.count("port")) request.port = vm["port"].as<int64_t>();
  request.dev = vm.count("dev") > 0;
  auto serve = isb::resolve_serve_settings(request, *config, geteuid());
  if (!serve) {
    std::cerr << "intelligent-sandbox: " << serve.error().message << "\n";
    return kExitUsage;
  }
  for (const auto& note : serve->notes) std::cerr << "intelligent-sandbox: " << note << "\n";
  isb::ServerOptions options;
  options.exposed_tools = serve->exposed_tools;
  options.exposed_tools_source = serve->exposed_tools_source;
  // Before the gate opens the audit log in one of them.
  if (auto st = isb::Server::prepare_directories(*config); !st) {
    std::cerr << "intelligent-sandbox: cannot start: " << st.error().message << "\n";
    return kExitFailure;
  }
  // Built here rather than in Server::create, so that a bad key list or audit
  // log is told as a configuration error (exit status 2).
  auto gate = isb::Server::security_gate_for(*config);
  if (!gate) {
    std::cerr << "intelligent-sandbox: invalid configuration: " << gate.error().message << "\n";
    return kExitUsage;
  }
  options.security_gate = *gate;
  options.extra_plugin_dirs = common.plugin_dirs;
  auto server = isb::Server::create(std::move(*config), options);
  if (!server) {
    std::cerr << "intelligent-sandbox: cannot start: " << server.error().message << "\n";
    return kExitFailure;
  }
  auto st = (*server)->serve(serve->transport_id);
  if (!st) {
    std::cerr << "intelligent-sandbox: " << st.error().message << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

int cmd_plugins(const std::vector<std::string>& args) {
  CommonOptions common;
  po::options_description desc("plugins options");
  add_common(desc, common);
  po::variables_map vm;
  if (int rc = parse_or_usage(args, desc, vm, "Usage: intelligent-sandbox plugins [options]"); rc >= 0)
    return rc;
  auto config = load(common);
  if (!config) return kExitUsage;
  log_errors_only(*config);
  isb::PluginHost host;
  std::vector<std::string> dirs = common.plugin_dirs;
  dirs.insert(dirs.end(), config->plugins.directories.begin(), config->plugins.directories.end());
  auto builtin = isb::PluginHost::default_directories();
  dirs.insert(dirs.end(), builtin.begin(), builtin.end());
  auto report = host.load_directories(dirs);
  std::printf("%-10s %-12s %-9s %-4s %s\n", "KIND", "ID", "VERSION", "ABI", "PATH");
  for (const auto& p : report.loaded) {
    std::printf("%-10s %-12s %-9s %u.%-2u %s\n", isb::plugin_kind_name(p.kind), p.id.c_str(),
                p.version.c_str(), p.abi_major, p.abi_minor, p.path.c_str());
  }
  for (const auto& r : report.refused) std::printf("refused: %s\n", r.c_str());
  for (const auto& r : report.untrusted) std::printf("refused: %s\n", r.c_str());
  if (!report.untrusted.empty()) return kExitFailure;
  if (report.loaded.empty()) {
    std::string searched;
    for (const auto& d : dirs) searched += (searched.empty() ? "" : ", ") + d;
    std::fprintf(stderr, "no plugins found in: %s\n", searched.c_str());
    return kExitFailure;
  }
  return kExitOk;
}

int cmd_doctor(const std::vector<std::string>& args) {
  CommonOptions common;
  po::options_description desc("doctor options");
  add_common(desc, common);
  desc.add_options()("json", "print the report as one JSON document")(
      "summary", "print only the verdict and the problems with their fixes");
  po::variables_map vm;
  if (int rc = parse_or_usage(args, desc, vm,
                              "Usage: intelligent-sandbox doctor [options]\n"
                              "Exit status: 0 when everything security.level needs is there, 1 when not.");
      rc >= 0)
    return rc;
  if (vm.count("json") && vm.count("summary")) {
    std::cerr << "intelligent-sandbox: doctor takes --json or --summary, not both\n";
    return kExitUsage;
  }
  auto config = load(common);
  if (!config) return kExitUsage;
  log_errors_only(*config);
  auto report = isb::doctor::examine(*config, {.plugin_dirs = common.plugin_dirs});
  if (vm.count("json")) {
    std::cout << boost::json::serialize(report.doc) << "\n";
  } else if (vm.count("summary")) {
    std::cout << isb::doctor::render_summary(report);
  } else {
    std::cout << isb::doctor::render_text(report);
  }
  return report.ok ? kExitOk : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask.
  isb::Server::block_stop_signals();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string cmd = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--version" || cmd == "version") {
    std::printf("intelligent-sandbox %s (plugin ABI %d.%d)\n", ISB_VERSION, ISB_ABI_MAJOR, ISB_ABI_MINOR);
    return kExitOk;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (cmd == "serve") return cmd_serve(rest);
  if (cmd == "plugins") return cmd_plugins(rest);
  if (cmd == "doctor") return cmd_doctor(rest);
  std::cerr << "intelligent-sandbox: unknown command '" << cmd << "'\n\n" << kUsage;
  return kExitUsage;
}
