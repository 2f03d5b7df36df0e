"""The calibration domain in depth, through smart-host, as a station user would notice it.

Each shipped scenario in examples/mt-station/scenarios/ is replayed from a fresh copy of the
magnetic-particle station, with the simulated clock started at the scenario's first event.
The tests check what the operator and the quality manager see: the seven states, the gate's
reasons (the item, the rule, the figure), the checks and their windows, out of service and
back, sent out and back, the chain of standards, and the out-of-tolerance impact (exactly the
right ClientPOs). Every run's ledger must verify, and its alerts carry the right severity.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

HOST = os.environ["SMART_HOST"]
MODULE_DIR = os.environ["SMART_MODULE_DIR"]
ROOT = os.environ["SOURCE_ROOT"]
SCENARIOS = os.path.join(ROOT, "examples", "mt-station", "scenarios")

SEVERITY = {  # the maintenance module's alert types and their fixed severities
    "calibration_expired": "high", "calibration_expiring": "medium",
    "equipment_not_ready": "high", "contract_rejected": "high",
    "maintenance_check_failed": "high", "calibration_failed": "high",
    "out_of_tolerance_impact": "critical",
}
STATES = ("current", "expiring_soon", "expired", "pending_calibration", "calibration_failed",
          "out_of_service")
BENCH_SET = ["MT01-BENCH-01", "MT01-UVA-01", "MT01-CT-01", "MT01-KETOS-01"]


def host(args, cwd=None):
    env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)
    return subprocess.run([HOST] + args, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def event(topic, time, **data):
    return json.dumps({"topic": topic, "time": time, "data": data}) + "\n"


def scenario_text(name):
    with open(os.path.join(SCENARIOS, name + ".jsonl")) as f:
        return f.read()


def first_time(text):
    return json.loads(text.splitlines()[0])["time"]


class Run:
    """One smart-host run: what it printed, and the station's files afterwards."""

    def __init__(self, station, proc):
        self.station, self.proc = station, proc
        self.out = lines(proc.stdout)
        self.errors = proc.stderr.splitlines()

    def topic(self, topic):
        return [o["data"] for o in self.out if o["topic"] == topic]

    def gates(self, clientpo_id=None):
        return [g for g in self.topic("gate.decision")
                if clientpo_id is None or g["clientpo_id"] == clientpo_id]

    def alerts(self, alert_type=None):
        return [a for a in self.station.alerts()
                if alert_type is None or a["alert_type"] == alert_type]

    def error(self, line):
        """The rejection message for an input line, without 'smart-host: FILE:LINE: '."""
        tag = "events.jsonl:%d: " % line
        found = [e.split(tag, 1)[1] for e in self.errors if tag in e]
        return found[0] if found else None


class Station:
    """A private copy of examples/mt-station (or another example), with no state."""

    def __init__(self, test, example="mt-station"):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="smart-domain-")
        test.addCleanup(shutil.rmtree, self.dir)
        shutil.copytree(os.path.join(ROOT, "examples", example), self.dir, dirs_exist_ok=True)
        shutil.rmtree(os.path.join(self.dir, "var"), ignore_errors=True)
        self.node = os.path.join(self.dir, "node.json")
        self.ledger = os.path.join(self.dir, "var", "ledger.jsonl")
        self.alerts_file = os.path.join(self.dir, "var", "alerts.jsonl")

    def contract(self, name="MT-CAL-001.json"):
        with open(os.path.join(self.dir, "contracts", name)) as f:
            return json.load(f)

    def write_contract(self, doc, name="MT-CAL-001.json"):
        with open(os.path.join(self.dir, "contracts", name), "w") as f:
            json.dump(doc, f, indent=2)

    def run(self, events_text, clock=None):
        """Runs the events from clock (default: the first event's time); checks the run ended
        cleanly and the ledger still verifies."""
        path = os.path.join(self.dir, "events.jsonl")
        with open(path, "w") as f:
            f.write(events_text)
        proc = host(["run", self.node, "--events", path, "--clock",
                     clock or first_time(events_text)])
        self.test.assertEqual(proc.returncode, 0, proc.stderr)
        verify = host(["ledger", "verify", self.ledger])
        self.test.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        return Run(self, proc)

    def scenario(self, name):
        return self.run(scenario_text(name))

    def ledger_records(self, action=None):
        with open(self.ledger) as f:
            return [r for r in lines(f.read()) if action is None or r["action"] == action]

    def alerts(self):
        if not os.path.exists(self.alerts_file):
            return []
        with open(self.alerts_file) as f:
            return lines(f.read())


def item(data, equipment_id):
    return next(i for i in data["equipment"] if i["equipment_id"] == equipment_id)


def check_event(time, equipment_id, check_type, **data):
    return event("maintenance.check", time, equipment_id=equipment_id, check_type=check_type,
                 technician="R. Okafor", **data)


def station_with_transfer_standard(test):
    """The MT station with MT01-RAD-STD, a transfer standard that calibrates MT01-RAD-01."""
    st = Station(test)
    doc = st.contract()
    rad = next(e for e in doc["equipment_list"] if e["equipment_id"] == "MT01-RAD-01")
    std = json.loads(json.dumps(rad))
    std.update(equipment_id="MT01-RAD-STD", serial_number="UVX2-22-0001",
               description="Transfer standard radiometer (calibrates MT01-RAD-01)")
    std["last_calibration"] = dict(std["last_calibration"], calibration_date="2025-03-01",
                                   certificate_number="NCL-2025-03-0001")
    doc["equipment_list"].append(std)
    st.write_contract(doc)
    return st


def rad_cal(time, equipment_id, certificate, found, **extra):
    """A radiometer's calibration at its four points, each found `found` times its nominal."""
    points = [("uv_a_irradiance", 1000, "uW/cm2"), ("uv_a_irradiance", 2000, "uW/cm2"),
              ("illuminance", 20, "lx"), ("illuminance", 1076, "lx")]
    return event("calibration.record", time, equipment_id=equipment_id,
                 calibration_date=time[:10], certificate_number=certificate,
                 provider="Northbridge Calibration Ltd", technician="L. Brandt",
                 results=[{"parameter": p, "nominal": n, "unit": u,
                           "as_found": n * found, "as_left": n} for p, n, u in points],
                 **extra)


def uv_check(time, value, ref="MT01-RAD-01"):
    data = {"readings": {"uv_a_irradiance": value}, "attestations": {"filter_intact": True}}
    if ref:
        data["reference_instrument"] = ref
    return check_event(time, "MT01-UVA-01", "MT-UVA-DAILY", **data)


class SevenStates(unittest.TestCase):
    def test_one_status_shows_all_seven_states(self):
        st = Station(self)
        run = st.scenario("seven-states")
        final = run.topic("status")[-1]
        summary = final["summary"]
        for state in STATES:
            self.assertGreaterEqual(summary[state], 1, state)
        self.assertGreater(summary["ready"], 0)
        self.assertEqual(summary["ready"], sum(i["ready"] for i in final["equipment"]))
        self.assertEqual(summary["total"], 11)

        seen = {i["equipment_id"]: i for i in final["equipment"]}
        self.assertEqual(seen["MT01-BENCH-01"]["status"], "current")
        self.assertTrue(seen["MT01-BENCH-01"]["ready"])
        rad = seen["MT01-RAD-01"]
        self.assertEqual((rad["status"], rad["days_remaining"], rad["ready"]),
                         ("expiring_soon", 1, True))
        tw = seen["MT01-TW-01"]
        self.assertEqual((tw["status"], tw["days_overdue"], tw["ready"]), ("expired", 4, False))
        self.assertIn("was due 2025-03-20, 4 days overdue", tw["reason"])
        self.assertEqual(seen["MT01-RFI-01"]["status"], "pending_calibration")
        self.assertIn("sent out for calibration", seen["MT01-RFI-01"]["reason"])
        gauss = seen["MT01-GAUSS-01"]
        self.assertEqual(gauss["status"], "calibration_failed")
        self.assertIn("magnetic_field as left 11.6 outside 9.5 to 10.5 G", gauss["reason"])
        uva = seen["MT01-UVA-01"]
        self.assertEqual(uva["status"], "out_of_service")
        self.assertIn("uv_a_irradiance 640 uW/cm2 outside min 1000 uW/cm2",
                      uva["out_of_service_reason"])
        # Ready is more than a valid calibration: the tube's checks are done and in date.
        self.assertTrue(seen["MT01-CT-01"]["ready"])
        self.assertFalse(seen["MT01-YOKE-01"]["ready"])
        self.assertEqual(seen["MT01-YOKE-01"]["status"], "expiring_soon")
        self.assertIn("required weekly check MT-YOKE-LIFT not done", seen["MT01-YOKE-01"]["reason"])

        # Each of those states was entered through a recorded transition.
        transitions = {(r["metadata"]["equipment_id"], r["metadata"]["to"])
                       for r in st.ledger_records("status.transition")}
        for pair in [("MT01-UVA-01", "out_of_service"), ("MT01-RFI-01", "pending_calibration"),
                     ("MT01-GAUSS-01", "calibration_failed"), ("MT01-TW-01", "expired"),
                     ("MT01-RAD-01", "expiring_soon")]:
            self.assertIn(pair, transitions)

    def test_a_not_ready_only_status_lists_what_needs_attention_and_counts_everything(self):
        st = Station(self)
        run = st.scenario("seven-states")
        full = run.topic("status")[-1]
        clock = full["as_of"]
        short = st.run(event("status.query", clock, not_ready_only=True)).topic("status")[0]
        self.assertEqual(short["summary"], full["summary"])
        self.assertEqual([i["equipment_id"] for i in short["equipment"]],
                         [i["equipment_id"] for i in full["equipment"] if not i["ready"]])
        self.assertTrue(short["equipment"])
        self.assertEqual(st.run(event("status.query", clock, not_ready_only="yes")).error(1),
                         "data.not_ready_only: must be true or false (got string)")

    def test_every_state_is_reached_by_the_shipped_scenarios(self):
        reached, ready = set(), False
        names = sorted(os.path.basename(p)[:-6] for p in glob.glob(os.path.join(SCENARIOS, "*.jsonl")))
        self.assertGreaterEqual(len(names), 8)
        for name in names:
            with self.subTest(scenario=name):
                run = Station(self).scenario(name)
                for data in run.topic("status") + run.topic("gate.decision"):
                    for i in data["equipment"]:
                        reached.add(i["status"])
                        ready = ready or i["ready"]
                reached.update(c["to"] for c in run.topic("status.changed"))
        self.assertTrue(set(STATES) <= reached, set(STATES) - reached)
        self.assertTrue(ready)


