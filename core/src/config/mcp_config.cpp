// mcp_config.cpp: reads and applies mcp_config.json (see isb/core/mcp_config.hpp).
// host paths only: the operator's MCP config file.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <fstream>
#include <initializer_list>
#include <isb/core/mcp_config.hpp>
#include <set>
#include <sstream>

#include "path_trust.hpp"

namespace isb {
namespace {

namespace json = boost::json;

constexpr std::string_view kJsonSchemaTypes[] = {"string", "integer", "number", "boolean",
                                                 "object", "array",   "null"};

// Errors name the file and the key path; the checks stop at the first.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  Error bad(const std::string& path, const std::string& what) const {
    return make_error(ErrorCode::kInvalidConfig, file_ + ": " + path + ": " + what);
  }

  // The keys of o must be among allowed.
  Status known_keys(const json::object& o, const std::string& where,
                    std::initializer_list<std::string_view> allowed) {
    for (const auto& kv : o) {
      bool known = false;
      for (std::string_view a : allowed) known = known || kv.key() == a;
      if (!known) {
        std::string list;
        for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        std::string path = where.empty() ? std::string(kv.key()) : where + "." + std::string(kv.key());
        return make_error(ErrorCode::kInvalidConfig,
                          file_ + ": unknown key " + path + "; valid keys" +
                              (where.empty() ? std::string() : " in '" + where + "'") + " are: " + list);
      }
    }
    return ok_status();
  }

  Result<const json::object*> section(const json::object& root, const char* name) {
    const json::value* v = root.if_contains(name);
    if (!v) return static_cast<const json::object*>(nullptr);
    if (!v->is_object()) return bad(name, "must be an object");
    return &v->as_object();
  }

  Result<std::optional<std::string>> string_at(const json::object& o, const std::string& where,
                                               const char* key, bool non_empty = false) {
    const json::value* v = o.if_contains(key);
    if (!v) return std::optional<std::string>();
    if (!v->is_string() || (non_empty && v->as_string().empty()))
      return bad(where + "." + key, non_empty ? "must be a non-empty string" : "must be a string");
    return std::optional<std::string>(std::string(v->as_string()));
  }

  Result<std::optional<bool>> bool_at(const json::object& o, const std::string& where, const char* key) {
    const json::value* v = o.if_contains(key);
    if (!v) return std::optional<bool>();
    if (!v->is_bool()) return bad(where + "." + key, "must be true or false");
    return std::optional<bool>(v->as_bool());
  }

  Result<std::optional<int64_t>> int_at(const json::object& o, const std::string& where, const char* key,
                                        int64_t min, int64_t max) {
    const json::value* v = o.if_contains(key);
    if (!v) return std::optional<int64_t>();
    if (!v->is_int64() || v->as_int64() < min || v->as_int64() > max) {
      return bad(where + "." + key, "must be an integer from " + std::to_string(min) +
                                        (max == INT64_MAX ? " up" : " to " + std::to_string(max)));
    }
    return std::optional<int64_t>(v->as_int64());
  }

 private:
  std::string file_;
};

