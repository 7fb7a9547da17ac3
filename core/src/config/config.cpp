// config.cpp: loads sandbox.yaml and the SANDBOX_* environment into isb::Config.
//
// Every key is one row of kKeys below: its dotted path, which ISB_KEY also uses
// as the C++ member path so the two cannot drift apart, and the rule its value
// must obey. The YAML walk, the environment variable names, the "valid keys
// are" lists and the did-you-mean suggestions are all derived from that table.
// Adding a key is one row here plus its entry in config/sandbox.yaml and
// docs/configuration.md.
//
// Order of precedence, lowest first: built-in defaults, the file, the seed's
// named variables, the generic SANDBOX_<PATH> variables. Values are checked as
// they are read, so every error can say the file line or the variable it came from.
// host paths only: the operator's config files; nothing here names a path inside a workspace.
#include <pwd.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <isb/core/config.hpp>
#include <limits>
#include <set>
#include <span>
#include <sstream>
#include <string_view>
#include <system_error>
#include <variant>

#include "log_format.hpp"
#include "path_trust.hpp"
#include "yaml_to_json.hpp"

extern char** environ;  // POSIX; the process environment when none is given

namespace isb {
namespace {

// ---------------------------------------------------------------------------
// The key table.

// The member a key writes to; its alternative decides how the value is parsed.
using Field = std::variant<std::string*, int64_t*, double*, bool*, std::optional<bool>*,
                           std::vector<std::string>*, SecurityLevel*, std::map<std::string, std::string>*>;

// Constraints beyond the type. The defaults accept anything of the right type.
struct Rule {
  double min = -std::numeric_limits<double>::infinity();  // numbers: lowest allowed value
  bool min_exclusive = false;                             // numbers: min itself not allowed
  std::span<const std::string_view> choices;              // strings: allowed, any case, stored lower
  bool id = false;                                        // strings: must match kIdPattern
  //! A value of the right type this server still cannot honour: what is wrong
  //! with it, or nothing. Checked where the value is read, so the error names
  //! the file line or the variable.
  std::optional<std::string> (*refuse)(const Config&) = nullptr;
};

Rule at_least(double min) {
  Rule r;
  r.min = min;
  return r;
}
Rule greater_than(double min) {
  Rule r = at_least(min);
  r.min_exclusive = true;
  return r;
}
Rule one_of(std::span<const std::string_view> choices) {
  Rule r;
  r.choices = choices;
  return r;
}
Rule id_syntax() {
  Rule r;
  r.id = true;
  return r;
}
Rule refused_when(std::optional<std::string> (*refuse)(const Config&)) {
  Rule r;
  r.refuse = refuse;
  return r;
}

// The values that parse but that no part of this server can carry out. Each
// is refused at startup rather than read and then ignored.
std::optional<std::string> refuse_profiling(const Config& c) {
  if (!c.performance.profiling_enabled) return std::nullopt;
  return "true is not supported: this server has no profiler. Per-operation call counts, errors and latency "
         "percentiles come from performance.monitoring_enabled (get_sandbox_status, and a log line every "
         "metrics_interval); for CPU profiles run the server under perf. Set it to false";
}
std::optional<std::string> refuse_open_network(const Config& c) {
  if (c.security.network_isolation) return std::nullopt;
  return "false is not supported: workspaces never get a network here (every backend gives them loopback "
         "only), so this server cannot turn network isolation off. Set it to true";
}
std::optional<std::string> refuse_bad_log_format(const Config& c) {
  auto pattern = config_internal::spdlog_pattern(c.logging.format);
  if (pattern) return std::nullopt;
  return pattern.error().message;
}

struct KeyDef {
  std::string_view path;
  Field (*field)(Config&);
  Rule rule;
};

// Indexed by SecurityLevel, so the names and the enum stay in one order.
constexpr std::string_view kSecurityLevels[] = {"low", "medium", "high"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warning", "error", "critical"};
constexpr std::string_view kWorkspaceModes[] = {"copy", "overlay"};
constexpr std::string_view kIdPattern = "^[a-z0-9][a-z0-9-]*$";

// ISB_KEY(sandbox.max_workspaces, at_least(1)) names the key and its member with one token
// sequence; a typo in either fails to compile instead of silently diverging.
// clang-format off
#define ISB_KEY(member, ...) \
  KeyDef{#member, [](Config& c) -> Field { return &c.member; }, Rule{__VA_ARGS__}}
// clang-format on

const KeyDef kKeys[] = {
    ISB_KEY(sandbox.base_dir),
    ISB_KEY(sandbox.max_workspaces, at_least(1)),
    ISB_KEY(sandbox.workspace_timeout, at_least(1)),
    ISB_KEY(sandbox.auto_cleanup),
    ISB_KEY(sandbox.cleanup_interval, at_least(1)),
    ISB_KEY(sandbox.allowed_source_roots),
    ISB_KEY(sandbox.state_dir),
    ISB_KEY(sandbox.workspace_mode, one_of(kWorkspaceModes)),
    ISB_KEY(sandbox.copy_excludes),
    ISB_KEY(sandbox.secret_paths),
    ISB_KEY(sandbox.disk_images),
    ISB_KEY(sandbox.apply_targets),

    ISB_KEY(isolation.backend, id_syntax()),
    ISB_KEY(isolation.use_docker),
    ISB_KEY(isolation.container_image),
    ISB_KEY(isolation.fallback_isolation),
    ISB_KEY(isolation.resource_limits.memory_mb, at_least(16)),
    ISB_KEY(isolation.resource_limits.cpu_cores, greater_than(0)),
    ISB_KEY(isolation.resource_limits.disk_mb, at_least(0)),
    ISB_KEY(isolation.resource_limits.max_processes, at_least(1)),
    ISB_KEY(isolation.resource_limits.max_open_files, at_least(16)),

    ISB_KEY(security.level),
    ISB_KEY(security.allow_degraded),
    ISB_KEY(security.network_isolation, refused_when(refuse_open_network)),
    ISB_KEY(security.allowed_endpoints),
    ISB_KEY(security.audit_logging),
    ISB_KEY(security.audit_log_path),
    ISB_KEY(security.api_keys),
    ISB_KEY(security.rate_limit.requests_per_minute, at_least(1)),
    ISB_KEY(security.rate_limit.burst, at_least(1)),
    ISB_KEY(security.rate_limit.exempt_transports),
    // Front door against floods: lockouts, refusal sampling, audit rotation.
    ISB_KEY(security.auth_failures.threshold, at_least(1)),
    ISB_KEY(security.auth_failures.backoff_max_s, at_least(1)),
    ISB_KEY(security.auth_failures.reset_after_s, at_least(1)),
    ISB_KEY(security.audit_sampling.threshold, at_least(1)),
    ISB_KEY(security.audit_rotation.max_size_mb, at_least(1)),
    ISB_KEY(security.audit_rotation.backup_count, at_least(0)),

    ISB_KEY(logging.level, one_of(kLogLevels)),
    ISB_KEY(logging.format, refused_when(refuse_bad_log_format)),
    ISB_KEY(logging.file_path),
    ISB_KEY(logging.max_size_mb, at_least(0)),
    ISB_KEY(logging.backup_count, at_least(0)),

    ISB_KEY(cache.enabled),
    ISB_KEY(cache.cache_dir),
    ISB_KEY(cache.max_size_mb, at_least(0)),
    ISB_KEY(cache.ttl, at_least(1)),
    ISB_KEY(cache.cleanup_interval, at_least(1)),

    ISB_KEY(performance.monitoring_enabled),
    ISB_KEY(performance.metrics_interval, at_least(1)),
    ISB_KEY(performance.profiling_enabled, refused_when(refuse_profiling)),
    ISB_KEY(performance.max_concurrent_operations, at_least(1)),
    ISB_KEY(performance.operation_timeout, at_least(1)),
    ISB_KEY(performance.max_output_bytes, at_least(1024)),
    ISB_KEY(performance.execution_wait_s, at_least(0)),

    ISB_KEY(plugins.directories),
    ISB_KEY(plugins.required),
    ISB_KEY(plugins.planners),
    // The file key is "settings"; the member holds the JSON conversion of it.
    KeyDef{"plugins.settings", [](Config& c) -> Field { return &c.plugins.settings_json; }, Rule{}},
};

#undef ISB_KEY

// The seed's named variables, each an alias of one key. SANDBOX_DEBUG and
// SANDBOX_API_KEY do not simply set a key and are handled in apply_environment.
struct SeedVariable {
  std::string_view name;
  std::string_view path;
};
constexpr SeedVariable kSeedVariables[] = {
    {"SANDBOX_BASE_DIR", "sandbox.base_dir"},
    {"SANDBOX_LOG_LEVEL", "logging.level"},
    {"SANDBOX_USE_DOCKER", "isolation.use_docker"},
    {"SANDBOX_MAX_WORKSPACES", "sandbox.max_workspaces"},
    // The seed's environment reference: "Workspace timeout in seconds".
    {"SANDBOX_TIMEOUT", "sandbox.workspace_timeout"},
};

const KeyDef* find_key(std::string_view path) {
  for (const KeyDef& key : kKeys) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

// The names directly below prefix ("" for the sections), in table order.
std::vector<std::string_view> children_of(std::string_view prefix) {
  std::vector<std::string_view> names;
  for (const KeyDef& key : kKeys) {
    std::string_view rest = key.path;
    if (!prefix.empty()) {
      if (!rest.starts_with(prefix) || rest.size() <= prefix.size() || rest[prefix.size()] != '.') continue;
      rest.remove_prefix(prefix.size() + 1);
    }
    std::string_view name = rest.substr(0, rest.find('.'));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// A path that is not a key but has keys below it (a section or resource_limits).
bool is_group(std::string_view path) { return !children_of(path).empty() && !find_key(path); }

std::string env_name(std::string_view path) {
  std::string name = "SANDBOX_";
  for (char c : path) name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// ---------------------------------------------------------------------------
// Small text helpers.

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string join(std::span<const std::string_view> items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest candidate if it is close enough to be a plausible typo.
std::optional<std::string_view> closest(std::string_view name, std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view candidate : candidates) {
    size_t d = edit_distance(name, candidate);
    if (d < best_distance) best_distance = d, best = candidate;
  }
  if (best && (best_distance <= 2 || best_distance * 3 <= name.size())) return best;
  return std::nullopt;
}

std::string single_quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return single_quoted(node.Scalar());
    default:
      return "nothing";
  }
}

std::string format_number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  std::ostringstream s;
  s << v;
  return s.str();
}

// ---------------------------------------------------------------------------
// Values.

// yaml-cpp's notion of a boolean (true/false/yes/no/on/off and their
// capitalisations), so the file reads like any other YAML file.
bool parse_yaml_bool(std::string_view text, bool& out) {
  return YAML::convert<bool>::decode(YAML::Node(std::string(text)), out);
}

// Shell conventions, where 1/0 are as common as words.
bool parse_env_bool(std::string_view text, bool& out) {
  std::string s = to_lower(text);
  if (s == "true" || s == "yes" || s == "on" || s == "1") return out = true, true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return out = false, true;
  return false;
}
constexpr std::string_view kEnvBoolExpected = "a boolean (true/false/yes/no/on/off/1/0)";
constexpr std::string_view kYamlBoolExpected = "a boolean (true or false)";

struct Syntax {
  bool (*parse_bool)(std::string_view, bool&);
  std::string_view bool_expected;
};
constexpr Syntax kYamlSyntax{parse_yaml_bool, kYamlBoolExpected};
constexpr Syntax kEnvSyntax{parse_env_bool, kEnvBoolExpected};

std::string expected_text(const KeyDef& key, const Field& field, const Syntax& syntax) {
  if (std::holds_alternative<SecurityLevel*>(field)) return "one of " + join(kSecurityLevels, "|");
  if (!key.rule.choices.empty()) return "one of " + join(key.rule.choices, "|");
  if (key.rule.id) return "an id matching " + std::string(kIdPattern) + " (e.g. process, docker)";
  if (std::holds_alternative<int64_t*>(field)) return "an integer";
  if (std::holds_alternative<double*>(field)) return "a number";
  if (std::holds_alternative<bool*>(field) || std::holds_alternative<std::optional<bool>*>(field)) {
    return std::string(syntax.bool_expected);
  }
  if (std::holds_alternative<std::vector<std::string>*>(field)) return "a list of strings";
  if (std::holds_alternative<std::map<std::string, std::string>*>(field)) {
    return "a mapping of plugin id to that plugin's settings";
  }
  return "a string";
}

bool is_id(std::string_view s) {
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && c == '-');
  };
  if (s.empty() || !ok(s[0], true)) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) { return ok(c, false); });
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  if constexpr (std::is_floating_point_v<T>) return std::isfinite(out);
  return true;
}

// "expected an integer >= 16, got 8", or nothing when v is in range.
std::optional<std::string> check_range(const KeyDef& key, double v, std::string_view kind,
                                       std::string_view text) {
  bool below = key.rule.min_exclusive ? v <= key.rule.min : v < key.rule.min;
  if (!below) return std::nullopt;
  return "expected " + std::string(kind) + (key.rule.min_exclusive ? " > " : " >= ") +
         format_number(key.rule.min) + ", got " + std::string(text);
}

// Sets a non-list field from one scalar's text. Returns what was wrong, if anything.
std::optional<std::string> set_scalar(const KeyDef& key, const Field& field, std::string_view text,
                                      const Syntax& syntax) {
  auto wrong = [&] {
    return "expected " + expected_text(key, field, syntax) + ", got " + single_quoted(text);
  };
  if (auto* p = std::get_if<int64_t*>(&field)) {
    int64_t v = 0;
    if (!parse_number(text, v)) return wrong();
    if (auto e = check_range(key, static_cast<double>(v), "an integer", text)) return e;
    **p = v;
  } else if (auto* p = std::get_if<double*>(&field)) {
    double v = 0;
    if (!parse_number(text, v)) return wrong();
    if (auto e = check_range(key, v, "a number", text)) return e;
    **p = v;
  } else if (auto* p = std::get_if<bool*>(&field)) {
    if (!syntax.parse_bool(text, **p)) return wrong();
  } else if (auto* p = std::get_if<std::optional<bool>*>(&field)) {
    bool v = false;
    if (!syntax.parse_bool(text, v)) return wrong();
    **p = v;
  } else if (auto* p = std::get_if<SecurityLevel*>(&field)) {
    std::string lower = to_lower(text);
    auto it = std::find(std::begin(kSecurityLevels), std::end(kSecurityLevels), lower);
    if (it == std::end(kSecurityLevels)) return wrong();
    **p = static_cast<SecurityLevel>(it - std::begin(kSecurityLevels));
  } else if (auto* p = std::get_if<std::string*>(&field)) {
    if (!key.rule.choices.empty()) {
      // The seed spells levels in upper case (INFO, WARNING); store them lower.
      std::string lower = to_lower(text);
      if (std::find(key.rule.choices.begin(), key.rule.choices.end(), lower) == key.rule.choices.end()) {
        return wrong();
      }
      **p = lower;
    } else {
      if (key.rule.id && !is_id(text)) return wrong();
      **p = std::string(text);
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Paths.

std::string path_join(const std::string& dir, std::string_view leaf) {
  std::string out = dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out != "/") out += '/';
  out += leaf;
  return out;
}

// An environment variable, "" when unset.
std::string env_value(const std::map<std::string, std::string>& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : std::string(trim(it->second));
}

// The home directory of uid: $HOME, else the password database; "" when neither has one.
std::string home_dir(const std::map<std::string, std::string>& env, uid_t uid) {
  std::string home = env_value(env, "HOME");
  if (!home.empty() && home.front() == '/') return home;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && pw.pw_dir && pw.pw_dir[0] == '/')
    return pw.pw_dir;
  return "";
}

// An XDG base directory: $<variable> when absolute (the spec ignores relative
// ones), else ~/<fallback>; "" when there is no home to put it in.
std::string xdg_dir(const std::map<std::string, std::string>& env, uid_t uid, const char* variable,
                    std::string_view fallback) {
  std::string v = env_value(env, variable);
  if (!v.empty() && v.front() == '/') return v;
  std::string home = home_dir(env, uid);
  return home.empty() ? "" : path_join(home, fallback);
}

constexpr std::string_view kAppDir = "intelligent-sandbox";
constexpr std::string_view kSystemConfig = "/etc/intelligent-sandbox/sandbox.yaml";

// ---------------------------------------------------------------------------
// The file.

// Per-load state: where we are reading, the config being built, and which keys
// were set (isolation.backend being set is what makes it explicit).
struct Loader {
  std::string file_name;
  Config cfg;
  std::set<std::string_view> set_keys;

  Error error_at(const YAML::Node& node, std::string_view path, const std::string& what) const {
    return make_error(ErrorCode::kInvalidConfig, file_name + ":" + std::to_string(node.Mark().line + 1) +
                                                     ": " + std::string(path) + ": " + what);
  }

  Status read_settings(const KeyDef& key, const YAML::Node& value, std::map<std::string, std::string>& out) {
    if (!value.IsMap())
      return error_at(value, key.path, "expected a mapping of plugin id to settings, got " + describe(value));
    out.clear();
    for (const auto& kv : value) {
      if (!kv.first.IsScalar()) return error_at(kv.first, key.path, "a plugin id must be a plain name");
      std::string path = std::string(key.path) + "." + kv.first.Scalar();
      if (out.contains(kv.first.Scalar()))
        return error_at(kv.first, path, "duplicate key; remove one of the two");
      // A plugin listed with nothing under it gets an empty object, not null,
      // so that every plugin can rely on receiving a JSON object.
      if (kv.second.IsNull()) {
        out[kv.first.Scalar()] = "{}";
        continue;
      }
      if (!kv.second.IsMap()) {
        return error_at(kv.second, path,
                        "expected a mapping of this plugin's settings, got " + describe(kv.second));
      }
      auto json = config_internal::yaml_to_json(kv.second, path, file_name);
      if (!json) return json.error();
      out[kv.first.Scalar()] = std::move(*json);
    }
    return ok_status();
  }

  Status read_value(const KeyDef& key, const YAML::Node& value) {
    // An empty value (`key:` or `key: null`) means "the built-in default", so a
    // key can be listed in a file without being set.
    if (value.IsNull()) return ok_status();
    Field field = key.field(cfg);
    if (auto* settings = std::get_if<std::map<std::string, std::string>*>(&field)) {
      Status st = read_settings(key, value, **settings);
      if (!st) return st;
    } else if (auto* list = std::get_if<std::vector<std::string>*>(&field)) {
      if (!value.IsSequence())
        return error_at(value, key.path, "expected a list of strings, got " + describe(value));
      std::vector<std::string> items;
      for (const auto& item : value) {
        if (!item.IsScalar()) {
          return error_at(item, key.path, "expected a list of strings, but an item is " + describe(item));
        }
        items.push_back(item.Scalar());
      }
      **list = std::move(items);
    } else {
      if (!value.IsScalar()) {
        return error_at(value, key.path,
                        "expected " + expected_text(key, field, kYamlSyntax) + ", got " + describe(value));
      }
      if (auto what = set_scalar(key, field, value.Scalar(), kYamlSyntax))
        return error_at(value, key.path, *what);
      if (key.rule.refuse) {
        if (auto why = key.rule.refuse(cfg)) return error_at(value, key.path, *why);
      }
    }
    set_keys.insert(key.path);
    return ok_status();
  }

  Error unknown_key(const YAML::Node& key_node, std::string_view prefix, const std::string& path,
                    const std::string& name) const {
    std::vector<std::string_view> valid = children_of(prefix);
    std::string what = prefix.empty() ? "unknown section; valid sections are: "
                                      : "unknown key; valid keys in '" + std::string(prefix) + "' are: ";
    what += join(valid, ", ");
    if (auto suggestion = closest(name, valid)) what += "; did you mean " + std::string(*suggestion) + "?";
    return error_at(key_node, path, what);
  }

  // Reads a mapping whose keys are the children of prefix ("" for the top level).
  Status read_mapping(const YAML::Node& map, std::string_view prefix) {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        return error_at(kv.first, prefix.empty() ? "(top level)" : prefix,
                        "a key must be a plain name, got " + describe(kv.first));
      }
      const std::string& name = kv.first.Scalar();
      std::string path = prefix.empty() ? name : std::string(prefix) + "." + name;
      if (!seen.insert(name).second) return error_at(kv.first, path, "duplicate key; remove one of the two");
      if (const KeyDef* key = find_key(path)) {
        Status st = read_value(*key, kv.second);
        if (!st) return st;
      } else if (is_group(path)) {
        if (kv.second.IsNull()) continue;  // a section with every key commented out
        if (!kv.second.IsMap()) {
          return error_at(kv.second, path,
                          "expected a mapping with the keys " + join(children_of(path), ", ") + ", got " +
                              describe(kv.second));
        }
        Status st = read_mapping(kv.second, path);
        if (!st) return st;
      } else {
        return unknown_key(kv.first, prefix, path, name);
      }
    }
    return ok_status();
  }