class Checks(unittest.TestCase):
    def setUp(self):
        self.st = Station(self)
        self.run = self.st.scenario("checks")

    def test_blocked_until_the_required_checks_are_done(self):
        first = self.run.gates("SC-2025-031-MT")[0]
        self.assertFalse(first["allowed"])
        self.assertEqual(first["blocking"], ["MT01-UVA-01", "MT01-CT-01", "MT01-KETOS-01"])
        self.assertEqual(item(first, "MT01-UVA-01")["reason"],
                         "required daily check MT-UVA-DAILY not done")
        self.assertIn("required every 8 hours check MT-BATH-8H not done",
                      item(first, "MT01-CT-01")["reason"])
        self.assertIn("required weekly check MT-BATH-CONTAM not done",
                      item(first, "MT01-CT-01")["reason"])
        self.assertTrue(item(first, "MT01-BENCH-01")["ready"])
        # Once done and passed, the same job is allowed.
        self.assertTrue(self.run.gates("SC-2025-031-MT")[1]["allowed"])

    def test_passed_checks_say_until_when(self):
        checked = {(c["check_type"], c["performed_at"]): c for c in self.run.topic("maintenance.checked")}
        uv = checked[("MT-UVA-DAILY", "2025-03-10T06:05:00Z")]
        self.assertTrue(uv["passed"])
        self.assertEqual(uv["valid_until"], "2025-03-11T00:00:00Z")  # end of the local day
        step = uv["steps"][0]
        self.assertEqual((step["step_id"], step["value"], step["unit"], step["limit"]),
                         ("uv_a_irradiance", 1240, "uW/cm2", "min 1000 uW/cm2"))
        self.assertEqual(checked[("MT-BATH-8H", "2025-03-10T06:15:00Z")]["valid_until"],
                         "2025-03-10T14:15:00Z")  # eight hours
        self.assertEqual(checked[("MT-BATH-CONTAM", "2025-03-10T06:16:00Z")]["valid_until"],
                         "2025-03-17T00:00:00Z")  # the day and six more
        self.assertEqual(checked[("MT-SYS-DAILY", "2025-03-10T06:10:00Z")]["steps"][0]["attested"],
                         True)

    def test_bath_check_lapses_after_eight_hours(self):
        gate = self.run.gates("SC-2025-032-MT")[0]
        self.assertEqual(gate["decided_at"], "2025-03-10T14:20:00Z")
        self.assertFalse(gate["allowed"])
        self.assertEqual(gate["blocking"], ["MT01-CT-01"])
        reason = item(gate, "MT01-CT-01")["reason"]
        self.assertIn("required every 8 hours check MT-BATH-8H lapsed at 2025-03-10T14:15:00", reason)
        self.assertIn("last passed 2025-03-10T06:15:00", reason)

    def test_failed_check_makes_the_item_not_ready_naming_item_rule_and_figure(self):
        failed = [c for c in self.run.topic("maintenance.checked") if not c["passed"]]
        self.assertEqual(len(failed), 1)
        self.assertEqual((failed[0]["equipment_id"], failed[0]["status"], failed[0]["ready"]),
                         ("MT01-CT-01", "current", False))
        self.assertNotIn("valid_until", failed[0])
        step = next(s for s in failed[0]["steps"] if s["step_id"] == "concentration")
        self.assertEqual((step["passed"], step["value"], step["limit"]),
                         (False, 0.05, "0.1 to 0.4 mL"))

        gate = self.run.gates("SC-2025-032-MT")[1]
        self.assertFalse(gate["allowed"])
        reason = item(gate, "MT01-CT-01")["reason"]
        self.assertIn("every 8 hours check MT-BATH-8H failed at 2025-03-10T15:30:00", reason)
        self.assertIn("concentration 0.05 mL outside 0.1 to 0.4 mL", reason)
        record = [r for r in self.st.ledger_records("gate.decision")
                  if r["target"] == "SC-2025-032-MT"][1]
        self.assertIn("MT01-CT-01 (every 8 hours check MT-BATH-8H failed", record["details"])
        self.assertIn("concentration 0.05 mL outside 0.1 to 0.4 mL", record["details"])
        self.assertEqual(record["metadata"]["not_ready"][0]["equipment_id"], "MT01-CT-01")

        alerts = self.run.alerts("maintenance_check_failed")
        self.assertEqual(len(alerts), 1)
        self.assertEqual((alerts[0]["severity"], alerts[0]["equipment_id"], alerts[0]["check_type"]),
                         ("high", "MT01-CT-01", "MT-BATH-8H"))
        self.assertIn("concentration 0.05 mL outside 0.1 to 0.4 mL", alerts[0]["message"])
        blocked = self.run.alerts("equipment_not_ready")
        self.assertIn("MT01-CT-01 (every 8 hours check MT-BATH-8H failed", blocked[-1]["message"])

        # A new passing sample puts it right; the failure raised no status transition.
        self.assertTrue(self.run.gates("SC-2025-032-MT")[2]["allowed"])
        self.assertNotIn("MT01-CT-01", [c["equipment_id"] for c in self.run.topic("status.changed")
                                        if c["cause"] == "maintenance.check"])

    def test_checks_are_in_the_ledger(self):
        records = self.st.ledger_records("maintenance.checked")
        self.assertEqual(len(records), 6)
        self.assertEqual(records[0]["user_id"], "R. Okafor")
        self.assertEqual(records[0]["metadata"]["reference_instrument"], "MT01-RAD-01")
        self.assertIn("FAILED: concentration 0.05 mL outside 0.1 to 0.4 mL",
                      [r for r in records if not r["metadata"]["passed"]][0]["details"])


class ChecksUnderRedeployedTerms(unittest.TestCase):
    def test_a_new_frequency_applies_at_once_to_a_check_done_before(self):
        st = Station(self)
        first = st.run(uv_check("2025-03-10T06:05:00Z", 1240) +
                       event("status.query", "2025-03-10T06:10:00Z", equipment_id="MT01-UVA-01"))
        lamp = item(first.topic("status")[-1], "MT01-UVA-01")
        self.assertEqual(lamp["checks"][0]["valid_until"], "2025-03-11T00:00:00Z")
        # The hub tightens the daily UV-A check to every 2 hours.
        doc = st.contract()
        doc["version"] += 1
        uva = next(p for p in doc["procedures"] if p["procedure_id"] == "MT-UVA-DAILY")
        del uva["frequency"]
        uva["frequency_hours"] = 2
        st.write_contract(doc)
        second = st.run(event("contract.deployed", "2025-03-10T07:00:00Z") +
                        event("status.query", "2025-03-10T07:30:00Z", equipment_id="MT01-UVA-01") +
                        event("status.query", "2025-03-10T09:00:00Z", equipment_id="MT01-UVA-01"))
        still, lapsed = [item(s, "MT01-UVA-01") for s in second.topic("status")]
        self.assertEqual(still["checks"][0]["valid_until"], "2025-03-10T08:05:00Z")
        self.assertTrue(still["checks"][0]["ok"])
        self.assertFalse(lapsed["ready"])
        self.assertIn("check MT-UVA-DAILY lapsed at 2025-03-10T08:05:00", lapsed["reason"])


class BadChecks(unittest.TestCase):
    """A check that cannot be judged is refused, naming the field, and changes nothing."""

    # (A reading or attestation left out is not among them: it is a step not taken, recorded as
    # failed; see test_checks_follow_failures.py.)
    CASES = [  # (data, the start of the message)
        ({"readings": {"settling_time": 60, "concentration": 0.2, "viscosity": 3}},
         "data.readings.viscosity: not a number step of procedure MT-BATH-8H"),
        ({"readings": {"settling_time": 60, "concentration": "0.2"}},
         "data.readings.concentration: must be a number"),
        ({"readings": {"settling_time": 60}, "attestations": {"concentration": True}},
         "data.attestations.concentration: not a checkbox step of procedure MT-BATH-8H"),
        ({"readings": "0.2"}, "data.readings: must be an object"),
    ]

    def test_each_bad_check_is_refused_naming_the_field(self):
        st = Station(self)
        events = "".join(check_event("2025-03-10T06:%02d:00Z" % n, "MT01-CT-01", "MT-BATH-8H",
                                     **data) for n, (data, _) in enumerate(self.CASES))
        events += check_event("2025-03-10T06:30:00Z", "MT01-CT-01", "MT-BATH-4H",
                              readings={"concentration": 0.2})
        events += check_event("2025-03-10T06:31:00Z", "MT01-GHOST-01", "MT-BATH-8H",
                              readings={"concentration": 0.2})
        events += check_event("2025-03-10T06:32:00Z", "MT01-CT-01", "MT-BATH-8H",
                              readings={"settling_time": 60, "concentration": 0.2}, colour="brown")
        events += event("status.query", "2025-03-10T06:40:00Z", equipment_id="MT01-CT-01")
        run = st.run(events)
        expected = [m for _, m in self.CASES] + [
            "data.check_type: 'MT-BATH-4H' is not a procedure for MT01-CT-01 in contract "
            "MT-CAL-001 (its procedures: MT-BATH-8H, MT-BATH-CONTAM)",
            "data.equipment_id: 'MT01-GHOST-01' is not named by any contract in force",
            "data.colour: unknown field",
        ]
        for line, message in enumerate(expected, 1):
            with self.subTest(line=line):
                self.assertIsNotNone(run.error(line), run.errors)
                self.assertTrue(run.error(line).startswith(message), run.error(line))
        self.assertEqual(len(run.errors), len(expected))
        self.assertEqual(run.topic("maintenance.checked"), [])
        rejected = st.ledger_records("input.rejected")
        self.assertEqual([r["metadata"]["line"] for r in rejected], list(range(1, len(expected) + 1)))
        self.assertEqual(st.ledger_records("maintenance.checked"), [])
        ct = run.topic("status")[0]["equipment"][0]
        self.assertIn("required every 8 hours check MT-BATH-8H not done", ct["reason"])

    def test_reference_instrument_is_required_and_must_be_known(self):
        st = Station(self)
        run = st.run(uv_check("2025-03-10T06:05:00Z", 1240, ref=None) +
                     uv_check("2025-03-10T06:06:00Z", 1240, ref="MT01-RAD-99") +
                     uv_check("2025-03-10T06:07:00Z", 1240, ref="MT01-UVA-01"))
        self.assertTrue(run.error(1).startswith("data.reference_instrument: missing required field"))
        self.assertIn("MT-UVA-DAILY", run.error(1))
        self.assertIn("'MT01-RAD-99' is not named by any contract", run.error(2))
        self.assertIn("cannot be its own reference", run.error(3))
        self.assertEqual(run.topic("maintenance.checked"), [])


