#!/usr/bin/env python3
"""Migration 0004 (compact records) on a fleet database that already holds records: three
stations with signed checkpoints are shipped into a database at version 3 (migrations 0001-0003
applied as `fleet migrate` applies them, fleet.records with its hash columns), then
`smart-host fleet migrate` upgrades it. After the upgrade every chain still verifies
(fleet.verify_chains() and (node) give the same rows), every fleet report and a kind read for
one station give the same bytes as before, a station ships on from its stored head (checkpoints
included), a forged and a forked record are still refused with their alerts, a second migrate
applies nothing, and a record stored at version 4 takes at least 150 bytes less (heap and
indexes) than at version 3. Exit 77 (skipped) only when no PostgreSQL server binaries are
installed."""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ledgergen  # noqa: E402
import pg_server  # noqa: E402
import test_fleet_reports as tr  # noqa: E402

ROOT = os.environ['SOURCE_ROOT']
MIGRATIONS = sorted(glob.glob(os.path.join(ROOT, 'host-stub', 'fleet', 'migrations',
                                           '[0-9]*.sql')))
# The fleet reports test's stations and helpers (its failures list is this test's too).
failures, check, host = tr.failures, tr.check, tr.host


def migrate_to(pg, db, version):
    """Migrations 1..version applied as fleet_migrate (fleet.c) applies them: each in one
    transaction with its row in fleet.schema_version."""
    pg.psql('CREATE SCHEMA IF NOT EXISTS fleet; CREATE TABLE IF NOT EXISTS fleet.schema_version '
            '(version integer PRIMARY KEY, name text NOT NULL, '
            'applied_at timestamptz NOT NULL DEFAULT now())', db=db)
    for path in MIGRATIONS:
        v, name = os.path.basename(path)[:-4].split('_', 1)
        if int(v) > version:
            break
        r = subprocess.run([os.path.join(pg.bin, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
                            '-1', pg.url(db=db), '-f', path, '-c',
                            "INSERT INTO fleet.schema_version (version, name) VALUES (%d, '%s')"
                            % (int(v), name)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError('%s: %s' % (path, r.stderr))


def records_bytes(pg, db):
    _, rows, _ = pg.psql("SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) "
                         "FROM pg_inherits WHERE inhparent = 'fleet.records'::regclass", db=db)
    return int(rows[0][0])


def main():
    return pg_server.run_test('smart-fleet-upgrade-', run, failures)


def run(pg, work):
    pg.psql('CREATE DATABASE fleet', db='postgres')
    admin = pg.url()
    migrate_to(pg, 'fleet', 3)
    pg.psql('CREATE ROLE qm LOGIN IN ROLE fleet_reader')
    ledgers = tr.three_stations(work, admin)
    # st-c ships its first half before the upgrade and the rest after it.
    c_lines = open(ledgers['st-c']).readlines()
    half = os.path.join(work, 'st-c-half', 'ledger.jsonl')
    os.makedirs(os.path.dirname(half))
    with open(half, 'w') as f:
        f.writelines(c_lines[:len(c_lines) // 2])
    for node, path in [('st-a', ledgers['st-a']), ('st-b', ledgers['st-b']), ('st-c', half)]:
        host('ledger', 'ship', path, '--to', pg.url('station_' + node.replace('-', '_')),
             '--node', node, rc=0)
    _, cps, _ = pg.psql('SELECT count(*) FROM fleet.checkpoints')
    check(int(cps[0][0]) > 0, 'the stations shipped signed checkpoints (%s)' % cps[0][0])

    def reports():
        out = {}
        for kind in ('due', 'oot', 'integrity'):
            out[kind] = host('report', kind, '--from', pg.url('qm'), '--format', 'json',
                             rc=0).stdout
        for kind in ('audit', 'history'):
            out[kind + ' st-a'] = host('report', kind, '--from', pg.url('qm'), '--node', 'st-a',
                                       '--format', 'json', rc=0).stdout
        return out

    def chains():
        _, every, _ = pg.psql('SELECT * FROM fleet.verify_chains()')
        one = [pg.psql("SELECT * FROM fleet.verify_chains('%s')" % n, user='qm')[1][0]
               for n in sorted(ledgers)]
        return every, one

    before, chains_before = reports(), chains()
    check(all(r[2] == 't' for r in chains_before[0]) and chains_before[0] == chains_before[1],
          'at version 3 every chain verifies: %s' % chains_before[0])

    r = host('fleet', 'migrate', '--db', admin, rc=0)
    check('fleet schema at version %d (1 migration applied now)' % len(MIGRATIONS) in r.stdout,
          'fleet migrate upgrades a database holding records: ' + r.stdout.strip())
    _, cols, _ = pg.psql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute "
                         "WHERE attrelid = 'fleet.records'::regclass AND attnum > 0 "
                         "AND NOT attisdropped")
    check(cols == [['node_id,seq,time,action,line,received_at']],
          'fleet.records keeps no hash columns: %s' % cols)
    check(chains() == chains_before, 'after the upgrade fleet.verify_chains() and (node) give '
          'the same rows')
    after = reports()
    for kind in before:
        check(after[kind] == before[kind], 'report %s: the same bytes after the upgrade' % kind)

    # st-c ships on from its stored head, its checkpoints checked against records stored
    # before the upgrade.
    cps_before = int(pg.psql("SELECT count(*) FROM fleet.checkpoints WHERE node_id = 'st-c'")[1]
                     [0][0])
    host('ledger', 'ship', ledgers['st-c'], '--to', pg.url('station_st_c'), rc=0)
    _, head, _ = pg.psql("SELECT head_seq, head_hash FROM fleet.nodes WHERE node_id = 'st-c'")
    last = json.loads(c_lines[-1])
    cps_after = int(pg.psql("SELECT count(*) FROM fleet.checkpoints WHERE node_id = 'st-c'")[1]
                    [0][0])
    _, ok, _ = pg.psql("SELECT records, ok FROM fleet.verify_chains('st-c')")
    check(head == [[str(last['seq']), last['hash']]] and ok == [[str(last['seq']), 't']] and
          cps_after > cps_before,
          'st-c ships its second half after the upgrade: head %s, chain %s, checkpoints %d -> %d'
          % (head, ok, cps_before, cps_after))
    _, stored, _ = pg.psql("SELECT fleet.line_stored_hash(line) FROM fleet.records "
                           "WHERE node_id = 'st-c' AND seq = %d" % last['seq'], user='qm')
    check(stored == [[last['hash']]], 'fleet.line_stored_hash gives a record\'s hash: %s' % stored)

    # The checks fleet.ingest makes, after the upgrade.
    forged = dict(last, seq=last['seq'] + 1, prev_hash=last['hash'], details='forged')
    fork, _ = ledgergen.line(last['seq'] + 1, 'st-c', 'f' * 64)
    for what, extra, kind in [('forged', json.dumps(forged, separators=(',', ':')) + '\n',
                               'forged'),
                              ('forked', fork, 'fork')]:
        path = os.path.join(work, what + '.jsonl')
        with open(path, 'w') as f:
            f.writelines(c_lines)
            f.write(extra)
        r = host('ledger', 'ship', path, '--to', pg.url('station_st_c'))
        _, alert, _ = pg.psql("SELECT kind, seq FROM fleet.alerts WHERE node_id = 'st-c' "
                              "ORDER BY id DESC LIMIT 1")
        check(r.returncode == 1 and alert == [[kind, str(last['seq'] + 1)]],
              'a %s record is refused after the upgrade, alert %s' % (what, alert))

    r = host('fleet', 'migrate', '--db', admin, rc=0)
    check('(0 migrations applied now)' in r.stdout, 'a second migrate applies nothing: ' +
          r.stdout.strip())

    # The room a record takes: the same 3,000 records shipped at version 3 and at version 4.
    bulk = os.path.join(work, 'bulk', 'ledger.jsonl')
    os.makedirs(os.path.dirname(bulk))
    ledgergen.extend(bulk, 'st-bulk', 3000)
    per = {}
    for version in (3, len(MIGRATIONS)):
        db = 'size%d' % version
        pg.psql('CREATE DATABASE %s' % db, db='postgres')
        migrate_to(pg, db, version)
        host('fleet', 'register', '--db', pg.url(db=db), '--node', 'st-bulk', '--role',
             'station_st_bulk', '--key', os.path.join(work, 'keys-st-a', 'node.pub'), rc=0)
        host('ledger', 'ship', bulk, '--to', pg.url('station_st_bulk', db), rc=0)
        per[version] = records_bytes(pg, db) / 3000.0
    check(per[len(MIGRATIONS)] <= per[3] - 150,
          'a record takes %.0f bytes with its indexes at version %d, %.0f at version 3'
          % (per[len(MIGRATIONS)], len(MIGRATIONS), per[3]))


if __name__ == '__main__':
    sys.exit(main())
