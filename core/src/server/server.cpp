// server.cpp: assembly of the server and the serve loop.
// host paths only: the server's state directories; nothing here names a path inside a workspace.
#include <isb/core/server.hpp>

#include <isb/core/analysis_service.hpp>
#include <isb/core/execution_service.hpp>
#include <isb/core/file_cache.hpp>
#include <isb/core/isolation_backends.hpp>
#include <isb/core/logging.hpp>
#include <isb/core/plan_service.hpp>
#include <isb/core/security.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_service.hpp>

#include "config/path_trust.hpp"
#include "metrics/metrics_registry.hpp"
#include "operations/operations.hpp"
#include "server/periodic_task.hpp"

#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <map>
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
  // After the registry it reads, before the transport that calls it.
  std::unique_ptr<HostApi> host_api;
  std::unique_ptr<PluginHost> host;
  std::unique_ptr<Store> store;
  std::string requested_backend;
  IsolationBackends backends;
  std::unique_ptr<FileCache> cache;  // before the services that use it, so it outlives them
  std::unique_ptr<WorkspaceService> workspaces;
  std::unique_ptr<AnalysisService> analysis;
  std::unique_ptr<PlanService> plans;
  std::unique_ptr<ExecutionService> executions;
  std::unique_ptr<metrics::MetricsRegistry> metrics;  // null unless performance.monitoring_enabled
  std::atomic<bool> stop_requested{false};
  std::shared_ptr<TransportPlugin> transport;
  std::mutex transport_mu;
  // Last, so that they stop before anything they use is destroyed.
  std::unique_ptr<PeriodicTask> cache_sweep;
  std::unique_ptr<PeriodicTask> metrics_log;

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
    auto probe_of = [](const IsolationPlugin& b) -> json::object {
      auto probe = b.probe();
      if (probe && probe->is_object()) return probe->as_object();
      return json::object{{"available", false}, {"error", probe ? "probe is not an object" : probe.error().message}};
    };
    json::array available;
    for (const auto& id : backends.ids()) {
      auto b = backends.get(id);
      json::object p = probe_of(*b);
      available.push_back(json::object{{"id", id}, {"available", p.contains("available") ? p.at("available") : false}});
    }
    const IsolationPlugin& def = backends.default_backend();
    json::object isolation{{"backend", def.info().id},
                           {"requested", requested_backend},
                           {"backends", available},
                           {"probe", probe_of(def)}};
    if (auto a = backends.assess(def, config.security.level)) {
      isolation["enforced"] = a->summary.at("enforced");
      isolation["status"] = a->summary.at("status");
      isolation["missing_for_level"] = a->summary.at("missing_for_level");
    }
    if (!backends.note().empty()) isolation["note"] = backends.note();
    isolation["disk_limit"] = workspaces->disk_limit_enforcement();
    json::array required;
    for (const auto& r : required_protections(config.security.level)) required.push_back(json::value(r));
    auto active = store->count_active_workspaces();
    json::object metrics_doc = metrics ? metrics->to_json() : json::object{};
    metrics_doc["enabled"] = metrics != nullptr;
    return json::object{
        {"server", json::object{{"name", "intelligent-sandbox"},
                                {"version", ISB_VERSION},
                                {"uptime_s", (now_ms() - started_at) / 1000}}},
        {"config_source", config.source},
        {"config_origin", config.source_origin},
        {"state_dir", config.state_dir()},
        {"paths", json::object{{"state_dir", config.state_dir()},
                               {"workspaces_dir", config.workspaces_dir()},
                               {"cache_dir", config.cache_dir()},
                               {"log_file", config.logging.file_path},
                               {"audit_log", config.audit_log_path()}}},
        {"cache", cache->status()},
        {"metrics", std::move(metrics_doc)},
        {"security", json::object{{"level", security_level_name(config.security.level)},
                                  {"allow_degraded", config.security.allow_degraded},
                                  {"required_protections", required}}},
        {"isolation", isolation},
        {"plugins", plugins},
        {"workspaces",
         json::object{{"active", active ? *active : 0}, {"max", config.sandbox.max_workspaces}}},
        {"store", json::object{{"path", store->path()}, {"schema_version", store->schema_version()}}}};
  }

  // The cache sweep, and with performance.monitoring_enabled the metrics:
  // every operation call observed, gauges, a summary line per metrics_interval.
  void start_background_tasks() {
    if (config.cache.enabled) {
      FileCache::SweepReport first = cache->sweep();  // what a previous run left past its ttl or size
      if (first.expired + first.evicted > 0)
        spdlog::info("cache: removed {} expired and {} least recently used entries", first.expired,
                     first.evicted);
      cache_sweep =
          std::make_unique<PeriodicTask>(std::chrono::seconds(config.cache.cleanup_interval), [this] {
            FileCache::SweepReport r = cache->sweep();
            if (r.expired + r.evicted > 0)
              spdlog::info("cache: removed {} expired and {} least recently used entries ({} bytes)",
                           r.expired, r.evicted, r.bytes_freed);
          });
    }
    if (!config.performance.monitoring_enabled) return;
    metrics = std::make_unique<metrics::MetricsRegistry>();
    metrics::MetricsRegistry* m = metrics.get();
    registry.set_observer([m](const std::string& name, std::chrono::nanoseconds took, const Error* error) {
      m->observe_operation(name, took, error);
    });
    Store* db = store.get();
    m->add_gauge("workspaces_active", [db] {
      auto n = db->count_active_workspaces();
      return n ? static_cast<double>(*n) : 0.0;
    });
    auto executions_with = [db](bool running) {
      return [db, running] {
        auto counts = db->count_executions_by_status();
        double total = 0;
        if (counts) {
          for (const auto& [status, n] : *counts) {
            if (!running || status == "running") total += static_cast<double>(n);
          }
        }
        return total;
      };
    };
    m->add_gauge("executions_running", executions_with(true));
    m->add_gauge("executions_total", executions_with(false));
    m->add_gauge("process_rss_bytes", &metrics::process_rss_bytes);
    metrics_log = std::make_unique<PeriodicTask>(std::chrono::seconds(config.performance.metrics_interval),
                                                 [m] { spdlog::info("{}", m->summary_line()); });
  }

  // Loads the plugins of the extra, configured and built-in directories, and
  // checks plugins.required. A directory or file another user could change
  // refuses the start.
  Status load_plugins(const ServerOptions& options) {
    host = std::make_unique<PluginHost>();
    std::vector<std::string> dirs = options.extra_plugin_dirs;
    dirs.insert(dirs.end(), config.plugins.directories.begin(), config.plugins.directories.end());
    if (!options.only_extra_plugin_dirs) {
      auto builtin = PluginHost::default_directories();
      dirs.insert(dirs.end(), builtin.begin(), builtin.end());
    }
    auto report = host->load_directories(dirs);
    if (!report.untrusted.empty()) {
      std::string all;
      for (const auto& m : report.untrusted) all += (all.empty() ? "" : "; ") + m;
      return make_error(ErrorCode::kInvalidConfig, all);
    }
    spdlog::info("loaded {} plugins ({} refused) from {} directories", report.loaded.size(), report.refused.size(),
                 dirs.size());
    for (const auto& id : config.plugins.required) {
      if (!host->find(id)) {
        return make_error(ErrorCode::kInvalidConfig, "plugins.required lists '" + id +
                                                         "' but no such plugin was loaded from: " +
                                                         [&] {
                                                           std::string s;
                                                           for (const auto& d : dirs) s += (s.empty() ? "" : ", ") + d;
                                                           return s;
                                                         }());
      }
    }
    return ok_status();
  }

  static bool probe_available(const IsolationPlugin& b, std::string* why) {
    auto probe = b.probe();
    if (!probe) {
      *why = probe.error().message;
      return false;
    }
    const json::value* a = probe->is_object() ? probe->as_object().if_contains("available") : nullptr;
    if (a && a->is_bool() && a->as_bool()) return true;
    const json::value* reason = probe->is_object() ? probe->as_object().if_contains("error") : nullptr;
    *why = reason && reason->is_string() ? std::string(reason->as_string())
                                         : "the backend reports it is not available on this host";
    return false;
  }

  // Instantiates every isolation plugin and picks the default: the configured
  // backend, or process when the configured one is unusable and
  // isolation.fallback_isolation allows it.
  Status load_isolation() {
    requested_backend = config.isolation.backend;
    std::map<std::string, std::string> unavailable;  // id -> why
    for (const auto& id : host->ids_of_kind(ISB_KIND_ISOLATION)) {
      auto inst = host->create(id, ISB_KIND_ISOLATION, plugin_settings(id));
      if (!inst) {
        unavailable[id] = inst.error().message;
        spdlog::warn("isolation backend {} not usable: {}", id, inst.error().message);
        continue;
      }
      IsolationPlugin backend(*inst);
      std::string why;
      if (!probe_available(backend, &why)) {
        unavailable[id] = why;
        spdlog::warn("isolation backend {} not available here: {}", id, why);
        continue;
      }
      backends.add(std::move(backend));
    }
    auto choice =
        choose_default_backend(requested_backend, config.isolation.fallback_isolation, backends.ids(), unavailable);
    if (!choice) return choice.error();
    if (!choice->note.empty()) spdlog::warn("{}", choice->note);
    backends.set_default(choice->id, choice->note);
    return ok_status();
  }
};

