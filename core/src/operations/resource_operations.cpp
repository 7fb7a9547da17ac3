// resource_operations.cpp: list_resources and read_resource, the operations
// behind MCP resources (the transports map resources/list,
// resources/templates/list and resources/read onto them), and the
// resource_links that execution results carry for output they show only in
// part. Two kinds of resource, each named by a URI:
//
//   sandbox://executions/{execution_id}/steps/{step_id}/{stdout|stderr}
//       the full log of one stream of one step, read from its log file;
//   sandbox://workspaces/{workspace_id}/files/{+path}
//       a file of an active workspace, read through file_tools::read_file,
//       so it is confined exactly like the read_file tool.
//
// resources/list names the step logs of the newest executions of each active
// workspace (files are many and change constantly: they are reached through
// the template, or found with list_files). URI segments are percent-encoded
// (RFC 3986); path may contain '/'.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <isb/core/file_tools.hpp>
#include <string_view>

#include "operations/operations.hpp"

namespace isb::operations {

namespace {

namespace json = boost::json;

constexpr std::string_view kScheme = "sandbox://";
constexpr std::string_view kExecutionsPrefix = "sandbox://executions/";
constexpr std::string_view kWorkspacesPrefix = "sandbox://workspaces/";
constexpr std::string_view kCursorPrefix = "resources-offset:";
// Executions per workspace that resources/list looks at (newest first).
constexpr int64_t kExecutionsListed = 50;
// A workspace file read as one resource; larger ones are read with read_file.
constexpr int64_t kMaxFileResourceBytes = 8 << 20;
// Slices of a log file read in one get_execution_log-sized step.
constexpr int64_t kLogSlice = 1 << 20;

const char* const kTemplates = R"([
  {"uriTemplate":"sandbox://executions/{execution_id}/steps/{step_id}/{stream}","name":"step-log",
   "title":"Step log","mimeType":"text/plain",
   "description":"The full stdout or stderr (stream) of one step of an execution, as recorded in its log file (capped at performance.max_output_bytes, with a note when output was dropped). Ids come from execute_task_plan, exec_command and get_execution_history."},
  {"uriTemplate":"sandbox://workspaces/{workspace_id}/files/{+path}","name":"workspace-file",
   "title":"Workspace file",
   "description":"A file of an active workspace, path relative to its root: text, or a base64 blob for binary files, up to 8 MiB (read larger ones with read_file). Confined to the workspace like read_file."}])";

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Percent-encodes one URI segment; keep_slash for the {+path} expansion.
std::string encode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (unreserved(static_cast<char>(c)) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<std::string> decode(std::string_view s, std::string_view what) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = i + 2 < s.size() ? hex(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(what) + ": '%' must be followed by two hex digits (percent-encoding)");
    }
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return make_error(ErrorCode::kInvalidArgument, std::string(what) + " contains %00");
    out.push_back(c);
    i += 2;
  }
  return out;
}

std::string log_uri(const std::string& execution_id, const std::string& step_id, const std::string& stream) {
  return std::string(kExecutionsPrefix) + encode(execution_id, false) + "/steps/" + encode(step_id, false) +
         "/" + stream;
}

Result<json::value> not_found(const std::string& uri, const std::string& why) {
  return make_error(ErrorCode::kNotFound, uri + ": " + why);
}

