// stdio_transport.cpp: the "mcp-stdio" transport plugin. Reads newline-
// delimited JSON-RPC from stdin, writes one JSON message per line to stdout,
// and nothing else: logs go through the host (stderr or files).
//
// Framing rules: a message ends at '\n'; a trailing '\r' is dropped (CRLF
// clients); empty lines are ignored; reads may split or join messages
// arbitrarily. A line longer than max_message_bytes is answered with -32700 and
// skipped. End of input ends serve() once the calls in flight have finished
// (they are cancelled first: nobody is left to read their results).
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <isb/sdk/plugin.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "json_rpc.hpp"
#include "mcp_session.hpp"

namespace json = boost::json;

namespace {

class StdioTransport : public isb::sdk::Transport {
 public:
  static isb::sdk::PluginInfo info() {
    return {"mcp-stdio",
            "MCP over stdio",
            "0.1.0",
            "Model Context Protocol server on stdin/stdout (newline-delimited JSON-RPC 2.0)",
            R"({"type":"object","additionalProperties":false,"properties":{
                 "max_message_bytes":{"type":"integer","minimum":1024,
                   "description":"Longest accepted message; longer lines get -32700. Default 64 MiB."},
                 "tools_page_size":{"type":"integer","minimum":1,
                   "description":"Tools per tools/list page; later pages via nextCursor. Default 100."}}})",
            ISB_CAP_THREAD_SAFE};
  }

  StdioTransport(isb::sdk::Host host, const std::string& config_json) : host_(host) {
    boost::system::error_code ec;
    json::value cfg = json::parse(config_json, ec);
    if (ec || !cfg.is_object()) throw isb::sdk::Error(ISB_INVALID_CONFIG, "config must be a JSON object");
    if (auto* m = cfg.as_object().if_contains("max_message_bytes")) {
      if (!m->is_int64() || m->as_int64() < 1024) {
        throw isb::sdk::Error(ISB_INVALID_CONFIG, "max_message_bytes must be an integer >= 1024");
      }
      max_message_bytes_ = static_cast<size_t>(m->as_int64());
    }
    if (auto* p = cfg.as_object().if_contains("tools_page_size")) {
      if (!p->is_int64() || p->as_int64() < 1) {
        throw isb::sdk::Error(ISB_INVALID_CONFIG, "tools_page_size must be an integer >= 1");
      }
      session_options_.tools_page_size = static_cast<size_t>(p->as_int64());
    }
    if (pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw isb::sdk::Error(ISB_UNAVAILABLE, std::string("pipe2: ") + std::strerror(errno));
    }
  }

  ~StdioTransport() override {
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  void serve() override {
    if (!host_.can_call_operations()) {
      throw isb::sdk::Error(ISB_NOT_SUPPORTED, "the host does not offer call_operation to transports");
    }
    isb::mcp::McpSession session(
        host_, "mcp-stdio", [this](const json::object& m) { write_message(m); }, session_options_);
    std::string pending;
    bool discarding = false;  // inside an over-long line, until its newline
    char buf[65536];
    for (;;) {
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      int n = poll(fds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        host_.error(std::string("poll: ") + std::strerror(errno));
        break;
      }
      if (fds[1].revents) break;  // stop()
      if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        host_.error(std::string("reading stdin: ") + std::strerror(errno));
        break;
      }
      if (got == 0) break;  // end of input: the client is gone
      size_t start = 0;
      for (size_t i = 0; i < static_cast<size_t>(got); ++i) {
        if (buf[i] != '\n') continue;
        if (!discarding) {
          pending.append(buf + start, i - start);
          deliver(session, pending);
        }
        pending.clear();
        discarding = false;
        start = i + 1;
      }
      if (!discarding) pending.append(buf + start, static_cast<size_t>(got) - start);
      if (!discarding && pending.size() > max_message_bytes_) {
        write_message(isb::mcp::make_error(nullptr, isb::mcp::kParseError,
                                           "Parse error: message longer than " +
                                               std::to_string(max_message_bytes_) +
                                               " bytes; it was skipped"));
        pending.clear();
        discarding = true;
      }
    }
    // A last message without a newline still counts.
    if (!discarding && !pending.empty()) deliver(session, pending);
    session.shutdown();
  }

  void stop() override {
    char c = 1;
    [[maybe_unused]] ssize_t ignored = write(stop_pipe_[1], &c, 1);
  }

 private:
  void deliver(isb::mcp::McpSession& session, std::string& line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) return;
    session.handle_text(line);
  }

  // One message per line; whole lines only, never interleaved.
  void write_message(const json::object& message) {
    std::string text = json::serialize(message);
    text.push_back('\n');
    std::lock_guard<std::mutex> lock(write_mu_);
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
      ssize_t w = write(STDOUT_FILENO, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        return;  // stdout closed: the client is gone, nothing left to tell it
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
  }

  isb::sdk::Host host_;
  size_t max_message_bytes_ = 64u << 20;
  isb::mcp::SessionOptions session_options_;
  int stop_pipe_[2] = {-1, -1};
  std::mutex write_mu_;
};

}  // namespace

ISB_PLUGIN(StdioTransport)
