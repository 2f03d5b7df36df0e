#!/usr/bin/env python3
"""The status board's HTTP API and WebSocket (README "The status board"), against a running
smart-host: every endpoint's JSON against its schema in schemas/, paging, ?since= after a
disconnect losing nothing, a client that never reads dropped without holding anything up,
malformed requests answered 400 (logged) with the host still serving, nothing but GET, and the
bearer token: a non-loopback listen without one refuses to start, a request without it is
refused (401).

Usage: test_board_http.py --host build/host-stub/smart-host --module-dir build/plugin
"""
import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from board_lib import ROOT, TIMEOUT, BoardHost, validators  # noqa: E402

import websockets  # noqa: E402  (python3-websockets)

ARGS = None
BASE = "https://smart-node.example/schemas/"


def scenario_events():
    with open(os.path.join(ROOT, "examples", "lp-station", "scenario.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


class Schemas:
    _v = None

    @classmethod
    def get(cls):
        if cls._v is None:
            import validate  # on sys.path through board_lib.validators
            schemas = validate.load_schemas(ROOT)
            schemas["ws-message.test.json"] = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": BASE + "ws-message.test.json",
                "$ref": "board-events.schema.json#/$defs/ws"}
            cls._v = validate.make_validators(schemas)
        return cls._v

    @classmethod
    def check(cls, name, value):
        errors = sorted(cls.get()[name].iter_errors(value), key=str)
        if errors:
            raise AssertionError("%s: %s\n%s" % (name, errors[0].message,
                                                 json.dumps(value)[:2000]))


validators()  # puts tests/schemas on sys.path


async def ws_connect(host, headers=None):
    h = dict(headers or {})
    if host.token and "Authorization" not in h:
        h["Authorization"] = "Bearer " + host.token
    return await websockets.connect("ws://127.0.0.1:%d/ws" % host.port, extra_headers=h,
                                    open_timeout=TIMEOUT, max_size=None)


async def ws_recv(ws):
    """The next event (or the hello): a message is the hello or an array of events."""
    pending = ws_pending.setdefault(id(ws), [])
    if not pending:
        m = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        Schemas.check("ws-message.test.json", m)
        pending.extend(m if isinstance(m, list) else [m])
    return pending.pop(0)


ws_pending = {}


class BoardApi(unittest.TestCase):
    """The demo's scenario on the board, then each endpoint."""

    @classmethod
    def setUpClass(cls):
        cls.host = BoardHost(ARGS.host, ARGS.module_dir)
        for ev in scenario_events():
            cls.host.fifo.write(json.dumps(ev) + "\n")
        cls.host.fifo.flush()
        cls.host.wait_topic("status", lambda d: d["as_of"] == "2025-02-13T09:50:00Z")

    @classmethod
    def tearDownClass(cls):
        rc = cls.host.stop()
        cls.host.cleanup()
        assert rc == 0, rc

    def test_page_and_its_assets(self):
        for path, ctype, needle in [("/", "text/html", b'src="/board.js"'),
                                    ("/board.css", "text/css", b"--ok"),
                                    ("/board.js", "text/javascript", b"/api/status")]:
            status, headers, body = self.host.request(path)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers["content-type"].startswith(ctype), headers)
            self.assertIn(needle, body)
            self.assertIn("default-src 'self'", headers["content-security-policy"])

    def test_status_validates_and_pages(self):
        whole = self.host.get_json("/api/status")
        Schemas.check("board-status.schema.json", whole)
        self.assertEqual(whole["summary"]["total"], 7)
        self.assertEqual(whole["as_of"], "2025-02-13T09:50:00Z")
        self.assertIsNone(whole["next_after"])
        ids = [e["equipment_id"] for e in whole["equipment"]]
        self.assertEqual(ids, sorted(ids))
        paged, after = [], None
        while True:
            page = self.host.get_json("/api/status?limit=3" + ("&after=" + after if after else ""))
            Schemas.check("board-status.schema.json", page)
            self.assertLessEqual(len(page["equipment"]), 3)
            paged += page["equipment"]
            after = page["next_after"]
            if after is None:
                break
        self.assertEqual(paged, whole["equipment"])
        thm = next(e for e in whole["equipment"] if e["equipment_id"] == "LP01-THM-01")
        self.assertTrue(thm["ready"])  # calibrated at 09:30
        self.assertEqual(thm["status"], "current")

    def test_alerts_and_decisions_validate(self):
        alerts = self.host.get_json("/api/alerts?since=0")
        Schemas.check("board-events.schema.json", alerts)
        self.assertTrue(alerts["complete"])
        types = [a["data"]["alert_type"] for a in alerts["alerts"]]
        self.assertEqual(types, ["calibration_expired", "equipment_not_ready"])
        decisions = self.host.get_json("/api/decisions?since=0")
        Schemas.check("board-events.schema.json", decisions)
        verdicts = [(d["data"]["allowed"], d["data"]["blocking"]) for d in decisions["decisions"]]
        self.assertEqual(verdicts, [(False, ["LP01-THM-01"]), (True, [])])
        seq = decisions["seq"]
        later = self.host.get_json("/api/decisions?since=%d" % seq)
        self.assertEqual(later["decisions"], [])

    def test_ledger_recent_validates(self):
        recent = self.host.get_json("/api/ledger/recent?limit=3")
        Schemas.check("board-ledger.schema.json", recent)
        self.assertEqual(len(recent["records"]), 3)
        seqs = [r["seq"] for r in recent["records"]]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 3)))
        self.assertEqual(seqs[-1], recent["seq"])
        default = self.host.get_json("/api/ledger/recent")
        self.assertEqual(len(default["records"]), 20)
        Schemas.check("board-ledger.schema.json", default)

    def test_malformed_requests_are_400_and_logged(self):
        for path in ["/api/alerts?since=abc", "/api/alerts?since=-1", "/api/decisions?since=",
                     "/api/alerts?since=1&since=2", "/api/alerts?foo=1",
                     "/api/status?limit=0", "/api/status?limit=100000", "/api/status?since=3",
                     "/api/ledger/recent?limit=101", "/api/alerts?since=99999999999999999999",
                     "/api/alerts?" + "&".join("a%d=1" % i for i in range(20))]:
            status, headers, body = self.host.request(path)
            self.assertEqual(status, 400, path)
            Schemas.check("board-error.schema.json", json.loads(body))
        self.host.wait_stderr(r"board: 400 GET /api/alerts: since: not an unsigned decimal")
        status, _, body = self.host.request("/api/nothing")
        self.assertEqual(status, 404)
        Schemas.check("board-error.schema.json", json.loads(body))
        # Not HTTP at all, and headers past the bound: refused, and the host serves on.
        for raw in [b"\x16\x03\x01\x02\x00garbage\r\n\r\n", b"GET / HTTP/1.1\r\nX: " +
                    b"a" * 20000 + b"\r\n\r\n"]:
            with socket.create_connection(("127.0.0.1", self.host.port), timeout=TIMEOUT) as s:
                try:
                    s.sendall(raw)
                    s.shutdown(socket.SHUT_WR)
                    answer = s.recv(4096)
                except OSError:  # closed by the host first: refused all the same
                    answer = b""
                self.assertNotIn(b" 200 ", answer.split(b"\r\n")[0])
        self.assertEqual(self.host.request("/api/status")[0], 200)

    def test_nothing_but_get(self):
        before = self.host.get_json("/api/ledger/recent?limit=1")["records"][-1]["seq"]
        for method in ["POST", "PUT", "DELETE"]:
            status, _, body = self.host.request("/api/status", method=method,
                                                body=b'{"topic":"test.start"}')
            self.assertEqual(status, 405, method)
            Schemas.check("board-error.schema.json", json.loads(body))
        after = self.host.get_json("/api/ledger/recent?limit=1")["records"][-1]["seq"]
        self.assertEqual(before, after)