class OutOfService(unittest.TestCase):
    def setUp(self):
        self.st = Station(self)
        self.run = self.st.scenario("out-of-service")

    def test_failed_uv_check_tags_the_lamp_out_of_service(self):
        change = [c for c in self.run.topic("status.changed") if c["equipment_id"] == "MT01-UVA-01"]
        self.assertEqual([(c["from"], c["to"], c["cause"]) for c in change],
                         [(None, "current", "sweep"),
                          ("current", "out_of_service", "maintenance.check"),
                          ("out_of_service", "current", "equipment.return_to_service")])
        gate = self.run.gates("SC-2025-041-MT")[0]
        self.assertFalse(gate["allowed"])
        self.assertEqual(gate["blocking"], ["MT01-UVA-01"])
        uva = item(gate, "MT01-UVA-01")
        self.assertEqual(uva["status"], "out_of_service")
        self.assertIn("out of service", uva["reason"])
        self.assertIn("daily check MT-UVA-DAILY failed", uva["reason"])
        self.assertIn("uv_a_irradiance 850 uW/cm2 outside min 1000 uW/cm2", uva["reason"])
        self.assertIn("850", uva["out_of_service_reason"])
        alert = self.run.alerts("maintenance_check_failed")[0]
        self.assertEqual((alert["severity"], alert["equipment_id"]), ("high", "MT01-UVA-01"))
        self.assertIn("tagged out of service", alert["message"])

    def test_return_refused_without_verification_then_accepted(self):
        self.assertIn("MT01-UVA-01 cannot return to service: tagged out at 2025-03-10T06:05:00Z "
                      "by a failed check MT-UVA-DAILY, it needs MT-UVA-DAILY to pass",
                      self.run.errors[0])
        self.assertIn("MT01-YOKE-01 cannot return to service", self.run.errors[1])
        self.assertEqual(len(self.run.errors), 2)
        rejected = self.st.ledger_records("input.rejected")
        self.assertEqual([(r["metadata"]["line"], r["target"]) for r in rejected],
                         [(7, "equipment.return_to_service"), (14, "equipment.return_to_service")])
        updated = self.run.topic("equipment.updated")
        self.assertEqual([(u["action"], u["item"]["equipment_id"]) for u in updated],
                         [("return_to_service", "MT01-UVA-01"), ("out_of_service", "MT01-YOKE-01"),
                          ("return_to_service", "MT01-YOKE-01")])
        back = updated[0]["item"]
        self.assertEqual((back["status"], back["ready"]), ("current", True))
        self.assertNotIn("out_of_service_reason", back)
        self.assertTrue(self.run.gates("SC-2025-041-MT")[1]["allowed"])
        returns = self.st.ledger_records("equipment.return_to_service")
        self.assertEqual([r["target"] for r in returns], ["MT01-UVA-01", "MT01-YOKE-01"])

    def test_manual_tag_out_blocks_until_verified_and_returned(self):
        out = self.run.topic("equipment.updated")[1]["item"]
        self.assertEqual((out["status"], out["ready"]), ("out_of_service", False))
        self.assertEqual(out["out_of_service_reason"], "Cable insulation cracked at the handle")
        gates = self.run.gates("SC-2025-042-MT")
        self.assertEqual([g["allowed"] for g in gates], [False, True])
        self.assertEqual(gates[0]["blocking"], ["MT01-YOKE-01"])
        self.assertEqual(item(gates[0], "MT01-YOKE-01")["out_of_service_reason"],
                         "Cable insulation cracked at the handle")
        record = self.st.ledger_records("equipment.out_of_service")[0]
        self.assertEqual((record["user_id"], record["metadata"]["reason"]),
                         ("L. Brandt", "Cable insulation cracked at the handle"))
        final = self.run.topic("status")[-1]["summary"]
        self.assertEqual((final["out_of_service"], final["ready"]), (0, 11))

    def test_gate_reason_for_a_tagged_out_item_says_why(self):
        # BUG (module): for an item tagged out by hand, the gate's reason, the gate.decision
        # ledger record and the equipment_not_ready alert say only "out of service"; the
        # tag-out reason is only in the ITEM's out_of_service_reason field.
        gate = self.run.gates("SC-2025-042-MT")[0]
        self.assertIn("Cable insulation cracked", item(gate, "MT01-YOKE-01")["reason"])
        alert = [a for a in self.run.alerts("equipment_not_ready")
                 if a["clientpo_id"] == "SC-2025-042-MT"][0]
        self.assertIn("Cable insulation cracked", alert["message"])

    def test_tag_out_twice_and_return_of_an_item_in_service_are_refused(self):
        st = Station(self)
        tag = lambda t: event("equipment.out_of_service", t, equipment_id="MT01-YOKE-01",
                              reason="Dropped", technician="L. Brandt")
        run = st.run(tag("2025-03-10T08:00:00Z") + tag("2025-03-10T08:01:00Z") +
                     event("equipment.return_to_service", "2025-03-10T08:02:00Z",
                           equipment_id="MT01-BENCH-01", technician="L. Brandt"))
        self.assertIn("MT01-YOKE-01 is already out of service (Dropped)", run.error(2))
        self.assertIn("MT01-BENCH-01 is not out of service", run.error(3))

    def test_an_in_tolerance_calibration_also_verifies_for_return(self):
        st = Station(self)
        run = st.run(
            event("equipment.out_of_service", "2025-03-10T08:00:00Z", equipment_id="MT01-BENCH-01",
                  reason="Ammeter needle sticking", technician="L. Brandt") +
            event("calibration.record", "2025-03-10T11:00:00Z", equipment_id="MT01-BENCH-01",
                  calibration_date="2025-03-10T10:30:00Z", certificate_number="NCL-2025-03-0190",
                  provider="Northbridge Calibration Ltd", technician="L. Brandt",
                  reference_standard="MT01-SHUNT-01",
                  results=[{"parameter": "current", "nominal": 1000, "unit": "A", "as_found": 1040}]) +
            event("equipment.return_to_service", "2025-03-10T11:05:00Z",
                  equipment_id="MT01-BENCH-01", technician="L. Brandt"))
        self.assertEqual(run.errors, [])
        recorded = run.topic("calibration.recorded")[0]
        self.assertEqual(recorded["status"], "out_of_service")  # calibrated, but still tagged out
        self.assertEqual(run.topic("equipment.updated")[-1]["item"]["status"], "current")

    def test_verification_counts_only_when_performed_after_the_tag_out(self):
        # Entered after the tag-out is not enough: a certificate dated the day of the tag-out
        # (no time: it may be from before it), one timed before it, or the calibration on record
        # sent again, do not verify the item for its return; one timed after it does.
        st = Station(self)
        back = event("equipment.return_to_service", "2025-03-10T11:05:00Z",
                     equipment_id="MT01-BENCH-01", technician="L. Brandt")
        cal = lambda date, cert: event(
            "calibration.record", "2025-03-10T11:00:00Z", equipment_id="MT01-BENCH-01",
            calibration_date=date, certificate_number=cert, provider="Northbridge Calibration Ltd",
            technician="L. Brandt", reference_standard="MT01-SHUNT-01",
            results=[{"parameter": "current", "nominal": 1000, "unit": "A", "as_found": 1001}])
        run = st.run(
            event("equipment.out_of_service", "2025-03-10T08:00:00Z", equipment_id="MT01-BENCH-01",
                  reason="Ammeter needle sticking", technician="L. Brandt") +
            cal("2025-03-10", "NCL-2025-03-0191") + back +
            cal("2025-03-10T07:59:00Z", "NCL-2025-03-0192") + back +
            cal("2025-03-10T08:30:00+01:00", "NCL-2025-03-0193") + back +
            cal("2025-03-10", "NCL-2025-03-0191") + back +
            cal("2025-03-10T08:00:01Z", "NCL-2025-03-0194") + back)
        refused = [line for line in run.errors if "cannot return to service" in line]
        self.assertEqual(len(refused), 4, run.errors)
        self.assertEqual(len(run.errors), 4, run.errors)
        self.assertEqual(run.topic("equipment.updated")[-1]["item"]["status"], "current")
        self.assertEqual([r.get("replay", False) for r in run.topic("calibration.recorded")],
                         [False, False, False, True, False])


class OutOfToleranceImpact(unittest.TestCase):
    def test_lists_exactly_the_tests_allowed_with_the_item_since_its_last_calibration(self):
        st = Station(self)
        run = st.scenario("oot-impact")
        allowed = {g["clientpo_id"]: g["allowed"] for g in run.gates()}
        # What happened: 051 the day before the last good calibration; 052 and 053 on the
        # bench after it; 054 a yoke job, without the bench; 055 blocked (bath lapsed).
        self.assertEqual(allowed, {"SC-2025-051-MT": True, "SC-2025-052-MT": True,
                                   "SC-2025-053-MT": True, "SC-2025-054-MT": True,
                                   "SC-2025-055-MT": False})

        recorded = run.topic("calibration.recorded")[-1]
        self.assertEqual((recorded["as_found_in_tolerance"], recorded["as_left_in_tolerance"],
                          recorded["status"]), (False, True, "current"))
        impact = run.topic("oot.impact")
        self.assertEqual(len(impact), 1)
        impact = impact[0]
        self.assertEqual([p["clientpo_id"] for p in impact["clientpos"]],
                         ["SC-2025-052-MT", "SC-2025-053-MT"])
        self.assertEqual([p["decided_at"] for p in impact["clientpos"]],
                         ["2025-03-11T07:35:00Z", "2025-03-11T10:05:00Z"])
        self.assertEqual(impact["suspect_since"], "2025-03-11T00:00:00Z")
        self.assertEqual(impact["suspect_until"], "2025-03-12T07:00:00Z")
        self.assertEqual(impact["certificate_number"], "NCL-2025-03-0322")
        self.assertIn("current as found 1130 outside 900 to 1100 A", impact["out_of_tolerance"])
        self.assertIn("current as found 2260 outside 1800 to 2200 A", impact["out_of_tolerance"])
        self.assertNotIn("548", impact["out_of_tolerance"])  # in tolerance at 500 A

        alerts = run.alerts("out_of_tolerance_impact")
        self.assertEqual(len(alerts), 1)
        self.assertEqual(alerts[0]["severity"], "critical")
        self.assertEqual(alerts[0]["equipment_id"], "MT01-BENCH-01")
        self.assertEqual(alerts[0]["clientpo_ids"], ["SC-2025-052-MT", "SC-2025-053-MT"])
        self.assertEqual(alerts[0]["suspect_since"], "2025-03-11T00:00:00Z")
        self.assertIn("2 test(s)", alerts[0]["message"])
        record = st.ledger_records("oot.impact")
        self.assertEqual(len(record), 1)
        self.assertEqual([p["clientpo_id"] for p in record[0]["metadata"]["clientpos"]],
                         ["SC-2025-052-MT", "SC-2025-053-MT"])
        self.assertEqual(st.ledger_records("calibration.recorded")[-1]["metadata"]
                         ["reference_standard"], "MT01-SHUNT-01")

    def test_none_when_no_test_used_the_item(self):
        run = Station(self).scenario("tolerances")
        impacts = {i["equipment_id"]: i for i in run.topic("oot.impact")}
        self.assertEqual(set(impacts), {"MT01-GAUSS-01", "MT01-TW-01"})  # not the radiometer
        for impact in impacts.values():
            self.assertEqual(impact["clientpos"], [])
        self.assertEqual(impacts["MT01-GAUSS-01"]["suspect_since"], "2024-09-30T00:00:00Z")
        alerts = run.alerts("out_of_tolerance_impact")
        self.assertEqual([(a["equipment_id"], a["clientpo_ids"], a["severity"]) for a in alerts],
                         [("MT01-GAUSS-01", [], "critical"), ("MT01-TW-01", [], "critical")])

    def test_in_tolerance_as_found_reports_no_impact(self):
        run = Station(self).scenario("oot-impact")
        first = run.topic("calibration.recorded")[0]
        self.assertTrue(first["as_found_in_tolerance"])
        self.assertEqual(len(run.topic("oot.impact")), 1)  # only the later, out-of-tolerance one

    def test_a_clientpo_tested_twice_is_listed_once(self):
        # BUG (module): out_of_tolerance_impact's clientpo_ids repeats a ClientPO once per
        # allowed test start (["PO-1", "PO-1", "PO-2"]); the ClientPOs to assess are two.
        st = Station(self)
        run = st.run(
            event("clientpo.link", "2025-03-10T06:00:00Z", clientpo_id="PO-1",
                  equipment=["MT01-BENCH-01"]) +
            event("test.start", "2025-03-10T06:01:00Z", clientpo_id="PO-1") +
            event("test.start", "2025-03-10T07:01:00Z", clientpo_id="PO-1") +
            event("test.start", "2025-03-10T07:02:00Z", clientpo_id="PO-2",
                  equipment=["MT01-BENCH-01"]) +
            event("calibration.record", "2025-03-10T10:00:00Z", equipment_id="MT01-BENCH-01",
                  calibration_date="2025-03-10", certificate_number="NCL-2025-03-0191",
                  provider="Northbridge Calibration Ltd", technician="L. Brandt",
                  results=[{"parameter": "current", "nominal": 1000, "as_found": 1200,
                            "as_left": 1000}]))
        self.assertEqual(run.alerts("out_of_tolerance_impact")[0]["clientpo_ids"], ["PO-1", "PO-2"])