  Status read_text(const std::string& yaml_text) {
    YAML::Node root;
    try {
      root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
      // yaml-cpp reports a few errors without a position (line -1).
      std::string line = e.mark.line >= 0 ? ":" + std::to_string(e.mark.line + 1) : "";
      return make_error(ErrorCode::kInvalidConfig, file_name + line + ": YAML syntax error: " + e.msg);
    }
    if (root.IsNull()) return ok_status();  // empty, or only comments
    if (!root.IsMap()) {
      return make_error(ErrorCode::kInvalidConfig, file_name + ":" + std::to_string(root.Mark().line + 1) +
                                                       ": expected a mapping with the sections " +
                                                       join(children_of(""), ", ") + ", got " +
                                                       describe(root));
    }
    return read_mapping(root, "");
  }

  // -------------------------------------------------------------------------
  // The environment.

  static Error env_error(std::string_view variable, const std::string& what) {
    return make_error(ErrorCode::kInvalidConfig,
                      "environment variable " + std::string(variable) + ": " + what);
  }

  Status set_from_env(const KeyDef& key, std::string_view variable, std::string_view raw) {
    Field field = key.field(cfg);
    std::string_view text = trim(raw);
    if (auto* list = std::get_if<std::vector<std::string>*>(&field)) {
      std::vector<std::string> items;
      std::string_view rest = text;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view item = trim(rest.substr(0, comma));
        if (!item.empty()) items.emplace_back(item);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      **list = std::move(items);
    } else if (auto what = set_scalar(key, field, text, kEnvSyntax)) {
      return env_error(variable, *what);
    } else if (key.rule.refuse) {
      if (auto why = key.rule.refuse(cfg)) return env_error(variable, *why);
    }
    set_keys.insert(key.path);
    return ok_status();
  }

