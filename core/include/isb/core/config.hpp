// config.hpp: the server configuration (sandbox.yaml) and how it is loaded.
//
// Keys follow the seed guide's sandbox.yaml (sandbox, isolation, security,
// logging, cache, performance) plus isolation.backend and the plugins section.
// Every key has a built-in default, so no file is needed. Every key can be
// overridden by SANDBOX_<PATH> where PATH is the key path upper-cased with
// dots as underscores (SANDBOX_ISOLATION_RESOURCE_LIMITS_MEMORY_MB), and by the
// seed's named variables (SANDBOX_BASE_DIR, SANDBOX_LOG_LEVEL, SANDBOX_DEBUG,
// SANDBOX_USE_DOCKER, SANDBOX_MAX_WORKSPACES, SANDBOX_TIMEOUT, SANDBOX_API_KEY).
//
// The file is never looked up in the working directory, which a repository
// chooses: --config FILE, else $SANDBOX_CONFIG, else (not root)
// $XDG_CONFIG_HOME/intelligent-sandbox/sandbox.yaml, else
// /etc/intelligent-sandbox/sandbox.yaml, else built-in defaults. A file that
// another user could change is refused (see config/path_trust.hpp).
//
// Where state goes is resolved at load time (resolve_layout): explicit keys
// win; with sandbox.base_dir set everything lives under it, as before; else
// root gets /var/lib, /var/log and /var/cache/intelligent-sandbox and any other
// user the XDG state and cache directories.
//
//   auto cfg = isb::load_config(isb::ConfigSource{.explicit_file = "my.yaml"});
//   if (!cfg) { std::cerr << cfg.error().message << "\n"; return 2; }
#pragma once

