#!/usr/bin/env python3
"""A database that hangs never holds the host's stop (NODE.json "ship", fleet/ship_live.h).

The shipper's libpq calls blocked for as long as the database stayed silent: a server that takes
the TCP connection and never answers held the stop for libpq's connect_timeout (10 s), and a
PostgreSQL whose backend is stopped (SIGSTOP) held it for good (its statement_timeout is the
server's own, and a stopped server never applies it), past the SIGTERM stop a supervisor
allows. Now the last round at a stop gets 2 s, then its waits are given up: the host stops
within a few seconds, its ledger intact, and what was not shipped is shipped by the next run.

Two servers that hang: a listening socket here that reads and never answers (always run), and
this test's own PostgreSQL with the station's backend SIGSTOPped (skipped without PostgreSQL
server binaries). Each stop is timed against 5 s (the fix stops in about 2 s; without it, 10 s
and never). Every wait has a deadline; nothing sleeps and hopes."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_server  # noqa: E402
import test_ship_live as live  # noqa: E402
from test_ship_live import Station, host, make_station  # noqa: E402

STOP_BOUND_S = 5.0
check, failures = live.check, live.failures


def timed_stop(st, what):
    """End the input; True when the host ended (exit 0) within STOP_BOUND_S."""
    t = time.monotonic()
    st.p.stdin.close()
    try:
        rc = st.p.wait(timeout=STOP_BOUND_S)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t
    check(rc == 0, '%s: the host stopped within %.0f s (exit %s, %.1f s)' % (
        what, STOP_BOUND_S, rc, took))
    return rc is not None


def ledger_intact(ledger, what):
    r = host('ledger', 'verify', ledger)
    with open(ledger) as f:
        last = json.loads(f.readlines()[-1])
    check(r.returncode == 0 and last['action'] == 'host.stopped',
          '%s: the ledger verifies and ends with host.stopped (%s)' % (what, r.stdout.strip()))


class SilentServer:
    """Takes TCP connections on loopback and reads them, never answering."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.heard = threading.Event()  # a client's first bytes (libpq's startup packet)
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._drain, args=(c,), daemon=True).start()

    def _drain(self, c):
        try:
            while c.recv(65536):
                self.heard.set()
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def silent_tcp_server(work):
    srv = SilentServer()
    try:
        cfg, ledger = make_station(work, 'silent', 'stop-1',
                                   'postgresql://stop_1@127.0.0.1:%d/fleet' % srv.port)
        st = Station(cfg)
        check(st.gate('SC-STOP-1'), 'silent server: the gate answers while the shipper waits')
        check(srv.heard.wait(30), 'silent server: the shipper connected and sent its startup')
        if not timed_stop(st, 'silent server'):
            st.p.kill()
            st.p.wait()
        else:
            ledger_intact(ledger, 'silent server')
    finally:
        srv.close()


def stopped_backend(pg, work):
    pg.psql('CREATE DATABASE fleet', db='postgres')
    r = host('fleet', 'migrate', '--db', pg.url())
    assert r.returncode == 0, r.stderr
    keydir = os.path.join(work, 'keys')
    assert host('keygen', keydir).returncode == 0
    r = host('fleet', 'register', '--db', pg.url(), '--node', 'stop-2', '--role', 'stop_2',
             '--key', os.path.join(keydir, 'node.pub'))
    assert r.returncode == 0, r.stderr
    cfg, ledger = make_station(work, 'stopped', 'stop-2', pg.url('stop_2'))
    st = Station(cfg)
    check(st.gate('SC-STOP-2') and (st.shipped() or st.wait_for(
        lambda e: e['topic'] == 'ledger.shipped') is not None),
          'stopped backend: shipping while the backend runs')
    _, rows, _ = pg.psql("SELECT pid FROM pg_stat_activity WHERE usename = 'stop_2'")
    check(len(rows) == 1, 'stopped backend: the station has one backend (%s)' % rows)
    pid = int(rows[0][0])
    os.kill(pid, signal.SIGSTOP)
    try:
        check(st.gate('SC-STOP-3'), 'stopped backend: the gate answers with the backend stopped')
        stopped = timed_stop(st, 'stopped backend')
    finally:
        os.kill(pid, signal.SIGCONT)
    if not stopped:
        st.p.wait(timeout=60)
        return
    ledger_intact(ledger, 'stopped backend')
    # Nothing is lost: the next shipping run sends what the stop gave up.
    r = host('ledger', 'ship', ledger, '--to', pg.url('stop_2'))
    with open(ledger) as f:
        records = len(f.readlines())
    _, head, _ = pg.psql("SELECT head_seq FROM fleet.nodes WHERE node_id = 'stop-2'")
    check(r.returncode == 0 and head == [[str(records)]],
          'stopped backend: `ledger ship` afterwards stores every record (%s of %d)' % (
              head, records))


def main():
    work = tempfile.mkdtemp(prefix='smart-ship-stop-')
    try:
        silent_tcp_server(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rc = pg_server.run_test('smart-ship-stop-', stopped_backend, failures)
    return 1 if failures else (0 if rc in (0, 77) else rc)


if __name__ == '__main__':
    sys.exit(main())
