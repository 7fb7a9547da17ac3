// mux_decoder.hpp: incremental decoder of the Engine API's multiplexed stream
// (exec/attach without a TTY): frames of an 8-byte header {stream, 0, 0, 0,
// big-endian uint32 size} followed by size bytes of payload.
//
//   MuxDecoder d;
//   d.feed(bytes, n, [](int stream, const char* p, size_t len) { ... });
//
// Chunks may split headers and payloads anywhere; payload is handed on as it
// arrives, never buffered whole, so a huge frame costs no memory.
// THREADING: not thread-safe; one decoder per stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace isb::docker {

class MuxDecoder {
 public:
  //! stream: 0 stdin, 1 stdout, 2 stderr, as the engine numbers them.
  using Sink = std::function<void(int stream, const char* data, size_t len)>;

  //! Decodes n more bytes. Returns false (and stops) on a header with an unknown
  //! stream number: the bytes are not a multiplexed stream.
  bool feed(const char* data, size_t n, const Sink& sink);

  //! True when the input so far ended exactly on a frame boundary.
  bool at_frame_boundary() const { return header_len_ == 0 && remaining_ == 0; }

 private:
  unsigned char header_[8] = {};
  size_t header_len_ = 0;
  uint32_t remaining_ = 0;
  int stream_ = 0;
};

}  // namespace isb::docker
