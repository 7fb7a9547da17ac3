// event_forwarder.cpp: operation events -> MCP notifications.
#include "event_forwarder.hpp"

#include <boost/json/parse.hpp>

#include "json_rpc.hpp"
#include "mcp_session.hpp"

namespace json = boost::json;

namespace isb::mcp {

EventForwarder::EventForwarder(const std::atomic<int>& min_log_rank,
                               std::optional<json::value> progress_token, std::string task_id, Send send)
    : min_log_rank_(min_log_rank),
      progress_token_(std::move(progress_token)),
      task_id_(std::move(task_id)),
      send_(std::move(send)) {}

std::string EventForwarder::last_progress_message() const {
  std::lock_guard<std::mutex> lock(message_mu_);
  return last_message_;
}

void EventForwarder::send(const std::string& method, json::object params) {
  if (!task_id_.empty()) {
    params["_meta"] = json::object{{kRelatedTaskMeta, json::object{{"taskId", task_id_}}}};
  }
  send_(make_notification(method, std::move(params)));
}

void EventForwarder::operator()(std::string_view event_json) {
  boost::system::error_code ec;
  json::value e = json::parse(event_json, ec);
  if (ec || !e.is_object()) return;
  const json::object& ev = e.as_object();
  auto* type = ev.if_contains("type");
  if (!type || !type->is_string()) return;
  if (type->as_string() == "output") {
    // Command output as log messages: stdout is info, stderr a warning.
    auto* stream = ev.if_contains("stream");
    auto* data = ev.if_contains("data");
    if (!data || !data->is_string()) return;
    bool is_stderr = stream && stream->is_string() && stream->as_string() == "stderr";
    int rank = log_level_rank(is_stderr ? "warning" : "info");
    if (rank < min_log_rank_.load()) return;
    send("notifications/message",
         json::object{{"level", is_stderr ? "warning" : "info"},
                      {"logger", "execution"},
                      {"data", json::object{{"stream", is_stderr ? "stderr" : "stdout"}, {"text", *data}}}});
    return;
  }
  if (type->as_string() != "progress") return;
  auto* m = ev.if_contains("message");
  if (m && m->is_string()) {
    std::lock_guard<std::mutex> lock(message_mu_);
    last_message_ = std::string(m->as_string());
  }
  if (!progress_token_) return;
  double p =
      ev.contains("progress") && ev.at("progress").is_number() ? ev.at("progress").to_number<double>() : 0;
  // Progress must increase with every notification.
  if (p <= last_progress_) p = last_progress_ + 0.001;
  last_progress_ = p;
  json::object n{{"progressToken", *progress_token_}, {"progress", p}};
  if (auto* t = ev.if_contains("total"); t && t->is_number()) n["total"] = *t;
  if (m && m->is_string()) n["message"] = *m;
  send("notifications/progress", std::move(n));
}

}  // namespace isb::mcp