  Status apply_environment(const std::map<std::string, std::string>& env) {
    // An empty variable counts as unset: `FOO=${FOO}` in a compose file or a
    // unit file should not wipe or break a key.
    auto lookup = [&](std::string_view name) -> std::optional<std::string_view> {
      auto it = env.find(std::string(name));
      if (it == env.end() || trim(it->second).empty()) return std::nullopt;
      return it->second;
    };

    // SANDBOX_DEBUG first, so that an explicit SANDBOX_LOG_LEVEL (e.g. trace) still wins.
    if (auto v = lookup("SANDBOX_DEBUG")) {
      bool debug = false;
      if (!parse_env_bool(trim(*v), debug)) {
        return env_error("SANDBOX_DEBUG",
                         "expected " + std::string(kEnvBoolExpected) + ", got " + single_quoted(*v));
      }
      if (debug) cfg.logging.level = "debug";
    }
    for (const SeedVariable& seed : kSeedVariables) {
      if (auto v = lookup(seed.name)) {
        Status st = set_from_env(*find_key(seed.path), seed.name, *v);
        if (!st) return st;
      }
    }
    // Generic names last: they are the precise spelling, so they win over aliases.
    for (const KeyDef& key : kKeys) {
      if (std::holds_alternative<std::map<std::string, std::string>*>(key.field(cfg))) continue;
      std::string name = env_name(key.path);
      if (auto v = lookup(name)) {
        Status st = set_from_env(key, name, *v);
        if (!st) return st;
      }
    }
    // Appended after the list has its final value, so it adds to file keys
    // and to SANDBOX_SECURITY_API_KEYS rather than being overwritten by them.
    if (auto v = lookup("SANDBOX_API_KEY")) {
      std::string api_key(trim(*v));
      auto& keys = cfg.security.api_keys;
      if (std::find(keys.begin(), keys.end(), api_key) == keys.end()) keys.push_back(api_key);
    }
    return ok_status();
  }

