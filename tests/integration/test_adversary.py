"""The gate cannot be talked into allowing a test: each way an adversarial user, with nothing but
the documented input and a simulated clock, once got `allowed: true` for equipment that is not
ready, or made the evidence lie. Each test here failed before its fix.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment; it shares the
station helpers of test_domain.py."""

import json
import os
import unittest

from test_domain import Station, event, check_event, item

GAUSS, RFI = "MT01-GAUSS-01", "MT01-RFI-01"  # no procedures: ready means calibrated


def calibration(time, equipment_id, date, certificate, **extra):
    return event("calibration.record", time, equipment_id=equipment_id, calibration_date=date,
                 certificate_number=certificate, provider="Northbridge Calibration Ltd",
                 technician="L. Brandt", **extra)


def status(time, equipment_id=None):
    return event("status.query", time, **({"equipment_id": equipment_id} if equipment_id else {}))


class AJobIsItsLinkedSet(unittest.TestCase):
    """A start that lists fewer items than the job is linked to still checks every linked one;
    dropping an item is a re-link, recorded with the set it replaces."""

    def test_a_start_listing_only_the_ready_item_is_blocked_by_the_linked_one(self):
        st = Station(self)
        # 2025-06-01: the gaussmeter is current, the field indicator expired on 2025-05-19.
        run = st.run(
            event("clientpo.link", "2025-06-01T08:00:00Z", clientpo_id="PO-1",
                  equipment=[GAUSS, RFI]) +
            event("test.start", "2025-06-01T08:01:00Z", clientpo_id="PO-1", equipment=[GAUSS]) +
            event("test.start", "2025-06-01T08:02:00Z", clientpo_id="PO-1",
                  equipment=["MT01-SHUNT-01"]))
        gates = run.gates("PO-1")
        self.assertEqual([g["allowed"] for g in gates], [False, False])
        self.assertEqual(gates[0]["blocking"], [RFI])
        self.assertEqual([i["equipment_id"] for i in gates[1]["equipment"]],
                         [GAUSS, RFI, "MT01-SHUNT-01"])
        record = st.ledger_records("gate.decision")[0]["metadata"]
        self.assertEqual((record["linked"], record["listed"], record["equipment"]),
                         ([GAUSS, RFI], [GAUSS], [GAUSS, RFI]))

    def test_dropping_an_item_is_a_relink_with_the_previous_set_in_the_ledger(self):
        st = Station(self)
        run = st.run(
            event("clientpo.link", "2025-06-01T08:00:00Z", clientpo_id="PO-1",
                  equipment=[GAUSS, RFI]) +
            event("clientpo.link", "2025-06-01T08:05:00Z", clientpo_id="PO-1", equipment=[GAUSS]) +
            event("test.start", "2025-06-01T08:06:00Z", clientpo_id="PO-1"))
        self.assertTrue(run.gates("PO-1")[0]["allowed"])
        first, second = st.ledger_records("clientpo.linked")
        self.assertNotIn("previous_equipment", first["metadata"])
        self.assertEqual((second["metadata"]["previous_equipment"], second["metadata"]["dropped"]),
                         ([GAUSS, RFI], [RFI]))
        self.assertIn("re-linked", second["details"])
        self.assertEqual(run.topic("clientpo.linked")[1]["dropped"], [RFI])


