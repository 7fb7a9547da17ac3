// plugin_loader.hpp: loads one built plugin with dlopen for plugin tests, so a
// test exercises the plugin exactly across the C ABI, without the core.
//
//   TestPlugin p("libisb-analyzer-codebase.so");
//   auto* api = p.api<isb_analyzer_api>();
//   isb_instance* inst = p.create("{}");
//   auto [status, facts] = p.analyze(inst, "/tmp/tree", "{}");  // the tree as a directory fd
#pragma once

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <isb/plugin_abi.h>
#include <unistd.h>

#include <string>

class TestPlugin {
 public:
  //! min_log_level: plugin log lines below it are dropped (a test that calls
  //! a plugin thousands of times keeps its output readable).
  explicit TestPlugin(const std::string& file_name, int32_t min_log_level = ISB_LOG_TRACE)
      : min_log_level_(min_log_level) {
    host_.host_ctx = this;
    std::string path = std::string(ISB_TEST_PLUGIN_DIR) + "/" + file_name;
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw std::runtime_error("dlopen " + path + ": " + dlerror());
    auto get = reinterpret_cast<isb_plugin_get_fn>(dlsym(handle_, ISB_PLUGIN_ENTRY_SYMBOL));
    if (!get) throw std::runtime_error(path + " has no " ISB_PLUGIN_ENTRY_SYMBOL);
    desc_ = get();
  }
  ~TestPlugin() {
    if (handle_) dlclose(handle_);
  }
  TestPlugin(const TestPlugin&) = delete;
  TestPlugin& operator=(const TestPlugin&) = delete;

  const isb_plugin_descriptor* descriptor() const { return desc_; }

  template <class Api>
  const Api* api() const {
    return static_cast<const Api*>(desc_->kind_api);
  }

  //! Creates an instance with a host API whose log goes to stderr; fails the
  //! test (and returns nullptr) when create fails.
  isb_instance* create(const std::string& config_json) {
    isb_instance* inst = nullptr;
    isb_status s = desc_->create(&host_, config_json.c_str(), &inst);
    if (s != ISB_OK) {
      ADD_FAILURE() << "create failed (" << s << "): " << desc_->last_error(nullptr);
      return nullptr;
    }
    return inst;
  }

  //! analyze_tree on the directory fd root_fd (borrowed): status and document.
  std::pair<isb_status, std::string> analyze_fd(isb_instance* inst, int root_fd,
                                                const std::string& opts) const {
    auto* a = api<isb_analyzer_api>();
    return call_json(
        [&](const isb_json_out* out) { return a->analyze_tree(inst, root_fd, opts.c_str(), out); });
  }

  //! analyze_tree on the directory at root, opened as the host opens a
  //! workspace (O_PATH | O_DIRECTORY); when it cannot be opened the plugin gets
  //! -1, which it must refuse.
  std::pair<isb_status, std::string> analyze(isb_instance* inst, const std::string& root,
                                             const std::string& opts = "{}") const {
    const int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    auto r = analyze_fd(inst, fd, opts);
    if (fd >= 0) ::close(fd);
    return r;
  }

  //! Calls fn(out) with an isb_json_out that stores into the returned string.
  template <class Fn>
  static std::pair<isb_status, std::string> call_json(Fn&& fn) {
    std::string doc;
    isb_json_out out{sizeof(isb_json_out), &doc,
                     [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
    isb_status s = fn(&out);
    return {s, doc};
  }

 private:
  static void log(void* self, int32_t level, const char* msg) {
    if (level >= static_cast<TestPlugin*>(self)->min_log_level_)
      fprintf(stderr, "[plugin log %d] %s\n", level, msg);
  }
  int32_t min_log_level_;
  void* handle_ = nullptr;
  const isb_plugin_descriptor* desc_ = nullptr;
  isb_host_api host_{sizeof(isb_host_api),
                     ISB_ABI_MAJOR,
                     ISB_ABI_MINOR,
                     nullptr,
                     &TestPlugin::log,
                     nullptr,
                     nullptr,
                     "{\"name\":\"plugin-test\",\"version\":\"0\",\"abi\":\"1.2\"}",
                     nullptr,
                     nullptr};
};