class Tolerances(unittest.TestCase):
    def setUp(self):
        self.st = Station(self)
        self.run = self.st.scenario("tolerances")
        self.recorded = {r["equipment_id"]: r for r in self.run.topic("calibration.recorded")}

    def test_in_tolerance_at_every_point(self):
        rad = self.recorded["MT01-RAD-01"]
        self.assertEqual((rad["status"], rad["ready"], rad["due_date"], rad["days_remaining"]),
                         ("current", True, "2026-03-07", 362))
        self.assertTrue(rad["as_found_in_tolerance"] and rad["as_left_in_tolerance"])
        self.assertNotIn("failure", rad)

    def test_found_out_but_adjusted_is_current(self):
        gauss = self.recorded["MT01-GAUSS-01"]
        self.assertEqual((gauss["as_found_in_tolerance"], gauss["as_left_in_tolerance"],
                          gauss["status"]), (False, True, "current"))

    def test_left_out_of_tolerance_is_calibration_failed(self):
        tw = self.recorded["MT01-TW-01"]
        self.assertEqual((tw["status"], tw["ready"], tw["as_left_in_tolerance"]),
                         ("calibration_failed", False, False))
        self.assertEqual(tw["failure"], "mass as left 4.51 outside 4.52 to 4.56 kg")
        final = item(self.run.topic("status")[-1], "MT01-TW-01")
        self.assertEqual(final["reason"], "calibration failed: mass as left 4.51 outside 4.52 to 4.56 kg")
        alerts = self.run.alerts("calibration_failed")
        self.assertEqual([(a["equipment_id"], a["severity"]) for a in alerts],
                         [("MT01-TW-01", "high")])
        record = self.st.ledger_records("calibration.recorded")[-1]
        self.assertIn("FAILED: mass as left 4.51 outside 4.52 to 4.56 kg", record["details"])
        self.assertFalse(record["metadata"]["as_left_in_tolerance"])

    def test_calibration_failed_alert_names_the_figure(self):
        # BUG (module): the calibration_failed alert says only "calibration failed: out of
        # tolerance as left" (transitions.c raise_status_alert uses cal_reason, not the
        # item's failure note), while the item's reason names the parameter and the figure.
        alert = self.run.alerts("calibration_failed")[0]
        self.assertIn("mass as left 4.51 outside 4.52 to 4.56 kg", alert["message"])

    def test_results_that_cannot_be_judged_are_refused(self):
        st = Station(self)

        def cal(time, results):
            return event("calibration.record", time, equipment_id="MT01-BENCH-01",
                         calibration_date="2025-03-10", certificate_number="NCL-2025-03-0199",
                         provider="Northbridge Calibration Ltd", technician="L. Brandt",
                         results=results)
        run = st.run(cal("2025-03-10T08:00:00Z", [{"parameter": "voltage", "as_found": 12}]) +
                     cal("2025-03-10T08:01:00Z", [{"parameter": "current", "as_found": 1000}]) +
                     cal("2025-03-10T08:02:00Z", [{"parameter": "current", "nominal": 750,
                                                   "as_found": 760}]) +
                     cal("2025-03-10T08:03:00Z", [{"parameter": "current", "nominal": 1000,
                                                   "unit": "mA", "as_found": 1000}]) +
                     cal("2025-03-10T08:04:00Z", [{"parameter": "current", "nominal": 1000}]))
        expected = [
            "data.results[0].parameter: 'voltage' has no tolerance in contract MT-CAL-001 for MT01-BENCH-01",
            "data.results[0].nominal: missing required field (MT01-BENCH-01 has 3 calibration points for current)",
            "data.results[0].nominal: 750 is not a calibration point of MT01-BENCH-01 for current",
            "data.results[0].unit: 'mA' but the contract's tolerance is in A",
            "data.results[0]: give as_found, as_left or both",
        ]
        for line, message in enumerate(expected, 1):
            with self.subTest(line=line):
                self.assertEqual(run.error(line), message)
        self.assertEqual(run.topic("calibration.recorded"), [])


def gauss_cal(time, date, certificate, results=None):
    data = dict(equipment_id="MT01-GAUSS-01", calibration_date=date,
                certificate_number=certificate, provider="Northbridge Calibration Ltd",
                technician="L. Brandt")
    if results is not None:
        data["results"] = results
    return event("calibration.record", time, **data)


def field(nominal, found=None, left=None):
    r = {"parameter": "magnetic_field", "nominal": nominal, "unit": "G"}
    if found is not None:
        r["as_found"] = found
    if left is not None:
        r["as_left"] = left
    return r


POINT_10 = {"parameter": "magnetic_field", "nominal": 10, "unit": "G"}
POINT_30 = {"parameter": "magnetic_field", "nominal": 30, "unit": "G"}


class CalibrationClearsAFailureOnlyByReMeasuring(unittest.TestCase):
    """A record is in tolerance as found only when every toleranced point has an as-found value
    in tolerance; calibration_failed is cleared only by a record whose as-left covers every
    point. The gaussmeter has two points, 10 G and 30 G; it fails at 10 G."""

    FAIL = gauss_cal("2025-03-10T06:20:00Z", "2025-03-10", "NCL-2025-03-0181",
                     [field(10, 11.6), field(30, 30.2)])

    def assert_still_failed(self, answer):
        self.assertEqual((answer["status"], answer["ready"]), ("calibration_failed", False))
        self.assertFalse(answer["as_found_in_tolerance"])
        self.assertFalse(answer["as_left_in_tolerance"])
        self.assertIn("magnetic_field as left 11.6 outside 9.5 to 10.5 G", answer["failure"])

    def test_a_record_of_the_other_point_only_leaves_it_failed(self):
        st = Station(self)
        run = st.run(self.FAIL + gauss_cal("2025-03-11T08:00:00Z", "2025-03-11", "NCL-2025-03-0190",
                                           [field(30, 30.1)]) +
                     event("status.query", "2025-03-11T08:05:00Z", equipment_id="MT01-GAUSS-01"))
        answer = run.topic("calibration.recorded")[-1]
        self.assert_still_failed(answer)
        self.assertEqual(answer["not_measured"], [POINT_10])
        self.assertEqual(answer["not_measured_as_left"], [POINT_10])
        self.assertIn("not re-measured: magnetic_field at 10 G", answer["failure"])
        gauss = item(run.topic("status")[-1], "MT01-GAUSS-01")
        self.assertEqual(gauss["status"], "calibration_failed")
        self.assertIn("magnetic_field as left 11.6", gauss["reason"])
        record = st.ledger_records("calibration.recorded")[-1]["metadata"]
        self.assertEqual((record["as_found_in_tolerance"], record["as_left_in_tolerance"],
                          record["not_measured"]), (False, False, [POINT_10]))

    def test_no_results_or_empty_results_leave_it_failed(self):
        for results in (None, []):
            with self.subTest(results=results):
                st = Station(self)
                run = st.run(self.FAIL + gauss_cal("2025-03-11T08:00:00Z", "2025-03-11",
                                                   "NCL-2025-03-0190", results))
                answer = run.topic("calibration.recorded")[-1]
                self.assert_still_failed(answer)
                self.assertEqual(answer["not_measured"], [POINT_10, POINT_30])
                self.assertEqual(answer["not_measured_as_left"], [POINT_10, POINT_30])
                self.assertEqual(answer["due_date"], "2026-03-11")  # the record still counts

    def test_a_hub_last_calibration_without_results_leaves_it_failed(self):
        st = Station(self)
        st.run(self.FAIL)
        doc = st.contract()
        doc["version"] += 1
        gauss = next(e for e in doc["equipment_list"] if e["equipment_id"] == "MT01-GAUSS-01")
        gauss["last_calibration"] = {"calibration_date": "2025-03-11",
                                     "certificate_number": "NCL-2025-03-0195",
                                     "provider": "Northbridge Calibration Ltd"}
        st.write_contract(doc)
        run = st.run(event("contract.deployed", "2025-03-11T09:00:00Z") +
                     event("status.query", "2025-03-11T09:05:00Z", equipment_id="MT01-GAUSS-01"))
        self.assertEqual(len(run.topic("contracts.loaded")), 1, run.errors)
        gauss = item(run.topic("status")[-1], "MT01-GAUSS-01")
        self.assertEqual((gauss["status"], gauss["ready"]), ("calibration_failed", False))
        self.assertEqual(gauss["certificate_number"], "NCL-2025-03-0195")  # recorded, renewed
        self.assertIn("magnetic_field as left 11.6", gauss["reason"])

    def test_a_record_covering_every_point_clears_it(self):
        run = Station(self).run(
            self.FAIL + gauss_cal("2025-03-11T08:00:00Z", "2025-03-11", "NCL-2025-03-0190",
                                  [field(10, 10.7, 10.0), field(30, 30.1)]))
        answer = run.topic("calibration.recorded")[-1]
        self.assertEqual((answer["status"], answer["as_found_in_tolerance"],
                          answer["as_left_in_tolerance"], answer["not_measured"],
                          answer["not_measured_as_left"]), ("current", False, True, [], []))
        self.assertNotIn("failure", answer)

    def test_a_record_that_skips_a_point_of_an_item_not_failed_renews_it(self):
        run = Station(self).run(gauss_cal("2025-03-11T08:00:00Z", "2025-03-11",
                                          "NCL-2025-03-0190", [field(30, 30.1)]))
        answer = run.topic("calibration.recorded")[-1]
        self.assertEqual((answer["status"], answer["due_date"], answer["as_found_in_tolerance"],
                          answer["not_measured"]), ("current", "2026-03-11", False, [POINT_10]))
        self.assertEqual(run.topic("oot.impact"), [])

    def test_as_left_only_is_not_in_tolerance_as_found(self):
        st = Station(self)
        run = st.run(gauss_cal("2025-03-11T08:00:00Z", "2025-03-11", "NCL-2025-03-0190",
                               [field(10, left=10.0), field(30, 30.1)]))
        answer = run.topic("calibration.recorded")[-1]
        self.assertEqual((answer["status"], answer["as_found_in_tolerance"],
                          answer["as_left_in_tolerance"], answer["not_measured"],
                          answer["not_measured_as_left"]), ("current", False, True, [POINT_10], []))
        self.assertEqual(run.topic("oot.impact"), [])  # only a measured as-found finding raises it
        record = st.ledger_records("calibration.recorded")[-1]["metadata"]
        self.assertFalse(record["as_found_in_tolerance"])