class ACalibrationIsRecordedOnce(unittest.TestCase):
    def test_sending_a_failed_calibration_again_without_results_does_not_clear_it(self):
        st = Station(self)
        tolerances = st.contract()["equipment_list"]
        gauss = next(e for e in tolerances if e["equipment_id"] == GAUSS)["tolerances"]
        parameter = gauss[0]["parameter"]
        nominal = gauss[0].get("nominal", 0)
        failed = calibration(
            "2025-03-10T09:00:00Z", GAUSS, "2025-03-10", "NCL-2025-03-0900",
            results=[{"parameter": parameter, "nominal": nominal,
                      "as_found": nominal + 1000, "as_left": nominal + 1000}])
        replay = calibration("2025-03-10T09:10:00Z", GAUSS, "2025-03-10", "NCL-2025-03-0900")
        reused = calibration("2025-03-10T09:20:00Z", GAUSS, "2025-03-09", "NCL-2025-03-0900")
        run = st.run(failed + replay + reused + status("2025-03-10T09:30:00Z", GAUSS))
        recorded = run.topic("calibration.recorded")
        self.assertEqual([(r["status"], r.get("replay", False)) for r in recorded],
                         [("calibration_failed", False), ("calibration_failed", True)])
        self.assertIn("data.certificate_number: NCL-2025-03-0900 is already on record for "
                      "MT01-GAUSS-01, dated 2025-03-10", run.error(3))
        self.assertEqual(item(run.topic("status")[-1], GAUSS)["status"], "calibration_failed")
        self.assertEqual(len(st.ledger_records("calibration.recorded")), 1)
        self.assertEqual(len(st.ledger_records("calibration.replayed")), 1)

    def test_the_calibration_on_record_sent_again_does_not_bring_an_item_back_from_sent_out(self):
        st = Station(self)
        baseline = next(e for e in st.contract()["equipment_list"]
                        if e["equipment_id"] == GAUSS)["last_calibration"]
        run = st.run(
            event("calibration.schedule", "2025-03-10T09:00:00Z", equipment_id=GAUSS,
                  technician="L. Brandt", provider="Northbridge Calibration Ltd") +
            calibration("2025-03-10T09:10:00Z", GAUSS, baseline["calibration_date"],
                        baseline["certificate_number"]) +
            status("2025-03-10T09:20:00Z", GAUSS))
        self.assertEqual(run.errors, [])
        self.assertTrue(run.topic("calibration.recorded")[0]["replay"])
        self.assertEqual(item(run.topic("status")[-1], GAUSS)["status"], "pending_calibration")


class TheStationsDay(unittest.TestCase):
    def test_a_timestamp_in_a_foreign_offset_counts_on_the_stations_day(self):
        # A one-day item at a station 12 hours west of UTC. Calibrated at 01:59 on 2025-03-10 in
        # +14:00, that is 23:59 on 2025-03-08 at the station: valid through 2025-03-09 there, so
        # expired on the station's 2025-03-10 (not valid through 03-11 as the text's own day
        # would have it).
        st = Station(self)
        with open(st.node) as f:
            node = json.load(f)
        node["modules"][0]["config"]["utc_offset"] = "-12:00"
        with open(st.node, "w") as f:
            json.dump(node, f)
        doc = {"smart_contract_id": "MT-DAY-001", "contract_type": "SmartMaintenance",
               "version": 1, "station_type": "MT", "warning_period_days": 0,
               "equipment_list": [{"equipment_id": "MT01-DAY-01", "description": "Daily gauge",
                                   "equipment_type": "gauge", "calibration_interval_days": 1}]}
        st.write_contract(doc, "MT-DAY-001.json")
        run = st.run(
            calibration("2025-03-09T12:00:00Z", "MT01-DAY-01", "2025-03-10T01:59:00+14:00",
                        "DAY-1") +
            event("clientpo.link", "2025-03-10T12:30:00Z", clientpo_id="PO-D",
                  equipment=["MT01-DAY-01"]) +
            event("test.start", "2025-03-10T12:31:00Z", clientpo_id="PO-D"))
        self.assertEqual(run.errors, [])
        self.assertEqual(run.topic("calibration.recorded")[0]["due_date"], "2025-03-09")
        gate = run.gates("PO-D")[0]
        self.assertFalse(gate["allowed"])
        self.assertEqual((item(gate, "MT01-DAY-01")["status"],
                          item(gate, "MT01-DAY-01")["days_overdue"]), ("expired", 1))


