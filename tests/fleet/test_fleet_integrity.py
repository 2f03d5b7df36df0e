#!/usr/bin/env python3
"""What the fleet's integrity checks read (README "Fleet"), against a PostgreSQL server started
here with three stations shipped into it:
- `report integrity --from postgresql://...` gives each station's records, head and
  completeness as counting its rows would, while reading only a few index entries of
  fleet.records (the plan's actual rows, as auto_explain logs them for the report's role), not
  every stored record; a station whose first record was deleted is counted and found
  incomplete;
- `fleet.verify_chains(node)` (migration 0003) finds a record altered in the database (its
  stored line changed by the owner) for that node and not for the others, says what
  `fleet.verify_chains()` says for each node, reads only that node's records, may be called by
  a reader and not by a station.
Exit 77 only without PostgreSQL server binaries."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ledgergen  # noqa: E402
import pg_server  # noqa: E402

HOST = os.environ['SMART_HOST']
failures = []
T0 = time.monotonic()
NODES = ('in-a', 'in-b', 'in-c')
SIZES = {'in-a': 1500, 'in-b': 900, 'in-c': 600}


def check(cond, what):
    print('%5.1fs %s %s' % (time.monotonic() - T0, 'ok  ' if cond else 'FAIL', what), flush=True)
    if not cond:
        failures.append(what)


def host(*args):
    return subprocess.run([HOST] + list(args), capture_output=True, text=True)


def plans(log_path, offset, marker, whole=False):
    """The JSON plans auto_explain logged after byte `offset` whose query text holds `marker`
    (with `whole`, auto_explain's documents: the plan, and its JIT's work if any)."""
    text = open(log_path, encoding='utf-8', errors='replace').read()[offset:]
    found = []
    dec = json.JSONDecoder()
    for m in re.finditer(r'plan:\s*\n?', text):
        at = text.find('{', m.end())
        if at < 0:
            continue
        try:
            doc, _ = dec.raw_decode(text, at)
        except ValueError:
            continue
        if marker in doc.get('Query Text', ''):
            found.append(doc if whole else doc['Plan'])
    return found


def rows_read(plan, prefix='records_'):
    """Rows the plan's scans of tables named prefix* returned (actual rows x loops)."""
    n = 0
    if plan.get('Relation Name', '').startswith(prefix):
        n += plan.get('Actual Rows', 0) * plan.get('Actual Loops', 1)
    for p in plan.get('Plans', []):
        n += rows_read(p, prefix)
    return n


def integrity(pg, *extra):
    r = host('report', 'integrity', '--from', pg.url('qm'), '--format', 'json', *extra)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    rows = [s for s in doc['sections'] if s['id'] == 'integrity'][0]['rows']
    return {v['values']['station']: v['values'] for v in rows}


