// plugin.hpp: the header-only C++ SDK for writing Intelligent Sandbox plugins.
//
// A plugin is a plain class deriving from one of the kind bases below, with a
// static info() and a constructor taking (isb::sdk::Host, const std::string& config_json).
// One macro, ISB_PLUGIN(Class), generates the descriptor, the single C export,
// the exception-to-status translation and the error-string storage.
//
//   class WordCounter : public isb::sdk::Analyzer {
//    public:
//     static isb::sdk::PluginInfo info() {
//       return {"word-counter", "Word counter", "0.1.0", "Counts words", nullptr, 0};
//     }
//     WordCounter(isb::sdk::Host host, const std::string& config_json) {}
//     std::string analyze(const isb::sdk::Tree& tree, const std::string& options) override {
//       std::string text;
//       tree.read_file("README.md", 1 << 20, text);  // beneath the tree's fd, never through a symlink
//       return R"({"words": 42})";
//     }
//   };
//   ISB_PLUGIN(WordCounter)
//
// An analyzer gets the tree as a directory fd wrapped in an isb::sdk::Tree
// (tree.hpp), never as a path: sandboxed code writes the tree and may swap its
// directories for symlinks while the analyzer reads it.
//
// Documents (configs, specs, results) are JSON text; parse them with any library.
// Throw isb::sdk::Error(status, message) to fail with a specific status; any other
// exception becomes ISB_ERROR with its what() as the message. Nothing escapes.
#pragma once

#include <isb/plugin_abi.h>
#include <isb/sdk/tree.hpp>

#include <cstring>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

namespace isb::sdk {

//! An error carrying the ABI status to report.
class Error : public std::runtime_error {
 public:
  Error(isb_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  isb_status status() const noexcept { return status_; }

 private:
  isb_status status_;
};

//! Static metadata of a plugin. All strings must have static storage duration.
struct PluginInfo {
  const char* id;
  const char* name;
  const char* version;
  const char* description;
  const char* config_schema;  // JSON Schema text or nullptr
  uint64_t capabilities;      // ISB_CAP_* bits
};

//! Context of a client request, for transports calling into the host.
struct RequestContext {
  std::string transport;
  std::string principal;
  std::string client_id;
  std::string request_id;
  std::string credential;
  bool admitted = false;  // already passed host admit() (isb_request_ctx.admitted)
  std::string client_address;  // the peer's network address (isb_request_ctx.client_address)
  //! {"roots":[...]} when the client offered roots (isb_request_ctx.client_roots_json); empty: none.
  std::string client_roots_json;
};

//! Result of Host::call_operation: status and the result or error document.
struct CallResult {
  isb_status status = ISB_ERROR;
  std::string json;
};

//! The host API as seen from a plugin. Copyable, cheap; valid while the
//! instance lives. Thread-safe, as the host API is.
class Host {
 public:
  explicit Host(const isb_host_api* api) : api_(api) {}

  void log(int32_t level, std::string_view message) const {
    if (api_ && api_->log) {
      std::string m(message);
      api_->log(api_->host_ctx, level, m.c_str());
    }
  }
  void debug(std::string_view m) const { log(ISB_LOG_DEBUG, m); }
  void info(std::string_view m) const { log(ISB_LOG_INFO, m); }
  void warn(std::string_view m) const { log(ISB_LOG_WARN, m); }
  void error(std::string_view m) const { log(ISB_LOG_ERROR, m); }

  //! Host identification JSON, or "{}".
  std::string host_info() const {
    if (api_ && ISB_HAS_FIELD(api_, isb_host_api, host_info_json) && api_->host_info_json) {
      return api_->host_info_json;
    }
    return "{}";
  }

  //! True when this host offers the transport functions.
  bool can_call_operations() const {
    return api_ && ISB_HAS_FIELD(api_, isb_host_api, list_operations) && api_->call_operation &&
           api_->list_operations;
  }

