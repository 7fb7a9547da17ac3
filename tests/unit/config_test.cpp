// config_test.cpp: tests of the sandbox.yaml loader (core/src/config).
//
// Most tests parse YAML text given inline so that the line numbers the errors
// must name are visible next to the assertion. The environment and the user
// (root unless a test says otherwise) are always passed explicitly, so the
// tests do not depend on the caller's SANDBOX_*, HOME or uid.
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <isb/core/config.hpp>
#include <isb/core/mcp_config.hpp>
#include <isb/core/serve_settings.hpp>
#include <sstream>
#include <string>

#include "config/log_format.hpp"
#include "config/path_trust.hpp"

namespace isb {
namespace {

using Env = std::map<std::string, std::string>;
using ::testing::HasSubstr;

const std::string kFixtures = ISB_TEST_FIXTURES_DIR "/config";
const std::string kShippedConfig = ISB_TEST_FIXTURES_DIR "/../../config/sandbox.yaml";
const std::string kSeedDir = ISB_TEST_FIXTURES_DIR "/seed";

Result<Config> parse(const std::string& yaml, const Env& env = {}) {
  return parse_config(yaml, "test.yaml", env, /*uid=*/0);
}

// The error message of a load that must fail (empty, with a test failure, if it did not).
std::string error_of(const Result<Config>& r) {
  EXPECT_FALSE(r.ok()) << "expected an error";
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidConfig);
  return r.error().message;
}

Config parse_ok(const std::string& yaml, const Env& env = {}) {
  auto r = parse(yaml, env);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Config{};
}

TEST(ConfigTest, DefaultsWithoutFile) {
  auto r =
      load_config(ConfigSource{.explicit_file = std::nullopt,
                               .search_paths = std::vector<std::string>{kFixtures + "/does-not-exist.yaml"},
                               .environment = Env{},
                               .uid = 0});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, "built-in defaults");
  EXPECT_EQ(r->source_origin, "");
  EXPECT_EQ(r->sandbox.max_workspaces, 10);
  EXPECT_EQ(r->isolation.backend, "process");
  EXPECT_FALSE(r->isolation.backend_explicit);
  EXPECT_EQ(r->security.level, SecurityLevel::kMedium);
  EXPECT_EQ(r->logging.level, "info");
  // The seed's system layout, for root; nothing under /tmp.
  EXPECT_EQ(r->sandbox.base_dir, "/var/lib/intelligent-sandbox");
  EXPECT_EQ(r->state_dir(), "/var/lib/intelligent-sandbox");
  EXPECT_EQ(r->workspaces_dir(), "/var/lib/intelligent-sandbox/workspaces");
  EXPECT_EQ(r->audit_log_path(), "/var/log/intelligent-sandbox/audit.log");
  EXPECT_EQ(r->logging.file_path, "/var/log/intelligent-sandbox/sandbox.log");
  EXPECT_EQ(r->log_dir, "/var/log/intelligent-sandbox");
  EXPECT_EQ(r->cache_dir(), "/var/cache/intelligent-sandbox");
}

TEST(ConfigTest, EmptyAndCommentOnlyFilesAreDefaults) {
  EXPECT_EQ(parse_ok("").sandbox.max_workspaces, 10);
  EXPECT_EQ(parse_ok("# nothing here\n\n   # still nothing\n").performance.operation_timeout, 300);
  // A section whose keys are all commented out is empty, not an error.
  EXPECT_EQ(parse_ok("sandbox:\n  # base_dir: /x\n").sandbox.base_dir, "/var/lib/intelligent-sandbox");
}

TEST(ConfigTest, ShippedSandboxYamlEqualsDefaults) {
  auto r = load_config(ConfigSource{.explicit_file = kShippedConfig, .environment = Env{}, .uid = 0});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  const Config d = parse_ok("");  // the built-in defaults, their paths resolved the same way
  EXPECT_EQ(c.source, kShippedConfig);
  EXPECT_EQ(c.source_origin, "--config");
  EXPECT_EQ(c.log_dir, d.log_dir);

  EXPECT_EQ(c.sandbox.base_dir, d.sandbox.base_dir);
  EXPECT_EQ(c.sandbox.max_workspaces, d.sandbox.max_workspaces);
  EXPECT_EQ(c.sandbox.workspace_timeout, d.sandbox.workspace_timeout);
  EXPECT_EQ(c.sandbox.auto_cleanup, d.sandbox.auto_cleanup);
  EXPECT_EQ(c.sandbox.workspace_mode, d.sandbox.workspace_mode);
  EXPECT_EQ(c.sandbox.cleanup_interval, d.sandbox.cleanup_interval);
  EXPECT_EQ(c.sandbox.allowed_source_roots, d.sandbox.allowed_source_roots);
  EXPECT_EQ(c.sandbox.state_dir, d.sandbox.state_dir);
  EXPECT_EQ(c.sandbox.secret_paths, d.sandbox.secret_paths);
  EXPECT_EQ(c.sandbox.disk_images, d.sandbox.disk_images);
  EXPECT_EQ(c.sandbox.apply_targets, d.sandbox.apply_targets);

  EXPECT_EQ(c.isolation.backend, d.isolation.backend);
  EXPECT_EQ(c.isolation.backend_explicit, d.isolation.backend_explicit);
  EXPECT_EQ(c.isolation.use_docker, d.isolation.use_docker);
  EXPECT_EQ(c.isolation.container_image, d.isolation.container_image);
  EXPECT_EQ(c.isolation.fallback_isolation, d.isolation.fallback_isolation);
  EXPECT_EQ(c.isolation.resource_limits.memory_mb, d.isolation.resource_limits.memory_mb);
  EXPECT_EQ(c.isolation.resource_limits.cpu_cores, d.isolation.resource_limits.cpu_cores);
  EXPECT_EQ(c.isolation.resource_limits.disk_mb, d.isolation.resource_limits.disk_mb);
  EXPECT_EQ(c.isolation.resource_limits.max_processes, d.isolation.resource_limits.max_processes);
  EXPECT_EQ(c.isolation.resource_limits.max_open_files, d.isolation.resource_limits.max_open_files);

  EXPECT_EQ(c.security.level, d.security.level);
  EXPECT_EQ(c.security.allow_degraded, d.security.allow_degraded);
  EXPECT_EQ(c.security.network_isolation, d.security.network_isolation);
  EXPECT_EQ(c.security.allowed_endpoints, d.security.allowed_endpoints);
  EXPECT_EQ(c.security.audit_logging, d.security.audit_logging);
  EXPECT_EQ(c.security.audit_log_path, d.security.audit_log_path);
  EXPECT_EQ(c.security.api_keys, d.security.api_keys);

  EXPECT_EQ(c.logging.level, d.logging.level);
  EXPECT_EQ(c.logging.format, d.logging.format);
  EXPECT_EQ(c.logging.file_path, d.logging.file_path);
  EXPECT_EQ(c.logging.max_size_mb, d.logging.max_size_mb);
  EXPECT_EQ(c.logging.backup_count, d.logging.backup_count);

  EXPECT_EQ(c.cache.enabled, d.cache.enabled);
  EXPECT_EQ(c.cache.cache_dir, d.cache.cache_dir);
  EXPECT_EQ(c.cache.max_size_mb, d.cache.max_size_mb);
  EXPECT_EQ(c.cache.ttl, d.cache.ttl);
  EXPECT_EQ(c.cache.cleanup_interval, d.cache.cleanup_interval);

  EXPECT_EQ(c.performance.monitoring_enabled, d.performance.monitoring_enabled);
  EXPECT_EQ(c.performance.metrics_interval, d.performance.metrics_interval);
  EXPECT_EQ(c.performance.profiling_enabled, d.performance.profiling_enabled);
  EXPECT_EQ(c.performance.max_concurrent_operations, d.performance.max_concurrent_operations);
  EXPECT_EQ(c.performance.operation_timeout, d.performance.operation_timeout);
  EXPECT_EQ(c.performance.max_output_bytes, d.performance.max_output_bytes);

  EXPECT_EQ(c.plugins.directories, d.plugins.directories);
  EXPECT_EQ(c.plugins.required, d.plugins.required);
  EXPECT_EQ(c.plugins.planners, d.plugins.planners);
  EXPECT_EQ(c.plugins.settings_json, d.plugins.settings_json);
}