  void resolve_backend() {
    cfg.isolation.backend_explicit = set_keys.contains("isolation.backend");
    if (!cfg.isolation.backend_explicit) {
      cfg.isolation.backend = cfg.isolation.use_docker.value_or(false) ? "docker" : "process";
    }
  }

  // Fills in where state, caches and logs go, for the keys left unset. When
  // the operator chose sandbox.base_dir or sandbox.state_dir, everything stays
  // under that (as it always did: tests and services that want one root).
  // Otherwise the host's layout: the seed's /var directories for root, the XDG
  // base directories for anyone else. Never /tmp, which is neither durable nor private.
  Status resolve_layout(const std::map<std::string, std::string>& env, uid_t uid);
};

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

// hint: how the file was named, for the message ("--config", "$SANDBOX_CONFIG"); empty when found by search.
Result<std::string> read_file(const std::string& path, const std::string& hint) {
  const std::string check = hint.empty() ? "" : "; check " + hint;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return make_error(ErrorCode::kInvalidConfig, "config file '" + path + "' does not exist" + check);
  }
  if (std::filesystem::is_directory(path, ec)) {
    return make_error(ErrorCode::kInvalidConfig,
                      "config file '" + path + "' is a directory, not a file" + check);
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "config file '" + path + "' cannot be read (check its permissions)" + check);
  }
  return text.str();
}

