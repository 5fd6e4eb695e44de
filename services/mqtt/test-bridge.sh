#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# services/mqtt/test-bridge.sh BUILD_DIR: a smoke test of appservice-mqtt end to end, touching
# nothing of the system. A private bus, appserviced from the build tree serving the bridge and
# com.example.echo (AllowRemote=yes), and a mosquitto on a loopback port. It checks: a message
# sent to io.appservice.cloud arrives on the MQTT broker as README.md says (topic, JSON, user
# property) and is "delivered"; an action published by "the cloud" reaches echo and its outcome
# comes back with the correlation data; the MQTT broker down: "queued", and published once it is
# back; SIGKILL of the bridge with messages spooled: published after the broker restarted it;
# the spool full: ResourceLimitsExceeded; SIGTERM: the retained status "offline".
# TAP on stdout. Skipped (77) without dbus-daemon, mosquitto or its clients.
#
# The end-to-end tests of the contract live in tests/mqtt (another suite); this is the bridge's
# own quick check.

set -uo pipefail

build=${1:?usage: $0 BUILD_DIR}
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

for tool in dbus-daemon mosquitto mosquitto_pub mosquitto_sub; do
        command -v $tool >/dev/null || { echo "1..0 # SKIP no $tool"; exit 77; }
done

daemon=$build/daemon/appserviced
ctl=$build/appservicectl/appservicectl
bridge=$build/services/mqtt/appservice-mqtt
echo_provider=$build/examples/echo/echo-provider

