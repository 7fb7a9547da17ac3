// main.cpp: the intelligent-sandbox command line.
//
//   intelligent-sandbox serve [--config FILE] [--transport stdio] [--plugin-dir DIR]...
//   intelligent-sandbox plugins [--config FILE] [--plugin-dir DIR]...
//   intelligent-sandbox --version
//
// In stdio mode stdout carries protocol messages only: everything this program
// says for humans goes to stderr.
#include <isb/core/config.hpp>
#include <isb/core/logging.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/server.hpp>
#include <isb/plugin_abi.h>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
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
      "config file (default: ./config/sandbox.yaml, then /etc/intelligent-sandbox/sandbox.yaml, then built-in "
      "defaults)")("plugin-dir", po::value(&common.plugin_dirs)->composing(),
                   "extra plugin directory, searched first (repeatable)");
}

isb::Result<isb::Config> load(const CommonOptions& common) {
  isb::ConfigSource source;
  if (!common.config_file.empty()) source.explicit_file = common.config_file;
  return isb::load_config(source);
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
  std::string transport = "stdio";
  po::options_description desc("serve options");
  add_common(desc, common);
  desc.add_options()("transport", po::value(&transport)->default_value("stdio"),
                     "transport: stdio (MCP over stdin/stdout) or the id of a transport plugin");
  po::variables_map vm;
  if (int rc = parse_or_usage(args, desc, vm, "Usage: intelligent-sandbox serve [options]"); rc >= 0) return rc;

  auto config = load(common);
  if (!config) {
    std::cerr << "intelligent-sandbox: invalid configuration: " << config.error().message << "\n";
    return kExitUsage;
  }
  std::string transport_id = transport == "stdio" ? "mcp-stdio" : transport;
  isb::ServerOptions options;
  options.extra_plugin_dirs = common.plugin_dirs;
  auto server = isb::Server::create(std::move(*config), options);
  if (!server) {
    std::cerr << "intelligent-sandbox: cannot start: " << server.error().message << "\n";
    return kExitFailure;
  }
  auto st = (*server)->serve(transport_id);
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
  if (int rc = parse_or_usage(args, desc, vm, "Usage: intelligent-sandbox plugins [options]"); rc >= 0) return rc;
  auto config = load(common);
  if (!config) {
    std::cerr << "intelligent-sandbox: invalid configuration: " << config.error().message << "\n";
    return kExitUsage;
  }
  isb::LoggingConfig quiet = config->logging;
  quiet.level = "error";  // refusals are printed below, not logged twice
  (void)isb::logging::init(quiet);
  isb::PluginHost host;
  std::vector<std::string> dirs = common.plugin_dirs;
  dirs.insert(dirs.end(), config->plugins.directories.begin(), config->plugins.directories.end());
  auto builtin = isb::PluginHost::default_directories();
  dirs.insert(dirs.end(), builtin.begin(), builtin.end());
  auto report = host.load_directories(dirs);
  std::printf("%-10s %-12s %-9s %-4s %s\n", "KIND", "ID", "VERSION", "ABI", "PATH");
  for (const auto& p : report.loaded) {
    std::printf("%-10s %-12s %-9s %u.%-2u %s\n", isb::plugin_kind_name(p.kind), p.id.c_str(), p.version.c_str(),
                p.abi_major, p.abi_minor, p.path.c_str());
  }
  for (const auto& r : report.refused) std::printf("refused: %s\n", r.c_str());
  if (report.loaded.empty()) {
    std::string searched;
    for (const auto& d : dirs) searched += (searched.empty() ? "" : ", ") + d;
    std::fprintf(stderr, "no plugins found in: %s\n", searched.c_str());
    return kExitFailure;
  }
  return kExitOk;
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
  std::cerr << "intelligent-sandbox: unknown command '" << cmd << "'\n\n" << kUsage;
  return kExitUsage;
}
