/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* contract_check_request() and contract_check_response() (daemon/contract-check.c) on messages
 * built in memory: the verdict and the exact sentence of each kind of violation, down through
 * records, arrays and maps, and what passes. */

#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "contract-check.h"
#include "unit-test.h"

static BusPair bus;
static Contract *contract;

static const char CONTRACT_TEXT[] =
        "interface org.example.check\n"
        "type Point (x: int32, y: int32, label: ?string)\n"
        "type Mode (off, heat)\n"
        "type Tree (name: string, children: []Tree)\n"
        "method Set(mode: Mode, at: ?Point) -> (previous: Mode)\n"
        "method Store(points: []Point, limits: [string]uint32, tree: ?Tree, raw: variant, any: object) -> ()\n"
        "method Loose(maybe: ?variant, list: ?[]variant) -> ()\n"
        "callback Tell(text: string) -> (seen: bool)\n"
        "error Refused(reason: string)\n";

/* A message whose body `fill` appends, sealed and ready to read. */
static sd_bus_message *message(int (*fill)(sd_bus_message *m)) {
        sd_bus_message *m = bus_pair_new_message(&bus);

        g_assert_cmpint(fill(m), >=, 0);
        g_assert_cmpint(message_seal_for_reading(m), >=, 0);
        return m;
}

/* The request's verdict: NULL when it passes, else the sentence. */
static char *request_verdict(int (*fill)(sd_bus_message *m), bool from_provider, const char *want_action) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = message(fill);
        const ContractMember *action = NULL;
        char *reason = NULL;
        int r = contract_check_request(contract, from_provider, m, &action, &reason);

        if (r >= 0) {
                g_assert_null(reason);
                g_assert_nonnull(action);
                g_assert_cmpstr(action->name, ==, want_action);
                return NULL;
        }
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_null(action);
        g_assert_nonnull(reason);
        return reason;
}

static char *response_verdict(int (*fill)(sd_bus_message *m), ContractMemberKind kind, const char *action) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = message(fill);
        char *reason = NULL;
        int r = contract_check_response(contract, contract_find(contract, kind, action), m, &reason);

        if (r >= 0) {
                g_assert_null(reason);
                return NULL;
        }
        g_assert_cmpint(r, ==, -EBADMSG);
        return reason;
}

#define EXPECT(call, want)                                   \
        do {                                                 \
                char *_got = (call);                         \
                g_assert_cmpstr(_got, ==, (want));           \
                free(_got);                                  \
        } while (0)

static int set_good(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 2, "Action", "s", "Set", "mode", "s", "heat");
}
static int set_action_last(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 3, "mode", "s", "off", "at", "a{sv}", 2, "x", "i", 1, "y", "i", 2,
                                     "Action", "s", "Set");
}
static int set_null_optional(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 3, "Action", "s", "Set", "mode", "s", "heat", "at", "av", 0);
}
static int no_action(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "mode", "s", "heat");
}
static int unknown_action(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "Action", "s", "Explode");
}
static int action_not_string(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "Action", "u", 7);
}
static int missing_key(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "Action", "s", "Set");
}
static int extra_key(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 3, "Action", "s", "Set", "mode", "s", "off", "why", "s", "cold");
}
static int bad_enum(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 2, "Action", "s", "Set", "mode", "s", "warm");
}
static int nested_wrong(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 3, "Action", "s", "Set", "mode", "s", "off", "at", "a{sv}", 2,
                                     "x", "i", 1, "y", "s", "two");
}
static int nested_missing(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 3, "Action", "s", "Set", "mode", "s", "off", "at", "a{sv}", 1,
                                     "x", "i", 1);
}
static int store_good(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 6, "Action", "s", "Store",
                                     "points", "aa{sv}", 1, 2, "x", "i", 1, "y", "i", 2,
                                     "limits", "a{su}", 1, "a", 5,
                                     "tree", "a{sv}", 2, "name", "s", "root", "children", "aa{sv}", 1, 2,
                                     "name", "s", "leaf", "children", "aa{sv}", 0,
                                     "raw", "(is)", 1, "x",
                                     "any", "a{sv}", 1, "whatever", "d", 1.5);
}
static int store_bad_element(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 5, "Action", "s", "Store",
                                     "points", "aa{sv}", 2, 2, "x", "i", 1, "y", "i", 2, 2, "x", "i", 1, "y", "u", 2,
                                     "limits", "a{su}", 0, "raw", "b", 1, "any", "a{sv}", 0);
}
static int store_bad_map(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 5, "Action", "s", "Store", "points", "aa{sv}", 0,
                                     "limits", "a{si}", 1, "a", -5, "raw", "b", 1, "any", "a{sv}", 0);
}
static int store_deep_tree(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 6, "Action", "s", "Store", "points", "aa{sv}", 0,
                                     "limits", "a{su}", 0, "raw", "b", 1, "any", "a{sv}", 0,
                                     "tree", "a{sv}", 2, "name", "s", "root", "children", "aa{sv}", 1, 2,
                                     "name", "s", "a", "children", "aa{sv}", 1, 1, "name", "u", 3);
}
/* An optional variant or av holding an av with elements: a value, not a broken null. */
static int loose_avs(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 3, "Action", "s", "Loose", "maybe", "av", 1, "i", 1,
                                     "list", "av", 2, "s", "a", "u", 2);
}
static int loose_nulls(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 3, "Action", "s", "Loose", "maybe", "av", 0, "list", "av", 0);
}

