#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-dbus-policy.sh POLICY ACTIVATION-FILE
#
# Starts a private system-type dbus-daemon with the standard system bus default policy, the
# policy POLICY (io.appservice1.conf) included and ACTIVATION-FILE (io.appservice1.service) in its
# service directory, then checks:
#   - the daemon accepts the configuration (a broken include makes it refuse to start);
#   - io.appservice1 is activatable (the activation file parses);
#   - when run as root: root may own io.appservice1, nobody may not; nobody may send to
#     io.appservice1 on its interfaces but not on others.

set -euo pipefail

policy=$(realpath "${1:?usage: $0 POLICY ACTIVATION-FILE}")
activation=$(realpath "${2:?usage: $0 POLICY ACTIVATION-FILE}")
defaults=$(realpath "$(dirname "$0")/../tests/system-bus-policy.conf")

for tool in dbus-daemon dbus-send; do
        if ! command -v "$tool" >/dev/null; then
                echo "SKIP: $tool is not installed (Debian packages dbus-daemon, dbus-bin)"
                exit 77
        fi
done

tmp=$(mktemp -d)
bus_pid=
cleanup() {
        if [[ -n $bus_pid ]]; then
                kill "$bus_pid" 2>/dev/null || :
                wait "$bus_pid" 2>/dev/null || :
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*"
        exit 1
}

mkdir "$tmp/services"
cp "$activation" "$tmp/services/"
chmod 0755 "$tmp"   # so that nobody can reach the socket

cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$tmp/services</servicedir>
  <include>$defaults</include>
  <include>$policy</include>
</busconfig>
CONF

# Made here, not by the background job's redirection, so that reading it below cannot come first.
: >"$tmp/address"
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --print-address=3 \
        3>"$tmp/address" 2>"$tmp/bus.log" &
bus_pid=$!

address=
for _ in $(seq 100); do
        address=$(head -n1 "$tmp/address")
        [[ -n $address ]] && break
        if ! kill -0 "$bus_pid" 2>/dev/null; then
                wait "$bus_pid" || :
                bus_pid=
                cat "$tmp/bus.log"
                fail "dbus-daemon refused the configuration including $policy"
        fi
        sleep 0.1
done
[[ -n $address ]] || fail "dbus-daemon did not print its address"
echo "ok: dbus-daemon accepts the policy"

# call USER DEST PATH IFACE.MEMBER [ARGS...]: prints the reply or "Error <name>: ..."
call() {
        local user=$1
        shift
        local -a as_user=()
        if [[ $user != root ]]; then
                as_user=(setpriv --reuid="$user" --regid="$user" --clear-groups)
        fi
        "${as_user[@]}" dbus-send --bus="$address" --print-reply --reply-timeout=5000 \
                --dest="$1" "$2" "${@:3}" 2>&1 || :
}

out=$(call root org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListActivatableNames)
grep -q '"io.appservice1"' <<<"$out" || fail "io.appservice1 is not activatable: $out"
grep -qx 'SystemdService=appserviced.service' "$activation" \
        || fail "$activation does not name appserviced.service in SystemdService="
echo "ok: the activation file declares io.appservice1, started by appserviced.service"

if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null; then
        echo "not root or no setpriv: ownership and send rules not checked"
        exit 0
fi

nobody=65534

out=$(call $nobody org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.RequestName \
        string:io.appservice1 uint32:0)
grep -q 'Error org.freedesktop.DBus.Error.AccessDenied' <<<"$out" \
        || fail "nobody may own io.appservice1: $out"
echo "ok: nobody may not own io.appservice1"

# Sends are checked before activation, so with nobody owning the name an allowed call fails
# with an activation error (Exec=/bin/false) and a forbidden one with AccessDenied.
for iface in io.appservice1.Manager io.appservice1.Service io.appservice1.Connection \
             org.freedesktop.DBus.Introspectable org.freedesktop.DBus.Properties \
             org.freedesktop.DBus.ObjectManager org.freedesktop.DBus.Peer; do
        out=$(call $nobody io.appservice1 /io/appservice1 "$iface.Test")
        grep -q 'Error org.freedesktop.DBus.Error.Spawn' <<<"$out" \
                || fail "nobody may not send $iface to io.appservice1: $out"
done
echo "ok: nobody may send to io.appservice1 on its interfaces"

out=$(call $nobody io.appservice1 /io/appservice1 org.example.NotOurs.Test)
grep -q 'Error org.freedesktop.DBus.Error.AccessDenied' <<<"$out" \
        || fail "nobody may send other interfaces to io.appservice1: $out"
echo "ok: nobody may not send other interfaces to io.appservice1"

out=$(call root org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.RequestName \
        string:io.appservice1 uint32:0)
grep -q 'uint32 1' <<<"$out" || fail "root may not own io.appservice1: $out"
echo "ok: root may own io.appservice1"
