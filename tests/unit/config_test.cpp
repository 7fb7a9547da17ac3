// config_test.cpp: tests of the sandbox.yaml loader (core/src/config).
//
// Most tests parse YAML text given inline so that the line numbers the errors
// must name are visible next to the assertion. The environment is always
// passed explicitly, so the tests do not depend on the caller's SANDBOX_*.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isb/core/config.hpp>
#include <string>

namespace isb {
namespace {

using Env = std::map<std::string, std::string>;
using ::testing::HasSubstr;

const std::string kFixtures = ISB_TEST_FIXTURES_DIR "/config";
const std::string kShippedConfig = ISB_TEST_FIXTURES_DIR "/../../config/sandbox.yaml";

Result<Config> parse(const std::string& yaml, const Env& env = {}) {
  return parse_config(yaml, "test.yaml", env);
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
  auto r = load_config(ConfigSource{.explicit_file = std::nullopt,
                                    .search_paths = {kFixtures + "/does-not-exist.yaml"},
                                    .environment = Env{}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, "built-in defaults");
  EXPECT_EQ(r->sandbox.base_dir, "/tmp/intelligent_sandbox");
  EXPECT_EQ(r->sandbox.max_workspaces, 10);
  EXPECT_EQ(r->isolation.backend, "process");
  EXPECT_FALSE(r->isolation.backend_explicit);
  EXPECT_EQ(r->security.level, SecurityLevel::kMedium);
  EXPECT_EQ(r->logging.level, "info");
  EXPECT_EQ(r->state_dir(), "/tmp/intelligent_sandbox/state");
  EXPECT_EQ(r->workspaces_dir(), "/tmp/intelligent_sandbox/workspaces");
  EXPECT_EQ(r->audit_log_path(), "/tmp/intelligent_sandbox/state/audit.log");
  EXPECT_EQ(r->cache_dir(), "/tmp/intelligent_sandbox/state/cache");
}

TEST(ConfigTest, EmptyAndCommentOnlyFilesAreDefaults) {
  EXPECT_EQ(parse_ok("").sandbox.max_workspaces, 10);
  EXPECT_EQ(parse_ok("# nothing here\n\n   # still nothing\n").performance.operation_timeout, 300);
  // A section whose keys are all commented out is empty, not an error.
  EXPECT_EQ(parse_ok("sandbox:\n  # base_dir: /x\n").sandbox.base_dir, "/tmp/intelligent_sandbox");
}

TEST(ConfigTest, ShippedSandboxYamlEqualsDefaults) {
  auto r = load_config(ConfigSource{.explicit_file = kShippedConfig, .environment = Env{}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  const Config d;
  EXPECT_EQ(c.source, kShippedConfig);

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
  EXPECT_EQ(c.sandbox.base_dir, "/tmp/intelligent_sandbox");
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
  EXPECT_EQ(c.logging.file_path, "");
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
  EXPECT_EQ(c.performance.operation_timeout, 120);
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
  auto r = load_config(ConfigSource{.explicit_file = std::nullopt,
                                    .search_paths = {kFixtures + "/absent.yaml", first, second},
                                    .environment = Env{}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, first);
  EXPECT_EQ(r->sandbox.max_workspaces, 3);

  auto s = load_config(
      ConfigSource{.explicit_file = std::nullopt, .search_paths = {second, first}, .environment = Env{}});
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

  auto shipped = load_config(ConfigSource{.explicit_file = kShippedConfig, .environment = Env{}});
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

}  // namespace
}  // namespace isb
