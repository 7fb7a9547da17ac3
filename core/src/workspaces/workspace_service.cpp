// workspace_service.cpp: creating, listing and destroying workspaces.
#include <isb/core/workspace_service.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <random>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace isb {

namespace {

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kHex[rng() % 16];
  return s;
}

json::object limits_json(const ResourceLimits& l) {
  return {{"memory_mb", l.memory_mb},
          {"cpu_cores", l.cpu_cores},
          {"disk_mb", l.disk_mb},
          {"max_processes", l.max_processes},
          {"max_open_files", l.max_open_files}};
}

json::value parse_or_empty(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(json::object{}) : v;
}

}  // namespace

WorkspaceService::WorkspaceService(const Config& config, Store& store, IsolationPlugin isolation,
                                   std::string backend_note)
    : config_(config),
      store_(store),
      isolation_(std::move(isolation)),
      backend_note_(std::move(backend_note)),
      policy_(config.sandbox.allowed_source_roots, {config.state_dir(), config.workspaces_dir()}) {}

json::object WorkspaceService::describe(const WorkspaceRecord& w) const {
  json::object o{{"workspace_id", w.id},
                 {"path", w.path},
                 {"source_path", w.source_path},
                 {"backend", w.backend},
                 {"status", w.status},
                 {"created_at", format_time(w.created_at)},
                 {"last_used_at", format_time(w.last_used_at)},
                 {"isolation", parse_or_empty(w.isolation_json)},
                 {"resource_limits", parse_or_empty(w.resource_limits_json)}};
  return o;
}

Result<json::object> WorkspaceService::create(const CreateRequest& req) {
  std::string id = req.workspace_id.empty() ? "ws-" + random_hex(12) : req.workspace_id;
  if (auto st = validate_workspace_id(id); !st) return st.error();
  auto source = policy_.check(req.source_path);
  if (!source) return source.error();

  std::lock_guard<std::mutex> lock(create_mu_);
  auto existing = store_.get_workspace(id);
  if (!existing) return existing.error();
  if (*existing) {
    return make_error(ErrorCode::kAlreadyExists,
                      "workspace '" + id + "' already exists" +
                          ((*existing)->status == "destroyed" ? " (destroyed; its history is kept under this id)" : "") +
                          "; choose another workspace_id or omit it");
  }
  auto active = store_.count_active_workspaces();
  if (!active) return active.error();
  if (*active >= config_.sandbox.max_workspaces) {
    return make_error(ErrorCode::kResourceExhausted,
                      "max_workspaces reached (" + std::to_string(*active) + " of " +
                          std::to_string(config_.sandbox.max_workspaces) +
                          " active); destroy a workspace first or raise sandbox.max_workspaces");
  }

  const fs::path final_path = fs::path(config_.workspaces_dir()) / id;
  const fs::path staging = fs::path(config_.workspaces_dir()) / (".creating-" + id + "-" + random_hex(6));
  std::error_code ec;
  if (fs::exists(final_path, ec)) {
    return make_error(ErrorCode::kAlreadyExists, "directory " + final_path.string() +
                                                     " already exists but no workspace owns it; remove it or choose "
                                                     "another workspace_id");
  }
  auto undo_dir = [&](const fs::path& p) {
    std::error_code rm;
    fs::remove_all(p, rm);
    if (rm) spdlog::warn("could not remove {}: {}", p.string(), rm.message());
  };
  auto copied = copy_tree(*source, staging.string());
  if (!copied) {
    undo_dir(staging);
    return make_error(copied.error().code, "copying " + *source + " failed: " + copied.error().message);
  }
  fs::rename(staging, final_path, ec);
  if (ec) {
    undo_dir(staging);
    return make_error(ErrorCode::kUnavailable, "cannot move the workspace into place: " + ec.message());
  }

  const ResourceLimits& limits = config_.isolation.resource_limits;
  json::object spec{{"workspace_id", id}, {"workspace_path", final_path.string()}, {"resource_limits", limits_json(limits)}};
  auto sandbox = isolation_.create_sandbox(spec);
  if (!sandbox) {
    undo_dir(final_path);
    return make_error(sandbox.error().code, "creating the sandbox for workspace '" + id + "' failed: " +
                                                sandbox.error().message);
  }
  std::string sandbox_id = id;
  if (sandbox->is_object()) {
    if (auto* s = sandbox->as_object().if_contains("sandbox_id"); s && s->is_string()) sandbox_id = s->as_string().c_str();
  }
  json::object isolation{{"backend", isolation_.info().id}};
  if (!backend_note_.empty()) isolation["note"] = backend_note_;
  if (auto probe = isolation_.probe()) {
    json::array enforced, not_enforced;
    if (auto* prot = probe->as_object().if_contains("protections"); prot && prot->is_array()) {
      for (const auto& p : prot->as_array()) {
        if (!p.is_object()) continue;
        auto* name = p.as_object().if_contains("name");
        auto* on = p.as_object().if_contains("enforced");
        if (!name || !name->is_string()) continue;
        (on && on->is_bool() && on->as_bool() ? enforced : not_enforced).push_back(*name);
      }
    }
    isolation["enforced"] = enforced;
    isolation["not_enforced"] = not_enforced;
    isolation["degraded"] = !not_enforced.empty();
  }

  WorkspaceRecord w;
  w.id = id;
  w.source_path = *source;
  w.path = final_path.string();
  w.backend = isolation_.info().id;
  w.sandbox_id = sandbox_id;
  w.status = "active";
  w.isolation_json = json::serialize(isolation);
  w.resource_limits_json = json::serialize(limits_json(limits));
  w.created_at = w.last_used_at = now_ms();
  if (auto st = store_.insert_workspace(w); !st) {
    (void)isolation_.destroy_sandbox(sandbox_id);
    undo_dir(final_path);
    return st.error();
  }
  spdlog::info("workspace {} created from {} ({} files, {} bytes) on backend {}", id, *source, copied->files,
               copied->bytes, w.backend);
  json::object out = describe(w);
  json::array skipped;
  for (const auto& s : copied->skipped_credentials) skipped.push_back(json::value(s));
  out["copy"] = json::object{{"files", copied->files},
                             {"directories", copied->directories},
                             {"symlinks", copied->symlinks},
                             {"bytes", copied->bytes},
                             {"skipped_credentials", skipped},
                             {"skipped_special", static_cast<int64_t>(copied->skipped_special.size())}};
  return out;
}