TEST(ConfigTest, UnknownKeyNamesPathFileAndLine) {
  std::string msg =
      error_of(parse("# line 1\n"
                     "sandbox:\n"
                     "  base_dir: /srv/sandbox\n"
                     "  max_workspace: 5\n"));
  EXPECT_EQ(msg,
            "test.yaml:4: sandbox.max_workspace: unknown key; valid keys in 'sandbox' are: base_dir, "
            "max_workspaces, workspace_timeout, auto_cleanup, cleanup_interval, allowed_source_roots, "
            "state_dir, workspace_mode, copy_excludes, secret_paths, disk_images, apply_targets; did you mean max_workspaces?");

  EXPECT_THAT(error_of(parse("logging:\n  level: info\nmonitoring:\n  enabled: true\n")),
              HasSubstr("test.yaml:3: monitoring: unknown section; valid sections are: sandbox, isolation, "
                        "security, logging, cache, performance, plugins"));
}

TEST(ConfigTest, SuggestsClosestKey) {
  EXPECT_THAT(error_of(parse("isolation:\n  resource_limits:\n    memroy_mb: 100\n")),
              HasSubstr("test.yaml:3: isolation.resource_limits.memroy_mb: unknown key; valid keys in "
                        "'isolation.resource_limits' are: memory_mb, cpu_cores, disk_mb, max_processes, "
                        "max_open_files; did you mean memory_mb?"));
  EXPECT_THAT(error_of(parse("sandbx:\n  base_dir: /x\n")), HasSubstr("did you mean sandbox?"));
  EXPECT_THAT(error_of(parse("security:\n  levle: high\n")), HasSubstr("did you mean level?"));
  // Nothing is suggested when no key is plausibly meant.
  EXPECT_THAT(error_of(parse("cache:\n  zzzzzzzzzz: 1\n")), ::testing::Not(HasSubstr("did you mean")));
}

TEST(ConfigTest, WrongTypeNamesKeyAndLine) {
  EXPECT_EQ(error_of(parse("isolation:\n"
                           "  container_image: ubuntu:22.04\n"
                           "  resource_limits:\n"
                           "    cpu_cores: 1\n"
                           "    memory_mb: lots\n")),
            "test.yaml:5: isolation.resource_limits.memory_mb: expected an integer, got 'lots'");
  EXPECT_EQ(error_of(parse("sandbox:\n  base_dir: [a, b]\n")),
            "test.yaml:2: sandbox.base_dir: expected a string, got a list");
  EXPECT_EQ(error_of(parse("sandbox:\n  max_workspaces: 2.5\n")),
            "test.yaml:2: sandbox.max_workspaces: expected an integer, got '2.5'");
  EXPECT_EQ(error_of(parse("sandbox:\n  auto_cleanup: sometimes\n")),
            "test.yaml:2: sandbox.auto_cleanup: expected a boolean (true or false), got 'sometimes'");
  EXPECT_EQ(error_of(parse("isolation:\n  resource_limits:\n    cpu_cores: many\n")),
            "test.yaml:3: isolation.resource_limits.cpu_cores: expected a number, got 'many'");
  EXPECT_EQ(error_of(parse("security:\n  api_keys: secret\n")),
            "test.yaml:2: security.api_keys: expected a list of strings, got 'secret'");
  EXPECT_EQ(error_of(parse("plugins:\n  required:\n    - a\n    - {b: 1}\n")),
            "test.yaml:4: plugins.required: expected a list of strings, but an item is a mapping");
  EXPECT_EQ(error_of(parse("\nsandbox: 5\n")),
            "test.yaml:2: sandbox: expected a mapping with the keys base_dir, max_workspaces, "
            "workspace_timeout, auto_cleanup, cleanup_interval, allowed_source_roots, state_dir, workspace_mode, copy_excludes, secret_paths, disk_images, apply_targets, got '5'");
  EXPECT_THAT(error_of(parse("isolation:\n  resource_limits: [1]\n")),
              HasSubstr("test.yaml:2: isolation.resource_limits: expected a mapping"));
  EXPECT_THAT(error_of(parse("- sandbox\n")), HasSubstr("test.yaml:1: expected a mapping with the sections"));
  EXPECT_EQ(error_of(parse("sandbox:\n  max_workspaces: 2\n  max_workspaces: 3\n")),
            "test.yaml:3: sandbox.max_workspaces: duplicate key; remove one of the two");
}

TEST(ConfigTest, NullValueKeepsDefault) {
  Config c = parse_ok("sandbox:\n  base_dir:\n  max_workspaces: ~\nisolation:\n  backend: null\n");
  EXPECT_EQ(c.sandbox.base_dir, "/var/lib/intelligent-sandbox");
  EXPECT_EQ(c.sandbox.max_workspaces, 10);
  EXPECT_FALSE(c.isolation.backend_explicit);
}

TEST(ConfigTest, UnknownEnumValue) {
  EXPECT_EQ(error_of(parse("security:\n  level: extreme\n")),
            "test.yaml:2: security.level: expected one of low|medium|high, got 'extreme'");
  EXPECT_EQ(
      error_of(parse("logging:\n\n  level: verbose\n")),
      "test.yaml:3: logging.level: expected one of trace|debug|info|warning|error|critical, got 'verbose'");
  EXPECT_EQ(error_of(parse("isolation:\n  backend: My_Backend\n")),
            "test.yaml:2: isolation.backend: expected an id matching ^[a-z0-9][a-z0-9-]*$ (e.g. process, "
            "docker), got 'My_Backend'");
  EXPECT_THAT(error_of(parse("isolation:\n  backend: -docker\n")),
              HasSubstr("isolation.backend: expected an id"));
}

TEST(ConfigTest, SeedUpperCaseLogLevelAccepted) {
  EXPECT_EQ(parse_ok("logging:\n  level: WARNING\n").logging.level, "warning");
  EXPECT_EQ(parse_ok("logging:\n  level: CRITICAL\n").logging.level, "critical");
  EXPECT_EQ(parse_ok("logging:\n  level: Info\n").logging.level, "info");
  Config c = parse_ok("security:\n  level: HIGH\n");
  EXPECT_EQ(c.security.level, SecurityLevel::kHigh);
  EXPECT_STREQ(security_level_name(c.security.level), "high");
  EXPECT_STREQ(security_level_name(SecurityLevel::kLow), "low");
  EXPECT_STREQ(security_level_name(SecurityLevel::kMedium), "medium");
}

