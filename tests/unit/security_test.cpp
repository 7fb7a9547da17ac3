// security_test.cpp: the core's front door: SHA-256, API keys, the token
// bucket, lockouts after failed authentications, the audit log (sampling,
// rotation, reopening on SIGHUP) and the gate that combines them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <isb/core/security.hpp>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "security/api_keys.hpp"
#include "security/audit_log.hpp"
#include "security/audit_sampler.hpp"
#include "security/auth_backoff.hpp"
#include "security/rate_limiter.hpp"
#include "security/sha256.hpp"

namespace {

using isb::security::address_group;
using isb::security::ApiKeys;
using isb::security::AuditLog;
using isb::security::AuditRecord;
using isb::security::AuditSampler;
using isb::security::AuthBackoff;
using isb::security::RateLimiter;
using isb::security::sha256_hex;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Sha256, MatchesTheFips180Vectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // 55 and 56 bytes straddle the one-block/two-block padding boundary.
  EXPECT_EQ(sha256_hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ApiKeys, AcceptsPlainAndHashedEntriesAndNamesThePrincipalByHash) {
  const std::string plain = "plain-key-0123456789";
  const std::string hashed = "hashed-key-0123456789";
  auto keys = ApiKeys::from_entries({plain, "sha256:" + sha256_hex(hashed)});
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_EQ(keys->match(plain), "key:" + sha256_hex(plain).substr(0, 12));
  EXPECT_EQ(keys->match(hashed), "key:" + sha256_hex(hashed).substr(0, 12));
  EXPECT_EQ(keys->match("plain-key-012345678"), std::nullopt);
  EXPECT_EQ(keys->match(""), std::nullopt);
  EXPECT_EQ(keys->match("sha256:" + sha256_hex(hashed)), std::nullopt) << "the hash itself is not a key";
}

TEST(ApiKeys, RejectsMalformedHashesAndShortKeysWithTheEntryNamed) {
  auto bad_hash = ApiKeys::from_entries({"sha256:abc"});
  ASSERT_FALSE(bad_hash);
  EXPECT_NE(bad_hash.error().message.find("security.api_keys[0]"), std::string::npos);
  EXPECT_NE(bad_hash.error().message.find("64 hex digits"), std::string::npos);
  auto short_key = ApiKeys::from_entries({"long-enough-key-0123", "short"});
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().message.find("security.api_keys[1]"), std::string::npos);
  EXPECT_NE(short_key.error().message.find("16 characters"), std::string::npos);
}

TEST(RateLimiter, AllowsTheBurstThenRefillsAtTheRate) {
  RateLimiter limiter(60, 3);  // one token per second
  auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.take("a", t0).allowed) << i;
  auto refused = limiter.take("a", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 1);
  EXPECT_TRUE(limiter.take("b", t0).allowed) << "buckets are per key";
  EXPECT_FALSE(limiter.take("a", t0 + std::chrono::milliseconds(500)).allowed);
  EXPECT_TRUE(limiter.take("a", t0 + std::chrono::milliseconds(1100)).allowed);
  EXPECT_FALSE(limiter.take("a", t0 + std::chrono::milliseconds(1200)).allowed);
}

TEST(RateLimiter, RetryAfterCoversTheWaitForOneToken) {
  RateLimiter limiter(6, 1);  // one token per 10 s
  auto t0 = RateLimiter::Clock::now();
  EXPECT_TRUE(limiter.take("k", t0).allowed);
  EXPECT_EQ(limiter.take("k", t0).retry_after_s, 10);
  EXPECT_EQ(limiter.take("k", t0 + std::chrono::seconds(4)).retry_after_s, 6);
}

