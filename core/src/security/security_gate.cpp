// security_gate.cpp: API key check, lockouts, rate limiting and audit in one place.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <isb/core/security.hpp>
#include <mutex>

#include "security/api_keys.hpp"
#include "security/audit_log.hpp"
#include "security/audit_sampler.hpp"
#include "security/auth_backoff.hpp"
#include "security/rate_limiter.hpp"
#include "security/sha256.hpp"

namespace isb {
namespace {

// What lockouts and audit sampling count against: the peer's address when the
// transport knows it, else the transport's own client id.
std::string client_group(const Caller& caller) {
  if (!caller.client_address.empty()) return security::address_group(caller.client_address);
  return caller.transport + "/" + caller.client_id;
}

void warn_audit_write_failed(const std::string& path) {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) spdlog::error("cannot append to the audit log {}", path);
}

}  // namespace

Result<std::shared_ptr<SecurityGate>> SecurityGate::create(const SecurityOptions& options) {
  std::shared_ptr<SecurityGate> gate(new SecurityGate());
  auto keys = security::ApiKeys::from_entries(options.api_keys);
  if (!keys) return keys.error();
  gate->keys_ = std::make_unique<security::ApiKeys>(std::move(*keys));
  gate->limiter_ = std::make_unique<security::RateLimiter>(options.requests_per_minute, options.burst);
  gate->backoff_ = std::make_unique<security::AuthBackoff>(
      security::AuthBackoff::Options{.threshold = options.auth_failure_threshold,
                                     .backoff_max_s = options.auth_backoff_max_s,
                                     .reset_after_s = options.auth_failure_reset_s});
  gate->exempt_ = options.rate_limit_exempt_transports;
  if (options.audit_logging) {
    security::AuditRotation rotation;
    rotation.max_bytes = static_cast<uint64_t>(std::max<int64_t>(0, options.audit_max_size_mb)) << 20;
    rotation.backup_count = std::max<int64_t>(0, options.audit_backup_count);
    auto log = security::AuditLog::open(options.audit_log_path, rotation);
    if (!log) return log.error();
    gate->audit_ = std::move(*log);
    gate->sampler_ = std::make_unique<security::AuditSampler>(
        security::AuditSampler::Options{.threshold = options.audit_sample_threshold});
    gate->flusher_ = std::thread(&SecurityGate::flush_sampled_lines, gate.get());
  }
  gate->policy_json_ = boost::json::serialize(boost::json::object{
      {"api_keys_required", !gate->keys_->empty()},
      {"rate_limit",
       {{"requests_per_minute", gate->limiter_->requests_per_minute()}, {"burst", gate->limiter_->burst()}}},
      {"audit_logging", gate->audit_ != nullptr}});
  return gate;
}

SecurityGate::~SecurityGate() {
  if (flusher_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(flusher_mu_);
      stopping_ = true;
    }
    flusher_cv_.notify_all();
    flusher_.join();
  }
}

void SecurityGate::flush_sampled_lines() {
  std::unique_lock<std::mutex> lock(flusher_mu_);
  for (;;) {
    bool stop = flusher_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    // On the way out too: held-back refusals are still accounted for.
    auto now = stop ? security::AuditSampler::Clock::time_point::max() : security::AuditSampler::Clock::now();
    for (const auto& r : sampler_->overdue(now)) {
      if (!audit_->record(r)) warn_audit_write_failed(audit_->path());
    }
    if (stop) return;
  }
}

Status SecurityGate::reopen_audit_log() { return audit_ ? audit_->reopen() : ok_status(); }

bool SecurityGate::api_keys_required() const { return !keys_->empty(); }

Admission SecurityGate::admit(const Caller& caller, const std::string& operation, bool charge) {
  Admission a;
  a.principal = caller.principal.empty() ? "anonymous" : caller.principal;
  const bool limited = std::find(exempt_.begin(), exempt_.end(), caller.transport) == exempt_.end();
  if (!keys_->empty()) {
    const std::string address = client_group(caller);
    auto p = keys_->match(caller.credential);
    int64_t lockout = 0;
    if (limited) {
      auto now = security::AuthBackoff::Clock::now();
      if (charge) {
        // A locked-out address must learn nothing from its guesses, not even
        // from a right one; attempt() decides and counts in one step.
        auto v = backoff_->attempt(address, p.has_value(), now);
        if (v.locked_for_s > 0) {
          a.code = "rate_limited";
          a.retry_after_s = v.locked_for_s;
          a.message = "too many failed API key attempts from this client address; no key is checked for " +
                      std::to_string(v.locked_for_s) + " s (each further failure doubles the wait, up to " +
                      std::to_string(backoff_->options().backoff_max_s) +
                      " s): fix the key the client sends, then retry";
          audit_refusal(caller, a.principal, operation, "denied:auth_backoff");
          return a;
        }
        lockout = v.lockout_s;
      } else if (!p) {
        lockout = backoff_->record_failure(address, now);
      }
    }
    if (!p) {
      a.code = "unauthenticated";
      a.message =
          caller.credential.empty()
              ? "an API key is required: send it as \"X-API-Key: <key>\" or \"Authorization: Bearer <key>\""
              : "the API key is not valid: check the key, or ask the operator for a current one";
      if (lockout > 0) {
        a.message += "; after " + std::to_string(backoff_->options().threshold) +
                     " failures in a row this client address may not try again for " +
                     std::to_string(lockout) + " s";
      }
      audit_refusal(caller, a.principal, operation, "denied:unauthenticated");
      return a;
    }
    a.principal = *p;
  }
  if (charge && limited) {
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
      audit_refusal(caller, a.principal, operation, "denied:rate_limited");
      return a;
    }
  }
  a.allowed = true;
  return a;
}

void SecurityGate::audit_refusal(const Caller& caller, const std::string& principal,
                                 const std::string& operation, const std::string& outcome) {
  if (!audit_) return;
  security::AuditRecord r;
  r.time = std::chrono::system_clock::now();
  r.principal = principal;
  r.transport = caller.transport;
  r.client_id = caller.client_id;
  r.client_address = caller.client_address;
  r.operation = operation;
  r.args_sha256 = security::sha256_hex("");
  r.outcome = outcome;
  auto line = sampler_->offer(outcome + " " + client_group(caller), std::move(r),
                              security::AuditSampler::Clock::now());
  if (line && !audit_->record(*line)) warn_audit_write_failed(audit_->path());
}

void SecurityGate::audit(const Caller& caller, const std::string& principal, const std::string& operation,
                         const std::string& args_json, const std::string& outcome,
                         std::chrono::steady_clock::duration took) {
  if (!audit_) return;
  security::AuditRecord r;
  r.principal = principal;
  r.transport = caller.transport;
  r.client_id = caller.client_id;
  r.client_address = caller.client_address;
  r.operation = operation;
  r.args_sha256 = security::sha256_hex(args_json);
  r.outcome = outcome;
  r.duration_ms = std::chrono::duration<double, std::milli>(took).count();
  if (!audit_->record(r)) warn_audit_write_failed(audit_->path());
}

}  // namespace isb
