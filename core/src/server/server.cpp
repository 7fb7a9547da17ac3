// server.cpp: assembly of the server and the serve loop.
#include <isb/core/server.hpp>

#include <isb/core/analysis_service.hpp>
#include <isb/core/execution_service.hpp>
#include <isb/core/logging.hpp>
#include <isb/core/plan_service.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_service.hpp>

#include "operations/operations.hpp"

#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <thread>

#ifndef ISB_VERSION
#define ISB_VERSION "0.0.0"
#endif

namespace fs = std::filesystem;
namespace json = boost::json;

namespace isb {

struct Server::Impl {
  Config config;
  int64_t started_at = now_ms();
  OperationRegistry registry;
  std::unique_ptr<PluginHost> host;
  std::unique_ptr<Store> store;
  std::string requested_backend;
  std::string backend_note;
  std::unique_ptr<WorkspaceService> workspaces;
  std::unique_ptr<AnalysisService> analysis;
  std::unique_ptr<PlanService> plans;
  std::unique_ptr<ExecutionService> executions;
  std::atomic<bool> stop_requested{false};
  std::shared_ptr<TransportPlugin> transport;
  std::mutex transport_mu;

  json::value plugin_settings(const std::string& id) const {
    auto it = config.plugins.settings_json.find(id);
    if (it == config.plugins.settings_json.end()) return json::object{};
    boost::system::error_code ec;
    auto v = json::parse(it->second, ec);
    return ec ? json::value(json::object{}) : v;
  }

  Result<json::object> status() const {
    json::array plugins;
    for (const auto& p : host->plugins()) {
      plugins.push_back(json::object{{"id", p.id},
                                     {"name", p.name},
                                     {"kind", plugin_kind_name(p.kind)},
                                     {"version", p.version},
                                     {"abi", std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor)},
                                     {"path", p.path}});
    }
    auto probe = workspaces->isolation().probe();
    json::object isolation{{"backend", workspaces->isolation().info().id},
                           {"requested", requested_backend},
                           {"probe", probe && probe->is_object() ? probe->as_object()
                                                                 : json::object{{"error", probe ? "not an object"
                                                                                                : probe.error().message}}}};
    if (!backend_note.empty()) isolation["note"] = backend_note;
    auto active = store->count_active_workspaces();
    return json::object{{"server", json::object{{"name", "intelligent-sandbox"},
                                                {"version", ISB_VERSION},
                                                {"uptime_s", (now_ms() - started_at) / 1000}}},
                        {"config_source", config.source},
                        {"state_dir", config.state_dir()},
                        {"isolation", isolation},
                        {"plugins", plugins},
                        {"workspaces", json::object{{"active", active ? *active : 0},
                                                    {"max", config.sandbox.max_workspaces}}},
                        {"store", json::object{{"path", store->path()}, {"schema_version", store->schema_version()}}}};
  }

  // Picks the isolation backend: the configured one, or process when docker
  // was asked for, cannot be used, and fallback_isolation allows it.
  Result<IsolationPlugin> choose_isolation() {
    requested_backend = config.isolation.backend;
    std::string why_not;
    if (host->find(requested_backend)) {
      auto inst = host->create(requested_backend, ISB_KIND_ISOLATION, plugin_settings(requested_backend));
      if (inst) {
        IsolationPlugin iso(*inst);
        auto probe = iso.probe();
        bool available = probe && probe->is_object() && probe->as_object().contains("available") &&
                         probe->as_object().at("available").is_bool() && probe->as_object().at("available").as_bool();
        if (available) return iso;
        why_not = probe ? "the backend reports it is not available on this host" : probe.error().message;
      } else {
        why_not = inst.error().message;
      }
    } else {
      why_not = "no isolation plugin '" + requested_backend + "' is loaded";
    }
    if (requested_backend != "process" && config.isolation.fallback_isolation && host->find("process")) {
      backend_note = "isolation backend '" + requested_backend + "' is unavailable (" + why_not +
                     "); using the process backend because isolation.fallback_isolation is true";
      spdlog::warn("{}", backend_note);
      auto inst = host->create("process", ISB_KIND_ISOLATION, plugin_settings("process"));
      if (!inst) return inst.error();
      return IsolationPlugin(*inst);
    }
    return make_error(ErrorCode::kUnavailable,
                      "isolation backend '" + requested_backend + "' is unavailable: " + why_not +
                          (requested_backend != "process" ? "; set isolation.fallback_isolation: true to use the "
                                                            "process backend instead"
                                                          : ""));
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_ && impl_->workspaces) impl_->workspaces->release_sandboxes();
}

const PluginHost& Server::plugins() const { return *impl_->host; }
const OperationRegistry& Server::operations() const { return impl_->registry; }
const Config& Server::config() const { return impl_->config; }

void Server::block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A client that goes away must not kill the server with SIGPIPE mid-write.
  signal(SIGPIPE, SIG_IGN);
}