TEST(AuthBackoff, LocksOutAtTheThresholdAndDoublesEachLockoutUpToTheMaximum) {
  AuthBackoff backoff({.threshold = 3, .backoff_max_s = 8, .reset_after_s = 600});
  auto t = AuthBackoff::Clock::now();
  EXPECT_EQ(backoff.locked_for("10.0.0.1", t), 0);
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t), 0);
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t), 0);
  EXPECT_EQ(backoff.locked_for("10.0.0.1", t), 0) << "under the threshold an address may keep trying";
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t), 1) << "the third failure starts a 1 s lockout";
  EXPECT_EQ(backoff.locked_for("10.0.0.1", t), 1);
  EXPECT_EQ(backoff.locked_for("10.0.0.2", t), 0) << "lockouts are per address";
  t += milliseconds(1001);
  EXPECT_EQ(backoff.locked_for("10.0.0.1", t), 0);
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t), 2);
  t += seconds(2);
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t), 4);
  EXPECT_EQ(backoff.locked_for("10.0.0.1", t + milliseconds(2500)), 2) << "Retry-After rounds up";
  t += seconds(4);
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t), 8);
  t += seconds(8);
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t), 8) << "capped at backoff_max_s";
  EXPECT_EQ(backoff.failures("10.0.0.1", t), 7);
}

TEST(AuthBackoff, ConcurrentGuessesFromOneAddressAreJudgedOnlyUpToTheThreshold) {
  AuthBackoff backoff({.threshold = 10, .backoff_max_s = 300, .reset_after_s = 900});
  const auto t = AuthBackoff::Clock::now();
  std::atomic<int> judged{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 200; ++j) {
        auto v = backoff.attempt("10.0.0.1", false, t);
        (v.locked_for_s > 0 ? refused : judged)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(judged, 10) << "as many connections as the client likes: still only the threshold is judged";
  EXPECT_EQ(refused, 1590);
  auto right = backoff.attempt("10.0.0.1", true, t);
  EXPECT_GT(right.locked_for_s, 0) << "a right key is refused unjudged while locked out";
  EXPECT_EQ(backoff.attempt("10.0.0.2", true, t).locked_for_s, 0);
}

TEST(AuthBackoff, ForgetsAnAddressAfterResetAfterWithoutFailures) {
  AuthBackoff backoff({.threshold = 2, .backoff_max_s = 60, .reset_after_s = 30});
  auto t = AuthBackoff::Clock::now();
  backoff.record_failure("10.0.0.1", t);
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t + seconds(29)), 1) << "29 s apart: still one streak";
  EXPECT_EQ(backoff.failures("10.0.0.1", t + seconds(58)), 2);
  EXPECT_EQ(backoff.failures("10.0.0.1", t + seconds(59)), 0) << "30 s after the last failure";
  EXPECT_EQ(backoff.record_failure("10.0.0.1", t + seconds(59)), 0)
      << "and a new streak starts below the threshold";
}

