// security.hpp: the core's front door for every transport: API keys, rate
// limits and the audit log, applied once per request whatever the transport.
//
// The gate is built from the config and installed process-wide before a
// transport serves; the plugin host consults it on every call_operation and
// transports reach it through the host API (admit, security_policy_json).
//
//   auto gate = isb::SecurityGate::create(isb::SecurityGate::options_from(config));
//   if (!gate) fail(gate.error().message);
//   isb::SecurityGate::install(*gate);
//
// Thread-safety: every member is safe from any thread; install() is meant to
// be called once at start-up, before a transport serves.
#pragma once

#include <chrono>
#include <cstdint>
#include <isb/core/config.hpp>
#include <isb/core/result.hpp>
#include <memory>
#include <string>
#include <vector>

namespace isb {

namespace security {
class ApiKeys;
class RateLimiter;
class AuditLog;
}  // namespace security

struct SecurityOptions {
  std::vector<std::string> api_keys;  // "sha256:<hex>" hashes or plain keys
  int64_t requests_per_minute = 60;
  int64_t burst = 10;
  std::vector<std::string> rate_limit_exempt_transports;
  bool audit_logging = true;
  std::string audit_log_path;
};

//! Who is calling, as a transport describes it.
struct Caller {
  std::string transport;
  std::string principal;
  std::string client_id;
  std::string credential;
};

struct Admission {
  bool allowed = false;
  std::string principal;  // key principal, else the transport's, else "anonymous"
  std::string code;       // "unauthenticated" or "rate_limited" when refused
  std::string message;
  int64_t retry_after_s = 0;
};

class SecurityGate {
 public:
  static SecurityOptions options_from(const Config& config);
  static Result<std::shared_ptr<SecurityGate>> create(const SecurityOptions& options);

  //! The gate consulted by the plugin host; nullptr until installed.
  static void install(std::shared_ptr<SecurityGate> gate);
  static std::shared_ptr<SecurityGate> installed();

  ~SecurityGate();

  bool api_keys_required() const;
  //! {"api_keys_required":bool,"rate_limit":{"requests_per_minute","burst"}}
  const std::string& policy_json() const { return policy_json_; }

  //! Checks the key; when charge is set, also takes a rate-limit token.
  //! A refusal is written to the audit log.
  Admission admit(const Caller& caller, const std::string& operation, bool charge);

  //! Appends an audit line for one finished operation call.
  void audit(const Caller& caller, const std::string& principal, const std::string& operation,
             const std::string& args_json, const std::string& outcome,
             std::chrono::steady_clock::duration took);

 private:
  SecurityGate() = default;
  std::unique_ptr<security::ApiKeys> keys_;
  std::unique_ptr<security::RateLimiter> limiter_;
  std::unique_ptr<security::AuditLog> audit_;
  std::vector<std::string> exempt_;
  std::string policy_json_;
};

}  // namespace isb