class ExactLimits(unittest.TestCase):
    def test_a_test_weight_exactly_on_its_lower_limit_is_in_tolerance(self):
        st = Station(self)
        run = st.run(event("calibration.record", "2025-03-11T08:00:00Z", equipment_id="MT01-TW-01",
                           calibration_date="2025-03-11", certificate_number="NCL-2025-03-0201",
                           provider="Northbridge Calibration Ltd", technician="L. Brandt",
                           results=[{"parameter": "mass", "unit": "kg", "as_found": 4.52}]))
        answer = run.topic("calibration.recorded")[-1]
        self.assertEqual((answer["status"], answer["as_found_in_tolerance"],
                          answer["as_left_in_tolerance"]), ("current", True, True))
        self.assertEqual(run.topic("oot.impact"), [])
        self.assertEqual([a for a in st.alerts() if a["alert_type"] in
                          ("calibration_failed", "out_of_tolerance_impact")], [])

    def test_plus_minus_zero_is_refused_naming_the_field(self):
        st = Station(self)
        doc = st.contract()
        tw = next(e for e in doc["equipment_list"] if e["equipment_id"] == "MT01-TW-01")
        tw["tolerances"][0]["plus_minus"] = 0
        st.write_contract(doc)
        path = os.path.join(st.dir, "events.jsonl")
        with open(path, "w") as f:
            f.write(event("status.query", "2025-03-11T08:00:00Z"))
        proc = host(["run", st.node, "--events", path, "--clock", "2025-03-11T08:00:00Z"])
        # Refused, and the station still starts: never ungated (none in force, tests blocked).
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("equipment_list[3].tolerances[0].plus_minus: must be greater than 0 (got 0)",
                      proc.stderr)


class ReferenceFoundOutOfTolerance(unittest.TestCase):
    """A reference standard or instrument found out of tolerance: what was checked or
    calibrated against it since its last good calibration is listed for review."""

    def cal(self, time, equipment_id, certificate, results):
        return event("calibration.record", time, equipment_id=equipment_id,
                     calibration_date=time[:10], certificate_number=certificate,
                     provider="Northbridge Calibration Ltd", technician="L. Brandt",
                     results=results)

    def setUp(self):
        self.st = Station(self)
        self.run = self.st.scenario("reference-out-of-tolerance")

    def impact(self, equipment_id):
        return next(i for i in self.run.topic("oot.impact") if i["equipment_id"] == equipment_id)

    def test_checks_made_with_the_radiometer_are_listed(self):
        self.assertEqual(self.run.errors, [])
        impact = self.impact("MT01-RAD-01")
        self.assertEqual(impact["verified_with_it"], {
            "checks": [{"equipment_id": "MT01-UVA-01", "check_type": "MT-UVA-DAILY",
                        "performed_at": "2025-03-10T06:05:00Z"}],
            "calibrations": []})
        self.assertEqual(impact["suspect_since"], "2024-03-25T00:00:00Z")
        alert = next(a for a in self.run.alerts("out_of_tolerance_impact")
                     if a["equipment_id"] == "MT01-RAD-01")
        self.assertEqual(alert["verified_equipment"], ["MT01-UVA-01"])
        self.assertIn("1 check(s) and 0 calibration(s) made against it", alert["message"])

    def test_calibrations_made_against_the_shunt_are_listed(self):
        impact = self.impact("MT01-SHUNT-01")
        self.assertEqual(impact["verified_with_it"], {
            "checks": [],
            "calibrations": [{"equipment_id": "MT01-BENCH-01",
                              "certificate_number": "NCL-2025-03-0301",
                              "calibration_date": "2025-03-10"}]})
        records = self.st.ledger_records("oot.impact")
        self.assertEqual(records[-1]["metadata"]["verified_with_it"], impact["verified_with_it"])

    def test_an_item_that_is_no_reference_lists_no_verifications(self):
        run = self.st.run(self.cal("2025-03-11T08:00:00Z", "MT01-BENCH-01", "NCL-2025-03-0360",
                                   [{"parameter": "current", "nominal": 1000, "unit": "A",
                                     "as_found": 1200, "as_left": 1000}]))
        impact = run.topic("oot.impact")[0]
        self.assertNotIn("verified_with_it", impact)