TEST(AuthBackoff, GroupsIpv6ByPrefixAndMappedIpv4AsIpv4) {
  EXPECT_EQ(address_group("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_group("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_group("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_group("2001:db8:1:2::1"), address_group("2001:db8:1:2:ffff::9"));
  EXPECT_NE(address_group("2001:db8:1:2::1"), address_group("2001:db8:1:3::1"));
  EXPECT_EQ(address_group("::1"), "::1");
  EXPECT_EQ(address_group("mcp-stdio/mcp-stdio"), "mcp-stdio/mcp-stdio") << "not an address: kept as is";
}

TEST(AuthBackoff, AFullTableSharesOneEntryForNewcomersInsteadOfGrowing) {
  AuthBackoff backoff({.threshold = 2, .backoff_max_s = 60, .reset_after_s = 600, .max_addresses = 4});
  auto t = AuthBackoff::Clock::now();
  for (int i = 0; i < 4; ++i) backoff.record_failure("10.0.0." + std::to_string(i), t);
  // Every further address lands on the shared overflow entry: a flood from
  // many addresses is locked out as one (fail closed) and memory stays flat.
  EXPECT_EQ(backoff.record_failure("10.0.1.1", t), 0);
  EXPECT_EQ(backoff.record_failure("10.0.1.2", t), 1);
  EXPECT_EQ(backoff.locked_for("10.0.1.3", t), 1) << "a newcomer is judged with the overflow";
  EXPECT_EQ(backoff.locked_for("10.0.0.0", t), 0) << "known addresses keep their own count";
  // Once the old entries are stale they make room again.
  auto later = t + seconds(601);
  EXPECT_EQ(backoff.locked_for("10.0.2.1", later), 0);
  EXPECT_EQ(backoff.record_failure("10.0.2.1", later), 0);
  EXPECT_EQ(backoff.failures("10.0.2.1", later), 1);
}

AuditRecord refusal(const std::string& address) {
  AuditRecord r;
  r.principal = "anonymous";
  r.transport = "mcp-http";
  r.client_address = address;
  r.operation = "(request)";
  r.outcome = "denied:unauthenticated";
  return r;
}

TEST(AuditSampler, WritesTheThresholdThenOneLinePerSecondCarryingTheSuppressedCount) {
  AuditSampler sampler({.threshold = 3});
  auto t = AuditSampler::Clock::now();
  int written = 0;
  for (int i = 0; i < 3; ++i) {
    auto line = sampler.offer("a", refusal("10.0.0.1"), t);
    ASSERT_TRUE(line) << i;
    EXPECT_EQ(line->suppressed, 0);
    ++written;
  }
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(sampler.offer("a", refusal("10.0.0.1"), t)) << i;
  EXPECT_TRUE(sampler.offer("b", refusal("10.0.0.2"), t)) << "each group has its own budget";
  EXPECT_FALSE(sampler.offer("a", refusal("10.0.0.1"), t + milliseconds(900)));
  auto next = sampler.offer("a", refusal("10.0.0.1"), t + milliseconds(1000));
  ASSERT_TRUE(next) << "one line per second once over the threshold";
  EXPECT_EQ(next->suppressed, 101) << "the line says how many like it were not written";
  EXPECT_FALSE(sampler.offer("a", refusal("10.0.0.1"), t + milliseconds(1100)));
}

TEST(AuditSampler, OverdueWritesTheLastHeldBackLineOnceASecondHasPassed) {
  AuditSampler sampler({.threshold = 1});
  auto t = AuditSampler::Clock::now();
  ASSERT_TRUE(sampler.offer("a", refusal("10.0.0.1"), t));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(sampler.offer("a", refusal("10.0.0.1"), t));
  EXPECT_TRUE(sampler.overdue(t + milliseconds(500)).empty()) << "not before the budget allows a line";
  auto lines = sampler.overdue(t + milliseconds(1000));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].client_address, "10.0.0.1");
  EXPECT_EQ(lines[0].suppressed, 4) << "the line is one of the five; four others were not written";
  EXPECT_TRUE(sampler.overdue(t + seconds(5)).empty()) << "every refusal is accounted for exactly once";
}

TEST(AuditSampler, KeepsAtMostMaxGroupsAndSamplesTheRestTogether) {
  AuditSampler sampler({.threshold = 1, .max_groups = 8});
  auto t = AuditSampler::Clock::now();
  int written = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string addr = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    if (sampler.offer(addr, refusal(addr), t)) ++written;
  }
  EXPECT_LE(sampler.groups(), 9u);
  EXPECT_LE(written, 9) << "1000 addresses at once write one line per group";
  auto later = t + seconds(2);
  size_t overdue = sampler.overdue(later).size();
  EXPECT_GE(overdue, 1u);
  EXPECT_LE(overdue, 9u);
}

class SecurityGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("isb-security-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::vector<boost::json::object> audit_lines() {
    std::ifstream in(dir_ / "audit.jsonl");
    std::vector<boost::json::object> out;
    for (std::string line; std::getline(in, line);) out.push_back(boost::json::parse(line).as_object());
    return out;
  }
  std::filesystem::path dir_;
};

