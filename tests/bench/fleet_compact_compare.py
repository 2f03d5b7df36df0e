#!/usr/bin/env python3
"""Migration 0004 (compact records) old against new in one run: two PostgreSQL servers, one
migrated by OLD_HOST (a smart-host before 0004: hash columns, the full action index), one by
NEW_HOST, each given the same STATIONS x RECORDS generated records (fleet_gen.py, rows as
fleet.ingest stores them), then each report timed on both, alternating, median of 3: the fleet
due list, out-of-tolerance impact and integrity, and for one station (--node) the audit pack for
a month, the gate activity (most of a station's records) and the trend (checks). Prints bytes a
record with indexes, and each report's wall time and the server's CPU time, old and new (JIT
off in both servers, as the new smart-host's reports set it).

    fleet_compact_compare.py --old-host OLD --new-host NEW --module-dir DIR --ledger LEDGER
        [--stations 2] [--records 1000000]"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'fleet'))
sys.path.insert(0, HERE)
import fleet_gen  # noqa: E402
import fleet_report_bench as frb  # noqa: E402
import pg_server  # noqa: E402


def setup(pg, host, ledger, stations, records):
    pg.psql('CREATE DATABASE fleet', db='postgres')
    # The old smart-host's reports let the server JIT-compile their queries (the new turns it
    # off, report_db.c): off for both, so that the schema alone differs.
    pg.psql('ALTER DATABASE fleet SET jit = off', db='postgres')
    frb.run([host, 'fleet', 'migrate', '--db', pg.url()])
    pg.psql('CREATE ROLE qm LOGIN IN ROLE fleet_reader')
    fleet_gen.generate(pg, fleet_gen.Source(ledger, records), stations, 12, log=lambda _: None)
    pg.psql('VACUUM ANALYZE fleet.records')
    _, rows, _ = pg.psql("SELECT sum(pg_total_relation_size(inhrelid)), (SELECT count(*) FROM "
                         "fleet.records) FROM pg_inherits WHERE inhparent = "
                         "'fleet.records'::regclass")
    return int(rows[0][0]) / int(rows[0][1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--old-host', required=True)
    ap.add_argument('--new-host', required=True)
    ap.add_argument('--module-dir', required=True)
    ap.add_argument('--ledger', required=True, help='a source ledger (fleet_report_bench.py\'s)')
    ap.add_argument('--stations', type=int, default=2)
    ap.add_argument('--records', type=int, default=1000000)
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    bindir = pg_server.find_bin()
    if bindir is None:
        print('SKIP: no PostgreSQL server binaries under /usr/lib/postgresql')
        return 77
    servers = {}
    try:
        for name, host in (('old', a.old_host), ('new', a.new_host)):
            servers[name] = pg_server.Server(bindir)
            per = setup(servers[name], host, a.ledger, a.stations, a.records)
            print('%s: %d stations x %d records, %.0f bytes a record with its indexes'
                  % (name, a.stations, a.records, per))
        kinds = [('due --within 200', ['due', '--within', '200']), ('oot', ['oot']),
                 ('integrity', ['integrity']),
                 ('audit --node st-000, a month', ['audit', '--node', 'st-000', '--from',
                                                   '2024-02-01', '--to', '2024-02-29']),
                 ('gate --node st-000', ['gate', '--node', 'st-000']),
                 ('trend --node st-000', ['trend', '--node', 'st-000'])]
        for title, args in kinds:
            runs = {'old': [], 'new': []}
            for _ in range(3):
                for name, host in (('old', a.old_host), ('new', a.new_host)):
                    pg = servers[name]
                    cmd = [host, 'report', args[0], '--from', pg.url('qm')] + args[1:] + [
                        '--format', 'csv', '--out', os.devnull]
                    runs[name].append(frb.timed(cmd, pg))
            med = {n: (statistics.median(r[0] for r in runs[n]),
                       statistics.median(r[2] for r in runs[n])) for n in runs}
            print('%-30s old %6.2f s wall %6.2f s server CPU | new %6.2f s wall %6.2f s server '
                  'CPU (median of 3, alternated)' % (title, med['old'][0], med['old'][1],
                                                     med['new'][0], med['new'][1]))
        return 0
    finally:
        for pg in servers.values():
            pg.close()


if __name__ == '__main__':
    sys.exit(main())