class BoardLive(unittest.TestCase):
    """The WebSocket: every durable event in order, and ?since= after a disconnect."""

    def setUp(self):
        os.environ["SMART_BOARD_BEHIND_MS"] = "1500"
        self.host = BoardHost(ARGS.host, ARGS.module_dir)
        del os.environ["SMART_BOARD_BEHIND_MS"]
        self.addCleanup(self.host.cleanup)

    def test_resync_after_a_disconnect_loses_nothing(self):
        h = self.host
        h.send("status.query", "2025-02-13T07:00:00Z")
        h.wait_topic("status")

        async def run():
            watcher = await ws_connect(h)  # connected throughout: the reference
            leaver = await ws_connect(h)
            for ws in (watcher, leaver):
                hello = await ws_recv(ws)
                self.assertEqual(hello["topic"], "board.hello")
            h.send("clientpo.link", "2025-02-13T07:05:00Z", clientpo_id="PO-1",
                   equipment=["LP01-THM-01", "LP01-UVA-01"])
            h.send("test.start", "2025-02-13T07:10:00Z", clientpo_id="PO-1")
            h.wait_topic("gate.decision")
            got = []
            while not (got and got[-1]["last"] and got[-1]["topic"] == "alert"):
                got.append(await ws_recv(leaver))
            last_seq = got[-1]["seq"]
            await leaver.close()
            # While it is away: two more blocked starts and a sweep a year on.
            h.send("test.start", "2025-02-13T07:20:00Z", clientpo_id="PO-1")
            h.send("test.start", "2025-02-13T07:30:00Z", clientpo_id="PO-1")
            h.wait_topic("gate.decision", lambda d: d["decided_at"] == "2025-02-13T07:30:00Z")
            h.send("calibration.sweep", "2026-03-01T07:00:00Z")
            h.wait_topic("sweep.completed")
            missed = []
            while True:
                m = await ws_recv(watcher)
                if m["seq"] > last_seq:
                    missed.append(m)
                if m["topic"] == "alert" and m["last"] and \
                        m["data"]["timestamp"].startswith("2026-03-01"):
                    break
            await watcher.close()
            return last_seq, missed

        last_seq, missed = asyncio.run(run())
        alerts = h.get_json("/api/alerts?since=%d" % last_seq)
        decisions = h.get_json("/api/decisions?since=%d" % last_seq)
        Schemas.check("board-events.schema.json", alerts)
        Schemas.check("board-events.schema.json", decisions)
        self.assertTrue(alerts["complete"] and decisions["complete"])
        self.assertEqual(alerts["alerts"], [m for m in missed if m["topic"] == "alert"])
        self.assertEqual(decisions["decisions"], [m for m in missed if m["topic"] == "gate.decision"])
        self.assertEqual(len(decisions["decisions"]), 2)
        self.assertGreaterEqual(len(alerts["alerts"]), 3)
        # Every message in order: seq never goes back, n counts within a seq.
        order = [(m["seq"], m["n"]) for m in missed]
        self.assertEqual(order, sorted(order))
        # The sweep a year on turned items not ready, and the status says so.
        status = h.get_json("/api/status")
        uva = next(e for e in status["equipment"] if e["equipment_id"] == "LP01-UVA-01")
        self.assertFalse(uva["ready"])
        self.assertEqual(uva["status"], "expired")

    def test_a_client_that_never_reads_is_dropped_and_holds_nothing_up(self):
        h = self.host
        h.send("clientpo.link", "2025-02-13T07:05:00Z", clientpo_id="PO-1",
               equipment=["LP01-THM-01", "LP01-UVA-01", "LP01-RAD-01", "LP01-OVN-01"])
        h.wait_topic("clientpo.linked")
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", h.port))
        stalled.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        b"Sec-WebSocket-Version: 13\r\n\r\n")
        self.addCleanup(stalled.close)
        chunk = 100  # blocked starts: a decision and an alert each

        def feed():
            for i in range(chunk):
                h.fifo.write(json.dumps({"topic": "test.start", "data": {"clientpo_id": "PO-1"}})
                             + "\n")
            h.fifo.flush()

        def dropped():
            return any("fell behind" in (line or "") for line in h.stderr_lines)

        async def run():
            reader = await ws_connect(h)
            await ws_recv(reader)  # hello: connected after the stalled one
            count = sent = 0
            loop = asyncio.get_running_loop()
            # The reader keeps up (each chunk read before the next is sent); the stalled one
            # is sent the same, reads nothing, and its oldest message ages past the bound
            # (SMART_BOARD_BEHIND_MS, 1500 ms here): it is dropped at a later batch.
            while not dropped():
                self.assertLess(sent, 200000, "the stalled client was never dropped")
                await loop.run_in_executor(None, feed)
                sent += chunk
                while count < 2 * sent:
                    m = await ws_recv(reader)
                    count += m["topic"] in ("gate.decision", "alert")
            # One more chunk after the drop: the reader still gets everything.
            await loop.run_in_executor(None, feed)
            sent += chunk
            while count < 2 * sent:
                m = await ws_recv(reader)
                count += m["topic"] in ("gate.decision", "alert")
            await reader.close()
            return count, sent

        count, sent = asyncio.run(run())
        self.assertEqual(count, 2 * sent)
        h.wait_stderr(r"board: a WebSocket client fell behind .*dropped")
        self.assertEqual(h.request("/api/status")[0], 200)
        self.assertEqual(h.stop(), 0)