  //! Runs an operation; on_event gets each event JSON, is_cancelled and
  //! is_detached are polled (isb_event_sink: when the client goes away, make
  //! is_detached true before is_cancelled).
  CallResult call_operation(const std::string& name, const std::string& args_json,
                            const RequestContext& request,
                            std::function<void(std::string_view)> on_event = {},
                            std::function<bool()> is_cancelled = {},
                            std::function<bool()> is_detached = {}) const {
    if (!can_call_operations()) {
      throw Error(ISB_NOT_SUPPORTED, "this host does not let plugins call operations");
    }
    struct Callbacks {
      std::function<void(std::string_view)> on_event;
      std::function<bool()> is_cancelled;
      std::function<bool()> is_detached;
      std::string result;
    } cb{std::move(on_event), std::move(is_cancelled), std::move(is_detached), {}};
    isb_request_ctx ctx{};
    ctx.struct_size = sizeof ctx;
    ctx.transport = request.transport.c_str();
    ctx.principal = request.principal.empty() ? nullptr : request.principal.c_str();
    ctx.client_id = request.client_id.empty() ? nullptr : request.client_id.c_str();
    ctx.request_id = request.request_id.empty() ? nullptr : request.request_id.c_str();
    ctx.credential = request.credential.empty() ? nullptr : request.credential.c_str();
    ctx.admitted = request.admitted ? 1 : 0;
    ctx.client_address = request.client_address.empty() ? nullptr : request.client_address.c_str();
    ctx.client_roots_json = request.client_roots_json.empty() ? nullptr : request.client_roots_json.c_str();
    isb_event_sink sink{};
    sink.struct_size = sizeof sink;
    sink.user = &cb;
    sink.on_event = [](void* u, const char* json, size_t len) {
      auto* c = static_cast<Callbacks*>(u);
      if (c->on_event) {
        try {
          c->on_event(std::string_view(json, len));
        } catch (...) {
          // Events are best effort; a failing sink must not break the operation.
        }
      }
    };
    sink.is_cancelled = [](void* u) -> uint8_t {
      auto* c = static_cast<Callbacks*>(u);
      try {
        return c->is_cancelled && c->is_cancelled() ? 1 : 0;
      } catch (...) {
        return 0;
      }
    };
    sink.is_detached = [](void* u) -> uint8_t {
      auto* c = static_cast<Callbacks*>(u);
      try {
        return c->is_detached && c->is_detached() ? 1 : 0;
      } catch (...) {
        return 0;
      }
    };
    isb_json_out out{sizeof(isb_json_out), &cb, [](void* u, const char* json, size_t len) {
                       static_cast<Callbacks*>(u)->result.assign(json, len);
                     }};
    CallResult r;
    r.status = api_->call_operation(api_->host_ctx, name.c_str(), args_json.c_str(), &ctx, &sink, &out);
    r.json = std::move(cb.result);
    return r;
  }

  //! The operation catalogue as a JSON array.
  std::string list_operations() const {
    if (!can_call_operations()) {
      throw Error(ISB_NOT_SUPPORTED, "this host does not let plugins list operations");
    }
    std::string result;
    isb_json_out out{sizeof(isb_json_out), &result,
                     [](void* u, const char* json, size_t len) { static_cast<std::string*>(u)->assign(json, len); }};
    isb_status s = api_->list_operations(api_->host_ctx, &out);
    if (s != ISB_OK) throw Error(s, "the host could not list its operations");
    return result;
  }

  const isb_host_api* raw() const noexcept { return api_; }

 private:
  const isb_host_api* api_;
};

//! Where an isolation backend writes command output. Not thread-safe: use it
//! from the thread running exec().
class OutputSink {
 public:
  explicit OutputSink(const isb_output_sink* sink) : sink_(sink) {}
  void write(int32_t stream, const char* bytes, size_t len) const {
    if (sink_ && sink_->emit && len > 0) sink_->emit(sink_->user, stream, bytes, len);
  }
  bool cancelled() const { return sink_ && sink_->is_cancelled && sink_->is_cancelled(sink_->user) != 0; }

