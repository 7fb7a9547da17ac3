// plugin_host.cpp: plugin discovery and loading on Boost.DLL, ABI checks, and
// the host API handed to each plugin instance.
// host paths only: plugin directories the operator configures; nothing here names a path inside a workspace.
#include <isb/core/host_api.hpp>
#include <isb/core/plugin_host.hpp>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <regex>

#include "config/path_trust.hpp"
#include "plugins/host_context.hpp"

#ifndef ISB_VERSION
#define ISB_VERSION "0.0.0"
#endif
#ifndef ISB_PLUGIN_SUBDIR
#define ISB_PLUGIN_SUBDIR "lib/intelligent-sandbox/plugins"
#endif
#ifndef ISB_INSTALL_PREFIX
#define ISB_INSTALL_PREFIX "/usr/local"
#endif

namespace fs = std::filesystem;

namespace isb {

//! Keeps one shared library loaded; every descriptor pointer and every
//! instance of the plugin holds a reference.
class LoadedLibrary {
 public:
  explicit LoadedLibrary(boost::dll::shared_library lib) : lib_(std::move(lib)) {}
  boost::dll::shared_library& lib() { return lib_; }

 private:
  boost::dll::shared_library lib_;
};

const char* plugin_kind_name(int32_t kind) {
  switch (kind) {
    case ISB_KIND_ISOLATION: return "isolation";
    case ISB_KIND_ANALYZER: return "analyzer";
    case ISB_KIND_PLANNER: return "planner";
    case ISB_KIND_TRANSPORT: return "transport";
  }
  return "unknown";
}

namespace {

#define ISB_STRINGIFY_(x) #x
#define ISB_STRINGIFY(x) ISB_STRINGIFY_(x)
const char* kHostInfo = "{\"name\":\"intelligent-sandbox\",\"version\":\"" ISB_VERSION "\",\"abi\":\"" ISB_STRINGIFY(
    ISB_ABI_MAJOR) "." ISB_STRINGIFY(ISB_ABI_MINOR) "\"}";

// Smallest sizes a v1.0 plugin may report: everything up to the last v1.0 field.
constexpr size_t kDescriptorV1Size = offsetof(isb_plugin_descriptor, kind_api) + sizeof(void*);

// The first minor whose analyzer table has analyze_tree.
constexpr uint16_t kAnalyzeTreeMinor = 2;

// The smallest kind table a plugin claiming ABI 1.<minor> may report.
size_t kind_api_min_size(int32_t kind, uint16_t minor) {
  switch (kind) {
    case ISB_KIND_ISOLATION:  // sandbox_status (1.2) may be NULL, but a 1.2 table reaches it
      return minor >= 2 ? sizeof(isb_isolation_api) : offsetof(isb_isolation_api, sandbox_status);
    case ISB_KIND_ANALYZER:
      return minor >= kAnalyzeTreeMinor ? sizeof(isb_analyzer_api) : offsetof(isb_analyzer_api, analyze_tree);
    case ISB_KIND_PLANNER: return sizeof(isb_planner_api);
    case ISB_KIND_TRANSPORT: return sizeof(isb_transport_api);
  }
  return 0;
}

// Every function pointer the plugin's ABI minor requires of the kind table must be set.
bool kind_api_complete(int32_t kind, uint16_t minor, const void* api) {
  switch (kind) {
    case ISB_KIND_ISOLATION: {
      auto* a = static_cast<const isb_isolation_api*>(api);
      return a->probe && a->sandbox_create && a->sandbox_exec && a->sandbox_destroy && a->reconcile;
    }
    case ISB_KIND_ANALYZER: {
      // Since 1.2 the path form is deprecated and may be NULL; the fd form is required.
      auto* a = static_cast<const isb_analyzer_api*>(api);
      return minor >= kAnalyzeTreeMinor ? a->analyze_tree != nullptr : a->analyze != nullptr;
    }
    case ISB_KIND_PLANNER: return static_cast<const isb_planner_api*>(api)->plan != nullptr;
    case ISB_KIND_TRANSPORT: {
      auto* a = static_cast<const isb_transport_api*>(api);
      return a->serve && a->stop;
    }
  }
  return false;
}

ErrorCode code_from_status(isb_status s) {
  switch (s) {
    case ISB_INVALID_ARGUMENT: return ErrorCode::kInvalidArgument;
    case ISB_INVALID_CONFIG: return ErrorCode::kInvalidConfig;
    case ISB_NOT_SUPPORTED: return ErrorCode::kFailedPrecondition;
    case ISB_TIMEOUT: return ErrorCode::kTimeout;
    case ISB_CANCELLED: return ErrorCode::kCancelled;
    case ISB_UNAVAILABLE: return ErrorCode::kUnavailable;
    case ISB_NOT_FOUND: return ErrorCode::kNotFound;
    default: return ErrorCode::kInternal;
  }
}

// ---- the host API every plugin gets (C calling convention, never throws); a
// transport's call_operation and admit are the front door's (host_api/).

void host_log(void* ctx, int32_t level, const char* message) {
  try {
    auto* hc = static_cast<HostContext*>(ctx);
    const char* id = hc ? hc->plugin_id.c_str() : "?";
    const char* m = message ? message : "";
    switch (level) {
      case ISB_LOG_TRACE: spdlog::trace("[{}] {}", id, m); break;
      case ISB_LOG_DEBUG: spdlog::debug("[{}] {}", id, m); break;
      case ISB_LOG_INFO: spdlog::info("[{}] {}", id, m); break;
      case ISB_LOG_WARN: spdlog::warn("[{}] {}", id, m); break;
      default: spdlog::error("[{}] {}", id, m); break;
    }
  } catch (...) {
    // Logging must never take the plugin down.
  }
}

thread_local isb_status t_last_status = ISB_OK;

}  // namespace

// ---------------------------------------------------------------- PluginInstance

PluginInstance::~PluginInstance() {
  if (instance_ && descriptor_) descriptor_->destroy(instance_);
  // library_ is released after the instance is gone (member order is not
  // relied on: the shared_ptr reset happens here explicitly).
  instance_ = nullptr;
  library_.reset();
}

isb_status PluginInstance::last_status() { return t_last_status; }

Error PluginInstance::error_from(const char* what, isb_status s) const {
  t_last_status = s;
  const char* msg = descriptor_->last_error(instance_);
  std::string m = msg && *msg ? msg : "no details given";
  return make_error(code_from_status(s), m);
}

Result<std::string> PluginInstance::call(const char* what,
                                         const std::function<isb_status(isb_instance*, const isb_json_out*)>& fn) const {
  std::string doc;
  isb_json_out out{sizeof(isb_json_out), &doc,
                   [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
  std::unique_lock<std::mutex> lock(call_mu_, std::defer_lock);
  if (serialize_) lock.lock();
  isb_status s = fn(instance_, &out);
  if (s != ISB_OK) return error_from(what, s);
  t_last_status = ISB_OK;
  return doc;
}

Status PluginInstance::call_unserialized(const char* what, const std::function<isb_status(isb_instance*)>& fn) const {
  isb_status s = fn(instance_);
  if (s != ISB_OK) {
    Error e = error_from(what, s);
    return make_error(e.code, info_.id + " plugin: " + what + " failed: " + e.message);
  }
  return ok_status();
}

Status PluginInstance::call_void(const char* what, const std::function<isb_status(isb_instance*)>& fn) const {
  std::unique_lock<std::mutex> lock(call_mu_, std::defer_lock);
  if (serialize_) lock.lock();
  isb_status s = fn(instance_);
  if (s != ISB_OK) return error_from(what, s);
  t_last_status = ISB_OK;
  return ok_status();
}

namespace {

Result<boost::json::value> parse_doc(const PluginInfo& info, const char* what, Result<std::string> r) {
  if (!r) {
    return make_error(r.error().code, info.id + " plugin: " + what + " failed: " + r.error().message);
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(*r, ec);
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      info.id + " plugin: " + what + " returned invalid JSON (" + ec.message() + ")");
  }
  return v;
}

}  // namespace

// ---------------------------------------------------------------- kind wrappers

Result<boost::json::value> IsolationPlugin::probe() const {
  auto api = static_cast<const isb_isolation_api*>(p_->kind_api());
  return parse_doc(info(), "probe", p_->call("probe", [&](isb_instance* i, const isb_json_out* o) {
    return api->probe(i, o);
  }));
}

Result<boost::json::value> IsolationPlugin::create_sandbox(const boost::json::value& spec) const {
  auto api = static_cast<const isb_isolation_api*>(p_->kind_api());
  std::string text = boost::json::serialize(spec);
  return parse_doc(info(), "sandbox_create", p_->call("sandbox_create", [&](isb_instance* i, const isb_json_out* o) {
    return api->sandbox_create(i, text.c_str(), o);
  }));
}

Result<boost::json::value> IsolationPlugin::exec(const std::string& sandbox_id, const boost::json::value& spec,
                                                 const OutputCallback& on_output, const CancelCheck& cancelled) const {
  auto api = static_cast<const isb_isolation_api*>(p_->kind_api());
  std::string text = boost::json::serialize(spec);
  struct SinkState {
    const OutputCallback* on_output;
    const CancelCheck* cancelled;
  } state{&on_output, &cancelled};
  isb_output_sink sink{};
  sink.struct_size = sizeof sink;
  sink.user = &state;
  sink.emit = [](void* u, int32_t stream, const char* bytes, size_t len) {
    auto* s = static_cast<SinkState*>(u);
    try {
      if (*s->on_output) (*s->on_output)(stream, bytes, len);
    } catch (const std::exception& e) {
      spdlog::warn("output consumer failed: {}", e.what());
    }
  };
  sink.is_cancelled = [](void* u) -> uint8_t {
    auto* s = static_cast<SinkState*>(u);
    try {
      return (*s->cancelled && (*s->cancelled)()) ? 1 : 0;
    } catch (...) {
      return 0;
    }
  };
  return parse_doc(info(), "sandbox_exec", p_->call("sandbox_exec", [&](isb_instance* i, const isb_json_out* o) {
    return api->sandbox_exec(i, sandbox_id.c_str(), text.c_str(), &sink, o);
  }));
}

Status IsolationPlugin::destroy_sandbox(const std::string& sandbox_id) const {
  auto api = static_cast<const isb_isolation_api*>(p_->kind_api());
  auto s = p_->call_void("sandbox_destroy", [&](isb_instance* i) { return api->sandbox_destroy(i, sandbox_id.c_str()); });
  if (!s) return make_error(s.error().code, info().id + " plugin: sandbox_destroy failed: " + s.error().message);
  return s;
}

Result<boost::json::value> IsolationPlugin::reconcile(const boost::json::value& known_ids) const {
  auto api = static_cast<const isb_isolation_api*>(p_->kind_api());
  std::string text = boost::json::serialize(known_ids);
  return parse_doc(info(), "reconcile", p_->call("reconcile", [&](isb_instance* i, const isb_json_out* o) {
    return api->reconcile(i, text.c_str(), o);
  }));
}

Result<boost::json::value> IsolationPlugin::sandbox_status(const std::string& sandbox_id) const {
  auto api = static_cast<const isb_isolation_api*>(p_->kind_api());
  if (!ISB_HAS_FIELD(api, isb_isolation_api, sandbox_status) || !api->sandbox_status) {
    return make_error(ErrorCode::kFailedPrecondition, info().id + " plugin: cannot tell what runs in a sandbox");
  }
  return parse_doc(info(), "sandbox_status", p_->call("sandbox_status", [&](isb_instance* i, const isb_json_out* o) {
    return api->sandbox_status(i, sandbox_id.c_str(), o);
  }));
}

bool AnalyzerPlugin::reads_tree_fd() const {
  // load_file checked that a plugin of this minor has a complete 1.2 table.
  return info().abi_minor >= kAnalyzeTreeMinor;
}

Result<boost::json::value> AnalyzerPlugin::analyze(int root_dirfd, const boost::json::value& options) const {
  if (!reads_tree_fd()) {
    // Fail-closed: the path form would let sandboxed code redirect the analyzer's
    // opens through symlinks it swaps in (see isb_analyzer_api).
    return make_error(
        ErrorCode::kFailedPrecondition,
        "analyzer '" + info().id + "' (" + info().path + ") was built against plugin ABI " +
            std::to_string(info().abi_major) + "." + std::to_string(info().abi_minor) +
            ", which reads a tree by path; a workspace tree is only handed to analyzers of ABI 1.2 "
            "or later, through a directory fd. Rebuild it against ABI 1.2 (analyze_tree)");
  }
  auto api = static_cast<const isb_analyzer_api*>(p_->kind_api());
  std::string text = boost::json::serialize(options);
  return parse_doc(info(), "analyze", p_->call("analyze", [&](isb_instance* i, const isb_json_out* o) {
    return api->analyze_tree(i, static_cast<int32_t>(root_dirfd), text.c_str(), o);
  }));
}

Result<PlannerPlugin::Outcome> PlannerPlugin::plan(const boost::json::value& request) const {
  auto api = static_cast<const isb_planner_api*>(p_->kind_api());
  std::string text = boost::json::serialize(request);
  auto r = p_->call("plan", [&](isb_instance* i, const isb_json_out* o) { return api->plan(i, text.c_str(), o); });
  Outcome outcome;
  if (!r && PluginInstance::last_status() == ISB_NOT_SUPPORTED) {
    outcome.reason = r.error().message;
    return outcome;
  }
  auto doc = parse_doc(info(), "plan", std::move(r));
  if (!doc) return doc.error();
  outcome.applicable = true;
  outcome.plan = std::move(*doc);
  return outcome;
}

Status TransportPlugin::serve() const {
  auto api = static_cast<const isb_transport_api*>(p_->kind_api());
  return p_->call_unserialized("serve", [&](isb_instance* i) { return api->serve(i); });
}

Status TransportPlugin::stop() const {
  auto api = static_cast<const isb_transport_api*>(p_->kind_api());
  return p_->call_unserialized("stop", [&](isb_instance* i) { return api->stop(i); });
}

// ---------------------------------------------------------------- PluginHost

PluginHost::PluginHost() = default;
PluginHost::~PluginHost() = default;

std::vector<std::string> PluginHost::default_directories() {
  std::vector<std::string> dirs;
  boost::system::error_code ec;
  auto exe = boost::dll::program_location(ec);
  if (!ec) {
    dirs.push_back((fs::path(exe.string()).parent_path().parent_path() / ISB_PLUGIN_SUBDIR).lexically_normal().string());
  }
  std::string installed = (fs::path(ISB_INSTALL_PREFIX) / ISB_PLUGIN_SUBDIR).lexically_normal().string();
  if (std::find(dirs.begin(), dirs.end(), installed) == dirs.end()) dirs.push_back(installed);
  return dirs;
}

PluginLoadReport PluginHost::load_directories(const std::vector<std::string>& dirs) {
  PluginLoadReport report;
  const uid_t uid = geteuid();
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      spdlog::debug("plugin directory {} does not exist; skipped", dir);
      continue;
    }
    // Code loaded from here runs as the server: nobody else may be able to
    // put it there (the StrictModes rule, config/path_trust.hpp).
    if (Status st = config_internal::check_trusted(dir, config_internal::PathKind::kDirectory,
                                                   "plugin directory", uid);
        !st) {
      spdlog::error("{}", st.error().message);
      report.untrusted.push_back(st.error().message);
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      auto name = entry.path().filename().string();
      if (name.rfind("libisb-", 0) == 0 && entry.path().extension() == ".so") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());  // deterministic: first by name wins a duplicate id
    for (const auto& f : files) {
      if (Status st =
              config_internal::check_trusted(f.string(), config_internal::PathKind::kFile, "plugin", uid);
          !st) {
        spdlog::error("{}", st.error().message);
        report.untrusted.push_back(st.error().message);
        continue;
      }
      auto r = load_file(f.string());
      if (r) {
        report.loaded.push_back(*r);
      } else {
        spdlog::warn("plugin refused: {}", r.error().message);
        report.refused.push_back(r.error().message);
      }
    }
  }
  return report;
}

