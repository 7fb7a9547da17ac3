// api_version.hpp: which Docker Engine API version the backend speaks to an
// engine, chosen from the engine's own GET /version answer, and what differs
// in the requests between the versions it may choose.
//
//   EngineVersion engine = parse_engine_version(body_of_GET_version);
//   ApiVersion v = select_api_version(engine, std::nullopt, "unix:///var/run/docker.sock");
//   std::string prefix = "/v" + v.str();            // "/v1.52" against Docker 29.0
//   if (network_create_takes_check_duplicate(v)) ...
//
// Pure functions without I/O; the engine client (engine_client.hpp) calls them
// once per negotiation.
#pragma once

#include <optional>
#include <string>

namespace isb::docker {

//! An Engine API version, "<major>.<minor>" (every version so far is 1.x).
struct ApiVersion {
  int major = 1;
  int minor = 0;

  std::string str() const { return std::to_string(major) + "." + std::to_string(minor); }
  friend bool operator==(const ApiVersion& a, const ApiVersion& b) {
    return a.major == b.major && a.minor == b.minor;
  }
  friend bool operator!=(const ApiVersion& a, const ApiVersion& b) { return !(a == b); }
  friend bool operator<(const ApiVersion& a, const ApiVersion& b) {
    return a.major != b.major ? a.major < b.major : a.minor < b.minor;
  }
  friend bool operator>(const ApiVersion& a, const ApiVersion& b) { return b < a; }
  friend bool operator<=(const ApiVersion& a, const ApiVersion& b) { return !(b < a); }
  friend bool operator>=(const ApiVersion& a, const ApiVersion& b) { return !(a < b); }

  //! "1.44" -> {1, 44}; nullopt for anything else ("1.4x", "v1.44", "1", "").
  static std::optional<ApiVersion> parse(const std::string& text);
};

//! The oldest version the backend speaks: Docker 20.10.
constexpr ApiVersion kOldestApi{1, 41};
//! The newest version the backend speaks: Docker 29.3 to 29.5. Every change
//! of the Engine API changelog from 1.42 to this one was checked against the
//! endpoints and fields the backend sends and reads (README.md, "Engine API
//! versions"); a newer engine is spoken to in this version, which it still
//! accepts unless its minimum is above it.
constexpr ApiVersion kNewestApi{1, 54};

//! What an engine says about itself in GET /version.
struct EngineVersion {
  std::string version;                //!< the engine's release, "29.0.4"
  ApiVersion api;                     //!< the newest API version it speaks (ApiVersion)
  std::optional<ApiVersion> min_api;  //!< the oldest it accepts (MinAPIVersion); absent before Docker 1.13
  std::string os_arch;                //!< "linux/amd64", for messages
};

//! Reads a GET /version body. The top-level ApiVersion / MinAPIVersion are
//! used, else those of the "Engine" component. Throws
//! sdk::Error(ISB_UNAVAILABLE) naming host when the body is not such a
//! document (not JSON, no readable ApiVersion).
EngineVersion parse_engine_version(const std::string& body, const std::string& host);

//! The version to speak to that engine: `forced` when set (it must lie in
//! both the backend's range and the engine's), else the newest version both
//! sides speak, i.e. min(kNewestApi, engine.api), which must be at least
//! kOldestApi and engine.min_api. Throws sdk::Error(ISB_UNAVAILABLE) when
//! there is no such version, saying what the engine offers, what the backend
//! speaks and what to do.
ApiVersion select_api_version(const EngineVersion& engine, const std::optional<ApiVersion>& forced,
                              const std::string& host);

//! "1.41 to 1.54": the backend's range, for messages and the probe.
std::string supported_api_range();

//! POST /networks/create: CheckDuplicate is sent below 1.44 only. From 1.44
//! (Docker 25) a duplicate name always fails and the field is deprecated.
inline bool network_create_takes_check_duplicate(const ApiVersion& v) { return v < ApiVersion{1, 44}; }

//! True when an engine's error message is its refusal of the request's API
//! version ("client version 1.41 is too old. Minimum supported API version is
//! 1.44, ..." or "... is too new. Maximum supported API version is ..."): the
//! engine was replaced by one of another range since the negotiation.
bool is_api_version_refusal(const std::string& engine_message);

}  // namespace isb::docker