def run(pg, work):
    pg.psql('CREATE DATABASE fleet', db='postgres')
    r = host('fleet', 'migrate', '--db', pg.url())
    assert r.returncode == 0, r.stderr
    for node in NODES:
        keydir = os.path.join(work, 'keys-' + node)
        assert host('keygen', keydir).returncode == 0
        r = host('fleet', 'register', '--db', pg.url(), '--node', node, '--role',
                 node.replace('-', '_'), '--key', os.path.join(keydir, 'node.pub'))
        assert r.returncode == 0, r.stderr
        path = os.path.join(work, node + '.jsonl')
        ledgergen.extend(path, node, SIZES[node])
        r = host('ledger', 'ship', path, '--to', pg.url(node.replace('-', '_')))
        assert r.returncode == 0, r.stdout + r.stderr
    # The report's role logs each plan it runs with its actual rows (auto_explain, a module
    # of the server itself).
    pg.psql('CREATE ROLE qm LOGIN IN ROLE fleet_reader')
    for setting in ("session_preload_libraries = 'auto_explain'",
                    'auto_explain.log_min_duration = 0', 'auto_explain.log_analyze = on',
                    'auto_explain.log_format = json', 'auto_explain.log_nested_statements = on',
                    # Every query worth JIT-compiling, as the integrity query over a hundred
                    # stations' month partitions is (14 s of compiling for a 0.3 s report).
                    'jit_above_cost = 0'):
        pg.psql('ALTER ROLE qm SET ' + setting)
    _, jit, _ = pg.psql('SELECT pg_jit_available()')
    log = os.path.join(pg.dir, 'log')
    marker = 'FROM fleet.nodes n'

    offset = os.path.getsize(log)
    got = integrity(pg)
    _, counted, _ = pg.psql('SELECT node_id, count(*) FROM fleet.records GROUP BY node_id')
    counted = {n: int(c) for n, c in counted}
    check(all(got[n]['records'] == counted[n] == SIZES[n] and got[n]['head_seq'] == SIZES[n]
              and got[n]['complete'] is True for n in NODES),
          'integrity: records and head per station as counted (%s)' % {
              n: (got[n]['records'], got[n]['head_seq'], got[n]['complete']) for n in NODES})
    ps = plans(log, offset, marker)
    read = sum(rows_read(p) for p in ps)
    total = sum(SIZES.values())
    check(len(ps) == 1 and read < 100,
          'integrity read %d of fleet.records\' %d rows (plans logged: %d), not every record'
          % (read, total, len(ps)))
    check(not any('JIT' in d for d in plans(log, offset, marker, whole=True)),
          'the report\'s queries are not JIT-compiled (the server has JIT: %s)' % jit[0][0])

    # A station whose first record is gone (only the owner could): counted, and incomplete.
    pg.psql("DELETE FROM fleet.records WHERE node_id = 'in-c' AND seq = 1")
    got = integrity(pg)
    check(got['in-c']['records'] == SIZES['in-c'] - 1 and got['in-c']['complete'] is False and
          got['in-a']['complete'] is True,
          'a station without its seq 1 is counted (%d rows) and not complete' %
          got['in-c']['records'])

    # One chain re-hashed: a line changed in place (hash kept) is found for its node only.
    pg.psql("UPDATE fleet.records SET line = replace(line, '\"details\":\"x\"', "
            "'\"details\":\"y\"') WHERE node_id = 'in-b' AND seq = 100")
    _, every, _ = pg.psql('SELECT node_id, records, ok, first_bad_seq FROM fleet.verify_chains()')
    every = {r[0]: r[1:] for r in every}
    one = {}
    offset = os.path.getsize(log)
    for n in NODES:
        _, rows, _ = pg.psql("SELECT node_id, records, ok, first_bad_seq FROM "
                             "fleet.verify_chains('%s')" % n, user='qm')
        one[n] = rows
    check(one['in-b'] == [['in-b', '900', 'f', '100']] and
          one['in-a'] == [['in-a', '1500', 't', '']] and
          all(one[n] == [[n] + every[n]] for n in NODES),
          'verify_chains(node): in-b\'s altered seq 100 found, in-a intact, each as '
          'verify_chains() says (%s; all: %s)' % (one, every))
    ps = plans(log, offset, 'FROM fleet.records r')
    read = [rows_read(p) for p in ps]
    check(len(ps) == 3 and read == sorted(read, reverse=True) and read[0] <= SIZES['in-a'] + 2 and
          read[2] <= SIZES['in-c'] + 2,
          'verify_chains(node) read only the node\'s records: %s of %d' % (read, total))
    _, rows, _ = pg.psql("SELECT * FROM fleet.verify_chains('nobody')", user='qm')
    rc, _, err = pg.psql("SELECT * FROM fleet.verify_chains('in-a')", user='in_a', check=False)
    check(rows == [] and rc != 0 and 'permission denied for function verify_chains' in err,
          'an unregistered node gives no row; a station may not call it: %s' % err.strip())


def main():
    return pg_server.run_test('smart-fleet-integrity-', run, failures)


if __name__ == '__main__':
    sys.exit(main())