Status Loader::resolve_layout(const std::map<std::string, std::string>& env, uid_t uid) {
  const bool operator_root = !cfg.sandbox.base_dir.empty() || !cfg.sandbox.state_dir.empty();
  std::string host_state, host_cache, host_logs;
  if (uid == 0) {
    host_state = path_join("/var/lib", kAppDir);
    host_cache = path_join("/var/cache", kAppDir);
    host_logs = path_join("/var/log", kAppDir);
  } else if (!operator_root) {
    std::string state = xdg_dir(env, uid, "XDG_STATE_HOME", ".local/state");
    std::string cache = xdg_dir(env, uid, "XDG_CACHE_HOME", ".cache");
    if (state.empty() || cache.empty()) {
      return make_error(ErrorCode::kInvalidConfig,
                        "no place for the server's state: uid " + std::to_string(uid) +
                            " has no home directory ($HOME is unset and the password database has none), so "
                            "there is no $XDG_STATE_HOME default; set XDG_STATE_HOME and XDG_CACHE_HOME, or "
                            "sandbox.state_dir (SANDBOX_SANDBOX_STATE_DIR) or SANDBOX_BASE_DIR");
    }
    host_state = path_join(state, kAppDir);
    host_cache = path_join(cache, kAppDir);
    host_logs = host_state;
  }
  if (cfg.sandbox.state_dir.empty()) {
    cfg.sandbox.state_dir =
        !cfg.sandbox.base_dir.empty() ? path_join(cfg.sandbox.base_dir, "state") : host_state;
  }
  // Workspaces under the state directory unless base_dir says otherwise.
  if (cfg.sandbox.base_dir.empty()) cfg.sandbox.base_dir = cfg.sandbox.state_dir;
  if (cfg.cache.cache_dir.empty()) {
    cfg.cache.cache_dir = operator_root ? path_join(cfg.sandbox.state_dir, "cache") : host_cache;
  }
  const std::string log_dir = operator_root ? cfg.sandbox.state_dir : host_logs;
  bool uses_log_dir = false;
  if (cfg.security.audit_log_path.empty()) {
    cfg.security.audit_log_path = path_join(log_dir, "audit.log");
    uses_log_dir = true;
  }
  // "" given on purpose means stderr only; unset means the layout's file.
  if (!set_keys.contains("logging.file_path")) {
    cfg.logging.file_path = path_join(log_dir, "sandbox.log");
    uses_log_dir = true;
  }
  cfg.log_dir = uses_log_dir ? log_dir : "";
  return ok_status();
}

}  // namespace