class BoardToken(unittest.TestCase):
    """Safe by default: off loopback only with a token, and then every request carries it."""

    def test_non_loopback_without_token_refuses_to_start(self):
        for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.7:8088"]:
            h = BoardHost(ARGS.host, ARGS.module_dir, dashboard={"listen": listen}, start=False)
            self.addCleanup(h.cleanup)
            res = subprocess.run([ARGS.host, "run", h.node, "--events", "/dev/null"],
                                 capture_output=True, text=True, timeout=TIMEOUT,
                                 env=dict(os.environ, SMART_MODULE_PATH=ARGS.module_dir))
            self.assertEqual(res.returncode, 2, res.stderr)  # the host's configuration error
            self.assertIn(h.node + ": dashboard.token: required when dashboard.listen", res.stderr)
            self.assertFalse(os.path.exists(os.path.join(h.dir, "var", "ledger.jsonl")))

    def test_bad_listen_refused(self):
        for listen, why in [("127.0.0.1", "is not HOST:PORT"), ("board.local:80", "not an IP"),
                            ("127.0.0.1:99999", "is not HOST:PORT")]:
            h = BoardHost(ARGS.host, ARGS.module_dir, dashboard={"listen": listen}, start=False)
            self.addCleanup(h.cleanup)
            res = subprocess.run([ARGS.host, "run", h.node, "--events", "/dev/null"],
                                 capture_output=True, text=True, timeout=TIMEOUT,
                                 env=dict(os.environ, SMART_MODULE_PATH=ARGS.module_dir))
            self.assertEqual(res.returncode, 2, res.stderr)
            self.assertIn("dashboard.listen", res.stderr)
            self.assertIn(why, res.stderr)

    def test_requests_without_the_token_are_refused(self):
        token = "Zm9yLXRoZS1ib2FyZA-test"
        h = BoardHost(ARGS.host, ARGS.module_dir,
                      dashboard={"listen": "0.0.0.0:0", "token": token})
        self.addCleanup(h.cleanup)
        for path in ["/", "/board.js", "/api/status", "/api/alerts?since=0",
                     "/api/decisions?since=0", "/api/ledger/recent", "/api/nothing"]:
            for auth in [None, "Bearer wrong", "Bearer " + token + "x", "Basic " + token,
                         "Bearer"]:
                headers = {"Authorization": auth} if auth else {}
                status, hdrs, body = h.request(path, headers=headers, token=False)
                self.assertEqual(status, 401, (path, auth))
                self.assertIn("Bearer", hdrs.get("www-authenticate", ""))
                Schemas.check("board-error.schema.json", json.loads(body))
            self.assertIn(h.request(path)[0], (200, 404), path)
        h.wait_stderr(r"board: 401 /api/status: no valid bearer token")

        upgrade = {"Upgrade": "websocket", "Connection": "Upgrade",
                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
        for auth in [None, "Bearer nope"]:
            headers = dict(upgrade, **({"Authorization": auth} if auth else {}))
            # libwebsockets answers a refused upgrade as HTTP/1.0, which http.client reads
            status, hdrs, _ = h.request("/ws", headers=headers, token=False)
            self.assertEqual(status, 401, auth)
            self.assertIn("Bearer", hdrs.get("www-authenticate", ""))
        h.wait_stderr(r"board: 401 WebSocket upgrade: no valid bearer token")

        async def ws():
            ok = await ws_connect(h)
            self.assertEqual((await ws_recv(ok))["topic"], "board.hello")
            await ok.close()

        asyncio.run(ws())
        self.assertEqual(h.stop(), 0)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--module-dir", required=True)
    ARGS, rest = p.parse_known_args()
    ARGS.host = os.path.abspath(ARGS.host)
    ARGS.module_dir = os.path.abspath(ARGS.module_dir)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
