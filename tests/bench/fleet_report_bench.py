#!/usr/bin/env python3
"""Fleet due-list benchmark (issue 17): the time of `smart-host report due --from
postgresql://...` over STATIONS stations of RECORDS stored records each, in a PostgreSQL server
the benchmark starts itself (tests/fleet/pg_server.py).

One realistic station is generated through smart-host (report_bench.py's 40-item station: a
daily check of each item, 1,000 test starts a day, calibrations). Its first --check-records are
shipped with `smart-host ledger ship` (every record checked by fleet.ingest): the bytes a record
as stored, and the generator's rows for them compared with fleet.ingest's, byte for byte. The
fleet is then generated straight into fleet.records (fleet_gen.py, --workers at once): each
station st-NNN's ledger is the source's first RECORDS records with its own node_id and its own
chain hashed again, streamed by COPY, so the rows are what fleet.ingest would have stored and
fleet.verify_chains(node) passes (checked on the first and the last station). Generation stops
before the disk would keep less than --keep-free-gb free. Prints the generation time, the
table's size and bytes a record, how many rows the due list needs and reads against how many are
stored, and for the due list, out-of-tolerance impact and integrity the wall time, the report's
CPU time and the server's CPU time (median of three runs).

A configuration whose estimated size (the checked records' bytes a record, times its records)
exceeds --max-gb is skipped with its estimate; each configuration's stations are dropped before
the next.

    fleet_report_bench.py --host SMART_HOST --module-dir DIR
        [--stations N --records M | --configs 100x1000000,100x100000,10x1000000] [--max-gb 35]
        [--keep-free-gb 12] [--workers 2] [--check-records 20000] [--keep-station DIR]
        [--no-verify]"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'fleet'))
sys.path.insert(0, HERE)
import fleet_gen  # noqa: E402
import pg_server  # noqa: E402
import report_bench  # noqa: E402

SOURCE = fleet_gen.SOURCE
# What report_cli.c's REP_WANTS_DUE reads (report_ledger.c's table), for the printed count only.
DUE_ACTIONS = ("'store.opened','status.transition','calibration.recorded',"
               "'equipment.out_of_service','equipment.return_to_service',"
               "'calibration.scheduled','equipment.retired'")


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit('failed (%d): %s\n%s%s' % (p.returncode, ' '.join(cmd), p.stdout, p.stderr))
    return p


def make_station(host, module_dir, work, records):
    """report_bench.py's station through smart-host run; its ledger's path."""
    env = dict(os.environ, SMART_MODULE_PATH=module_dir)
    ledger = os.path.join(work, 'var', 'ledger.jsonl')
    if os.path.exists(ledger):
        return ledger
    os.makedirs(os.path.join(work, 'contracts'), exist_ok=True)
    with open(os.path.join(work, 'contracts', 'BR-CAL-001.json'), 'w') as f:
        json.dump(report_bench.contract(), f)
    with open(os.path.join(work, 'node.json'), 'w') as f:
        json.dump({'node_id': SOURCE, 'station_type': 'BR', 'ledger': 'var/ledger.jsonl',
                   'alerts': 'var/alerts.jsonl',
                   'modules': [{'path': 'smart-maintenance.so',
                                'config': {'contracts_dir': 'contracts',
                                           'data_dir': 'var/maintenance',
                                           'sweep_interval_s': 86400}}]}, f)
    with open(os.path.join(work, 'events.jsonl'), 'w') as f:
        report_bench.events(f, records)
    t = time.monotonic()
    run([host, 'run', os.path.join(work, 'node.json'), '--events',
         os.path.join(work, 'events.jsonl'), '--clock', '2023-01-02T04:00:00Z'], env)
    print('source station generated through smart-host run: %.1f s' % (time.monotonic() - t))
    return ledger


def server_cpu(pg):
    """The server's CPU seconds so far: the postmaster's own and its reaped backends'. A
    report's backend goes on for a moment after the report has returned: its CPU time is
    counted once no other client backend is left and the postmaster has reaped it."""
    for _ in range(100):
        _, n, _ = pg.psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                          "'client backend' AND pid <> pg_backend_pid()")
        if n[0][0] == '0':
            break
        time.sleep(0.05)
    time.sleep(0.1)
    with open(os.path.join(pg.data, 'postmaster.pid')) as f:
        pid = int(f.readline())
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    ticks = os.sysconf('SC_CLK_TCK')
    return sum(int(x) for x in fields[11:15]) / ticks  # utime stime cutime cstime


def timed(cmd, pg):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = server_cpu(pg)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit('failed (%d): %s\n%s' % (p.returncode, ' '.join(cmd), p.stderr))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, server_cpu(pg) - s0


def rows_read(pg):
    """Rows read from fleet.records so far, as the statistics count them (a report's backend
    has reported its own by the time it has exited)."""
    time.sleep(0.6)  # PostgreSQL flushes a backend's counts at most once a 0.5 s
    _, r, _ = pg.psql("SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))"
                      ", 0) FROM pg_stat_user_tables WHERE schemaname = 'fleet' AND relname LIKE "
                      "'records_%'")
    return int(r[0][0])


def report_times(pg, cmd):
    runs = [timed(cmd, pg) for _ in range(3)]
    return tuple(statistics.median(r[k] for r in runs) for k in range(3))


def one(pg, host, stations, records, source, bytes_per_record, max_gb, verify, workers,
        keep_free_gb):
    est = bytes_per_record * stations * records / 1e9
    print('\n== %d stations x %d records (estimated %.1f GB)' % (stations, records, est))
    if records > len(source):
        print('skipped: the source station holds %d records only' % len(source))
        return False
    if est > max_gb:
        print('skipped: over --max-gb %g' % max_gb)
        return False
    t0 = time.monotonic()
    made = fleet_gen.generate(pg, fleet_gen.Source(source.ledger, records), stations,
                              keep_free_gb, workers)
    pg.psql('ANALYZE fleet.records')
    print('generated %d stations x %d records in the database (%d workers): %.1f s '
          '(%.0f records/s)' % (made, records, workers, time.monotonic() - t0,
                                made * records / (time.monotonic() - t0)))
    measure(pg, host, verify)
    # The generated stations away, for the next configuration.
    pg.psql("DELETE FROM fleet.records WHERE node_id LIKE 'st-%%'")
    pg.psql("DELETE FROM fleet.nodes WHERE node_id LIKE 'st-%%'")
    pg.psql('VACUUM fleet.records')
    return True


def measure(pg, host, verify):
    """The figures for the fleet stored in `pg` (stations st-000..)."""
    _, made, _ = pg.psql("SELECT count(*), max(head_seq) FROM fleet.nodes")
    made, records = int(made[0][0]), int(made[0][1])
    _, rows, _ = pg.psql("SELECT sum(pg_total_relation_size(inhrelid)), "
                         "sum(pg_relation_size(inhrelid)), count(*) "
                         "FROM pg_inherits WHERE inhparent = 'fleet.records'::regclass")
    # Each station holds head_seq records (fleet.ingest stores none past a gap); those the due
    # list needs are counted in the (node_id, action, seq) index, not in a scan of every row.
    _, counts, _ = pg.psql("SELECT (SELECT sum(head_seq) FROM fleet.nodes), count(*) "
                           "FROM fleet.records WHERE action IN (%s)" % DUE_ACTIONS)
    total, needed = int(counts[0][0]), int(counts[0][1])
    print('fleet.records: %.1f GB with its indexes, %.0f bytes a record (%.0f of them the rows), '
          '%s month partitions; df: %.1f GB free'
          % (int(rows[0][0]) / 1e9, int(rows[0][0]) / total, int(rows[0][1]) / total, rows[0][2],
             shutil.disk_usage(pg.dir).free / 1e9))
    print('rows the due list needs: %d of %d (%.2f %%)' % (needed, total, 100.0 * needed / total))
    _, plan, _ = pg.psql("EXPLAIN SELECT line FROM fleet.records WHERE node_id = 'st-000' "
                         "AND action = ANY ('{store.opened,status.transition}'::text[]) "
                         "ORDER BY seq")
    print('plan for one station: %s' % ('index records_node_action_seq'
                                       if any('node_id_action_seq' in r[0] for r in plan)
                                       else 'NO INDEX: ' + ' / '.join(r[0] for r in plan[:3])))
    # The roles' report: a fleet_reader, as the quality manager would run it.
    pg.psql("DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'qm') THEN "
            "CREATE ROLE qm LOGIN IN ROLE fleet_reader; END IF; END$$")
    # --within 200: every item of every station listed (the interval is 180 days), not only
    # those due in the next 30 days.
    cmd = [host, 'report', 'due', '--from', pg.url('qm'), '--within', '200', '--format', 'csv',
           '--out', os.devnull]
    wall, cpu, srv = report_times(pg, cmd)
    lines = subprocess.run(cmd[:-2] + ['--out', '/dev/stdout'], capture_output=True,
                           text=True).stdout.count('\ndue_list,')
    print('fleet due list, %d stations x %d records: %.2f s wall, %.2f s CPU in smart-host, '
          '%.2f s CPU in the server (median of 3; %d due-list rows)'
          % (made, records, wall, cpu, srv, lines))
    read0 = rows_read(pg)
    timed(cmd, pg)
    print('rows the due list read (the statistics\' heap and index fetches and scans, one '
          'run): %d' % (rows_read(pg) - read0))
    for kind in ('oot', 'integrity'):
        wall, cpu, srv = report_times(pg, [host, 'report', kind, '--from', pg.url('qm'),
                                           '--format', 'csv', '--out', os.devnull])
        print('fleet %s report: %.2f s wall, %.2f s CPU in smart-host, %.2f s CPU in the server '
              '(median of 3)' % (kind, wall, cpu, srv))
    if verify:  # it re-hashes whole stored chains: once a run
        for node in sorted({'st-000', 'st-%03d' % (made - 1)}):
            t = time.monotonic()
            _, ok, _ = pg.psql("SELECT node_id, records, ok FROM fleet.verify_chains('%s')"
                               % node)
            print('fleet.verify_chains(\'%s\') (its chain re-hashed): %s (%.1f s)'
                  % (node, ok[0], time.monotonic() - t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', required=True)
    ap.add_argument('--module-dir', required=True)
    ap.add_argument('--configs', default='100x1000000,100x100000,10x1000000')
    ap.add_argument('--stations', type=int, help='one configuration: STATIONS x --records')
    ap.add_argument('--records', type=int, default=1000000)
    ap.add_argument('--max-gb', type=float, default=35)
    ap.add_argument('--keep-free-gb', type=float, default=12,
                    help='stop generating stations before the disk keeps less free')
    ap.add_argument('--workers', type=int, default=2, help='stations generated at once')
    ap.add_argument('--check-records', type=int, default=20000,
                    help='the source\'s records shipped through fleet.ingest, to compare the '
                    'generated rows with')
    ap.add_argument('--keep-station')
    ap.add_argument('--server-dir',
                    help='measure the fleet of a server this benchmark left running (its '
                    'directory, e.g. after the run was killed once generated), no generating; '
                    'the server is stopped and its directory removed after')
    ap.add_argument('--no-verify', action='store_true',
                    help='skip fleet.verify_chains(node) (it re-hashes a generated chain)')
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress as it goes, under meson too
    configs = ([(a.stations, a.records)] if a.stations else
               [tuple(int(x) for x in c.split('x')) for c in a.configs.split(',')])
    bindir = pg_server.find_bin()
    if bindir is None:
        print('SKIP: no PostgreSQL server binaries under /usr/lib/postgresql')
        return 77
    if a.server_dir:
        pg = pg_server.Server.__new__(pg_server.Server)
        pg.bin, pg.port, pg.dir = bindir, 5432, a.server_dir
        pg.data = os.path.join(pg.dir, 'data')
        pg.run_as = ['runuser', '-u', 'nobody', '--'] if os.geteuid() == 0 else []
        try:
            pg.psql('ANALYZE fleet.records')
            measure(pg, a.host, not a.no_verify)
        finally:
            pg.close()
        return 0
    work = tempfile.mkdtemp(prefix='smart-fleet-report-bench-')
    station_dir = a.keep_station or os.path.join(work, 'station')
    pg = pg_server.Server(bindir)
    try:
        ledger = make_station(a.host, a.module_dir, station_dir, max(r for _, r in configs))
        with open(ledger, 'rb') as f:
            source_n = sum(1 for _ in f)
        pg.psql('CREATE DATABASE fleet', db='postgres')
        run([a.host, 'fleet', 'migrate', '--db', pg.url()])
        run([a.host, 'keygen', os.path.join(work, 'keys')])
        run([a.host, 'fleet', 'register', '--db', pg.url(), '--node', SOURCE, '--role',
             'source_station', '--key', os.path.join(work, 'keys', 'node.pub')])
        # The source's first records through fleet.ingest (`ledger ship`): the bytes a record
        # as stored, and the rows the generator makes compared with those fleet.ingest stored.
        check_n = min(a.check_records, source_n)
        part = os.path.join(work, 'check', 'ledger.jsonl')
        os.makedirs(os.path.dirname(part))
        with open(ledger, encoding='utf-8') as f, open(part, 'w', encoding='utf-8') as out:
            for _ in range(check_n):
                out.write(f.readline())
        t = time.monotonic()
        run([a.host, 'ledger', 'ship', part, '--to', pg.url('source_station')])
        took = time.monotonic() - t
        print('source station: its first %d records shipped with ledger ship in %.1f s '
              '(%.0f records/s)' % (check_n, took, check_n / took))
        _, size, _ = pg.psql("SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                             "WHERE inhparent = 'fleet.records'::regclass")
        per = int(size[0][0]) / check_n
        print('stored by fleet.ingest: %.0f bytes a record with its indexes' % per)
        same, n = fleet_gen.check_ingest(pg, fleet_gen.Source(ledger, check_n))
        print('the generator\'s rows for those %d records are fleet.ingest\'s, byte for byte: %s'
              % (n, 'yes' if same else 'NO'))
        if not same:
            return 1
        # Not part of the fleet.
        pg.psql("DELETE FROM fleet.records WHERE node_id = '%s'" % SOURCE)
        pg.psql("DELETE FROM fleet.nodes WHERE node_id = '%s'" % SOURCE)
        pg.psql('VACUUM fleet.records')
        source = fleet_gen.Source(ledger, source_n)
        verify = not a.no_verify
        for stations, records in configs:
            if one(pg, a.host, stations, records, source, per, a.max_gb, verify, a.workers,
                   a.keep_free_gb):
                verify = False
        return 0
    finally:
        pg.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
