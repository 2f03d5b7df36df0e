"""smart-host report counts the station's days in the station's zone, as the module does.

A station in Pacific/Auckland (UTC+12 in April 2025): a thermometer due 2025-04-11 and a daily
check done just after local midnight, when the UTC day is still the day before. The report's
as-of day, days left and missed window are the station's; the due list agrees with the module's
own status answer at the same instant; the ledger's store.opened names the zone and its tzdata.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT set."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import jsonschema

HOST = os.environ["SMART_HOST"]
MODULE_DIR = os.environ["SMART_MODULE_DIR"]
ROOT = os.environ["SOURCE_ROOT"]
SCHEMA = json.load(open(os.path.join(ROOT, "schemas", "report.schema.json")))

CONTRACT = {
    "smart_contract_id": "ZN-CAL-001", "contract_type": "SmartMaintenance", "version": 1,
    "station_type": "ZN", "title": "Zone test station", "issued_by": "MaintenanceHub TEST",
    "issued_at": "2024-01-01", "warning_period_days": 30,
    "equipment_list": [
        {"equipment_id": "ZN-THM-01", "description": "Thermometer",
         "equipment_type": "thermometer", "calibration_interval_days": 100,
         "tolerances": [{"parameter": "temperature", "unit": "C", "nominal": 50,
                         "plus_minus": 0.5}],
         # 2025-01-01 + 100 days: due 2025-04-11, overdue from the station's 2025-04-12.
         "last_calibration": {"calibration_date": "2025-01-01", "certificate_number": "B-T",
                              "provider": "Lab"}},
        {"equipment_id": "ZN-UVA-01", "description": "UV-A lamp", "equipment_type": "uv_a_lamp",
         "calibration_interval_days": 365,
         "tolerances": [{"parameter": "uv_a_irradiance", "unit": "uW/cm2", "nominal": 1000,
                         "plus_minus": 150}],
         "last_calibration": {"calibration_date": "2025-01-01", "certificate_number": "B-U",
                              "provider": "Lab"}},
    ],
    "procedures": [
        {"procedure_id": "ZN-UVA-DAILY", "title": "Daily UV-A", "equipment": ["ZN-UVA-01"],
         "frequency": "daily", "required_before_test": False,
         "checklist_steps": [{"step_id": "uv_a", "description": "UV-A at 38 cm",
                              "input_type": "number", "unit": "uW/cm2", "min": 800}]},
    ],
}


def event(topic, time, **data):
    return json.dumps({"topic": topic, "time": time, "data": data}) + "\n"


def run(args):
    env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)
    p = subprocess.run([HOST] + args, capture_output=True, text=True, env=env, timeout=120)
    if p.returncode != 0:
        raise AssertionError("smart-host %s: exit %d\n%s" % (args, p.returncode, p.stderr))
    return p


def rows(doc, sid):
    return [r["values"] for r in [s for s in doc["sections"] if s["id"] == sid][0]["rows"]]


class StationZone(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="report-zone-")
        os.makedirs(os.path.join(cls.dir, "contracts"))
        with open(os.path.join(cls.dir, "contracts", "ZN-CAL-001.json"), "w") as f:
            json.dump(CONTRACT, f)
        with open(os.path.join(cls.dir, "node.json"), "w") as f:
            json.dump({"node_id": "NODE-ZN-001", "station_type": "ZN",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": "smart-maintenance.so",
                                    "config": {"contracts_dir": "contracts",
                                               "data_dir": "var/maintenance",
                                               "time_zone": "Pacific/Auckland"}}]}, f)
        check = lambda t: event("maintenance.check", t, equipment_id="ZN-UVA-01",
                                check_type="ZN-UVA-DAILY", technician="R. Okafor",
                                readings={"uv_a": 1100})
        # 12:10Z is 00:10 the next day in Auckland: the station's 2025-04-10 and 2025-04-12
        # (UTC: the 9th and the 11th); the station's 2025-04-11 has no check.
        events = (check("2025-04-09T12:10:00Z") + check("2025-04-11T12:10:00Z") +
                  event("status.query", "2025-04-11T12:30:00Z"))
        path = os.path.join(cls.dir, "events.jsonl")
        with open(path, "w") as f:
            f.write(events)
        out = run(["run", os.path.join(cls.dir, "node.json"), "--events", path,
                   "--clock", "2025-04-09T12:00:00Z"]).stdout
        cls.status = [json.loads(line)["data"] for line in out.splitlines()
                      if json.loads(line)["topic"] == "status"][-1]
        cls.ledger = os.path.join(cls.dir, "var", "ledger.jsonl")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def report(self, kind, *extra):
        doc = json.loads(run(["report", kind, self.ledger, "--format", "json"] +
                             list(extra)).stdout)
        jsonschema.validate(doc, SCHEMA)
        return doc

    def test_store_opened_names_the_zone(self):
        with open(self.ledger) as f:
            opened = [json.loads(line) for line in f
                      if json.loads(line)["action"] == "store.opened"][0]
        self.assertEqual(opened["metadata"]["time_zone"], "Pacific/Auckland")
        self.assertRegex(opened["metadata"]["tzdata"], r"^\d{4}[a-z]$")

    def test_due_list_matches_the_module_status(self):
        doc = self.report("due")
        got = {r["equipment_id"]: r for r in rows(doc, "due_list")}
        thm = got["ZN-THM-01"]
        module = {e["equipment_id"]: e for e in self.status["equipment"]}["ZN-THM-01"]
        self.assertEqual(module["days_overdue"], 1)  # the station's 2025-04-12
        self.assertEqual((thm["urgency"], thm["status"], thm["due_date"], thm["days_left"]),
                         ("overdue", module["status"], module["due_date"],
                          -module["days_overdue"]))
        note = [s for s in doc["sections"] if s["id"] == "due_list"][0]["note"]
        self.assertIn("As of 2025-04-12", note)
        self.assertIn("Pacific/Auckland", note)

    def test_check_windows_are_the_station_days(self):
        doc = self.report("compliance")
        self.assertEqual([(r["equipment_id"], r["window"], r["result"])
                          for r in rows(doc, "compliance_missed")],
                         [("ZN-UVA-01", "2025-04-11", "missed")])
        self.assertEqual([(r["period"], r["due"], r["on_time"], r["missed"])
                          for r in rows(doc, "compliance")], [("2025-04", 3, 2, 1)])


SHIFT_CONTRACT = {
    "smart_contract_id": "SH-CAL-001", "contract_type": "SmartMaintenance", "version": 1,
    "station_type": "SH", "title": "Shift test station", "issued_by": "MaintenanceHub TEST",
    "issued_at": "2024-01-01", "warning_period_days": 30,
    "shift_starts": ["06:00", "14:00", "22:00"],
    "equipment_list": [
        {"equipment_id": eq, "description": "UV-A lamp", "equipment_type": "uv_a_lamp",
         "calibration_interval_days": 365,
         "tolerances": [{"parameter": "uv_a_irradiance", "unit": "uW/cm2", "nominal": 1000,
                         "plus_minus": 150}],
         "last_calibration": {"calibration_date": "2025-01-01", "certificate_number": "B-" + eq,
                              "provider": "Lab"}}
        for eq in ("SH-UVA-01", "SH-UVA-02")],
    "procedures": [
        {"procedure_id": "SH-UVA-SHIFT", "title": "UV-A per shift", "equipment": ["SH-UVA-01"],
         "frequency": "per_shift", "required_before_test": False,
         "checklist_steps": [{"step_id": "uv_a", "description": "UV-A at 38 cm",
                              "input_type": "number", "unit": "uW/cm2", "min": 800}]},
        {"procedure_id": "SH-UVA-8H", "title": "UV-A every 8 hours", "equipment": ["SH-UVA-02"],
         "frequency_hours": 8, "required_before_test": False,
         "checklist_steps": [{"step_id": "uv_a", "description": "UV-A at 38 cm",
                              "input_type": "number", "unit": "uW/cm2", "min": 800}]},
    ],
}


class ShiftWindows(unittest.TestCase):
    """America/Los_Angeles (UTC-7 in April 2025), shifts at 06:00, 14:00 and 22:00 local.

    The per-shift lamp is checked in the morning and afternoon shifts of 2025-04-10 and the
    morning shift of the 11th: the night shift (from 22:00 local, 05:00Z) is missed. The
    every-8-hours lamp is checked at 06:10 and 12:50 (both in the morning shift), 22:10 and
    06:10 the next day: its afternoon shift (from 14:00 local, 21:00Z) is missed, which
    windows counted from UTC midnight (08:00Z-16:00Z, 16:00Z-24:00Z, ...) would not show."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="report-shift-")
        os.makedirs(os.path.join(cls.dir, "contracts"))
        with open(os.path.join(cls.dir, "contracts", "SH-CAL-001.json"), "w") as f:
            json.dump(SHIFT_CONTRACT, f)
        with open(os.path.join(cls.dir, "node.json"), "w") as f:
            json.dump({"node_id": "NODE-SH-001", "station_type": "SH",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": "smart-maintenance.so",
                                    "config": {"contracts_dir": "contracts",
                                               "data_dir": "var/maintenance",
                                               "time_zone": "America/Los_Angeles"}}]}, f)
        check = lambda eq, proc, t: event("maintenance.check", t, equipment_id=eq,
                                          check_type=proc, technician="R. Okafor",
                                          readings={"uv_a": 1100})
        ev = [check("SH-UVA-01", "SH-UVA-SHIFT", t) for t in
              ("2025-04-10T13:30:00Z", "2025-04-10T21:30:00Z", "2025-04-11T13:30:00Z")]
        ev += [check("SH-UVA-02", "SH-UVA-8H", t) for t in
               ("2025-04-10T13:10:00Z", "2025-04-10T19:50:00Z", "2025-04-11T05:10:00Z",
                "2025-04-11T13:10:00Z")]
        ev.append(event("status.query", "2025-04-11T14:00:00Z"))
        ev.sort(key=lambda line: json.loads(line)["time"])
        path = os.path.join(cls.dir, "events.jsonl")
        with open(path, "w") as f:
            f.write("".join(ev))
        run(["run", os.path.join(cls.dir, "node.json"), "--events", path,
             "--clock", "2025-04-10T13:00:00Z"])
        cls.ledger = os.path.join(cls.dir, "var", "ledger.jsonl")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_shift_windows(self):
        doc = json.loads(run(["report", "compliance", self.ledger, "--format", "json"]).stdout)
        jsonschema.validate(doc, SCHEMA)
        self.assertEqual(sorted((r["equipment_id"], r["window"], r["result"])
                                for r in rows(doc, "compliance_missed")),
                         [("SH-UVA-01", "2025-04-11T05:00:00Z", "missed"),
                          ("SH-UVA-02", "2025-04-10T21:00:00Z", "missed")])
        self.assertEqual(sorted((r["equipment_id"], r["period"], r["due"], r["on_time"],
                                 r["missed"]) for r in rows(doc, "compliance")),
                         [("SH-UVA-01", "2025-04", 4, 3, 1), ("SH-UVA-02", "2025-04", 4, 3, 1)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
