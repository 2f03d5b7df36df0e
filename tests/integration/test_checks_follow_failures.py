"""Maintenance checks judged as a metrologist would (issue 9, defects 1, 5 and 8), through
smart-host on copies of examples/mt-station:

- a failed check makes its item not ready whatever `required_before_test` says, until the same
  procedure passes again (required_before_test: false only means never done or lapsed does not
  block);
- a tag-out caused by a failed check ends only on a pass of that procedure, or an in-tolerance
  calibration, performed after it; another procedure passing is not the verification;
- a failure can always be recorded: a step not answered is "not taken" and fails, and a check
  made with a reference that is not fit is recorded, marked suspect, and cannot pass (a suspect
  pass counts as not done; a failed step still fails the item).

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import os
import sqlite3
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "schemas"))
from test_domain import ROOT, Station, check_event, event, item  # noqa: E402

try:
    import validate  # tests/schemas/validate.py: the schemas and their validators
    VALIDATORS = validate.make_validators(validate.load_schemas(ROOT))
except SystemExit:  # no jsonschema module: the shapes are not checked here
    VALIDATORS = None

YOKE = "MT01-YOKE-01"
LIFT = "MT-YOKE-LIFT"
VISUAL = "MT-YOKE-VISUAL"


def lift(time, kg, ref="MT01-TW-01"):
    data = {"readings": {"pole_spacing": 100, "lifted_mass": kg}}
    if ref:
        data["reference_instrument"] = ref
    return check_event(time, YOKE, LIFT, **data)


def visual(time, ok=True):
    return check_event(time, YOKE, VISUAL, attestations={"cable_intact": ok})


def start(time, po="SC-2025-090-MT"):
    return event("test.start", time, clientpo_id=po)


def link(time, po="SC-2025-090-MT", equipment=(YOKE,)):
    return event("clientpo.link", time, clientpo_id=po, equipment=list(equipment))


def back(time):
    return event("equipment.return_to_service", time, equipment_id=YOKE, technician="L. Brandt")


def yoke_station(test, **lift_terms):
    """The MT station with the weekly lift not required before a test (and lift_terms), and a
    second, unrelated checkbox procedure on the yoke."""
    st = Checked(test)
    doc = st.contract()
    proc = next(p for p in doc["procedures"] if p["procedure_id"] == LIFT)
    proc["required_before_test"] = False
    proc.update(lift_terms)
    doc["procedures"].append({
        "procedure_id": VISUAL, "title": "Yoke cable and housing visual check",
        "equipment": [YOKE], "frequency": "daily", "required_before_test": False,
        "checklist_steps": [{"step_id": "cable_intact", "description": "Cable and housing intact",
                             "input_type": "checkbox"}]})
    st.write_contract(doc)
    return st


class Checked(Station):
    """A Station whose every run's output lines and ledger records must match the schemas
    (the new answer fields: suspect, suspect_reason, steps not taken)."""

    def run(self, events_text, clock=None):
        run = super().run(events_text, clock)
        if VALIDATORS:
            for n, line in enumerate(run.out, 1):
                errs = validate.errors(VALIDATORS["output-event.schema.json"], line)
                self.test.assertEqual(errs, [], "output line %d: %s" % (n, line))
            for record in self.ledger_records():
                errs = validate.errors(VALIDATORS["ledger-record.schema.json"], record)
                self.test.assertEqual(errs, [], record)
        return run


def history(st):
    """The store's check history: (procedure, passed, suspect, suspect_reason), oldest first."""
    db = sqlite3.connect(os.path.join(st.dir, "var", "maintenance", "store.sqlite"))
    try:
        return db.execute("SELECT procedure_id, passed, suspect, suspect_reason FROM checks "
                          "ORDER BY id").fetchall()
    finally:
        db.close()


