#!/usr/bin/env bash
# Installs what the server, its tests and benchmarks need, from Debian's
# packages and the npm registry. Idempotent: a second run installs nothing and
# takes about a second.
# Usage: scripts/install-deps.sh [--run | --build-only]
#   (no option)   everything: the server, tests and benchmarks (make test)
#   --run         only what building and running the server needs (make run)
#   --build-only  every Debian package, but no npm packages
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:-}"
case "$mode" in
  "" | --run | --build-only) ;;
  *) echo "install-deps: unknown option '$mode' (use --run, --build-only or nothing)" >&2; exit 2 ;;
esac

# The server: its build and its run-time needs (mkfs.ext4 for the workspaces'
# disk images).
debian_packages=(
  cmake ninja-build g++ pkg-config make
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-filesystem1.81-dev libboost-program-options1.81-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libarchive-dev libpugixml-dev
  libsqlite3-dev libseccomp-dev libtomlplusplus-dev libvalijson-dev
  e2fsprogs
)
if [[ "$mode" != "--run" ]]; then
  # Tests, references and benchmarks: GoogleTest, a Docker engine and the
  # busybox test image, the fuzzer's clang, cloc and bubblewrap as references,
  # python3 for the host-path lint, git for the fixtures; QEMU and Debian's
  # kernel boot the cgroup v2 guest of tests/vm (busybox-static is its init).
  debian_packages+=(
    libgtest-dev libgmock-dev
    python3 cloc
    docker.io busybox-static curl
    clang bubblewrap
    git
    qemu-system-x86 linux-image-amd64
  )
  # Node.js runs the end-to-end tests. Machines of this kind ship Node 20 with
  # its own npm; Debian's nodejs/npm are installed only where there is none.
  if ! command -v node >/dev/null 2>&1; then debian_packages+=(nodejs); fi
  if ! command -v npm >/dev/null 2>&1; then debian_packages+=(npm); fi
fi

missing=()
for p in "${debian_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ -z "$mode" ]]; then
  # Test clients (official MCP SDK), pinned in tests/package.json.
  if [[ -f "$here/tests/package.json" ]]; then
    stamp="$here/tests/node_modules/.isb-installed"
    if [[ ! -f "$stamp" || "$here/tests/package.json" -nt "$stamp" ]]; then
      echo "install-deps: installing npm packages for tests" >&2
      if [[ -f "$here/tests/package-lock.json" ]]; then
        (cd "$here/tests" && npm ci --no-audit --no-fund --loglevel=error)
      else
        (cd "$here/tests" && npm install --no-audit --no-fund --loglevel=error)
      fi
      touch "$stamp"
    fi
  fi
fi
