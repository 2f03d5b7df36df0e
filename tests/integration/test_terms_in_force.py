"""Results judged under the terms in force (issue 9, defect 9), through smart-host on copies of
examples/mt-station: a redeploy (a contract with a higher version, then contract.deployed)
that tightens a tolerance, raises a step's limit or adds a step judges the results on record
again at once:

- the bench's last calibration left 1090 A at 1000 A: within ±100 A, outside ±20 A, so the
  bench becomes calibration_failed (cause "contract", with its alert) and blocks;
- the lamp's last UV-A check read 1100 uW/cm2: a pass at min 1000, not at min 1200, so the lamp
  is not ready until a new check passes;
- a step added to the UV-A procedure: the last check has no answer for it and does not count
  until a check answers it.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_domain import HOST, MODULE_DIR, Station, check_event, event, item, uv_check  # noqa: E402


def redeploy(st, change):
    """Writes the contract with `change` applied and its version raised; returns the version."""
    doc = st.contract()
    doc["version"] += 1
    change(doc)
    st.write_contract(doc)
    return doc["version"]


def procedure(doc, procedure_id):
    return next(p for p in doc["procedures"] if p["procedure_id"] == procedure_id)


def gate(time, clientpo_id, equipment):
    return event("test.start", time, clientpo_id=clientpo_id, equipment=equipment)


class ToleranceTightened(unittest.TestCase):
    def test_a_calibration_left_outside_the_tightened_tolerance_fails_the_bench(self):
        st = Station(self)
        first = st.run(
            event("calibration.record", "2025-03-10T10:00:00Z", equipment_id="MT01-BENCH-01",
                  calibration_date="2025-03-10T09:30:00Z", certificate_number="NCL-2025-03-0200",
                  provider="Northbridge Calibration Ltd", technician="L. Brandt",
                  reference_standard="MT01-SHUNT-01",
                  results=[{"parameter": "current", "nominal": 1000, "unit": "A",
                            "as_found": 1090}]) +
            gate("2025-03-10T10:05:00Z", "PO-1", ["MT01-BENCH-01"]))
        self.assertEqual(first.errors, [])
        self.assertTrue(first.gates()[0]["allowed"])

        def tighten(doc):
            bench = next(e for e in doc["equipment_list"]
                         if e["equipment_id"] == "MT01-BENCH-01")
            point = next(t for t in bench["tolerances"]
                         if t["parameter"] == "current" and t["nominal"] == 1000)
            point["plus_minus"] = 20
        version = redeploy(st, tighten)
        second = st.run(event("contract.deployed", "2025-03-10T11:00:00Z") +
                        gate("2025-03-10T11:05:00Z", "PO-2", ["MT01-BENCH-01"]))
        self.assertEqual(second.errors, [])
        changes = [r for r in st.ledger_records("status.transition")
                   if r["target"] == "MT01-BENCH-01" and r["metadata"]["to"] == "calibration_failed"]
        self.assertEqual(len(changes), 1, changes)
        self.assertEqual(changes[0]["metadata"]["cause"], "contract")
        decision = second.gates()[0]
        self.assertFalse(decision["allowed"])
        bench = item(decision, "MT01-BENCH-01")
        self.assertEqual(bench["status"], "calibration_failed")
        self.assertIn("current left 1090 A outside 980 to 1020 A under contract MT-CAL-001 v%d"
                      % version, bench["reason"])
        alerts = [a for a in st.alerts() if a["alert_type"] == "calibration_failed"
                  and a.get("equipment_id") == "MT01-BENCH-01"]
        self.assertEqual(len(alerts), 1, alerts)
        # The gate's record says which terms it judged by.
        record = [r for r in st.ledger_records("gate.decision")][-1]
        self.assertEqual(record["metadata"]["contracts"], {"MT-CAL-001": version})

    def test_a_calibration_still_within_the_new_tolerance_stays_current(self):
        st = Station(self)
        st.run(event("calibration.record", "2025-03-10T10:00:00Z", equipment_id="MT01-BENCH-01",
                     calibration_date="2025-03-10T09:30:00Z",
                     certificate_number="NCL-2025-03-0201",
                     provider="Northbridge Calibration Ltd", technician="L. Brandt",
                     reference_standard="MT01-SHUNT-01",
                     results=[{"parameter": "current", "nominal": 1000, "unit": "A",
                               "as_found": 1090, "as_left": 1020}]))

        def tighten(doc):
            bench = next(e for e in doc["equipment_list"]
                         if e["equipment_id"] == "MT01-BENCH-01")
            next(t for t in bench["tolerances"] if t["nominal"] == 1000)["plus_minus"] = 20
        redeploy(st, tighten)
        run = st.run(event("contract.deployed", "2025-03-10T11:00:00Z") +
                     gate("2025-03-10T11:05:00Z", "PO-2", ["MT01-BENCH-01"]))
        self.assertTrue(run.gates()[0]["allowed"], run.gates()[0])


class LimitRaised(unittest.TestCase):
    def test_a_check_below_the_raised_minimum_does_not_count_until_a_new_one_passes(self):
        st = Station(self)
        first = st.run(uv_check("2025-03-10T06:05:00Z", 1100) +
                       gate("2025-03-10T06:10:00Z", "PO-1", ["MT01-UVA-01"]))
        self.assertTrue(first.gates()[0]["allowed"])

        def raise_min(doc):
            step = next(s for s in procedure(doc, "MT-UVA-DAILY")["checklist_steps"]
                        if s["step_id"] == "uv_a_irradiance")
            step["min"] = 1200
        version = redeploy(st, raise_min)
        second = st.run(event("contract.deployed", "2025-03-10T07:00:00Z") +
                        gate("2025-03-10T07:05:00Z", "PO-2", ["MT01-UVA-01"]) +
                        uv_check("2025-03-10T07:10:00Z", 1250) +
                        gate("2025-03-10T07:15:00Z", "PO-3", ["MT01-UVA-01"]))
        self.assertEqual(second.errors, [])
        blocked, allowed = second.gates()
        self.assertFalse(blocked["allowed"])
        self.assertIn("MT-UVA-DAILY: uv_a_irradiance 1100 uW/cm2 outside min 1200 uW/cm2 "
                      "under contract MT-CAL-001 v%d" % version,
                      item(blocked, "MT01-UVA-01")["reason"])
        self.assertTrue(allowed["allowed"], allowed)

    def test_a_check_made_in_the_same_run_is_judged_again_too(self):
        # The answers kept in memory when a check is recorded, not only those loaded from the
        # store at start-up: the host reads a pipe, and the contract is rewritten between
        # the check's answer and the contract.deployed line.
        st = Station(self)
        proc = subprocess.Popen([HOST, "run", st.node, "--events", "-", "--clock",
                                 "2025-03-10T06:00:00Z"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, SMART_MODULE_PATH=MODULE_DIR))
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)

        def ask(line, topic):
            proc.stdin.write(line)
            proc.stdin.flush()
            for text in proc.stdout:
                out = json.loads(text)
                if out["topic"] == topic:
                    return out["data"]
            self.fail("smart-host ended before answering %s: %s" % (topic, proc.stderr.read()))
        self.assertTrue(ask(uv_check("2025-03-10T06:05:00Z", 1100), "maintenance.checked")
                        ["passed"])

        def raise_min(doc):
            next(s for s in procedure(doc, "MT-UVA-DAILY")["checklist_steps"]
                 if s["step_id"] == "uv_a_irradiance")["min"] = 1200
        version = redeploy(st, raise_min)
        ask(event("contract.deployed", "2025-03-10T07:00:00Z"), "contracts.loaded")
        blocked = ask(gate("2025-03-10T07:05:00Z", "PO-2", ["MT01-UVA-01"]), "gate.decision")
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=60), 0)
        self.assertFalse(blocked["allowed"])
        self.assertIn("uv_a_irradiance 1100 uW/cm2 outside min 1200 uW/cm2 under contract "
                      "MT-CAL-001 v%d" % version, item(blocked, "MT01-UVA-01")["reason"])


class StepAdded(unittest.TestCase):
    def test_a_step_added_is_not_answered_by_the_last_check(self):
        st = Station(self)
        first = st.run(uv_check("2025-03-10T06:05:00Z", 1240) +
                       gate("2025-03-10T06:10:00Z", "PO-1", ["MT01-UVA-01"]))
        self.assertTrue(first.gates()[0]["allowed"])

        def add_step(doc):
            procedure(doc, "MT-UVA-DAILY")["checklist_steps"].append(
                {"step_id": "warm_up_done", "description": "Lamp warmed up 10 minutes",
                 "input_type": "checkbox"})
        version = redeploy(st, add_step)
        answered = check_event("2025-03-10T07:10:00Z", "MT01-UVA-01", "MT-UVA-DAILY",
                               reference_instrument="MT01-RAD-01",
                               readings={"uv_a_irradiance": 1240},
                               attestations={"filter_intact": True, "warm_up_done": True})
        second = st.run(event("contract.deployed", "2025-03-10T07:00:00Z") +
                        gate("2025-03-10T07:05:00Z", "PO-2", ["MT01-UVA-01"]) + answered +
                        gate("2025-03-10T07:15:00Z", "PO-3", ["MT01-UVA-01"]))
        self.assertEqual(second.errors, [])
        blocked, allowed = second.gates()
        self.assertFalse(blocked["allowed"])
        self.assertIn("MT-UVA-DAILY: warm_up_done not taken under contract MT-CAL-001 v%d"
                      % version, item(blocked, "MT01-UVA-01")["reason"])
        self.assertTrue(allowed["allowed"], allowed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