class ARefusedLineChangesNothing(unittest.TestCase):
    def test_a_bad_line_dated_years_ahead_runs_no_sweep_at_its_time(self):
        st = Station(self)
        bad = event("calibration.record", "2030-01-01T00:00:00Z", equipment_id=GAUSS)
        run = st.run(status("2025-03-10T06:00:00Z") + bad + status("2025-03-10T07:00:00Z") +
                     status("2025-09-01T07:00:00Z"))
        self.assertIn("data.calibration_date: missing required field", run.error(2))
        records = st.ledger_records()
        times = [r["time"] for r in records]
        self.assertEqual(times, sorted(times))
        self.assertFalse([t for t in times if t >= "2026"], times)
        self.assertFalse([a for a in st.alerts() if a["timestamp"] >= "2026"])
        # The periodic sweep was not pushed out to 2030: by September it has found what lapsed.
        lapsed = [r for r in records if r["action"] == "status.transition"
                  and r["time"].startswith("2025-09-01") and r["metadata"]["to"] == "expired"]
        self.assertTrue(lapsed)
        rejected = st.ledger_records("input.rejected")
        self.assertEqual(len(rejected), 1)
        self.assertTrue(rejected[0]["time"].startswith("2025-03-10"))


class AReferenceMeasuresWhatIsRead(unittest.TestCase):
    def uva_check(self, time, reference):
        return check_event(time, "MT01-UVA-01", "MT-UVA-DAILY",
                           readings={"uv_a_irradiance": 1200},
                           attestations={"filter_intact": True}, reference_instrument=reference)

    def test_a_gaussmeter_is_no_reference_for_uv_a_irradiance(self):
        st = Station(self)
        run = st.run(self.uva_check("2025-03-10T06:00:00Z", GAUSS) +
                     self.uva_check("2025-03-10T06:01:00Z", "MT01-RAD-01"))
        # Recorded (a failure must always be recordable), suspect, and not counted as a pass.
        self.assertEqual(run.errors, [])
        suspect, good = run.topic("maintenance.checked")
        self.assertEqual((suspect["passed"], suspect["suspect"], suspect["ready"]),
                         (False, True, False))
        self.assertEqual(suspect["suspect_reason"],
                         "MT01-GAUSS-01 (gaussmeter) is not calibrated for what procedure "
                         "MT-UVA-DAILY reads: it has no tolerance of its own in uW/cm2")
        self.assertEqual((good["passed"], good.get("suspect")), (True, None))
        self.assertEqual([r["metadata"].get("suspect", False)
                          for r in st.ledger_records("maintenance.checked")], [True, False])

    def test_a_procedure_that_names_its_references_accepts_only_those(self):
        st = Station(self)
        lift = lambda time, reference: check_event(
            time, "MT01-YOKE-01", "MT-YOKE-LIFT", readings={"pole_spacing": 100,
                                                             "lifted_mass": 4.6},
            reference_instrument=reference)
        run = st.run(lift("2025-03-10T06:00:00Z", "MT01-RAD-01") +
                     lift("2025-03-10T06:01:00Z", "MT01-TW-01"))
        checked = run.topic("maintenance.checked")
        self.assertEqual([(c["passed"], c.get("suspect", False)) for c in checked],
                         [(False, True), (True, False)])
        self.assertIn("MT01-RAD-01 (light_meter) is not a reference the contract accepts for "
                      "procedure MT-YOKE-LIFT (accepted: test_weight)", checked[0]["suspect_reason"])

    def test_a_calibration_standard_must_measure_the_quantity_calibrated(self):
        st = Station(self)
        cal = lambda time, cert, reference: calibration(
            time, "MT01-BENCH-01", "2025-03-10", cert, reference_standard=reference,
            results=[{"parameter": "current", "nominal": 1000, "unit": "A", "as_found": 1005}])
        run = st.run(cal("2025-03-10T06:00:00Z", "C-1", GAUSS) +
                     cal("2025-03-10T06:01:00Z", "C-2", "MT01-SHUNT-01"))
        # Recorded, suspect: in tolerance with it proves nothing (C-2 renews the calibration).
        self.assertEqual(run.errors, [])
        recorded = run.topic("calibration.recorded")
        self.assertEqual([(r["certificate_number"], r.get("suspect", False), r["due_date"])
                          for r in recorded],
                         [("C-1", True, "2025-06-02"), ("C-2", False, "2025-09-08")])
        self.assertIn("MT01-GAUSS-01 (gaussmeter) is not calibrated for what the calibration of "
                      "MT01-BENCH-01 reads: it has no tolerance of its own in A",
                      recorded[0]["suspect_reason"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
