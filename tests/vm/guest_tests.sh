#!/bin/bash
# guest_tests.sh: pid 1 of the tests/vm guest once guest_init.sh switched to
# the host's root (read-only 9p under a tmpfs overlay). Mounts what a system
# has (proc, sys, cgroup2 at /sys/fs/cgroup, devpts, a fresh /tmp), then runs
# the steps named on the kernel command line (isb.steps=) with the test
# binaries of isb.build=, each reporting "ISB-VM-STEP <name> PASS|FAIL" on the
# console, and powers off. Steps as an ordinary user run in a cgroup made the
# way systemd delegates one (Delegate=yes): a directory whose cgroup.procs,
# cgroup.subtree_control and cgroup.threads belong to the user, below a parent
# that enables the controllers for it.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
build= steps=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    isb.build=*) build=${arg#isb.build=} ;;
    isb.steps=*) steps=${arg#isb.steps=} ;;
  esac
done
src=$(cd "$(dirname "$0")/../.." && pwd)
# A checkout or build under /tmp (a clone in /tmp, say) stays at its path
# above the fresh /tmp: held aside by a bind mount, then moved back on top.
keep=()
for d in "$src" "$build"; do
  case "$d/" in /tmp/*) keep+=("$d") ;; esac
done
for i in "${!keep[@]}"; do
  mkdir -p "/.isb-keep/$i" && mount --bind "${keep[$i]}" "/.isb-keep/$i"
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
for i in "${!keep[@]}"; do
  mkdir -p "${keep[$i]}" && mount --move "/.isb-keep/$i" "${keep[$i]}"
done
mount -t tmpfs tmpfs /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
ip link set lo up 2>/dev/null || busybox ip link set lo up
hostname isb-vm
echo "ISB-VM-BOOTED $(cut -d' ' -f1 /proc/uptime)"

as_user=$src/tests/isolation/as_test_user.sh
v2_test=$build/bin/vm_cgroup_v2_test
attack_test=$build/bin/isolation_attack_test
bench=$build/bin/isb-bench-isolation
bench_args=(--runs 200 --workspaces 10)
# The attacks that depend on cgroups or that the cgroup change could break;
# the compiler-heavy ones (attack_probe built inside) take minutes under TCG.
# Not Jail.BusyLoops*: it sums the processes' own CPU times, which a TCG guest
# samples per tick far too coarsely; CgroupV2.BusyLoopsAreThrottledToCpuMax
# checks the quota with the cgroup's exact cpu.stat instead. Not
# Jail.SystemDirectories*: it expects an idmapped workspace on /tmp, which is
# tmpfs here (idmapped tmpfs needs Linux 6.3; the guest runs 6.1).
attack_filter='Jail.ForkBomb*:Jail.AllocatingTwice*:Jail.EscapedDescendants*:Jail.Timeout*'
attack_filter+=':Jail.KillAllOnly*:Jail.HostSecrets*:Jail.NoPrivileges*:Jail.ProcIsFresh*:Jail.ServerCrash*'
attack_filter+=':Jail.BackgroundProcesses*'
echo "+memory +pids +cpu" > /sys/fs/cgroup/cgroup.subtree_control

user=$("$as_user" --print | cut -d' ' -f1)

#! delegate DIR: hands DIR (an existing cgroup) to the test user, as systemd's Delegate=yes.
delegate() {
  chown "$user" "$1" "$1/cgroup.procs" "$1/cgroup.subtree_control" "$1/cgroup.threads"
}

#! in_cgroup DIR CMD...: runs CMD with its shell moved into cgroup DIR first.
in_cgroup() {
  local dir=$1
  shift
  sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$dir" "$@"
}

step() {
  local name=$1 t0 rc
  shift
  t0=$(cut -d' ' -f1 /proc/uptime)
  echo "ISB-VM: step $name: $*"
  "$@"
  rc=$?
  echo "ISB-VM-STEP $name $([ $rc = 0 ] && echo PASS || echo FAIL) (exit $rc, $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.1f", b - a}') s)"
}

for s in ${steps//,/ }; do
  case "$s" in
    root-v2) step "$s" env ISB_VM_SETUP=root "$v2_test" ;;
    root-attack) step "$s" "$attack_test" --gtest_filter="$attack_filter" ;;
    delegated-v2 | delegated-attack)
      d=/sys/fs/cgroup/isb-user-$s
      mkdir -p "$d" && delegate "$d"
      if [ "$s" = delegated-v2 ]; then
        step "$s" in_cgroup "$d" env ISB_VM_SETUP=delegated "$as_user" "$v2_test"
      else
        step "$s" in_cgroup "$d" env ISB_TEST_DELEGATED_CGROUP=1 "$as_user" "$attack_test" --gtest_filter="$attack_filter"
      fi
      ;;
    nocpu-v2)
      mkdir -p /sys/fs/cgroup/isb-nocpu/user
      echo "+memory +pids" > /sys/fs/cgroup/isb-nocpu/cgroup.subtree_control
      delegate /sys/fs/cgroup/isb-nocpu/user
      step "$s" in_cgroup /sys/fs/cgroup/isb-nocpu/user env ISB_VM_SETUP=nocpu "$as_user" "$v2_test"
      ;;
    undelegated-v2)
      mkdir -p /sys/fs/cgroup/isb-undelegated
      step "$s" in_cgroup /sys/fs/cgroup/isb-undelegated env ISB_VM_SETUP=undelegated "$as_user" "$v2_test"
      ;;
    bench-root) step "$s" "$bench" "${bench_args[@]}" ;;
    bench-rootless)
      d=/sys/fs/cgroup/isb-user-bench
      mkdir -p "$d" && delegate "$d"
      step "$s" in_cgroup "$d" "$as_user" "$bench" "${bench_args[@]}"
      ;;
    *) echo "ISB-VM-STEP $s FAIL (no such step)" ;;
  esac
done
echo "ISB-VM-DONE $(cut -d' ' -f1 /proc/uptime)"
sync
/bin/busybox poweroff -f
