#!/usr/bin/env python3
"""A dashboard.listen the host cannot listen on refuses the start (README "The status board"):
a port another socket listens on (the test's own, bound first) and an address that is not this
machine's (192.0.2.7, TEST-NET-1) each end the host with its configuration error (exit 2) and
a message naming NODE.json, dashboard.listen, the address and the reason, before the ledger is
opened (as NODE.json's other errors: no ledger file).

Usage: test_board_listen.py --host build/host-stub/smart-host --module-dir build/plugin
"""
import argparse
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from board_lib import TIMEOUT, BoardHost  # noqa: E402

ARGS = None
TOKEN = "Zm9yLXRoZS1ib2FyZA-listen"


class BoardListen(unittest.TestCase):
    def refused(self, dashboard, address, why):
        h = BoardHost(ARGS.host, ARGS.module_dir, dashboard=dashboard, start=False)
        self.addCleanup(h.cleanup)
        # Without the check the host runs with no board and ends at the end of /dev/null (0).
        res = subprocess.run([ARGS.host, "run", h.node, "--events", "/dev/null"],
                             capture_output=True, text=True, timeout=TIMEOUT,
                             env=dict(os.environ, SMART_MODULE_PATH=ARGS.module_dir))
        self.assertEqual(res.returncode, 2, res.stderr)  # the host's configuration error
        self.assertIn("%s: dashboard.listen: cannot listen on %s: %s" % (h.node, address, why),
                      res.stderr)
        self.assertNotIn("board at http://", res.stderr)
        self.assertFalse(os.path.exists(os.path.join(h.dir, "var", "ledger.jsonl")))

    def test_a_port_in_use_refuses_to_start(self):
        busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        address = "127.0.0.1:%d" % busy.getsockname()[1]
        self.refused({"listen": address}, address, os.strerror(98))  # EADDRINUSE

    def test_an_address_not_this_machines_refuses_to_start(self):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("192.0.2.7", 0))
            self.skipTest("192.0.2.7 is an address of this machine")
        except OSError:
            pass
        finally:
            probe.close()
        self.refused({"listen": "192.0.2.7:8088", "token": TOKEN}, "192.0.2.7:8088",
                     os.strerror(99))  # EADDRNOTAVAIL


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