// sandbox://executions/{execution_id}/steps/{step_id}/{stream}
Result<json::value> read_step_log(ExecutionService& ex, const std::string& uri) {
  std::string_view rest = std::string_view(uri).substr(kExecutionsPrefix.size());
  size_t a = rest.find('/');
  if (a == std::string_view::npos || rest.substr(a, 7) != "/steps/") {
    return not_found(uri,
                     "a step log URI is sandbox://executions/{execution_id}/steps/{step_id}/{stdout|stderr}");
  }
  std::string_view tail = rest.substr(a + 7);
  size_t b = tail.find('/');
  if (a == 0 || b == std::string_view::npos || b == 0) {
    return not_found(uri,
                     "a step log URI is sandbox://executions/{execution_id}/steps/{step_id}/{stdout|stderr}");
  }
  std::string_view stream = tail.substr(b + 1);
  if (stream != "stdout" && stream != "stderr") {
    return not_found(uri, "the last segment must be stdout or stderr");
  }
  auto execution_id = decode(rest.substr(0, a), "execution_id");
  if (!execution_id) return execution_id.error();
  auto step_id = decode(tail.substr(0, b), "step_id");
  if (!step_id) return step_id.error();
  std::string text;
  for (int64_t offset = 0;;) {
    auto slice = ex.log(*execution_id, *step_id, std::string(stream), offset, kLogSlice);
    if (!slice) {
      if (slice.error().code == ErrorCode::kNotFound) return not_found(uri, slice.error().message);
      return slice.error();
    }
    text += slice->at("data").as_string();
    int64_t next = slice->at("next_offset").as_int64();
    if (slice->at("eof").as_bool() || next <= offset) break;
    offset = next;
  }
  return json::value(json::object{
      {"contents",
       json::array{json::object{{"uri", uri}, {"mimeType", "text/plain"}, {"text", std::move(text)}}}}});
}

// sandbox://workspaces/{workspace_id}/files/{+path}
Result<json::value> read_workspace_file(WorkspaceService& ws, const std::string& uri) {
  std::string_view rest = std::string_view(uri).substr(kWorkspacesPrefix.size());
  size_t a = rest.find('/');
  if (a == std::string_view::npos || a == 0 || rest.substr(a, 7) != "/files/") {
    return not_found(uri, "a workspace file URI is sandbox://workspaces/{workspace_id}/files/{path}");
  }
  auto workspace_id = decode(rest.substr(0, a), "workspace_id");
  if (!workspace_id) return workspace_id.error();
  auto path = decode(rest.substr(a + 7), "path");
  if (!path) return path.error();
  if (path->empty()) return not_found(uri, "the URI names no file after /files/");
  auto w = ws.use(*workspace_id);
  if (!w) {
    if (w.error().code == ErrorCode::kNotFound) return not_found(uri, w.error().message);
    return w.error();
  }
  file_tools::Caps caps;
  caps.max_read_bytes = kMaxFileResourceBytes;
  auto r = file_tools::read_file(w->path, {.path = *path, .offset = 0, .limit = -1}, caps);
  if (!r) {
    if (r.error().code == ErrorCode::kNotFound) return not_found(uri, r.error().message);
    return r.error();
  }
  if (!r->at("eof").as_bool()) {
    return make_error(
        ErrorCode::kResourceExhausted,
        uri + ": the file has " + json::serialize(r->at("size")) +
            " bytes, more than a resource carries (8 MiB); read it in slices with read_file(offset, "
            "limit)");
  }
  bool text = r->at("encoding").as_string() == "utf-8";
  json::object content{{"uri", uri}, {"mimeType", text ? "text/plain" : "application/octet-stream"}};
  content[text ? "text" : "blob"] = r->at("content");
  return json::value(json::object{{"contents", json::array{std::move(content)}}});
}

Result<json::value> read_resource(const Services& s, const std::string& uri) {
  if (uri.rfind(kExecutionsPrefix, 0) == 0) return read_step_log(*s.executions, uri);
  if (uri.rfind(kWorkspacesPrefix, 0) == 0) return read_workspace_file(*s.workspaces, uri);
  return not_found(uri,
                   uri.rfind(kScheme, 0) == 0
                       ? "no such resource; resources/templates/list shows the URI forms this server serves"
                       : "this server serves only sandbox:// URIs (see resources/templates/list)");
}