Status Server::prepare_directories(const Config& cfg) {
  const uid_t uid = geteuid();
  // base_dir may be a shared place the operator chose (it may be the state
  // directory itself, made private below); only what the server keeps in it
  // must be its own.
  if (cfg.sandbox.base_dir != cfg.state_dir()) {
    std::error_code ec;
    fs::create_directories(cfg.sandbox.base_dir, ec);  // host path: the operator's base_dir
    if (ec) {
      return make_error(ErrorCode::kUnavailable, "cannot create sandbox.base_dir " + cfg.sandbox.base_dir +
                                                     ": " + ec.message() +
                                                     "; set it (SANDBOX_BASE_DIR) to a writable place");
    }
  }
  struct Dir {
    std::string path;
    const char* what;
    const char* key;
  };
  std::vector<Dir> dirs = {{cfg.state_dir(), "state directory", "sandbox.state_dir"},
                           {cfg.workspaces_dir(), "workspaces directory", "sandbox.base_dir"}};
  if (cfg.cache.enabled) dirs.push_back({cfg.cache_dir(), "cache directory", "cache.cache_dir"});
  if (!cfg.log_dir.empty())
    dirs.push_back({cfg.log_dir, "log directory", "logging.file_path and security.audit_log_path"});
  for (const Dir& d : dirs) {
    if (Status st = config_internal::ensure_owned_directory(d.path, d.what, d.key, uid); !st) return st;
  }
  return ok_status();
}

