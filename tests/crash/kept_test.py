#!/usr/bin/env python3
"""kept_test.py --host HOST --module MODULE --shim FAULT_SHIM — the kept contract set (the files
a start whose contracts directory is refused runs on) is never torn by a crash.

The kept set's bytes live beside the store (data_dir/kept-contracts/, a file per SHA-256),
written and synced before the commit that names them, the old ones removed after it. A station
adopts set 1, then starts on set 2 (one contract changed, one unchanged, one removed, one
added) and is killed (fault_shim.so with SMART_FAULT_KILL=1) just before its N-th write or sync
of a kept file (every N until a start gets through), or of the store (every third N). After
each kill:

- every file the store names is there and holds the bytes of its SHA-256;
- the set the store names is set 1 or set 2 as a whole, never a mix;
- a start with the contracts directory refused runs on exactly that set;
- a start on set 2 then adopts it, and only set 2's files are left in kept-contracts/.

Then the same station's kept set is damaged by hand: a kept file truncated (as a disk could
leave one), or removed: the refused start stops naming the contract and the kept file, and
leaves the ledger and the store as they were; once the file is put back it runs on the set.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--host", required=True)
ap.add_argument("--module", required=True)
ap.add_argument("--shim", required=True)
args = ap.parse_args()
HOST, MODULE, SHIM = (os.path.realpath(p) for p in (args.host, args.module, args.shim))
failures = []
CLOCK = "2025-02-13T07:00:00Z"


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return ok


def contract(cid, n, version=1):
    return json.dumps({
        "smart_contract_id": cid, "contract_type": "SmartMaintenance", "version": version,
        "station_type": "LP", "warning_period_days": 30,
        "equipment_list": [{
            "equipment_id": "%s-%03d" % (cid, i), "description": "Digital thermometer",
            "equipment_type": "thermometer", "calibration_interval_days": 180,
            "last_calibration": {"calibration_date": "2024-12-01",
                                 "certificate_number": "C-%s-%d-v%d" % (cid, i, version),
                                 "provider": "Northbridge Calibration Ltd"}}
            for i in range(n)]}, indent=1)


SET1 = {"LP-CAL-A.json": contract("LP-A", 40), "LP-CAL-B.json": contract("LP-B", 30),
        "LP-CAL-C.json": contract("LP-C", 20)}
SET2 = {"LP-CAL-A.json": contract("LP-A", 45, version=2), "LP-CAL-B.json": SET1["LP-CAL-B.json"],
        "LP-CAL-D.json": contract("LP-D", 25)}
BROKEN = {"LP-CAL-A.json": "{not json"}


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def shas(files):
    return {name: sha(text) for name, text in files.items()}


class Station:
    def __init__(self, root):
        self.dir = tempfile.mkdtemp(prefix="kept-", dir=root)
        self.contracts = os.path.join(self.dir, "contracts")
        self.data = os.path.join(self.dir, "var", "maintenance")
        self.kept = os.path.join(self.data, "kept-contracts")
        os.mkdir(self.contracts)
        self.node = os.path.join(self.dir, "node.json")
        with open(self.node, "w") as f:
            json.dump({"node_id": "NODE-KEPT", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": MODULE, "config": {
                           "contracts_dir": "contracts", "data_dir": "var/maintenance"}}]}, f)

    def deploy(self, files):
        for name in os.listdir(self.contracts):
            os.unlink(os.path.join(self.contracts, name))
        for name, text in files.items():
            with open(os.path.join(self.contracts, name), "w") as f:
                f.write(text)

    def run(self, env=None):
        return subprocess.run([HOST, "run", self.node, "--events", "/dev/null", "--clock", CLOCK],
                              capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, **(env or {})))

    def named(self):
        """{file: sha256} of the set the store names, and the files whose kept bytes are bad."""
        db = sqlite3.connect(os.path.join(self.data, "store.sqlite"))
        try:
            rows = db.execute("SELECT file, sha256, content FROM adopted_files").fetchall()
        finally:
            db.close()
        bad = []
        for file, digest, content in rows:
            if content:
                data = bytes(content)
            else:
                try:
                    with open(os.path.join(self.kept, digest), "rb") as f:
                        data = f.read()
                except OSError:
                    data = None
            if data is None or hashlib.sha256(data).hexdigest() != digest:
                bad.append(file)
        return {file: digest for file, digest, _ in rows}, bad

    def loaded(self):
        """{file: sha256} of the last contracts.loaded record of the ledger."""
        last = None
        with open(os.path.join(self.dir, "var", "ledger.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                if r["action"] == "contracts.loaded":
                    last = r
        return {c["file"]: c["sha256"] for c in last["metadata"]["contracts"]} if last else {}

    def snapshot(self):
        out = {}
        for rel in ("var/ledger.jsonl", "var/maintenance/store.sqlite",
                    "var/maintenance/store.sqlite-wal"):
            path = os.path.join(self.dir, rel)
            out[rel] = open(path, "rb").read() if os.path.exists(path) else None
        return out


def one_point(root, pristine, match, n):
    """Kills the start on set 2 before its n-th write or sync of a file whose path holds
    `match`, and checks what it left. Returns whether it was killed (past the last point the
    start gets through)."""
    st = Station(root)
    shutil.rmtree(st.dir)
    shutil.copytree(pristine.dir, st.dir)
    st.deploy(SET2)
    # Under ASan its runtime must come first; the shim's preload is let through, as in
    # crash_test.py.
    p = st.run({"LD_PRELOAD": SHIM, "SMART_FAULT_AFTER": str(n),
                "SMART_FAULT_MATCH": match, "SMART_FAULT_KILL": "1",
                "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"})
    killed = p.returncode == -9
    where = "killed before %s write/sync %d" % (match, n) if killed else "not killed"
    named, bad = st.named()
    check(not bad, "%s: kept files missing or altered: %s" % (where, bad))
    check(named in (shas(SET1), shas(SET2)),
          "%s: the store names neither set 1 nor set 2: %s" % (where, named))
    st.deploy(BROKEN)
    p = st.run()
    check(p.returncode == 0 and "running with the set adopted before" in p.stderr,
          "%s: the refused start did not run on the kept set: %s" % (where, p.stderr))
    check(st.loaded() == named, "%s: the refused start ran on %s, the store names %s"
          % (where, st.loaded(), named))
    st.deploy(SET2)
    p = st.run()
    check(p.returncode == 0, "%s: set 2 adopted after: %s" % (where, p.stderr))
    check(sorted(os.listdir(st.kept)) == sorted(set(shas(SET2).values())),
          "%s: kept-contracts/ holds %s" % (where, sorted(os.listdir(st.kept))))
    shutil.rmtree(st.dir)
    return killed


def crash_points(root):
    pristine = Station(root)  # set 1 adopted once, copied for each kill point
    pristine.deploy(SET1)
    p = pristine.run()
    if not check(p.returncode == 0, "set 1 adopted: %s" % p.stderr):
        return
    # Every write and sync of kept-contracts/; then every third of the store's (those before
    # the commit leave set 1 named, with set 2's files beside it; those after leave set 2
    # named, with set 1's not yet removed). The host mostly waits on syncs: a few at once.
    for match, stride in (("/kept-contracts", 1), ("/store.sqlite", 3)):
        points, chunk = 0, 8
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            while True:
                ns = range(points * stride, (points + chunk) * stride, stride)
                killed = list(pool.map(lambda n: one_point(root, pristine, match, n), ns))
                points += killed.index(False) if False in killed else chunk
                if False in killed or points > 1000:
                    break
        check(points >= 4, "only %d kill points at %s: the shim did not see its writes"
              % (points, match))
        print("kept set: %d crash points at %s (every %s), each left set 1 or set 2 whole"
              % (points, match, "one" if stride == 1 else "third"))


def damaged(root):
    for how in ("truncated", "removed"):
        st = Station(root)
        st.deploy(SET1)
        check(st.run().returncode == 0, "set 1 adopted")
        st.deploy(BROKEN)
        digest = shas(SET1)["LP-CAL-B.json"]
        path = os.path.join(st.kept, digest)
        whole = open(path, "rb").read()
        if how == "truncated":
            with open(path, "wb") as f:
                f.write(whole[: len(whole) // 2])
        else:
            os.unlink(path)
        before = st.snapshot()
        p = st.run()
        check(p.returncode != 0, "%s kept file: the start ran (%s)" % (how, p.stderr))
        word = "was altered" if how == "truncated" else "cannot be read"
        check("LP-CAL-B.json" in p.stderr and digest in p.stderr and word in p.stderr,
              "%s kept file: the message does not name it: %s" % (how, p.stderr))
        check(st.snapshot() == before, "%s kept file: the refused start changed the ledger or "
              "the store" % how)
        with open(path, "wb") as f:
            f.write(whole)
        p = st.run()
        check(p.returncode == 0 and "running with the set adopted before (3 contract(s)"
              in p.stderr, "%s kept file put back: %s" % (how, p.stderr))
        check(st.loaded() == shas(SET1), "%s kept file put back: ran on %s" % (how, st.loaded()))
        shutil.rmtree(st.dir)
    print("kept set: a truncated or removed kept file is refused, naming it, changing nothing")


root = os.path.realpath(tempfile.mkdtemp(prefix="smart-kept-"))
try:
    crash_points(root)
    damaged(root)
finally:
    shutil.rmtree(root, ignore_errors=True)
if failures:
    print("%d failure(s)" % len(failures), file=sys.stderr)
    sys.exit(1)
print("ok")