tmp=$(mktemp -d -t appservice-mqtt.XXXXXX)
pids=()
cleanup() {
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                kill -TERM "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null
        done
        [[ -n ${mosquitto_pid:-} ]] && kill -KILL "$mosquitto_pid" 2>/dev/null
        [[ -n ${KEEP:-} ]] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() {    # check NAME COMMAND...
        local name=$1
        shift
        if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
wait_for() {    # wait_for SECONDS COMMAND...
        local deadline=$((SECONDS + $1))
        shift
        until "$@"; do
                ((SECONDS < deadline)) || return 1
                sleep 0.1
        done
}

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $tmp/
EOF
start_mosquitto() {
        mosquitto -c "$tmp/mosquitto.conf" >>"$tmp/mosquitto.log" 2>&1 &
        mosquitto_pid=$!
        wait_for 5 bash -c "echo >/dev/tcp/127.0.0.1/$port" 2>/dev/null
}
stop_mosquitto() {
        kill -"${1:-TERM}" "$mosquitto_pid"
        wait "$mosquitto_pid" 2>/dev/null
        mosquitto_pid=
}
start_mosquitto

cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <include>$root/tests/system-bus-policy.conf</include>
  <include>$root/systemd/io.appservice1.conf</include>
</busconfig>
EOF
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile 2>"$tmp/bus.log" &
pids+=($!)
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/bus
wait_for 5 test -S "$tmp/bus"

cat >"$tmp/mqtt.conf" <<EOF
[Broker]
URI=mqtt://127.0.0.1:$port
ClientId=node-a
KeepaliveSec=5
[Spool]
Directory=$tmp/spool
MaxMessages=5
[Cloud]
DeliveryWaitSec=2
EOF
mkdir "$tmp/services"
sed -e "s|^Exec=.*|Exec=${BRIDGE_WRAPPER:-} $bridge --config=$tmp/mqtt.conf|" -e "s|^RestartSec=.*||" \
        "$build/services/mqtt/io.appservice.cloud.appservice" >"$tmp/services/io.appservice.cloud.appservice"
echo "RestartSec=0" >>"$tmp/services/io.appservice.cloud.appservice"
cat >"$tmp/services/com.example.echo.appservice" <<EOF
[App Service]
Name=com.example.echo
Provider=com.example.Echo
Exec=$echo_provider
AllowRemote=yes
AllowRemotePrincipals=cloud
EOF

"$daemon" --system --services-dir="$tmp/services" --log-level=info 2>"$tmp/daemon.log" &
pids+=($!)

# Everything the bridge publishes, with the properties.
mosquitto_sub -p "$port" -V mqttv5 -t 'appservice/#' -F '%t|%C|%P|%D|%p' >"$tmp/seen" 2>/dev/null &
pids+=($!)
: >"$tmp/seen-after"
seen-after() { grep -aq -- "$1" "$tmp/seen-after"; }
seen() { grep -aq -- "$1" "$tmp/seen" "$tmp/seen-after"; }

echo "1..12"
check "the bridge is online (retained status)" wait_for 10 seen 'appservice/node-a/status|||.*"state":"online"'

# 1. a message to the cloud
out=$("$ctl" --json call io.appservice.cloud Temperature=21.5 Unit=C 2>&1)
check "a message is delivered" grep -q '"status":"delivered"' <<<"$out"
id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$out")
check "it is published with its id, node, service, time and typed message" wait_for 5 \
        grep -qE "^appservice/node-a/messages/@uid-0\|application/json\|message-id:$id\|\|\{\"id\":\"$id\",\"node\":\"node-a\",\"service\":\"@uid-0\",\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z\",\"message\":\{\"Temperature\":\{\"@d\":21.5\},\"Unit\":\"C\"\}\}$" \
        "$tmp/seen"

# 2. an action from the cloud
mosquitto_pub -p "$port" -V mqttv5 -q 1 -t appservice/node-a/actions/com.example.echo \
        -m '{"Action":"ping","Count":{"@u":3}}' -D publish response-topic appservice/node-a/responses/r1 \
        -D publish correlation-data corr-1
check "an action reaches the app service and its outcome comes back" wait_for 10 \
        grep -q '^appservice/node-a/responses/r1|application/json||corr-1|{"status":"ok","response":{"Action":"ping","Count":{"@u":3}}}$' \
        "$tmp/seen"
mosquitto_pub -p "$port" -V mqttv5 -q 1 -t appservice/node-a/actions/com.example.nothere -m '{}' \
        -D publish user-property action x -D publish response-topic appservice/node-a/responses/r2 \
        -D publish correlation-data corr-2
check "an action for an unknown service gets its error" wait_for 10 \
        grep -q '^appservice/node-a/responses/r2|application/json||corr-2|{"status":"error","error":"io.appservice1.Error.AppServiceUnavailable"' \
        "$tmp/seen"

# 3. the MQTT broker down: queued, then published when it is back
stop_mosquitto KILL
out=$("$ctl" --json call io.appservice.cloud Seq=@i\ 1 2>&1)
check "with the MQTT broker down, a message is queued" grep -q '"status":"queued"' <<<"$out"
"$ctl" --json call io.appservice.cloud 'Seq=@i 2' >/dev/null 2>&1
# 4. SIGKILL of the bridge with those two spooled; the broker restarts it (Restart=on-failure).
pkill -KILL -f "^$bridge " || :
"$ctl" --json call io.appservice.cloud 'Seq=@i 3' >/dev/null 2>&1
check "the spool holds the three messages" wait_for 5 bash -c "test \$(ls $tmp/spool/*.msg | wc -l) = 3"
"$ctl" --json call io.appservice.cloud 'Seq=@i 4' >/dev/null 2>&1
"$ctl" --json call io.appservice.cloud 'Seq=@i 5' >/dev/null 2>&1
out=$("$ctl" --json call io.appservice.cloud 'Seq=@i 6' 2>&1)
check "the spool full (MaxMessages=5): ResourceLimitsExceeded" grep -q 'ResourceLimitsExceeded' <<<"$out"
start_mosquitto
mosquitto_sub -p "$port" -V mqttv5 -t 'appservice/#' -F '%t|%C|%P|%D|%p' >"$tmp/seen-after" 2>/dev/null &
pids+=($!)
check "after the outage, the spooled messages are published in order" wait_for 20 bash -c \
        "grep -ao '\"Seq\":{\"@i\":[0-9]}' $tmp/seen-after | tr -dc 0-9 | grep -q '^12345$'"
check "and the spool is empty" wait_for 5 bash -c "! ls $tmp/spool/*.msg >/dev/null 2>&1"

# 5. the clean stop
pid=$(pgrep -f "^$bridge " | head -1)
kill -TERM "$pid"
check "SIGTERM: the retained status is offline" wait_for 5 seen-after 'appservice/node-a/status|||.*"state":"offline"'
check "no warnings or errors in the bridge's log" bash -c "! grep -E 'appservice-mqtt.*(warning|error|critical)' $tmp/daemon.log | grep -v 'refused\|ResourceLimits\|spool is full'"

[[ $failed == 0 ]] || { echo "# daemon log:"; sed 's/^/# /' "$tmp/daemon.log" | tail -60; }
exit $failed
