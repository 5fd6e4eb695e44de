# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the cloud-message tests share: sending to io.appservice.cloud as an app or a provider,
and the ledger that counts every message the bridge accepted against every message a subscriber
received (lost, duplicated, out of order)."""

import re

from client import GLib, valueset
from mqttharness import CLOUD, PREFIX, wait_until

ID_RE = re.compile(r'^(?P<node>[^:]+):(?P<spool>[^:]+):(?P<n>[0-9]+)$')


def send(peer, message, **kw):
    """Service.SendMessage to io.appservice.cloud (an app's way); returns the Call."""
    return peer.service_send(CLOUD, message, **kw)


def submit(peer, message, action='telemetry', destination=CLOUD, **kw):
    """Manager.SubmitAction to io.appservice.cloud (a provider's way); returns the Call."""
    args = GLib.Variant.new_tuple(GLib.Variant('s', destination), GLib.Variant('s', action),
                                  message)
    return peer.manager('SubmitAction', '(ssa{sv})', args, **kw)


def accepted(result):
    """The bridge's answer {"status", "id"} of a successful Service.SendMessage."""
    answer = result.unpack(0, 'a{sv}')
    assert set(answer) == {'status', 'id'}, answer
    assert answer['status'] in ('delivered', 'queued'), answer
    assert ID_RE.match(answer['id']), answer
    return answer


def numbered(i, sender='test', extra=None):
    return valueset(dict({'Seq': GLib.Variant('x', i), 'Sender': GLib.Variant('s', sender)},
                         **(extra or {})))


def messages_topic(node, service=None):
    return '%s/%s/messages/%s' % (PREFIX, node, service or '#')


class Ledger:
    """Every id the bridge accepted (with the status it answered) against every message a
    subscriber received on a node's messages topics."""

    def __init__(self, subscriber, node):
        self.sub = subscriber
        self.node = node
        self.accepted = []          # ids, in the order their answers were read
        self.status = {}            # id -> 'delivered' | 'queued'
        self.refused = {}           # error name -> count
        self.prefix = '%s/%s/messages/' % (PREFIX, node)

    def record(self, result):
        if result.ok:
            answer = accepted(result)
            self.accepted.append(answer['id'])
            self.status[answer['id']] = answer['status']
            return answer
        self.refused[result.error] = self.refused.get(result.error, 0) + 1
        return None

    def received(self):
        """(id, receive time) of every message received on the node's topics, in order."""
        out = []
        for m in self.sub.snapshot(lambda m: m.topic.startswith(self.prefix)):
            out.append((m.json()['id'], m.at))
        return out

    def wait_all(self, timeout=30):
        want = set(self.accepted)
        wait_until(lambda: want <= {i for i, _ in self.received()}, timeout,
                   'every accepted message (%d) at the subscriber' % len(want), interval=0.05)

    def report(self, name, may_repeat=lambda i: False):
        """Counts, printed as a test output line; asserts nothing lost, duplicates only where
        `may_repeat(id)` says a PUBACK may have been lost, first occurrences in acceptance order
        (the id's sequence number). Returns the counts."""
        received = self.received()
        ids = [i for i, _ in received]
        seen, firsts, dups = set(), [], []
        for i in ids:
            if i in seen:
                dups.append(i)
            else:
                seen.add(i)
                firsts.append(i)
        acc = set(self.accepted)
        lost = [i for i in self.accepted if i not in seen]
        extra = [i for i in firsts if i not in acc]
        bad_dups = [i for i in dups if not may_repeat(i)]
        counts = {'accepted': len(self.accepted), 'refused': sum(self.refused.values()),
                  'received': len(ids), 'distinct': len(firsts), 'lost': len(lost),
                  'duplicates': len(dups), 'extra': len(extra)}
        print('cloud-messages %s: accepted %d, refused %d %s, received %d (distinct %d), '
              'lost %d, duplicates %d %s, extra (accepted, answer lost) %d' % (
                  name, counts['accepted'], counts['refused'], self.refused or '', len(ids),
                  len(firsts), len(lost), len(dups), sorted(set(dups)) if dups else '',
                  len(extra)))
        assert not lost, '%d accepted messages never arrived: %s' % (len(lost), lost[:20])
        assert not bad_dups, 'duplicates of messages whose PUBACK cannot have been lost: %s' % (
            bad_dups[:20],)
        keys = []
        for i in firsts:
            m = ID_RE.match(i)
            assert m and m.group('node') == self.node, 'id %r is not one of %s' % (i, self.node)
            keys.append((m.group('spool'), int(m.group('n'))))
        spools = {k[0] for k in keys}
        assert len(spools) == 1, 'ids from more than one spool: %s' % spools
        order = [n for _, n in keys]
        assert order == sorted(order), 'first occurrences out of acceptance order: %s' % (
            [(a, b) for a, b in zip(order, order[1:]) if b < a][:10],)
        # The acceptance order itself: what the bridge answered first it numbered first.
        numbers = [int(ID_RE.match(i).group('n')) for i in self.accepted]
        assert len(set(numbers)) == len(numbers), 'an id was given twice'
        # Each sender's own order (its messages carry Seq, sent in that order, one at a time or
        # several in flight on one bus connection, which keeps their order).
        by_sender = {}
        seen = set()
        for m in self.sub.snapshot(lambda m: m.topic.startswith(self.prefix)):
            body = m.json()
            if body['id'] in seen:
                continue
            seen.add(body['id'])
            msg = body.get('message', {})
            if 'Seq' in msg and 'Sender' in msg:
                by_sender.setdefault(msg['Sender'], []).append(msg['Seq']['@x'])
        for sender, seqs in by_sender.items():
            assert seqs == sorted(seqs), 'messages of %s out of order: %s' % (sender, seqs)
        return counts
