// security_test.cpp: the core's front door: SHA-256, API keys, the token
// bucket, the audit log and the gate that combines them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <isb/core/security.hpp>
#include <string>
#include <vector>

#include "security/api_keys.hpp"
#include "security/rate_limiter.hpp"
#include "security/sha256.hpp"

namespace {

using isb::security::ApiKeys;
using isb::security::RateLimiter;
using isb::security::sha256_hex;

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

  auto none = (*gate)->admit({"mcp-http", "", "1.2.3.4", ""}, "exec_command", true);
  EXPECT_FALSE(none.allowed);
  EXPECT_EQ(none.code, "unauthenticated");
  EXPECT_NE(none.message.find("X-API-Key"), std::string::npos);
  isb::Caller ok{"mcp-http", "", "1.2.3.4", key};
  EXPECT_TRUE((*gate)->admit(ok, "ping", true).allowed);
  EXPECT_TRUE((*gate)->admit(ok, "ping", true).allowed);
  auto limited = (*gate)->admit(ok, "ping", true);
  EXPECT_FALSE(limited.allowed);
  EXPECT_EQ(limited.code, "rate_limited");
  EXPECT_EQ(limited.retry_after_s, 1);
  EXPECT_TRUE((*gate)->admit(ok, "ping", false).allowed) << "an admitted request is not charged twice";
  isb::Caller stdio{"mcp-stdio", "", "mcp-stdio", key};
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

}  // namespace
