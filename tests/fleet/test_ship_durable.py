#!/usr/bin/env python3
"""`smart-host ledger ship` sends only what is durable on the station (README "Fleet",
host-stub/fleet/durable_limit.h), against a PostgreSQL server started here:
- a running host holds the station's lock: only through the ledger's mark (LEDGER.verified,
  which the host writes after a sync), the records it appended after that are left, and the
  output says which limit applied; once the host has stopped, the lock is free and every
  complete line is shipped;
- the same with the lock held by this test and a mark written here (records past the host's
  durable mark), and a mark that does not fit the ledger (nothing is known durable: nothing
  shipped);
- a torn last line (no newline) is never shipped.
Exit 77 only without PostgreSQL server binaries."""
import fcntl
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ledgergen  # noqa: E402
import pg_server  # noqa: E402
from test_ship_live import Station, host, ledger_lines, make_station  # noqa: E402

failures = []
T0 = time.monotonic()


def check(cond, what):
    print('%5.1fs %s %s' % (time.monotonic() - T0, 'ok  ' if cond else 'FAIL', what), flush=True)
    if not cond:
        failures.append(what)


def db_head(pg, node):
    _, rows, _ = pg.psql("SELECT head_seq FROM fleet.nodes WHERE node_id = '%s'" % node)
    _, ok, _ = pg.psql("SELECT coalesce(bool_and(ok), true) FROM fleet.verify_chains('%s')"
                       % node)
    return int(rows[0][0]), ok[0][0] == 't'


def durable_line(out):
    return next((x for x in out.splitlines() if x.startswith('durable: ')), '(none)')


def write_mark(ledger, seq, hash_=None, ino=None):
    """LEDGER.verified as ledger_mark.h describes it: record `seq`'s byte range and hash."""
    lines = open(ledger, 'rb').read().split(b'\n')
    start = sum(len(x) + 1 for x in lines[:seq - 1])
    rec = json.loads(lines[seq - 1])
    st = os.stat(ledger)
    with open(ledger + '.verified', 'w') as f:
        json.dump({'seq': seq, 'start': start, 'end': start + len(lines[seq - 1]) + 1,
                   'hash': hash_ or rec['hash'], 'dev': st.st_dev,
                   'ino': st.st_ino if ino is None else ino}, f)


def run(pg, work):
    pg.psql('CREATE DATABASE fleet', db='postgres')
    r = host('fleet', 'migrate', '--db', pg.url())
    assert r.returncode == 0, r.stderr
    nodes = ('dur-1', 'dur-2', 'dur-3')
    for node in nodes:
        keydir = os.path.join(work, 'keys-' + node)
        assert host('keygen', keydir).returncode == 0
        r = host('fleet', 'register', '--db', pg.url(), '--node', node, '--role',
                 node.replace('-', '_'), '--key', os.path.join(keydir, 'node.pub'))
        assert r.returncode == 0, r.stderr
    url = {n: pg.url(n.replace('-', '_')) for n in nodes}

    # A real host: its first run leaves records; the second run's start verifies them, syncs
    # and marks them (LEDGER.verified), then appends more while it runs.
    cfg, ledger = make_station(work, 'st1', 'dur-1', None)
    link = {'topic': 'clientpo.link', 'data': {'clientpo_id': 'PO-1',
                                                'equipment': ['LP01-UVA-01']}}
    st = Station(cfg)
    st.send(link)
    assert sum(st.gate('PO-1') for _ in range(5)) == 5
    assert st.finish() == 0
    first_run = len(ledger_lines(ledger))
    st = Station(cfg)
    acks = sum(st.gate('PO-1') for _ in range(10))  # each answered once its record is synced
    running = len(ledger_lines(ledger))
    mark = json.load(open(ledger + '.verified'))
    r = host('ledger', 'ship', ledger, '--to', url['dur-1'])
    head, ok = db_head(pg, 'dur-1')
    check(acks == 10 and mark['seq'] == first_run and running > first_run and
          r.returncode == 0 and head == first_run and ok and
          'a host is running' in r.stdout and 'only through seq %d' % first_run in r.stdout,
          'with the host running, ledger ship stops at the mark, seq %d of the %d lines written '
          '(database head %d): %s%s' % (first_run, running, head, durable_line(r.stdout),
                                        r.stderr.strip()))
    rc = st.finish()
    total = len(ledger_lines(ledger))
    r = host('ledger', 'ship', ledger, '--to', url['dur-1'])
    head, ok = db_head(pg, 'dur-1')
    check(rc == 0 and r.returncode == 0 and head == total and ok and
          'no host holds' in r.stdout and 'the ledger synced' in r.stdout,
          'the host stopped: the lock is free and every line is shipped (head %d of %d): %s' % (
              head, total, durable_line(r.stdout)))

    # A torn last line, with no host: every complete line, never the torn one.
    path = os.path.join(work, 'dur-2.jsonl')
    prev = ledgergen.extend(path, 'dur-2', 50)
    torn, _ = ledgergen.line(51, 'dur-2', prev)
    with open(path, 'a') as f:
        f.write(torn[:-1])  # the whole record but its newline: a write the host never finished
    r = host('ledger', 'ship', path, '--to', url['dur-2'])
    head, ok = db_head(pg, 'dur-2')
    check(r.returncode == 0 and head == 50 and ok and
          'a last line without its newline (%d bytes) is not' % (len(torn) - 1) in r.stdout,
          'a torn last line is not shipped (database head %d): %s' % (head, durable_line(r.stdout)))

    # Records past a host's durable mark: the lock held here as a host holds it, the mark at
    # seq 20 of 50.
    path = os.path.join(work, 'dur-3.jsonl')
    ledgergen.extend(path, 'dur-3', 50)
    lock = open(path + '.lock', 'a+')
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.truncate(0)
    lock.write('%d\n' % os.getpid())
    lock.flush()
    write_mark(path, 20)
    r = host('ledger', 'ship', path, '--to', url['dur-3'])
    head, ok = db_head(pg, 'dur-3')
    check(r.returncode == 0 and head == 20 and ok and 'only through seq 20' in r.stdout and
          'held by process %d' % os.getpid() in r.stdout,
          'the lock held, records past the mark are not shipped (database head %d): %s' % (
              head, durable_line(r.stdout)))
    # A mark that does not fit the ledger says nothing durable: nothing more is shipped.
    for what, kw in (('another hash', {'hash_': 'ab' * 32}), ('another file', {'ino': 1})):
        write_mark(path, 40, **kw)
        r = host('ledger', 'ship', path, '--to', url['dur-3'])
        head, ok = db_head(pg, 'dur-3')
        check(r.returncode == 0 and head == 20 and 'nothing is shipped now' in r.stdout,
              'a mark naming %s: nothing shipped (database head %d): %s' % (
                  what, head, durable_line(r.stdout)))
    fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()
    r = host('ledger', 'ship', path, '--to', url['dur-3'])
    head, ok = db_head(pg, 'dur-3')
    check(r.returncode == 0 and head == 50 and ok and 'no host holds' in r.stdout,
          'the lock released: all 50 shipped (database head %d): %s' % (
              head, durable_line(r.stdout)))


def main():
    return pg_server.run_test('smart-ship-durable-', run, failures)


if __name__ == '__main__':
    sys.exit(main())
