// plugin_host.hpp: finds, checks, loads and instantiates plugins.
//
// Plugins are shared libraries named libisb-*.so exporting one symbol,
// isb_plugin_get (see plugin-api/include/isb/plugin_abi.h). The host refuses a
// plugin whose ABI major differs, whose minor is newer than the host's, whose
// structs are smaller than the ABI version they claim, or whose id is already
// taken, with a message naming the plugin and both versions. One bad plugin is
// logged and skipped, never fatal (the server checks plugins.required itself).
//
//   PluginHost host;
//   auto report = host.load_directories({"/usr/lib/intelligent-sandbox/plugins"});
//   auto iso = host.create("process", ISB_KIND_ISOLATION, settings);
//
// The host only loads and holds plugins: what a transport calls back into
// (the front door and dispatch) is a HostApi, given to create().
//
// Threading: load_* must finish before other threads use the host; after that
// the host is read-only and thread-safe. Each plugin instance wrapper says its own.
#pragma once

#include <isb/core/json_schema.hpp>
#include <isb/core/result.hpp>
#include <isb/plugin_abi.h>

#include <boost/json/value.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace isb {

const char* plugin_kind_name(int32_t kind);

//! Metadata of a loaded plugin, copied out of its descriptor.
struct PluginInfo {
  std::string id;
  std::string name;
  std::string version;
  std::string description;
  std::string path;
  int32_t kind = 0;
  uint16_t abi_major = 0;
  uint16_t abi_minor = 0;
  uint64_t capabilities = 0;
  std::string config_schema;  // empty when the plugin takes no config schema
};

class HostApi;        // the front door a transport calls back into (host_api.hpp)
class LoadedLibrary;  // a library kept loaded while anything refers to it
struct HostContext;   // per-instance data behind isb_host_api.host_ctx

//! One live plugin instance. Owns the isb_instance and keeps the library
//! loaded. Calls are serialized unless the plugin declares ISB_CAP_THREAD_SAFE.
class PluginInstance {
 public:
  ~PluginInstance();
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;

  const PluginInfo& info() const { return info_; }

  //! Calls fn(instance, out) and returns the document the plugin produced, or
  //! an Error built from the status and the plugin's last_error.
  Result<std::string> call(const char* what,
                           const std::function<isb_status(isb_instance*, const isb_json_out*)>& fn) const;
  //! Same, for calls that produce no document.
  Status call_void(const char* what, const std::function<isb_status(isb_instance*)>& fn) const;
  //! Status of the last call() / call_void() that failed on this thread.
  static isb_status last_status();

  const void* kind_api() const { return kind_api_; }

  //! Calls fn without serializing, for transport serve()/stop(), which run
  //! concurrently by contract.
  Status call_unserialized(const char* what, const std::function<isb_status(isb_instance*)>& fn) const;

 private:
  friend class PluginHost;
  PluginInstance() = default;
  Error error_from(const char* what, isb_status s) const;

  PluginInfo info_;
  std::shared_ptr<LoadedLibrary> library_;
  std::unique_ptr<HostContext> host_ctx_;
  std::unique_ptr<isb_host_api> host_api_;
  const isb_plugin_descriptor* descriptor_ = nullptr;
  const void* kind_api_ = nullptr;
  isb_instance* instance_ = nullptr;
  bool serialize_ = true;
  mutable std::mutex call_mu_;
};

//! Output of one command, delivered while it runs.
using OutputCallback = std::function<void(int32_t stream, const char* bytes, size_t len)>;
using CancelCheck = std::function<bool()>;

//! An isolation backend instance. Thread-safe (via PluginInstance).
class IsolationPlugin {
 public:
  explicit IsolationPlugin(std::shared_ptr<PluginInstance> p) : p_(std::move(p)) {}
  const PluginInfo& info() const { return p_->info(); }
  Result<boost::json::value> probe() const;
  Result<boost::json::value> create_sandbox(const boost::json::value& spec) const;
  Result<boost::json::value> exec(const std::string& sandbox_id, const boost::json::value& spec,
                                  const OutputCallback& on_output, const CancelCheck& cancelled) const;
  Status destroy_sandbox(const std::string& sandbox_id) const;
  Result<boost::json::value> reconcile(const boost::json::value& known_ids) const;
  //! {"processes": N}; kFailedPrecondition when the backend cannot tell
  //! (a plugin older than ABI 1.2, or one that does not implement it).
  Result<boost::json::value> sandbox_status(const std::string& sandbox_id) const;