Result<WorkspaceRecord> WorkspaceService::get_any(const std::string& workspace_id) const {
  if (auto st = validate_workspace_id(workspace_id); !st) return st.error();
  auto w = store_.get_workspace(workspace_id);
  if (!w) return w.error();
  if (!*w) {
    return make_error(ErrorCode::kNotFound,
                      "workspace '" + workspace_id + "' not found; list_workspaces shows the existing ones");
  }
  return **w;
}

Result<WorkspaceRecord> WorkspaceService::get_active(const std::string& workspace_id) const {
  auto w = get_any(workspace_id);
  if (!w) return w;
  if (w->status != "active") {
    return make_error(ErrorCode::kNotFound, "workspace '" + workspace_id + "' was destroyed at " +
                                                format_time(w->destroyed_at) +
                                                "; its history is still available with get_execution_history");
  }
  return w;
}

void WorkspaceService::touch(const std::string& workspace_id) { (void)store_.touch_workspace(workspace_id, now_ms()); }

Result<json::object> WorkspaceService::destroy(const std::string& workspace_id) {
  std::lock_guard<std::mutex> lock(create_mu_);
  auto w = get_active(workspace_id);
  if (!w) return w.error();
  json::array warnings;
  if (auto st = isolation_.destroy_sandbox(w->sandbox_id); !st) {
    // A sandbox the backend no longer knows (after a restart) has nothing left to kill.
    if (st.error().code != ErrorCode::kNotFound) return st.error();
    warnings.push_back(json::value("sandbox was already gone: " + st.error().message));
  }
  std::error_code ec;
  fs::remove_all(w->path, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable, "the sandbox of '" + workspace_id + "' was stopped but " + w->path +
                                                   " could not be removed: " + ec.message() + "; call destroy again");
  }
  if (auto st = store_.mark_workspace_destroyed(workspace_id, now_ms()); !st) return st.error();
  spdlog::info("workspace {} destroyed", workspace_id);
  return json::object{{"workspace_id", workspace_id},
                      {"destroyed", true},
                      {"path", w->path},
                      {"path_removed", !fs::exists(w->path, ec)},
                      {"warnings", warnings}};
}

Result<json::object> WorkspaceService::list() const {
  auto rows = store_.list_workspaces(false);
  if (!rows) return rows.error();
  json::array items;
  for (const auto& w : *rows) items.push_back(describe(w));
  return json::object{{"workspaces", items},
                      {"count", static_cast<int64_t>(rows->size())},
                      {"max_workspaces", config_.sandbox.max_workspaces}};
}

void WorkspaceService::release_sandboxes() {
  auto rows = store_.list_workspaces(false);
  if (!rows) return;
  for (const auto& w : *rows) {
    if (auto st = isolation_.destroy_sandbox(w.sandbox_id); !st && st.error().code != ErrorCode::kNotFound) {
      spdlog::warn("stopping the sandbox of workspace {}: {}", w.id, st.error().message);
    }
  }
}

void WorkspaceService::restore_sandboxes() {
  auto rows = store_.list_workspaces(false);
  if (!rows) return;
  json::array known;
  for (const auto& w : *rows) known.push_back(json::value(w.sandbox_id));
  if (auto r = isolation_.reconcile(known); !r) spdlog::warn("reconcile: {}", r.error().message);
  for (const auto& w : *rows) {
    std::error_code ec;
    if (!fs::is_directory(w.path, ec)) {
      spdlog::warn("workspace {}: directory {} is gone; marking it destroyed", w.id, w.path);
      (void)store_.mark_workspace_destroyed(w.id, now_ms());
      continue;
    }
    if (w.backend != isolation_.info().id) {
      spdlog::warn("workspace {} was created on backend {} but this server runs {}; commands will use {}", w.id,
                   w.backend, isolation_.info().id, isolation_.info().id);
    }
    json::object spec{{"workspace_id", w.id}, {"workspace_path", w.path},
                      {"resource_limits", parse_or_empty(w.resource_limits_json)}};
    if (auto r = isolation_.create_sandbox(spec); !r) {
      spdlog::warn("workspace {}: could not recreate its sandbox: {}", w.id, r.error().message);
    }
  }
}

}  // namespace isb
