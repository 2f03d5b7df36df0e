#!/usr/bin/env python3
"""Fleet shipping benchmark: a PostgreSQL server of its own (tests/fleet/pg_server.py), one
station's ledger of --records generated records shipped by `smart-host ledger ship` in batches
of --batch, then three stations at once; prints records/s shipped (every record checked by
fleet.ingest in the database: its hash recomputed, its link to the stored head). Exit 77 when
no PostgreSQL server is installed."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fleet'))
import ledgergen  # noqa: E402
import pg_server  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', required=True)
    ap.add_argument('--records', type=int, default=200000)
    ap.add_argument('--batch', type=int, default=1000)
    a = ap.parse_args()
    bindir = pg_server.find_bin()
    if bindir is None:
        print('SKIP: no PostgreSQL server binaries under /usr/lib/postgresql')
        return 77
    work = tempfile.mkdtemp(prefix='smart-fleet-bench-')
    pg = pg_server.Server(bindir)
    try:
        pg.psql('CREATE DATABASE fleet', db='postgres')
        subprocess.run([a.host, 'fleet', 'migrate', '--db', pg.url()], check=True,
                       capture_output=True)
        nodes = ['bench-1', 'bench-2', 'bench-3', 'bench-4']
        for node in nodes:
            subprocess.run([a.host, 'keygen', os.path.join(work, node)], check=True,
                           capture_output=True)
            subprocess.run([a.host, 'fleet', 'register', '--db', pg.url(), '--node', node,
                            '--role', node.replace('-', '_'), '--key',
                            os.path.join(work, node, 'node.pub')], check=True,
                           capture_output=True)
        paths = {}
        for node in nodes:
            paths[node] = os.path.join(work, node + '.jsonl')
            ledgergen.extend(paths[node], node, a.records)

        def ship(nodes_now):
            t = time.monotonic()
            ps = [subprocess.Popen([a.host, 'ledger', 'ship', paths[n], '--to',
                                    pg.url(n.replace('-', '_')), '--batch', str(a.batch)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for n in nodes_now]
            for p in ps:
                out, err = p.communicate()
                if p.returncode != 0:
                    raise RuntimeError(err)
            return time.monotonic() - t

        one = ship(nodes[:1])
        print('one station: %d records in %.2f s: %.0f records/s shipped (batch %d)'
              % (a.records, one, a.records / one, a.batch))
        three = ship(nodes[1:])
        print('three stations at once: %d records in %.2f s: %.0f records/s shipped in all'
              % (3 * a.records, three, 3 * a.records / three))
        _, rows, _ = pg.psql('SELECT bool_and(ok), sum(records) FROM fleet.verify_chains()')
        print('every chain verified in the database: %s, %s records' % tuple(rows[0]))
        return 0 if rows[0][0] == 't' else 1
    finally:
        pg.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
