// line_counter.cpp: code/comment/blank classification, one pass per file.
//
// The rules follow cloc so that figures can be compared with it: blank lines
// are whitespace-only lines wherever they are; a line is code when anything
// outside a comment remains on it; Python's triple-quoted strings count like
// block comments; a "#!" first line is code. Unlike cloc, block comments nest
// where the language says so, and comment markers inside strings stay code.
#include "languages/language.hpp"

namespace isb::analyzer {

namespace {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

inline bool at(std::string_view line, size_t i, std::string_view marker) {
  return line.size() - i >= marker.size() && line.compare(i, marker.size(), marker) == 0;
}

// An open block comment (or Python triple-quoted string) carried across lines.
struct OpenBlock {
  std::string_view open;
  std::string_view close;
  int depth = 0;  // > 0 while inside
};

class Counter {
 public:
  explicit Counter(const Language& lang) : lang_(lang) {}

  void line(std::string_view line, LineCounts& out) {
    size_t i = 0;
    const size_t n = line.size();
    while (i < n && is_space(line[i])) ++i;
    if (i == n) {
      ++out.blank;
      return;
    }
    const size_t first = i;
    bool code = false, comment = false;
    while (i < n) {
      if (block_.depth > 0) {
        comment = true;
        i = scan_block(line, i);
        continue;
      }
      const char c = line[i];
      if (!lang_.starts[static_cast<unsigned char>(c)]) {
        if (!is_space(c)) code = true;
        ++i;
        continue;
      }
      if (lang_.triple_quote_comments && (at(line, i, "\"\"\"") || at(line, i, "'''"))) {
        comment = true;
        block_ = {line.substr(i, 3), line.substr(i, 3), 1};
        i += 3;
        continue;
      }
      if (const auto* b = block_at(line, i)) {
        comment = true;
        block_ = {b->first, b->second, 1};
        i += b->first.size();
        continue;
      }
      if (line_comment_at(line, i, first)) {
        comment = true;
        break;
      }
      if (lang_.quotes.find(c) != std::string::npos) {
        code = true;
        size_t j = i + 1;
        while (j < n && line[j] != c) j += (line[j] == '\\') ? 2 : 1;
        i = j + 1;
        continue;
      }
      code = true;
      ++i;
    }
    if (code)
      ++out.code;
    else if (comment)
      ++out.comment;
    else
      ++out.blank;
  }

 private:
  // Inside a block: returns the index after the block's end on this line, or
  // the line's size when it goes on.
  size_t scan_block(std::string_view line, size_t i) {
    const bool nests = lang_.nested_blocks && block_.open != block_.close;
    while (i < line.size()) {
      if (at(line, i, block_.close)) {
        i += block_.close.size();
        if (--block_.depth == 0) return i;
        continue;
      }
      if (nests && at(line, i, block_.open)) {
        ++block_.depth;
        i += block_.open.size();
        continue;
      }
      ++i;
    }
    return i;
  }

  const std::pair<std::string, std::string>* block_at(std::string_view line, size_t i) const {
    for (const auto& b : lang_.blocks)
      if (at(line, i, b.first)) return &b;
    return nullptr;
  }

  bool line_comment_at(std::string_view line, size_t i, size_t first) const {
    if (lang_.line_comment_at_start_only && i != first) return false;
    for (const auto& m : lang_.line_comments)
      if (at(line, i, m)) return true;
    return false;
  }

  const Language& lang_;
  OpenBlock block_;
};

}  // namespace

LineCounts count_lines(const Language& lang, std::string_view content) {
  LineCounts out;
  Counter counter(lang);
  size_t pos = 0;
  // A "#!" first line tells the kernel what runs the file: cloc counts it as
  // code in every language, and so do we.
  if (content.size() >= 2 && content[0] == '#' && content[1] == '!') {
    ++out.code;
    size_t nl = content.find('\n');
    pos = nl == std::string_view::npos ? content.size() : nl + 1;
  }
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    size_t end = nl == std::string_view::npos ? content.size() : nl;
    counter.line(content.substr(pos, end - pos), out);
    pos = end + 1;
  }
  return out;
}

}  // namespace isb::analyzer