TEST_F(SecurityGateTest, RequiresTheKeyRateLimitsAndAuditsRefusals) {
  const std::string key = "gate-key-0123456789abc";
  isb::SecurityOptions o;
  o.api_keys = {key};
  o.requests_per_minute = 60;
  o.burst = 2;
  o.rate_limit_exempt_transports = {"mcp-stdio"};
  o.audit_log_path = (dir_ / "audit.jsonl").string();
  auto gate = isb::SecurityGate::create(o);
  ASSERT_TRUE(gate) << gate.error().message;
  EXPECT_TRUE((*gate)->api_keys_required());
  EXPECT_EQ(
      (*gate)->policy_json(),
      R"({"api_keys_required":true,"rate_limit":{"requests_per_minute":60,"burst":2},"audit_logging":true})");

  auto none = (*gate)->admit({"mcp-http", "", "1.2.3.4", "", "1.2.3.4"}, "exec_command", true);
  EXPECT_FALSE(none.allowed);
  EXPECT_EQ(none.code, "unauthenticated");
  EXPECT_NE(none.message.find("X-API-Key"), std::string::npos);
  isb::Caller ok{"mcp-http", "", "1.2.3.4", key, "1.2.3.4"};
  EXPECT_TRUE((*gate)->admit(ok, "ping", true).allowed);
  EXPECT_TRUE((*gate)->admit(ok, "ping", true).allowed);
  auto limited = (*gate)->admit(ok, "ping", true);
  EXPECT_FALSE(limited.allowed);
  EXPECT_EQ(limited.code, "rate_limited");
  EXPECT_EQ(limited.retry_after_s, 1);
  EXPECT_TRUE((*gate)->admit(ok, "ping", false).allowed) << "an admitted request is not charged twice";
  isb::Caller stdio{"mcp-stdio", "", "mcp-stdio", key, ""};
  for (int i = 0; i < 5; ++i) EXPECT_TRUE((*gate)->admit(stdio, "ping", true).allowed) << "stdio is exempt";

  (*gate)->audit(ok, "key:x", "exec_command", R"({"a":1})", "ok", std::chrono::milliseconds(5));
  auto lines = audit_lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].at("outcome").as_string(), "denied:unauthenticated");
  EXPECT_EQ(lines[0].at("principal").as_string(), "anonymous");
  EXPECT_EQ(lines[1].at("outcome").as_string(), "denied:rate_limited");
  EXPECT_EQ(lines[1].at("principal").as_string(), "key:" + sha256_hex(key).substr(0, 12));
  EXPECT_EQ(lines[2].at("operation").as_string(), "exec_command");
  EXPECT_EQ(lines[2].at("args_sha256").as_string(), sha256_hex(R"({"a":1})"));
  EXPECT_DOUBLE_EQ(lines[2].at("duration_ms").to_number<double>(), 5.0);
  EXPECT_EQ(lines[2].at("client_id").as_string(), "1.2.3.4");
}

TEST_F(SecurityGateTest, RefusesAnUnwritableAuditLogWithTheKeyNamed) {
  isb::SecurityOptions o;
  o.audit_log_path = "/proc/no-such-dir/audit.jsonl";
  auto gate = isb::SecurityGate::create(o);
  ASSERT_FALSE(gate);
  EXPECT_NE(gate.error().message.find("security.audit_log_path"), std::string::npos);
}

