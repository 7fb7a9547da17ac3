#!/bin/busybox sh
# guest_init.sh: /init of the tests/vm guest's initramfs (run_guest.sh puts it
# there with busybox and the modules it needs). Mounts the host's root, which
# QEMU exports read-only over 9p ("hostroot"), under a tmpfs overlay so that
# the guest can write, and hands over to the guest script named on the kernel
# command line (isb.guest=), on that root. Any failure powers the guest off
# with a line saying what failed: the host then reports that it did not boot.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
  echo "ISB-VM-INIT-FAILED: $*"
  poweroff -f
}

for m in $(cat /modules/order); do
  insmod "/modules/$m.ko" || fail "insmod $m"
done
guest=
for arg in $(cat /proc/cmdline); do
  case "$arg" in isb.guest=*) guest=${arg#isb.guest=} ;; esac
done
[ -n "$guest" ] || fail "no isb.guest= on the kernel command line"

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o size=600m,mode=755 tmpfs /upper || fail "mount tmpfs"
mkdir -p /upper/rw /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/rw,workdir=/upper/work /newroot || fail "mount overlay"
umount /proc /sys
mount --move /dev /newroot/dev || umount /dev
exec switch_root /newroot /bin/bash "$guest"
