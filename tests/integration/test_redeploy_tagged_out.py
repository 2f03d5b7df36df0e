"""A redeploy whose tightened terms fail an item that is out of service (issue 9's rule "results
judged under the terms in force"): the item's status stays out_of_service, so no
status.transition is written, and the failure was in the store only, with no ledger record of
it or of why: an auditor reading the ledger could not tell when and by which terms the item
failed. The ledger now says it (calibration.rejudged, with the figure and the contract
version), whether the redeploy is adopted at start-up or on contract.deployed, and nothing else
changes.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_domain import Station, calibration, event, lines  # noqa: E402
from test_model_findings import volts  # noqa: E402

HOST = os.environ["SMART_HOST"]


def tagged_out_and_calibrated(test):
    """MID under 10 ± 1 V, tagged out, calibrated at 9.2 V (in tolerance)."""
    st = Station(test)
    doc = st.contract()
    doc["version"] += 1
    doc["equipment_list"] = [volts("MID", "2025-03-01"), volts("OTHER", "2025-03-01")]
    doc["procedures"] = []
    st.write_contract(doc)
    first = st.run(
        event("equipment.out_of_service", "2025-03-05T10:01:00Z", equipment_id="MID",
              reason="dropped", technician="L. Brandt") +
        calibration("2025-03-05T10:02:00Z", "MID", "2025-03-05T10:02:00Z", "MID-1", None,
                    [{"parameter": "v", "as_found": 9.2}]))
    test.assertEqual(first.errors, [])
    doc["version"] += 1
    doc["equipment_list"][0]["tolerances"][0]["plus_minus"] = 0.5
    doc["equipment_list"][1]["tolerances"][0]["plus_minus"] = 0.5
    return st, doc


class RedeployFailsATaggedOutItem(unittest.TestCase):
    def check_record(self, st, before):
        new = st.ledger_records()[before:]
        rejudged = [r for r in new if r["action"] == "calibration.rejudged"]
        self.assertEqual(len(rejudged), 1, [r["action"] for r in new])
        r = rejudged[0]
        self.assertEqual(r["target"], "MID")
        meta = r["metadata"]
        self.assertEqual(meta["equipment_id"], "MID")
        self.assertEqual(meta["status"], "out_of_service")
        self.assertTrue(meta["calibration_failed"])
        self.assertEqual((meta["contract_id"], meta["contract_version"]), ("MT-CAL-001", 4))
        self.assertEqual(meta["cause"], "contract")
        self.assertIn("v left 9.2 V outside", meta["failure"])
        self.assertIn("under contract MT-CAL-001 v4", r["details"])
        # Nothing else: no status change for MID (it is still out of service) and no record
        # for OTHER, which was never calibrated against the old terms.
        self.assertEqual([x for x in new if x["action"] == "status.transition"
                          and x["target"] == "MID"], [])
        self.assertEqual([x for x in new if x["target"] == "OTHER"], [])

    def test_adopted_at_start_up_the_failure_is_on_the_ledger(self):
        st, doc = tagged_out_and_calibrated(self)
        before = len(st.ledger_records())
        st.write_contract(doc)
        run = st.run(event("status.query", "2025-03-05T10:03:00Z", equipment_id="MID"))
        self.assertEqual(run.errors, [])
        self.check_record(st, before)
        mid = run.topic("status")[0]["equipment"][0]
        self.assertEqual((mid["status"], mid["ready"]), ("out_of_service", False))

    def test_adopted_on_contract_deployed_the_failure_is_on_the_ledger(self):
        st, doc = tagged_out_and_calibrated(self)
        before = len(st.ledger_records())
        proc = subprocess.Popen([HOST, "run", st.node, "--events", "-", "--clock",
                                 "2025-03-05T10:03:00Z"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The first answer says the host runs with the old terms; then the hub deploys.
        proc.stdin.write(json.dumps({"topic": "status.query", "time": "2025-03-05T10:03:00Z",
                                     "data": {"equipment_id": "MID"}}) + "\n")
        proc.stdin.flush()
        self.assertEqual(json.loads(proc.stdout.readline())["topic"], "status")
        st.write_contract(doc)
        proc.stdin.write(json.dumps({"topic": "contract.deployed",
                                     "time": "2025-03-05T10:04:00Z", "data": {}}) + "\n")
        proc.stdin.close()
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.wait(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("contracts.loaded", [o["topic"] for o in lines(out)])
        self.check_record(st, before)
        verify = subprocess.run([HOST, "ledger", "verify", st.ledger], capture_output=True)
        self.assertEqual(verify.returncode, 0)


if __name__ == "__main__":
    unittest.main()
