#!/usr/bin/env python3
"""The status board across the host's start and stop (README "The status board"): right after a
restart /api/status already lists every item as the module holds it (the host asks the module
for a status at start), and at a clean stop what is queued for the WebSocket clients is sent
before they are closed, in both message forms (text, and ?deflate=1).

Usage: test_board_lifecycle.py --host build/host-stub/smart-host --module-dir build/plugin
"""
import argparse
import asyncio
import json
import os
import queue
import socket
import sys
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from board_lib import TIMEOUT, BoardHost  # noqa: E402

import websockets  # noqa: E402  (python3-websockets)

ARGS = None
BOARD_TOPICS = ("status.changed", "gate.decision", "alert", "ledger.checkpoint")


def decode(message):
    """A WebSocket message: text JSON, or a binary one holding it deflated (zlib)."""
    if isinstance(message, bytes):
        message = zlib.decompress(message).decode("utf-8")
    return json.loads(message)


class BoardRestart(unittest.TestCase):
    def test_status_is_whole_right_after_a_restart(self):
        h = BoardHost(ARGS.host, ARGS.module_dir)
        self.addCleanup(h.cleanup)
        # A sweep a year on turns the UV-A lamp expired; then the host stops.
        h.send("calibration.sweep", "2026-03-01T07:00:00Z")
        h.wait_topic("sweep.completed")
        self.assertEqual(h.stop(), 0)
        # Restarted later: nothing asks for a status; an event that changes no item is answered
        # (its batch comes after the start's, and the board takes batches in order).
        h.clock = "2026-03-01T08:00:00Z"
        h.outputs = queue.Queue()
        h.stderr_lines = []
        h.start()
        h.send("clientpo.link", "2026-03-01T08:01:00Z", clientpo_id="PO-R",
               equipment=["LP01-THM-01"])
        h.wait_topic("clientpo.linked")
        status = h.get_json("/api/status")
        self.assertEqual(status["summary"]["total"], 7, status["summary"])
        uva = next(e for e in status["equipment"] if e["equipment_id"] == "LP01-UVA-01")
        self.assertEqual(uva["status"], "expired")
        self.assertFalse(uva["ready"])
        self.assertIn("expired", uva["reason"])
        self.assertEqual(h.stop(), 0)


class BoardStop(unittest.TestCase):
    def test_queued_events_are_sent_at_a_clean_stop(self):
        # The flush's bound, well above what this client, reading both connections in turn,
        # may take to read a batch on a loaded machine.
        os.environ["SMART_BOARD_FLUSH_MS"] = "30000"
        h = BoardHost(ARGS.host, ARGS.module_dir)
        del os.environ["SMART_BOARD_FLUSH_MS"]
        self.addCleanup(h.cleanup)
        h.send("clientpo.link", "2025-02-13T07:05:00Z", clientpo_id="PO-1",
               equipment=["LP01-THM-01", "LP01-UVA-01", "LP01-RAD-01", "LP01-OVN-01"])
        h.wait_topic("clientpo.linked")
        starts = 6000  # blocked starts: a decision and an alert each

        async def run():
            # Clients that read nothing until the host stops (max_queue=1: websockets then
            # stops reading the socket), so the last batches are still queued when it does.
            clients = []
            for path in ("/ws", "/ws?deflate=1"):
                sock = socket.socket()  # a small receive buffer: the kernel holds little
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", h.port))
                clients.append(await websockets.connect(
                    "ws://127.0.0.1:%d%s" % (h.port, path), sock=sock, open_timeout=TIMEOUT,
                    max_size=None, max_queue=1))
            for ws in clients:
                self.assertEqual(decode(await asyncio.wait_for(ws.recv(), TIMEOUT))["topic"],
                                 "board.hello")
            text = "".join(json.dumps({"topic": "test.start", "data": {"clientpo_id": "PO-1"}})
                           + "\n" for _ in range(starts))
            h.fifo.write(text)
            h.fifo.close()
            h.fifo = None
            loop = asyncio.get_running_loop()
            line = await loop.run_in_executor(None, h.wait_stderr, r"board: stopping: ")
            # The text client at least (the deflated batches may fit in the sockets' buffers).
            self.assertRegex(line, r"stopping: [12] of 2 clients have messages waiting")
            got = []
            for ws in clients:
                events = []
                try:
                    while True:
                        m = decode(await asyncio.wait_for(ws.recv(), TIMEOUT))
                        self.assertIsInstance(m, list)
                        events.extend(m)
                except websockets.ConnectionClosed:
                    pass
                got.append(events)
            return got

        got = asyncio.run(run())
        self.assertEqual(h.proc.wait(timeout=TIMEOUT), 0)
        printed = []
        while True:
            ev = h.outputs.get(timeout=TIMEOUT)
            if ev is None:
                break
            if ev["topic"] in BOARD_TOPICS:
                printed.append(ev)
        decisions = [e for e in printed if e["topic"] == "gate.decision"]
        self.assertEqual(len(decisions), starts)
        for events in got:
            # Every durable event, in order, the last batch's too.
            self.assertEqual([(e["topic"], e["data"]) for e in events],
                             [(e["topic"], e["data"]) for e in printed])
            self.assertTrue(events[-1]["last"])


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--module-dir", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