class ChainOfStandards(unittest.TestCase):
    def setUp(self):
        self.st = Station(self)
        self.run = self.st.scenario("chain-of-standards")

    def test_uv_check_with_an_expired_radiometer_is_recorded_suspect_and_not_counted(self):
        uv = [c for c in self.run.topic("maintenance.checked") if c["check_type"] == "MT-UVA-DAILY"]
        self.assertEqual([(c["performed_at"], c["passed"], c.get("suspect", False)) for c in uv],
                         [("2025-03-26T06:05:00Z", False, True),
                          ("2025-03-26T09:10:00Z", True, False)])
        self.assertEqual(uv[0]["suspect_reason"],
                         "reference instrument MT01-RAD-01 was not fit for use at "
                         "2025-03-26T06:05:00Z: calibration expired: was due 2025-03-25, 1 day "
                         "overdue")
        gates = self.run.gates("SC-2025-061-MT")
        self.assertEqual([g["allowed"] for g in gates], [False, True, False])
        self.assertEqual(gates[0]["blocking"], ["MT01-UVA-01"])
        self.assertEqual(item(gates[0], "MT01-UVA-01")["reason"],
                         "required daily check MT-UVA-DAILY not done")
        rad = [r for r in self.run.topic("calibration.recorded") if r["equipment_id"] == "MT01-RAD-01"]
        self.assertEqual(rad[0]["status"], "current")

    def test_the_standard_found_high_holds_the_lamp_two_levels_down_and_names_the_job(self):
        # The scenario's end: the transfer standard MT01-UVREF-01, found 10 % high as found,
        # had calibrated the radiometer at 09:00 (level 1: the radiometer's calibration, which
        # re-judged with the finding would have failed, fails it); the radiometer verified the
        # lamp's 09:10 check (level 2: suspect), on which the job was tested at 09:15. The lamp
        # is held and the job named.
        gate = self.run.gates("SC-2025-061-MT")[-1]
        self.assertEqual((gate["decided_at"], gate["allowed"], gate["blocking"]),
                         ("2025-03-26T11:05:00Z", False, ["MT01-UVA-01"]))
        impact = self.run.topic("oot.impact")[-1]
        self.assertEqual(impact["equipment_id"], "MT01-UVREF-01")
        chain = impact["chain"]
        self.assertEqual([(c["equipment_id"], c["via"], c["depth"],
                           [j["clientpo_id"] for j in c["clientpos"]], c["would_have_failed"])
                          for c in chain],
                         [("MT01-RAD-01", "calibration NCL-2025-03-0455 on 2025-03-26", 1, [],
                           True),
                          ("MT01-UVA-01", "check MT-UVA-DAILY at 2025-03-26T06:05:00Z", 2, [],
                           None),
                          ("MT01-UVA-01", "check MT-UVA-DAILY at 2025-03-26T09:10:00Z", 2,
                           ["SC-2025-061-MT"], None)])
        self.assertEqual(chain[2]["clientpos"], [{"clientpo_id": "SC-2025-061-MT",
                                                  "decided_at": "2025-03-26T09:15:00Z"}])
        self.assertEqual(chain[2]["finding_size"], None)
        alert = self.run.alerts("out_of_tolerance_impact")[-1]
        self.assertEqual(alert["chain_clientpo_ids"], ["SC-2025-061-MT"])
        records = self.st.ledger_records("status.transition")
        self.assertIn(("MT01-RAD-01", "calibration_failed"),
                      [(r["metadata"]["equipment_id"], r["metadata"]["to"]) for r in records])

    def test_a_check_made_with_a_radiometer_found_high_is_suspect_and_holds_the_lamp(self):
        # The lamp's check read 1050 with a radiometer later found 10 % high as found: that
        # check is suspect, the lamp is not ready on it, and the job tested on it is named.
        radiometer_found_high = event(
            "calibration.record", "2025-03-26T11:00:00Z", equipment_id="MT01-RAD-01",
            calibration_date="2025-03-26", certificate_number="NCL-2025-03-0470",
            provider="Northbridge Calibration Ltd", technician="L. Brandt",
            results=[{"parameter": "uv_a_irradiance", "nominal": 1000, "unit": "uW/cm2",
                      "as_found": 1100, "as_left": 1000},
                     {"parameter": "uv_a_irradiance", "nominal": 2000, "unit": "uW/cm2",
                      "as_found": 2200, "as_left": 2000},
                     {"parameter": "illuminance", "nominal": 20, "unit": "lx", "as_found": 20},
                     {"parameter": "illuminance", "nominal": 1076, "unit": "lx",
                      "as_found": 1076}])
        # The scenario up to its own finding (its last two events), on a station of its own.
        self.st = Station(self)
        self.st.run("".join(scenario_text("chain-of-standards").splitlines(True)[:-2]))
        run = self.st.run(
            uv_check("2025-03-26T10:50:00Z", 1050) +
            event("test.start", "2025-03-26T10:55:00Z", clientpo_id="SC-2025-061-MT") +
            radiometer_found_high +
            event("test.start", "2025-03-26T11:05:00Z", clientpo_id="SC-2025-061-MT"),
            clock="2025-03-26T10:50:00Z")
        self.assertEqual(run.errors, [])
        gates = run.gates("SC-2025-061-MT")
        self.assertEqual([g["allowed"] for g in gates], [True, False])
        self.assertEqual(gates[1]["blocking"], ["MT01-UVA-01"])
        self.assertIn("check MT-UVA-DAILY not done: the one at 2025-03-26T10:50:00Z, made with a "
                      "reference found out of tolerance since, would have failed: "
                      "uv_a_irradiance 1050 uW/cm2 corrected to 954.545, outside min 1000 uW/cm2",
                      item(gates[1], "MT01-UVA-01")["reason"])
        impact = next(i for i in run.topic("oot.impact") if i["equipment_id"] == "MT01-RAD-01")
        self.assertEqual([(c["equipment_id"], c["via"], c["depth"],
                           [j["clientpo_id"] for j in c["clientpos"]]) for c in impact["chain"]],
                         [("MT01-UVA-01", "check MT-UVA-DAILY at 2025-03-26T06:05:00Z", 1, []),
                          ("MT01-UVA-01", "check MT-UVA-DAILY at 2025-03-26T09:10:00Z", 1,
                           ["SC-2025-061-MT"]),
                          ("MT01-UVA-01", "check MT-UVA-DAILY at 2025-03-26T10:50:00Z", 1,
                           ["SC-2025-061-MT"])])
        # Re-judged with the finding (10 % high): 1050 read then was 954.5, below the minimum.
        self.assertEqual([c["would_have_failed"] for c in impact["chain"]], [False, False, True])
        records = self.st.ledger_records("oot.impact")
        self.assertEqual(records[-1]["metadata"]["chain"], impact["chain"])
        alert = next(a for a in run.alerts("out_of_tolerance_impact")
                     if a["equipment_id"] == "MT01-RAD-01")
        self.assertEqual(alert["chain_clientpo_ids"], ["SC-2025-061-MT"])
        self.assertIn("3 record(s) resting on it, down the chain, now suspect, and 1 job(s) tested on the items "
                      "they verified", alert["message"])
        # Held across a restart (the store keeps the check suspect, and as the last one).
        run = self.st.run(event("test.start", "2025-03-26T11:07:00Z",
                                clientpo_id="SC-2025-061-MT"), clock="2025-03-26T11:07:00Z")
        self.assertEqual([g["allowed"] for g in run.gates("SC-2025-061-MT")], [False])
        # Re-verified by a new check with a fit reference, the lamp is ready again.
        run = self.st.run(uv_check("2025-03-26T11:10:00Z", 1240) +
                          event("test.start", "2025-03-26T11:15:00Z",
                                clientpo_id="SC-2025-061-MT"), clock="2025-03-26T11:10:00Z")
        self.assertEqual([g["allowed"] for g in run.gates("SC-2025-061-MT")], [True])

    def test_a_standard_found_out_holds_the_radiometer_and_the_lamp_two_levels_down(self):
        # A standard calibrates the radiometer, the radiometer verifies the lamp's check, the
        # lamp is used for a job; the standard found out of tolerance: the radiometer's
        # calibration fails it, the lamp's check is suspect, the lamp is held, the job named.
        st = station_with_transfer_standard(self)
        run = st.run(
            rad_cal("2025-03-26T07:00:00Z", "MT01-RAD-01", "NCL-2025-03-0480", 1,
                    reference_standard="MT01-RAD-STD") +
            uv_check("2025-03-26T07:10:00Z", 1050) +
            event("clientpo.link", "2025-03-26T07:15:00Z", clientpo_id="PO-CHAIN",
                  equipment=["MT01-UVA-01"]) +
            event("test.start", "2025-03-26T07:20:00Z", clientpo_id="PO-CHAIN") +
            rad_cal("2025-03-26T08:00:00Z", "MT01-RAD-STD", "NCL-2025-03-0490", 1.1) +
            event("test.start", "2025-03-26T08:10:00Z", clientpo_id="PO-CHAIN") +
            event("status.query", "2025-03-26T08:15:00Z"))
        self.assertEqual(run.errors, [])
        self.assertEqual([g["allowed"] for g in run.gates("PO-CHAIN")], [True, False])
        status = run.topic("status")[-1]
        self.assertEqual((item(status, "MT01-RAD-01")["status"],
                          item(status, "MT01-RAD-01")["ready"]), ("calibration_failed", False))
        self.assertIn("calibration NCL-2025-03-0480 made against MT01-RAD-STD",
                      item(status, "MT01-RAD-01")["reason"])
        self.assertFalse(item(status, "MT01-UVA-01")["ready"])
        impact = next(i for i in run.topic("oot.impact") if i["equipment_id"] == "MT01-RAD-STD")
        self.assertEqual([(c["equipment_id"], c["via"], c["depth"],
                           [j["clientpo_id"] for j in c["clientpos"]]) for c in impact["chain"]],
                         [("MT01-RAD-01", "calibration NCL-2025-03-0480 on 2025-03-26", 1, []),
                          ("MT01-UVA-01", "check MT-UVA-DAILY at 2025-03-26T07:10:00Z", 2,
                           ["PO-CHAIN"])])
        alert = next(a for a in run.alerts("out_of_tolerance_impact")
                     if a["equipment_id"] == "MT01-RAD-STD")
        self.assertEqual(alert["chain_clientpo_ids"], ["PO-CHAIN"])

    def test_calibration_citing_an_expired_standard_is_recorded_suspect_and_renews_nothing(self):
        self.assertEqual(self.run.errors, [])
        yoke = [r for r in self.run.topic("calibration.recorded") if r["equipment_id"] == "MT01-YOKE-01"]
        why = ("reference instrument MT01-TW-01 was not fit for use at 2025-03-26T10:00:00Z: "
               "calibration expired: was due 2025-03-20, 6 days overdue")
        self.assertEqual([(r["certificate_number"], r["due_date"], r.get("suspect", False),
                           r.get("suspect_reason")) for r in yoke],
                         [("MT01-LIFT-2025-03", "2025-04-21", True, why),  # as it was
                          ("MT01-LIFT-2025-03B", "2025-09-24", False, None)])
        self.assertIn("proves nothing", yoke[0]["note"])
        self.assertEqual(self.st.ledger_records("input.rejected"), [])
        records = self.st.ledger_records("calibration.recorded")
        suspect = [r for r in records if r["metadata"].get("suspect")]
        self.assertEqual([(r["metadata"]["certificate_number"], r["metadata"]["suspect_reason"])
                          for r in suspect], [("MT01-LIFT-2025-03", why)])
        self.assertEqual([r["metadata"]["reference_standard"] for r in records
                          if r["target"] == "MT01-YOKE-01"], ["MT01-TW-01", "MT01-TW-01"])

    def test_a_reference_sent_out_or_out_of_service_is_not_fit(self):
        # A check or a calibration made with it is recorded, suspect.
        st = Station(self)
        run = st.run(
            event("calibration.schedule", "2025-03-10T06:00:00Z", equipment_id="MT01-RAD-01",
                  technician="L. Brandt") +
            uv_check("2025-03-10T06:05:00Z", 1240) +
            event("equipment.out_of_service", "2025-03-10T06:10:00Z", equipment_id="MT01-SHUNT-01",
                  reason="Terminal loose", technician="L. Brandt") +
            event("calibration.record", "2025-03-10T06:20:00Z", equipment_id="MT01-BENCH-01",
                  calibration_date="2025-03-10", certificate_number="NCL-2025-03-0200",
                  provider="Northbridge Calibration Ltd", technician="L. Brandt",
                  reference_standard="MT01-SHUNT-01"))
        self.assertIsNone(run.error(2))
        self.assertIn("reference instrument MT01-RAD-01 was not fit for use at "
                      "2025-03-10T06:05:00Z: pending calibration: sent out for calibration",
                      run.topic("maintenance.checked")[0]["suspect_reason"])
        self.assertEqual(run.errors, [])
        bench = run.topic("calibration.recorded")[0]
        self.assertIn("reference instrument MT01-SHUNT-01 was not fit for use at "
                      "2025-03-10T06:20:00Z: out of service: Terminal loose",
                      bench["suspect_reason"])


def suspect_reasons(run):
    """certificate_number -> suspect_reason (None when not suspect) of each calibration
    recorded."""
    return {r["certificate_number"]: r.get("suspect_reason")
            for r in run.topic("calibration.recorded")}


def calibration(time, equipment_id, date, certificate, reference=None, results=None):
    data = dict(equipment_id=equipment_id, calibration_date=date, certificate_number=certificate,
                provider="Northbridge Calibration Ltd", technician="L. Brandt")
    if reference:
        data["reference_standard"] = reference
    if results:
        data["results"] = results
    return event("calibration.record", time, **data)