 private:
  const isb_output_sink* sink_;
};

// ---------------------------------------------------------------------------
// Kind bases. Derive from exactly one.
// ---------------------------------------------------------------------------

class IsolationBackend {
 public:
  static constexpr int32_t kKind = ISB_KIND_ISOLATION;
  virtual ~IsolationBackend() = default;
  virtual std::string probe() = 0;
  //! Returns {"sandbox_id": ...}.
  virtual std::string create_sandbox(const std::string& spec_json) = 0;
  virtual std::string exec(const std::string& sandbox_id, const std::string& spec_json, OutputSink& sink) = 0;
  virtual void destroy_sandbox(const std::string& sandbox_id) = 0;
  //! Returns {"removed": [...]}.
  virtual std::string reconcile(const std::string& known_ids_json) = 0;
  //! Returns {"processes": N}: the sandbox's processes besides its own init
  //! or agent. Backends that cannot tell keep this default.
  virtual std::string sandbox_status(const std::string& sandbox_id) {
    throw Error(ISB_NOT_SUPPORTED, "this backend cannot tell what runs in sandbox " + sandbox_id);
  }
};

class Analyzer {
 public:
  static constexpr int32_t kKind = ISB_KIND_ANALYZER;
  virtual ~Analyzer() = default;
  //! Facts about the tree (JSON). tree is valid only during the call; read it
  //! only through Tree / open_beneath (tree.hpp).
  virtual std::string analyze(const Tree& tree, const std::string& options_json) = 0;
};

class Planner {
 public:
  static constexpr int32_t kKind = ISB_KIND_PLANNER;
  virtual ~Planner() = default;
  //! Throw Error(ISB_NOT_SUPPORTED, why) when the task is not for this planner.
  virtual std::string plan(const std::string& request_json) = 0;
};

class Transport {
 public:
  static constexpr int32_t kKind = ISB_KIND_TRANSPORT;
  virtual ~Transport() = default;
  //! Blocks until the transport ends or stop() is called.
  virtual void serve() = 0;
  //! Called from another thread; must make serve() return soon.
  virtual void stop() = 0;
};

namespace internal {

//! Per-instance wrapper: the object and a stable copy of the host API.
template <class T>
struct Instance {
  isb_host_api host_copy{};
  T* object = nullptr;
};

//! The last error message of this thread for one instance (nullptr: create).
//! Thread-local, so a message stays valid until this thread's next failing
//! call on that instance, whatever other threads do, and dies with the thread.
inline std::string& thread_error(const void* instance) {
  thread_local std::unordered_map<const void*, std::string> messages;
  return messages[instance];
}

template <class T>
void set_error(Instance<T>* inst, const char* message) noexcept {
  try {
    thread_error(inst) = message;
  } catch (...) {
    // Out of memory while recording an error: the status code still tells.
  }
}

template <class T, class F>
isb_status guarded(Instance<T>* inst, F&& body) noexcept {
  try {
    body();
    return ISB_OK;
  } catch (const Error& e) {
    set_error(inst, e.what());
    return e.status();
  } catch (const std::exception& e) {
    set_error(inst, e.what());
    return ISB_ERROR;
  } catch (...) {
    set_error(inst, "unknown exception in plugin");
    return ISB_ERROR;
  }
}

inline void emit_json(const isb_json_out* out, const std::string& json) {
  if (out && out->set) out->set(out->user, json.data(), json.size());
}

template <class T>
Instance<T>* self(isb_instance* p) {
  return reinterpret_cast<Instance<T>*>(p);
}

template <class T>
isb_status create(const isb_host_api* host, const char* config_json, isb_instance** out) noexcept {
  if (!out) return ISB_INVALID_ARGUMENT;
  *out = nullptr;
  Instance<T>* inst = nullptr;
  isb_status s = guarded<T>(nullptr, [&] {
    inst = new Instance<T>();
    if (host) {
      // Copy only what the host provided; later fields stay zero.
      std::memcpy(&inst->host_copy, host,
                  host->struct_size < sizeof(isb_host_api) ? host->struct_size : sizeof(isb_host_api));
      inst->host_copy.struct_size =
          host->struct_size < sizeof(isb_host_api) ? host->struct_size : sizeof(isb_host_api);
    }
    try {
      inst->object = new T(Host(host ? &inst->host_copy : nullptr), std::string(config_json ? config_json : "{}"));
    } catch (...) {
      delete inst;
      inst = nullptr;
      throw;
    }
  });
  if (s == ISB_OK) *out = reinterpret_cast<isb_instance*>(inst);
  return s;
}

template <class T>
void destroy(isb_instance* p) noexcept {
  auto* inst = self<T>(p);
  if (!inst) return;
  try {
    delete inst->object;
  } catch (...) {
    // Destructors must not throw; nothing more to do if one does.
  }
  try {
    thread_error(inst).clear();
  } catch (...) {
  }
  delete inst;
}

template <class T>
const char* last_error(isb_instance* p) noexcept {
  try {
    return thread_error(self<T>(p)).c_str();
  } catch (...) {
    return "";
  }
}

template <class T>
struct KindApi;

template <class T>
struct IsolationApi {
  static isb_status probe(isb_instance* p, const isb_json_out* out) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] { emit_json(out, inst->object->probe()); });
  }
  static isb_status create(isb_instance* p, const char* spec, const isb_json_out* out) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] { emit_json(out, inst->object->create_sandbox(spec ? spec : "{}")); });
  }
  static isb_status exec(isb_instance* p, const char* id, const char* spec, const isb_output_sink* sink,
                         const isb_json_out* out) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] {
      if (!id) throw Error(ISB_INVALID_ARGUMENT, "sandbox id is NULL");
      OutputSink s(sink);
      emit_json(out, inst->object->exec(id, spec ? spec : "{}", s));
    });
  }
  static isb_status destroy(isb_instance* p, const char* id) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] {
      if (!id) throw Error(ISB_INVALID_ARGUMENT, "sandbox id is NULL");
      inst->object->destroy_sandbox(id);
    });
  }
  static isb_status reconcile(isb_instance* p, const char* known, const isb_json_out* out) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] { emit_json(out, inst->object->reconcile(known ? known : "[]")); });
  }
  static isb_status status(isb_instance* p, const char* id, const isb_json_out* out) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] {
      if (!id) throw Error(ISB_INVALID_ARGUMENT, "sandbox id is NULL");
      emit_json(out, inst->object->sandbox_status(id));
    });
  }
  static constexpr isb_isolation_api table = {sizeof(isb_isolation_api), &probe, &create, &exec, &destroy,
                                              &reconcile, &status};
};

