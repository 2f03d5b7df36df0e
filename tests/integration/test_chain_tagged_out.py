"""A reference found out of tolerance fails the item whose current calibration was made against
it; when that item is out of service its status stays out_of_service, so no status.transition
is written, and the failure was in the store only: an auditor reading the ledger could not tell
when and why the item failed. The ledger now says it (calibration.rejudged, cause reference,
naming the reference, the finding's certificate and the calibration that rested on it).

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_domain import event, rad_cal, station_with_transfer_standard  # noqa: E402


class ChainFailsATaggedOutItem(unittest.TestCase):
    def run_finding(self, st, tag_out):
        events = rad_cal("2025-03-26T07:00:00Z", "MT01-RAD-01", "NCL-2025-03-0480", 1,
                         reference_standard="MT01-RAD-STD")
        if tag_out:
            events += event("equipment.out_of_service", "2025-03-26T07:30:00Z",
                            equipment_id="MT01-RAD-01", reason="dropped",
                            technician="L. Brandt")
        before = len(st.ledger_records()) if os.path.exists(st.ledger) else 0
        run = st.run(events + rad_cal("2025-03-26T08:00:00Z", "MT01-RAD-STD",
                                      "NCL-2025-03-0490", 1.1) +
                     event("status.query", "2025-03-26T08:15:00Z", equipment_id="MT01-RAD-01"))
        self.assertEqual(run.errors, [])
        return run, st.ledger_records()[before:]

    def test_the_failure_of_an_item_out_of_service_is_on_the_ledger(self):
        st = station_with_transfer_standard(self)
        run, new = self.run_finding(st, tag_out=True)
        rad = run.topic("status")[-1]["equipment"][0]
        self.assertEqual((rad["status"], rad["ready"]), ("out_of_service", False))
        self.assertEqual([r for r in new if r["action"] == "status.transition"
                          and r["target"] == "MT01-RAD-01"
                          and r["metadata"]["to"] == "calibration_failed"], [])
        rejudged = [r for r in new if r["action"] == "calibration.rejudged"]
        self.assertEqual(len(rejudged), 1, [r["action"] for r in new])
        r = rejudged[0]
        self.assertEqual(r["target"], "MT01-RAD-01")
        meta = r["metadata"]
        self.assertEqual((meta["equipment_id"], meta["status"], meta["calibration_failed"],
                          meta["cause"]), ("MT01-RAD-01", "out_of_service", True, "reference"))
        self.assertEqual((meta["reference"], meta["finding_certificate"],
                          meta["certificate_number"]),
                         ("MT01-RAD-STD", "NCL-2025-03-0490", "NCL-2025-03-0480"))
        self.assertIn("calibration NCL-2025-03-0480 made against MT01-RAD-STD", meta["failure"])
        self.assertIn("its status stays out_of_service", r["details"])

    def test_an_item_in_service_gets_its_status_transition_and_no_second_record(self):
        st = station_with_transfer_standard(self)
        run, new = self.run_finding(st, tag_out=False)
        self.assertIn(("MT01-RAD-01", "calibration_failed"),
                      [(r["target"], r["metadata"]["to"]) for r in new
                       if r["action"] == "status.transition"])
        self.assertEqual([r for r in new if r["action"] == "calibration.rejudged"], [])


if __name__ == "__main__":
    unittest.main()
