#!/usr/bin/env python3
"""The fleet database (README "Fleet", host-stub/fleet/): a real PostgreSQL server started
here; migrations run twice; three stations shipping at once; a shipper SIGKILLed at random
points and started again; the database stopped and restarted under a running shipper; a forged
record, a forked chain, a rewritten record and a gap refused with their alert rows; a station's
role refused when it writes another's records or touches a table. After each step every chain
is verified again inside the database (fleet.verify_chains) and counted: nothing lost, nothing
doubled. Exit 77 (skipped) only when no PostgreSQL server binaries are installed."""
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ledgergen  # noqa: E402
import pg_server  # noqa: E402

HOST = os.environ['SMART_HOST']
KILLS = int(os.environ.get('FLEET_KILLS', '20'))
failures = []


T0 = time.monotonic()


def check(cond, what):
    print('%5.1fs ' % (time.monotonic() - T0), end='')
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        failures.append(what)


def host(*args, check_rc=None):
    r = subprocess.run([HOST] + list(args), capture_output=True, text=True)
    if check_rc is not None and r.returncode != check_rc:
        raise RuntimeError('smart-host %s: exit %d: %s%s' % (' '.join(args), r.returncode,
                                                            r.stdout, r.stderr))
    return r


def chains(pg):
    """{node: (records, ok)} from the database's own check, and whether any (node, seq) is
    stored twice."""
    _, rows, _ = pg.psql('SELECT node_id, records, ok FROM fleet.verify_chains()')
    _, dup, _ = pg.psql('SELECT count(*) - count(DISTINCT (node_id, seq)) FROM fleet.records')
    return {r[0]: (int(r[1]), r[2] == 't') for r in rows}, int(dup[0][0])


def expect_chain(pg, node, records, what):
    got, doubled = chains(pg)
    check(got.get(node) == (records, True) and doubled == 0,
          '%s: %s holds %d records, chain verified in the database, none doubled (got %s, %d '
          'doubled)' % (what, node, records, got.get(node), doubled))


def make_ledger(work, node, n):
    path = os.path.join(work, node + '.jsonl')
    head = ledgergen.extend(path, node, n)
    host('ledger', 'verify', path, check_rc=0)  # the generator writes what the host writes
    return path, head


def main():
    return pg_server.run_test('smart-fleet-', run, failures)