Result<PluginInfo> PluginHost::load_file(const std::string& path) {
  boost::dll::shared_library lib;
  boost::system::error_code ec;
  lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) return make_error(ErrorCode::kInvalidConfig, path + ": cannot be loaded: " + ec.message());
  if (!lib.has(ISB_PLUGIN_ENTRY_SYMBOL)) {
    return make_error(ErrorCode::kInvalidConfig,
                      path + ": not an Intelligent Sandbox plugin (no " ISB_PLUGIN_ENTRY_SYMBOL " symbol)");
  }
  auto get = lib.get<const isb_plugin_descriptor*()>(ISB_PLUGIN_ENTRY_SYMBOL);
  const isb_plugin_descriptor* d = get();
  if (!d) return make_error(ErrorCode::kInvalidConfig, path + ": " ISB_PLUGIN_ENTRY_SYMBOL " returned NULL");
  const std::string host_abi = std::to_string(ISB_ABI_MAJOR) + "." + std::to_string(ISB_ABI_MINOR);
  // Read only the version fields until the size is known to cover more.
  if (d->struct_size < offsetof(isb_plugin_descriptor, kind)) {
    return make_error(ErrorCode::kInvalidConfig, path + ": descriptor too small (" + std::to_string(d->struct_size) +
                                                     " bytes) to hold an ABI version; host ABI is " + host_abi);
  }
  const std::string plugin_abi = std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
  std::string who = path;
  if (d->struct_size >= offsetof(isb_plugin_descriptor, id) + sizeof(char*) && d->id) {
    who = std::string("plugin '") + d->id + "' (" + path + ")";
  }
  if (d->abi_major != ISB_ABI_MAJOR) {
    return make_error(ErrorCode::kInvalidConfig, who + " uses plugin ABI " + plugin_abi + " but this host speaks ABI " +
                                                     host_abi + " (majors must match); rebuild the plugin against ABI " +
                                                     host_abi);
  }
  if (d->abi_minor > ISB_ABI_MINOR) {
    return make_error(ErrorCode::kInvalidConfig, who + " needs plugin ABI " + plugin_abi + " but this host only has " +
                                                     host_abi + "; upgrade the server");
  }
  if (d->struct_size < kDescriptorV1Size) {
    return make_error(ErrorCode::kInvalidConfig, who + " claims ABI " + plugin_abi + " but its descriptor is " +
                                                     std::to_string(d->struct_size) + " bytes, less than the " +
                                                     std::to_string(kDescriptorV1Size) + " that ABI 1.0 requires");
  }
  if (!d->id || !d->name || !d->version || !d->create || !d->destroy || !d->last_error || !d->kind_api) {
    return make_error(ErrorCode::kInvalidConfig, who + ": descriptor lacks a required field (id, name, version, "
                                                       "create, destroy, last_error or kind_api)");
  }
  static const std::regex kIdPattern("^[a-z0-9][a-z0-9-]{0,62}$");
  if (!std::regex_match(d->id, kIdPattern)) {
    return make_error(ErrorCode::kInvalidConfig, who + ": id must match ^[a-z0-9][a-z0-9-]{0,62}$");
  }
  size_t need = kind_api_min_size(d->kind, d->abi_minor);
  if (need == 0) {
    return make_error(ErrorCode::kInvalidConfig, who + ": unknown plugin kind " + std::to_string(d->kind));
  }
  uint32_t api_size = *static_cast<const uint32_t*>(d->kind_api);
  if (api_size < need) {
    return make_error(ErrorCode::kInvalidConfig, who + ": its " + plugin_kind_name(d->kind) + " function table is " +
                                                     std::to_string(api_size) + " bytes, less than the " +
                                                     std::to_string(need) + " that ABI " + plugin_abi + " requires");
  }
  if (!kind_api_complete(d->kind, d->abi_minor, d->kind_api)) {
    return make_error(ErrorCode::kInvalidConfig, who + ": its " + std::string(plugin_kind_name(d->kind)) +
                                                     " function table has NULL entries");
  }
  if (auto it = entries_.find(d->id); it != entries_.end()) {
    return make_error(ErrorCode::kAlreadyExists, who + " version " + d->version + " has the same id as " +
                                                     it->second.info.path + " version " + it->second.info.version +
                                                     ", which is already loaded; remove one of them");
  }
  if (d->config_schema && *d->config_schema) {
    boost::system::error_code jec;
    auto schema = boost::json::parse(d->config_schema, jec);
    if (jec || !JsonSchema::compile(schema)) {
      return make_error(ErrorCode::kInvalidConfig, who + ": its config_schema is not a valid JSON Schema");
    }
  }
  Entry e;
  e.info.id = d->id;
  e.info.name = d->name;
  e.info.version = d->version;
  e.info.description = d->description ? d->description : "";
  e.info.path = path;
  e.info.kind = d->kind;
  e.info.abi_major = d->abi_major;
  e.info.abi_minor = d->abi_minor;
  e.info.capabilities = d->capabilities;
  e.info.config_schema = d->config_schema ? d->config_schema : "";
  e.descriptor = d;
  e.library = std::make_shared<LoadedLibrary>(std::move(lib));
  spdlog::debug("loaded {} plugin '{}' {} (ABI {}) from {}", plugin_kind_name(e.info.kind), e.info.id,
                e.info.version, plugin_abi, path);
  infos_.push_back(e.info);
  PluginInfo info = e.info;
  entries_.emplace(info.id, std::move(e));
  return info;
}

