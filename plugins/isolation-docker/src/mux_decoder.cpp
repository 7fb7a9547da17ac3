// mux_decoder.cpp: see mux_decoder.hpp.
#include "mux_decoder.hpp"

#include <algorithm>

namespace isb::docker {

bool MuxDecoder::feed(const char* data, size_t n, const Sink& sink) {
  size_t i = 0;
  while (i < n) {
    if (remaining_ == 0) {
      size_t take = std::min(n - i, sizeof header_ - header_len_);
      std::copy(data + i, data + i + take, header_ + header_len_);
      header_len_ += take;
      i += take;
      if (header_len_ < sizeof header_) return true;
      header_len_ = 0;
      if (header_[0] > 2) return false;
      stream_ = header_[0];
      remaining_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) | (uint32_t{header_[6]} << 8) |
                   uint32_t{header_[7]};
      continue;
    }
    size_t take = std::min<size_t>(n - i, remaining_);
    sink(stream_, data + i, take);
    remaining_ -= static_cast<uint32_t>(take);
    i += take;
  }
  return true;
}

}  // namespace isb::docker