Result<std::unique_ptr<Server>> Server::create(Config config, ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  const Config& cfg = impl->config;
  if (auto st = logging::init(cfg.logging); !st) return st.error();

  for (const auto& dir : {cfg.sandbox.base_dir, cfg.workspaces_dir(), cfg.state_dir()}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return make_error(ErrorCode::kUnavailable, "cannot create directory " + dir + ": " + ec.message() +
                                                     "; set sandbox.base_dir (SANDBOX_BASE_DIR) to a writable place");
    }
  }
  auto store = Store::open((fs::path(cfg.state_dir()) / "sandbox.db").string());
  if (!store) return store.error();
  impl->store = std::move(*store);

  impl->host = std::make_unique<PluginHost>(&impl->registry);
  std::vector<std::string> dirs = options.extra_plugin_dirs;
  dirs.insert(dirs.end(), cfg.plugins.directories.begin(), cfg.plugins.directories.end());
  if (!options.only_extra_plugin_dirs) {
    auto builtin = PluginHost::default_directories();
    dirs.insert(dirs.end(), builtin.begin(), builtin.end());
  }
  auto report = impl->host->load_directories(dirs);
  spdlog::info("loaded {} plugins ({} refused) from {} directories", report.loaded.size(), report.refused.size(),
               dirs.size());
  for (const auto& id : cfg.plugins.required) {
    if (!impl->host->find(id)) {
      return make_error(ErrorCode::kInvalidConfig, "plugins.required lists '" + id +
                                                       "' but no such plugin was loaded from: " +
                                                       [&] {
                                                         std::string s;
                                                         for (const auto& d : dirs) s += (s.empty() ? "" : ", ") + d;
                                                         return s;
                                                       }());
    }
  }

  auto isolation = impl->choose_isolation();
  if (!isolation) return isolation.error();

  std::vector<AnalyzerPlugin> analyzers;
  for (const auto& id : impl->host->ids_of_kind(ISB_KIND_ANALYZER)) {
    auto inst = impl->host->create(id, ISB_KIND_ANALYZER, impl->plugin_settings(id));
    if (!inst) return inst.error();
    analyzers.emplace_back(*inst);
  }
  std::vector<std::string> planner_ids =
      cfg.plugins.planners.empty() ? impl->host->ids_of_kind(ISB_KIND_PLANNER) : cfg.plugins.planners;
  std::vector<PlannerPlugin> planners;
  for (const auto& id : planner_ids) {
    auto inst = impl->host->create(id, ISB_KIND_PLANNER, impl->plugin_settings(id));
    if (!inst) return make_error(inst.error().code, "plugins.planners: " + inst.error().message);
    planners.emplace_back(*inst);
  }

  impl->workspaces = std::make_unique<WorkspaceService>(cfg, *impl->store, *isolation, impl->backend_note);
  impl->analysis = std::make_unique<AnalysisService>(*impl->store, *impl->workspaces, std::move(analyzers));
  impl->plans = std::make_unique<PlanService>(*impl->store, *impl->workspaces, *impl->analysis, std::move(planners));
  impl->executions = std::make_unique<ExecutionService>(cfg, *impl->store, *impl->workspaces, *impl->plans);

  operations::Services services;
  services.workspaces = impl->workspaces.get();
  services.analysis = impl->analysis.get();
  services.plans = impl->plans.get();
  services.executions = impl->executions.get();
  Impl* raw = impl.get();
  services.status = [raw] { return raw->status(); };
  if (auto st = operations::register_all(impl->registry, services); !st) return st.error();

  impl->workspaces->restore_sandboxes();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::request_stop() {
  impl_->stop_requested = true;
  std::lock_guard<std::mutex> lock(impl_->transport_mu);
  if (impl_->transport) (void)impl_->transport->stop();
}

Status Server::serve(const std::string& transport_id) {
  auto inst = impl_->host->create(transport_id, ISB_KIND_TRANSPORT, impl_->plugin_settings(transport_id));
  if (!inst) return inst.error();
  {
    std::lock_guard<std::mutex> lock(impl_->transport_mu);
    impl_->transport = std::make_shared<TransportPlugin>(*inst);
  }
  // Waits for SIGINT/SIGTERM (blocked by block_stop_signals) and stops the transport.
  std::atomic<bool> serving{true};
  std::thread signals([this, &serving] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    timespec tick{0, 200 * 1000 * 1000};
    while (serving) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig > 0) {
        spdlog::info("signal {} received; stopping", sig);
        request_stop();
        return;
      }
    }
  });
  spdlog::info("serving on transport {}", transport_id);
  Status result = impl_->stop_requested ? ok_status() : impl_->transport->serve();
  serving = false;
  signals.join();
  {
    std::lock_guard<std::mutex> lock(impl_->transport_mu);
    impl_->transport.reset();
  }
  impl_->workspaces->release_sandboxes();
  spdlog::info("transport {} ended", transport_id);
  return result;
}

}  // namespace isb
