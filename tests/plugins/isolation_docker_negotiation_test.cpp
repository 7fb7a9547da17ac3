// isolation_docker_negotiation_test: the docker backend, loaded across the C
// ABI, against engines of other API ranges than the one on this machine
// (Docker 20.10, API 1.41): a stand-in engine on a Unix socket answers
// GET /version with a recorded answer (tests/fixtures/docker-engine), refuses
// every request of a version outside that answer's range with the real
// engine's words, as Docker's version middleware does, and records what it is
// sent. It runs no containers: it checks which version each request carries
// and the version-dependent parts of the bodies. The real engine is driven in
// isolation_docker_test.cpp; the selection itself is unit-tested in
// docker_api_version_test.cpp.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "plugin_loader.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(ISB_SOURCE_DIR) + "/tests/fixtures/docker-engine/" + name);
  EXPECT_TRUE(f) << "missing fixture " << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

//! "1.44" -> 44 (every version here is 1.x); -1 when it is not one.
int minor_of(const std::string& v) {
  if (v.rfind("1.", 0) != 0 || v.size() < 3 || v.find_first_not_of("0123456789", 2) != std::string::npos)
    return -1;
  return std::stoi(v.substr(2));
}

//! A stand-in for dockerd on a Unix socket: GET /version answers the
//! configured document, versioned requests outside its range get the
//! engine's 400, a few endpoints answer, everything is recorded. One
//! connection at a time, as the backend's client opens one per request.
class FakeEngine {
 public:
  struct Request {
    std::string method, target, body;
  };

  explicit FakeEngine(const fs::path& dir) : socket_path_((dir / "docker.sock").string()) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    EXPECT_LT(socket_path_.size(), sizeof addr.sun_path) << socket_path_;
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path_.c_str());
    ::unlink(socket_path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "cannot listen on " << socket_path_;
    }
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeEngine() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    ::unlink(socket_path_.c_str());
  }

  std::string host() const { return "unix://" + socket_path_; }

  //! The /version document from now on (an engine replaced under the server).
  void set_version(const std::string& doc) {
    json::object o = json::parse(doc).as_object();
    std::lock_guard<std::mutex> lock(mu_);
    version_doc_ = doc;
    max_ = minor_of(std::string(o.at("ApiVersion").as_string()));
    min_ = minor_of(std::string(o.at("MinAPIVersion").as_string()));
    release_ = std::string(o.at("Version").as_string());
  }

  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.clear();
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handle(c);
      ::close(c);
    }
  }

  void handle(int c) {
    std::string in;
    char buf[65536];
    size_t header_end = std::string::npos;
    while (header_end == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      header_end = in.find("\r\n\r\n");
    }
    std::string head = in.substr(0, header_end);
    size_t length = 0;
    std::istringstream lines(head);
    std::string line;
    Request r;
    std::getline(lines, line);
    std::istringstream first(line);
    first >> r.method >> r.target;
    while (std::getline(lines, line)) {
      std::string lower;
      for (char ch : line) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower.rfind("content-length:", 0) == 0) length = std::stoul(line.substr(15));
    }
    r.body = in.substr(header_end + 4);
    while (r.body.size() < length) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      r.body.append(buf, static_cast<size_t>(n));
    }
    auto [status, body] = route(r);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
    }
    std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
                      "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                      body;
    for (size_t off = 0; off < out.size();) {
      ssize_t n = ::write(c, out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }

  static std::string message(const std::string& m) { return json::serialize(json::object{{"message", m}}); }

  std::pair<int, std::string> route(const Request& r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (r.method == "GET" && r.target == "/version") return {200, version_doc_};
    // A real engine would take an unversioned path at its own newest version:
    // refused here, so that a request the client forgot to version shows up.
    if (r.target.rfind("/v", 0) != 0) return {400, message("fake engine: unversioned request " + r.target)};
    size_t slash = r.target.find('/', 2);
    std::string version = r.target.substr(2, slash - 2);
    std::string path = slash == std::string::npos ? "" : r.target.substr(slash);
    int minor = minor_of(version);
    if (minor < min_) {
      return {400, message("client version " + version + " is too old. Minimum supported API version is 1." +
                           std::to_string(min_) + ", please upgrade your client to a newer version")};
    }
    if (minor > max_) {
      return {400, message("client version " + version + " is too new. Maximum supported API version is 1." +
                           std::to_string(max_))};
    }
    if (r.method == "GET" && path == "/info") {
      return {200, json::serialize(json::object{
                       {"ID", "fake"},
                       {"ServerVersion", release_},
                       {"OperatingSystem", "a stand-in engine of the negotiation test"},
                       {"KernelVersion", "6.1.0"},
                       {"CgroupVersion", "2"},
                       {"CgroupDriver", "systemd"},
                       {"SecurityOptions", json::array{"name=seccomp,profile=builtin", "name=cgroupns"}},
                       {"MemoryLimit", true},
                       {"SwapLimit", true},
                       {"PidsLimit", true},
                       {"CpuCfsQuota", true}})};
    }
    if (r.method == "GET" && (path.rfind("/containers/json", 0) == 0 || path.rfind("/networks?", 0) == 0))
      return {200, "[]"};
    if (r.method == "POST" && path == "/networks/create") return {201, R"({"Id":"4a1b2c3d","Warning":""})"};
    if (r.method == "DELETE" && path.rfind("/networks/", 0) == 0) return {204, ""};
    if (r.method == "POST" && path == "/containers/create")
      return {500, message("fake engine: this stand-in runs no containers")};
    return {404, message("fake engine: no route for " + r.method + " " + path)};
  }

  std::string socket_path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string version_doc_;  // guarded by mu_, as are the members below
  std::string release_;
  int min_ = 0, max_ = 0;
  std::vector<Request> requests_;
};

class DockerNegotiationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: a Unix socket path has room for 107 bytes.
    static int n = 0;
    dir_ = fs::temp_directory_path() / ("isb-nego-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "ws");
    engine_ = std::make_unique<FakeEngine>(dir_);
    api_ = plugin_.api<isb_isolation_api>();
  }
  void TearDown() override {
    if (inst_) plugin_.descriptor()->destroy(inst_);
    engine_.reset();
    fs::remove_all(dir_);
  }

  //! An instance speaking to the stand-in engine; extra: more config members.
  void start(const std::string& extra = "") {
    inst_ = plugin_.create(R"({"host":")" + engine_->host() +
                           R"(","instance_id":"isb-nego","exec_path":"exec_api")" + extra + "}");
    ASSERT_NE(inst_, nullptr);
  }

  json::object probe() {
    auto [s, doc] = TestPlugin::call_json([&](const isb_json_out* o) { return api_->probe(inst_, o); });
    EXPECT_EQ(s, ISB_OK) << plugin_.descriptor()->last_error(inst_);
    return json::parse(doc).as_object();
  }

  isb_status reconcile() {
    return TestPlugin::call_json([&](const isb_json_out* o) { return api_->reconcile(inst_, "[]", o); })
        .first;
  }

  //! sandbox_create with egress: the network is made, then the stand-in refuses the container.
  isb_status create_with_egress() {
    json::object spec{{"workspace_id", "w"},
                      {"workspace_path", (dir_ / "ws").string()},
                      {"image", "isb-test:latest"},
                      {"network", "egress"}};
    return TestPlugin::call_json([&](const isb_json_out* o) {
             return api_->sandbox_create(inst_, json::serialize(spec).c_str(), o);
           })
        .first;
  }

  std::string last_error() { return plugin_.descriptor()->last_error(inst_); }

  TestPlugin plugin_{"libisb-isolation-docker.so"};
  const isb_isolation_api* api_ = nullptr;
  isb_instance* inst_ = nullptr;
  fs::path dir_;
  std::unique_ptr<FakeEngine> engine_;
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Case {
  const char* file;
  const char* release;
  const char* engine_api;
  const char* engine_min;
  const char* negotiated;
};