static int tell_good(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 2, "Action", "s", "Tell", "text", "s", "hi");
}

static void test_requests(void) {
        EXPECT(request_verdict(set_good, false, "Set"), NULL);
        EXPECT(request_verdict(set_action_last, false, "Set"), NULL);
        EXPECT(request_verdict(set_null_optional, false, "Set"), NULL);
        EXPECT(request_verdict(store_good, false, "Store"), NULL);
        EXPECT(request_verdict(tell_good, true, "Tell"), NULL);
        EXPECT(request_verdict(loose_avs, false, "Loose"), NULL);
        EXPECT(request_verdict(loose_nulls, false, "Loose"), NULL);
        EXPECT(request_verdict(no_action, false, NULL),
               "the request: no key 'Action' (s) naming the action (actions: Set, Store, Loose)");
        EXPECT(request_verdict(unknown_action, false, NULL),
               "the request: unknown action 'Explode' (the contract's actions: Set, Store, Loose)");
        EXPECT(request_verdict(action_not_string, false, NULL),
               "the request: key 'Action': expected string (s), got uint32 (u)");
        EXPECT(request_verdict(missing_key, false, NULL), "action 'Set': key 'mode': missing (Mode, s)");
        EXPECT(request_verdict(extra_key, false, NULL), "action 'Set': key 'why': not in the contract (it takes: mode, at)");
        EXPECT(request_verdict(bad_enum, false, NULL), "action 'Set': key 'mode': 'warm' is not one of Mode");
        EXPECT(request_verdict(nested_wrong, false, NULL), "action 'Set': key 'at.y': expected int32 (i), got string (s)");
        EXPECT(request_verdict(nested_missing, false, NULL), "action 'Set': key 'at.y': missing (int32, i)");
        EXPECT(request_verdict(store_bad_element, false, NULL),
               "action 'Store': key 'points[1].y': expected int32 (i), got uint32 (u)");
        EXPECT(request_verdict(store_bad_map, false, NULL),
               "action 'Store': key 'limits': expected [string]uint32 (a{su}), got a value (a{si})");
        EXPECT(request_verdict(store_deep_tree, false, NULL),
               "action 'Store': key 'tree.children[0].children[0].name': expected string (s), got uint32 (u)");
        /* A method is not a callback, nor the other way round. */
        EXPECT(request_verdict(tell_good, false, NULL),
               "the request: unknown action 'Tell' (the contract's actions: Set, Store, Loose)");
        EXPECT(request_verdict(set_good, true, NULL),
               "the request: unknown callback 'Set' (the contract's callbacks: Tell)");
}

static int previous_good(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "previous", "s", "off");
}
static int previous_wrong(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "previous", "i", 1);
}
static int refused(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 2, "Error", "s", "Refused", "reason", "s", "no");
}
static int refused_bare(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "Error", "s", "Refused");
}
static int undeclared_error(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "Error", "s", "Melted");
}
static int seen(sd_bus_message *m) {
        return sd_bus_message_append(m, "a{sv}", 1, "seen", "b", 1);
}

static void test_responses(void) {
        EXPECT(response_verdict(previous_good, CONTRACT_METHOD, "Set"), NULL);
        EXPECT(response_verdict(refused, CONTRACT_METHOD, "Set"), NULL);
        EXPECT(response_verdict(seen, CONTRACT_CALLBACK, "Tell"), NULL);
        EXPECT(response_verdict(previous_wrong, CONTRACT_METHOD, "Set"),
               "the response to action 'Set': key 'previous': expected Mode (s), got int32 (i)");
        EXPECT(response_verdict(refused_bare, CONTRACT_METHOD, "Set"),
               "the error Refused answering action 'Set': key 'reason': missing (string, s)");
        EXPECT(response_verdict(undeclared_error, CONTRACT_METHOD, "Set"),
               "the response to action 'Set': unknown error 'Melted' (the contract's errors: Refused)");
        EXPECT(response_verdict(previous_good, CONTRACT_CALLBACK, "Tell"),
               "the response to callback 'Tell': key 'previous': not in the contract (it takes: seen)");
}

int main(int argc, char *argv[]) {
        char *error = NULL;
        int r;

        unit_test_init(&argc, &argv);
        r = bus_pair_open(&bus);
        if (r < 0) {
                g_printerr("cannot set up a socketpair bus: %s\n", strerror(-r));
                return 1;
        }
        r = contract_parse(CONTRACT_TEXT, strlen(CONTRACT_TEXT), "check.contract", &contract, &error);
        if (r < 0) {
                g_printerr("the test's contract does not parse: %s\n", error);
                return 1;
        }
        g_test_add_func("/contract-check/requests", test_requests);
        g_test_add_func("/contract-check/responses", test_responses);
        r = g_test_run();
        contract_free(contract);
        bus_pair_close(&bus);
        return r;
}
