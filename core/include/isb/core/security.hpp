// security.hpp: the core's front door for every transport: API keys, rate
// limits, lockouts after failed authentications and the audit log, applied
// once per request whatever the transport.
//
// The gate is built from SecurityOptions (the Server maps its Config to them)
// and owned by the Server's HostApi, which consults it on every
// call_operation; transports reach it through the host API (admit,
// security_policy_json). Nothing about it is process-global.
//
//   auto gate = isb::SecurityGate::create(options);
//   if (!gate) fail(gate.error().message);
//   isb::HostApi front_door(registry, *gate);
//
// Thread-safety: every member is safe from any thread. A gate with an audit
// log owns one thread that writes the counts of sampled refusals (see
// security/audit_sampler.hpp); it ends with the gate.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <isb/core/result.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace isb {

namespace security {
class ApiKeys;
class RateLimiter;
class AuditLog;
class AuditSampler;
class AuthBackoff;
}  // namespace security

//! What the gate needs of the configuration (security.* in sandbox.yaml).
struct SecurityOptions {
  std::vector<std::string> api_keys;  // "sha256:<hex>" hashes or plain keys
  int64_t requests_per_minute = 60;
  int64_t burst = 10;
  std::vector<std::string> rate_limit_exempt_transports;
  bool audit_logging = true;
  std::string audit_log_path;
  // Against floods at the front door (security.auth_failures,
  // security.audit_sampling, security.audit_rotation in the config).
  int64_t auth_failure_threshold = 10;  // wrong keys in a row per client address before lockouts
  int64_t auth_backoff_max_s = 300;     // lockouts double from 1 s up to this
  int64_t auth_failure_reset_s = 900;   // failures forgotten after this long without one
  int64_t audit_sample_threshold = 20;  // refusal lines per client address at once, then 1/s
  int64_t audit_max_size_mb = 100;      // audit log rotation size (0: never)
  int64_t audit_backup_count = 5;       // rotated audit logs kept
};

//! Who is calling, as a transport describes it.
struct Caller {
  std::string transport;
  std::string principal;
  std::string client_id;
  std::string credential;
  //! Network address of the peer (isb_request_ctx.client_address); empty
  //! when the transport has none, and then transport/client_id stands for it.
  std::string client_address;
};

struct Admission {
  bool allowed = false;
  std::string principal;  // key principal, else the transport's, else "anonymous"
  std::string code;       // "unauthenticated" or "rate_limited" (also a lockout) when refused
  std::string message;
  int64_t retry_after_s = 0;
};

class SecurityGate {
 public:
  //! Opens the audit log (when options.audit_logging) and starts its
  //! sampler's flusher; an error names the bad key entry or the audit log.
  static Result<std::shared_ptr<SecurityGate>> create(const SecurityOptions& options);

  ~SecurityGate();

  bool api_keys_required() const;
  //! {"api_keys_required":bool,"rate_limit":{"requests_per_minute","burst"}}
  const std::string& policy_json() const { return policy_json_; }

  //! Checks the key; when charge is set, also takes a rate-limit token.
  //! A client address locked out after too many wrong keys is refused
  //! (rate_limited, with retry_after_s) before its key is looked at; charge
  //! false (the request was admitted at the door already) skips that check.
  //! A refusal is written to the audit log, sampled when they come fast.
  Admission admit(const Caller& caller, const std::string& operation, bool charge);

  //! Appends an audit line for one finished operation call.
  void audit(const Caller& caller, const std::string& principal, const std::string& operation,
             const std::string& args_json, const std::string& outcome,
             std::chrono::steady_clock::duration took);

  //! Opens the audit log's path again (SIGHUP, after an external logrotate
  //! moved the file). OK when there is no audit log.
  Status reopen_audit_log();

 private:
  SecurityGate() = default;
  //! Writes a refusal through the sampler.
  void audit_refusal(const Caller& caller, const std::string& principal, const std::string& operation,
                     const std::string& outcome);
  //! The flusher thread: writes overdue sampled lines once a second.
  void flush_sampled_lines();

  std::unique_ptr<security::ApiKeys> keys_;
  std::unique_ptr<security::RateLimiter> limiter_;
  std::unique_ptr<security::AuthBackoff> backoff_;
  std::unique_ptr<security::AuditLog> audit_;
  std::unique_ptr<security::AuditSampler> sampler_;
  std::vector<std::string> exempt_;
  std::string policy_json_;

  std::mutex flusher_mu_;
  std::condition_variable flusher_cv_;
  bool stopping_ = false;
  std::thread flusher_;
};

}  // namespace isb