TEST_F(DockerNegotiationTest, EveryRequestToEachRecordedEngineCarriesTheNegotiatedVersion) {
  const Case cases[] = {
      {"version-20.10.24.json", "20.10.24+dfsg1", "1.41", "1.12", "1.41"},
      {"version-24.0.9.json", "24.0.9", "1.43", "1.12", "1.43"},
      {"version-27.5.1.json", "27.5.1", "1.47", "1.24", "1.47"},
      {"version-29.0.4.json", "29.0.4", "1.52", "1.44", "1.52"},
      {"version-29.4.0.json", "29.4.0", "1.54", "1.40", "1.54"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    engine_->set_version(fixture(c.file));
    engine_->clear();
    start();
    json::object p = probe();
    ASSERT_TRUE(p.at("available").as_bool()) << json::serialize(p);
    const json::object& e = p.at("engine").as_object();
    EXPECT_EQ(e.at("version").as_string(), c.release);
    EXPECT_EQ(e.at("api_version").as_string(), c.negotiated);
    EXPECT_EQ(e.at("api_version_source").as_string(), "negotiated");
    EXPECT_EQ(e.at("engine_api_version").as_string(), c.engine_api);
    EXPECT_EQ(e.at("engine_min_api_version").as_string(), c.engine_min);
    EXPECT_EQ(e.at("supported_api_versions").at("oldest").as_string(), "1.41");
    EXPECT_EQ(e.at("supported_api_versions").at("newest").as_string(), "1.54");
    EXPECT_EQ(reconcile(), ISB_OK) << last_error();
    EXPECT_EQ(create_with_egress(), ISB_ERROR);
    EXPECT_TRUE(has(last_error(), "runs no containers")) << last_error();

    std::vector<FakeEngine::Request> seen = engine_->requests();
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front().target, "/version");  // unversioned, once
    const std::string prefix = std::string("/v") + c.negotiated + "/";
    bool network_created = false, container_created = false;
    for (size_t i = 1; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i].target.rfind(prefix, 0), 0u) << seen[i].method << " " << seen[i].target;
      if (seen[i].target == prefix + "networks/create") {
        network_created = true;
        json::object body = json::parse(seen[i].body).as_object();
        // Sent below 1.44 only: from 1.44 a duplicate name always fails and the field is deprecated.
        EXPECT_EQ(body.contains("CheckDuplicate"), minor_of(c.negotiated) < 44) << seen[i].body;
      }
      if (seen[i].target == prefix + "containers/create") {
        container_created = true;
        json::object body = json::parse(seen[i].body).as_object();
        // Docker 29 (1.52) refuses a container-wide MacAddress; none is sent at any version.
        EXPECT_FALSE(body.contains("MacAddress"));
        EXPECT_EQ(body.at("HostConfig").at("NetworkMode").as_string().rfind("isb-isb-nego-", 0), 0u);
        EXPECT_EQ(body.at("HostConfig").at("CapDrop").at(0).as_string(), "ALL");
      }
    }
    EXPECT_TRUE(network_created);
    EXPECT_TRUE(container_created);
    plugin_.descriptor()->destroy(inst_);
    inst_ = nullptr;
  }
}

TEST_F(DockerNegotiationTest, Docker29RefusesTheFormerlyPinnedVersionSoAConfiguredOneIsRefusedUpFront) {
  engine_->set_version(fixture("version-29.0.4.json"));
  start(R"(,"api_version":"1.41")");
  json::object p = probe();
  EXPECT_FALSE(p.at("available").as_bool());
  std::string error(p.at("error").as_string());
  EXPECT_TRUE(has(error, "api_version 1.41 is refused")) << error;
  EXPECT_TRUE(has(error, "(Docker 29.0.4) accepts Engine API 1.44 to 1.52")) << error;
  EXPECT_TRUE(has(error, "remove api_version")) << error;
  // The probe still says what the engine offers.
  const json::object& e = p.at("engine").as_object();
  EXPECT_EQ(e.at("version").as_string(), "29.0.4");
  EXPECT_EQ(e.at("engine_min_api_version").as_string(), "1.44");
  EXPECT_FALSE(e.contains("api_version"));
  for (const auto& r : engine_->requests()) EXPECT_EQ(r.target, "/version") << "a versioned request was sent";

  EXPECT_EQ(create_with_egress(), ISB_UNAVAILABLE);
  EXPECT_TRUE(has(last_error(), "api_version 1.41 is refused")) << last_error();
}