TEST(ConfigTest, NestedResourceLimitsParsed) {
  Config c = parse_ok(
      "isolation:\n"
      "  container_image: debian:12\n"
      "  fallback_isolation: no\n"
      "  resource_limits:\n"
      "    memory_mb: 512\n"
      "    cpu_cores: 0.5\n"
      "    disk_mb: 1024\n"
      "    max_processes: 64\n"
      "    max_open_files: 256\n");
  EXPECT_EQ(c.isolation.container_image, "debian:12");
  EXPECT_FALSE(c.isolation.fallback_isolation);
  EXPECT_EQ(c.isolation.resource_limits.memory_mb, 512);
  EXPECT_DOUBLE_EQ(c.isolation.resource_limits.cpu_cores, 0.5);
  EXPECT_EQ(c.isolation.resource_limits.disk_mb, 1024);
  EXPECT_EQ(c.isolation.resource_limits.max_processes, 64);
  EXPECT_EQ(c.isolation.resource_limits.max_open_files, 256);
}

TEST(ConfigTest, ListsAndPathsParsed) {
  Config c = parse_ok(
      "sandbox:\n"
      "  base_dir: /srv/isb/\n"
      "  allowed_source_roots: [/home, /src]\n"
      "security:\n"
      "  allowed_endpoints:\n"
      "    - https://pypi.org\n"
      "  audit_log_path: /var/log/isb-audit.log\n"
      "plugins:\n"
      "  planners: [rules, llm]\n");
  EXPECT_EQ(c.sandbox.allowed_source_roots, (std::vector<std::string>{"/home", "/src"}));
  EXPECT_EQ(c.security.allowed_endpoints, (std::vector<std::string>{"https://pypi.org"}));
  EXPECT_EQ(c.plugins.planners, (std::vector<std::string>{"rules", "llm"}));
  EXPECT_EQ(c.state_dir(), "/srv/isb/state");
  EXPECT_EQ(c.workspaces_dir(), "/srv/isb/workspaces");
  EXPECT_EQ(c.audit_log_path(), "/var/log/isb-audit.log");
  EXPECT_EQ(c.cache_dir(), "/srv/isb/state/cache");

  Config s = parse_ok("sandbox:\n  state_dir: /var/lib/isb\ncache:\n  cache_dir: /var/cache/isb\n");
  EXPECT_EQ(s.state_dir(), "/var/lib/isb");
  EXPECT_EQ(s.audit_log_path(), "/var/lib/isb/audit.log");
  EXPECT_EQ(s.cache_dir(), "/var/cache/isb");
}

TEST(ConfigTest, EnvOverridesGenericKey) {
  Config c = parse_ok("sandbox:\n  base_dir: /from/file\n",
                      Env{{"SANDBOX_SANDBOX_BASE_DIR", "/from/env"},
                          {"SANDBOX_SECURITY_LEVEL", "low"},
                          {"SANDBOX_PERFORMANCE_OPERATION_TIMEOUT", "42"},
                          {"SANDBOX_CACHE_ENABLED", "off"},
                          {"SANDBOX_PLUGINS_REQUIRED", "isolation-process, planner-rules,,"},
                          {"SANDBOX_LOGGING_LEVEL", "ERROR"},
                          {"SANDBOX_SOMETHING_ELSE", "ignored"},
                          {"SANDBOX_LOGGING_FILE_PATH", ""}});
  EXPECT_EQ(c.sandbox.base_dir, "/from/env");
  EXPECT_EQ(c.security.level, SecurityLevel::kLow);
  EXPECT_EQ(c.performance.operation_timeout, 42);
  EXPECT_FALSE(c.cache.enabled);
  EXPECT_EQ(c.plugins.required, (std::vector<std::string>{"isolation-process", "planner-rules"}));
  EXPECT_EQ(c.logging.level, "error");
  // An empty variable counts as unset: the layout's file under the base dir.
  EXPECT_EQ(c.logging.file_path, "/from/env/state/sandbox.log");
}

TEST(ConfigTest, EnvOverridesNestedKey) {
  Config c = parse_ok("isolation:\n  resource_limits:\n    memory_mb: 4096\n",
                      Env{{"SANDBOX_ISOLATION_RESOURCE_LIMITS_MEMORY_MB", "512"},
                          {"SANDBOX_ISOLATION_RESOURCE_LIMITS_CPU_CORES", "1.5"}});
  EXPECT_EQ(c.isolation.resource_limits.memory_mb, 512);
  EXPECT_DOUBLE_EQ(c.isolation.resource_limits.cpu_cores, 1.5);
}

TEST(ConfigTest, NamedSeedVariables) {
  Config c = parse_ok("security:\n  api_keys: [from-file]\n", Env{{"SANDBOX_BASE_DIR", "/seed/base"},
                                                                  {"SANDBOX_USE_DOCKER", "true"},
                                                                  {"SANDBOX_MAX_WORKSPACES", "7"},
                                                                  {"SANDBOX_TIMEOUT", "120"},
                                                                  {"SANDBOX_API_KEY", "from-env"},
                                                                  {"SANDBOX_LOG_LEVEL", "WARNING"}});
  EXPECT_EQ(c.sandbox.base_dir, "/seed/base");
  EXPECT_EQ(c.isolation.use_docker, std::optional<bool>(true));
  EXPECT_EQ(c.isolation.backend, "docker");
  EXPECT_EQ(c.sandbox.max_workspaces, 7);
  // The seed's environment reference: SANDBOX_TIMEOUT is the workspace timeout.
  EXPECT_EQ(c.sandbox.workspace_timeout, 120);
  EXPECT_EQ(c.performance.operation_timeout, 300);
  EXPECT_EQ(c.security.api_keys, (std::vector<std::string>{"from-file", "from-env"}));
  EXPECT_EQ(c.logging.level, "warning");

  EXPECT_EQ(parse_ok("", Env{{"SANDBOX_DEBUG", "1"}}).logging.level, "debug");
  EXPECT_EQ(parse_ok("", Env{{"SANDBOX_DEBUG", "yes"}}).logging.level, "debug");
  EXPECT_EQ(parse_ok("", Env{{"SANDBOX_DEBUG", "false"}}).logging.level, "info");
  // An explicit level wins over SANDBOX_DEBUG, so trace stays reachable.
  EXPECT_EQ(parse_ok("", Env{{"SANDBOX_DEBUG", "true"}, {"SANDBOX_LOG_LEVEL", "trace"}}).logging.level,
            "trace");
  // The precise generic name wins over the seed alias.
  EXPECT_EQ(parse_ok("", Env{{"SANDBOX_MAX_WORKSPACES", "7"}, {"SANDBOX_SANDBOX_MAX_WORKSPACES", "9"}})
                .sandbox.max_workspaces,
            9);
  // SANDBOX_API_KEY adds to a list set through the generic variable.
  EXPECT_EQ(
      parse_ok("", Env{{"SANDBOX_SECURITY_API_KEYS", "a,b"}, {"SANDBOX_API_KEY", "c"}}).security.api_keys,
      (std::vector<std::string>{"a", "b", "c"}));
}

TEST(ConfigTest, EnvWrongTypeNamesVariable) {
  EXPECT_EQ(error_of(parse("", Env{{"SANDBOX_SANDBOX_MAX_WORKSPACES", "x"}})),
            "environment variable SANDBOX_SANDBOX_MAX_WORKSPACES: expected an integer, got 'x'");
  EXPECT_EQ(error_of(parse("", Env{{"SANDBOX_USE_DOCKER", "maybe"}})),
            "environment variable SANDBOX_USE_DOCKER: expected a boolean (true/false/yes/no/on/off/1/0), got "
            "'maybe'");
  EXPECT_EQ(
      error_of(parse("", Env{{"SANDBOX_DEBUG", "loud"}})),
      "environment variable SANDBOX_DEBUG: expected a boolean (true/false/yes/no/on/off/1/0), got 'loud'");
  EXPECT_EQ(error_of(parse("", Env{{"SANDBOX_SECURITY_LEVEL", "paranoid"}})),
            "environment variable SANDBOX_SECURITY_LEVEL: expected one of low|medium|high, got 'paranoid'");
  EXPECT_EQ(error_of(parse("", Env{{"SANDBOX_TIMEOUT", "0"}})),
            "environment variable SANDBOX_TIMEOUT: expected an integer >= 1, got 0");
}

