#!/usr/bin/env bash
# Builds the image the docker isolation tests and benchmarks run in, locally:
# no registry is reachable from these machines. The root filesystem is Debian's
# busybox-static (a shell and the usual tools in one static binary) plus a
# minimal /etc, imported with `docker import`. Idempotent: when the tag exists
# it prints it and returns at once.
# Usage: scripts/build-test-image.sh [tag]   (default isb-test:latest)
set -euo pipefail

tag="${1:-isb-test:latest}"
sock=/var/run/docker.sock

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-test-image: $tag exists" >&2
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
  echo "build-test-image: installing busybox-static" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends busybox-static
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,workspace,root,home/user}
cp /bin/busybox "$root/bin/busybox"
# One symlink per applet, in the directory busybox itself lists it under.
while read -r applet; do
  [[ -e "$root$applet" ]] || ln -s /bin/busybox "$root$applet"
done < <(/bin/busybox --list-full | sed 's|^|/|')
cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat >"$root/etc/group" <<'GR'
root:x:0:
user:x:1000:
nogroup:x:65534:
GR
chmod 1777 "$root/tmp"

tar -C "$root" -cf "$work/rootfs.tar" .
docker import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
  "$work/rootfs.tar" "$tag" >/dev/null
echo "build-test-image: built $tag from busybox-static ($(du -sh "$work/rootfs.tar" | cut -f1))" >&2