TEST_F(DockerNegotiationTest, ConfiguredVersionInsideBothRangesIsSpokenAndSaidToBeConfigured) {
  engine_->set_version(fixture("version-29.0.4.json"));
  start(R"(,"api_version":"1.44")");
  json::object p = probe();
  ASSERT_TRUE(p.at("available").as_bool()) << json::serialize(p);
  EXPECT_EQ(p.at("engine").at("api_version").as_string(), "1.44");
  EXPECT_EQ(p.at("engine").at("api_version_source").as_string(), "configured (api_version)");
  for (const auto& r : engine_->requests()) {
    if (r.target != "/version") {
      EXPECT_EQ(r.target.rfind("/v1.44/", 0), 0u) << r.target;
    }
  }
}

TEST_F(DockerNegotiationTest, EngineOlderThanDocker2010IsUnavailableSayingWhatToDo) {
  engine_->set_version(fixture("version-19.03.15.json"));
  start();
  json::object p = probe();
  EXPECT_FALSE(p.at("available").as_bool());
  std::string error(p.at("error").as_string());
  EXPECT_TRUE(has(error, engine_->host())) << error;
  EXPECT_TRUE(has(error, "accepts Engine API 1.12 to 1.40")) << error;
  EXPECT_TRUE(has(error, "upgrade the engine to Docker 20.10 or later")) << error;
  for (const auto& e : p.at("protections").as_array()) EXPECT_FALSE(e.at("enforced").as_bool());
  EXPECT_EQ(create_with_egress(), ISB_UNAVAILABLE);
  EXPECT_TRUE(has(last_error(), "upgrade the engine")) << last_error();
}

TEST_F(DockerNegotiationTest, EngineReplacedUnderTheServerFailsOneCallClearlyThenIsNegotiatedAgain) {
  engine_->set_version(fixture("version-20.10.24.json"));
  start();
  ASSERT_EQ(probe().at("engine").at("api_version").as_string(), "1.41");
  // The host upgrades Docker 20.10 to 29.0 while the server runs.
  engine_->set_version(fixture("version-29.0.4.json"));
  engine_->clear();
  EXPECT_EQ(reconcile(), ISB_UNAVAILABLE);
  std::string msg = last_error();
  EXPECT_TRUE(has(msg, "client version 1.41 is too old")) << msg;
  EXPECT_TRUE(has(msg, "not the engine the API version was negotiated with (Docker 20.10.24+dfsg1")) << msg;
  EXPECT_TRUE(has(msg, "negotiates the version again")) << msg;
  // The next call asks /version again and speaks 1.52 from then on.
  EXPECT_EQ(reconcile(), ISB_OK) << last_error();
  json::object p = probe();
  EXPECT_EQ(p.at("engine").at("api_version").as_string(), "1.52");
  EXPECT_EQ(p.at("engine").at("version").as_string(), "29.0.4");
  std::vector<FakeEngine::Request> seen = engine_->requests();
  size_t renegotiated = 0;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i].target == "/version") {
      renegotiated = i;
      break;
    }
  }
  ASSERT_GT(renegotiated, 0u);
  for (size_t i = renegotiated + 1; i < seen.size(); ++i) EXPECT_EQ(seen[i].target.rfind("/v1.52/", 0), 0u);
}

TEST_F(DockerNegotiationTest, ConfiguredVersionOutsideWhatTheBackendKnowsIsRefusedAtCreate) {
  isb_instance* other = nullptr;
  for (const char* bad : {"1.40", "1.55", "1.100", "2.0", "latest"}) {
    std::string config = R"({"host":")" + engine_->host() + R"(","api_version":")" + bad + R"("})";
    EXPECT_EQ(plugin_.descriptor()->create(nullptr, config.c_str(), &other), ISB_INVALID_CONFIG) << bad;
    std::string msg = plugin_.descriptor()->last_error(nullptr);
    EXPECT_TRUE(has(msg, "api_version")) << msg;
  }
  EXPECT_EQ(plugin_.descriptor()->create(nullptr, R"({"api_version":"1.55"})", &other), ISB_INVALID_CONFIG);
  EXPECT_TRUE(
      has(plugin_.descriptor()->last_error(nullptr), "newer than 1.54, the newest this backend speaks"));
  EXPECT_EQ(plugin_.descriptor()->create(nullptr, R"({"api_version":"1.40"})", &other), ISB_INVALID_CONFIG);
  EXPECT_TRUE(
      has(plugin_.descriptor()->last_error(nullptr), "older than 1.41, the oldest this backend speaks"));
}

}  // namespace