TEST_F(SecurityGateTest, WrongKeyFloodIsLockedOutAfterTheThresholdAndItsAuditLinesAreSampled) {
  const std::string key = "gate-key-0123456789abc";
  const std::string addr = "198.51.100.7";
  isb::SecurityOptions o;
  o.api_keys = {key};
  o.rate_limit_exempt_transports = {"mcp-stdio"};
  o.audit_log_path = (dir_ / "audit.jsonl").string();
  o.auth_failure_threshold = 5;
  o.audit_sample_threshold = 10;
  {
    auto gate = isb::SecurityGate::create(o);
    ASSERT_TRUE(gate) << gate.error().message;
    isb::Caller wrong{"mcp-http", "", addr, "wrong-key-0000000000", addr};
    int unauthenticated = 0, locked = 0;
    for (int i = 0; i < 1000; ++i) {
      auto a = (*gate)->admit(wrong, "(request)", true);
      ASSERT_FALSE(a.allowed);
      if (a.code == "unauthenticated") ++unauthenticated;
      if (a.code == "rate_limited") {
        ++locked;
        EXPECT_GE(a.retry_after_s, 1);
        EXPECT_NE(a.message.find("too many failed API key attempts"), std::string::npos) << a.message;
      }
    }
    EXPECT_EQ(unauthenticated, 5) << "the threshold";
    EXPECT_EQ(locked, 995) << "then the address is locked out";

    isb::Caller right{"mcp-http", "", addr, key, addr};
    auto a = (*gate)->admit(right, "(request)", true);
    EXPECT_FALSE(a.allowed) << "no key is checked from a locked-out address, not even a right one";
    EXPECT_EQ(a.code, "rate_limited");
    EXPECT_TRUE((*gate)->admit(right, "ping", false).allowed)
        << "a request admitted at the door before the lockout still runs";
    isb::Caller elsewhere{"mcp-http", "", "198.51.100.8", key, "198.51.100.8"};
    EXPECT_TRUE((*gate)->admit(elsewhere, "(request)", true).allowed) << "other addresses are not affected";
    isb::Caller stdio{"mcp-stdio", "", "mcp-stdio", "wrong-key-0000000000", ""};
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ((*gate)->admit(stdio, "ping", true).code, "unauthenticated")
          << "exempt transports: no lockout";
    }
  }  // the gate's end writes what is still held back
  auto lines = audit_lines();
  EXPECT_LE(lines.size(), 30u) << "1020 refusals, sampled";
  int64_t accounted = 0, stdio_accounted = 0;
  bool sampled = false;
  for (const auto& l : lines) {
    int64_t suppressed = l.contains("suppressed") ? l.at("suppressed").as_int64() : 0;
    sampled = sampled || suppressed > 0;
    if (l.at("transport").as_string() == "mcp-stdio") {
      stdio_accounted += 1 + suppressed;
      continue;
    }
    EXPECT_EQ(l.at("client_address").as_string(), addr);
    EXPECT_TRUE(l.at("outcome").as_string() == "denied:unauthenticated" ||
                l.at("outcome").as_string() == "denied:auth_backoff")
        << l.at("outcome").as_string();
    accounted += 1 + suppressed;
  }
  EXPECT_TRUE(sampled);
  EXPECT_EQ(accounted, 1001) << "every refusal is a line or counted in one";
  EXPECT_EQ(stdio_accounted, 20);
}

TEST_F(SecurityGateTest, AuditLogRotatesBySizeKeepingBackupCountFiles) {
  const std::string path = (dir_ / "audit.jsonl").string();
  {
    auto log = AuditLog::open(path, {.max_bytes = 2000, .backup_count = 2});
    ASSERT_TRUE(log) << log.error().message;
    for (int i = 0; i < 100; ++i) {
      AuditRecord r = refusal("10.0.0.1");
      r.operation = "op-" + std::to_string(i);
      ASSERT_TRUE((*log)->record(r));
    }
  }
  ASSERT_TRUE(std::filesystem::exists(path + ".1"));
  ASSERT_TRUE(std::filesystem::exists(path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path + ".3")) << "backup_count 2: the oldest is dropped";
  for (const std::string& f : {path, path + ".1", path + ".2"}) {
    EXPECT_LE(std::filesystem::file_size(f), 2000u) << f;
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) EXPECT_NO_THROW(boost::json::parse(line)) << f;
  }
  std::ifstream newest(path);
  std::string last, line;
  while (std::getline(newest, line)) last = line;
  EXPECT_EQ(boost::json::parse(last).at("operation").as_string(), "op-99");

  // backup_count 0: the file starts afresh and never passes the size.
  const std::string single = (dir_ / "single.jsonl").string();
  auto log = AuditLog::open(single, {.max_bytes = 1500, .backup_count = 0});
  ASSERT_TRUE(log);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE((*log)->record(refusal("10.0.0.1")));
  EXPECT_LE(std::filesystem::file_size(single), 1500u);
  EXPECT_FALSE(std::filesystem::exists(single + ".1"));
}

