#!/usr/bin/env python3
"""check-host-paths.py: the CI check of docs/security.md's one rule.

The host side may touch a tree that sandboxed code can shape (a workspace,
overlay layers, reports, the tree an analyzer reads) only through
core/src/workspaces/safe_path.* (the core) or sdk/include/isb/sdk/tree.hpp
(analyzer plugins): directory fds and openat2 beneath them. This check flags
every other call that opens, lists, stats or changes a file by path
(fopen, std::ifstream/ofstream, opendir, open/stat/lstat/mkdir/unlink/...,
std::filesystem operations) in the code that handles workspaces, unless the
line (or the line above) says why its path is not one sandboxed code can
shape, with a comment starting "host path:", e.g.

    std::ifstream in(config_file);  // host path: the operator's config file

A file that only ever names the server's own paths (its config, logs, store,
plugin directories) says so once, near its top, with a comment containing
"host paths only:" and the reason.

Usage: scripts/check-host-paths.py [repo root]. Exit 0 when clean, 1 with
the list of unexplained calls.
"""
import os
import re
import sys

SCOPES = ["core/src", "core/app", "plugins/analyzers", "plugins/planners"]
MODULES = {"core/src/workspaces/safe_path.cpp", "core/src/workspaces/safe_path.hpp", "sdk/include/isb/sdk/tree.hpp"}
FS_OPS = (
    "exists|is_directory|is_regular_file|is_symlink|file_size|remove|remove_all|create_directories|"
    "create_directory|rename|copy|copy_file|status|symlink_status|read_symlink|canonical|weakly_canonical|"
    "last_write_time|directory_iterator|recursive_directory_iterator|permissions|resize_file|space"
)
PATTERNS = [
    re.compile(r"std::(?:i|o)?fstream\b"),
    re.compile(r"\b(?:fs|std::filesystem)::(?:" + FS_OPS + r")\b"),
    # C calls by path: bare or with a leading "::", never X::name (a member).
    re.compile(r"(?:^|[^\w:.>])(?:::)?(?:fopen|opendir|open|stat|lstat|statvfs|access|unlink|rmdir|mkdir|"
               r"chmod|chown|lchown|rename|truncate|readlink|symlink|nftw|ftw)\s*\("),
]
MARKER = "host path:"
FILE_MARKER = "host paths only:"
NOT_CALLS = {"return", "if", "while", "for", "else", "case", "throw", "not", "and", "or", "co_return"}


def strip_comments_and_strings(line):
    line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    return line.split("//", 1)[0]


def is_call(pattern, code):
    """A match that uses a function, not one that declares a function of that name."""
    for m in pattern.finditer(code):
        if pattern is not PATTERNS[2]:
            return True
        name = re.search(r"(fopen|opendir|open|stat|lstat|statvfs|access|unlink|rmdir|mkdir|chmod|chown|lchown|"
                         r"rename|truncate|readlink|symlink|nftw|ftw)\s*\($", m.group(0))
        before = code[: m.start() + m.group(0).index(name.group(1))].rstrip()
        if before.endswith("::"):
            before = before[:-2].rstrip()
        last = re.search(r"(\w+)$", before)
        # "Type open(" or "Result<T> open(" declares; "return open(" or "x = ::open(" calls.
        if before.endswith(">") or (last and last.group(1) not in NOT_CALLS):
            continue
        return True
    return False


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    problems = []
    for scope in SCOPES:
        for dirpath, _, files in os.walk(os.path.join(root, scope)):
            for name in sorted(files):
                if not name.endswith((".cpp", ".hpp", ".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                if rel in MODULES:
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    lines = f.read().split("\n")
                if any(FILE_MARKER in l for l in lines[:40]):
                    continue
                for i, line in enumerate(lines):
                    code = strip_comments_and_strings(line)
                    if not any(is_call(p, code) for p in PATTERNS):
                        continue
                    if MARKER in line or (i > 0 and MARKER in lines[i - 1]):
                        continue
                    problems.append(f"{rel}:{i + 1}: {line.strip()}")
    if problems:
        print("Calls that reach files by path outside the safe-path modules, without a 'host path:' reason")
        print("(docs/security.md: use workspaces::BeneathRoot / isb::sdk::Tree, or say why the path is the server's):")
        for p in problems:
            print("  " + p)
        return 1
    print("check-host-paths: every by-path file access in the workspace-handling code is explained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