TEST(ConfigTest, UseDockerSelectsDockerBackendWhenNotExplicit) {
  Config c = parse_ok("isolation:\n  use_docker: true\n");
  EXPECT_EQ(c.isolation.backend, "docker");
  EXPECT_FALSE(c.isolation.backend_explicit);
  EXPECT_EQ(c.isolation.use_docker, std::optional<bool>(true));

  Config off = parse_ok("isolation:\n  use_docker: false\n");
  EXPECT_EQ(off.isolation.backend, "process");
  EXPECT_EQ(off.isolation.use_docker, std::optional<bool>(false));

  EXPECT_EQ(parse_ok("", Env{{"SANDBOX_ISOLATION_USE_DOCKER", "on"}}).isolation.backend, "docker");
}

TEST(ConfigTest, ExplicitBackendWinsOverUseDocker) {
  Config c = parse_ok("isolation:\n  backend: firecracker-vm\n  use_docker: true\n");
  EXPECT_EQ(c.isolation.backend, "firecracker-vm");
  EXPECT_TRUE(c.isolation.backend_explicit);

  Config p = parse_ok("isolation:\n  backend: process\n", Env{{"SANDBOX_USE_DOCKER", "1"}});
  EXPECT_EQ(p.isolation.backend, "process");
  EXPECT_TRUE(p.isolation.backend_explicit);

  Config e = parse_ok("isolation:\n  use_docker: true\n", Env{{"SANDBOX_ISOLATION_BACKEND", "process"}});
  EXPECT_EQ(e.isolation.backend, "process");
  EXPECT_TRUE(e.isolation.backend_explicit);
}

TEST(ConfigTest, ExplicitFileMissingIsError) {
  const std::string missing = kFixtures + "/no-such-config.yaml";
  auto r = load_config(ConfigSource{.explicit_file = missing, .environment = Env{}});
  std::string msg = error_of(r);
  EXPECT_THAT(msg, HasSubstr("'" + missing + "' does not exist"));
  EXPECT_THAT(msg, HasSubstr("--config"));

  EXPECT_THAT(error_of(load_config(ConfigSource{.explicit_file = kFixtures, .environment = Env{}})),
              HasSubstr("is a directory"));
}

TEST(ConfigTest, SearchPathsFirstExistingWins) {
  const std::string first = kFixtures + "/search_first.yaml";
  const std::string second = kFixtures + "/search_second.yaml";
  auto r = load_config(
      ConfigSource{.explicit_file = std::nullopt,
                   .search_paths = std::vector<std::string>{kFixtures + "/absent.yaml", first, second},
                   .environment = Env{}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, first);
  EXPECT_EQ(r->sandbox.max_workspaces, 3);

  auto s = load_config(ConfigSource{.explicit_file = std::nullopt,
                                    .search_paths = std::vector<std::string>{second, first},
                                    .environment = Env{}});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->source, second);
  EXPECT_EQ(s->sandbox.max_workspaces, 4);
}

TEST(ConfigTest, YamlSyntaxErrorHasLine) {
  EXPECT_EQ(error_of(parse("sandbox:\n  base_dir: /x\n   max_workspaces: 3\n")),
            "test.yaml:3: YAML syntax error: illegal map value");
  EXPECT_THAT(
      error_of(parse("sandbox:\n  base_dir: /x\n  allowed_source_roots: [/a, /b\nlogging:\n  level: info\n")),
      HasSubstr("test.yaml:4: YAML syntax error: "));
}

TEST(ConfigTest, PluginSettingsBecomeJson) {
  Config c = parse_ok(
      "plugins:\n"
      "  settings:\n"
      "    transport-http:\n"
      "      port: 8080\n"
      "      port_text: \"8080\"\n"
      "      ratio: 0.25\n"
      "      whole: 2.0\n"
      "      hex: 0x1f\n"
      "      tls: false\n"
      "      yes_word: yes\n"
      "      nothing: null\n"
      "      empty:\n"
      "      quoted_null: 'null'\n"
      "      text: \"say \\\"hi\\\"\\n\\tback\\\\slash \\u0001\"\n"
      "      hosts: [a.example, 1, true]\n"
      "      nested: {depth: {level: -3}}\n"
      "    planner-rules:\n");
  ASSERT_EQ(c.plugins.settings_json.size(), 2u);
  EXPECT_EQ(c.plugins.settings_json.at("transport-http"),
            R"({"port":8080,"port_text":"8080","ratio":0.25,"whole":2.0,"hex":31,"tls":false,)"
            R"("yes_word":"yes","nothing":null,"empty":null,"quoted_null":"null",)"
            R"("text":"say \"hi\"\n\tback\\slash \u0001","hosts":["a.example",1,true],)"
            R"("nested":{"depth":{"level":-3}}})");
  EXPECT_EQ(c.plugins.settings_json.at("planner-rules"), "{}");

  EXPECT_EQ(error_of(parse("plugins:\n  settings:\n    x: 5\n")),
            "test.yaml:3: plugins.settings.x: expected a mapping of this plugin's settings, got '5'");
  EXPECT_EQ(error_of(parse("plugins:\n  settings:\n    x:\n      a: 1\n      a: 2\n")),
            "test.yaml:5: plugins.settings.x.a: duplicate key; remove one of the two");
}

TEST(ConfigTest, RangeChecks) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  const Case cases[] = {
      {"sandbox:\n  max_workspaces: 0\n",
       "test.yaml:2: sandbox.max_workspaces: expected an integer >= 1, got 0"},
      {"sandbox:\n  workspace_timeout: 0\n",
       "test.yaml:2: sandbox.workspace_timeout: expected an integer >= 1, got 0"},
      {"sandbox:\n  cleanup_interval: -5\n",
       "test.yaml:2: sandbox.cleanup_interval: expected an integer >= 1, got -5"},
      {"isolation:\n  resource_limits:\n    memory_mb: 15\n",
       "test.yaml:3: isolation.resource_limits.memory_mb: expected an integer >= 16, got 15"},
      {"isolation:\n  resource_limits:\n    cpu_cores: 0\n",
       "test.yaml:3: isolation.resource_limits.cpu_cores: expected a number > 0, got 0"},
      {"isolation:\n  resource_limits:\n    max_processes: 0\n",
       "test.yaml:3: isolation.resource_limits.max_processes: expected an integer >= 1, got 0"},
      {"isolation:\n  resource_limits:\n    max_open_files: 8\n",
       "test.yaml:3: isolation.resource_limits.max_open_files: expected an integer >= 16, got 8"},
      {"cache:\n  ttl: 0\n", "test.yaml:2: cache.ttl: expected an integer >= 1, got 0"},
      {"cache:\n  cleanup_interval: 0\n",
       "test.yaml:2: cache.cleanup_interval: expected an integer >= 1, got 0"},
      {"performance:\n  metrics_interval: 0\n",
       "test.yaml:2: performance.metrics_interval: expected an integer >= 1, got 0"},
      {"performance:\n  max_concurrent_operations: 0\n",
       "test.yaml:2: performance.max_concurrent_operations: expected an integer >= 1, got 0"},
      {"performance:\n  operation_timeout: 0\n",
       "test.yaml:2: performance.operation_timeout: expected an integer >= 1, got 0"},
      {"performance:\n  max_output_bytes: 1023\n",
       "test.yaml:2: performance.max_output_bytes: expected an integer >= 1024, got 1023"},
  };
  for (const Case& c : cases) EXPECT_EQ(error_of(parse(c.yaml)), c.message) << c.yaml;

  // The bounds themselves are allowed.
  Config edge = parse_ok(
      "sandbox:\n  max_workspaces: 1\n"
      "isolation:\n  resource_limits:\n    memory_mb: 16\n    cpu_cores: 0.01\n    max_open_files: 16\n"
      "performance:\n  max_output_bytes: 1024\n");
  EXPECT_EQ(edge.sandbox.max_workspaces, 1);
  EXPECT_EQ(edge.isolation.resource_limits.memory_mb, 16);
  EXPECT_EQ(edge.performance.max_output_bytes, 1024);
}