class FailedCheckNotRequiredBeforeATest(unittest.TestCase):
    def test_a_failed_lift_blocks_the_next_test_until_the_lift_passes(self):
        st = yoke_station(self)
        run = st.run(link("2025-03-10T08:00:00Z") + start("2025-03-10T08:01:00Z") +
                     lift("2025-03-10T08:10:00Z", 2.1) + start("2025-03-10T08:15:00Z") +
                     event("status.query", "2025-03-10T08:16:00Z", equipment_id=YOKE) +
                     lift("2025-03-10T09:00:00Z", 5.0) + start("2025-03-10T09:05:00Z"))
        self.assertEqual(run.errors, [])
        gates = run.gates()
        # Never done does not block (not required before a test); failed does; passed again,
        # allowed.
        self.assertEqual([g["allowed"] for g in gates], [True, False, True])
        self.assertEqual(gates[1]["blocking"], [YOKE])
        reason = item(gates[1], YOKE)["reason"]
        self.assertIn("weekly check MT-YOKE-LIFT failed at 2025-03-10T08:10:00", reason)
        self.assertIn("lifted_mass 2.1 kg outside min 4.5 kg", reason)
        checks = item(gates[1], YOKE)["checks"]
        self.assertEqual([(c["procedure_id"], c["ok"]) for c in checks], [(LIFT, False)])
        failed = run.topic("maintenance.checked")[0]
        self.assertEqual((failed["passed"], failed["ready"]), (False, False))
        status = item(run.topic("status")[0], YOKE)
        self.assertFalse(status["ready"])
        self.assertIn("MT-YOKE-LIFT failed", status["reason"])
        record = [r for r in st.ledger_records("gate.decision")][1]
        self.assertIn("MT-YOKE-LIFT failed", record["details"])

    def test_a_lapsed_pass_of_a_check_not_required_does_not_block(self):
        st = yoke_station(self)
        run = st.run(lift("2025-03-10T08:10:00Z", 5.0) + link("2025-03-10T08:11:00Z") +
                     start("2025-03-20T08:00:00Z"))
        self.assertTrue(run.gates()[0]["allowed"])

    def test_another_procedure_passing_does_not_clear_the_failure(self):
        st = yoke_station(self)
        run = st.run(link("2025-03-10T08:00:00Z") + lift("2025-03-10T08:10:00Z", 2.1) +
                     visual("2025-03-10T08:20:00Z") + start("2025-03-10T08:25:00Z"))
        self.assertFalse(run.gates()[0]["allowed"])
        self.assertIn("MT-YOKE-LIFT failed", item(run.gates()[0], YOKE)["reason"])

    def test_the_failure_stands_across_a_restart(self):
        st = yoke_station(self)
        st.run(link("2025-03-10T08:00:00Z") + lift("2025-03-10T08:10:00Z", 2.1))
        run = st.run(start("2025-03-10T08:25:00Z"))
        self.assertFalse(run.gates()[0]["allowed"])


