"""A job's answers bounded and lossless: no clientpo.linked or gate.decision over 1 MiB.

A job of 256 items (the most a link takes), each with 8 checks, out of service and with a
description full of characters JSON escapes, made its clientpo.linked and its gate.decision
longer than the 1 MiB a line may hold. The host refused the line ("data: N bytes, more than the
1048576 a module may hand the host"): the operator never heard why the test was blocked, and
the alert was never raised.

Now an answer that would pass 1 MiB (and only such: one of exactly 1 MiB is as it was) lists in
`equipment` only the items not ready, says `equipment_count` and `equipment_pages`, and every
item follows in equipment.page output events and ledger records, each under 1 MiB. The gate's
verdict and its blocking list are those of the whole job. Tested at the exact edge: the
descriptions are sized so that the whole answer is 1 MiB, and then one byte more.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "schemas"))

HOST = os.environ["SMART_HOST"]
MODULE_DIR = os.environ["SMART_MODULE_DIR"]
ROOT = os.environ["SOURCE_ROOT"]
LIMIT = 1024 * 1024
ITEMS, PROCEDURES = 256, 8
PO = "SC-2025-000001-LP-BIG"

try:
    import validate  # tests/schemas/validate.py
    VALIDATORS = validate.make_validators(validate.load_schemas(ROOT))
except SystemExit:  # no jsonschema module: the shapes are not checked here
    VALIDATORS = None


def eid(i):
    return ("LP-BIG-%05d-" % i).ljust(64, "X")


def contract(descriptions):
    items = [{"equipment_id": eid(i), "description": d, "equipment_type": "thermometer",
              "calibration_interval_days": 180,
              "tolerances": [{"parameter": "temperature", "unit": "degC", "nominal": 38,
                              "plus_minus": 0.5}],
              "last_calibration": {"calibration_date": "2025-01-10",
                                   "certificate_number": "CERT-%05d" % i,
                                   "provider": "Northbridge Calibration Ltd"}}
             for i, d in enumerate(descriptions)]
    procedures = [{"procedure_id": ("LP-BIG-CHECK-%d-" % p).ljust(64, "Y"), "title": "Check",
                   "equipment": [eid(i) for i in range(ITEMS)], "frequency": "daily",
                   "required_before_test": True,
                   "checklist_steps": [{"step_id": "reading", "description": "A reading",
                                        "input_type": "number", "unit": "degC",
                                        "min": -0.3, "max": 0.3}]}
                  for p in range(PROCEDURES)]
    return {"smart_contract_id": "LP-CAL-BIG", "contract_type": "SmartMaintenance",
            "version": 1, "station_type": "LP", "title": "A big job",
            "issued_by": "MaintenanceHub LAB-01", "issued_at": "2025-01-06",
            "warning_period_days": 30, "equipment_list": items, "procedures": procedures}


def ev(topic, **data):
    return json.dumps({"topic": topic, "time": "2025-02-13T07:00:00Z", "data": data}) + "\n"


def events():
    text = "".join(ev("equipment.out_of_service", equipment_id=eid(i), technician="R. Okafor",
                      reason="\u0001" * 100) for i in range(ITEMS))
    text += ev("clientpo.link", clientpo_id=PO, equipment=[eid(i) for i in range(ITEMS)])
    return text + ev("test.start", clientpo_id=PO)


def sized(extra):
    """Descriptions adding `extra` bytes to every answer listing all the items, against
    descriptions of one "d" each: a description's bytes are its characters, each \\u0001
    written as 6 (at most 200 characters, so at most 1,200 bytes an item)."""
    out = []
    for _ in range(ITEMS):
        want = 1 + min(extra, 1199)
        extra -= want - 1
        escaped = want // 6
        out.append("\u0001" * escaped + "d" * (want - 6 * escaped))
    assert extra == 0
    return out


class Run:
    def __init__(self, test, descriptions):
        d = tempfile.mkdtemp(prefix="smart-equipment-pages-")
        test.addCleanup(subprocess.run, ["rm", "-rf", d])
        os.mkdir(os.path.join(d, "contracts"))
        with open(os.path.join(d, "contracts", "LP-CAL-BIG.json"), "w") as f:
            json.dump(contract(descriptions), f)
        with open(os.path.join(d, "node.json"), "w") as f:
            json.dump({"node_id": "NODE-BIG", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": "smart-maintenance.so",
                                    "config": {"contracts_dir": "contracts",
                                               "data_dir": "var/maintenance"}}]}, f)
        with open(os.path.join(d, "events.jsonl"), "w") as f:
            f.write(events())
        env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR, SMART_HOST_WATCHDOG_WARN_MS="60000")
        p = subprocess.run([HOST, "run", os.path.join(d, "node.json"), "--events",
                            os.path.join(d, "events.jsonl"), "--clock", "2025-02-13T06:00:00Z"],
                           capture_output=True, env=env, timeout=600)
        test.assertEqual(p.returncode, 0, p.stderr[-2000:])
        test.assertEqual(p.stderr, b"", "the host refused a line")
        ledger = os.path.join(d, "var", "ledger.jsonl")
        verify = subprocess.run([HOST, "ledger", "verify", ledger], capture_output=True,
                                text=True)
        test.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.lines = p.stdout.splitlines()
        self.out = [json.loads(line) for line in self.lines]
        with open(ledger, "rb") as f:
            self.ledger_lines = f.read().splitlines()
        self.ledger = [json.loads(line) for line in self.ledger_lines]

    def one(self, topic):
        (found,) = [o["data"] for o in self.out if o["topic"] == topic]
        return found

    def data_bytes(self, topic):
        """The length of the answer's data as the module handed it to the host."""
        (line,) = [line for line in self.lines
                   if line.startswith(b'{"topic":"%s",' % topic.encode())]
        head = b'{"topic":"%s","data":' % topic.encode()
        return len(line) - len(head) - 1

    def pages(self, of):
        return [o["data"] for o in self.out
                if o["topic"] == "equipment.page" and o["data"]["of"] == of]

    def records(self, action):
        return [r for r in self.ledger if r["action"] == action]


