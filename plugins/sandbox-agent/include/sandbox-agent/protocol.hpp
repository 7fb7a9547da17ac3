// protocol.hpp: the wire format between the server (jail_client.hpp, used by
// both isolation backends) and isb-supervisor (pid 1 of a process-backend
// jail, or the agent in a docker container). Header-only, no dependencies, so
// the supervisor stays a small program.
//
// Transport: AF_UNIX SOCK_SEQPACKET, one message per record (atomic, bounded).
//   control socket (fd 3 in the supervisor), server -> supervisor:
//     kInit   {u32 target_uid, u32 target_gid, u32 flags, u64 tmp_bytes, u64 shm_bytes,
//              str workspace_host_path, blob seccomp_bpf}
//             with SCM_RIGHTS [workspace freezer cgroup dir] when kFlagCommandCgroups
//             supervisor -> server: kReady {} or kSetupFailed {str message}
//     kRun    {strs argv, strs env, str cwd, u32 n_limits, (u32 resource, u64 value)*}
//             with SCM_RIGHTS [command socket, stdin, stdout, stderr]
//   command socket (one per command):
//     supervisor -> server: kStarted {u32 pid}, kExecFailed {str stage, u32 errno},
//                           kExited {i32 wait_status, u64 max_rss_kb, u64 cpu_ms}
//     server -> supervisor: kSignal {u32 signal} (to every process in the command's
//                           cgroup, or without one to its process group)
//   Closing the control socket ends the supervisor and so, as pid 1, the whole jail.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace isb::agent::wire {

enum MessageType : uint32_t {
  kInit = 1,
  kReady = 2,
  kSetupFailed = 3,
  kRun = 4,
  kStarted = 5,
  kExecFailed = 6,
  kExited = 7,
  kSignal = 8,
};

//! kInit flags.
enum InitFlags : uint32_t {
  kFlagUserNamespace = 1u << 0,  // jail has its own user namespace (setgroups already denied)
  kFlagSeccomp = 1u << 1,        // load the seccomp program that follows
  kFlagCommandCgroups = 1u << 2, // an fd of the workspace's freezer cgroup comes along:
                                 // one child cgroup per command (command_cgroups.hpp)
};

//! Largest message either side sends; the seccomp program is the biggest part.
constexpr size_t kMaxMessage = 192 * 1024;

//! Appends fields to a message buffer.
class Writer {
 public:
  explicit Writer(MessageType type) { u32(type); }
  Writer& u32(uint32_t v) { return raw(&v, sizeof v); }
  Writer& i32(int32_t v) { return raw(&v, sizeof v); }
  Writer& u64(uint64_t v) { return raw(&v, sizeof v); }
  Writer& str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    return raw(s.data(), s.size());
  }
  Writer& strs(const std::vector<std::string>& v) {
    u32(static_cast<uint32_t>(v.size()));
    for (const auto& s : v) str(s);
    return *this;
  }
  const std::string& bytes() const { return buf_; }

 private:
  Writer& raw(const void* p, size_t n) {
    buf_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string buf_;
};

//! Reads fields of a received message; ok() turns false on any overrun and
//! stays false, so a caller checks once at the end.
class Reader {
 public:
  Reader(const char* data, size_t len) : p_(data), end_(data + len) {}
  uint32_t u32() { return pod<uint32_t>(); }
  int32_t i32() { return pod<int32_t>(); }
  uint64_t u64() { return pod<uint64_t>(); }
  std::string str() {
    uint32_t n = u32();
    if (!ok_ || static_cast<size_t>(end_ - p_) < n) return fail<std::string>();
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  std::vector<std::string> strs() {
    uint32_t n = u32();
    std::vector<std::string> v;
    if (n > 65536) return fail<std::vector<std::string>>();
    for (uint32_t i = 0; ok_ && i < n; ++i) v.push_back(str());
    return v;
  }
  bool ok() const { return ok_; }

 private:
  template <class T>
  T pod() {
    T v{};
    if (!ok_ || static_cast<size_t>(end_ - p_) < sizeof v) return fail<T>();
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  template <class T>
  T fail() {
    ok_ = false;
    return T{};
  }
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace isb::agent::wire
