// workspace_service.hpp: workspaces: a copy of a host project directory, bound
// to an isolation sandbox, recorded in the store.
//
// Creation is all-or-nothing: the copy is made under a temporary name, the
// sandbox is created, the row is written, and only then is the directory
// renamed into place; any failure undoes the earlier steps.
//
// Threading: thread-safe. Creation and destruction of one id are serialized.
#pragma once

#include <isb/core/config.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>

#include <boost/json/object.hpp>

#include <mutex>
#include <string>
#include <vector>

namespace isb {

//! ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$, and not "." or "..".
Status validate_workspace_id(const std::string& id);

//! Where workspace sources may come from.
class SourcePathPolicy {
 public:
  //! allowed_roots empty: the user's home, the current directory and the
  //! system temp dir. forbidden: the state and workspaces dirs (plus the
  //! system directories that are always refused).
  SourcePathPolicy(std::vector<std::string> allowed_roots, std::vector<std::string> forbidden);
  //! The canonical path, or an error that says why the path is refused.
  Result<std::string> check(const std::string& source_path) const;
  const std::vector<std::string>& allowed_roots() const { return allowed_; }

 private:
  std::vector<std::string> allowed_;
  std::vector<std::string> forbidden_;
};

//! Counts of one tree copy.
struct CopyReport {
  int64_t files = 0;
  int64_t directories = 0;
  int64_t symlinks = 0;
  int64_t bytes = 0;
  std::vector<std::string> skipped_credentials;  // relative paths never copied
  std::vector<std::string> skipped_special;      // fifos, sockets, devices
};

//! Copies source into dest (which must not exist): modes, timestamps and
//! symlinks (as links, never followed) preserved; credential directories and
//! files (.ssh, .gnupg, .aws, .netrc, .docker/config.json) never copied.
Result<CopyReport> copy_tree(const std::string& source, const std::string& dest);

class WorkspaceService {
 public:
  WorkspaceService(const Config& config, Store& store, IsolationPlugin isolation, std::string backend_note);

  struct CreateRequest {
    std::string source_path;
    std::string workspace_id;  // empty: generated
  };
  Result<boost::json::object> create(const CreateRequest& req);
  Result<boost::json::object> destroy(const std::string& workspace_id);
  Result<boost::json::object> list() const;
  //! The active workspace, or kNotFound naming the id.
  Result<WorkspaceRecord> get_active(const std::string& workspace_id) const;
  //! Any workspace ever created (for history), or kNotFound.
  Result<WorkspaceRecord> get_any(const std::string& workspace_id) const;
  void touch(const std::string& workspace_id);

  const IsolationPlugin& isolation() const { return isolation_; }
  const SourcePathPolicy& source_policy() const { return policy_; }
  //! Destroys the sandboxes of every active workspace (server shutdown keeps
  //! the files and rows; sandboxes are recreated on the next start).
  void release_sandboxes();
  //! Recreates sandboxes for active workspaces after a restart.
  void restore_sandboxes();

 private:
  boost::json::object describe(const WorkspaceRecord& w) const;

  const Config& config_;
  Store& store_;
  IsolationPlugin isolation_;
  std::string backend_note_;
  SourcePathPolicy policy_;
  std::mutex create_mu_;
};

}  // namespace isb