class ReferenceJudgedAtItsTime(unittest.TestCase):
    """A reference is judged at the instant of the calibration or check it served, not when
    the record is entered: its calibration then, out of service or sent out then, its own
    checks then."""

    LIFT = [{"parameter": "lifted_mass", "unit": "kg", "as_found": 5.2}]
    UV = [{"parameter": "uv_a_irradiance", "unit": "uW/cm2", "as_found": 1200}]

    def yoke(self, time, date, certificate):
        return calibration(time, "MT01-YOKE-01", date, certificate, "MT01-TW-01", self.LIFT)

    def test_a_calibration_dated_when_its_test_weight_had_expired_is_suspect(self):
        st = Station(self)
        # The weight (valid through 2025-03-20) is recalibrated on 2025-03-26; the yoke's lift
        # certification of 2025-03-24 is entered after that.
        run = st.run(
            calibration("2025-03-26T10:30:00Z", "MT01-TW-01", "2025-03-26", "NCL-2025-03-0461",
                        results=[{"parameter": "mass", "nominal": 4.54, "unit": "kg",
                                  "as_found": 4.541}]) +
            self.yoke("2025-03-26T10:40:00Z", "2025-03-24", "LIFT-A") +
            self.yoke("2025-03-26T10:45:00Z", "2025-03-24T09:00:00+01:00", "LIFT-B"))
        why = ("reference instrument MT01-TW-01 was not in calibration on 2025-03-24: its "
               "calibration of 2024-03-20 was valid through 2025-03-20")
        self.assertEqual(run.errors, [])
        self.assertEqual(suspect_reasons(run),
                         {"NCL-2025-03-0461": None, "LIFT-A": why, "LIFT-B": why})

    def test_a_calibration_dated_when_its_test_weight_was_valid_is_accepted_later(self):
        st = Station(self)
        run = st.run(self.yoke("2025-03-24T08:00:00Z", "2025-03-18", "LIFT-C") +
                     self.yoke("2025-03-24T08:05:00Z", "2025-03-20T16:00:00Z", "LIFT-D"))
        self.assertEqual(run.errors, [])
        self.assertEqual([(r["certificate_number"], r["status"])
                          for r in run.topic("calibration.recorded")],
                         [("LIFT-C", "current"), ("LIFT-D", "current")])
        self.assertEqual(st.ledger_records("calibration.recorded")[0]["metadata"]
                         ["reference_standard"], "MT01-TW-01")

    def test_a_radiometer_whose_zero_check_failed_is_no_reference(self):
        st = Station(self)
        doc = st.contract()
        doc["version"] += 1
        doc["procedures"].append({
            "procedure_id": "MT-RAD-ZERO", "title": "Radiometer zero, sensor capped",
            "equipment": ["MT01-RAD-01"], "frequency": "daily",
            "checklist_steps": [{"step_id": "dark_reading", "description": "UV-A reading capped",
                                 "input_type": "number", "unit": "uW/cm2", "max": 5}]})
        st.write_contract(doc)
        zero = lambda t, v: check_event(t, "MT01-RAD-01", "MT-RAD-ZERO",
                                        readings={"dark_reading": v})
        run = st.run(
            zero("2025-03-10T06:00:00Z", 140) +
            uv_check("2025-03-10T06:05:00Z", 1240) +
            zero("2025-03-10T06:30:00Z", 2) +
            uv_check("2025-03-10T06:35:00Z", 1240) +
            # The lamp's calibration made at 06:02 (while the zero had failed), entered later.
            calibration("2025-03-10T06:40:00Z", "MT01-UVA-01", "2025-03-10T06:02:00Z", "UV-A",
                        "MT01-RAD-01", self.UV) +
            calibration("2025-03-10T06:45:00Z", "MT01-UVA-01", "2025-03-10T06:32:00Z", "UV-B",
                        "MT01-RAD-01", self.UV))
        failed = ("daily check MT-RAD-ZERO failed at 2025-03-10T06:00:00Z: dark_reading 140 "
                  "uW/cm2 outside max 5 uW/cm2")
        # A check or a calibration made with it is recorded, suspect; a suspect check does not
        # pass.
        self.assertEqual(run.errors, [])
        self.assertEqual(suspect_reasons(run)["UV-A"], "reference instrument MT01-RAD-01 was "
                         "not fit for use at 2025-03-10T06:02:00Z: its " + failed)
        uv = [c for c in run.topic("maintenance.checked") if c["equipment_id"] == "MT01-UVA-01"]
        self.assertEqual([(c["performed_at"], c["passed"], c.get("suspect", False)) for c in uv],
                         [("2025-03-10T06:05:00Z", False, True),
                          ("2025-03-10T06:35:00Z", True, False)])
        self.assertEqual(uv[0]["suspect_reason"], "reference instrument MT01-RAD-01 was not fit "
                         "for use at 2025-03-10T06:05:00Z: " + failed)
        self.assertIsNone(suspect_reasons(run)["UV-B"])

    def test_a_reference_out_of_service_at_the_calibrations_time_makes_it_suspect(self):
        st = Station(self)
        run = st.run(
            event("equipment.out_of_service", "2025-03-10T06:10:00Z",
                  equipment_id="MT01-SHUNT-01", reason="Terminal loose", technician="L. Brandt") +
            calibration("2025-03-11T07:00:00Z", "MT01-SHUNT-01", "2025-03-11T07:00:00Z",
                        "NCL-SHUNT", results=[{"parameter": "current", "nominal": 1000,
                                               "unit": "A", "as_found": 1000.5}]) +
            event("equipment.return_to_service", "2025-03-11T08:00:00Z",
                  equipment_id="MT01-SHUNT-01", technician="L. Brandt") +
            # Entered once the shunt is back in service: made while it was out, or before.
            calibration("2025-03-12T09:00:00Z", "MT01-BENCH-01", "2025-03-10T09:00:00Z",
                        "BENCH-A", "MT01-SHUNT-01") +
            calibration("2025-03-12T09:05:00Z", "MT01-BENCH-01", "2025-03-10", "BENCH-B",
                        "MT01-SHUNT-01") +
            calibration("2025-03-12T09:10:00Z", "MT01-BENCH-01", "2025-03-10T06:00:00Z",
                        "BENCH-C", "MT01-SHUNT-01"))
        tag = "(tagged out at 2025-03-10T06:10:00Z: Terminal loose)"
        self.assertEqual(run.errors, [])
        self.assertEqual(suspect_reasons(run), {
            "NCL-SHUNT": None,
            "BENCH-A": "reference instrument MT01-SHUNT-01 was out of service at "
                       "2025-03-10T09:00:00Z " + tag,
            "BENCH-B": "reference instrument MT01-SHUNT-01 was out of service on 2025-03-10 " + tag,
            "BENCH-C": None})

    def test_a_reference_away_for_calibration_at_the_time_makes_it_suspect(self):
        st = Station(self)
        run = st.run(
            event("calibration.schedule", "2025-03-10T08:00:00Z", equipment_id="MT01-RAD-01",
                  technician="L. Brandt") +
            calibration("2025-03-12T09:00:00Z", "MT01-RAD-01", "2025-03-11", "NCL-RAD") +
            calibration("2025-03-12T09:05:00Z", "MT01-UVA-01", "2025-03-10T12:00:00Z", "UV-C",
                        "MT01-RAD-01", self.UV) +
            calibration("2025-03-12T09:10:00Z", "MT01-UVA-01", "2025-03-12T09:00:00Z", "UV-D",
                        "MT01-RAD-01", self.UV))
        self.assertEqual(run.errors, [])
        self.assertEqual(suspect_reasons(run), {
            "NCL-RAD": None,
            "UV-C": "reference instrument MT01-RAD-01 was out for calibration at "
                    "2025-03-10T12:00:00Z (sent out at 2025-03-10T08:00:00Z)",
            "UV-D": None})


class SuspectCalibrations(unittest.TestCase):
    """A calibration whose reference was not fit is recorded, suspect: a failure found with it
    is still a failure; a result in tolerance proves nothing."""

    CURRENT = [{"parameter": "current", "nominal": n, "unit": "A", "as_found": n + 1}
               for n in (500, 1000, 2000)]

    def bench(self, time, date, certificate, results, reference="MT01-SHUNT-01"):
        return calibration(time, "MT01-BENCH-01", date, certificate, reference, results)

    def test_a_failure_found_with_an_expired_shunt_fails_the_bench_and_raises_the_impact(self):
        st = Station(self)
        # The shunt's calibration of 2024-09-16 was valid through 2025-09-16.
        run = st.run(self.bench("2025-09-20T08:00:00Z", "2025-09-20T07:00:00Z", "BENCH-OOT",
                                [{"parameter": "current", "nominal": 1000, "unit": "A",
                                  "as_found": 1200, "as_left": 1200}]) +
                     event("status.query", "2025-09-20T08:05:00Z"))
        self.assertEqual(run.errors, [])
        recorded = run.topic("calibration.recorded")[0]
        self.assertEqual((recorded["status"], recorded["suspect"], recorded["ready"]),
                         ("calibration_failed", True, False))
        self.assertEqual(recorded["suspect_reason"],
                         "reference instrument MT01-SHUNT-01 was not in calibration on "
                         "2025-09-20: its calibration of 2024-09-16 was valid through 2025-09-16")
        self.assertEqual([i["equipment_id"] for i in run.topic("oot.impact")], ["MT01-BENCH-01"])
        bench = item(run.topic("status")[-1], "MT01-BENCH-01")
        self.assertEqual(bench["status"], "calibration_failed")
        meta = st.ledger_records("calibration.recorded")[-1]["metadata"]
        self.assertEqual((meta["suspect"], meta["suspect_reason"]),
                         (True, recorded["suspect_reason"]))

    def test_in_tolerance_with_an_out_of_service_shunt_leaves_the_bench_as_it_was(self):
        st = Station(self)
        run = st.run(
            event("equipment.out_of_service", "2025-03-10T06:10:00Z",
                  equipment_id="MT01-SHUNT-01", reason="Terminal loose", technician="L. Brandt") +
            self.bench("2025-03-10T07:30:00Z", "2025-03-10T07:00:00Z", "BENCH-SUSPECT",
                       self.CURRENT))
        self.assertEqual(run.errors, [])
        recorded = run.topic("calibration.recorded")[0]
        self.assertEqual((recorded["due_date"], recorded["status"], recorded["suspect"]),
                         ("2025-06-02", "current", True))
        self.assertIn("proves nothing", recorded["note"])
        self.assertEqual(recorded["suspect_reason"],
                         "reference instrument MT01-SHUNT-01 was out of service at "
                         "2025-03-10T07:00:00Z (tagged out at 2025-03-10T06:10:00Z: Terminal "
                         "loose)")
        # Read back from the store by a new run: the calibration in force is still the old one.
        later = st.run(event("status.query", "2025-06-03T08:00:00Z"))
        bench = item(later.topic("status")[0], "MT01-BENCH-01")
        self.assertEqual((bench["status"], bench["ready"]), ("expired", False))

    def test_a_suspect_calibration_clears_no_failure_and_ends_no_send_out(self):
        out_of_service = event("equipment.out_of_service", "2025-03-10T06:20:00Z",
                               equipment_id="MT01-SHUNT-01", reason="Terminal loose",
                               technician="L. Brandt")
        suspect = self.bench("2025-03-11T07:30:00Z", "2025-03-11T07:00:00Z", "BENCH-SUSPECT",
                             self.CURRENT)
        failed = Station(self).run(
            self.bench("2025-03-10T06:00:00Z", "2025-03-10T06:00:00Z", "BENCH-FAIL",
                       [{"parameter": "current", "nominal": 1000, "unit": "A",
                         "as_found": 1200, "as_left": 1200}]) + out_of_service + suspect)
        sent = Station(self).run(
            event("calibration.schedule", "2025-03-10T06:10:00Z", equipment_id="MT01-BENCH-01",
                  technician="L. Brandt") + out_of_service + suspect)
        for run, status in ((failed, "calibration_failed"), (sent, "pending_calibration")):
            self.assertEqual(run.errors, [])
            last = run.topic("calibration.recorded")[-1]
            self.assertEqual((last["certificate_number"], last["suspect"], last["status"]),
                             ("BENCH-SUSPECT", True, status))

    def test_a_reference_calibrated_suspect_is_judged_by_its_calibration_before(self):
        # The shunt's own calibration made with the expired bench renews nothing, for the
        # history too: a bench calibration made with the shunt that day, entered the next
        # day, is judged against the shunt's calibration of 2024-09-16 (valid through
        # 2025-09-16).
        st = Station(self)
        run = st.run(
            calibration("2025-09-20T07:30:00Z", "MT01-SHUNT-01", "2025-09-20T07:00:00Z",
                        "SHUNT-SUSPECT", "MT01-BENCH-01",
                        [{"parameter": "current", "nominal": n, "unit": "A", "as_found": n}
                         for n in (1000, 2000)]) +
            self.bench("2025-09-21T08:00:00Z", "2025-09-20T09:00:00Z", "BENCH-LATER",
                       self.CURRENT))
        self.assertEqual(run.errors, [])
        reasons = suspect_reasons(run)
        self.assertIn("MT01-BENCH-01", reasons["SHUNT-SUSPECT"])
        self.assertEqual(reasons["BENCH-LATER"],
                         "reference instrument MT01-SHUNT-01 was not in calibration on "
                         "2025-09-20: its calibration of 2024-09-16 was valid through 2025-09-16")

    def test_an_unknown_reference_is_still_refused(self):
        st = Station(self)
        run = st.run(self.bench("2025-03-10T07:30:00Z", "2025-03-10T07:00:00Z", "BENCH-X",
                                self.CURRENT, reference="MT01-NOPE-01"))
        self.assertEqual(run.error(1), "data.reference_standard: reference instrument "
                         "'MT01-NOPE-01' is not named by any contract in force, so its "
                         "calibration cannot be vouched for")
        self.assertEqual(run.topic("calibration.recorded"), [])


