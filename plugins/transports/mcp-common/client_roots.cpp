// client_roots.cpp: roots/list, its answers, and what calls carry to the core.
#include "client_roots.hpp"

#include <sys/stat.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

namespace json = boost::json;

namespace isb::mcp {

namespace {

// Server-to-client request ids of this file; the prefix keeps them apart
// from any other request the server may send.
constexpr std::string_view kIdPrefix = "isb-roots-";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> path_from_file_uri(std::string_view uri) {
  constexpr std::string_view kScheme = "file://";
  if (!starts_with_nocase(uri, kScheme)) return std::nullopt;
  std::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view authority = rest.substr(0, slash);
  // Only this machine: a root on another host is nothing the server can read.
  constexpr std::string_view kLocalhost = "localhost";
  if (!authority.empty() &&
      !(authority.size() == kLocalhost.size() && starts_with_nocase(authority, kLocalhost)))
    return std::nullopt;
  std::string_view encoded = rest.substr(slash);
  if (encoded.find_first_of("?#") != std::string_view::npos) return std::nullopt;
  std::string path;
  path.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      path.push_back(encoded[i]);
      continue;
    }
    if (i + 2 >= encoded.size()) return std::nullopt;
    int hi = hex_value(encoded[i + 1]), lo = hex_value(encoded[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
    path.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return path;
}

ClientRoots::ClientRoots(isb::sdk::Host host, std::string label, Send send,
                         std::chrono::milliseconds answer_bound)
    : host_(host), label_(std::move(label)), send_(std::move(send)), answer_bound_(answer_bound) {}

void ClientRoots::set_offered(bool offered) {
  std::lock_guard<std::mutex> lock(mu_);
  offered_ = offered;
}

json::object ClientRoots::next_request_locked() {
  ++generation_;
  pending_ = true;
  asked_at_ = std::chrono::steady_clock::now();
  return json::object{{"jsonrpc", "2.0"},
                      {"id", std::string(kIdPrefix) + std::to_string(generation_)},
                      {"method", "roots/list"}};
}

void ClientRoots::request() {
  json::object req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!offered_ || closed_) return;
    req = next_request_locked();
  }
  send_(req);
}

void ClientRoots::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  answered_.notify_all();
}

void ClientRoots::accept_roots(const json::object& result, std::vector<std::string>& dirs) const {
  const json::value* roots = result.if_contains("roots");
  if (!roots || !roots->is_array()) {
    host_.warn(label_ + ": the client's roots/list answer has no \"roots\" list; it offers no roots");
    return;
  }
  for (const auto& r : roots->as_array()) {
    const json::value* uri = r.is_object() ? r.as_object().if_contains("uri") : nullptr;
    if (!uri || !uri->is_string()) {
      host_.warn(label_ + ": client root " + json::serialize(r) + " ignored: it has no \"uri\" string");
      continue;
    }
    auto path = path_from_file_uri(uri->as_string());
    if (!path) {
      host_.warn(label_ + ": client root " + std::string(uri->as_string()) +
                 " ignored: not a file:// URI of this machine");
      continue;
    }
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      host_.warn(label_ + ": client root " + std::string(uri->as_string()) + " ignored: " + *path +
                 " is not a directory");
      continue;
    }
    dirs.push_back(std::move(*path));
  }
}

bool ClientRoots::on_response(const json::object& message) {
  const json::value* id = message.if_contains("id");
  if (!id || !id->is_string()) return false;
  std::string_view text = id->as_string();
  if (text.substr(0, kIdPrefix.size()) != kIdPrefix) return false;
  uint64_t generation = 0;
  std::string_view digits = text.substr(kIdPrefix.size());
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), generation);
  if (ec != std::errc() || end != digits.data() + digits.size()) return true;  // ours in form, never sent
  auto current = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return generation == generation_ && pending_;
  };
  if (!current()) return true;  // an answer that a newer request superseded

  std::vector<std::string> dirs;
  std::string error;
  if (const json::value* result = message.if_contains("result"); result && result->is_object()) {
    accept_roots(result->as_object(), dirs);
  } else if (const json::value* err = message.if_contains("error"); err && err->is_object()) {
    const json::object& e = err->as_object();
    const json::value* code = e.if_contains("code");
    const json::value* msg = e.if_contains("message");
    error = "the client answered roots/list with error " +
            (code ? json::serialize(*code) : std::string("?")) +
            (msg && msg->is_string() ? ": " + std::string(msg->as_string()) : std::string());
  } else {
    error = "the client's answer to roots/list has neither a result nor an error";
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) return true;
    directories_ = dirs;
    error_ = error;
    pending_ = false;
    answered_.notify_all();
  }
  if (!error.empty()) {
    host_.warn(label_ + ": " + error + "; every create_workspace is refused until it answers");
  } else {
    std::string list;
    for (const auto& d : dirs) list += (list.empty() ? "" : ", ") + d;
    host_.info(label_ + ": the client's roots are the allowed sources: " + (list.empty() ? "none" : list));
  }
  return true;
}

std::string ClientRoots::for_call() {
  std::optional<json::object> first;
  std::unique_lock<std::mutex> lock(mu_);
  if (!offered_) return "";
  // A client that calls before notifications/initialized is asked now.
  if (generation_ == 0 && !closed_) first = next_request_locked();
  if (first) {
    lock.unlock();
    send_(*first);
    lock.lock();
  }
  answered_.wait_until(lock, asked_at_ + answer_bound_, [this] { return !pending_ || closed_; });
  json::array roots;
  std::string error;
  if (pending_) {
    const auto ms = answer_bound_.count();
    error = closed_ ? "the session ended before the client answered roots/list"
                    : "the client did not answer roots/list within " +
                          (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms");
  } else if (!error_.empty()) {
    error = error_;
  } else {
    for (const auto& d : directories_) roots.emplace_back(d);
  }
  json::object doc{{"roots", std::move(roots)}};
  if (!error.empty()) doc["error"] = error;
  return json::serialize(doc);
}

}  // namespace isb::mcp
