#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-interfaces.sh XML...
#
# The introspection files must be well-formed XML, must be accepted by gdbus-codegen (which
# reads the doc comments too) and by GIO's introspection parser, and every type must be a valid
# D-Bus signature (gdbus-codegen does not check those).

set -euo pipefail

xmllint=$(command -v xmllint || :)
codegen=$(command -v gdbus-codegen || :)
if [[ -z $xmllint && -z $codegen ]]; then
        echo "SKIP: neither xmllint (libxml2-utils) nor gdbus-codegen (libglib2.0-dev-bin) is installed"
        exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ -n $xmllint ]]; then
        "$xmllint" --noout --nonet "$@"
        echo "ok: xmllint accepts $*"
fi
if [[ -n $codegen ]]; then
        "$codegen" --interface-prefix io.appservice1. --output-directory "$tmp" \
                --generate-c-code appservice-generated --generate-docbook doc "$@"
        echo "ok: gdbus-codegen accepts $*"
fi

if /usr/bin/python3 -c 'import gi' 2>/dev/null; then
        /usr/bin/python3 - "$@" <<'PY'
import sys
import xml.etree.ElementTree as ET
from gi.repository import Gio, GLib

bad = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        node = Gio.DBusNodeInfo.new_for_xml(f.read())
    for iface in node.interfaces:
        members = [(m.name, list(m.in_args) + list(m.out_args)) for m in iface.methods]
        members += [(s.name, list(s.args)) for s in iface.signals]
        types = [(f"{iface.name}.{name} arg {a.name}", a.signature) for name, args in members for a in args]
        types += [(f"{iface.name}.{p.name}", p.signature) for p in iface.properties]
        for what, signature in types:
            if not GLib.Variant.is_signature(signature) or not signature:
                print(f"{path}: {what}: invalid D-Bus type '{signature}'")
                bad += 1
    # GIO names nameless arguments arg_N and defaults directions: look at the file itself.
    for elem in ET.parse(path).iter():
        if elem.tag not in ("method", "signal"):
            continue
        for a in elem.iter("arg"):
            if not a.get("name"):
                print(f"{path}: {elem.get('name')}: an argument has no name")
                bad += 1
            if elem.tag == "method" and a.get("direction") not in ("in", "out"):
                print(f"{path}: {elem.get('name')}: argument {a.get('name')} has no direction")
                bad += 1
sys.exit(1 if bad else 0)
PY
        echo "ok: GIO parses $*; every type is valid, every argument named and directed"
else
        echo "note: python3-gi is not installed, D-Bus types not checked"
fi