TEST_F(SecurityGateTest, ReopenStartsANewFileAfterTheOldOneWasMovedAway) {
  const std::string path = (dir_ / "audit.jsonl").string();
  auto log = AuditLog::open(path);
  ASSERT_TRUE(log);
  AuditRecord r = refusal("10.0.0.1");
  r.operation = "before";
  ASSERT_TRUE((*log)->record(r));
  std::filesystem::rename(path, path + ".old");
  r.operation = "moved";
  ASSERT_TRUE((*log)->record(r)) << "until reopened, lines follow the moved file";
  ASSERT_TRUE((*log)->reopen());
  r.operation = "after";
  ASSERT_TRUE((*log)->record(r));
  auto ops = [](const std::string& f) {
    std::vector<std::string> out;
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);)
      out.emplace_back(boost::json::parse(line).at("operation").as_string());
    return out;
  };
  EXPECT_EQ(ops(path + ".old"), (std::vector<std::string>{"before", "moved"}));
  EXPECT_EQ(ops(path), (std::vector<std::string>{"after"}));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

// The real server on stdio, driven line by line.
class StdioServer {
 public:
  StdioServer(const std::filesystem::path& dir, const std::string& audit_path) {
    int in[2], out[2];
    EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    std::vector<std::string> env_text = {"SANDBOX_BASE_DIR=" + (dir / "base").string(),
                                         "SANDBOX_SECURITY_AUDIT_LOG_PATH=" + audit_path,
                                         "PATH=/usr/bin:/bin"};
    std::vector<char*> env;
    for (auto& e : env_text) env.push_back(e.data());
    env.push_back(nullptr);
    std::string stderr_path = (dir / "stderr.log").string();
    std::string cwd = dir.string();  // no ./config/sandbox.yaml there: built-in defaults
    pid_ = fork();
    if (pid_ == 0) {
      if (chdir(cwd.c_str()) != 0) _exit(126);
      dup2(in[0], 0);
      dup2(out[1], 1);
      int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (err >= 0) dup2(err, 2);
      char* argv[] = {const_cast<char*>("intelligent-sandbox"), const_cast<char*>("serve"), nullptr};
      execve(ISB_TEST_BINARY, argv, env.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~StdioServer() {
    close(to_);
    close(from_);
    if (pid_ > 0 && !exited()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  //! Sends one message and returns the next line the server writes ("" after 10 s).
  std::string call(const std::string& message) {
    std::string line = message + "\n";
    EXPECT_EQ(write(to_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    std::string got;
    for (int waited = 0; waited < 10000;) {
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) {
        waited += 100;
        continue;
      }
      char c;
      if (read(from_, &c, 1) != 1) break;
      if (c == '\n') return got;
      got.push_back(c);
    }
    return "";
  }
  bool exited() {
    if (status_) return true;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
    return status_.has_value();
  }
  pid_t pid() const { return pid_; }
  std::optional<int> status_;

 private:
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
};

TEST_F(SecurityGateTest, TheServerReopensItsAuditLogOnSighup) {
  const std::string path = (dir_ / "audit.jsonl").string();
  StdioServer server(dir_, path);
  ASSERT_NE(server.call(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":)"
                        R"("2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})"),
            "");
  const std::string call =
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_workspaces",)"
      R"("arguments":{}}})";
  ASSERT_NE(server.call(call), "");
  ASSERT_TRUE(std::filesystem::exists(path));
  std::filesystem::rename(path, path + ".1");  // what logrotate does before its postrotate SIGHUP

  ASSERT_EQ(kill(server.pid(), SIGHUP), 0);
  std::string log;
  for (int i = 0; i < 50 && log.find("audit log reopened") == std::string::npos; ++i) {
    ASSERT_FALSE(server.exited()) << "SIGHUP ended the server"
                                  << (WIFSIGNALED(*server.status_) ? " (killed by signal " : " (exit status ")
                                  << (WIFSIGNALED(*server.status_) ? WTERMSIG(*server.status_)
                                                                   : WEXITSTATUS(*server.status_))
                                  << ")";
    usleep(100 * 1000);
    std::ifstream in(dir_ / "stderr.log");
    log.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_NE(log.find("audit log reopened"), std::string::npos) << log;
  ASSERT_NE(server.call(call), "");
  auto count = [](const std::string& f) {
    std::ifstream in(f);
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find("list_workspaces") != std::string::npos;
    return n;
  };
  EXPECT_EQ(count(path + ".1"), 1);
  EXPECT_EQ(count(path), 1) << "the call after SIGHUP went to a new file at the configured path";
}

}  // namespace
