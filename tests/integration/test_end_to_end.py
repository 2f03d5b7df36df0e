"""smart-host with the maintenance module on the shipped examples and on bad input.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment. Each test
works in its own copy of an example, so runs never share state."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

HOST = os.environ["SMART_HOST"]
MODULE_DIR = os.environ["SMART_MODULE_DIR"]
ROOT = os.environ["SOURCE_ROOT"]
CLOCK = "2025-02-13T07:00:00Z"


def run(args, stdin=None, cwd=None):
    env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)
    return subprocess.run([HOST] + args, input=stdin, capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Station:
    """A private copy of examples/lp-station."""

    def __init__(self, test):
        self.dir = tempfile.mkdtemp(prefix="smart-e2e-")
        test.addCleanup(shutil.rmtree, self.dir)
        shutil.copytree(os.path.join(ROOT, "examples", "lp-station"), self.dir, dirs_exist_ok=True)
        shutil.rmtree(os.path.join(self.dir, "var"), ignore_errors=True)
        self.node = os.path.join(self.dir, "node.json")
        self.ledger = os.path.join(self.dir, "var", "ledger.jsonl")
        self.alerts = os.path.join(self.dir, "var", "alerts.jsonl")

    def run(self, events_text, clock=CLOCK):
        path = os.path.join(self.dir, "events.jsonl")
        with open(path, "w") as f:
            f.write(events_text)
        return run(["run", self.node, "--events", path, "--clock", clock])

    def ledger_records(self):
        with open(self.ledger) as f:
            return lines(f.read())

    def verify(self):
        return run(["ledger", "verify", self.ledger])


def event(topic, time, **data):
    return json.dumps({"topic": topic, "time": time, "data": data}) + "\n"


def by_topic(outputs, topic):
    return [o["data"] for o in outputs if o["topic"] == topic]


def item(data, equipment_id):
    return next(i for i in data["equipment"] if i["equipment_id"] == equipment_id)


def scenario():
    with open(os.path.join(ROOT, "examples", "lp-station", "scenario.jsonl")) as f:
        return f.read()


class SeedWorkflow(unittest.TestCase):
    def test_block_alert_calibration_allow(self):
        st = Station(self)
        res = st.run(scenario())
        self.assertEqual(res.returncode, 0, res.stderr)
        out = lines(res.stdout)
        status = by_topic(out, "status")[0]
        self.assertEqual(item(status, "LP01-UVA-01")["status"], "current")
        self.assertEqual(item(status, "LP01-UVA-01")["days_remaining"], 90)
        self.assertEqual(item(status, "LP01-THM-01")["status"], "expired")
        self.assertEqual(item(status, "LP01-THM-01")["days_overdue"], 10)

        gates = by_topic(out, "gate.decision")
        self.assertEqual([g["allowed"] for g in gates], [False, True])
        self.assertEqual(gates[0]["clientpo_id"], "SC-2025-001-LP")
        self.assertEqual(gates[0]["blocking"], ["LP01-THM-01"])
        self.assertIn("10 days overdue", item(gates[0], "LP01-THM-01")["reason"])

        expired = [a for a in by_topic(out, "alert") if a["alert_type"] == "calibration_expired"]
        self.assertEqual(len(expired), 1)
        self.assertEqual(expired[0]["severity"], "high")
        self.assertEqual(expired[0]["node_id"], "NODE-LP-001")
        self.assertEqual(expired[0]["equipment_id"], "LP01-THM-01")
        with open(st.alerts) as f:
            self.assertIn("calibration_expired", [a["alert_type"] for a in lines(f.read())])

        recorded = by_topic(out, "calibration.recorded")[0]
        self.assertEqual((recorded["status"], recorded["days_remaining"]), ("current", 180))
        # The order a user sees: blocked, then the calibration, then allowed.
        topics = [o["topic"] for o in out]
        self.assertLess(topics.index("gate.decision"), topics.index("calibration.recorded"))

        records = st.ledger_records()
        gate_records = [r for r in records if r["action"] == "gate.decision"]
        self.assertEqual([r["metadata"]["allowed"] for r in gate_records], [False, True])
        # Each decision cites the contract version it was made under, for replay by an auditor.
        self.assertEqual(gate_records[0]["metadata"]["contracts"],
                         {"LP-CAL-001": 2, "LP-DAILY-CHECKLIST-001": 20250108080000})
        self.assertEqual(gate_records[0]["metadata"]["not_ready"][0]["equipment_id"], "LP01-THM-01")
        actions = [r["action"] for r in records]
        for action in ("contracts.loaded", "clientpo.linked", "gate.decision",
                       "calibration.recorded", "status.transition", "alert.raised"):
            self.assertIn(action, actions)
        self.assertEqual(st.verify().returncode, 0)

    def test_restart_gives_the_same_answers(self):
        events = scenario().splitlines(keepends=True)
        whole = Station(self)
        one = lines(whole.run("".join(events)).stdout)
        split = Station(self)
        first = split.run("".join(events[:4]))  # up to the link, the checklist done
        self.assertEqual(first.returncode, 0, first.stderr)
        second = split.run("".join(events[4:]), clock="2025-02-13T07:10:00Z")
        self.assertEqual(second.returncode, 0, second.stderr)
        two = lines(first.stdout) + lines(second.stdout)
        answers = ("gate.decision", "calibration.recorded", "status", "clientpo.linked")
        self.assertEqual([o for o in one if o["topic"] in answers],
                         [o for o in two if o["topic"] in answers])
        # The restart continued the chain rather than starting a new one.
        seqs = [r["seq"] for r in split.ledger_records()]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        self.assertEqual(split.verify().returncode, 0)

    def test_unknown_equipment_blocks_and_is_named(self):
        st = Station(self)
        res = st.run(event("test.start", "2025-02-13T07:00:00Z", clientpo_id="SC-9",
                           equipment=["LP01-RAD-01", "LP99-GHOST-01"]))
        self.assertEqual(res.returncode, 0, res.stderr)
        gate = by_topic(lines(res.stdout), "gate.decision")[0]
        self.assertFalse(gate["allowed"])
        # The station's daily checklist (not done here) is required before every test too.
        self.assertEqual(gate["blocking"], ["LP99-GHOST-01", "LP-DAILY-CHECKLIST-001"])
        self.assertEqual(item(gate, "LP99-GHOST-01")["status"], "unknown")
        self.assertEqual(res.stderr, "")


class ContractHotReload(unittest.TestCase):
    """The hub deploys while the station runs: a new version takes effect with no restart; a
    bad one is refused and the set in force stays."""

    def start(self, st):
        env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)
        proc = subprocess.Popen([HOST, "run", st.node, "--events", "-", "--clock", CLOCK],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        self.addCleanup(proc.kill)
        return proc

    def ask(self, proc, line, topic):
        """Sends one line and reads outputs until one of `topic` arrives."""
        if line:
            proc.stdin.write(line)
            proc.stdin.flush()
        for text in proc.stdout:  # ends (and the test fails) if the host exits
            out = json.loads(text)
            if out["topic"] == topic:
                return out["data"]
        self.fail("smart-host ended before answering %s: %s" % (topic, proc.stderr.read()))

    def contract(self, st):
        path = os.path.join(st.dir, "contracts", "LP-CAL-001.json")
        with open(path) as f:
            return path, json.load(f)

    def write(self, path, doc):
        tmp = path + ".tmp"  # the hub writes whole files: write aside, then rename
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, path)

    def test_the_watch_adopts_a_new_version_and_refuses_a_bad_one(self):
        st = Station(self)
        proc = self.start(st)
        status = self.ask(proc, event("status.query", CLOCK, equipment_id="LP01-THM-01"), "status")
        self.assertEqual(item(status, "LP01-THM-01")["days_overdue"], 10)

        path, doc = self.contract(st)
        doc["version"] += 1
        thm = next(e for e in doc["equipment_list"] if e["equipment_id"] == "LP01-THM-01")
        thm["calibration_interval_days"] = 200
        self.write(path, doc)
        loaded = self.ask(proc, None, "contracts.loaded")  # from the directory watch alone
        self.assertEqual(loaded["contracts"], 2)  # with the hub-form daily checklist
        status = self.ask(proc, event("status.query", CLOCK, equipment_id="LP01-THM-01"), "status")
        self.assertEqual(item(status, "LP01-THM-01")["days_remaining"], 10)

        thm["calibration_interval_days"] = 0
        doc["version"] += 1
        self.write(path, doc)
        rejected = self.ask(proc, None, "contract.rejected")
        self.assertIn("LP-CAL-001.json: equipment_list", rejected["reason"])
        self.assertIn("calibration_interval_days", rejected["reason"])
        status = self.ask(proc, event("status.query", CLOCK, equipment_id="LP01-THM-01"), "status")
        self.assertEqual(item(status, "LP01-THM-01")["days_remaining"], 10)  # still in force
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=60), 0)
        actions = [r["action"] for r in st.ledger_records()]
        self.assertIn("contract.rejected", actions)
        self.assertEqual(actions.count("contracts.loaded"), 2)
        with open(st.alerts) as f:
            self.assertIn("contract_rejected", [a["alert_type"] for a in lines(f.read())])
        self.assertEqual(st.verify().returncode, 0)

    def test_an_older_version_on_disk_is_refused_at_the_next_start(self):
        st = Station(self)
        path, doc = self.contract(st)
        events = event("status.query", CLOCK)
        older = dict(doc, version=doc["version"] - 1)
        res_first = st.run(events)
        self.assertEqual(res_first.returncode, 0, res_first.stderr)
        self.write(path, older)
        res = st.run(event("contract.deployed", CLOCK, reason="hub push"))
        # At start-up an older contract than the one adopted before is refused; the module runs
        # on with the set adopted before (kept in its store).
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("is never rolled back", res.stderr)
        self.assertIn("running with the set adopted before (2 contract(s)", res.stderr)


class BadInput(unittest.TestCase):
    EXPECTED = [  # (line, the start of what follows "FILE:LINE: ")
        (1, "json: not valid JSON"),
        (2, "topic: unknown topic 'equipment.teleport'"),
        (3, "data.equipment_id: missing required field"),
        (4, "data.equipment: must be an array (got string)"),
        (5, "data.calibration_date: '2025-02-30' is not a valid date"),
        (6, "data.calibration_date: 2025-02-14 is in the future"),
        (7, "time: 2025-02-13T06:00:00Z is before the clock"),
    ]

    def test_each_bad_line_is_named_recorded_and_changes_nothing(self):
        st = Station(self)
        with open(os.path.join(ROOT, "examples", "bad", "events-bad.jsonl")) as f:
            bad = f.read()
        res = st.run(bad)
        self.assertEqual(res.returncode, 0, res.stderr)
        errors = res.stderr.splitlines()
        self.assertEqual(len(errors), len(self.EXPECTED), res.stderr)
        for (line, message), text in zip(self.EXPECTED, errors):
            self.assertTrue(text.startswith("smart-host: "), text)
            self.assertIn("events.jsonl:%d: %s" % (line, message), text)
        rejected = [r for r in st.ledger_records() if r["action"] == "input.rejected"]
        self.assertEqual([r["metadata"]["line"] for r in rejected], [l for l, _ in self.EXPECTED])
        # The last line, valid, was still processed, and the state is what a clean run gives.
        out = lines(res.stdout)
        clean = Station(self).run(event("status.query", "2025-02-13T08:10:00Z"))
        final = by_topic(out, "status")[-1]
        expected = by_topic(lines(clean.stdout), "status")[-1]
        self.assertEqual(final["equipment"], expected["equipment"])
        self.assertEqual(item(final, "LP01-THM-01")["status"], "expired")
        self.assertEqual(st.verify().returncode, 0)

    def test_bad_contracts_are_refused_at_start_up_naming_file_and_field(self):
        cases = {
            "contract-interval-zero": "LP-BAD.json: equipment_list[0].calibration_interval_days",
            "contract-unknown-key": "LP-BAD.json: equipment_list[0].calibration_due: unknown field",
            "contract-missing-field": "equipment_list[0].equipment_type: missing required field",
            "contract-bad-date": "last_calibration.calibration_date: '2024-02-30' is not a valid",
            "contract-duplicate-id": "equipment_id 'LP01-THM-01' is also claimed by contract",
        }
        for case, message in cases.items():
            with self.subTest(case=case):
                st = Station(self)
                contracts = os.path.join(st.dir, "contracts")
                shutil.rmtree(contracts)
                shutil.copytree(os.path.join(ROOT, "examples", "bad", case), contracts)
                res = st.run(event("status.query", "2025-02-13T07:00:00Z"))
                # The module still loads (never ungated), says why and runs with none in force.
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertIn(message, res.stderr)
                rejected = [o["data"] for o in lines(res.stdout) if o["topic"] == "alert"]
                self.assertEqual([a["alert_type"] for a in rejected], ["contract_rejected"])
                self.assertIn(message, rejected[0]["message"])


class LedgerTamper(unittest.TestCase):
    def tampered(self, change):
        st = Station(self)
        self.assertEqual(st.run(scenario()).returncode, 0)
        with open(st.ledger, "rb") as f:
            data = f.read()
        with open(st.ledger, "wb") as f:
            f.write(change(data))
        return st.verify()

    def test_intact_ledger_verifies(self):
        self.assertEqual(self.tampered(lambda d: d).returncode, 0)

    def test_flipped_byte_is_caught_at_its_seq(self):
        def flip(data):
            rows = data.split(b"\n")
            row = bytearray(rows[4])
            at = row.index(b'"details":"') + 12
            row[at] ^= 0x01
            rows[4] = bytes(row)
            return b"\n".join(rows)
        res = self.tampered(flip)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("seq 5", res.stdout + res.stderr)

    def test_deleted_line_is_caught(self):
        def delete(data):
            rows = data.split(b"\n")
            return b"\n".join(rows[:6] + rows[7:])
        res = self.tampered(delete)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("seq 8", res.stdout + res.stderr)

    def test_swapped_lines_are_caught(self):
        def swap(data):
            rows = data.split(b"\n")
            rows[3], rows[4] = rows[4], rows[3]
            return b"\n".join(rows)
        res = self.tampered(swap)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("seq 5", res.stdout + res.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
