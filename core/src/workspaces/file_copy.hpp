// file_copy.hpp: file-sized work on open descriptors in bounded memory:
// copying with holes kept, comparing, walking the data of a sparse file.
// Nothing here reads a file whole, so a 4 GiB file (sparse or not) costs
// the same memory as a 4 KiB one.
//
//   auto st = copy_sparse(in_fd, out_fd, "src/big.bin");
//   auto same = same_content(a_fd, b_fd);
//
// Threading: stateless free functions.
#pragma once

#include <isb/core/result.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace isb::workspaces {

//! Calls fn(offset, length) for each data segment of the regular file fd
//! (size bytes), in order, found with SEEK_DATA/SEEK_HOLE; a file system
//! that cannot tell holes reports the whole file as one segment.
Status for_each_data_segment(int fd, int64_t size, const std::function<Status(int64_t, int64_t)>& fn);

//! Copies regular file in to out (empty, writable): data segments only, so
//! holes stay holes, through copy_file_range (in the kernel) or a 1 MiB
//! buffer; out ends at in's size. rel names the file in messages.
Status copy_sparse(int in, int out, const std::string& rel);

//! All of the regular file fd from offset 0, or kResourceExhausted when it
//! holds more than cap bytes (rel names it in messages).
Result<std::string> read_capped(int fd, int64_t cap, const std::string& rel);

//! Whether two regular files hold the same bytes, read in 256 KiB chunks.
Result<bool> same_content(int a, int b);

}  // namespace isb::workspaces
