// api_version.cpp: see api_version.hpp.
#include "api_version.hpp"

#include <boost/json.hpp>
#include <isb/sdk/plugin.hpp>

#include "isolation-common/json_fields.hpp"

namespace isb::docker {

using isolation::string_at;
namespace {

namespace json = boost::json;

[[noreturn]] void unavailable(const std::string& message) { throw sdk::Error(ISB_UNAVAILABLE, message); }

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
}

//! The "Engine" entry of Components (engines keep the top-level fields for
//! older clients, but only the component is documented as current).
const json::object* engine_component(const json::object& doc) {
  const json::value* comps = doc.if_contains("Components");
  if (!comps || !comps->is_array()) return nullptr;
  for (const auto& c : comps->as_array()) {
    if (c.is_object() && string_at(c.as_object(), "Name") == "Engine") return &c.as_object();
  }
  return nullptr;
}

//! doc[key], else the Engine component's Details[key].
std::string field(const json::object& doc, const char* key) {
  std::string v = string_at(doc, key);
  if (!v.empty()) return v;
  if (const json::object* engine = engine_component(doc)) {
    if (auto* d = engine->if_contains("Details"); d && d->is_object()) return string_at(d->as_object(), key);
  }
  return "";
}

std::string describe(const EngineVersion& e) {
  return "Docker " + (e.version.empty() ? std::string("of unknown version") : e.version);
}

std::string offers(const EngineVersion& e) {
  if (!e.min_api) return "speaks Engine API up to " + e.api.str();
  return "accepts Engine API " + e.min_api->str() + " to " + e.api.str();
}

}  // namespace

std::optional<ApiVersion> ApiVersion::parse(const std::string& text) {
  auto dot = text.find('.');
  if (dot == std::string::npos) return std::nullopt;
  std::string major = text.substr(0, dot), minor = text.substr(dot + 1);
  if (!all_digits(major) || !all_digits(minor)) return std::nullopt;
  return ApiVersion{std::stoi(major), std::stoi(minor)};
}

std::string supported_api_range() { return kOldestApi.str() + " to " + kNewestApi.str(); }

EngineVersion parse_engine_version(const std::string& body, const std::string& host) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    unavailable("the Docker engine at " + host +
                " answered GET /version with something that is not a JSON object (" + body.substr(0, 120) +
                "); is " + host + " a Docker engine?");
  }
  const json::object& doc = v.as_object();
  EngineVersion e;
  e.version = string_at(doc, "Version");
  if (e.version.empty()) {
    if (const json::object* engine = engine_component(doc)) e.version = string_at(*engine, "Version");
  }
  std::string api = field(doc, "ApiVersion");
  auto parsed = ApiVersion::parse(api);
  if (!parsed) {
    unavailable("the Docker engine at " + host + " (" + describe(e) +
                ") sent a /version answer without a readable " + "ApiVersion (" +
                (api.empty() ? std::string("none") : "\"" + api + "\"") + "); is " + host +
                " a Docker engine?");
  }
  e.api = *parsed;
  std::string min = field(doc, "MinAPIVersion");
  if (!min.empty()) {
    e.min_api = ApiVersion::parse(min);
    if (!e.min_api || *e.min_api > e.api) {
      unavailable("the Docker engine at " + host + " (" + describe(e) +
                  ") sent a /version answer with MinAPIVersion \"" + min + "\" against ApiVersion " +
                  e.api.str() + ", which is no range of versions");
    }
  }
  std::string os = string_at(doc, "Os"), arch = string_at(doc, "Arch");
  if (!os.empty()) e.os_arch = os + (arch.empty() ? "" : "/" + arch);
  return e;
}

ApiVersion select_api_version(const EngineVersion& engine, const std::optional<ApiVersion>& forced,
                              const std::string& host) {
  const std::string who = "the Docker engine at " + host + " (" + describe(engine) + ")";
  if (engine.api < kOldestApi) {
    unavailable(who + " " + offers(engine) + ", older than " + kOldestApi.str() +
                ", the oldest this backend speaks (it speaks " + supported_api_range() +
                ": Docker 20.10 and later); upgrade the engine to Docker 20.10 or later");
  }
  if (engine.min_api && *engine.min_api > kNewestApi) {
    unavailable(
        who + " " + offers(engine) + ", all newer than " + kNewestApi.str() +
        ", the newest this backend speaks (it speaks " + supported_api_range() +
        "); update intelligent-sandbox to a release that speaks the engine's API, or start dockerd with "
        "DOCKER_MIN_API_VERSION=" +
        kNewestApi.str() + " if the engine still allows that minimum");
  }
  if (forced) {
    if (*forced < kOldestApi || *forced > kNewestApi) {
      unavailable("plugins.settings.docker.api_version " + forced->str() +
                  " is outside what this backend speaks (" + supported_api_range() +
                  "); remove api_version to negotiate it with the engine");
    }
    if (*forced > engine.api || (engine.min_api && *forced < *engine.min_api)) {
      unavailable("plugins.settings.docker.api_version " + forced->str() + " is refused: " + who + " " +
                  offers(engine) +
                  "; remove api_version to negotiate it, or set a version that both the engine "
                  "and this backend (" +
                  supported_api_range() + ") speak");
    }
    return *forced;
  }
  ApiVersion chosen = engine.api < kNewestApi ? engine.api : kNewestApi;
  if (engine.min_api && chosen < *engine.min_api) {
    unavailable(who + " says its oldest API version " + engine.min_api->str() +
                " is newer than its newest, " + engine.api.str() +
                "; check the engine's DOCKER_MIN_API_VERSION");
  }
  return chosen;
}

bool is_api_version_refusal(const std::string& engine_message) {
  return engine_message.rfind("client version ", 0) == 0 &&
         (engine_message.find(" is too old") != std::string::npos ||
          engine_message.find(" is too new") != std::string::npos);
}

}  // namespace isb::docker