class ReturnAfterAFailedCheck(unittest.TestCase):
    def setUp(self):
        self.st = yoke_station(self, on_fail="out_of_service")

    def test_an_unrelated_pass_is_not_the_verification_the_failed_procedure_is(self):
        run = self.st.run(link("2025-03-10T08:00:00Z") + lift("2025-03-10T08:10:00Z", 2.1) +
                          visual("2025-03-10T08:20:00Z") + back("2025-03-10T08:21:00Z") +
                          lift("2025-03-10T09:00:00Z", 4.8) + back("2025-03-10T09:01:00Z") +
                          start("2025-03-10T09:05:00Z"))
        self.assertEqual(len(run.errors), 1, run.errors)
        self.assertIn("MT01-YOKE-01 cannot return to service: tagged out at "
                      "2025-03-10T08:10:00Z by a failed check MT-YOKE-LIFT, it needs "
                      "MT-YOKE-LIFT to pass", run.error(4))
        updated = run.topic("equipment.updated")
        self.assertEqual([(u["action"], u["item"]["status"], u["item"]["ready"]) for u in updated],
                         [("return_to_service", "current", True)])
        self.assertTrue(run.gates()[0]["allowed"])
        rejected = self.st.ledger_records("input.rejected")
        self.assertEqual([r["metadata"]["line"] for r in rejected], [4])

    def test_the_procedure_failing_again_after_a_calibration_is_no_verification(self):
        cal = event("calibration.record", "2025-03-10T10:00:00Z", equipment_id=YOKE,
                    calibration_date="2025-03-10T09:30:00Z", certificate_number="MT01-LIFT-2025-03B",
                    provider="In-house dead-weight test", technician="R. Okafor",
                    reference_standard="MT01-TW-01",
                    results=[{"parameter": "lifted_mass", "unit": "kg", "as_found": 5.1}])
        run = self.st.run(lift("2025-03-10T08:10:00Z", 2.1) + cal +
                          lift("2025-03-10T10:10:00Z", 3.0) + back("2025-03-10T10:11:00Z") +
                          lift("2025-03-10T10:30:00Z", 4.9) + back("2025-03-10T10:31:00Z"))
        self.assertEqual(len(run.errors), 1, run.errors)
        self.assertIn("check MT-YOKE-LIFT failed again at 2025-03-10T10:10:00Z", run.error(4))
        self.assertEqual(run.topic("equipment.updated")[-1]["item"]["ready"], True)

    def test_an_in_tolerance_calibration_after_the_tag_out_verifies_it(self):
        cal = event("calibration.record", "2025-03-10T10:00:00Z", equipment_id=YOKE,
                    calibration_date="2025-03-10T09:30:00Z", certificate_number="MT01-LIFT-2025-03B",
                    provider="In-house dead-weight test", technician="R. Okafor",
                    reference_standard="MT01-TW-01",
                    results=[{"parameter": "lifted_mass", "unit": "kg", "as_found": 5.1}])
        run = self.st.run(lift("2025-03-10T08:10:00Z", 2.1) + cal + back("2025-03-10T10:05:00Z"))
        self.assertEqual(run.errors, [])
        item_back = run.topic("equipment.updated")[0]["item"]
        # Back in service, but the lift's failure still stands until the lift passes.
        self.assertEqual((item_back["status"], item_back["ready"]), ("current", False))
        self.assertIn("MT-YOKE-LIFT failed", item_back["reason"])

    def test_the_cause_of_the_tag_out_is_kept_across_a_restart(self):
        self.st.run(lift("2025-03-10T08:10:00Z", 2.1))
        run = self.st.run(visual("2025-03-10T08:20:00Z") + back("2025-03-10T08:21:00Z"))
        self.assertIn("by a failed check MT-YOKE-LIFT", run.error(2))

    def test_a_store_from_before_gets_the_new_columns(self):
        # A store written before the tag-out's cause and suspect checks were kept: its rows
        # have none (a tag-out then counts as by hand), and it takes the new ones at once.
        self.st.run(event("equipment.out_of_service", "2025-03-10T08:00:00Z", equipment_id=YOKE,
                          reason="Dropped", technician="L. Brandt"))
        db = sqlite3.connect(os.path.join(self.st.dir, "var", "maintenance", "store.sqlite"))
        for table, column in [("equipment", "out_of_service_procedure"), ("checks", "suspect"),
                              ("checks", "suspect_reason")]:
            db.execute("ALTER TABLE %s DROP COLUMN %s" % (table, column))
        db.commit()
        db.close()
        run = self.st.run(visual("2025-03-10T08:20:00Z") + back("2025-03-10T08:21:00Z") +
                          lift("2025-03-10T08:30:00Z", 2.1) + back("2025-03-10T08:31:00Z") +
                          lift("2025-03-10T08:40:00Z", 5.0, ref="MT01-RAD-01"))
        self.assertEqual(len(run.errors), 1, run.errors)
        self.assertIn("by a failed check MT-YOKE-LIFT", run.error(4))
        self.assertEqual([h[:3] for h in history(self.st)],
                         [(VISUAL, 1, 0), (LIFT, 0, 0), (LIFT, 1, 1)])

    def test_a_manual_tag_out_still_takes_any_passed_check(self):
        run = self.st.run(
            event("equipment.out_of_service", "2025-03-10T08:00:00Z", equipment_id=YOKE,
                  reason="Cable insulation cracked", technician="L. Brandt") +
            visual("2025-03-10T08:20:00Z") + back("2025-03-10T08:21:00Z"))
        self.assertEqual(run.errors, [])
        self.assertEqual(run.topic("equipment.updated")[-1]["action"], "return_to_service")