// The front-door keys of issue 13 (lockouts, refusal sampling, audit rotation).
TEST(ConfigTest, FrontDoorFloodKeysHaveDefaultsTheShippedFileAndEnvironmentAndRanges) {
  const Config d;
  EXPECT_EQ(d.security.auth_failures.threshold, 10);
  EXPECT_EQ(d.security.auth_failures.backoff_max_s, 300);
  EXPECT_EQ(d.security.auth_failures.reset_after_s, 900);
  EXPECT_EQ(d.security.audit_sampling.threshold, 20);
  EXPECT_EQ(d.security.audit_rotation.max_size_mb, 100);
  EXPECT_EQ(d.security.audit_rotation.backup_count, 5);

  auto shipped = load_config(ConfigSource{.explicit_file = kShippedConfig, .environment = Env{}, .uid = 0});
  ASSERT_TRUE(shipped.ok()) << shipped.error().message;
  EXPECT_EQ(shipped->security.auth_failures.threshold, d.security.auth_failures.threshold);
  EXPECT_EQ(shipped->security.auth_failures.backoff_max_s, d.security.auth_failures.backoff_max_s);
  EXPECT_EQ(shipped->security.auth_failures.reset_after_s, d.security.auth_failures.reset_after_s);
  EXPECT_EQ(shipped->security.audit_sampling.threshold, d.security.audit_sampling.threshold);
  EXPECT_EQ(shipped->security.audit_rotation.max_size_mb, d.security.audit_rotation.max_size_mb);
  EXPECT_EQ(shipped->security.audit_rotation.backup_count, d.security.audit_rotation.backup_count);

  Config c =
      parse_ok("security:\n  auth_failures:\n    threshold: 3\n  audit_rotation:\n    backup_count: 0\n",
               Env{{"SANDBOX_SECURITY_AUTH_FAILURES_BACKOFF_MAX_S", "60"},
                   {"SANDBOX_SECURITY_AUDIT_SAMPLING_THRESHOLD", "5"},
                   {"SANDBOX_SECURITY_AUDIT_ROTATION_MAX_SIZE_MB", "1"}});
  EXPECT_EQ(c.security.auth_failures.threshold, 3);
  EXPECT_EQ(c.security.auth_failures.backoff_max_s, 60);
  EXPECT_EQ(c.security.audit_sampling.threshold, 5);
  EXPECT_EQ(c.security.audit_rotation.max_size_mb, 1);
  EXPECT_EQ(c.security.audit_rotation.backup_count, 0);

  EXPECT_EQ(error_of(parse("security:\n  auth_failures:\n    threshold: 0\n")),
            "test.yaml:3: security.auth_failures.threshold: expected an integer >= 1, got 0");
  EXPECT_EQ(error_of(parse("security:\n  audit_rotation:\n    max_size_mb: 0\n")),
            "test.yaml:3: security.audit_rotation.max_size_mb: expected an integer >= 1, got 0");
  EXPECT_EQ(
      error_of(parse("", Env{{"SANDBOX_SECURITY_AUDIT_ROTATION_BACKUP_COUNT", "-1"}})),
      "environment variable SANDBOX_SECURITY_AUDIT_ROTATION_BACKUP_COUNT: expected an integer >= 0, got -1");
  EXPECT_THAT(error_of(parse("security:\n  auth_failures:\n    treshold: 3\n")),
              HasSubstr("did you mean threshold?"));
}

// ---------------------------------------------------------------------------
// Issue 14: where the file comes from, who may write it, where state goes.

namespace fs = std::filesystem;

// A private temporary directory, removed afterwards.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isb-config-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string write(const std::string& rel, const std::string& text, mode_t mode = 0644) const {
    std::string p = path_ + "/" + rel;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << text;
    chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

// The working directory of whoever starts the server is the project an agent
// works on; a config/sandbox.yaml there must not be read.
TEST(ConfigLookup, NeverReadsTheWorkingDirectory) {
  if (fs::exists("/etc/intelligent-sandbox/sandbox.yaml")) GTEST_SKIP() << "this host has a system config";
  TempDir project;
  project.write("config/sandbox.yaml", "security:\n  level: low\nplugins:\n  directories: [/tmp/evil]\n");
  TempDir home;
  const fs::path before = fs::current_path();
  fs::current_path(project.path());
  auto r = load_config(ConfigSource{.environment = Env{{"HOME", home.path()}}, .uid = 1000});
  fs::current_path(before);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, "built-in defaults");
  EXPECT_EQ(r->security.level, SecurityLevel::kMedium);
  EXPECT_TRUE(r->plugins.directories.empty());
}

TEST(ConfigLookup, StandardPathsAreTheUsersXdgConfigThenEtc) {
  EXPECT_EQ(standard_config_paths(Env{{"HOME", "/home/a"}}, 1000),
            (std::vector<std::string>{"/home/a/.config/intelligent-sandbox/sandbox.yaml",
                                      "/etc/intelligent-sandbox/sandbox.yaml"}));
  EXPECT_EQ(standard_config_paths(Env{{"HOME", "/home/a"}, {"XDG_CONFIG_HOME", "/cfg"}}, 1000),
            (std::vector<std::string>{"/cfg/intelligent-sandbox/sandbox.yaml",
                                      "/etc/intelligent-sandbox/sandbox.yaml"}));
  // The XDG spec: a relative value is ignored.
  EXPECT_EQ(standard_config_paths(Env{{"HOME", "/home/a"}, {"XDG_CONFIG_HOME", "rel"}}, 1000).front(),
            "/home/a/.config/intelligent-sandbox/sandbox.yaml");
  // A system service reads /etc only, never root's home.
  EXPECT_EQ(standard_config_paths(Env{{"HOME", "/root"}}, 0),
            (std::vector<std::string>{"/etc/intelligent-sandbox/sandbox.yaml"}));
}

