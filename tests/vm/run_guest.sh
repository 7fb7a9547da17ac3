#!/usr/bin/env bash
# run_guest.sh: boots a cgroup v2 guest and runs the jail's tests in it, so the
# suite checks cgroup v2 on a host that has only v1 (like ours).
#
#   tests/vm/run_guest.sh BUILD_DIR [GUEST_STEPS...]
#
# The guest is Debian's own kernel (linux-image-amd64, /boot/vmlinuz-*) under
# qemu-system-x86_64 with TCG (nested KVM does not start here), 1 GiB, 2 vCPUs.
# This script builds its initramfs from busybox-static and the kernel's 9p,
# virtio and overlay modules; the guest's init mounts this host's root
# read-only over 9p with a tmpfs overlay for writes, switches to it and runs
# guest_tests.sh (from this source tree), which mounts cgroup2 and runs test
# binaries already built in BUILD_DIR: as root, and as an ordinary user in a
# delegated subtree, one without the cpu controller, and one not delegated.
# Every step prints "ISB-VM-STEP <name> PASS|FAIL" on the serial console,
# which this script reads; it fails if any step failed, if a step is missing,
# or if the guest did not boot. It reports the guest's boot time and the total.
# Exit 77 (CTest: skipped) only when qemu or the kernel is not installed
# (scripts/install-deps.sh installs both), and never under CI.
set -euo pipefail

build=$(cd "${1:?usage: run_guest.sh BUILD_DIR [STEPS...]}" && pwd)
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
steps=("$@")
if ((${#steps[@]} == 0)); then
  steps=(root-v2 root-attack delegated-v2 delegated-attack nocpu-v2 undelegated-v2)
fi
start=$(date +%s.%N)

qemu=$(command -v qemu-system-x86_64 || true)
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$qemu" || -z "$kernel" || ! -x /bin/busybox ]]; then
  echo "run_guest.sh: SKIPPED: needs qemu-system-x86_64, a kernel in /boot and /bin/busybox" \
    "(run scripts/install-deps.sh: qemu-system-x86, linux-image-amd64, busybox-static)" >&2
  # CI installed them: there a missing guest is a failure, not a skip.
  [[ -n "${CI:-}" ]] && { echo "run_guest.sh: CI is set, so this is a failure" >&2; exit 1; }
  exit 77
fi
kver=${kernel#/boot/vmlinuz-}
moddir=/lib/modules/$kver
[[ -f $moddir/modules.dep ]] || { echo "run_guest.sh: $moddir/modules.dep is missing (reinstall linux-image-$kver)" >&2; exit 1; }

work=$(mktemp -d /tmp/isb-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,lower,upper,newroot,modules}
cp /bin/busybox "$root/bin/busybox"

# Modules in load order: each one's dependencies (modules.dep) first.
declare -A seen=()
order=()
add_module() {
  local name=$1 line path dep
  line=$(grep -E "(^|/)$name\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n 1 || true)
  [[ -n "$line" ]] || return 0  # built into this kernel
  path=${line%%:*}
  [[ -z "${seen[$path]:-}" ]] || return 0
  seen[$path]=1
  for dep in ${line#*:}; do
    dep=$(basename "$dep"); add_module "${dep%%.ko*}"
  done
  case "$path" in
    *.ko) cp "$moddir/$path" "$root/modules/" ;;
    *.ko.xz) xz -dc "$moddir/$path" > "$root/modules/$(basename "${path%.xz}")" ;;
    *.ko.zst) zstd -qdc "$moddir/$path" > "$root/modules/$(basename "${path%.zst}")" ;;
    *) echo "run_guest.sh: cannot unpack module $path" >&2; exit 1 ;;
  esac
  order+=("$(basename "${path%%.ko*}")")
}
for m in virtio_pci 9pnet_virtio 9p overlay; do add_module "$m"; done
printf '%s\n' "${order[@]}" > "$root/modules/order"
cp "$here/guest_init.sh" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

log=$build/vm_cgroup_v2_guest.log  # the whole console, kept for a look after a failure
echo "run_guest.sh: booting $kernel (TCG, 1 GiB) for steps: ${steps[*]}"
set +e
timeout 900 "$qemu" -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 panic=-1 quiet isb.guest=$here/guest_tests.sh isb.build=$build isb.steps=$(IFS=,; echo "${steps[*]}")" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -nic none -serial mon:stdio </dev/null 2>&1 | tr -d '\r' | tee "$log" | grep --line-buffered -E "^(ISB-VM|\[ *(RUN|OK|FAILED|SKIPPED|PASSED) *\]|.*Failure|Expected|  Actual|Which is|Value of)" 
qemu_status=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)

boot=$(grep -m1 -oE "ISB-VM-BOOTED [0-9.]+" "$log" | cut -d' ' -f2 || true)
failed=0
if [[ -z "$boot" ]]; then
  echo "run_guest.sh: FAIL: the guest did not boot (qemu exit $qemu_status); its console:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
for s in "${steps[@]}"; do
  if grep -q "^ISB-VM-STEP $s PASS" "$log"; then
    echo "run_guest.sh: step $s passed"
  elif grep -q "^ISB-VM-STEP $s FAIL" "$log"; then
    echo "run_guest.sh: FAIL: step $s failed in the guest" >&2; failed=1
  else
    echo "run_guest.sh: FAIL: step $s did not report (guest crashed or timed out; qemu exit $qemu_status)" >&2; failed=1
  fi
done
printf 'run_guest.sh: guest boot %.1f s (kernel start to tests), total %.1f s\n' "$boot" "$(awk "BEGIN{print $end - $start}")"
echo "run_guest.sh: the guest's console: $log"
exit $failed
