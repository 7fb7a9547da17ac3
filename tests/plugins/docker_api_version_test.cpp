// docker_api_version_test: the docker backend's Engine API version selection
// (plugins/isolation-docker/src/api_version.hpp) on the GET /version answers
// of Docker 19.03, 20.10, 24, 27 and 29 recorded in tests/fixtures/docker-engine
// (its README names each file's source), and on answers no engine gives.
// The same selection against the real engine: isolation_docker_test.cpp
// (ProbeReportsEngineAndWhatItEnforces); through the plugin against engines of
// other ranges: isolation_docker_negotiation_test.cpp.
#include <gtest/gtest.h>

#include <fstream>
#include <isb/sdk/plugin.hpp>
#include <sstream>

#include "api_version.hpp"

namespace isb::docker {
namespace {

const char* const kHost = "unix:///var/run/docker.sock";

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(ISB_SOURCE_DIR) + "/tests/fixtures/docker-engine/" + name);
  EXPECT_TRUE(f) << "missing fixture " << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ApiVersion v(int minor) { return ApiVersion{1, minor}; }

//! The message of the sdk::Error that fn throws, "" when it throws none.
template <class Fn>
std::string refusal(Fn fn, isb_status expected = ISB_UNAVAILABLE) {
  try {
    fn();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.status(), expected) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an sdk::Error: " << e.what();
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Recorded {
  const char* file;
  const char* release;
  ApiVersion newest, oldest, selected;
};

// Docker 20.10 is this project's own engine (Debian 12); 29.0 is the first
// release that refuses 1.41-1.43; 29.3 and later accept 1.40 again and speak 1.54.
const Recorded kRecorded[] = {
    {"version-20.10.24.json", "20.10.24+dfsg1", v(41), v(12), v(41)},
    {"version-24.0.9.json", "24.0.9", v(43), v(12), v(43)},
    {"version-27.5.1.json", "27.5.1", v(47), v(24), v(47)},
    {"version-29.0.4.json", "29.0.4", v(52), v(44), v(52)},
    {"version-29.4.0.json", "29.4.0", v(54), v(40), v(54)},
};

TEST(DockerApiVersionSelection, ReadsReleaseAndRangeFromEachRecordedEngine) {
  for (const auto& r : kRecorded) {
    SCOPED_TRACE(r.file);
    EngineVersion e = parse_engine_version(fixture(r.file), kHost);
    EXPECT_EQ(e.version, r.release);
    EXPECT_EQ(e.api, r.newest);
    ASSERT_TRUE(e.min_api.has_value());
    EXPECT_EQ(*e.min_api, r.oldest);
  }
}

TEST(DockerApiVersionSelection, SpeaksTheNewestVersionBothSidesKnowToEachRecordedEngine) {
  for (const auto& r : kRecorded) {
    SCOPED_TRACE(r.file);
    ApiVersion chosen = select_api_version(parse_engine_version(fixture(r.file), kHost), std::nullopt, kHost);
    EXPECT_EQ(chosen, r.selected) << chosen.str();
  }
}

TEST(DockerApiVersionSelection, Docker29GetsAtLeast144WhichItRequires) {
  EngineVersion e = parse_engine_version(fixture("version-29.0.4.json"), kHost);
  ApiVersion chosen = select_api_version(e, std::nullopt, kHost);
  EXPECT_GE(chosen, v(44));
  EXPECT_GE(chosen, *e.min_api);
  EXPECT_LE(chosen, e.api);
}

TEST(DockerApiVersionSelection, EngineOlderThan2010IsRefusedSayingWhatEachSideSpeaksAndWhatToDo) {
  EngineVersion e = parse_engine_version(fixture("version-19.03.15.json"), kHost);
  std::string msg = refusal([&] { select_api_version(e, std::nullopt, kHost); });
  EXPECT_TRUE(has(msg, kHost)) << msg;
  EXPECT_TRUE(has(msg, "Docker 19.03.15")) << msg;
  EXPECT_TRUE(has(msg, "accepts Engine API 1.12 to 1.40")) << msg;
  EXPECT_TRUE(has(msg, "1.41 to 1.54")) << msg;
  EXPECT_TRUE(has(msg, "upgrade the engine to Docker 20.10 or later")) << msg;
}

TEST(DockerApiVersionSelection, EngineWhoseMinimumIsAboveTheNewestKnownIsRefusedWithTheWayOut) {
  // No engine does this yet: a future one that dropped every version this backend knows.
  EngineVersion e{"40.0.0", v(70), v(60), "linux/amd64"};
  std::string msg = refusal([&] { select_api_version(e, std::nullopt, kHost); });
  EXPECT_TRUE(has(msg, "(Docker 40.0.0) accepts Engine API 1.60 to 1.70")) << msg;
  EXPECT_TRUE(has(msg, "newest this backend speaks (it speaks 1.41 to 1.54)")) << msg;
  EXPECT_TRUE(has(msg, "update intelligent-sandbox")) << msg;
  EXPECT_TRUE(has(msg, "DOCKER_MIN_API_VERSION=1.54")) << msg;
}

TEST(DockerApiVersionSelection, NewerEngineIsSpokenToInTheNewestKnownVersion) {
  EngineVersion e{"31.0.0", v(60), v(44), "linux/amd64"};
  EXPECT_EQ(select_api_version(e, std::nullopt, kHost), kNewestApi);
  // Beyond 1.x too: only the range matters.
  EngineVersion two{"50.0.0", ApiVersion{2, 3}, v(50), "linux/amd64"};
  EXPECT_EQ(select_api_version(two, std::nullopt, kHost), kNewestApi);
}

TEST(DockerApiVersionSelection, SelectionLiesInBothRangesOrIsRefusedForEveryRange) {
  for (int lo = 12; lo <= 62; ++lo) {
    for (int hi = lo; hi <= 64; ++hi) {
      EngineVersion e{"x", v(hi), v(lo), ""};
      bool overlap = lo <= kNewestApi.minor && hi >= kOldestApi.minor;
      if (!overlap) {
        EXPECT_FALSE(refusal([&] { select_api_version(e, std::nullopt, kHost); }).empty()) << lo << "-" << hi;
        continue;
      }
      ApiVersion chosen = select_api_version(e, std::nullopt, kHost);
      EXPECT_EQ(chosen.minor, std::min(hi, kNewestApi.minor)) << lo << "-" << hi;
      EXPECT_GE(chosen, v(lo));
      EXPECT_GE(chosen, kOldestApi);
    }
  }
}

TEST(DockerApiVersionSelection, ConfiguredVersionIsUsedOnlyWhereBothSidesSpeakIt) {
  EngineVersion e29 = parse_engine_version(fixture("version-29.0.4.json"), kHost);
  EXPECT_EQ(select_api_version(e29, v(44), kHost), v(44));
  EXPECT_EQ(select_api_version(e29, v(52), kHost), v(52));
  // The version this backend used to pin: Docker 29.0 refuses it.
  std::string msg = refusal([&] { select_api_version(e29, v(41), kHost); });
  EXPECT_TRUE(has(msg, "api_version 1.41 is refused")) << msg;
  EXPECT_TRUE(has(msg, "accepts Engine API 1.44 to 1.52")) << msg;
  EXPECT_TRUE(has(msg, "remove api_version")) << msg;
  EXPECT_TRUE(has(refusal([&] { select_api_version(e29, v(53), kHost); }), "1.44 to 1.52"));

  EngineVersion e20 = parse_engine_version(fixture("version-20.10.24.json"), kHost);
  EXPECT_TRUE(
      has(refusal([&] { select_api_version(e20, v(44), kHost); }), "accepts Engine API 1.12 to 1.41"));
  // Outside what the backend knows, whatever the engine accepts.
  EngineVersion wide{"x", v(60), v(12), ""};
  EXPECT_TRUE(
      has(refusal([&] { select_api_version(wide, v(40), kHost); }), "outside what this backend speaks"));
  EXPECT_TRUE(
      has(refusal([&] { select_api_version(wide, v(55), kHost); }), "outside what this backend speaks"));
}

TEST(DockerApiVersionSelection, ReadsTheEngineComponentWhenTheTopLevelFieldsAreLeftOut) {
  // The top-level fields are kept "for older clients" (daemon/info.go); the
  // Engine component carries the same.
  std::string body = R"({"Platform":{"Name":""},"Components":[
      {"Name":"containerd","Version":"v2.1.5","Details":{"ApiVersion":"9.9"}},
      {"Name":"Engine","Version":"29.0.4","Details":{"ApiVersion":"1.52","MinAPIVersion":"1.44","Os":"linux"}}]})";
  EngineVersion e = parse_engine_version(body, kHost);
  EXPECT_EQ(e.version, "29.0.4");
  EXPECT_EQ(e.api, v(52));
  EXPECT_EQ(*e.min_api, v(44));
}