TEST(ConfigLookup, ConfigFlagThenSandboxConfigThenUserConfig) {
  TempDir t;
  const std::string flag = t.write("flag.yaml", "sandbox:\n  max_workspaces: 2\n");
  const std::string named = t.write("named.yaml", "sandbox:\n  max_workspaces: 3\n");
  t.write("xdg/intelligent-sandbox/sandbox.yaml", "sandbox:\n  max_workspaces: 4\n");
  const Env env{{"HOME", t.path()}, {"XDG_CONFIG_HOME", t.path() + "/xdg"}, {"SANDBOX_CONFIG", named}};

  auto a = load_config(ConfigSource{.explicit_file = flag, .environment = env, .uid = 1000});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->sandbox.max_workspaces, 2);
  EXPECT_EQ(a->source_origin, "--config");

  auto b = load_config(ConfigSource{.environment = env, .uid = 1000});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->sandbox.max_workspaces, 3);
  EXPECT_EQ(b->source, named);
  EXPECT_EQ(b->source_origin, "$SANDBOX_CONFIG");

  Env no_named = env;
  no_named.erase("SANDBOX_CONFIG");
  auto c = load_config(ConfigSource{.environment = no_named, .uid = 1000});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->sandbox.max_workspaces, 4);
  EXPECT_EQ(c->source, t.path() + "/xdg/intelligent-sandbox/sandbox.yaml");
  EXPECT_EQ(c->source_origin, "user config");

  // Named but missing is an error, not a silent fall back to defaults.
  auto d =
      load_config(ConfigSource{.environment = Env{{"SANDBOX_CONFIG", t.path() + "/nope.yaml"}}, .uid = 0});
  EXPECT_THAT(error_of(d),
              HasSubstr("nope.yaml' does not exist; check the SANDBOX_CONFIG environment variable"));
}

TEST(ConfigTrust, RefusesAConfigFileOthersCanWrite) {
  TempDir t;
  const std::string file = t.write("sandbox.yaml", "security:\n  level: low\n", 0666);
  std::string msg =
      error_of(load_config(ConfigSource{.explicit_file = file, .environment = Env{}, .uid = 0}));
  EXPECT_THAT(msg,
              HasSubstr("config file " + file + ": refused: " + file + " is writable by others (mode 0666"));
  EXPECT_THAT(msg, HasSubstr("Fix: chmod o-w " + file));

  chmod(file.c_str(), 0644);
  EXPECT_TRUE(load_config(ConfigSource{.explicit_file = file, .environment = Env{}, .uid = 0}).ok());
}

TEST(ConfigTrust, RefusesAConfigFileInADirectoryOthersCanWrite) {
  TempDir t;
  const std::string file = t.write("open/sandbox.yaml", "");
  const std::string dir = t.path() + "/open";
  chmod(dir.c_str(), 0777);
  std::string msg =
      error_of(load_config(ConfigSource{.explicit_file = file, .environment = Env{}, .uid = 0}));
  EXPECT_THAT(msg, HasSubstr(dir + " (a directory above it) is writable by others (mode 0777"));
  // With the sticky bit (as /tmp has), others cannot rename or remove the file.
  chmod(dir.c_str(), 01777);
  EXPECT_TRUE(load_config(ConfigSource{.explicit_file = file, .environment = Env{}, .uid = 0}).ok());
}

TEST(ConfigTrust, RefusesAConfigFileOfAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  TempDir t;
  const std::string file = t.write("sandbox.yaml", "");
  ASSERT_EQ(chown(file.c_str(), 4242, static_cast<gid_t>(-1)), 0);
  std::string msg =
      error_of(load_config(ConfigSource{.explicit_file = file, .environment = Env{}, .uid = 0}));
  EXPECT_THAT(msg, HasSubstr(file + " is owned by uid 4242"));
  // The server's own user may own it, and so may root.
  EXPECT_TRUE(
      load_config(ConfigSource{.explicit_file = file, .environment = Env{{"HOME", "/h"}}, .uid = 4242}).ok());
}

TEST(ConfigTrust, GroupWritableOnlyWhenTheGroupIsTheOwnersOwn) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chgrp";
  TempDir t;
  const std::string file = t.write("sandbox.yaml", "", 0664);
  // root:root, root's private group (no other members listed on common hosts).
  group* root_group = getgrgid(0);
  if (root_group && root_group->gr_mem && *root_group->gr_mem)
    GTEST_SKIP() << "the root group has members here";
  EXPECT_TRUE(config_internal::check_trusted(file, config_internal::PathKind::kFile, "config file", 0).ok());
  group* other = getgrnam("daemon");
  if (!other) GTEST_SKIP() << "no daemon group";
  ASSERT_EQ(chown(file.c_str(), 0, other->gr_gid), 0);
  auto st = config_internal::check_trusted(file, config_internal::PathKind::kFile, "config file", 0);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("is writable by its group daemon (mode 0664"));
}

TEST(ConfigLayout, RootGetsTheSeedsSystemDirectories) {
  Config c = parse_ok("");
  EXPECT_EQ(c.state_dir(), "/var/lib/intelligent-sandbox");
  EXPECT_EQ(c.workspaces_dir(), "/var/lib/intelligent-sandbox/workspaces");
  EXPECT_EQ(c.cache_dir(), "/var/cache/intelligent-sandbox");
  EXPECT_EQ(c.audit_log_path(), "/var/log/intelligent-sandbox/audit.log");
  EXPECT_EQ(c.logging.file_path, "/var/log/intelligent-sandbox/sandbox.log");
}

TEST(ConfigLayout, OtherUsersGetTheirXdgDirectories) {
  auto c = parse_config("", "test.yaml", Env{{"HOME", "/home/ann"}}, 1000);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->state_dir(), "/home/ann/.local/state/intelligent-sandbox");
  EXPECT_EQ(c->workspaces_dir(), "/home/ann/.local/state/intelligent-sandbox/workspaces");
  EXPECT_EQ(c->cache_dir(), "/home/ann/.cache/intelligent-sandbox");
  EXPECT_EQ(c->audit_log_path(), "/home/ann/.local/state/intelligent-sandbox/audit.log");
  EXPECT_EQ(c->logging.file_path, "/home/ann/.local/state/intelligent-sandbox/sandbox.log");

  auto x =
      parse_config("", "test.yaml",
                   Env{{"HOME", "/home/ann"}, {"XDG_STATE_HOME", "/st"}, {"XDG_CACHE_HOME", "/ca"}}, 1000);
  ASSERT_TRUE(x.ok()) << x.error().message;
  EXPECT_EQ(x->state_dir(), "/st/intelligent-sandbox");
  EXPECT_EQ(x->cache_dir(), "/ca/intelligent-sandbox");

  // Nowhere to put it: an error saying what to set, not /tmp.
  auto none = parse_config("", "test.yaml", Env{}, 424242);
  EXPECT_THAT(error_of(none), HasSubstr("no place for the server's state"));
  EXPECT_THAT(error_of(none), HasSubstr("SANDBOX_BASE_DIR"));
  // With a base dir there is no need for a home.
  EXPECT_TRUE(parse_config("", "test.yaml", Env{{"SANDBOX_BASE_DIR", "/srv/isb"}}, 424242).ok());
}

TEST(ConfigLayout, BaseDirOrStateDirKeepsEverythingUnderIt) {
  auto b = parse_config("", "test.yaml", Env{{"SANDBOX_BASE_DIR", "/srv/isb"}, {"HOME", "/home/ann"}}, 1000);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->state_dir(), "/srv/isb/state");
  EXPECT_EQ(b->workspaces_dir(), "/srv/isb/workspaces");
  EXPECT_EQ(b->cache_dir(), "/srv/isb/state/cache");
  EXPECT_EQ(b->audit_log_path(), "/srv/isb/state/audit.log");
  EXPECT_EQ(b->logging.file_path, "/srv/isb/state/sandbox.log");

  Config s = parse_ok("sandbox:\n  state_dir: /data/isb\n");
  EXPECT_EQ(s.workspaces_dir(), "/data/isb/workspaces") << "workspaces under the state dir";
  EXPECT_EQ(s.cache_dir(), "/data/isb/cache");

  // "" on purpose: stderr only, and no log directory to make.
  Config quiet = parse_ok("logging:\n  file_path: \"\"\nsecurity:\n  audit_log_path: /var/log/a.log\n");
  EXPECT_EQ(quiet.logging.file_path, "");
  EXPECT_EQ(quiet.log_dir, "");
}

