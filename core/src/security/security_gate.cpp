// security_gate.cpp: API key check, rate limiting and audit in one place.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <isb/core/security.hpp>
#include <mutex>

#include "security/api_keys.hpp"
#include "security/audit_log.hpp"
#include "security/rate_limiter.hpp"
#include "security/sha256.hpp"

namespace isb {
namespace {

std::mutex g_installed_mu;
std::shared_ptr<SecurityGate> g_installed;

}  // namespace

SecurityOptions SecurityGate::options_from(const Config& config) {
  SecurityOptions o;
  o.api_keys = config.security.api_keys;
  o.requests_per_minute = config.security.rate_limit.requests_per_minute;
  o.burst = config.security.rate_limit.burst;
  o.rate_limit_exempt_transports = config.security.rate_limit.exempt_transports;
  o.audit_logging = config.security.audit_logging;
  o.audit_log_path = config.audit_log_path();
  return o;
}

Result<std::shared_ptr<SecurityGate>> SecurityGate::create(const SecurityOptions& options) {
  std::shared_ptr<SecurityGate> gate(new SecurityGate());
  auto keys = security::ApiKeys::from_entries(options.api_keys);
  if (!keys) return keys.error();
  gate->keys_ = std::make_unique<security::ApiKeys>(std::move(*keys));
  gate->limiter_ = std::make_unique<security::RateLimiter>(options.requests_per_minute, options.burst);
  gate->exempt_ = options.rate_limit_exempt_transports;
  if (options.audit_logging) {
    auto log = security::AuditLog::open(options.audit_log_path);
    if (!log) return log.error();
    gate->audit_ = std::move(*log);
  }
  gate->policy_json_ = boost::json::serialize(boost::json::object{
      {"api_keys_required", !gate->keys_->empty()},
      {"rate_limit",
       {{"requests_per_minute", gate->limiter_->requests_per_minute()}, {"burst", gate->limiter_->burst()}}},
      {"audit_logging", gate->audit_ != nullptr}});
  return gate;
}

SecurityGate::~SecurityGate() = default;

void SecurityGate::install(std::shared_ptr<SecurityGate> gate) {
  std::lock_guard<std::mutex> lock(g_installed_mu);
  g_installed = std::move(gate);
}

std::shared_ptr<SecurityGate> SecurityGate::installed() {
  std::lock_guard<std::mutex> lock(g_installed_mu);
  return g_installed;
}

bool SecurityGate::api_keys_required() const { return !keys_->empty(); }

Admission SecurityGate::admit(const Caller& caller, const std::string& operation, bool charge) {
  Admission a;
  a.principal = caller.principal.empty() ? "anonymous" : caller.principal;
  if (!keys_->empty()) {
    auto p = keys_->match(caller.credential);
    if (!p) {
      a.code = "unauthenticated";
      a.message =
          caller.credential.empty()
              ? "an API key is required: send it as \"X-API-Key: <key>\" or \"Authorization: Bearer <key>\""
              : "the API key is not valid: check the key, or ask the operator for a current one";
      audit(caller, a.principal, operation, "", "denied:unauthenticated", {});
      return a;
    }
    a.principal = *p;
  }
  if (charge && std::find(exempt_.begin(), exempt_.end(), caller.transport) == exempt_.end()) {
    // Authenticated callers share one bucket per key across connections;
    // anonymous ones get one per transport client.
    std::string bucket = !keys_->empty() ? a.principal : caller.transport + "/" + caller.client_id;
    auto d = limiter_->take(bucket, security::RateLimiter::Clock::now());
    if (!d.allowed) {
      a.code = "rate_limited";
      a.retry_after_s = d.retry_after_s;
      a.message = "rate limit exceeded (" + std::to_string(limiter_->requests_per_minute()) +
                  " requests per minute, burst " + std::to_string(limiter_->burst()) + "); retry after " +
                  std::to_string(d.retry_after_s) + " s";
      audit(caller, a.principal, operation, "", "denied:rate_limited", {});
      return a;
    }
  }
  a.allowed = true;
  return a;
}

void SecurityGate::audit(const Caller& caller, const std::string& principal, const std::string& operation,
                         const std::string& args_json, const std::string& outcome,
                         std::chrono::steady_clock::duration took) {
  if (!audit_) return;
  security::AuditRecord r;
  r.principal = principal;
  r.transport = caller.transport;
  r.client_id = caller.client_id;
  r.operation = operation;
  r.args_sha256 = security::sha256_hex(args_json);
  r.outcome = outcome;
  r.duration_ms = std::chrono::duration<double, std::milli>(took).count();
  if (!audit_->record(r)) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) spdlog::error("cannot append to the audit log {}", audit_->path());
  }
}

}  // namespace isb
