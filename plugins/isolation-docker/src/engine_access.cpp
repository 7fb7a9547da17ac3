// engine_access.cpp: fixes for an engine this server cannot use as it is.
#include "engine_access.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <cerrno>

namespace json = boost::json;

namespace isb::docker {

namespace {

bool installed(const char* program) {
  for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/bin/", "/sbin/"}) {
    if (::access((std::string(dir) + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string user_name() {
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

}  // namespace

std::string engine_unreachable_fix(const std::string& host) {
  constexpr std::string_view kUnix = "unix://";
  if (host.rfind(kUnix, 0) != 0) return "";
  const std::string socket = host.substr(kUnix.size());
  const std::string start = "sudo systemctl start docker (without systemd: sudo service docker start)";
  struct stat st {};
  if (::stat(socket.c_str(), &st) != 0) {
    if (errno == EACCES) return "";  // a parent directory is closed to us: nothing standard to change
    if (!installed("dockerd"))
      return "install and start the engine: sudo apt-get install docker.io, then " + start;
    return "start the engine: " + start;
  }
  if (::access(socket.c_str(), R_OK | W_OK) != 0) {
    const group* g = ::getgrgid(st.st_gid);
    const std::string name = g ? g->gr_name : std::to_string(st.st_gid);
    return "give " + user_name() + " the engine's socket: sudo usermod -aG " + name + " " + user_name() +
           ", then log out and in again (members of " + name +
           " control the engine, which is root on this host)";
  }
  return "the socket " + socket + " is there but the engine does not answer: sudo systemctl restart docker";
}

void add_protection_fixes(json::array& protections) {
  for (auto& pv : protections) {
    if (!pv.is_object()) continue;
    json::object& p = pv.as_object();
    const json::value* on = p.if_contains("enforced");
    if (on && on->is_bool() && on->as_bool()) continue;
    const json::value* name = p.if_contains("name");
    if (!name || !name->is_string()) continue;
    if (name->as_string() == "user_namespace") {
      p["fix"] =
          "run the engine with userns-remap: add \"userns-remap\": \"default\" to /etc/docker/daemon.json, "
          "then "
          "sudo systemctl restart docker";
    } else if (name->as_string() == "cgroup_memory") {
      p["fix"] =
          "enable the memory cgroup controller: add cgroup_enable=memory to the kernel command line and "
          "reboot";
    }
  }
}

}  // namespace isb::docker
