// auth_backoff.hpp: lockouts for client addresses that keep presenting wrong
// API keys.
//
// An address may fail `threshold` authentications in a row; the failure that
// reaches the threshold locks it out for 1 s, and each later one for twice as
// long as the one before, up to backoff_max_s. While an address is locked
// out no key it sends is even checked, so guessing runs at one try per
// lockout instead of as fast as the network allows. An address with no
// failure for reset_after_s starts again from zero. A success does not reset
// the count: a holder of one valid key must not be able to interleave it with
// guesses at other keys.
//
//   AuthBackoff backoff({.threshold = 10, .backoff_max_s = 300, .reset_after_s = 900});
//   bool key_ok = keys.match(presented).has_value();
//   auto v = backoff.attempt(addr, key_ok, now);
//   if (v.locked_for_s) refuse_429(v.locked_for_s);   // key_ok is not revealed
//   else if (!key_ok) refuse_401(v.lockout_s);
//
// attempt() decides and counts in one step under the lock, so concurrent
// guesses from one address cannot all slip in before the lockout: exactly
// `threshold` are judged, however many connections the client opens.
//
// Addresses are grouped by address_group(): an IPv6 client usually owns a
// whole /64, so it counts as one address. Memory: at most max_addresses
// entries; when that many are live (locked out or failed within
// reset_after_s), new addresses share one overflow entry, which fails closed:
// a flood from very many addresses locks them out together.
//
// Thread-safety: every member is safe from any thread (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace isb::security {

//! The unit that failures count against: an IPv4 address as is, an
//! IPv4-mapped IPv6 address as its IPv4 address, any other IPv6 address as
//! its /64 prefix ("2001:db8:0:1::/64"); anything that is not an IP address
//! (a transport's client id) as is.
std::string address_group(std::string_view address);

class AuthBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int64_t threshold = 10;       //!< failures in a row before the first lockout (>= 1)
    int64_t backoff_max_s = 300;  //!< longest lockout (>= 1)
    int64_t reset_after_s = 900;  //!< failures forgotten after this long without one (>= 1)
    size_t max_addresses = 16384;
  };

  explicit AuthBackoff(Options options);

  struct Verdict {
    int64_t locked_for_s = 0;  //!< > 0: refused unjudged, the address is locked out this long
    int64_t lockout_s = 0;     //!< > 0: this failure started a lockout this long
  };

  //! One authentication attempt whose key was (or was not) right: refused
  //! while address is locked out (the failure then is not counted), else a
  //! failure is counted as record_failure() does.
  Verdict attempt(const std::string& address, bool key_ok, Clock::time_point now);

  //! Whole seconds until address may try again (>= 1), or 0 when it may now.
  int64_t locked_for(const std::string& address, Clock::time_point now);

  //! Counts one failed authentication; returns the lockout it starts in
  //! whole seconds, 0 while the address is still under the threshold.
  int64_t record_failure(const std::string& address, Clock::time_point now);

  //! Failures counted against address (after forgetting stale ones).
  int64_t failures(const std::string& address, Clock::time_point now);

  const Options& options() const { return options_; }

  //! The entry addresses share once max_addresses are live.
  static constexpr const char* kOverflowKey = "(overflow)";

 private:
  struct Entry {
    int64_t failures = 0;
    Clock::time_point last_failure{};
    Clock::time_point locked_until{};
  };
  //! The entry of address, or of the overflow key when the table is full;
  //! nullptr when there is none and create is false.
  Entry* find(const std::string& address, Clock::time_point now, bool create);
  void forget_if_stale(Entry& e, Clock::time_point now) const;
  int64_t locked_for_locked(const std::string& address, Clock::time_point now);
  int64_t record_failure_locked(const std::string& address, Clock::time_point now);

  const Options options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  Clock::time_point last_sweep_{};
};

}  // namespace isb::security