TEST(ConfigLayout, StateDirectoryOfAnotherUserIsAClearError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  TempDir t;
  const std::string state = t.path() + "/state";
  ASSERT_TRUE(config_internal::ensure_owned_directory(state, "state directory", "sandbox.state_dir", 0).ok());
  struct stat st {};
  ASSERT_EQ(stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "made private";
  ASSERT_EQ(chown(state.c_str(), 4242, 4242), 0);
  auto r = config_internal::ensure_owned_directory(state, "state directory", "sandbox.state_dir", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("state directory " + state + " belongs to uid 4242 (uid 4242)"));
  EXPECT_THAT(r.error().message, HasSubstr("sudo chown -R root " + state));
  EXPECT_THAT(r.error().message, HasSubstr("or set sandbox.state_dir"));

  ASSERT_EQ(chown(state.c_str(), 0, 0), 0);
  chmod(state.c_str(), 0777);
  r = config_internal::ensure_owned_directory(state, "state directory", "sandbox.state_dir", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("is writable by others (mode 0777)"));
}

// ---------------------------------------------------------------------------
// Keys that parse but cannot be honoured are refused where they are written.

TEST(ConfigRefusals, ProfilingAndOpenNetworkAreRefusedWithTheLine) {
  EXPECT_THAT(
      error_of(parse("performance:\n  metrics_interval: 5\n  profiling_enabled: true\n")),
      HasSubstr("test.yaml:3: performance.profiling_enabled: true is not supported: this server has no "
                "profiler"));
  EXPECT_FALSE(parse_ok("performance:\n  profiling_enabled: false\n").performance.profiling_enabled);
  EXPECT_THAT(error_of(parse("", Env{{"SANDBOX_PERFORMANCE_PROFILING_ENABLED", "1"}})),
              HasSubstr("environment variable SANDBOX_PERFORMANCE_PROFILING_ENABLED: true is not supported"));
  EXPECT_THAT(error_of(parse("security:\n  network_isolation: false\n")),
              HasSubstr("test.yaml:2: security.network_isolation: false is not supported"));
}

TEST(ConfigRefusals, PythonLogFormatIsTranslatedOrRefused) {
  using config_internal::spdlog_pattern;
  EXPECT_EQ(*spdlog_pattern("%(asctime)s - %(name)s - %(levelname)s - %(message)s"),
            "%Y-%m-%d %H:%M:%S,%e - %n - %Q - %v");
  EXPECT_EQ(*spdlog_pattern("%(levelname)-8s %(process)d/%(thread)d %(levelno)s 100%% %(message)s"),
            "%-8Q %P/%t %N 100%% %v");
  EXPECT_EQ(*spdlog_pattern("[%l] %v"), "[%l] %v") << "an spdlog pattern stays as it is";
  EXPECT_EQ(*spdlog_pattern(""), "");

  Config c = parse_ok("logging:\n  format: '%(asctime)s %(levelname)s %(message)s'\n");
  EXPECT_EQ(c.logging.format, "%(asctime)s %(levelname)s %(message)s")
      << "kept as written; translated at start";

  EXPECT_THAT(
      error_of(parse("logging:\n  level: info\n  format: '%(asctime)s %(funcName)s %(message)s'\n")),
      HasSubstr("test.yaml:3: logging.format: %(funcName) has no value in this server's log records in "
                "'%(asctime)s %(funcName)s %(message)s'; a Python logging format may use asctime, created, "
                "msecs, name, levelname, levelno, message, process, thread"));
  EXPECT_THAT(error_of(parse("logging:\n  format: '%(asctime)s %(bogus)s %(message)s'\n")),
              HasSubstr("%(bogus) is not a Python LogRecord field"));
  EXPECT_THAT(error_of(parse("logging:\n  format: '%(asctime)s'\n")), HasSubstr("there is no %(message)s"));
  EXPECT_THAT(error_of(parse("logging:\n  format: '%(message).5s'\n")),
              HasSubstr("a precision on %(message)"));
  EXPECT_THAT(error_of(parse("logging:\n  format: '%(message)d'\n")),
              HasSubstr("the conversion 'd' of %(message)"));
  EXPECT_THAT(error_of(parse("logging:\n  format: '%(asctime)-30s %(message)s'\n")),
              HasSubstr("a width on %(asctime)"));
  EXPECT_THAT(error_of(parse("logging:\n  format: '%(message)s %d'\n")), HasSubstr("'%d' at offset 12"));
  EXPECT_THAT(error_of(parse("logging:\n  format: '[%l] %n'\n")), HasSubstr("has no %v (the message)"));
  EXPECT_THAT(error_of(parse("", Env{{"SANDBOX_LOGGING_FORMAT", "%(lineno)d %(message)s"}})),
              HasSubstr("environment variable SANDBOX_LOGGING_FORMAT: %(lineno) has no value"));
}

// ---------------------------------------------------------------------------
// The seed guide's files, as printed (tests/fixtures/seed/README.md).

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SeedFiles, SandboxYamlLoadsAsPrintedAndEveryKeyTakesEffect) {
  auto r = load_config(ConfigSource{
      .explicit_file = kSeedDir + "/sandbox.yaml", .environment = Env{{"HOME", "/home/ann"}}, .uid = 1000});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  EXPECT_EQ(c.sandbox.base_dir, "/tmp/intelligent_sandbox");
  EXPECT_EQ(c.sandbox.max_workspaces, 10);
  EXPECT_EQ(c.sandbox.workspace_timeout, 3600);
  EXPECT_TRUE(c.sandbox.auto_cleanup);
  EXPECT_EQ(c.sandbox.cleanup_interval, 300);
  EXPECT_EQ(c.isolation.backend, "docker") << "use_docker: true";
  EXPECT_EQ(c.isolation.container_image, "ubuntu:22.04");
  EXPECT_TRUE(c.isolation.fallback_isolation);
  EXPECT_EQ(c.isolation.resource_limits.memory_mb, 2048);
  EXPECT_EQ(c.isolation.resource_limits.max_open_files, 1000);
  EXPECT_EQ(c.security.level, SecurityLevel::kMedium);
  EXPECT_TRUE(c.security.network_isolation);
  EXPECT_EQ(c.security.allowed_endpoints,
            (std::vector<std::string>{"pypi.org", "npmjs.org", "github.com", "docker.io"}));
  EXPECT_EQ(c.audit_log_path(), "/var/log/intelligent_sandbox/audit.log");
  EXPECT_EQ(c.logging.level, "info");
  EXPECT_EQ(*config_internal::spdlog_pattern(c.logging.format), "%Y-%m-%d %H:%M:%S,%e - %n - %Q - %v");
  EXPECT_EQ(c.logging.file_path, "/var/log/intelligent_sandbox/sandbox.log");
  EXPECT_EQ(c.logging.max_size_mb, 100);
  EXPECT_EQ(c.logging.backup_count, 5);
  EXPECT_TRUE(c.cache.enabled);
  EXPECT_EQ(c.cache_dir(), "/var/cache/intelligent_sandbox");
  EXPECT_EQ(c.cache.max_size_mb, 1000);
  EXPECT_EQ(c.cache.ttl, 3600);
  EXPECT_EQ(c.cache.cleanup_interval, 600);
  EXPECT_TRUE(c.performance.monitoring_enabled);
  EXPECT_EQ(c.performance.metrics_interval, 60);
  EXPECT_FALSE(c.performance.profiling_enabled);
  EXPECT_EQ(c.performance.max_concurrent_operations, 20);
  EXPECT_EQ(c.performance.operation_timeout, 300);
  // The file names its own log paths, so there is no layout log directory to make.
  EXPECT_EQ(c.log_dir, "");
}