class JobAnswersComeInPages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = Run(unittest.TestCase(), sized(0))
        for topic in ("clientpo.linked", "gate.decision"):
            assert "equipment_pages" not in cls.base.one(topic), topic

    def run_at(self, topic, size):
        """A run whose whole `topic` answer is `size` bytes."""
        extra = size - self.base.data_bytes(topic)
        self.assertGreater(extra, 0)
        return Run(self, sized(extra))

    def assertWhole(self, run, topic):
        answer = run.one(topic)
        self.assertEqual(run.data_bytes(topic), LIMIT)
        self.assertNotIn("equipment_pages", answer)
        self.assertNotIn("equipment_count", answer)
        self.assertEqual([i["equipment_id"] for i in answer["equipment"]],
                         [eid(i) for i in range(ITEMS)])
        self.assertEqual(run.pages(topic), [])

    def assertPaged(self, run, topic):
        answer = run.one(topic)
        pages = run.pages(topic)
        self.assertLessEqual(run.data_bytes(topic), LIMIT)
        self.assertEqual(answer["equipment_count"], ITEMS)
        self.assertEqual(answer["equipment_pages"], {"topic": "equipment.page",
                                                     "pages": len(pages)})
        self.assertGreater(len(pages), 1)
        self.assertEqual([p["page"] for p in pages], list(range(1, len(pages) + 1)))
        for p in pages:
            self.assertEqual((p["clientpo_id"], p["pages"], p["equipment_total"]),
                             (PO, len(pages), ITEMS))
        items = [i for p in pages for i in p["equipment"]]
        # Every item once, in job order, judged as the whole answer judges it.
        self.assertEqual([i["equipment_id"] for i in items], [eid(i) for i in range(ITEMS)])
        base = {i["equipment_id"]: i for i in self.base.one(topic)["equipment"]}
        for i in items:
            expected = dict(base[i["equipment_id"]], description=i["description"])
            self.assertEqual(i, expected)
        # The answer itself: what blocks, with the reasons, first in job order.
        shown = answer["equipment"]
        self.assertGreater(len(shown), 0)
        self.assertTrue(all(not i["ready"] for i in shown))
        self.assertEqual(shown, [i for i in items if not i["ready"]][:len(shown)])
        # Each page is a ledger record too, under the limit, as the output shows it.
        self.assertEqual([r["metadata"] for r in run.records("equipment.page")
                          if r["metadata"]["of"] == topic], pages)
        for line in run.lines + run.ledger_lines:
            self.assertLessEqual(len(line), LIMIT + 200)
        self.assertEqual(run.records("input.rejected"), [])
        if VALIDATORS:
            for o in run.out:
                if o["topic"] in (topic, "equipment.page"):
                    self.assertEqual(
                        validate.errors(VALIDATORS["output-event.schema.json"], o), [],
                        o["topic"])
        return answer

    def test_a_gate_answer_of_exactly_one_mib_is_whole(self):
        self.assertWhole(self.run_at("gate.decision", LIMIT), "gate.decision")

    def test_a_gate_answer_one_byte_longer_comes_in_pages_with_the_same_verdict(self):
        run = self.run_at("gate.decision", LIMIT + 1)
        answer = self.assertPaged(run, "gate.decision")
        whole = self.base.one("gate.decision")
        self.assertEqual((answer["allowed"], answer["blocking"]),
                         (whole["allowed"], whole["blocking"]))
        self.assertFalse(answer["allowed"])
        self.assertEqual(answer["blocking"], [eid(i) for i in range(ITEMS)])
        for p in run.pages("gate.decision"):
            self.assertEqual(p["decided_at"], answer["decided_at"])
        (record,) = run.records("gate.decision")
        self.assertFalse(record["metadata"]["allowed"])
        self.assertEqual(len(record["metadata"]["not_ready"]), ITEMS)
        # The operator is alerted, as for any blocked test.
        (alert,) = [o["data"] for o in run.out if o["topic"] == "alert" and
                    o["data"].get("alert_type") == "equipment_not_ready"]
        self.assertEqual(alert["equipment"], answer["blocking"])

    def test_a_link_answer_of_exactly_one_mib_is_whole(self):
        self.assertWhole(self.run_at("clientpo.linked", LIMIT), "clientpo.linked")

    def test_a_link_answer_one_byte_longer_comes_in_pages(self):
        run = self.run_at("clientpo.linked", LIMIT + 1)
        answer = self.assertPaged(run, "clientpo.linked")
        self.assertFalse(answer["all_ready"])
        for p in run.pages("clientpo.linked"):
            self.assertNotIn("decided_at", p)


class AStationChecklistTitleIsBounded(unittest.TestCase):
    """The hub's checklist title is its station item's description, in every gate answer: one
    of 1.1 MB made every gate.decision on the station too long for a line. It is bounded as an
    item's description is, and a longer one is refused naming the file, line and field."""

    def test_a_title_over_200_characters_is_refused(self):
        d = tempfile.mkdtemp(prefix="smart-equipment-pages-")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        subprocess.run(["cp", "-r", os.path.join(ROOT, "examples", "lp-station", "."), d],
                       check=True)
        path = os.path.join(d, "contracts", "LP-DAILY-CHECKLIST.yaml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("title: LP line daily readiness checklist",
                                 "title: " + "T" * 201))
        env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)
        p = subprocess.run([HOST, "run", os.path.join(d, "node.json"), "--events", "-",
                            "--clock", "2025-02-13T07:00:00Z"], input="", capture_output=True,
                           text=True, env=env, timeout=60)
        self.assertIn("LP-DAILY-CHECKLIST.yaml:7: title: longer than 200 characters", p.stderr)


if __name__ == "__main__":
    unittest.main()
