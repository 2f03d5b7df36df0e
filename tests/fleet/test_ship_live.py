#!/usr/bin/env python3
"""Continuous shipping (README "Fleet", NODE.json "ship", host-stub/fleet/ship_live.h): a
running host ships its ledger to a PostgreSQL server started here while events run; the
database stopped and started again under it while the gate keeps answering; the host SIGKILLed
and started again (nothing lost, nothing doubled); `ledger.shipped` events checked against
schemas/output-event.schema.json; `ledger verify` naming the last shipped position;
`ledger ship` going on from the side file's byte offset, not from line 1; a database ahead of
the station (a station restored from an old copy) refusing the station's next record with an
alert; a bad "ship" refused naming the field and changing nothing. Every check waits for a
condition with a deadline, never a fixed sleep. Exit 77 only without PostgreSQL server
binaries."""
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ledgergen  # noqa: E402
import pg_server  # noqa: E402

HOST = os.environ['SMART_HOST']
SRC = os.environ['SOURCE_ROOT']
ENV = dict(os.environ, SMART_MODULE_PATH=os.environ['SMART_MODULE_DIR'])
failures = []
T0 = time.monotonic()


def check(cond, what):
    print('%5.1fs %s %s' % (time.monotonic() - T0, 'ok  ' if cond else 'FAIL', what), flush=True)
    if not cond:
        failures.append(what)


def host(*args):
    return subprocess.run([HOST] + list(args), capture_output=True, text=True, env=ENV)