def run(pg, work):
    pg.psql('CREATE DATABASE fleet', db='postgres')
    admin = pg.url()

    # Migrations, twice: the second run applies nothing and leaves the schema as it was.
    r1 = host('fleet', 'migrate', '--db', admin, check_rc=0)
    dump = [os.path.join(pg.bin, 'pg_dump'), '--schema-only', admin]
    def schema():  # pg_dump's \restrict lines carry a random key each run
        text = subprocess.run(dump, capture_output=True, text=True, check=True).stdout
        return [x for x in text.splitlines() if not x.startswith(('\\restrict', '\\unrestrict'))]
    schema1 = schema()
    r2 = host('fleet', 'migrate', '--db', admin, check_rc=0)
    schema2 = schema()
    _, versions, _ = pg.psql('SELECT version FROM fleet.schema_version ORDER BY version')
    count = len(glob.glob(os.path.join(os.environ['SOURCE_ROOT'], 'host-stub', 'fleet',
                                       'migrations', '[0-9]*.sql')))
    check('%d migration%s applied' % (count, 's' if count > 1 else '') in r1.stdout and
          '0 migrations applied' in r2.stdout,
          'migrate applies each migration once, then nothing: %r, %r' % (r1.stdout.strip(),
                                                                        r2.stdout.strip()))
    check(schema1 == schema2 and versions == [[str(v + 1)] for v in range(count)],
          'a second migrate changes nothing (pg_dump --schema-only identical, one version row)')

    stations = ['st-a', 'st-b', 'st-c']
    for node in stations + ['st-real']:
        keydir = os.path.join(work, 'keys-' + node)
        host('keygen', keydir, check_rc=0)
        host('fleet', 'register', '--db', admin, '--node', node, '--role',
             'station_' + node.replace('-', '_'), '--key', os.path.join(keydir, 'node.pub'),
             check_rc=0)

    def url(node):
        return pg.url('station_' + node.replace('-', '_'))

    def ship(path, node, *extra):
        return subprocess.Popen([HOST, 'ledger', 'ship', path, '--to', url(node), '--node',
                                 node] + list(extra), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    # Three stations at once.
    n = 3000
    ledgers = {node: make_ledger(work, node, n) for node in stations}
    procs = {node: ship(ledgers[node][0], node, '--batch', '250') for node in stations}
    outs = {node: p.communicate(timeout=120) + (p.returncode,) for node, p in procs.items()}
    for node in stations:
        out, err, rc = outs[node]
        check(rc == 0 and 'head seq %d hash %s' % (n, ledgers[node][1]) in out,
              'three at once: %s shipped to seq %d (%s%s)' % (node, n, out.strip(), err.strip()))
        expect_chain(pg, node, n, 'three at once')
    _, parts, _ = pg.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'fleet.records'"
                          "::regclass")
    check(int(parts[0][0]) >= 2, 'records spread over month partitions (%s)' % parts[0][0])
    r = ship(ledgers['st-a'][0], 'st-a')
    out, _ = r.communicate(timeout=60)
    check(r.returncode == 0 and '(0 stored now' in out, 'shipping again stores nothing: ' +
          out.strip())

    # A real ledger written by smart-host, with signed checkpoints and alerts in it.
    real = os.path.join(work, 'real')
    src = os.path.join(os.environ['SOURCE_ROOT'], 'examples', 'lp-station')
    subprocess.run(['cp', '-r', src + '/.', real], check=True)
    subprocess.run(['rm', '-rf', os.path.join(real, 'var')], check=True)
    cfg = json.load(open(os.path.join(real, 'node.json')))
    cfg['node_id'] = 'st-real'
    cfg['signing_key'] = os.path.join(work, 'keys-st-real', 'node.key')
    cfg['checkpoint_interval_s'] = 1
    json.dump(cfg, open(os.path.join(real, 'node.json'), 'w'))
    subprocess.run([HOST, 'run', os.path.join(real, 'node.json'), '--events',
                    os.path.join(real, 'scenario.jsonl'), '--clock', '2025-02-13T07:00:00Z'],
                   env=dict(os.environ, SMART_MODULE_PATH=os.environ['SMART_MODULE_DIR']),
                   check=True, capture_output=True)
    real_ledger = os.path.join(real, 'var', 'ledger.jsonl')
    real_n = sum(1 for _ in open(real_ledger))
    # Its checkpoints are checked with the registered key before they are sent: with another
    # station's key registered, shipping stops before the first checkpoint record.
    def register_real(keydir):
        host('fleet', 'register', '--db', admin, '--node', 'st-real', '--role', 'station_st_real',
             '--key', os.path.join(work, keydir, 'node.pub'), check_rc=0)
    first_cp = [json.loads(x)['seq'] for x in open(real_ledger)
                if '"action":"ledger.checkpoint"' in x][0]
    register_real('keys-st-a')
    p = ship(real_ledger, 'st-real')
    out, err = p.communicate(timeout=60)
    check(p.returncode == 1 and 'checkpoint record seq %d does not verify' % first_cp in err and
          'head seq %d ' % (first_cp - 1) in out,
          'a checkpoint signed with another key than the registered one is not shipped: %s' %
          err.strip())
    register_real('keys-st-real')
    p = ship(real_ledger, 'st-real')
    out, err = p.communicate(timeout=60)
    _, cps, _ = pg.psql("SELECT count(*) FROM fleet.checkpoints WHERE node_id = 'st-real'")
    _, alerts, _ = pg.psql("SELECT count(*) FROM fleet.records WHERE node_id = 'st-real' AND "
                           "action = 'alert.raised'")
    check(p.returncode == 0 and int(cps[0][0]) >= 1 and int(alerts[0][0]) >= 1,
          'a smart-host ledger ships whole: %d records, %s checkpoints, %s alerts (%s%s)' % (
              real_n, cps[0][0], alerts[0][0], out.strip(), err.strip()))
    expect_chain(pg, 'st-real', real_n, 'smart-host ledger')

    # SIGKILL at random points: before each run the ledger grows by 750 records, the run is
    # killed once the database holds a random number of them (a condition, not a delay), and
    # the next run resumes.
    path_a, head_a = ledgers['st-a']
    rng = random.Random(int(os.environ.get('FLEET_SEED', '17')))

    def head_of(node):
        return int(pg.psql("SELECT head_seq FROM fleet.nodes WHERE node_id = '%s'" % node)[1][0][0])

    heads, mid, length, t0 = [], 0, n, time.monotonic()
    for _ in range(KILLS):
        head_a = ledgergen.extend(path_a, 'st-a', 750, length + 1, head_a)
        length += 750
        target = head_of('st-a') + rng.randint(1, 700)
        p = ship(path_a, 'st-a', '--batch', '29')
        while p.poll() is None and head_of('st-a') < target:
            pass
        p.send_signal(signal.SIGKILL)
        p.communicate()
        heads.append(head_of('st-a'))
        mid += heads[-1] < length
    total = length
    p = ship(path_a, 'st-a')
    out, err = p.communicate(timeout=300)
    print('kills: %d in %.1f s, heads after each: %s' % (KILLS, time.monotonic() - t0, heads))
    check(p.returncode == 0 and 'head seq %d hash %s' % (total, head_a) in out,
          'after %d SIGKILLs the shipper finishes: %s%s' % (KILLS, out.strip(), err.strip()))
    check(mid >= KILLS // 2 and heads == sorted(heads),
          '%d of %d kills landed mid-ledger, the head never went back' % (mid, KILLS))
    expect_chain(pg, 'st-a', total, 'after the kills')

    # The database stopped and started again under a running shipper.
    path_b, head_b = ledgers['st-b']
    total_b = n + 8000
    head_b = ledgergen.extend(path_b, 'st-b', total_b - n, n + 1, head_b)
    p = ship(path_b, 'st-b', '--batch', '25', '--wait', '60')
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for a condition: the shipper has stored some
        _, rows, _ = pg.psql("SELECT head_seq FROM fleet.nodes WHERE node_id = 'st-b'")
        if int(rows[0][0]) > n:
            break
    pg.stop('fast')
    running = p.poll() is None
    pg.start()
    out, err = p.communicate(timeout=120)
    check(running, 'the shipper was still running when the database stopped')
    check(p.returncode == 0 and 'head seq %d hash %s' % (total_b, head_b) in out and
          ' 0 reconnects' not in out,
          'the shipper reconnected and finished: %s%s' % (out.strip(), err.strip()))
    expect_chain(pg, 'st-b', total_b, 'after the restart')

    # Refusals, each with its alert row; the stored head stays where it was.
    path_c, head_c = ledgers['st-c']

    def refused(lines, kind, seq, what):
        bad = os.path.join(work, 'bad-%s.jsonl' % kind)
        with open(path_c) as f, open(bad, 'w') as g:
            g.write(f.read())
            g.write(''.join(lines))
        p = ship(bad, 'st-c')
        out, err = p.communicate(timeout=60)
        _, rows, _ = pg.psql("SELECT node_id, seq, kind FROM fleet.alerts WHERE kind = '%s' "
                             "ORDER BY id DESC LIMIT 1" % kind)
        check(p.returncode == 1 and rows == [['st-c', str(seq), kind]] and
              'seq %d' % seq in err,
              '%s refused, alert (st-c, %d, %s) raised: %s' % (what, seq, kind, err.strip()))
        expect_chain(pg, 'st-c', n, 'after the %s' % what)

    good_next, _ = ledgergen.line(n + 1, 'st-c', head_c)
    forged = good_next.replace('"details":"x"', '"details":"y"')
    refused([forged], 'forged', n + 1, 'a forged record (bytes changed, hash kept)')
    fork, _ = ledgergen.line(n + 1, 'st-c', '1' * 64, details='other history')
    refused([fork], 'fork', n + 1, 'a forked chain (prev_hash not the stored head)')
    gap, _ = ledgergen.line(n + 1, 'st-c', head_c)
    gap = gap.replace('{"seq":%d,' % (n + 1), '{"seq":%d,' % (n + 5))
    rc, _, err = pg.psql("SELECT * FROM fleet.ingest($$%s$$)" % gap.strip(), user='station_st_c')
    _, rows, _ = pg.psql("SELECT seq, kind FROM fleet.alerts ORDER BY id DESC LIMIT 1")
    check(rows == [[str(n + 5), 'gap']], 'a gap refused with alert %s' % rows)
    cut = good_next.strip()[:-80] + '}'  # its hash cut off
    pg.psql("SELECT * FROM fleet.ingest($$%s$$)" % cut, user='station_st_c')
    _, rows, _ = pg.psql("SELECT node_id, seq, kind FROM fleet.alerts ORDER BY id DESC LIMIT 1")
    check(rows == [['st-c', str(n + 1), 'malformed']], 'a line without its hash refused with alert '
          '%s' % rows)
    # A rewritten record: the local ledger's history differs from what is stored.
    rewritten = os.path.join(work, 'rewritten.jsonl')
    ledgergen_path = os.path.join(work, 'rw')
    os.makedirs(ledgergen_path)
    with open(rewritten, 'w') as g:
        prev = ledgergen.GENESIS
        for seq in range(1, n + 3):
            text, prev = ledgergen.line(seq, 'st-c', prev, details='x' if seq < n else 'z')
            g.write(text)
    p = ship(rewritten, 'st-c')
    out, err = p.communicate(timeout=60)
    _, rows, _ = pg.psql("SELECT node_id, seq, kind FROM fleet.alerts ORDER BY id DESC LIMIT 1")
    check(p.returncode == 1 and rows == [['st-c', str(n), 'rewritten']],
          'a rewritten record refused with its alert %s: %s' % (rows, err.strip()))
    expect_chain(pg, 'st-c', n, 'after the rewrite')

    # A station's role writing another's records, or touching a table, is refused.
    p = subprocess.Popen([HOST, 'ledger', 'ship', path_a, '--to', url('st-b'), '--node', 'st-a'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 2 and 'registered for node st-b, not st-a' in err,
          '--node names the role\'s node: ' + err.strip())
    p = subprocess.Popen([HOST, 'ledger', 'ship', path_a, '--to', url('st-b')],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    _, rows, _ = pg.psql("SELECT node_id, kind, raised_by FROM fleet.alerts ORDER BY id DESC "
                         "LIMIT 1")
    check(p.returncode == 1 and rows == [['st-b', 'wrong_node', 'station_st_b']],
          'station_st_b shipping st-a\'s ledger is refused, alert %s' % rows)
    for sql in ["INSERT INTO fleet.records (node_id, seq, time, action, line) "
                "VALUES ('st-a', 999999, now(), 'x', 'x')",
                "UPDATE fleet.nodes SET head_seq = 0 WHERE node_id = 'st-a'",
                "DELETE FROM fleet.alerts",
                "SELECT count(*) FROM fleet.records",
                "SELECT fleet.register_node('st-x', 'station_st_b', 'k')"]:
        rc, _, err = pg.psql(sql, user='station_st_b', check=False)
        check(rc != 0 and 'permission denied' in err, 'station role refused: %s' % sql[:60])
    expect_chain(pg, 'st-a', total, 'after the other station\'s attempts')


if __name__ == '__main__':
    sys.exit(main())
