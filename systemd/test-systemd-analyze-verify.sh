#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-systemd-analyze-verify.sh UNIT [NAME]
#
# Runs `systemd-analyze verify` on UNIT, a copy of the unit NAME (default appserviced.service)
# whose ExecStart= points at the program in the build tree, so that verify finds an executable.
# systemd-analyze exits 0 on unknown keys and unparsable values and only prints a warning, so
# any output fails too.

set -euo pipefail

unit=${1:?usage: $0 UNIT [NAME]}
name=${2:-appserviced.service}

if ! analyze=$(command -v systemd-analyze); then
        echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
        exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify takes the unit's name from the file name.
cp "$unit" "$tmp/$name"

rc=0
out=$(SYSTEMD_LOG_COLOR=0 "$analyze" verify --man=no --recursive-errors=no \
        "$tmp/$name" 2>&1) || rc=$?

if [[ $rc -ne 0 || -n $out ]]; then
        echo "systemd-analyze verify failed (exit status $rc):"
        echo "$out"
        exit 1
fi
echo "ok: systemd-analyze verify accepts $name"