class Station:
    """A running `smart-host run` fed through a pipe; its stdout and stderr read by threads."""

    def __init__(self, cfg_path):
        self.p = subprocess.Popen([HOST, 'run', cfg_path, '--clock', '2025-02-13T07:00:00Z'],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=ENV, bufsize=1)
        self.out = queue.Queue()
        self.lines, self.err = [], []
        threading.Thread(target=self._read, args=(self.p.stdout, self.out), daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    @staticmethod
    def _read(f, q):
        for line in f:
            q.put(line)
        q.put(None)

    def _read_err(self):
        for line in self.p.stderr:
            self.err.append(line)

    def send(self, event):
        self.p.stdin.write(json.dumps(event) + '\n')
        self.p.stdin.flush()

    def wait_for(self, pred, timeout=30):
        """Read output lines until one satisfies pred (returns it) or the deadline (None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.out.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                return None
            e = json.loads(line)
            self.lines.append(e)
            if pred(e):
                return e
        return None

    def gate(self, po, timeout=30):
        """One test.start; True once its gate.decision is printed (acknowledged)."""
        self.send({'topic': 'test.start', 'data': {'clientpo_id': po}})
        return self.wait_for(lambda e: e['topic'] == 'gate.decision' and
                             e['data']['clientpo_id'] == po, timeout) is not None

    def finish(self, timeout=60):
        self.p.stdin.close()
        rc = self.p.wait(timeout=timeout)
        while self.wait_for(lambda e: False, 5) is not None or not self.out.empty():
            pass
        return rc

    def shipped(self):
        return [e['data'] for e in self.lines if e['topic'] == 'ledger.shipped']


def make_station(work, name, node, url):
    d = os.path.join(work, name)
    shutil.copytree(os.path.join(SRC, 'examples', 'lp-station'), d)
    shutil.rmtree(os.path.join(d, 'var'), ignore_errors=True)
    cfg = json.load(open(os.path.join(d, 'node.json')))
    cfg['node_id'] = node
    if url is not None:
        cfg['ship'] = {'to': url}
    path = os.path.join(d, 'node.json')
    json.dump(cfg, open(path, 'w'))
    return path, os.path.join(d, 'var', 'ledger.jsonl')


def ledger_lines(path):
    with open(path, encoding='utf-8') as f:
        return f.readlines()


def db_chain(pg, node):
    """(records, ok, doubled, head_seq) as the database holds them for node."""
    _, rows, _ = pg.psql("SELECT records, ok FROM fleet.verify_chains('%s')" % node)
    _, dup, _ = pg.psql("SELECT count(*) - count(DISTINCT seq) FROM fleet.records WHERE "
                        "node_id = '%s'" % node)
    _, head, _ = pg.psql("SELECT head_seq FROM fleet.nodes WHERE node_id = '%s'" % node)
    rec, ok = (int(rows[0][0]), rows[0][1] == 't') if rows else (0, True)
    return rec, ok, int(dup[0][0]), int(head[0][0])


def expect_all_shipped(pg, node, ledger, what):
    lines = ledger_lines(ledger)
    rec, ok, doubled, head = db_chain(pg, node)
    _, last, _ = pg.psql("SELECT fleet.line_stored_hash(line) FROM fleet.records "
                         "WHERE node_id = '%s' AND seq = %d" % (node, len(lines)))
    want = json.loads(lines[-1])['hash']
    check(rec == len(lines) and ok and doubled == 0 and last == [[want]],
          '%s: the database holds every one of the ledger\'s %d records (%d, chain verified: %s,'
          ' %d doubled, head hash matches the ledger\'s: %s)' % (what, len(lines), rec, ok,
                                                                doubled, last == [[want]]))


def schema_validator():
    try:
        import jsonschema
        from jsonschema import Draft202012Validator
    except ImportError:
        return None
    schemas = {}
    for name in os.listdir(os.path.join(SRC, 'schemas')):
        s = json.load(open(os.path.join(SRC, 'schemas', name)))
        schemas[s['$id']] = s
    out = schemas['https://smart-node.example/schemas/output-event.schema.json']
    try:
        from referencing import Registry, Resource
        reg = Registry().with_resources([(k, Resource.from_contents(v))
                                         for k, v in schemas.items()])
        return Draft202012Validator(out, registry=reg)
    except ImportError:
        resolver = jsonschema.RefResolver.from_schema(out, store=schemas)
        return Draft202012Validator(out, resolver=resolver)


def main():
    return pg_server.run_test('smart-ship-live-', run, failures)


def run(pg, work):
    pg.psql('CREATE DATABASE fleet', db='postgres')
    r = host('fleet', 'migrate', '--db', pg.url())
    assert r.returncode == 0, r.stderr
    for node in ('live-1', 'live-2', 'live-3'):
        keydir = os.path.join(work, 'keys-' + node)
        assert host('keygen', keydir).returncode == 0
        r = host('fleet', 'register', '--db', pg.url(), '--node', node, '--role',
                 node.replace('-', '_'), '--key', os.path.join(keydir, 'node.pub'))
        assert r.returncode == 0, r.stderr
    url = {n: pg.url(n.replace('-', '_')) for n in ('live-1', 'live-2', 'live-3')}

    # A bad "ship" is refused before anything is touched: exit 2, the field named, no ledger.
    bad = [({'to': 'mysql://db.lab/fleet'}, 'ship.to: must be a postgresql:// URI'),
           ({'to': 5}, 'ship.to: must be a string'),
           ({'url': url['live-1']}, 'ship.url: unknown key'),
           ({'to': 'postgresql://[::1/fleet'}, 'ship.to: not a connection URI'),
           ('postgresql://db.lab/fleet', 'ship: must be an object')]
    for ship, expect in bad:
        cfg, ledger = make_station(work, 'bad', 'live-1', None)
        c = json.load(open(cfg))
        c['ship'] = ship
        json.dump(c, open(cfg, 'w'))
        p = subprocess.run([HOST, 'run', cfg, '--events', os.devnull], capture_output=True,
                           text=True, env=ENV)
        check(p.returncode == 2 and expect in p.stderr and 'node.json' in p.stderr and
              not os.path.exists(os.path.dirname(ledger)),
              'bad ship %s refused naming the field, nothing written: exit %d, %s' % (
                  json.dumps(ship), p.returncode, p.stderr.strip()))
        shutil.rmtree(os.path.dirname(cfg))

    # Shipping while events run: every record reaches the database, ledger.shipped says so.
    cfg, ledger = make_station(work, 'st1', 'live-1', url['live-1'])
    st = Station(cfg)
    st.send({'topic': 'clientpo.link', 'data': {'clientpo_id': 'PO-1',
                                                 'equipment': ['LP01-UVA-01']}})
    acks = sum(st.gate('PO-1') for _ in range(60))
    check(acks == 60, 'the gate answered all 60 test.start while shipping (%d)' % acks)
    n_now = len(ledger_lines(ledger))
    got = st.wait_for(lambda e: e['topic'] == 'ledger.shipped' and e['data']['seq'] >= n_now)
    check(got is not None, 'ledger.shipped reached seq %d while the host runs (%s)' % (
        n_now, got and got['data']))

    # The database stopped under the running host: the gate keeps answering meanwhile.
    pg.stop('fast')
    acks_down = sum(st.gate('PO-1', timeout=10) for _ in range(40))
    check(acks_down == 40, 'with the database down the gate answered all 40 test.start (%d)'
          % acks_down)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any('retrying with back-off' in x
                                                  for x in st.err):
        st.gate('PO-1', timeout=5)
    check(any('retrying with back-off' in x for x in st.err),
          'the shipper said the database is down, once: %s' % [
              x.strip() for x in st.err if 'ship:' in x][:2])
    down_seq = len(ledger_lines(ledger))
    _, _, _ = None, None, None
    pg.start()
    acks_up = sum(st.gate('PO-1') for _ in range(20))
    n_now = len(ledger_lines(ledger))
    got = st.wait_for(lambda e: e['topic'] == 'ledger.shipped' and e['data']['seq'] >= n_now)
    check(acks_up == 20 and got is not None and n_now > down_seq,
          'after the restart shipping caught up to seq %d (records written while down: %d)'
          % (n_now, n_now - down_seq))
    rc = st.finish()
    check(rc == 0 and any('reachable again' in x for x in st.err),
          'host exit %d; the shipper said the database was back' % rc)
    expect_all_shipped(pg, 'live-1', ledger, 'after the database restart and the host\'s stop')
    shipped = st.shipped()
    validator = schema_validator()
    bad_events = [] if validator is None else [
        (e, str(err.message)) for e in st.lines if e['topic'] == 'ledger.shipped'
        for err in validator.iter_errors(e)]
    seqs = [d['seq'] for d in shipped]
    check(shipped and not bad_events and seqs == sorted(seqs) and
          all(d['node_id'] == 'live-1' and d['to'].startswith('postgresql://live_1@/fleet?host=')
              for d in shipped),
          '%d ledger.shipped events, rising, valid against output-event.schema.json%s: %s' % (
              len(shipped), '' if validator else ' (no jsonschema: not validated)',
              bad_events[:1] or shipped[-1]))
    verify = host('ledger', 'verify', ledger)
    last = json.loads(ledger_lines(ledger)[-1])
    check(verify.returncode == 0 and 'last shipped: seq %d hash %s to postgresql://live_1@' % (
        last['seq'], last['hash']) in verify.stdout and '0 records after it not yet shipped'
          in verify.stdout, 'ledger verify names the last shipped position: %s' %
          verify.stdout.strip().splitlines()[-1])
    side = json.load(open(ledger + '.shipped'))
    check(side['seq'] == last['seq'] and side['hash'] == last['hash'] and
          ledger_lines(ledger)[-1] == open(ledger, 'rb').read()[side['offset']:side['next']]
          .decode(), 'the side file holds seq, byte range and hash of the head: %s' % side)

    # SIGKILL mid-run, then a restart: nothing lost, nothing doubled.
    st = Station(cfg)
    for i in range(30):
        st.gate('PO-1')
    st.p.send_signal(signal.SIGKILL)
    st.p.wait()
    st = Station(cfg)
    acks = sum(st.gate('PO-1') for _ in range(10))
    rc = st.finish()
    check(rc == 0 and acks == 10, 'restarted after SIGKILL: exit %d, %d answers' % (rc, acks))
    expect_all_shipped(pg, 'live-1', ledger, 'after SIGKILL and a restart')

    # `ledger ship` goes on from the side file's byte offset: a line before it made two lines
    # (a byte turned into a newline, the offsets unchanged) would throw a scan from line 1 off
    # by one record, and the database would refuse what it sent.
    node, path = 'live-3', os.path.join(work, 'live-3.jsonl')
    head = ledgergen.extend(path, node, 300)
    r = host('ledger', 'ship', path, '--to', url[node])
    check(r.returncode == 0 and 'held no record of the node: shipped from the first' in r.stdout,
          'the first ledger ship starts at the first record: %s' % r.stdout.strip())
    # Never a record past the limit (the live shipper's is the ledger's durable end).
    head = ledgergen.extend(path, node, 50, 301, head)
    r = host('ledger', 'ship', path, '--to', url[node], '--through', '320')
    rec, ok, doubled, dbhead = db_chain(pg, node)
    check(r.returncode == 0 and (rec, dbhead) == (320, 320),
          'ledger ship --through 320 stops at seq 320 (database head %d): %s%s' % (
              dbhead, r.stdout.strip(), r.stderr.strip()))
    data = bytearray(open(path, 'rb').read())
    at = data.index(b'"details":"x"', data.index(b'{"seq":3,')) + len('"details":"')
    data[at] = ord('\n')
    open(path, 'wb').write(bytes(data))
    r = host('ledger', 'ship', path, '--to', url[node])
    rec, ok, doubled, dbhead = db_chain(pg, node)
    check(r.returncode == 0 and 'went on from seq 320' in r.stdout and (rec, ok, dbhead) ==
          (350, True, 350), 'the next ledger ship went on from seq 320 at its byte offset: %s%s'
          ' (database: %d records, ok %s)' % (r.stdout.strip(), r.stderr.strip(), rec, ok))

    # A station configured with another station's role: refused before a record is sent, the
    # station works on, the other node's records untouched.
    before = db_chain(pg, 'live-3')
    cfg3, _ = make_station(work, 'st3', 'live-1', url['live-3'])
    st = Station(cfg3)
    st.send({'topic': 'clientpo.link', 'data': {'clientpo_id': 'PO-3',
                                                 'equipment': ['LP01-UVA-01']}})
    acks = sum(st.gate('PO-3') for _ in range(5))
    rc = st.finish()
    check(rc == 0 and acks == 5 and db_chain(pg, 'live-3') == before and
          any('registered for node live-3, not live-1' in x and 'shipping stopped' in x
              for x in st.err),
          'another station\'s role is refused, nothing sent, the station answered %d of 5: %s'
          % (acks, [x.strip() for x in st.err if 'ship:' in x][:1]))

    # The database ahead of the station (its ledger restored from an older copy): the station's
    # next record differs from the one stored at its seq, and the database refuses it with an
    # alert naming node and seq; the host works on.
    cfg2, ledger2 = make_station(work, 'st2', 'live-2', url['live-2'])
    os.makedirs(os.path.dirname(ledger2))
    head = ledgergen.extend(ledger2, 'live-2', 30)
    r = host('ledger', 'ship', ledger2, '--to', url['live-2'])
    assert r.returncode == 0, r.stderr
    lines = ledger_lines(ledger2)
    open(ledger2, 'w').writelines(lines[:20])
    st = Station(cfg2)
    st.send({'topic': 'clientpo.link', 'data': {'clientpo_id': 'PO-2',
                                                 'equipment': ['LP01-UVA-01']}})
    acks = sum(st.gate('PO-2') for _ in range(10))
    rc = st.finish()
    _, alerts, _ = pg.psql("SELECT seq, kind FROM fleet.alerts WHERE node_id = 'live-2'")
    rec, ok, doubled, dbhead = db_chain(pg, 'live-2')
    check(rc == 0 and acks == 10 and alerts == [['21', 'rewritten']] and
          (rec, ok, dbhead) == (30, True, 30) and
          any('refused record seq 21' in x and 'shipping stopped' in x for x in st.err),
          'a database ahead of the station refuses its next record (alert %s), keeps its 30, the '
          'station answered %d of 10: %s' % (alerts, acks,
                                               [x.strip() for x in st.err if 'ship:' in x][:2]))


if __name__ == '__main__':
    sys.exit(main())