const char* security_level_name(SecurityLevel level) {
  return kSecurityLevels[static_cast<size_t>(level)].data();  // literals, so NUL-terminated
}

std::string Config::state_dir() const {
  return sandbox.state_dir.empty() ? path_join(sandbox.base_dir, "state") : sandbox.state_dir;
}

std::string Config::workspaces_dir() const { return path_join(sandbox.base_dir, "workspaces"); }

std::string Config::audit_log_path() const {
  return security.audit_log_path.empty() ? path_join(state_dir(), "audit.log") : security.audit_log_path;
}

std::string Config::cache_dir() const {
  return cache.cache_dir.empty() ? path_join(state_dir(), "cache") : cache.cache_dir;
}

Result<Config> parse_config(const std::string& yaml_text, const std::string& file_name,
                            const std::map<std::string, std::string>& environment, std::optional<uid_t> uid) {
  Loader loader{.file_name = file_name, .cfg = {}, .set_keys = {}};
  if (Status st = loader.read_text(yaml_text); !st) return st.error();
  if (Status st = loader.apply_environment(environment); !st) return st.error();
  loader.resolve_backend();
  if (Status st = loader.resolve_layout(environment, uid.value_or(geteuid())); !st) return st.error();
  loader.cfg.source = file_name;
  return std::move(loader.cfg);
}

