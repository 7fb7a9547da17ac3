// credentials.cpp: the credential names kept out of workspaces.
#include "workspaces/credentials.hpp"

#include <set>

namespace isb::workspaces {

bool is_credential(const std::string& rel) {
  static const std::set<std::string> kNames = {".ssh", ".gnupg", ".aws", ".netrc", ".git-credentials", ".pgpass"};
  auto slash = rel.rfind('/');
  const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  if (kNames.count(name)) return true;
  if (name == "config.json") {
    const std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
    auto ps = parent.rfind('/');
    return (ps == std::string::npos ? parent : parent.substr(ps + 1)) == ".docker";
  }
  return false;
}

bool is_within_credential(const std::string& rel) {
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    if (is_credential(rel.substr(0, slash))) return true;
  }
  return is_credential(rel);
}

}  // namespace isb::workspaces