// The path form (analyze) stays NULL: a host of ABI 1.2 calls only
// analyze_tree, and the plugin never holds a path into the tree.
template <class T>
struct AnalyzerApi {
  static isb_status analyze_tree(isb_instance* p, int32_t root_dirfd, const char* options,
                                 const isb_json_out* out) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] {
      if (!Tree::is_directory(root_dirfd)) {
        throw Error(ISB_INVALID_ARGUMENT, "analyze_tree: root_dirfd " + std::to_string(root_dirfd) +
                                              " is not an open directory; pass a directory fd (O_DIRECTORY, "
                                              "O_PATH allowed) that stays open during the call");
      }
      const Tree tree(root_dirfd);
      emit_json(out, inst->object->analyze(tree, options ? options : "{}"));
    });
  }
  static constexpr isb_analyzer_api table = {sizeof(isb_analyzer_api), nullptr, &analyze_tree};
};

template <class T>
struct PlannerApi {
  static isb_status plan(isb_instance* p, const char* request, const isb_json_out* out) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] { emit_json(out, inst->object->plan(request ? request : "{}")); });
  }
  static constexpr isb_planner_api table = {sizeof(isb_planner_api), &plan};
};

template <class T>
struct TransportApi {
  static isb_status serve(isb_instance* p) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] { inst->object->serve(); });
  }
  static isb_status stop(isb_instance* p) noexcept {
    auto* inst = self<T>(p);
    return guarded(inst, [&] { inst->object->stop(); });
  }
  static constexpr isb_transport_api table = {sizeof(isb_transport_api), &serve, &stop};
};

template <class T>
const void* kind_table() {
  if constexpr (std::is_base_of_v<IsolationBackend, T>) {
    return &IsolationApi<T>::table;
  } else if constexpr (std::is_base_of_v<Analyzer, T>) {
    return &AnalyzerApi<T>::table;
  } else if constexpr (std::is_base_of_v<Planner, T>) {
    return &PlannerApi<T>::table;
  } else {
    static_assert(std::is_base_of_v<Transport, T>,
                  "a plugin class must derive from IsolationBackend, Analyzer, Planner or Transport");
    return &TransportApi<T>::table;
  }
}

template <class T>
isb_plugin_descriptor make_descriptor() {
  const PluginInfo info = T::info();
  isb_plugin_descriptor d{};
  d.struct_size = sizeof d;
  d.abi_major = ISB_ABI_MAJOR;
  d.abi_minor = ISB_ABI_MINOR;
  d.kind = T::kKind;
  d.id = info.id;
  d.name = info.name;
  d.version = info.version;
  d.description = info.description;
  d.config_schema = info.config_schema;
  d.capabilities = info.capabilities;
  d.create = &internal::create<T>;
  d.destroy = &internal::destroy<T>;
  d.last_error = &internal::last_error<T>;
  d.kind_api = kind_table<T>();
  return d;
}

}  // namespace internal
}  // namespace isb::sdk

//! Generates the plugin's one exported symbol for class Class.
#define ISB_PLUGIN(Class)                                                                         \
  extern "C" __attribute__((visibility("default"))) const isb_plugin_descriptor* isb_plugin_get(void) { \
    static const isb_plugin_descriptor descriptor = ::isb::sdk::internal::make_descriptor<Class>();   \
    return &descriptor;                                                                           \
  }