class SentOut(unittest.TestCase):
    def test_sent_out_blocks_until_the_calibration_is_recorded(self):
        st = Station(self)
        run = st.scenario("sent-out")
        scheduled = run.topic("calibration.scheduled")
        self.assertEqual(scheduled, [{"equipment_id": "MT01-YOKE-01", "status": "pending_calibration",
                                      "ready": False}])
        yoke = [(c["from"], c["to"], c["cause"]) for c in run.topic("status.changed")
                if c["equipment_id"] == "MT01-YOKE-01"]
        self.assertEqual(yoke, [(None, "current", "sweep"),
                                ("current", "pending_calibration", "calibration.schedule"),
                                ("pending_calibration", "current", "calibration")])
        self.assertEqual([g["allowed"] for g in run.gates("SC-2025-071-MT")], [True])
        gates = run.gates("SC-2025-072-MT")
        self.assertEqual([g["allowed"] for g in gates], [False, True])
        blocked = item(gates[0], "MT01-YOKE-01")
        self.assertEqual((blocked["status"], blocked["reason"]),
                         ("pending_calibration", "pending calibration: sent out for calibration"))
        back = run.topic("calibration.recorded")[0]
        self.assertEqual((back["status"], back["due_date"], back["days_remaining"]),
                         ("current", "2025-09-10", 181))
        record = st.ledger_records("calibration.scheduled")[0]
        self.assertEqual(record["metadata"]["provider"], "Ferrolux NDT service centre")
        self.assertIn("sent out for calibration to Ferrolux NDT service centre", record["details"])

    def test_a_calibration_performed_before_the_send_out_does_not_end_it(self):
        st = Station(self)
        yoke = lambda t, date, cert: event(
            "calibration.record", t, equipment_id="MT01-YOKE-01", calibration_date=date,
            certificate_number=cert, provider="Ferrolux NDT service centre",
            technician="L. Brandt", results=[{"parameter": "lifted_mass", "as_found": 5.2}])
        run = st.run(
            event("calibration.schedule", "2025-03-10T08:00:00Z", equipment_id="MT01-YOKE-01",
                  technician="L. Brandt") +
            # Dated the day it was sent out (a date alone counts from the start of that day),
            # then an instant before the send-out: both history, the yoke stays out.
            yoke("2025-03-10T09:00:00Z", "2025-03-10", "FNX-A") +
            yoke("2025-03-10T09:05:00Z", "2025-03-10T07:59:00Z", "FNX-B") +
            event("status.query", "2025-03-10T09:10:00Z", equipment_id="MT01-YOKE-01") +
            yoke("2025-03-12T09:00:00Z", "2025-03-10T08:30:00Z", "FNX-C"))
        first, second, third = run.topic("calibration.recorded")
        for r in (first, second):
            self.assertEqual((r["status"], r["ready"], r["sent_out_since"]),
                             ("pending_calibration", False, "2025-03-10T08:00:00Z"))
            self.assertIn("performed before it was sent out for calibration at "
                          "2025-03-10T08:00:00Z", r["note"])
        status = item(run.topic("status")[0], "MT01-YOKE-01")
        self.assertEqual(status["status"], "pending_calibration")
        self.assertEqual(status["last_calibration_date"], "2025-03-10T07:59:00Z")  # history
        self.assertEqual(third["status"], "current")
        self.assertNotIn("sent_out_since", third)
        records = st.ledger_records("calibration.recorded")
        self.assertEqual([r["metadata"].get("sent_out_since") for r in records],
                         ["2025-03-10T08:00:00Z", "2025-03-10T08:00:00Z", None])
        self.assertIn("stays pending calibration", records[0]["details"])

    def test_sending_out_twice_is_refused(self):
        st = Station(self)
        send = lambda t: event("calibration.schedule", t, equipment_id="MT01-RFI-01",
                               technician="L. Brandt")
        run = st.run(send("2025-03-10T06:00:00Z") + send("2025-03-10T06:01:00Z"))
        self.assertEqual(run.error(2), "data.equipment_id: MT01-RFI-01 is already out for calibration")


class PlannedEnd(unittest.TestCase):
    def test_a_job_running_past_a_checks_window_blocks(self):
        run = Station(self).scenario("planned-end")
        first, second = run.gates("SC-2025-081-MT")
        self.assertEqual(first["planned_end"], "2025-03-10T16:00:00Z")
        self.assertFalse(first["allowed"])
        self.assertEqual(first["blocking"], ["MT01-CT-01"])
        self.assertEqual(item(first, "MT01-CT-01")["reason"],
                         "every 8 hours check MT-BATH-8H is valid until 2025-03-10T14:15:00Z, "
                         "before the job's planned end")
        self.assertTrue(second["allowed"])  # after a new bath sample, valid until 20:10

        night = run.gates("SC-2025-082-MT")[0]
        self.assertFalse(night["allowed"])
        self.assertEqual(night["blocking"], ["MT01-UVA-01", "MT01-CT-01", "MT01-KETOS-01"])
        self.assertIn("daily check MT-UVA-DAILY is valid until 2025-03-11T00:00:00Z, before the "
                      "job's planned end", item(night, "MT01-UVA-01")["reason"])
        self.assertIn("MT-BATH-8H is valid until 2025-03-10T20:10:00Z",
                      item(night, "MT01-CT-01")["reason"])

    def test_a_calibration_lapsing_before_the_end_blocks(self):
        st = Station(self)
        start = lambda t, end: event("test.start", t, clientpo_id="SC-2025-083-MT",
                                     equipment=["MT01-RAD-01"], planned_end=end)
        run = st.run(start("2025-03-24T08:00:00Z", "2025-03-26T08:00:00Z") +
                     start("2025-03-24T08:01:00Z", "2025-03-25T23:59:00Z"))
        blocked, allowed = run.gates()
        self.assertFalse(blocked["allowed"])
        self.assertEqual(item(blocked, "MT01-RAD-01")["reason"],
                         "calibration valid through 2025-03-25, before the job's planned end")
        self.assertTrue(allowed["allowed"])  # valid through the due day

    def test_warn_policy_allows_with_a_warning(self):
        st = Station(self)
        contract = st.contract()
        contract["job_window_policy"] = "warn"
        st.write_contract(contract)
        run = st.run(event("test.start", "2025-03-24T08:00:00Z", clientpo_id="SC-2025-084-MT",
                           equipment=["MT01-RAD-01"], planned_end="2025-03-26T08:00:00Z"))
        gate = run.gates()[0]
        self.assertTrue(gate["allowed"])
        self.assertEqual(item(gate, "MT01-RAD-01")["warning"],
                         "calibration valid through 2025-03-25, before the job's planned end")

    def test_a_planned_end_that_is_not_later_is_refused(self):
        st = Station(self)
        start = lambda t, end: event("test.start", t, clientpo_id="SC-2025-085-MT",
                                     equipment=["MT01-BENCH-01"], planned_end=end)
        run = st.run(start("2025-03-10T08:00:00Z", "2025-03-10T07:00:00Z") +
                     start("2025-03-10T08:01:00Z", "2025-03-11"))
        self.assertTrue(run.error(1).startswith("data.planned_end: 2025-03-10T07:00:00Z is not after"))
        self.assertTrue(run.error(2).startswith("data.planned_end: give a time with its offset"))
        self.assertEqual(run.gates(), [])


class EveryScenario(unittest.TestCase):
    def test_runs_cleanly_verifies_and_alerts_carry_their_severity(self):
        for path in sorted(glob.glob(os.path.join(SCENARIOS, "*.jsonl"))):
            name = os.path.basename(path)[:-6]
            with self.subTest(scenario=name):
                st = Station(self)
                run = st.scenario(name)  # exit 0 and ledger verify checked there
                printed = run.topic("alert")
                stored = st.alerts()
                self.assertEqual(printed, stored)
                for alert in stored:
                    self.assertEqual(alert["severity"], SEVERITY[alert["alert_type"]], alert)
                    self.assertEqual((alert["node_id"], alert["station_type"]), ("NODE-MT-001", "MT"))
                raised = st.ledger_records("alert.raised")
                self.assertEqual(len(raised), len(stored))
                # Only the scenarios about refusals have any.
                if name not in ("out-of-service", "chain-of-standards"):
                    self.assertEqual(run.errors, [])


class BadContracts(unittest.TestCase):
    def test_bad_procedures_are_refused_at_start_up_naming_file_and_field(self):
        cases = {
            "contract-procedure-frequency":
                "MT-BAD.json: procedures[0]: give exactly one of frequency",
            "contract-checkbox-unit":
                "MT-BAD.json: procedures[0].checklist_steps[0]: a checkbox step has no unit or limits",
        }
        for case, message in cases.items():
            with self.subTest(case=case):
                st = Station(self)
                contracts = os.path.join(st.dir, "contracts")
                shutil.rmtree(contracts)
                shutil.copytree(os.path.join(ROOT, "examples", "bad", case), contracts)
                path = os.path.join(st.dir, "events.jsonl")
                with open(path, "w") as f:
                    f.write(event("status.query", "2025-03-10T06:00:00Z"))
                res = host(["run", st.node, "--events", path, "--clock", "2025-03-10T06:00:00Z"])
                # The module still loads (never ungated), says why and runs with none in force.
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertIn(message, res.stderr)
                alerts = [json.loads(l)["data"] for l in res.stdout.splitlines()
                          if json.loads(l)["topic"] == "alert"]
                self.assertEqual([a["alert_type"] for a in alerts], ["contract_rejected"])
                self.assertIn(message, alerts[0]["message"])


class LiquidPenetrantDailyCheck(unittest.TestCase):
    def test_seed_without_the_daily_uv_check_is_blocked_by_the_lamp_too(self):
        with open(os.path.join(ROOT, "examples", "lp-station", "scenario.jsonl")) as f:
            events = [l for l in f.read().splitlines(keepends=True)
                      if '"LP-UVA-DAILY"' not in l]
        run = Station(self, "lp-station").run("".join(events))
        gates = run.gates()
        self.assertEqual([g["allowed"] for g in gates], [False, False])
        self.assertEqual(gates[0]["blocking"], ["LP01-UVA-01", "LP01-THM-01"])
        self.assertEqual(item(gates[1], "LP01-UVA-01")["reason"],
                         "required daily check LP-UVA-DAILY not done")

    def test_seed_with_the_check_keeps_its_numbers(self):
        with open(os.path.join(ROOT, "examples", "lp-station", "scenario.jsonl")) as f:
            run = Station(self, "lp-station").run(f.read())
        gates = run.gates()
        self.assertEqual([g["allowed"] for g in gates], [False, True])
        self.assertEqual(gates[0]["blocking"], ["LP01-THM-01"])
        self.assertIn("10 days overdue", item(gates[0], "LP01-THM-01")["reason"])
        check = run.topic("maintenance.checked")[0]
        self.assertEqual((check["equipment_id"], check["passed"], check["valid_until"]),
                         ("LP01-UVA-01", True, "2025-02-14T00:00:00Z"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
