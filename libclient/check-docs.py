#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks the API reference of libappservice against its introspection data (TAP output).

    check-docs.py GIR DOCS_DIR GI_DOCGEN

- gi-docgen finds no undocumented symbol, parameter or return value;
- every public symbol of the GIR (class, constructor, method, function, property, signal,
  enumeration and its members, error domain) has its page in the generated reference;
- every one of them says since when it exists (Since: in the doc comment);
- every function that returns a pointer says who owns it;
- no inline code span (`...`) in the doc comments and pages holds a gtk-doc sigil (@name, %NAME,
  #Type): gi-docgen turns those into references even there, so that `@av []` showed as "av"
  and `<@i 5>` as "<". Such text goes in a fenced block, or in <code> with &#64; for the @.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = {
    "core": "http://www.gtk.org/introspection/core/1.0",
    "c": "http://www.gtk.org/introspection/c/1.0",
    "glib": "http://www.gtk.org/introspection/glib/1.0",
}
C_IDENTIFIER = "{%s}identifier" % NS["c"]
C_TYPE = "{%s}type" % NS["c"]
GLIB_ERROR_DOMAIN = "{%s}error-domain" % NS["glib"]
GLIB_GTYPE_STRUCT_FOR = "{%s}is-gtype-struct-for" % NS["glib"]

OWNERSHIP_WORDS = ("free", "owned by", "floating", "valid as long", "points into")

results = []


def check(ok, description, diagnostic=None):
    results.append((ok, description, diagnostic))


def doc_of(element):
    doc = element.find("core:doc", NS)
    return doc.text if doc is not None and doc.text else ""


def page(docs_dir, name):
    return os.path.join(docs_dir, name + ".html")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_symbol(docs_dir, kind, name, element, what):
    path = page(docs_dir, f"{kind}.{name}")
    check(os.path.exists(path), f"{what} has its page {os.path.basename(path)}")
    check(element.get("version") is not None, f"{what} says since when (Since:)")
    return path


def check_return_ownership(element, what):
    ret = element.find("core:return-value", NS)
    if ret is None:
        return
    type_element = ret.find("core:type", NS)
    if type_element is None:
        type_element = ret.find("core:array", NS)
    c_type = type_element.get(C_TYPE, "") if type_element is not None else ""
    if "*" not in c_type:
        return
    text = doc_of(ret).lower()
    check(any(word in text for word in OWNERSHIP_WORDS),
          f"{what} says who owns the pointer it returns", f"return value doc: {doc_of(ret)!r}")


def check_callables(docs_dir, owner, element, what_prefix):
    for tag, kind in (("constructor", "ctor"), ("method", "method"), ("function", "type_func")):
        for callable_ in element.findall(f"core:{tag}", NS):
            name = callable_.get("name")
            what = f"{what_prefix}{callable_.get(C_IDENTIFIER)}()"
            check_symbol(docs_dir, kind, f"{owner}.{name}", callable_, what)
            check_return_ownership(callable_, what)


SIGIL_IN_SPAN = re.compile(r"`(?:[^`\n]*?[^\w`])?[@%#][A-Za-z0-9_][^`\n]*`")


def check_no_sigils_in_code(name, text):
    """Inline code spans with a gtk-doc sigil, outside fenced blocks."""
    bad, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            bad += SIGIL_IN_SPAN.findall(line)
    check(not bad, f"{name}: no gtk-doc sigil inside an inline code span", "\n".join(bad))


def main():
    gir, docs_dir, gidocgen = sys.argv[1:4]
    content_dir = os.path.dirname(os.path.abspath(__file__))

    run = subprocess.run([gidocgen, "check", "--add-include-path", os.path.dirname(gir), gir],
                         capture_output=True, text=True)
    complaints = [line for line in (run.stdout + run.stderr).splitlines()
                  if "not documented" in line or "WARNING" in line or "ERROR" in line]
    check(run.returncode == 0 and not complaints, "gi-docgen check finds nothing undocumented",
          "\n".join(complaints) or f"exit status {run.returncode}")

    namespace = ET.parse(gir).getroot().find("core:namespace", NS)

    docs = "\n".join(d.text or "" for d in namespace.iter("{%s}doc" % NS["core"]))
    check_no_sigils_in_code("the doc comments (GIR)", docs)
    for page_name in ("overview.md", "threads.md", "walkthrough.md", "python.md", "limits.md"):
        check_no_sigils_in_code(page_name, read(os.path.join(content_dir, page_name)))

    for cls in namespace.findall("core:class", NS):
        name = cls.get("name")
        check_symbol(docs_dir, "class", name, cls, f"class {cls.get('{%s}type-name' % NS['glib'])}")
        check_callables(docs_dir, name, cls, "")
        for prop in cls.findall("core:property", NS):
            check_symbol(docs_dir, "property", f"{name}.{prop.get('name')}", prop,
                         f"property {name}:{prop.get('name')}")
        for signal in cls.findall("glib:signal", NS):
            check_symbol(docs_dir, "signal", f"{name}.{signal.get('name')}", signal,
                         f"signal {name}::{signal.get('name')}")

    for record in namespace.findall("core:record", NS):
        if record.get(GLIB_GTYPE_STRUCT_FOR):
            continue  # class structures of final types: nothing public in them
        name = record.get("name")
        check_symbol(docs_dir, "struct", name, record, f"record {name}")
        check_callables(docs_dir, name, record, "")

    for enum in namespace.findall("core:enumeration", NS):
        name = enum.get("name")
        kind = "error" if enum.get(GLIB_ERROR_DOMAIN) else "enum"
        path = check_symbol(docs_dir, kind, name, enum, f"enumeration {enum.get(C_TYPE)}")
        text = read(path) if os.path.exists(path) else ""
        for member in enum.findall("core:member", NS):
            identifier = member.get(C_IDENTIFIER)
            check(identifier in text and doc_of(member) != "",
                  f"enumeration member {identifier} is documented on the page of {name}")
        check_callables(docs_dir, name, enum, "")

    for func in namespace.findall("core:function", NS):
        if func.get("moved-to"):
            continue  # documented where it moved to (a type function, checked above)
        what = f"{func.get(C_IDENTIFIER)}()"
        check_symbol(docs_dir, "func", func.get("name"), func, what)
        check_return_ownership(func, what)

    for const in namespace.findall("core:constant", NS):
        check_symbol(docs_dir, "const", const.get("name"), const, f"constant {const.get(C_TYPE)}")

    print(f"1..{len(results)}")
    failed = 0
    for i, (ok, description, diagnostic) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} {description}")
        if not ok:
            failed += 1
            if diagnostic:
                for line in diagnostic.splitlines():
                    print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