std::vector<std::string> standard_config_paths(const std::map<std::string, std::string>& environment,
                                               uid_t uid) {
  std::vector<std::string> paths;
  if (uid != 0) {
    std::string dir = xdg_dir(environment, uid, "XDG_CONFIG_HOME", ".config");
    if (!dir.empty()) paths.push_back(path_join(path_join(dir, kAppDir), "sandbox.yaml"));
  }
  paths.emplace_back(kSystemConfig);
  return paths;
}

Result<Config> load_config(const ConfigSource& source) {
  std::map<std::string, std::string> env = source.environment ? *source.environment : process_environment();
  const uid_t uid = source.uid.value_or(geteuid());
  // Never the working directory: a desktop client starts the server in the
  // project it works on, and the project must not choose the server's config.
  std::optional<std::string> file;
  std::string origin;
  if (source.explicit_file) {
    file = *source.explicit_file;
    origin = "--config";
  } else if (std::string named = env_value(env, "SANDBOX_CONFIG"); !named.empty()) {
    file = named;
    origin = "$SANDBOX_CONFIG";
  } else {
    for (const std::string& candidate :
         source.search_paths ? *source.search_paths : standard_config_paths(env, uid)) {
      std::error_code ec;
      if (std::filesystem::exists(candidate, ec)) {
        file = candidate;
        origin = candidate == kSystemConfig ? "system config" : "user config";
        break;
      }
    }
  }
  if (!file) return parse_config("", Config{}.source, env, uid);
  auto text = read_file(*file, origin == "--config"          ? "the --config option"
                               : origin == "$SANDBOX_CONFIG" ? "the SANDBOX_CONFIG environment variable"
                                                             : "");
  if (!text) return text.error();
  // The file chooses the security level and where plugin code comes from.
  if (Status st = config_internal::check_trusted(*file, config_internal::PathKind::kFile, "config file", uid);
      !st)
    return st.error();
  auto cfg = parse_config(*text, *file, env, uid);
  if (cfg) cfg->source_origin = origin;
  return cfg;
}

}  // namespace isb
