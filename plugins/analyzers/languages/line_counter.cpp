// line_counter.cpp: code/comment/blank classification, one pass per file.
//
// The rules follow cloc so that figures can be compared with it: blank lines
// are whitespace-only lines wherever they are; a line is code when anything
// outside a comment remains on it; Python's triple-quoted strings count like
// block comments; a "#!" first line is code. Unlike cloc, block comments nest
// where the language says so, and comment markers inside strings stay code.
//
// Speed: this is the analyzer's hot loop (every byte of every file). It runs
// over the whole buffer rather than line by line, so there is no search for
// the next newline per line; outside comments a byte costs one table lookup
// unless it may start a marker or a string, and markers are compared only
// when their first byte is seen.
#include "languages/language.hpp"

namespace isb::analyzer {

namespace {

// Byte classes for the scan outside comments.
enum : unsigned char { kCode = 0, kSpace = 1, kStop = 2 };  // kStop: newline, or a marker/string start

struct ByteClasses {
  std::array<unsigned char, 256> cls{};
  explicit ByteClasses(const Language& lang) {
    for (int c = 0; c < 256; ++c) cls[c] = lang.starts[c] ? kStop : kCode;
    for (unsigned char c : {' ', '\t', '\r', '\f', '\v'})
      if (!lang.starts[c]) cls[c] = kSpace;
    cls['\n'] = kStop;
  }
};

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Whether marker starts at p (never past end; markers hold no newline, so a match never crosses a line).
inline bool at(const char* p, const char* end, const std::string& marker) {
  const size_t n = marker.size();
  if (static_cast<size_t>(end - p) < n) return false;
  for (size_t i = 0; i < n; ++i)
    if (p[i] != marker[i]) return false;
  return true;
}

class Counter {
 public:
  Counter(const Language& lang, const char* begin, const char* end)
      : lang_(lang), classes_(lang), p_(begin), end_(end) {}

  void run(LineCounts& out) {
    while (p_ < end_) {
      line(out);
      if (p_ < end_) ++p_;  // the newline
    }
  }

 private:
  // Classifies the line starting at p_ and leaves p_ at its newline (or the end).
  void line(LineCounts& out) {
    const auto& cls = classes_.cls;
    while (p_ < end_ && is_space(*p_)) ++p_;
    if (p_ == end_ || *p_ == '\n') {
      ++out.blank;
      return;
    }
    const char* first = p_;
    bool code = false, comment = false;
    while (p_ < end_ && *p_ != '\n') {
      if (depth_ > 0) {
        comment = true;
        scan_block();
        continue;
      }
      // Plain bytes: one lookup each.
      unsigned char k;
      while (p_ < end_ && (k = cls[static_cast<unsigned char>(*p_)]) != kStop) {
        code |= k == kCode;
        ++p_;
      }
      if (p_ == end_ || *p_ == '\n') break;
      const char c = *p_;
      if (lang_.triple_quote_comments && (at(p_, end_, kTripleDouble) || at(p_, end_, kTripleSingle))) {
        comment = true;
        open_ = close_ = (c == '"') ? &kTripleDouble : &kTripleSingle;
        depth_ = 1;
        p_ += 3;
        continue;
      }
      if (const auto* b = block_at()) {
        comment = true;
        open_ = &b->first;
        close_ = &b->second;
        depth_ = 1;
        p_ += b->first.size();
        continue;
      }
      if (line_comment_at(first)) {
        comment = true;
        while (p_ < end_ && *p_ != '\n') ++p_;
        break;
      }
      code = true;
      if (lang_.quote[static_cast<unsigned char>(c)]) {
        // A one-line string: up to the closing quote; a backslash escapes the next byte (not a newline).
        ++p_;
        while (p_ < end_ && *p_ != c && *p_ != '\n')
          p_ += (*p_ == '\\' && p_ + 1 < end_ && p_[1] != '\n') ? 2 : 1;
        if (p_ < end_ && *p_ == c) ++p_;
        continue;
      }
      ++p_;
    }
    if (code)
      ++out.code;
    else if (comment)
      ++out.comment;
    else
      ++out.blank;
  }

  // Inside a block comment: advances past its end on this line, or to the newline.
  void scan_block() {
    const bool nests = lang_.nested_blocks && *open_ != *close_;
    const char close0 = (*close_)[0];
    const char open0 = nests ? (*open_)[0] : close0;
    while (p_ < end_ && *p_ != '\n') {
      const char c = *p_;
      if (c != close0 && c != open0) {
        ++p_;
        continue;
      }
      if (at(p_, end_, *close_)) {
        p_ += close_->size();
        if (--depth_ == 0) return;
        continue;
      }
      if (nests && at(p_, end_, *open_)) {
        ++depth_;
        p_ += open_->size();
        continue;
      }
      ++p_;
    }
  }

  const std::pair<std::string, std::string>* block_at() const {
    for (const auto& b : lang_.blocks)
      if (at(p_, end_, b.first)) return &b;
    return nullptr;
  }

  bool line_comment_at(const char* first) const {
    if (lang_.line_comment_at_start_only && p_ != first) return false;
    for (const auto& m : lang_.line_comments)
      if (at(p_, end_, m)) return true;
    return false;
  }

  static const std::string kTripleDouble, kTripleSingle;

  const Language& lang_;
  const ByteClasses classes_;
  const char* p_;
  const char* const end_;
  // The open block comment (or Python triple-quoted string) carried across lines.
  const std::string* open_ = nullptr;
  const std::string* close_ = nullptr;
  int depth_ = 0;  // > 0 while inside
};

const std::string Counter::kTripleDouble = "\"\"\"";
const std::string Counter::kTripleSingle = "'''";

}  // namespace

LineCounts count_lines(const Language& lang, std::string_view content) {
  LineCounts out;
  const char* p = content.data();
  const char* end = p + content.size();
  // A "#!" first line tells the kernel what runs the file: cloc counts it as
  // code in every language, and so do we.
  if (content.size() >= 2 && content[0] == '#' && content[1] == '!') {
    ++out.code;
    while (p < end && *p != '\n') ++p;
    if (p < end) ++p;
  }
  Counter(lang, p, end).run(out);
  return out;
}

}  // namespace isb::analyzer