#include <isb/core/result.hpp>

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isb {

struct ResourceLimits {
  int64_t memory_mb = 2048;
  double cpu_cores = 2;
  int64_t disk_mb = 5120;
  int64_t max_processes = 100;
  int64_t max_open_files = 1000;
};

struct SandboxConfig {
  //! Root of the workspaces (<base_dir>/workspaces) and, unless state_dir is
  //! set, of the state (<base_dir>/state). load_config fills it in when unset:
  //! the state directory of the host layout.
  std::string base_dir;
  int64_t max_workspaces = 10;
  int64_t workspace_timeout = 3600;  // seconds of idleness before cleanup (SANDBOX_TIMEOUT)
  bool auto_cleanup = true;
  int64_t cleanup_interval = 300;  // seconds
  //! Where source_path may come from. Empty means the defaults: the user's
  //! home, the current directory and the system temp dir.
  std::vector<std::string> allowed_source_roots;
  //! Directory for the database, command logs and workspace metadata.
  //! Empty: <base_dir>/state (load_config fills it in when neither is set).
  std::string state_dir;
  //! create_workspace's default mode: "copy" or "overlay" (overlayfs; falls
  //! back to copy where it cannot be mounted).
  std::string workspace_mode = "copy";
  //! Entries never copied into (or, in overlay mode, hidden from) a
  //! workspace, in .sandboxignore syntax, merged with the source's own
  //! .sandboxignore: e.g. node_modules/, *.log, /build/.
  std::vector<std::string> copy_excludes;
  //! Credentials and secrets: never copied into, shown in, unpacked into or
  //! applied out of a workspace, at any depth. Patterns as in
  //! workspaces/credentials.hpp ("!" takes an entry back); setting the key
  //! replaces this list.
  std::vector<std::string> secret_paths = {
      // keys and cloud credentials
      ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".config/gcloud", ".config/gh", ".docker/config.json",
      ".netrc", ".git-credentials", ".pgpass", ".npmrc", ".pypirc", ".vault-token",
      // environment files (the usual committed templates stay)
      ".env", ".env.*", "!.env.example", "!.env.sample", "!.env.template", "!.env.dist",
      // shell and REPL histories
      ".bash_history", ".zsh_history", ".sh_history", ".history", ".python_history", ".node_repl_history",
      ".psql_history", ".mysql_history", ".sqlite_history", ".lesshst", ".local/share/fish/fish_history"};
  //! Put each workspace with a disk_mb limit on a loop-mounted ext4 image of
  //! that size, where the server can (root, loop devices, mkfs.ext4): the
  //! kernel then holds the limit at all times. false, or where it cannot:
  //! usage is measured while commands and what they left run.
  bool disk_images = true;
  //! Directories apply_changes may write into besides a workspace's own
  //! source (each with everything beneath it). Empty: the source only.
  std::vector<std::string> apply_targets;
};

struct IsolationConfig {
  //! "process", "docker", or the id of an isolation plugin. Resolved by
  //! load_config from backend / use_docker (see effective_backend).
  std::string backend = "process";
  bool backend_explicit = false;   // backend was set in the file or environment
  std::optional<bool> use_docker;  // seed key; true selects docker when backend is not set
  std::string container_image = "ubuntu:22.04";
  bool fallback_isolation = true;
  ResourceLimits resource_limits;
};

enum class SecurityLevel { kLow, kMedium, kHigh };

//! Token bucket per API key (or per client without keys); see SecurityGate.
struct RateLimitConfig {
  int64_t requests_per_minute = 60;
  int64_t burst = 10;
  //! Transports whose requests are not rate limited: stdio serves the one
  //! process that started the server, which a limit would not protect from.
  std::vector<std::string> exempt_transports = {"mcp-stdio"};
};

// Against floods at the front door (see SecurityGate): lockouts after failed
// authentications, sampling of refusal lines, rotation of the audit log.
struct AuthFailuresConfig {
  int64_t threshold = 10;       // failed authentications in a row per client address before lockouts
  int64_t backoff_max_s = 300;  // lockouts start at 1 s and double up to this
  int64_t reset_after_s = 900;  // an address with no failure for this long starts again
};
struct AuditSamplingConfig {
  int64_t threshold = 20;  // refusal lines per client address at once; then one per second with a count
};
struct AuditRotationConfig {
  int64_t max_size_mb = 100;  // size at which the audit log rotates
  int64_t backup_count = 5;   // rotated audit logs kept
};

struct SecurityConfig {
  SecurityLevel level = SecurityLevel::kMedium;
  //! Create workspaces even when the backend cannot enforce what the level
  //! requires; they are then marked "degraded: <missing protections>".
  bool allow_degraded = false;
  bool network_isolation = true;
  std::vector<std::string> allowed_endpoints;
  bool audit_logging = true;
  std::string audit_log_path;  // empty: <state_dir>/audit.log (load_config: the layout's log dir)
  std::vector<std::string> api_keys;
  RateLimitConfig rate_limit;
  AuthFailuresConfig auth_failures;
  AuditSamplingConfig audit_sampling;
  AuditRotationConfig audit_rotation;
};

struct LoggingConfig {
  std::string level = "info";  // trace, debug, info, warning, error, critical (seed: upper case too)
  //! An spdlog pattern, or a Python logging format ("%(asctime)s %(message)s",
  //! see logging/log_format.hpp), checked at load. Empty: the built-in one.
  std::string format;
  //! Log file besides stderr; empty: stderr only. load_config sets it to
  //! <log dir>/sandbox.log unless the key is given.
  std::string file_path;
  int64_t max_size_mb = 100;
  int64_t backup_count = 5;
};

//! The cache every cached result goes through (core/src/cache): entries
//! older than ttl are not used; the least recently used go when the total
//! passes max_size_mb; a sweep every cleanup_interval removes both.
struct CacheConfig {
  bool enabled = true;
  std::string cache_dir;  // empty: <state_dir>/cache (load_config: the layout's cache dir)
  int64_t max_size_mb = 1000;
  int64_t ttl = 3600;
  int64_t cleanup_interval = 600;
};

struct PerformanceConfig {
  //! Collect operation metrics (core/src/metrics), show them in
  //! get_sandbox_status and log a summary every metrics_interval seconds.
  bool monitoring_enabled = true;
  int64_t metrics_interval = 60;
  bool profiling_enabled = false;          // true is refused: there is no profiler
  int64_t max_concurrent_operations = 20;  // steps of one plan that run at once
  int64_t operation_timeout = 300;  // seconds, per command unless a step says otherwise
  int64_t max_output_bytes = 1048576;  // captured per stream per command
  //! Seconds execute_task_plan and exec_command wait for the work before they
  //! return it as running (it goes on in the background); their wait argument
  //! overrides it. Below 60 s: clients time requests out after 60 s.
  int64_t execution_wait_s = 25;
};

struct PluginsConfig {
  //! Extra plugin directories, searched before the built-in ones.
  std::vector<std::string> directories;
  //! Plugin ids that must load, or the server refuses to start.
  std::vector<std::string> required;
  //! Planner ids in the order they are tried; empty: every loaded planner by id.
  std::vector<std::string> planners;
  //! Per-plugin config objects, keyed by plugin id, handed to create() as JSON.
  std::map<std::string, std::string> settings_json;
};

struct Config {
  SandboxConfig sandbox;
  IsolationConfig isolation;
  SecurityConfig security;
  LoggingConfig logging;
  CacheConfig cache;
  PerformanceConfig performance;
  PluginsConfig plugins;

  //! Where the config came from ("built-in defaults" or a file path), and why
  //! that file ("--config", "$SANDBOX_CONFIG", "user config", "system config").
  std::string source = "built-in defaults";
  std::string source_origin;
  //! The directory the layout keeps the server log and the audit log in; the
  //! server creates it and checks that it owns it. Empty when both log paths
  //! were given explicitly.
  std::string log_dir;

  std::string state_dir() const;       // sandbox.state_dir or <base_dir>/state
  std::string workspaces_dir() const;  // <base_dir>/workspaces
  std::string audit_log_path() const;
  std::string cache_dir() const;
};

struct ConfigSource {
  //! --config FILE; when set, a missing file is an error.
  std::optional<std::string> explicit_file = std::nullopt;
  //! Searched in order when neither --config nor $SANDBOX_CONFIG names a file;
  //! the first that exists wins. nullopt: standard_config_paths().
  std::optional<std::vector<std::string>> search_paths = std::nullopt;
  //! Environment to read overrides from; nullopt means the process environment.
  std::optional<std::map<std::string, std::string>> environment = std::nullopt;
  //! The user the server runs as; nullopt: geteuid(). Decides the layout (root
  //! or per user) and who besides root may own the config file.
  std::optional<uid_t> uid = std::nullopt;
};

//! Loads defaults, then the file, then environment overrides, then validates
//! and resolves the layout. Errors name the key path, the file and the line
//! (or the variable).
Result<Config> load_config(const ConfigSource& source);

//! Parses YAML text as a config file named file_name (used in messages), then
//! applies environment and resolves the layout for uid (nullopt: geteuid()).
Result<Config> parse_config(const std::string& yaml_text, const std::string& file_name,
                            const std::map<std::string, std::string>& environment = {},
                            std::optional<uid_t> uid = std::nullopt);

//! Where a server running as uid looks for its file when neither --config nor
//! $SANDBOX_CONFIG is given: (not root) $XDG_CONFIG_HOME or ~/.config, then /etc.
std::vector<std::string> standard_config_paths(const std::map<std::string, std::string>& environment,
                                               uid_t uid);

const char* security_level_name(SecurityLevel level);

}  // namespace isb
