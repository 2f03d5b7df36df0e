"""What a start costs follows what changed, not the station's size (issue 14): a restart on the
same contracts writes none of them to the store again (each start adopts the directory, and
rewriting every contract's text was most of a 100,000-item restart), a changed or removed
contract is; their bytes are kept beside the store (kept-contracts/), not in it, and a store
from before that held them moves them out; a contract listing an id twice among thousands is still refused naming both places.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import unittest

HOST = os.environ["SMART_HOST"]
MODULE_DIR = os.environ["SMART_MODULE_DIR"]


def contract(cid, ids, version=1):
    return {"smart_contract_id": cid, "contract_type": "SmartMaintenance", "version": version,
            "station_type": "LP", "title": "Start cost", "issued_by": "MaintenanceHub LAB-01",
            "issued_at": "2025-01-06", "warning_period_days": 30,
            "equipment_list": [{
                "equipment_id": eid, "description": "Digital thermometer",
                "equipment_type": "thermometer", "manufacturer": "Calder Instruments",
                "model": "DT-410", "serial_number": "DT410-%s" % eid,
                "calibration_interval_days": 180,
                "last_calibration": {"calibration_date": "2024-12-01",
                                     "certificate_number": "C-%s" % eid,
                                     "provider": "Northbridge Calibration Ltd"}} for eid in ids]}


class Station:
    def __init__(self, test):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="smart-start-")
        test.addCleanup(subprocess.run, ["rm", "-rf", self.dir])
        os.mkdir(os.path.join(self.dir, "contracts"))
        with open(os.path.join(self.dir, "node.json"), "w") as f:
            json.dump({"node_id": "NODE-START", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": "smart-maintenance.so",
                                    "config": {"contracts_dir": "contracts",
                                               "data_dir": "var/maintenance"}}]}, f)

    def put(self, cid, doc):
        with open(os.path.join(self.dir, "contracts", cid + ".json"), "w") as f:
            json.dump(doc, f)

    def remove(self, cid):
        os.unlink(os.path.join(self.dir, "contracts", cid + ".json"))

    def run(self, clock):
        env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)
        return subprocess.run([HOST, "run", os.path.join(self.dir, "node.json"), "--events",
                               "/dev/null", "--clock", clock], capture_output=True, text=True,
                              env=env, timeout=120)

    def contents(self):
        """{file: content} of the store's table of adopted files."""
        db = sqlite3.connect(os.path.join(self.dir, "var", "maintenance", "store.sqlite"))
        try:
            return {os.path.basename(f): bytes(c) for f, c in
                    db.execute("SELECT file, content FROM adopted_files")}
        finally:
            db.close()

    def adopted(self):
        """{file: (sha256, adopted_at_ms)} as the store keeps them."""
        db = sqlite3.connect(os.path.join(self.dir, "var", "maintenance", "store.sqlite"))
        try:
            return {os.path.basename(f): (sha, at) for f, sha, at in
                    db.execute("SELECT file, sha256, adopted_at_ms FROM adopted_files")}
        finally:
            db.close()


T1, T2, T3 = "2025-02-13T07:00:00Z", "2025-02-14T07:00:00Z", "2025-02-15T07:00:00Z"
MS1, MS3 = 1739430000000, 1739602800000


class StartCost(unittest.TestCase):
    def test_a_restart_on_the_same_contracts_writes_none_of_them_again(self):
        st = Station(self)
        st.put("LP-CAL-A", contract("LP-CAL-A", ["LP-A-1", "LP-A-2"]))
        st.put("LP-CAL-B", contract("LP-CAL-B", ["LP-B-1"]))
        st.put("LP-CAL-C", contract("LP-CAL-C", ["LP-C-1"]))
        self.assertEqual(st.run(T1).returncode, 0)
        first = st.adopted()
        self.assertEqual(sorted(first), ["LP-CAL-A.json", "LP-CAL-B.json", "LP-CAL-C.json"])
        self.assertEqual({at for _, at in first.values()}, {MS1})
        # The same files a day later: kept as they were, with the time they were adopted.
        p = st.run(T2)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(st.adopted(), first)
        # A new version of one, another removed: only those change.
        st.put("LP-CAL-A", contract("LP-CAL-A", ["LP-A-1", "LP-A-2", "LP-A-3"], version=2))
        st.remove("LP-CAL-C")
        p = st.run(T3)
        self.assertEqual(p.returncode, 0, p.stderr)
        third = st.adopted()
        self.assertEqual(sorted(third), ["LP-CAL-A.json", "LP-CAL-B.json"])
        self.assertEqual(third["LP-CAL-B.json"], first["LP-CAL-B.json"])
        self.assertEqual(third["LP-CAL-A.json"][1], MS3)
        self.assertNotEqual(third["LP-CAL-A.json"][0], first["LP-CAL-A.json"][0])

    def test_the_kept_files_are_beside_the_store_and_a_store_from_before_moves_them_out(self):
        st = Station(self)
        st.put("LP-CAL-A", contract("LP-CAL-A", ["LP-A-1", "LP-A-2"]))
        st.put("LP-CAL-B", contract("LP-CAL-B", ["LP-B-1"]))
        self.assertEqual(st.run(T1).returncode, 0)
        data = os.path.join(st.dir, "var", "maintenance")
        kept = os.path.join(data, "kept-contracts")
        texts = {}
        for cid in ("LP-CAL-A", "LP-CAL-B"):
            with open(os.path.join(st.dir, "contracts", cid + ".json"), "rb") as f:
                texts[cid + ".json"] = f.read()
        shas = {f: hashlib.sha256(t).hexdigest() for f, t in texts.items()}
        # The bytes are in kept-contracts/, one file per SHA-256; the table only names them.
        self.assertEqual(sorted(os.listdir(kept)), sorted(shas.values()))
        for f, digest in shas.items():
            with open(os.path.join(kept, digest), "rb") as k:
                self.assertEqual(k.read(), texts[f])
        self.assertEqual(st.contents(), {f: b"" for f in texts})
        # A store from before held the bytes in the table: a refused start runs on them.
        db = sqlite3.connect(os.path.join(data, "store.sqlite"))
        with db:
            for f, t in texts.items():
                db.execute("UPDATE adopted_files SET content = ? WHERE file = ?", (t, f))
        db.close()
        subprocess.run(["rm", "-rf", kept], check=True)
        st.put("LP-CAL-B", {"broken": True})
        p = st.run(T2)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("running with the set adopted before (2 contract(s)", p.stderr)
        # The next start on a good directory moves them out, keeping when each was adopted.
        with open(os.path.join(st.dir, "contracts", "LP-CAL-B.json"), "wb") as f:
            f.write(texts["LP-CAL-B.json"])
        before = st.adopted()
        p = st.run(T3)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(st.contents(), {f: b"" for f in texts})
        self.assertEqual(sorted(os.listdir(kept)), sorted(shas.values()))
        self.assertEqual(st.adopted(), before)

    def test_an_id_listed_twice_among_thousands_is_refused_naming_both(self):
        st = Station(self)
        ids = ["LP-EQ-%05d" % n for n in range(4000)]
        ids[3500] = ids[1200]
        st.put("LP-CAL-BIG", contract("LP-CAL-BIG", ids))
        p = st.run(T1)  # refused at start: the module runs with none in force
        self.assertIn("equipment_list[3500].equipment_id: 'LP-EQ-01200' is already listed at "
                      "equipment_list[1200]", p.stderr)


if __name__ == "__main__":
    unittest.main()