Result<std::shared_ptr<SecurityGate>> Server::security_gate_for(const Config& config) {
  SecurityOptions o;
  o.api_keys = config.security.api_keys;
  o.requests_per_minute = config.security.rate_limit.requests_per_minute;
  o.burst = config.security.rate_limit.burst;
  o.rate_limit_exempt_transports = config.security.rate_limit.exempt_transports;
  o.audit_logging = config.security.audit_logging;
  o.audit_log_path = config.audit_log_path();
  o.auth_failure_threshold = config.security.auth_failures.threshold;
  o.auth_backoff_max_s = config.security.auth_failures.backoff_max_s;
  o.auth_failure_reset_s = config.security.auth_failures.reset_after_s;
  o.audit_sample_threshold = config.security.audit_sampling.threshold;
  o.audit_max_size_mb = config.security.audit_rotation.max_size_mb;
  o.audit_backup_count = config.security.audit_rotation.backup_count;
  return SecurityGate::create(o);
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  // Executions first: they run in the sandboxes released next.
  if (impl_ && impl_->executions) impl_->executions->shutdown();
  if (impl_ && impl_->workspaces) impl_->workspaces->release_sandboxes();
}

const PluginHost& Server::plugins() const { return *impl_->host; }
const OperationRegistry& Server::operations() const { return impl_->registry; }
const HostApi& Server::host_api() const { return *impl_->host_api; }
const Config& Server::config() const { return impl_->config; }

void Server::block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // SIGHUP reopens the audit log (serve() waits for it); blocked here so that
  // it never ends the process, also before serve() starts.
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A client that goes away must not kill the server with SIGPIPE mid-write.
  signal(SIGPIPE, SIG_IGN);
}

