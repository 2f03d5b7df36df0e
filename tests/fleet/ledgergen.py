"""Ledger lines in the host's format (host-stub/ledger/ledger.h): the fields in their order,
hash = SHA-256 of the line up to the quote closing prev_hash. The tests check each generated
ledger with `smart-host ledger verify`, so the generator cannot drift from the host."""
import datetime
import hashlib
import json

GENESIS = '0' * 64
BASE = datetime.datetime(2026, 1, 20, tzinfo=datetime.timezone.utc)


def line(seq, node, prev, details='x', minutes_apart=7):
    t = BASE + datetime.timedelta(minutes=minutes_apart * seq)
    prefix = ('{"seq":%d,"time":"%s","node_id":%s,"module":"smart-maintenance",'
              '"action":"gate.decision","target":"EQ-%d","details":%s,"user_id":"tech-1",'
              '"metadata":{"allowed":true},"prev_hash":"%s"'
              % (seq, t.strftime('%Y-%m-%dT%H:%M:%S.000Z'), json.dumps(node), seq % 97,
                 json.dumps(details), prev))
    h = hashlib.sha256(prefix.encode()).hexdigest()
    return prefix + ',"hash":"%s"}\n' % h, h


def extend(path, node, count, start_seq=1, prev=GENESIS):
    """Append records start_seq .. start_seq+count-1 chained to `prev`; returns the head hash."""
    with open(path, 'a', encoding='utf-8') as f:
        for seq in range(start_seq, start_seq + count):
            text, prev = line(seq, node, prev)
            f.write(text)
    return prev
