"""The review of the work a failure makes suspect (issue 9, defects 10 and 13), through
smart-host on copies of examples/mt-station:

- a failed process check lists the jobs tested with the item since that procedure last passed
  (the same review list as oot.impact), in the answer, the ledger and the alert;
- a retired item's calibration is still recorded, and found out of tolerance as found (the
  certificate's statement: no contract in force gives its tolerances) raises oot.impact over the
  jobs it was used on; an id the station never knew is still refused;
- the suspect window opens at the instant of the last good calibration where it was written
  with one, not at midnight of its day.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "schemas"))
from test_domain import ROOT, Station, check_event, event  # noqa: E402

try:
    import validate  # tests/schemas/validate.py
    VALIDATORS = validate.make_validators(validate.load_schemas(ROOT))
except SystemExit:  # no jsonschema module: the shapes are not checked here
    VALIDATORS = None

BENCH = "MT01-BENCH-01"
BATH = "MT01-CT-01"
PROVIDER = "Northbridge Calibration Ltd (ISO/IEC 17025 accredited)"


class Checked(Station):
    """Every output line, ledger record and alert of a run must match the schemas."""

    def run(self, events_text, clock=None):
        run = super().run(events_text, clock)
        if VALIDATORS:
            for n, line in enumerate(run.out, 1):
                self.test.assertEqual(
                    validate.errors(VALIDATORS["output-event.schema.json"], line), [], line)
            for record in self.ledger_records():
                self.test.assertEqual(
                    validate.errors(VALIDATORS["ledger-record.schema.json"], record), [], record)
            for alert in self.alerts():
                self.test.assertEqual(
                    validate.errors(VALIDATORS["alert.schema.json"], alert), [], alert)
        return run


def bath(time, ml):
    return check_event(time, BATH, "MT-BATH-8H",
                       readings={"settling_time": 60, "concentration": ml})


def job(time, po, equipment):
    return (event("clientpo.link", time, clientpo_id=po, equipment=equipment) +
            event("test.start", time.replace(":00Z", ":05Z"), clientpo_id=po))


def morning_checks(day):
    return (check_event(day + "T06:05:00Z", "MT01-UVA-01", "MT-UVA-DAILY",
                        readings={"uv_a_irradiance": 1240}, attestations={"filter_intact": True},
                        reference_instrument="MT01-RAD-01") +
            check_event(day + "T06:10:00Z", "MT01-KETOS-01", "MT-SYS-DAILY",
                        attestations={"ring_indications": True}) +
            bath(day + "T06:15:00Z", 0.25) +
            check_event(day + "T06:16:00Z", BATH, "MT-BATH-CONTAM",
                        readings={"contamination": 8}))


def bench_calibration(time, date, certificate, found_1000, **extra):
    data = {"equipment_id": BENCH, "calibration_date": date, "certificate_number": certificate,
            "provider": PROVIDER, "technician": "L. Brandt", "reference_standard": "MT01-SHUNT-01",
            "results": [{"parameter": "current", "nominal": 500, "unit": "A", "as_found": 500},
                        {"parameter": "current", "nominal": 1000, "unit": "A",
                         "as_found": found_1000, "as_left": 1001},
                        {"parameter": "current", "nominal": 2000, "unit": "A", "as_found": 2000},
                        {"parameter": "shot_duration", "nominal": 0.5, "unit": "s",
                         "as_found": 0.5}]}
    data.update(extra)
    return event("calibration.record", time, **data)


FULL = [BENCH, "MT01-UVA-01", BATH, "MT01-KETOS-01"]


class AFailedProcessCheckListsTheWorkToReview(unittest.TestCase):
    def test_the_bath_read_low_at_noon_lists_the_job_tested_on_the_morning_pass(self):
        st = Checked(self)
        run = st.run(morning_checks("2025-03-10") +
                     job("2025-03-10T06:20:00Z", "SC-2025-061-MT", [BATH]) +
                     bath("2025-03-10T12:00:00Z", 0.03))
        self.assertEqual([g["allowed"] for g in run.gates()], [True])
        failed = run.topic("maintenance.checked")[-1]
        self.assertFalse(failed["passed"])
        self.assertEqual(failed["review"]["since"], "2025-03-10T06:15:00Z")
        self.assertEqual([p["clientpo_id"] for p in failed["review"]["clientpos"]],
                         ["SC-2025-061-MT"])
        self.assertEqual(failed["review"]["clientpos"][0]["decided_at"], "2025-03-10T06:20:05Z")
        record = st.ledger_records("maintenance.checked")[-1]
        self.assertEqual(record["metadata"]["review"], failed["review"])
        self.assertIn("1 test(s) allowed with it since 2025-03-10T06:15:00Z to review",
                      record["details"])
        alert = run.alerts("maintenance_check_failed")[-1]
        self.assertEqual(alert["clientpo_ids"], ["SC-2025-061-MT"])
        self.assertEqual(alert["review_since"], "2025-03-10T06:15:00Z")

    def test_only_the_jobs_since_the_last_pass_of_that_procedure(self):
        st = Checked(self)
        run = st.run(morning_checks("2025-03-10") +
                     job("2025-03-10T07:00:00Z", "SC-2025-062-MT", [BATH]) +
                     bath("2025-03-10T09:00:00Z", 0.25) +
                     job("2025-03-10T10:00:00Z", "SC-2025-063-MT", [BATH]) +
                     job("2025-03-10T10:30:00Z", "SC-2025-064-MT", [BENCH]) +
                     job("2025-03-10T11:00:00Z", "SC-2025-063-MT", [BATH]) +
                     bath("2025-03-10T12:00:00Z", 0.03))
        review = run.topic("maintenance.checked")[-1]["review"]
        self.assertEqual(review["since"], "2025-03-10T09:00:00Z")
        self.assertEqual([p["clientpo_id"] for p in review["clientpos"]],
                         ["SC-2025-063-MT", "SC-2025-063-MT"])  # both tests, one job
        self.assertEqual(run.alerts("maintenance_check_failed")[-1]["clientpo_ids"],
                         ["SC-2025-063-MT"])

    def test_a_pass_lists_no_review(self):
        run = Checked(self).run(morning_checks("2025-03-10"))
        self.assertTrue(all("review" not in c for c in run.topic("maintenance.checked")))


class ARetiredItemsCalibration(unittest.TestCase):
    def retired_bench(self):
        """The bench used for a job on 10 March, then retired by version 3 of the contract."""
        st = Checked(self)
        run = st.run(morning_checks("2025-03-10") + job("2025-03-10T07:00:00Z", "SC-2025-071-MT",
                                                        FULL))
        self.assertEqual([g["allowed"] for g in run.gates()], [True])
        doc = st.contract()
        doc["version"] += 1
        doc["equipment_list"] = [e for e in doc["equipment_list"] if e["equipment_id"] != BENCH]
        st.write_contract(doc)
        return st

    def test_found_out_of_tolerance_it_raises_the_impact_over_its_past_jobs(self):
        st = self.retired_bench()
        run = st.run(bench_calibration("2025-03-14T09:00:00Z", "2025-03-13", "NCL-2025-03-0390",
                                       1130, as_found_in_tolerance=False))
        self.assertEqual(run.errors, [])
        recorded = run.topic("calibration.recorded")[-1]
        self.assertEqual((recorded["retired"], recorded["as_found_in_tolerance"],
                          recorded["ready"]), (True, False, False))
        impact = run.topic("oot.impact")
        self.assertEqual(len(impact), 1)
        self.assertEqual([p["clientpo_id"] for p in impact[0]["clientpos"]], ["SC-2025-071-MT"])
        self.assertEqual(impact[0]["certificate_number"], "NCL-2025-03-0390")
        self.assertEqual(run.alerts("out_of_tolerance_impact")[-1]["clientpo_ids"],
                         ["SC-2025-071-MT"])
        record = st.ledger_records("calibration.recorded")[-1]
        self.assertTrue(record["metadata"]["retired"])
        self.assertEqual(record["metadata"]["results"][1]["as_found"], 1130)

    def test_in_tolerance_as_found_it_is_recorded_with_no_impact(self):
        st = self.retired_bench()
        run = st.run(bench_calibration("2025-03-14T09:00:00Z", "2025-03-13", "NCL-2025-03-0391",
                                       1000, as_found_in_tolerance=True))
        self.assertEqual(run.errors, [])
        self.assertTrue(run.topic("calibration.recorded")[-1]["as_found_in_tolerance"])
        self.assertEqual(run.topic("oot.impact"), [])

    def test_the_statement_is_required_for_a_retired_item_and_refused_for_one_in_force(self):
        st = self.retired_bench()
        run = st.run(bench_calibration("2025-03-14T09:00:00Z", "2025-03-13", "NCL-2025-03-0392",
                                       1130) +
                     event("calibration.record", "2025-03-14T09:01:00Z", equipment_id="MT01-ZZ-09",
                           calibration_date="2025-03-13", certificate_number="X-1",
                           provider=PROVIDER, technician="L. Brandt",
                           as_found_in_tolerance=False) +
                     event("calibration.record", "2025-03-14T09:02:00Z",
                           equipment_id="MT01-GAUSS-01", calibration_date="2025-03-13",
                           certificate_number="X-2", provider=PROVIDER, technician="L. Brandt",
                           as_found_in_tolerance=False))
        self.assertIn("data.as_found_in_tolerance: missing required field (MT01-BENCH-01 is "
                      "retired", run.error(1))
        self.assertEqual(run.error(2), "data.equipment_id: 'MT01-ZZ-09' is not named by any "
                         "contract in force")
        self.assertIn("data.as_found_in_tolerance: only for a retired item", run.error(3))
        self.assertEqual(run.topic("calibration.recorded"), [])


class TheSuspectWindowOpensAtTheGoodCalibrationsInstant(unittest.TestCase):
    def test_a_job_tested_that_morning_before_the_calibration_is_not_listed(self):
        st = Checked(self)
        run = st.run(job("2025-03-11T06:00:00Z", "SC-2025-081-MT", [BENCH]) +
                     bench_calibration("2025-03-11T06:30:00Z", "2025-03-11T06:25:00Z",
                                       "NCL-2025-03-0301", 1000) +
                     job("2025-03-11T07:00:00Z", "SC-2025-082-MT", [BENCH]) +
                     bench_calibration("2025-03-12T07:00:00Z", "2025-03-12", "NCL-2025-03-0322",
                                       1130))
        self.assertEqual([g["allowed"] for g in run.gates()], [True, True])
        impact = run.topic("oot.impact")
        self.assertEqual(len(impact), 1)
        self.assertEqual([p["clientpo_id"] for p in impact[0]["clientpos"]], ["SC-2025-082-MT"])
        self.assertEqual(impact[0]["suspect_since"], "2025-03-11T06:25:00Z")

    def test_across_a_restart_too(self):
        st = Checked(self)
        st.run(job("2025-03-11T06:00:00Z", "SC-2025-081-MT", [BENCH]) +
               bench_calibration("2025-03-11T06:30:00Z", "2025-03-11T06:25:00Z",
                                 "NCL-2025-03-0301", 1000) +
               job("2025-03-11T07:00:00Z", "SC-2025-082-MT", [BENCH]))
        run = st.run(bench_calibration("2025-03-12T07:00:00Z", "2025-03-12", "NCL-2025-03-0322",
                                       1130))
        self.assertEqual([p["clientpo_id"] for p in run.topic("oot.impact")[0]["clientpos"]],
                         ["SC-2025-082-MT"])

    def test_a_date_alone_still_opens_it_at_the_start_of_its_day(self):
        st = Checked(self)
        run = st.run(job("2025-03-11T06:00:00Z", "SC-2025-081-MT", [BENCH]) +
                     bench_calibration("2025-03-11T06:30:00Z", "2025-03-11", "NCL-2025-03-0301",
                                       1000) +
                     bench_calibration("2025-03-12T07:00:00Z", "2025-03-12", "NCL-2025-03-0322",
                                       1130))
        self.assertEqual([p["clientpo_id"] for p in run.topic("oot.impact")[0]["clientpos"]],
                         ["SC-2025-081-MT"])


if __name__ == "__main__":
    unittest.main()
