"""smart-host with the maintenance module and the contracts a MaintenanceHub writes (issue 12).

Never ungated: a contracts directory refused at start does not stop the host (exit 0, not 5):
the module says why on standard error, in the ledger and as an alert, and runs with the set it
adopted before or, with none ever adopted, blocks every test. One deployment refused is
recorded and alerted once, though the hub's contract.deployed and the directory watch both ask.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import json
import os
import unittest

from test_contract_files import CLOCK, Running, Station, event, lines

BAD = {"smart_contract_id": "LP-CAL-002", "contract_type": "SmartMaintenance", "version": 1,
       "station_type": "LP", "equipment_list": [
           {"equipment_id": "LP02-THM-01", "description": "d", "equipment_type": "t",
            "calibration_interval_days": 0},
           {"equipment_id": "LP02-THM-02", "description": "d", "calibration_interval_days": 9}]}


class NeverUngated(unittest.TestCase):
    def test_a_refused_set_at_start_runs_with_none_and_blocks_every_test(self):
        st = Station(self)
        st.write("LP-CAL-002.json", BAD)
        res = st.run(event("test.start", clientpo_id="SC-2025-001-LP",
                           equipment=["LP01-UVA-01"]))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("refused at start-up: LP-CAL-002.json: equipment_list[0]."
                      "calibration_interval_days", res.stderr)
        self.assertIn("no set was ever adopted: running with none in force, every test is "
                      "blocked", res.stderr)
        out = lines(res.stdout)
        decision = [o["data"] for o in out if o["topic"] == "gate.decision"][0]
        self.assertFalse(decision["allowed"])
        self.assertIn("no contracts in force", decision["reason"])
        rejected = [r for r in st.ledger() if r["action"] == "contract.rejected"]
        self.assertEqual(len(rejected), 1)
        self.assertEqual(len(rejected[0]["metadata"]["problems"]), 2)  # both, in one round

    def test_a_refused_set_after_an_adoption_runs_with_the_set_adopted_before(self):
        st = Station(self)
        self.assertEqual(st.run(event("status.query")).returncode, 0)
        os.unlink(st.path("LP-CAL-001.json"))  # gone; the store keeps its content
        st.write("LP-CAL-002.json", BAD)
        res = st.run(event("status.query", equipment_id="LP01-THM-01"))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("running with the set adopted before (2 contract(s)", res.stderr)
        status = [o["data"] for o in lines(res.stdout) if o["topic"] == "status"][0]
        self.assertEqual(status["equipment"][0]["days_overdue"], 10)  # still gated by it

    def test_one_deployment_refused_is_recorded_and_alerted_once(self):
        st = Station(self)
        host = Running(self, st)
        host.ask(event("status.query"), "status")
        st.write("LP-CAL-002.json", BAD)
        # The hub's event and the directory watch both ask; one of the two answers says it
        # was reported already, whichever comes first.
        first = host.ask(event("contract.deployed", reason="hub push"), "contract.rejected")
        second = host.ask(None, "contract.rejected")
        self.assertEqual(sorted([first["already_reported"], second["already_reported"]]),
                         [False, True])
        self.assertEqual(host.finish(), 0)
        self.assertEqual([r["action"] for r in st.ledger()].count("contract.rejected"), 1)
        with open(os.path.join(st.dir, "var", "alerts.jsonl")) as f:
            alerts = [a["alert_type"] for a in lines(f.read())]
        self.assertEqual(alerts.count("contract_rejected"), 1)


OTHER_TYPES = ["SmartSafety", "SmartInventory", "SmartQA", "SmartStandards", "SmartCompliance",
               "SmartSP"]


class SixOtherTypesAndOneMalformed(unittest.TestCase):
    def test_starts_runs_the_last_good_set_blocks_what_it_must_and_says_why(self):
        st = Station(self)
        self.assertEqual(st.run(event("status.query")).returncode, 0)  # the good set adopted
        for i, kind in enumerate(OTHER_TYPES):
            with open(st.path("LP-OTHER-%d.yaml" % i), "w") as f:
                f.write("smart_contract_id: LP-OTHER-%d\ncontract_type: %s\n"
                        "hazards: [solvent vapour]\n" % (i, kind))
        st.write("LP-CAL-002.json", BAD)
        res = st.run(event("test.start", clientpo_id="SC-2025-001-LP",
                           equipment=["LP01-UVA-01", "LP01-THM-01"]))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("refused at start-up: LP-CAL-002.json:", res.stderr)
        self.assertIn("running with the set adopted before", res.stderr)
        for other in OTHER_TYPES:  # skipped, never the reason of the refusal
            self.assertNotIn(other, res.stderr)
        out = lines(res.stdout)
        decision = [o["data"] for o in out if o["topic"] == "gate.decision"][0]
        self.assertFalse(decision["allowed"])
        self.assertIn("LP01-THM-01", decision["blocking"])  # its calibration lapsed
        rejected = [r for r in st.ledger() if r["action"] == "contract.rejected"]
        self.assertEqual([r["metadata"]["contract_file"] for r in rejected], ["LP-CAL-002.json"])
        # Fixed: the set of the directory is adopted, the six skipped with a record.
        os.unlink(st.path("LP-CAL-002.json"))
        res = st.run(event("status.query"))
        self.assertEqual(res.returncode, 0, res.stderr)
        loaded = [r for r in st.ledger() if r["action"] == "contracts.loaded"][-1]["metadata"]
        skipped = sorted(s["reason"] for s in loaded["skipped"])
        self.assertEqual(skipped, sorted("contract_type %s: not a maintenance contract" % t
                                         for t in OTHER_TYPES))


class SharedFolder(unittest.TestCase):
    def test_station_files_only_reads_only_this_stations_files(self):
        st = Station(self)
        with open(st.node) as f:
            node = json.load(f)
        node["modules"][0]["config"]["station_files_only"] = True
        with open(st.node, "w") as f:
            json.dump(node, f)
        os.rename(st.path("LP-CAL-001.json"), st.path("LP-calibration.json"))
        st.write("MT-CAL-001.json", BAD)  # another station's file, not even read
        res = st.run(event("status.query", equipment_id="LP01-THM-01"))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stderr, "")
        self.assertNotIn("contract.rejected", [r["action"] for r in st.ledger()])
        status = [o["data"] for o in lines(res.stdout) if o["topic"] == "status"][0]
        self.assertEqual(status["equipment"][0]["days_overdue"], 10)


if __name__ == "__main__":
    unittest.main()