const PluginInfo* PluginHost::find(const std::string& id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second.info;
}

std::vector<std::string> PluginHost::ids_of_kind(int32_t kind) const {
  std::vector<std::string> ids;
  for (const auto& [id, e] : entries_) {
    if (e.info.kind == kind) ids.push_back(id);
  }
  return ids;
}

Result<std::shared_ptr<PluginInstance>> PluginHost::create(const std::string& id, int32_t expected_kind,
                                                           const boost::json::value& config,
                                                           const HostApi* front_door) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    std::string have;
    for (const auto& k : ids_of_kind(expected_kind)) have += (have.empty() ? "" : ", ") + k;
    return make_error(ErrorCode::kNotFound, std::string("no ") + plugin_kind_name(expected_kind) + " plugin '" + id +
                                                "' is loaded" + (have.empty() ? "" : "; loaded: " + have));
  }
  const Entry& e = it->second;
  if (e.info.kind != expected_kind) {
    return make_error(ErrorCode::kInvalidConfig, "plugin '" + id + "' is a " + plugin_kind_name(e.info.kind) +
                                                     " plugin, not a " + plugin_kind_name(expected_kind) + " plugin");
  }
  if (!e.info.config_schema.empty()) {
    auto schema = JsonSchema::compile(boost::json::parse(e.info.config_schema));
    if (schema) {
      if (auto err = (*schema)->validate(config, "config")) {
        return make_error(ErrorCode::kInvalidConfig, "plugins.settings." + id + ": " + *err);
      }
    }
  }
  std::shared_ptr<PluginInstance> inst(new PluginInstance());
  inst->info_ = e.info;
  inst->library_ = e.library;
  inst->descriptor_ = e.descriptor;
  inst->kind_api_ = e.descriptor->kind_api;
  inst->serialize_ = (e.info.capabilities & ISB_CAP_THREAD_SAFE) == 0;
  inst->host_ctx_ = std::make_unique<HostContext>(HostContext{id, nullptr});
  inst->host_api_ = std::make_unique<isb_host_api>();
  isb_host_api& api = *inst->host_api_;
  api.struct_size = sizeof(isb_host_api);
  api.abi_major = ISB_ABI_MAJOR;
  api.abi_minor = ISB_ABI_MINOR;
  api.host_ctx = inst->host_ctx_.get();
  api.log = &host_log;
  api.host_info_json = kHostInfo;
  if (expected_kind == ISB_KIND_TRANSPORT && front_door) {
    inst->host_ctx_->front_door = front_door;
    front_door->bind(api);
  }
  std::string config_text = boost::json::serialize(config.is_null() ? boost::json::value(boost::json::object{}) : config);
  isb_instance* raw = nullptr;
  isb_status s = e.descriptor->create(&api, config_text.c_str(), &raw);
  if (s != ISB_OK || !raw) {
    const char* msg = e.descriptor->last_error(nullptr);
    return make_error(s == ISB_INVALID_CONFIG ? ErrorCode::kInvalidConfig : code_from_status(s),
                      "plugin '" + id + "' could not be created: " + (msg && *msg ? msg : "no details given"));
  }
  inst->instance_ = raw;
  return inst;
}

}  // namespace isb