TEST(SeedFiles, McpConfigLoadsAsPrintedAndApplies) {
  auto m = parse_mcp_config(read_text(kSeedDir + "/mcp_config.json"), "mcp_config.json");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->server_name, "intelligent-sandbox");
  EXPECT_EQ(m->server_description, "Intelligent Sandbox MCP Server");
  EXPECT_EQ(m->protocol_version, "1.0");
  EXPECT_EQ(m->transport, "stdio");
  ASSERT_TRUE(m->tools.has_value());
  std::vector<std::string> names;
  for (const auto& t : *m->tools) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"create_workspace", "analyze_codebase", "create_task_plan",
                                             "execute_task_plan", "get_execution_history",
                                             "destroy_workspace", "get_sandbox_status"}));
  EXPECT_EQ(m->tools->at(2).parameters, (std::vector<std::pair<std::string, std::string>>{
                                            {"workspace_id", "string"}, {"task_description", "string"}}));
  EXPECT_EQ(m->authentication_enabled, true);
  EXPECT_EQ(m->api_key_header, "X-API-Key");
  EXPECT_EQ(m->burst, 10) << "burst_size is the seed's spelling of burst";
  EXPECT_EQ(m->requests_per_minute, 60);

  // On stdio, authentication has no key to check: accepted, and said so.
  Config c = parse_ok("");
  auto notes = apply_mcp_config(*m, c, "mcp-stdio");
  ASSERT_TRUE(notes.ok()) << notes.error().message;
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_THAT(notes->front(), HasSubstr("on stdio the client is the process that started this server"));
  EXPECT_EQ(c.security.rate_limit.burst, 10);
  EXPECT_THAT(c.plugins.settings_json.at("mcp-http"), HasSubstr(R"("api_key_header":"X-API-Key")"));
  EXPECT_THAT(c.plugins.settings_json.at("mcp-stdio"),
              HasSubstr(R"("server_description":"Intelligent Sandbox MCP Server")"));

  // Over HTTP a key must exist somewhere.
  Config h = parse_ok("");
  EXPECT_THAT(apply_mcp_config(*m, h, "mcp-http").error().message,
              HasSubstr("authentication.enabled is true but no key is configured"));
  Config k = parse_ok("", Env{{"SANDBOX_API_KEY", "0123456789abcdef0123"}});
  EXPECT_TRUE(apply_mcp_config(*m, k, "mcp-http").ok());
}

TEST(McpConfig, RefusesWhatItCannotHonourWithTheReason) {
  auto error = [](const std::string& json) {
    auto m = parse_mcp_config(json, "m.json");
    EXPECT_FALSE(m.ok()) << json;
    return m.ok() ? std::string() : m.error().message;
  };
  EXPECT_THAT(
      error(R"({"transport":{"encoding":"latin-1"}})"),
      HasSubstr("m.json: transport.encoding: 'latin-1' is not supported: MCP messages are JSON-RPC, which "
                "is UTF-8"));
  EXPECT_TRUE(parse_mcp_config(R"({"transport":{"encoding":"UTF-8"}})", "m.json").ok());
  EXPECT_THAT(error(R"({"server":{"protocol_version":"2025-06-18"}})"),
              HasSubstr("server.protocol_version: '2025-06-18' cannot be set: MCP client and server agree"));
  EXPECT_THAT(error(R"({"authentication":{"type":"oauth"}})"), HasSubstr("'oauth' is not supported"));
  EXPECT_THAT(error(R"({"authentication":{"header":"X API Key"}})"), HasSubstr("is not an HTTP header name"));
  EXPECT_THAT(error(R"({"rate_limiting":{"burst":5,"burst_size":5}})"), HasSubstr("give one of the two"));
  EXPECT_THAT(error(R"({"tools":[]})"), HasSubstr("an empty list would offer no tool at all"));
  EXPECT_THAT(error(R"({"tools":[{"name":"a"},{"name":"a"}]})"),
              HasSubstr("tools[1]: lists 'a' a second time"));
  EXPECT_THAT(error(R"({"tools":[{"name":"a","parameters":{"x":"text"}}]})"),
              HasSubstr("tools[0].parameters.x: must be a JSON Schema type"));
  EXPECT_THAT(error(R"({"tools":[{"name":"a","args":{}}]})"),
              HasSubstr("m.json: unknown key tools[0].args; valid keys in 'tools[0]' are: name, description, "
                        "parameters"));
  EXPECT_THAT(error(R"({"server":{"nmae":"x"}})"), HasSubstr("unknown key server.nmae"));
  EXPECT_THAT(error(R"({"extra":{}})"),
              HasSubstr("unknown key extra; valid keys are: server, transport, tools"));
}

TEST(McpConfig, FileOthersCanWriteIsRefused) {
  TempDir t;
  const std::string file = t.write("mcp.json", "{}", 0602);
  auto m = load_mcp_config(file, 0);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, HasSubstr("MCP config file " + file + ": refused: " + file +
                                           " is writable by others (mode 0602"));
  chmod(file.c_str(), 0600);
  EXPECT_TRUE(load_mcp_config(file, 0).ok());
}

TEST(ServeSettings, TransportNamesMapToTheirPlugins) {
  EXPECT_EQ(transport_plugin_id("stdio"), "mcp-stdio");
  EXPECT_EQ(transport_plugin_id("http"), "mcp-http");
  EXPECT_EQ(transport_plugin_id("my-transport"), "my-transport");
}

TEST(ServeSettings, StdioServesWithoutKeysAndSaysSo) {
  Config c;
  c.security.api_keys = {"k"};
  auto s = resolve_serve_settings({}, c, geteuid());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->transport_id, "mcp-stdio");
  EXPECT_TRUE(c.security.api_keys.empty());
  ASSERT_EQ(s->notes.size(), 1u);
  EXPECT_THAT(s->notes[0], ::testing::HasSubstr("they apply to HTTP"));
}

TEST(ServeSettings, HttpTakesHostAndPortFromTheCommandLineOverPluginSettings) {
  Config c;
  c.security.api_keys = {"k"};
  c.plugins.settings_json["mcp-http"] = R"({"host":"0.0.0.0","port":9000,"max_body_bytes":10})";
  ServeRequest r;
  r.transport = "http";
  r.port = 0;
  auto s = resolve_serve_settings(r, c, geteuid());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->transport_id, "mcp-http");
  EXPECT_EQ(c.plugins.settings_json["mcp-http"], R"({"host":"0.0.0.0","port":0,"max_body_bytes":10})")
      << "the host the settings name stays, the port given wins";
  EXPECT_EQ(c.security.api_keys.size(), 1u) << "keys guard HTTP";

  r.dev = true;
  r.host = "127.0.0.1";
  Config dev;
  dev.security.api_keys = {"k"};
  auto d = resolve_serve_settings(r, dev, geteuid());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(dev.security.api_keys.empty()) << "--dev on loopback drops the keys";
  EXPECT_EQ(dev.logging.level, "debug");
}

TEST(ServeSettings, APortOutOfRangeIsRefused) {
  Config c;
  ServeRequest r;
  r.port = 70000;
  auto s = resolve_serve_settings(r, c, geteuid());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "--port must be from 0 to 65535");
}

}  // namespace
}  // namespace isb