// The step logs of the newest executions of each active workspace.
Result<json::array> all_resources(const Services& s) {
  auto listed = s.workspaces->list();
  if (!listed) return listed.error();
  json::array out;
  for (const auto& wv : listed->at("workspaces").as_array()) {
    const auto* id = wv.as_object().if_contains("workspace_id");
    if (!id || !id->is_string()) continue;
    ExecutionService::HistoryQuery q;
    q.workspace_id = std::string(id->as_string());
    q.limit = kExecutionsListed;
    auto h = s.executions->history(q);
    if (!h) continue;  // a workspace destroyed meanwhile has nothing to list
    for (const auto& ev : h->at("executions").as_array()) {
      const json::object& e = ev.as_object();
      std::string eid(e.at("execution_id").as_string());
      for (const auto& stv : e.at("steps").as_array()) {
        const json::object& st = stv.as_object();
        const auto* logs = st.if_contains("logs");
        if (!logs || !logs->is_object()) continue;  // skipped steps have none
        std::string sid(st.at("step_id").as_string());
        for (const char* stream : {"stdout", "stderr"}) {
          const auto* l = logs->as_object().if_contains(stream);
          if (!l || !l->is_object()) continue;
          json::object r{{"uri", log_uri(eid, sid, stream)},
                         {"name", eid + "/" + sid + "/" + stream},
                         {"title", std::string(stream) + " of step " + sid + " of " + eid},
                         {"mimeType", "text/plain"}};
          if (const auto* b = l->as_object().if_contains("bytes"); b && b->is_int64()) r["size"] = *b;
          out.push_back(std::move(r));
        }
      }
    }
  }
  return out;
}

Result<json::value> list_resources(const Services& s, const json::object& args) {
  static const json::value templates = json::parse(kTemplates);
  json::object result{
      {"resources", json::array{}}, {"next_cursor", nullptr}, {"resource_templates", templates}};
  if (json_fields::bool_or(args, "templates_only", false)) return json::value(std::move(result));
  size_t offset = 0;
  std::string cursor = json_fields::string_or(args, "cursor");
  if (!cursor.empty()) {
    std::string_view digits = std::string_view(cursor).substr(std::min(cursor.size(), kCursorPrefix.size()));
    bool ok = cursor.rfind(kCursorPrefix, 0) == 0 && !digits.empty() && digits.size() <= 9 &&
              digits.find_first_not_of("0123456789") == std::string_view::npos;
    if (!ok) {
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown cursor '" + cursor +
                            "'; pass the nextCursor of the previous page, or no cursor for the first page");
    }
    offset = std::stoul(std::string(digits));
  }
  auto all = all_resources(s);
  if (!all) return all.error();
  const size_t limit = static_cast<size_t>(json_fields::int_or(args, "limit", 100));
  json::array page;
  size_t end = std::min(all->size(), offset + limit);
  for (size_t i = offset; i < end; ++i) page.push_back(std::move((*all)[i]));
  result["resources"] = std::move(page);
  if (end < all->size()) result["next_cursor"] = std::string(kCursorPrefix) + std::to_string(end);
  return json::value(std::move(result));
}

// A link for one stream of a step whose full log is longer than what the
// result shows (shown_bytes).
void add_link(json::array& links, const std::string& eid, const json::object& step, const char* stream,
              size_t shown_bytes) {
  const auto* logs = step.if_contains("logs");
  if (!logs || !logs->is_object()) return;
  const auto* l = logs->as_object().if_contains(stream);
  if (!l || !l->is_object()) return;
  const auto* b = l->as_object().if_contains("bytes");
  if (!b || !b->is_int64() || b->as_int64() <= static_cast<int64_t>(shown_bytes)) return;
  std::string sid(step.at("step_id").as_string());
  links.push_back(json::object{
      {"uri", log_uri(eid, sid, stream)},
      {"name", eid + "/" + sid + "/" + stream},
      {"mimeType", "text/plain"},
      {"size", *b},
      {"description", "The full " + std::string(stream) + " of step " + sid + " (" +
                          std::to_string(b->as_int64()) + " bytes); the result shows only part of it"}});
}

size_t string_size(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? v->as_string().size() : 0;
}

}  // namespace

const std::string kResourceLinksProperty = R"("resource_links":{"type":"array",
  "description":"Resources (MCP resources/read) holding the full output this result shows only in part",
  "items":{"type":"object","required":["uri","name"],"properties":{"uri":{"type":"string"},
    "name":{"type":"string"},"mimeType":{"type":"string"},"size":{"type":"integer"},"description":{"type":"string"}}}})";