 private:
  std::shared_ptr<PluginInstance> p_;
};

//! An analyzer instance. Thread-safe (via PluginInstance). It gets the tree
//! as a directory fd only: analyzers built against ABI 1.0/1.1, which offer
//! only the path form, load but never analyze (fail-closed, see analyze()).
class AnalyzerPlugin {
 public:
  explicit AnalyzerPlugin(std::shared_ptr<PluginInstance> p) : p_(std::move(p)) {}
  const PluginInfo& info() const { return p_->info(); }
  //! Whether the plugin offers analyze_tree (ABI 1.2 or later).
  bool reads_tree_fd() const;
  //! Facts about the tree whose root is root_dirfd (a directory fd, O_PATH
  //! allowed, owned by the caller and open during the call). kFailedPrecondition,
  //! naming the plugin and its ABI, when !reads_tree_fd(): its path form is
  //! never called.
  Result<boost::json::value> analyze(int root_dirfd, const boost::json::value& options) const;

 private:
  std::shared_ptr<PluginInstance> p_;
};

//! A planner. A planner that does not apply to a task (ISB_NOT_SUPPORTED) is
//! not an error: the Outcome says so and the caller tries the next planner.
class PlannerPlugin {
 public:
  explicit PlannerPlugin(std::shared_ptr<PluginInstance> p) : p_(std::move(p)) {}
  const PluginInfo& info() const { return p_->info(); }
  struct Outcome {
    bool applicable = false;
    boost::json::value plan;  // when applicable
    std::string reason;       // when not applicable: the planner's message
  };
  Result<Outcome> plan(const boost::json::value& request) const;

 private:
  std::shared_ptr<PluginInstance> p_;
};

class TransportPlugin {
 public:
  explicit TransportPlugin(std::shared_ptr<PluginInstance> p) : p_(std::move(p)) {}
  const PluginInfo& info() const { return p_->info(); }
  //! Blocks until the transport ends. Not serialized: stop() must reach it.
  Status serve() const;
  Status stop() const;

 private:
  std::shared_ptr<PluginInstance> p_;
};

struct PluginLoadReport {
  std::vector<PluginInfo> loaded;
  std::vector<std::string> refused;  // one message per refused or broken file
  //! Directories (or plugin files) not loaded because a user other than the
  //! server's (or root) could change them; one message each, naming the path
  //! and its mode. The server refuses to start with any.
  std::vector<std::string> untrusted;
};

class PluginHost {
 public:
  PluginHost();
  ~PluginHost();

  //! The built-in plugin directories: next to the binary
  //! (<exe>/../lib/intelligent-sandbox/plugins), then the install prefix.
  static std::vector<std::string> default_directories();

  //! Loads every libisb-*.so in each directory (missing directories are skipped).
  PluginLoadReport load_directories(const std::vector<std::string>& dirs);
  //! Loads one file; the error says why it was refused.
  Result<PluginInfo> load_file(const std::string& path);

  const std::vector<PluginInfo>& plugins() const { return infos_; }
  const PluginInfo* find(const std::string& id) const;
  //! Ids of loaded plugins of one kind, sorted.
  std::vector<std::string> ids_of_kind(int32_t kind) const;

  //! Validates config against the plugin's schema, then creates an instance.
  //! A transport gets call_operation, list_operations, admit and the security
  //! policy from front_door, which must outlive the instance; without one
  //! (plugin listings, tests) it gets none of them.
  Result<std::shared_ptr<PluginInstance>> create(const std::string& id, int32_t expected_kind,
                                                 const boost::json::value& config,
                                                 const HostApi* front_door = nullptr) const;

 private:
  struct Entry {
    PluginInfo info;
    std::shared_ptr<LoadedLibrary> library;
    const isb_plugin_descriptor* descriptor = nullptr;
  };
  std::vector<PluginInfo> infos_;
  std::map<std::string, Entry> entries_;
};

}  // namespace isb