// An HTTP field name (RFC 9110 token).
bool is_header_name(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!std::isalnum(c) &&
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

#define ISB_TRY(var, expr)              \
  auto var##_r = (expr);                \
  if (!var##_r) return var##_r.error(); \
  auto var = std::move(*var##_r)

Status read_server(Reader& r, const json::object& o, McpConfig& m) {
  if (Status st = r.known_keys(o, "server", {"name", "version", "description", "protocol_version"}); !st)
    return st;
  ISB_TRY(name, r.string_at(o, "server", "name", true));
  ISB_TRY(version, r.string_at(o, "server", "version"));
  ISB_TRY(description, r.string_at(o, "server", "description"));
  ISB_TRY(protocol, r.string_at(o, "server", "protocol_version"));
  if (protocol && *protocol != "1.0") {
    return r.bad(
        "server.protocol_version",
        "'" + *protocol +
            "' cannot be set: MCP client and server agree on the protocol revision in each session's "
            "initialize (docs/mcp.md lists the revisions this server speaks). The seed's \"1.0\" is "
            "accepted as a label; write that or remove the key");
  }
  m.server_name = name;
  m.server_version = version;
  m.server_description = description;
  m.protocol_version = protocol;
  return ok_status();
}

Status read_transport(Reader& r, const json::object& o, McpConfig& m) {
  if (Status st = r.known_keys(o, "transport", {"type", "host", "port", "encoding"}); !st) return st;
  ISB_TRY(type, r.string_at(o, "transport", "type"));
  if (type && *type != "stdio" && *type != "http")
    return r.bad("transport.type", "must be \"stdio\" or \"http\"");
  ISB_TRY(host, r.string_at(o, "transport", "host", true));
  ISB_TRY(port, r.int_at(o, "transport", "port", 0, 65535));
  ISB_TRY(encoding, r.string_at(o, "transport", "encoding"));
  if (encoding && lower(*encoding) != "utf-8" && lower(*encoding) != "utf8") {
    return r.bad(
        "transport.encoding",
        "'" + *encoding +
            "' is not supported: MCP messages are JSON-RPC, which is UTF-8 on both stdio and HTTP; write "
            "\"utf-8\" or remove the key");
  }
  m.transport = type;
  m.host = host;
  m.port = port;
  return ok_status();
}

Status read_tools(Reader& r, const json::value& v, McpConfig& m) {
  if (!v.is_array())
    return r.bad("tools", "must be a list of {\"name\", \"description\", \"parameters\"} objects");
  if (v.as_array().empty()) {
    return r.bad("tools",
                 "an empty list would offer no tool at all; list the tools to offer, or remove the key "
                 "to offer every tool");
  }
  std::vector<ToolExposure> tools;
  std::set<std::string> seen;
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const json::value& t = v.as_array()[i];
    if (!t.is_object()) return r.bad(where, "must be an object with at least \"name\"");
    const json::object& o = t.as_object();
    if (Status st = r.known_keys(o, where, {"name", "description", "parameters"}); !st) return st;
    ISB_TRY(name, r.string_at(o, where, "name", true));
    if (!name) return r.bad(where, "has no \"name\"");
    if (!seen.insert(*name).second) return r.bad(where, "lists '" + *name + "' a second time");
    ISB_TRY(description, r.string_at(o, where, "description", true));
    ToolExposure e{*name, description, {}};
    if (const json::value* p = o.if_contains("parameters")) {
      if (!p->is_object()) return r.bad(where + ".parameters", "must be an object of argument name to type");
      for (const auto& kv : p->as_object()) {
        std::string at = where + ".parameters." + std::string(kv.key());
        bool known = false;
        if (kv.value().is_string()) {
          for (std::string_view type : kJsonSchemaTypes) known = known || kv.value().as_string() == type;
        }
        if (!known) {
          return r.bad(at,
                       "must be a JSON Schema type: string, integer, number, boolean, object, array or null");
        }
        e.parameters.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
      }
    }
    tools.push_back(std::move(e));
  }
  m.tools = std::move(tools);
  return ok_status();
}

Status read_authentication(Reader& r, const json::object& o, McpConfig& m) {
  if (Status st = r.known_keys(o, "authentication", {"enabled", "type", "header", "api_keys"}); !st)
    return st;
  ISB_TRY(enabled, r.bool_at(o, "authentication", "enabled"));
  ISB_TRY(type, r.string_at(o, "authentication", "type"));
  if (type && *type != "api_key") {
    return r.bad("authentication.type",
                 "'" + *type + "' is not supported; this server checks API keys: \"api_key\"");
  }
  ISB_TRY(header, r.string_at(o, "authentication", "header"));
  if (header && !is_header_name(*header)) {
    return r.bad("authentication.header", "'" + *header + "' is not an HTTP header name (e.g. X-API-Key)");
  }
  if (const json::value* keys = o.if_contains("api_keys")) {
    if (!keys->is_array())
      return r.bad("authentication.api_keys", "must be a list of \"sha256:<hex>\" hashes or keys");
    for (const auto& k : keys->as_array()) {
      if (!k.is_string()) return r.bad("authentication.api_keys", "entries must be strings");
      m.api_keys.emplace_back(k.as_string());
    }
  }
  m.authentication_enabled = enabled;
  m.api_key_header = header.value_or("");
  return ok_status();
}

Status read_rate_limiting(Reader& r, const json::object& o, McpConfig& m) {
  if (Status st = r.known_keys(o, "rate_limiting", {"enabled", "requests_per_minute", "burst", "burst_size"});
      !st)
    return st;
  ISB_TRY(enabled, r.bool_at(o, "rate_limiting", "enabled"));
  ISB_TRY(rpm, r.int_at(o, "rate_limiting", "requests_per_minute", 1, INT64_MAX));
  ISB_TRY(burst, r.int_at(o, "rate_limiting", "burst", 1, INT64_MAX));
  // The seed spells it burst_size.
  ISB_TRY(burst_size, r.int_at(o, "rate_limiting", "burst_size", 1, INT64_MAX));
  if (burst && burst_size) {
    return r.bad("rate_limiting.burst_size", "is another name for rate_limiting.burst; give one of the two");
  }
  m.rate_limiting_enabled = enabled;
  m.requests_per_minute = rpm;
  m.burst = burst ? burst : burst_size;
  return ok_status();
}

#undef ISB_TRY

}  // namespace

Result<McpConfig> parse_mcp_config(const std::string& json_text, const std::string& file_name) {
  Reader r(file_name);
  boost::system::error_code ec;
  json::value doc = json::parse(json_text, ec);
  if (ec) return make_error(ErrorCode::kInvalidConfig, file_name + ": not valid JSON: " + ec.message());
  if (!doc.is_object())
    return make_error(ErrorCode::kInvalidConfig, file_name + ": the top level must be an object");
  const json::object& root = doc.as_object();
  if (Status st = r.known_keys(root, "", {"server", "transport", "tools", "authentication", "rate_limiting"});
      !st)
    return st.error();
  McpConfig m;
  m.file = file_name;
  struct Part {
    const char* name;
    Status (*read)(Reader&, const json::object&, McpConfig&);
  };
  for (const Part& p :
       {Part{"server", read_server}, Part{"transport", read_transport},
        Part{"authentication", read_authentication}, Part{"rate_limiting", read_rate_limiting}}) {
    auto s = r.section(root, p.name);
    if (!s) return s.error();
    if (*s) {
      if (Status st = p.read(r, **s, m); !st) return st.error();
    }
  }
  if (const json::value* tools = root.if_contains("tools")) {
    if (Status st = read_tools(r, *tools, m); !st) return st.error();
  }
  return m;
}

Result<McpConfig> load_mcp_config(const std::string& path, uid_t uid) {
  if (Status st =
          config_internal::check_trusted(path, config_internal::PathKind::kFile, "MCP config file", uid);
      !st) {
    return make_error(ErrorCode::kInvalidConfig,
                      st.error().message +
                          (st.error().code == ErrorCode::kNotFound ? "; check the --mcp-config option" : ""));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "MCP config file " + path + " cannot be read (check its permissions)");
  }
  return parse_mcp_config(text.str(), path);
}

