#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check-translatable.py SOURCE_DIR: fails when a user-visible string of the explorer is not
marked for translation, or a C file with marked strings is missing from po/POTFILES.in.

A string is user-visible when it is a literal argument of a call that puts text on screen
(labels, titles, tooltips, toasts, menu items, accessible labels...). Marked means written as
_("..."), C_("ctx", "..."), N_("...") or inside g_dngettext(). Literals without a letter
(separators, "—", format-only strings) are not text and are left alone."""

import os
import re
import sys

# Calls whose string literals are shown to the user.
VISIBLE_CALLS = (
    'gtk_label_new', 'gtk_label_set_text', 'gtk_label_set_label', 'gtk_label_set_markup',
    'gtk_button_new_with_label', 'gtk_button_new_with_mnemonic', 'gtk_button_set_label',
    'gtk_check_button_new_with_label', 'gtk_window_set_title', 'gtk_widget_set_tooltip_text',
    'gtk_entry_set_placeholder_text', 'gtk_stack_add_titled', 'gtk_stack_page_set_title',
    'g_menu_append', 'g_menu_item_new', 'adw_toast_new', 'explorer_window_toast',
    'adw_window_title_new', 'adw_window_title_set_subtitle', 'adw_status_page_set_title',
    'adw_status_page_set_description', 'adw_preferences_group_set_title',
    'adw_preferences_group_set_description', 'adw_preferences_row_set_title',
    'adw_action_row_set_subtitle', 'adw_message_dialog_new', 'adw_message_dialog_add_response',
    'adw_message_dialog_set_heading', 'adw_message_dialog_set_body', 'gtk_switch_new',
    'gtk_accessible_update_property',
)
CALL = re.compile(r'\b(%s)\s*\(' % '|'.join(VISIBLE_CALLS))
# A literal, with the ones C joins to it ("a " "b").
LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"(?:\s*"(?:[^"\\]|\\.)*")*')
MARKED_BEFORE = re.compile(r'(?:\b_|\bC_|\bN_|\bg_dngettext|\bngettext)\s*\(\s*(?:"(?:[^"\\]|\\.)*"\s*,\s*)?$')


def call_arguments(text, start):
    """The text of the call's arguments from the opening parenthesis at start."""
    depth, i = 0, start
    in_string = False
    while i < len(text):
        c = text[i]
        if in_string:
            if c == '\\':
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
        i += 1
    return text[start:]


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', lambda m: ' ' * len(m.group(0)), text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)


def check_file(path):
    problems = []
    text = strip_comments(open(path, encoding='utf-8').read())
    for call in CALL.finditer(text):
        args = call_arguments(text, call.end() - 1)
        for literal in LITERAL.finditer(args):
            if not re.search(r'[A-Za-z]', literal.group(0)):
                continue
            before = args[:literal.start()]
            if MARKED_BEFORE.search(before):
                continue
            # Property names and ids (no space, lower-case and dashes) are not text.
            if re.fullmatch(r'"[a-z0-9.\-_]+"', literal.group(0)):
                continue
            line = text.count('\n', 0, call.start()) + 1
            problems.append('%s:%d: %s(...%s...) is not marked for translation'
                            % (os.path.basename(path), line, call.group(1), literal.group(0)))
    return problems


def main():
    source_dir = sys.argv[1]
    potfiles = open(os.path.join(source_dir, 'po', 'POTFILES.in'), encoding='utf-8').read().split()
    problems = []
    for name in sorted(os.listdir(source_dir)):
        if not name.endswith('.c'):
            continue
        path = os.path.join(source_dir, name)
        problems += check_file(path)
        content = open(path, encoding='utf-8').read()
        if re.search(r'\b_\(|\bC_\(|\bN_\(', content) and 'apps/explorer/' + name not in potfiles:
            problems.append('%s: has translatable strings but is not in po/POTFILES.in' % name)
    for p in problems:
        print(p)
    print('%d problem(s)' % len(problems))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