TEST(DockerApiVersionSelection, AnEngineWithoutMinAPIVersionIsTakenAtItsNewest) {
  EngineVersion e = parse_engine_version(R"({"Version":"20.10.0","ApiVersion":"1.41"})", kHost);
  EXPECT_FALSE(e.min_api.has_value());
  EXPECT_EQ(select_api_version(e, std::nullopt, kHost), v(41));
}

TEST(DockerApiVersionSelection, AnswersThatAreNoEnginesVersionAreRefusedNamingTheHost) {
  for (const char* body : {"not json", "[]", "{}", R"({"message":"page not found"})",
                           R"({"ApiVersion":"v1.44"})", R"({"ApiVersion":"1.44.0"})",
                           R"({"ApiVersion":1.44})", R"({"ApiVersion":"1.44","MinAPIVersion":"1.50"})",
                           R"({"ApiVersion":"1.44","MinAPIVersion":"latest"})"}) {
    SCOPED_TRACE(body);
    std::string msg = refusal([&] { parse_engine_version(body, kHost); });
    EXPECT_TRUE(has(msg, kHost)) << msg;
  }
}

TEST(DockerApiVersionSelection, VersionsCompareAsNumbersNotText) {
  EXPECT_LT(v(9), v(10));
  EXPECT_LT(v(44), v(100));
  EXPECT_LT(v(99), (ApiVersion{2, 0}));
  EXPECT_EQ(ApiVersion::parse("1.44"), v(44));
  EXPECT_EQ(ApiVersion::parse("1.100"), v(100));
  for (const char* bad : {"", "1", "1.", ".44", "v1.44", "1.44.0", "1.4x", "1,44", " 1.44", "1.-4"}) {
    EXPECT_FALSE(ApiVersion::parse(bad).has_value()) << bad;
  }
  EXPECT_EQ(v(41).str(), "1.41");
}

TEST(DockerApiVersionSelection, RecognisesTheEnginesRefusalOfAVersion) {
  // The engine's own words (daemon/server/middleware/version.go, the same since Docker 17.06).
  EXPECT_TRUE(
      is_api_version_refusal("client version 1.41 is too old. Minimum supported API version is 1.44, please "
                             "upgrade your client to a "
                             "newer version"));
  EXPECT_TRUE(
      is_api_version_refusal("client version 1.54 is too new. Maximum supported API version is 1.41"));
  EXPECT_FALSE(is_api_version_refusal("No such container: abc"));
  EXPECT_FALSE(is_api_version_refusal("invalid client version"));
}

TEST(DockerApiVersionSelection, NetworkCreateCarriesCheckDuplicateOnlyBefore144) {
  EXPECT_TRUE(network_create_takes_check_duplicate(v(41)));
  EXPECT_TRUE(network_create_takes_check_duplicate(v(43)));
  EXPECT_FALSE(network_create_takes_check_duplicate(v(44)));
  EXPECT_FALSE(network_create_takes_check_duplicate(kNewestApi));
}

}  // namespace
}  // namespace isb::docker
