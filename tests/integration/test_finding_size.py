"""A reference found out of tolerance as found, followed with the size of its finding (issue 9,
build 5's last part), through smart-host on copies of examples/mt-station:

- each record in oot.impact's chain lists only the jobs that rested on it: tested on its item
  from that record until the item was re-verified (its next check of that procedure, its next
  calibration), not every job of the chain;
- where the finding's size is known (the reference read 10 % high as found), each reading made
  with it is re-judged, corrected by it, against the limits in force: a check's reading
  (1050 uW/cm2 read with a radiometer 10 % high is 954.5, below the 1000 minimum) and a
  calibration's result (a radiometer left reading 1000 against a standard 10 % high really
  reads 1090.9 at a true 1000, outside 950 to 1050); the records that would have failed are
  named so, and the item's reason says so;
- where it is not (no as-found value in the reading's unit, or a record two levels down),
  "finding_size": null and not re-judged.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_domain import event, item, uv_check  # noqa: E402
from test_impact_of_failures import Checked  # noqa: E402  (every line checked by the schemas)

RAD = "MT01-RAD-01"
UVA = "MT01-UVA-01"
STD = "MT01-UVREF-01"  # the shipped transfer standard that calibrates the radiometer
POINTS = [("uv_a_irradiance", 1000, "uW/cm2"), ("uv_a_irradiance", 2000, "uW/cm2"),
          ("illuminance", 20, "lx"), ("illuminance", 1076, "lx")]


def radiometer_cal(time, equipment_id, certificate, uv_found, lx_found=1, only=None, **extra):
    """A calibration of a radiometer (or the standard) with every point found at nominal ×
    uv_found (UV-A) or × lx_found (illuminance), and left at nominal."""
    results = [{"parameter": p, "nominal": n, "unit": u,
                "as_found": round(n * (uv_found if u == "uW/cm2" else lx_found), 6),
                "as_left": n}
               for p, n, u in POINTS if only is None or u == only]
    return event("calibration.record", time, equipment_id=equipment_id,
                 calibration_date=time[:10], certificate_number=certificate,
                 provider="Northbridge Calibration Ltd", technician="L. Brandt", results=results,
                 **extra)


def job(time, po):
    return (event("clientpo.link", time, clientpo_id=po, equipment=[UVA]) +
            event("test.start", time.replace(":00Z", ":05Z"), clientpo_id=po))


def chain_of(run, reference):
    impact = next(i for i in run.topic("oot.impact") if i["equipment_id"] == reference)
    return impact["chain"]


class ChainEntriesListTheJobsThatRestedOnThem(unittest.TestCase):
    def test_each_check_lists_only_the_jobs_tested_until_the_next_check(self):
        # Two UV-A checks with the radiometer, a job after each; the radiometer then found
        # 10 % high. The 06:00 check carried only PO-A (PO-B rested on the 07:00 check).
        st = Checked(self)
        run = st.run(uv_check("2025-03-10T06:00:00Z", 1210) + job("2025-03-10T06:10:00Z", "PO-A") +
                     uv_check("2025-03-10T07:00:00Z", 1240) + job("2025-03-10T07:10:00Z", "PO-B") +
                     radiometer_cal("2025-03-10T08:00:00Z", RAD, "NCL-2025-03-0901", 1.1))
        self.assertEqual(run.errors, [])
        self.assertEqual([g["allowed"] for g in run.gates()], [True, True])
        self.assertEqual([(c["via"], [j["clientpo_id"] for j in c["clientpos"]])
                          for c in chain_of(run, RAD)],
                         [("check MT-UVA-DAILY at 2025-03-10T06:00:00Z", ["PO-A"]),
                          ("check MT-UVA-DAILY at 2025-03-10T07:00:00Z", ["PO-B"])])
        alert = next(a for a in run.alerts("out_of_tolerance_impact") if a["equipment_id"] == RAD)
        self.assertEqual(alert["chain_clientpo_ids"], ["PO-A", "PO-B"])

    def test_a_calibration_lists_only_the_jobs_until_the_items_next_calibration(self):
        # The radiometer calibrated against the standard at 07:00, used for a check and a job,
        # then calibrated again (not against it) at 09:00 and used again; the standard found out
        # at 10:00: the radiometer's 07:00 calibration carried the 07:10 check, not the 09:10
        # one, and the lamp's jobs after 09:00 did not rest on it.
        st = Checked(self)
        run = st.run(
            radiometer_cal("2025-03-10T07:00:00Z", RAD, "NCL-2025-03-0902", 1,
                           reference_standard=STD) +
            uv_check("2025-03-10T07:10:00Z", 1210) + job("2025-03-10T07:20:00Z", "PO-A") +
            radiometer_cal("2025-03-10T09:00:00Z", RAD, "NCL-2025-03-0903", 1) +
            uv_check("2025-03-10T09:10:00Z", 1210) + job("2025-03-10T09:20:00Z", "PO-B") +
            radiometer_cal("2025-03-10T10:00:00Z", STD, "NCL-2025-03-0904", 1.1))
        self.assertEqual(run.errors, [])
        chain = chain_of(run, STD)
        self.assertEqual([(c["equipment_id"], c["via"], c["depth"],
                           [j["clientpo_id"] for j in c["clientpos"]]) for c in chain],
                         [(RAD, "calibration NCL-2025-03-0902 on 2025-03-10", 1, []),
                          (UVA, "check MT-UVA-DAILY at 2025-03-10T07:10:00Z", 2, ["PO-A"])])


class ReadingsReJudgedWithTheFindingsSize(unittest.TestCase):
    def events(self):
        return (uv_check("2025-03-10T06:00:00Z", 1210) + job("2025-03-10T06:10:00Z", "PO-A") +
                uv_check("2025-03-10T07:00:00Z", 1050) + job("2025-03-10T07:10:00Z", "PO-B") +
                radiometer_cal("2025-03-10T08:00:00Z", RAD, "NCL-2025-03-0911", 1.1) +
                event("test.start", "2025-03-10T08:10:00Z", clientpo_id="PO-B"))

    def test_a_check_read_with_a_radiometer_10_percent_high_would_have_failed(self):
        st = Checked(self)
        run = st.run(self.events())
        self.assertEqual(run.errors, [])
        chain = chain_of(run, RAD)
        self.assertEqual([c["would_have_failed"] for c in chain], [False, True])
        first, second = (c["rejudged"] for c in chain)
        self.assertEqual(len(first), 1)
        self.assertAlmostEqual(first[0]["corrected"], 1100, places=9)  # 1210 / 1.1: still passes
        line = second[0]
        self.assertEqual((line["step"], line["unit"], line["value"], line["limit"],
                          line["finding_size"], line["would_have_failed"]),
                         ("uv_a_irradiance", "uW/cm2", 1050, "min 1000 uW/cm2",
                          {"nominal": 1000, "as_found": 1100, "rule": "proportional"}, True))
        self.assertAlmostEqual(line["corrected"], 1050 / 1.1, places=9)
        alert = next(a for a in run.alerts("out_of_tolerance_impact") if a["equipment_id"] == RAD)
        self.assertIn("2 record(s) resting on it, down the chain, now suspect, and 2 job(s) tested "
                      "on the items they verified; re-judged with the finding's size, 1 of them "
                      "would have failed", alert["message"])
        # The ledger keeps the same chain; the lamp is held, and its reason says why.
        self.assertEqual(st.ledger_records("oot.impact")[-1]["metadata"]["chain"], chain)
        gate = run.gates("PO-B")[-1]
        self.assertEqual((gate["allowed"], gate["blocking"]), (False, [UVA]))
        reason = item(gate, UVA)["reason"]
        self.assertIn("the one at 2025-03-10T07:00:00Z, made with a reference found out of "
                      "tolerance since, would have failed: uv_a_irradiance 1050 uW/cm2 corrected "
                      "to 954.545, outside min 1000 uW/cm2, by the finding of MT01-RAD-01 "
                      "(certificate NCL-2025-03-0911)", reason)
        # Kept across a restart.
        run = st.run(event("test.start", "2025-03-10T08:20:00Z", clientpo_id="PO-B"))
        self.assertIn("would have failed: uv_a_irradiance 1050",
                      item(run.gates("PO-B")[0], UVA)["reason"])

    def test_a_check_that_would_still_pass_is_held_but_not_said_to_fail(self):
        st = Checked(self)
        run = st.run(uv_check("2025-03-10T07:00:00Z", 1210) + job("2025-03-10T07:10:00Z", "PO-B") +
                     radiometer_cal("2025-03-10T08:00:00Z", RAD, "NCL-2025-03-0912", 1.1) +
                     event("test.start", "2025-03-10T08:10:00Z", clientpo_id="PO-B"))
        self.assertEqual([c["would_have_failed"] for c in chain_of(run, RAD)], [False])
        alert = next(a for a in run.alerts("out_of_tolerance_impact") if a["equipment_id"] == RAD)
        self.assertNotIn("would have failed", alert["message"])
        reason = item(run.gates("PO-B")[-1], UVA)["reason"]
        self.assertIn("found out of tolerance since", reason)
        self.assertNotIn("would have failed", reason)

    def test_no_as_found_value_in_the_readings_unit_is_not_re_judged(self):
        # Found out in illuminance only (no UV-A point measured): the size of the error in
        # uW/cm2 is not known, so the lamp's check is not re-judged.
        st = Checked(self)
        run = st.run(uv_check("2025-03-10T07:00:00Z", 1050) + job("2025-03-10T07:10:00Z", "PO-B") +
                     radiometer_cal("2025-03-10T08:00:00Z", RAD, "NCL-2025-03-0913", 1, lx_found=1.2,
                                    only="lx"))
        self.assertEqual(run.errors, [])
        entry = chain_of(run, RAD)[0]
        self.assertEqual((entry["finding_size"], entry["would_have_failed"]), (None, None))
        self.assertNotIn("rejudged", entry)
        self.assertIn("no reading of it is in a unit the finding gives an as-found value for",
                      entry["not_rejudged"])
        self.assertEqual([j["clientpo_id"] for j in entry["clientpos"]], ["PO-B"])

    def test_a_calibration_against_a_standard_read_high_would_have_failed_and_says_so(self):
        # The radiometer was adjusted to agree with a standard that read 10 % high: at a true
        # 1000 it reads 1090.9, outside its 950 to 1050. Two levels down, the lamp's check
        # rests on it; its size there is not known, so it is held but not re-judged.
        st = Checked(self)
        run = st.run(
            radiometer_cal("2025-03-10T07:00:00Z", RAD, "NCL-2025-03-0921", 1,
                           reference_standard=STD) +
            uv_check("2025-03-10T07:10:00Z", 1210) + job("2025-03-10T07:20:00Z", "PO-A") +
            radiometer_cal("2025-03-10T08:00:00Z", STD, "NCL-2025-03-0922", 1.1) +
            event("status.query", "2025-03-10T08:10:00Z"))
        self.assertEqual(run.errors, [])
        cal, check = chain_of(run, STD)
        self.assertTrue(cal["would_have_failed"])
        uv = [r for r in cal["rejudged"] if r["unit"] == "uW/cm2"]
        self.assertEqual([(r["nominal"], r["value"], r["limit"], r["would_have_failed"])
                          for r in uv],
                         [(1000, 1000, "950 to 1050 uW/cm2", True),
                          (2000, 2000, "1900 to 2100 uW/cm2", True)])
        self.assertAlmostEqual(uv[0]["corrected"], 2000 - 1000 / 1.1, places=9)
        self.assertFalse(any(r["would_have_failed"] for r in cal["rejudged"]
                             if r["unit"] == "lx"))  # illuminance was found right
        self.assertEqual((check["depth"], check["finding_size"], check["would_have_failed"]),
                         (2, None, None))
        self.assertIn("known only for the reference found out", check["not_rejudged"])
        status = run.topic("status")[-1]
        rad = item(status, RAD)
        self.assertEqual(rad["status"], "calibration_failed")
        self.assertIn("calibration NCL-2025-03-0921 made against MT01-UVREF-01 (found out of "
                      "tolerance, NCL-2025-03-0922) would have failed: uv_a_irradiance 1000 "
                      "uW/cm2 corrected to 1090.91, outside 950 to 1050 uW/cm2",
                      rad["reason"])
        self.assertFalse(item(status, UVA)["ready"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
