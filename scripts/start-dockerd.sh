#!/usr/bin/env bash
# Starts a local Docker engine for the docker isolation tests and benchmarks.
# Idempotent: installs docker.io when dockerd is missing, starts
# `dockerd --iptables=false --bridge=none` in the background only when the
# socket does not answer, waits until /_ping answers and prints where the
# engine's log is. The flags keep the engine off the host's firewall and
# bridges: sandboxes run with NetworkMode none, so neither is needed.
# With ISB_DOCKERD_ROOT set it starts a private engine instead, with its own
# socket, state, containerd and pidfile under that directory, so a test can
# stop and restart it without touching the engine everyone else uses.
# Usage: scripts/start-dockerd.sh
#   env: ISB_DOCKERD_LOG, ISB_DOCKERD_WAIT_S,
#        ISB_DOCKERD_ROOT (private engine: socket ROOT/docker.sock, pid in ROOT/dockerd.pid)
set -euo pipefail

root="${ISB_DOCKERD_ROOT:-}"
extra=()
if [[ -n "$root" ]]; then
  mkdir -p "$root"
  sock="$root/docker.sock"
  log="${ISB_DOCKERD_LOG:-$root/dockerd.log}"
  extra=(--host "unix://$sock" --data-root "$root/data" --exec-root "$root/exec" --pidfile "$root/dockerd.pid")
else
  sock=/var/run/docker.sock
  log="${ISB_DOCKERD_LOG:-/var/log/isb-dockerd.log}"
fi
wait_s="${ISB_DOCKERD_WAIT_S:-60}"

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

ping_engine() {
  curl -sf --max-time 2 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1
}

if ! command -v curl >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
  echo "start-dockerd: installing docker.io and curl" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends docker.io curl
fi

if ping_engine; then
  echo "start-dockerd: engine already answers on $sock (log: $log if this script started it)" >&2
  exit 0
fi

echo "start-dockerd: starting dockerd, log in $log" >&2
# setsid + nohup: the engine must outlive the shell (and the test run) that started it.
"${sudo_cmd[@]}" setsid nohup dockerd --iptables=false --bridge=none "${extra[@]}" >>"$log" 2>&1 </dev/null &

for ((i = 0; i < wait_s * 10; i++)); do
  if ping_engine; then
    echo "start-dockerd: engine answers on $sock after $((i / 10)).$((i % 10)) s; log: $log" >&2
    exit 0
  fi
  sleep 0.1
done
echo "start-dockerd: dockerd did not answer on $sock within ${wait_s} s; see $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