void add_log_resource_links(json::object& result) {
  json::array links;
  const auto* eidv = result.if_contains("execution_id");
  if (!eidv || !eidv->is_string()) return;
  std::string eid(eidv->as_string());
  if (const auto* steps = result.if_contains("steps"); steps && steps->is_array()) {
    // execute_task_plan: each step shows the tails of its output.
    for (const auto& st : steps->as_array()) {
      if (!st.is_object()) continue;
      add_link(links, eid, st.as_object(), "stdout", string_size(st.as_object(), "stdout_tail"));
      add_link(links, eid, st.as_object(), "stderr", string_size(st.as_object(), "stderr_tail"));
    }
  } else if (result.contains("step_id") && result.contains("logs")) {
    // exec_command: the output kept in the store, which may be cut.
    add_link(links, eid, result, "stdout", string_size(result, "stdout"));
    add_link(links, eid, result, "stderr", string_size(result, "stderr"));
  } else if (const auto* stream = result.if_contains("stream"); stream && stream->is_string()) {
    // get_execution_log: a slice that is not the whole log.
    bool whole = result.at("offset").as_int64() == 0 && result.at("eof").as_bool();
    if (!whole) {
      std::string sid(result.at("step_id").as_string());
      std::string st(stream->as_string());
      links.push_back(
          json::object{{"uri", log_uri(eid, sid, st)},
                       {"name", eid + "/" + sid + "/" + st},
                       {"mimeType", "text/plain"},
                       {"size", result.at("size")},
                       {"description", "The whole " + st + " log of step " + sid + " in one read"}});
    }
  }
  if (!links.empty()) result["resource_links"] = std::move(links);
}

Status register_resource_operations(OperationRegistry& r, const Services& s) {
  const OperationAnnotations kRead{
      .read_only = true, .destructive = false, .idempotent = true, .open_world = false};
  if (auto st = r.add({
          .name = "list_resources",
          .title = "List resources",
          .description =
              "The resources this server serves (the same as MCP resources/list): the full stdout and "
              "stderr logs of the steps of the newest executions of each active workspace, and the URI "
              "templates for step logs and workspace files. Read one with read_resource.",
          .input_schema = R"({"type":"object","additionalProperties":false,"properties":{
            "cursor":{"type":"string","description":"next_cursor of the previous page"},
            "limit":{"type":"integer","minimum":1,"maximum":500,"default":100},
            "templates_only":{"type":"boolean","description":"Only the URI templates"}}})",
          .output_schema = R"({"type":"object","required":["resources","next_cursor","resource_templates"],
            "properties":{
              "resources":{"type":"array","items":{"type":"object","required":["uri","name"],"properties":{
                "uri":{"type":"string"},"name":{"type":"string"},"title":{"type":"string"},
                "mimeType":{"type":"string"},"size":{"type":"integer"}}}},
              "next_cursor":{"type":["string","null"]},
              "resource_templates":{"type":"array","items":{"type":"object","required":["uriTemplate","name"]}}}})",
          .annotations = kRead,
          .handler = [s](const json::object& args, CallContext&) { return list_resources(s, args); },
      });
      !st) {
    return st;
  }
  return r.add({
      .name = "read_resource",
      .title = "Read resource",
      .description =
          "The contents of one resource by URI (the same as MCP resources/read): "
          "sandbox://executions/{execution_id}/steps/{step_id}/{stdout|stderr} is the full log of a step; "
          "sandbox://workspaces/{workspace_id}/files/{path} a workspace file (text, or a base64 blob), "
          "confined like read_file.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["uri"],"properties":{
        "uri":{"type":"string","minLength":1,"maxLength":8192}}})",
      .output_schema = R"({"type":"object","required":["contents"],"properties":{
        "contents":{"type":"array","items":{"type":"object","required":["uri"],"properties":{
          "uri":{"type":"string"},"mimeType":{"type":"string"},"text":{"type":"string"},"blob":{"type":"string"}}}}}})",
      .annotations = kRead,
      .handler = [s](const json::object& args,
                     CallContext&) { return read_resource(s, json_fields::string_or(args, "uri")); },
  });
}

}  // namespace isb::operations