class FailuresAreAlwaysRecorded(unittest.TestCase):
    def test_a_lift_of_nothing_with_an_expired_test_weight_is_recorded_failed_and_suspect(self):
        # Shipped terms: the lift is required before a test. The test weight was due 2025-03-20.
        st = Checked(self)
        run = st.run(lift("2025-03-18T08:00:00Z", 4.6) + link("2025-03-18T08:05:00Z") +
                     start("2025-03-18T08:06:00Z") +
                     lift("2025-03-24T08:00:00Z", 0) + start("2025-03-24T08:05:00Z"))
        self.assertEqual(run.errors, [])
        gates = run.gates()
        self.assertEqual([g["allowed"] for g in gates], [True, False])
        checked = run.topic("maintenance.checked")[1]
        self.assertEqual((checked["passed"], checked["suspect"], checked["ready"]),
                         (False, True, False))
        self.assertIn("reference instrument MT01-TW-01 was not fit for use at "
                      "2025-03-24T08:00:00Z: calibration expired", checked["suspect_reason"])
        reason = item(gates[1], YOKE)["reason"]
        self.assertIn("MT-YOKE-LIFT failed at 2025-03-24T08:00:00", reason)
        self.assertIn("lifted_mass 0 kg outside min 4.5 kg", reason)
        self.assertIn("suspect: reference MT01-TW-01 not fit", reason)
        record = st.ledger_records("maintenance.checked")[1]
        self.assertEqual((record["metadata"]["passed"], record["metadata"]["suspect"]),
                         (False, True))
        self.assertIn("was not fit for use at 2025-03-24T08:00:00Z: calibration expired", record["metadata"]["suspect_reason"])
        self.assertEqual(history(st)[1][:3], (LIFT, 0, 1))
        self.assertIn("MT01-TW-01 was not fit for use", history(st)[1][3])
        self.assertEqual(len(run.alerts("maintenance_check_failed")), 1)

    def test_a_suspect_pass_counts_as_not_done(self):
        st = Checked(self)
        run = st.run(
            # With no earlier pass, a pass made with the expired weight leaves it not done ...
            lift("2025-03-24T08:00:00Z", 5.0) + link("2025-03-24T08:05:00Z") +
            start("2025-03-24T08:06:00Z") +
            # ... and after a failure, it does not clear the failure.
            event("calibration.record", "2025-03-24T09:00:00Z", equipment_id="MT01-TW-01",
                  calibration_date="2025-03-24", certificate_number="NCL-2025-03-0999",
                  provider="Northbridge Calibration Ltd", technician="L. Brandt",
                  results=[{"parameter": "mass", "nominal": 4.54, "unit": "kg",
                            "as_found": 4.541}]) +
            lift("2025-03-24T09:10:00Z", 3.0) +
            event("calibration.schedule", "2025-03-24T09:20:00Z", equipment_id="MT01-TW-01",
                  technician="L. Brandt") +
            lift("2025-03-24T09:30:00Z", 5.0) + start("2025-03-24T09:35:00Z"))
        self.assertEqual(run.errors, [])
        checked = run.topic("maintenance.checked")
        self.assertEqual([(c["passed"], c.get("suspect", False)) for c in checked],
                         [(False, True), (False, False), (False, True)])
        self.assertNotIn("valid_until", checked[0])
        self.assertTrue(all(s["passed"] for s in checked[0]["steps"]))
        gates = run.gates()
        self.assertEqual([g["allowed"] for g in gates], [False, False])
        self.assertIn("required weekly check MT-YOKE-LIFT not done", item(gates[0], YOKE)["reason"])
        self.assertIn("MT-YOKE-LIFT failed at 2025-03-24T09:10:00", item(gates[1], YOKE)["reason"])
        self.assertIn("sent out for calibration", checked[2]["suspect_reason"])
        self.assertIn("SUSPECT, not counted", st.ledger_records("maintenance.checked")[0]["details"])
        self.assertEqual([h[:3] for h in history(st)], [(LIFT, 1, 1), (LIFT, 0, 0), (LIFT, 1, 1)])
        # A suspect pass raises no failure alert: the item failed nothing.
        self.assertEqual(len(run.alerts("maintenance_check_failed")), 1)

    def test_a_suspect_pass_leaves_an_earlier_good_pass_standing(self):
        st = Checked(self)
        run = st.run(lift("2025-03-18T08:00:00Z", 4.6) + link("2025-03-18T08:05:00Z") +
                     lift("2025-03-24T08:00:00Z", 5.0) + start("2025-03-24T08:05:00Z"))
        self.assertEqual(run.errors, [])
        self.assertTrue(run.topic("maintenance.checked")[1]["suspect"])
        self.assertTrue(run.gates()[0]["allowed"])

    def test_a_uv_check_where_the_lamp_does_not_strike_is_recorded_failed(self):
        st = Checked(self)
        run = st.run(
            check_event("2025-03-10T06:05:00Z", "MT01-UVA-01", "MT-UVA-DAILY",
                        readings={"uv_a_irradiance": 1240}, attestations={"filter_intact": True},
                        reference_instrument="MT01-RAD-01") +
            check_event("2025-03-10T07:00:00Z", "MT01-UVA-01", "MT-UVA-DAILY",
                        attestations={"filter_intact": False}, reference_instrument="MT01-RAD-01",
                        notes="lamp does not strike") +
            link("2025-03-10T07:05:00Z", equipment=["MT01-UVA-01"]) +
            start("2025-03-10T07:06:00Z") +
            # A reading of the wrong type is still a refused input.
            check_event("2025-03-10T07:10:00Z", "MT01-UVA-01", "MT-UVA-DAILY",
                        readings={"uv_a_irradiance": "none"}, attestations={"filter_intact": True},
                        reference_instrument="MT01-RAD-01"))
        failed = run.topic("maintenance.checked")[1]
        self.assertFalse(failed["passed"])
        steps = {s["step_id"]: s for s in failed["steps"]}
        self.assertEqual((steps["uv_a_irradiance"]["passed"], steps["uv_a_irradiance"]["taken"]),
                         (False, False))
        self.assertNotIn("value", steps["uv_a_irradiance"])
        self.assertEqual(steps["filter_intact"]["passed"], False)
        self.assertEqual(failed["status"], "out_of_service")  # on_fail: out_of_service
        gate = run.gates()[0]
        self.assertFalse(gate["allowed"])
        self.assertIn("uv_a_irradiance not taken; filter_intact not attested",
                      item(gate, "MT01-UVA-01")["reason"])
        self.assertEqual(len(run.errors), 1)
        self.assertTrue(run.error(5).startswith("data.readings.uv_a_irradiance: must be a number"))

    def test_the_shipped_scenario(self):
        # examples/mt-station/scenarios/failures-recorded.jsonl: the lift passed on the 18th
        # with the test weight in date; on the 24th, with the weight expired, the yoke lifts
        # nothing and the lamp does not strike. Both failures are recorded and block the job
        # until the weight is recalibrated, the lift passes, and the lamp passes and returns.
        st = Checked(self)
        run = st.scenario("failures-recorded")
        self.assertEqual(run.errors, [])
        gates = run.gates("SC-2025-071-MT")
        self.assertEqual([g["allowed"] for g in gates], [False, True])
        self.assertEqual(gates[0]["blocking"], ["MT01-UVA-01", YOKE])
        self.assertIn("suspect: reference MT01-TW-01 not fit", item(gates[0], YOKE)["reason"])
        self.assertIn("uv_a_irradiance not taken", item(gates[0], "MT01-UVA-01")["reason"])
        suspect = [c for c in run.topic("maintenance.checked") if c.get("suspect")]
        self.assertEqual([(c["equipment_id"], c["passed"]) for c in suspect], [(YOKE, False)])
        self.assertEqual(run.topic("status")[-1]["summary"]["ready"], 11)

    def test_a_reference_unknown_or_the_item_itself_is_still_refused(self):
        st = Checked(self)
        run = st.run(lift("2025-03-10T08:00:00Z", 0, ref="MT01-TW-99") +
                     lift("2025-03-10T08:01:00Z", 0, ref=YOKE) +
                     lift("2025-03-10T08:02:00Z", 0, ref=None))
        self.assertEqual(len(run.errors), 3)
        self.assertIn("'MT01-TW-99' is not named by any contract", run.error(1))
        self.assertIn("cannot be its own reference", run.error(2))
        self.assertIn("data.reference_instrument: missing required field", run.error(3))
        self.assertEqual(run.topic("maintenance.checked"), [])

    def test_a_reference_that_does_not_measure_what_is_read_makes_the_check_suspect(self):
        st = Checked(self)
        run = st.run(lift("2025-03-10T08:00:00Z", 0, ref="MT01-RAD-01"))
        self.assertEqual(run.errors, [])
        checked = run.topic("maintenance.checked")[0]
        self.assertEqual((checked["passed"], checked["suspect"]), (False, True))
        self.assertIn("is not a reference the contract accepts for procedure MT-YOKE-LIFT",
                      checked["suspect_reason"])


if __name__ == "__main__":
    unittest.main()