Result<std::unique_ptr<Server>> Server::create(Config config, ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  const Config& cfg = impl->config;
  if (cfg.sandbox.base_dir.empty()) {
    return make_error(
        ErrorCode::kInvalidConfig,
        "sandbox.base_dir is empty: a Config must come from load_config (which fills in the state "
        "layout) or set base_dir itself");
  }
  // The server's own directories, before the log file opens in one of them.
  // Each must belong to this user alone: a directory another user made (an
  // earlier run with sudo) gets an error saying whose it is and what to do.
  if (Status st = prepare_directories(cfg); !st) return st.error();
  if (auto st = logging::init(cfg.logging); !st) return st.error();
  spdlog::info("configuration: {}{}", cfg.source,
               cfg.source_origin.empty() ? "" : " (" + cfg.source_origin + ")");
  spdlog::info("state: {}; workspaces: {}; cache: {}; log: {}; audit log: {}", cfg.state_dir(),
               cfg.workspaces_dir(), cfg.cache_dir(),
               cfg.logging.file_path.empty() ? "stderr only" : cfg.logging.file_path, cfg.audit_log_path());
  if (!cfg.security.allowed_endpoints.empty()) {
    // Fail-closed, and said: the seed's list must load, but nothing reaches it.
    spdlog::warn(
        "security.allowed_endpoints lists {} endpoints, but workspaces have no network at all here (loopback "
        "only): nothing on the list is reachable from a workspace",
        cfg.security.allowed_endpoints.size());
  }
  std::shared_ptr<SecurityGate> gate = options.security_gate;
  if (!gate) {
    auto made = security_gate_for(cfg);
    if (!made) return made.error();
    gate = std::move(*made);
  }
  impl->host_api = std::make_unique<HostApi>(impl->registry, std::move(gate));
  auto store = Store::open((fs::path(cfg.state_dir()) / "sandbox.db").string());
  if (!store) return store.error();
  impl->store = std::move(*store);

  if (auto st = impl->load_plugins(options); !st) return st.error();
  if (auto st = impl->load_isolation(); !st) return st.error();

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

  impl->cache = std::make_unique<FileCache>(FileCacheOptions{.dir = cfg.cache_dir(),
                                                             .enabled = cfg.cache.enabled,
                                                             .max_bytes = cfg.cache.max_size_mb * 1024 * 1024,
                                                             .ttl = std::chrono::seconds(cfg.cache.ttl)});
  impl->workspaces = std::make_unique<WorkspaceService>(cfg, *impl->store, impl->backends);
  impl->analysis = std::make_unique<AnalysisService>(*impl->store, *impl->workspaces, std::move(analyzers),
                                                     impl->cache.get());
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
  if (options.exposed_tools) {
    if (auto st = impl->registry.expose_only(*options.exposed_tools, options.exposed_tools_source); !st)
      return st.error();
    spdlog::info("tools: only the {} listed in {}", options.exposed_tools->size(),
                 options.exposed_tools_source);
  }
  impl->start_background_tasks();

  impl->workspaces->restore_sandboxes();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::request_stop() {
  impl_->stop_requested = true;
  std::lock_guard<std::mutex> lock(impl_->transport_mu);
  if (impl_->transport) (void)impl_->transport->stop();
}

Status Server::serve(const std::string& transport_id) {
  auto inst = impl_->host->create(transport_id, ISB_KIND_TRANSPORT, impl_->plugin_settings(transport_id),
                                 impl_->host_api.get());
  if (!inst) return inst.error();
  {
    std::lock_guard<std::mutex> lock(impl_->transport_mu);
    impl_->transport = std::make_shared<TransportPlugin>(*inst);
  }
  // Waits for SIGINT/SIGTERM (blocked by block_stop_signals) and stops the
  // transport; SIGHUP reopens the audit log, for logrotate's postrotate.
  std::atomic<bool> serving{true};
  std::thread signals([this, &serving] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    timespec tick{0, 200 * 1000 * 1000};
    while (serving) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig == SIGHUP) {
        if (SecurityGate* gate = impl_->host_api->gate()) {
          if (auto st = gate->reopen_audit_log(); !st) {
            spdlog::error("SIGHUP: {}", st.error().message);
          } else {
            spdlog::info("SIGHUP: audit log reopened");
          }
        }
        continue;
      }
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
  // Background executions end with the server (recorded as cancelled: the
  // server stopped), before their sandboxes go.
  impl_->executions->shutdown();
  impl_->workspaces->release_sandboxes();
  spdlog::info("transport {} ended", transport_id);
  return result;
}

}  // namespace isb
