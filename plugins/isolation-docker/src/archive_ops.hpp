// archive_ops.hpp: files in and out of a workspace's container through the
// Engine API's archive endpoints (GET and PUT /containers/{id}/archive), with
// the tar streams read and written by libarchive.
//
// They are reached across the C ABI through sandbox_exec with an "op" member
// instead of a command (additive: a spec without "op" is a command as before):
//
//   {"op": "copy_out", "path": "/workspace/dir"}
//       the tar stream of path is emitted on the stdout stream as it is
//       received; the result lists its entries:
//       {"op", "path", "archive_bytes", "entries": [{"name", "type", "size", "mode"}]}
//   {"op": "copy_in", "path": "/workspace/sub",
//    "files": [{"name": "a/b.txt", "content": "text" | "content_base64": "...", "mode": 420}]}
//       packs the files into a tar and extracts it under path (which must exist);
//       result {"op", "path", "files", "archive_bytes"}.
//
// What the engine can reach: the image's own files and bind mounts such as
// /workspace. With the read-only root filesystem every workspace gets, the
// engine refuses writes outside /workspace, and it does not see tmpfs mounts
// such as /tmp at all (it reads the container's layers, not its mounts).
// THREADING: free functions without shared state.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <isb/sdk/plugin.hpp>
#include <string>
#include <vector>

#include "engine_client.hpp"

namespace isb::docker {

struct PutFile {
  std::string name;  // relative path inside the target directory
  std::string content;
  uint32_t mode = 0644;
};

struct ArchiveOp {
  std::string op;    // "copy_out" or "copy_in"
  std::string path;  // absolute path in the container
  std::vector<PutFile> files;
};

//! Parses a spec whose "op" member is set; throws Error(ISB_INVALID_ARGUMENT).
ArchiveOp parse_archive_op(const boost::json::object& spec);

//! A tar (pax) archive holding files, written with libarchive.
std::string build_tar(const std::vector<PutFile>& files);

//! The entries of a tar archive, read with libarchive; throws Error(ISB_ERROR) when it is not one.
boost::json::array list_tar(const std::string& tar);

//! Runs op against the container and returns the result document.
std::string run_archive_op(const EngineClient& engine, const std::string& container_id, const ArchiveOp& op,
                           const sdk::OutputSink& sink);

}  // namespace isb::docker
