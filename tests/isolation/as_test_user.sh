#!/bin/sh
# as_test_user.sh: runs a command as the ordinary user the rootless jail tests
# run as, so that the jail's tests run once as root and once without root on
# the same host (CTest uses it as the CROSSCOMPILING_EMULATOR of the
# rootless test targets, and the e2e test starts the server through it).
#
#   as_test_user.sh PROGRAM [ARGS...]     # as $ISB_TEST_USER (isb-rootless)
#   as_test_user.sh --print               # "name uid gid home" of the user
#
# Started as root, it creates the user if it is missing (useradd, with a home
# directory and no password) and switches to it with setpriv: no supplementary
# groups, HOME, USER and LOGNAME of the user, no XDG_RUNTIME_DIR (the user has
# no login session; the backend then keeps its instance registry in
# ~/.local/state). Started as anyone else, it cannot switch: it says so and
# exits 77, which CTest reports as skipped (SKIP_RETURN_CODE), except for
# --gtest_list_tests, which needs no user and runs as it is (test discovery).
set -eu
user=${ISB_TEST_USER:-isb-rootless}

case " $* " in
  *" --gtest_list_tests "*) [ "$(id -u)" = 0 ] || exec "$@" ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "as_test_user.sh: SKIPPED: running as $(id -un), not root, so it cannot switch to the test user" \
    "'$user'; the rootless tests run without it as the current user already (the normal test entries)" >&2
  exit 77
fi
if ! id -u "$user" >/dev/null 2>&1; then
  # Two test processes may race to create it: the loser finds it made.
  useradd --create-home --user-group --shell /bin/sh "$user" 2>/dev/null || id -u "$user" >/dev/null 2>&1 || {
    echo "as_test_user.sh: SKIPPED: cannot create the test user '$user' with useradd" >&2
    exit 77
  }
fi
home=$(getent passwd "$user" | cut -d: -f6)
if [ "${1:-}" = "--print" ]; then
  echo "$user $(id -u "$user") $(id -g "$user") $home"
  exit 0
fi
exec env -u XDG_RUNTIME_DIR HOME="$home" USER="$user" LOGNAME="$user" \
  setpriv --reuid="$user" --regid="$user" --clear-groups --inh-caps=-all -- "$@"