Result<std::vector<std::string>> apply_mcp_config(const McpConfig& mcp, Config& config,
                                                  const std::string& transport_id) {
  std::vector<std::string> notes;
  const bool enabled = mcp.authentication_enabled.value_or(true);
  // Turning authentication off here never drops keys configured elsewhere:
  // only --dev on a loopback address does.
  if (enabled)
    config.security.api_keys.insert(config.security.api_keys.end(), mcp.api_keys.begin(), mcp.api_keys.end());
  if (mcp.authentication_enabled == true && config.security.api_keys.empty()) {
    if (transport_id != "mcp-stdio") {
      return make_error(ErrorCode::kInvalidConfig,
                        mcp.file +
                            ": authentication.enabled is true but no key is configured: add "
                            "authentication.api_keys, security.api_keys or SANDBOX_API_KEY");
    }
    notes.push_back(mcp.file +
                    ": authentication.enabled: on stdio the client is the process that started this "
                    "server, and no key travels; API keys are checked on HTTP (--transport http)");
  }
  if (mcp.requests_per_minute) config.security.rate_limit.requests_per_minute = *mcp.requests_per_minute;
  if (mcp.burst) config.security.rate_limit.burst = *mcp.burst;
  if (mcp.rate_limiting_enabled == false) {
    auto& exempt = config.security.rate_limit.exempt_transports;
    exempt.insert(exempt.end(), {"mcp-stdio", "mcp-http"});
  }
  // What the MCP transports take from here, in their plugins.settings.
  auto set = [&](const std::string& id, const char* key, const std::string& value) {
    std::string& settings = config.plugins.settings_json[id];
    boost::system::error_code ec;
    json::value v = settings.empty() ? json::value(json::object{}) : json::parse(settings, ec);
    if (ec || !v.is_object()) v = json::object{};
    v.as_object()[key] = value;
    settings = json::serialize(v);
  };
  for (const char* id : {"mcp-stdio", "mcp-http"}) {
    if (mcp.server_name) set(id, "server_name", *mcp.server_name);
    if (mcp.server_description) set(id, "server_description", *mcp.server_description);
  }
  if (!mcp.api_key_header.empty()) set("mcp-http", "api_key_header", mcp.api_key_header);
  return notes;
}

}  // namespace isb
