// stdio_transport.cpp: the "mcp-stdio" transport plugin. Reads newline-
// delimited JSON-RPC from stdin, writes one JSON message per line to stdout,
// and nothing else: logs go through the host (stderr or files).
//
// Framing rules: a message ends at '\n'; a trailing '\r' is dropped (CRLF
// clients); empty lines are ignored; reads may split or join messages
// arbitrarily. A line longer than max_message_bytes is answered with -32700 and
// skipped. End of input ends serve() once the calls in flight have finished
// (they are cancelled first: nobody is left to read their results).
//
// Writes are combined: a thread with a message appends it to a buffer; the
// first one finding nobody writing flushes the buffer, and whatever other
// threads appended meanwhile, in one write(2). Under load (64 calls in flight)
// that is one system call for many messages; alone it is one per message.
// Messages are appended whole, so every line stays one message.
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
#include "session_config.hpp"

namespace json = boost::json;

namespace {

const std::string kConfigSchema = std::string(R"({"type":"object","additionalProperties":false,"properties":{
  "max_message_bytes":{"type":"integer","minimum":1024,
    "description":"Longest accepted message; longer lines get -32700. Default 64 MiB."},)") +
                                  isb::mcp::kSessionConfigProperties + "}}";

class StdioTransport : public isb::sdk::Transport {
 public:
  static isb::sdk::PluginInfo info() {
    return {"mcp-stdio",
            "MCP over stdio",
            "0.1.0",
            "Model Context Protocol server on stdin/stdout (newline-delimited JSON-RPC 2.0)",
            kConfigSchema.c_str(),
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
    session_options_ = isb::mcp::session_options_from(cfg.as_object());
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
        host_, "mcp-stdio", [this](isb::mcp::Outgoing m) { return write_message(std::move(m.text)); },
        session_options_);
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
        write_message(json::serialize(isb::mcp::make_error(nullptr, isb::mcp::kParseError,
                                                           "Parse error: message longer than " +
                                                               std::to_string(max_message_bytes_) +
                                                               " bytes; it was skipped")));
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

  // One message per line; whole lines only, never interleaved. Returns false
  // once stdout is closed (the client is gone, nothing left to tell it).
  bool write_message(std::string text) {
    std::unique_lock<std::mutex> lock(write_mu_);
    if (stdout_closed_) return false;
    pending_out_ += text;
    pending_out_.push_back('\n');
    if (flushing_) return true;  // the thread writing now takes this one too
    flushing_ = true;
    while (!pending_out_.empty() && !stdout_closed_) {
      std::string batch;
      batch.swap(pending_out_);
      lock.unlock();
      bool ok = write_all(batch);
      lock.lock();
      if (!ok) stdout_closed_ = true;
      // Keep the larger buffer for the next batch: no allocation per flush.
      if (pending_out_.empty() && batch.capacity() > pending_out_.capacity()) {
        batch.clear();
        pending_out_.swap(batch);
      }
    }
    flushing_ = false;
    return !stdout_closed_;
  }

  static bool write_all(const std::string& data) {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t w = write(STDOUT_FILENO, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    return true;
  }

  isb::sdk::Host host_;
  size_t max_message_bytes_ = 64u << 20;
  isb::mcp::SessionOptions session_options_;
  int stop_pipe_[2] = {-1, -1};
  std::mutex write_mu_;
  std::string pending_out_;  // lines waiting for the flushing thread
  bool flushing_ = false;    // a thread is writing pending_out_
  bool stdout_closed_ = false;
};

}  // namespace

ISB_PLUGIN(StdioTransport)
