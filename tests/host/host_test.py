"""host_test.py — what the Python host tests share: a failure list that each check adds to,
and a NODE.json of given modules."""
import json
import os
import sys

failures = []


def check(ok, what):
    """Record (and print) a failure when `ok` is false; the test goes on."""
    if not ok:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def write_node(root, modules):
    """root/node.json (root made when missing), its ledger and alerts under root/var, loading
    `modules` (NODE.json's list); returns its path."""
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, "node.json")
    with open(path, "w") as f:
        json.dump({"node_id": "NODE-TEST-001", "station_type": "LP", "ledger": "var/ledger.jsonl",
                   "alerts": "var/alerts.jsonl", "modules": modules}, f)
    return path
