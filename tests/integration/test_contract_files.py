"""smart-host with the maintenance module: what the contracts directory may hold besides good
contracts. An entry that cannot be read as a regular file (a dangling symlink, an unreadable
file, a directory, a FIFO), one contract id in two files, a contract calibration dated after the
clock: each is a refused deployment. At start the module still loads and runs with the set it
adopted before, or none (every test blocked), the message naming the file; never a failing
store (exit 4) and never a hang; while the station runs, the set in force stays, the host runs
on, and contract.rejected names the file.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment. Every run has
a timeout: a host waiting on a FIFO fails the test instead of hanging it."""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import unittest

HOST = os.environ["SMART_HOST"]
MODULE_DIR = os.environ["SMART_MODULE_DIR"]
ROOT = os.environ["SOURCE_ROOT"]
CLOCK = "2025-02-13T07:00:00Z"
TIMEOUT = 30
ENV = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)


def event(topic, **data):
    return json.dumps({"topic": topic, "time": CLOCK, "data": data}) + "\n"


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Station:
    """A private copy of examples/lp-station."""

    def __init__(self, test):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="smart-contract-files-")
        test.addCleanup(shutil.rmtree, self.dir)
        shutil.copytree(os.path.join(ROOT, "examples", "lp-station"), self.dir, dirs_exist_ok=True)
        shutil.rmtree(os.path.join(self.dir, "var"), ignore_errors=True)
        self.node = os.path.join(self.dir, "node.json")
        self.contracts = os.path.join(self.dir, "contracts")

    def path(self, name):
        return os.path.join(self.contracts, name)

    def contract(self):
        with open(self.path("LP-CAL-001.json")) as f:
            return json.load(f)

    def write(self, name, doc):
        tmp = os.path.join(self.dir, name + ".tmp")  # written aside, then renamed in
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, self.path(name))

    def run(self, events_text):
        path = os.path.join(self.dir, "events.jsonl")
        with open(path, "w") as f:
            f.write(events_text)
        return subprocess.run([HOST, "run", self.node, "--events", path, "--clock", CLOCK],
                              capture_output=True, text=True, env=ENV, timeout=TIMEOUT)

    def ledger(self):
        with open(os.path.join(self.dir, "var", "ledger.jsonl")) as f:
            return lines(f.read())


class Running:
    """smart-host reading events from a pipe; outputs are read on a thread, so a host that
    stops answering fails the test after TIMEOUT seconds."""

    def __init__(self, test, st):
        self.test = test
        self.proc = subprocess.Popen([HOST, "run", st.node, "--events", "-", "--clock", CLOCK],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=ENV)
        self.outputs = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        test.addCleanup(self._stop)

    def _stop(self):
        self.proc.kill()
        self.proc.wait()
        self.reader.join()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                stream.close()

    def _read(self):
        for text in self.proc.stdout:
            self.outputs.put(json.loads(text))
        self.outputs.put(None)

    def ask(self, line, topic, match=lambda data: True):
        """Sends `line` (if any) and returns the data of the next output of `topic` that
        `match` accepts."""
        if line:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        while True:
            try:
                out = self.outputs.get(timeout=TIMEOUT)
            except queue.Empty:
                self.test.fail("no %s within %d s: the host stopped answering" % (topic, TIMEOUT))
            if out is None:
                self.test.fail("smart-host ended before answering %s (exit %s): %s"
                               % (topic, self.proc.wait(), self.proc.stderr.read()))
            if out["topic"] == topic and match(out["data"]):
                return out["data"]

    def finish(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=TIMEOUT)


def dangling(path):
    os.symlink("no-such-contract.json", path)


def unreadable(path):
    # A regular file that no process reads, even as root: its own memory at address 0.
    os.symlink("/proc/self/mem", path)


def directory(path):
    os.mkdir(path)


def fifo(path):
    os.mkfifo(path)


ENTRIES = [  # (kind, file name, make it, the message after the file name)
    ("dangling symlink", "gone.json", dangling, "cannot open: a symbolic link to a missing file"),
    ("unreadable file", "mem.json", unreadable, "cannot read: Input/output error"),
    ("directory", "dir.json", directory, "is a directory; a contract is a regular file"),
    ("FIFO", "fifo.yaml", fifo, "is a FIFO; a contract is a regular file"),
]


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        os.rmdir(path)
    else:
        os.unlink(path)


class UnreadableEntries(unittest.TestCase):
    def test_at_start_the_set_is_refused_naming_the_file_and_the_module_runs(self):
        for kind, name, make, why in ENTRIES:
            with self.subTest(kind):
                st = Station(self)
                make(st.path(name))
                res = st.run(event("status.query"))
                self.assertEqual(res.returncode, 0, res.stderr)  # not 4: no store failed
                self.assertIn("refused at start-up: %s: %s" % (name, why), res.stderr)
                # Taken away, the station starts.
                remove(st.path(name))
                res = st.run(event("status.query"))
                self.assertEqual(res.returncode, 0, res.stderr)

    def test_on_a_rescan_the_set_in_force_stays_and_the_host_runs_on(self):
        st = Station(self)
        host = Running(self, st)
        status = host.ask(event("status.query", equipment_id="LP01-THM-01"), "status")
        self.assertEqual(status["equipment"][0]["days_overdue"], 10)
        for kind, name, make, why in ENTRIES:
            with self.subTest(kind):
                make(st.path(name))  # the directory watch asks for the rescan
                rejected = host.ask(None, "contract.rejected",
                                    lambda data: data["contract_file"] == name)
                self.assertEqual(rejected["reason"], "%s: %s" % (name, why))
                status = host.ask(event("status.query", equipment_id="LP01-THM-01"), "status")
                self.assertEqual(status["equipment"][0]["days_overdue"], 10)
                remove(st.path(name))
                host.ask(None, "contracts.loaded")  # the rescan after it takes the set again
        self.assertEqual(host.finish(), 0)
        records = [r for r in st.ledger() if r["action"] == "contract.rejected"]
        self.assertEqual({r["metadata"]["contract_file"] for r in records},
                         {name for _, name, _, _ in ENTRIES})


class ConflictsAndEvidence(unittest.TestCase):
    def test_one_contract_id_in_two_files_is_refused_naming_both_every_start(self):
        st = Station(self)
        doc = st.contract()
        copy = dict(doc, version=doc["version"] + 1, procedures=[], equipment_list=[
            dict(doc["equipment_list"][0], equipment_id="LP02-UVA-01")])
        st.write("LP-CAL-001.v2.json", copy)
        why = ("LP-CAL-001.v2.json: smart_contract_id: 'LP-CAL-001' is also the id of "
               "LP-CAL-001.json; a contract id names one file")
        first = st.run(event("status.query"))
        again = st.run(event("status.query"))  # nothing changed: the same outcome
        for res in (first, again):
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn("refused at start-up: " + why, res.stderr)
        self.assertEqual(first.stderr, again.stderr)

        os.unlink(st.path("LP-CAL-001.v2.json"))
        host = Running(self, st)
        host.ask(event("status.query"), "status")
        st.write("LP-CAL-001.v2.json", copy)
        rejected = host.ask(None, "contract.rejected")  # from the directory watch
        self.assertEqual((rejected["contract_file"], rejected["other_file"], rejected["reason"]),
                         ("LP-CAL-001.v2.json", "LP-CAL-001.json", why))
        status = host.ask(event("status.query", equipment_id="LP02-UVA-01"), "status")
        self.assertEqual(status["equipment"][0]["status"], "unknown")  # not in force
        self.assertEqual(host.finish(), 0)

    def test_a_contract_calibration_after_the_clock_is_refused(self):
        st = Station(self)
        doc = st.contract()
        for date in ("2030-01-01", "2099-12-31T00:00:00Z"):
            with self.subTest(date):
                doc["equipment_list"][1]["last_calibration"]["calibration_date"] = date
                st.write("LP-CAL-001.json", doc)
                res = st.run(event("status.query"))
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertIn("refused at start-up: LP-CAL-001.json: equipment_list[1].last_calibration."
                              "calibration_date: %s is in the future" % date, res.stderr)
        # Today's date counts; a real calibration recorded today is accepted after it.
        doc["equipment_list"][1]["last_calibration"]["calibration_date"] = "2025-02-13"
        st.write("LP-CAL-001.json", doc)
        host = Running(self, st)
        status = host.ask(event("status.query", equipment_id="LP01-THM-01"), "status")
        self.assertEqual(status["equipment"][0]["status"], "current")
        recorded = host.ask(event("calibration.record", equipment_id="LP01-THM-01",
                                  calibration_date="2025-02-13", certificate_number="NCL-9",
                                  provider="Lab", technician="J. Alvarez"),
                            "calibration.recorded")
        self.assertEqual(recorded["status"], "current")
        # Redeployed with a calibration in 2030: refused, the set in force stays.
        doc["version"] += 1
        doc["equipment_list"][0]["last_calibration"]["calibration_date"] = "2030-01-01"
        st.write("LP-CAL-001.json", doc)
        rejected = host.ask(None, "contract.rejected")  # from the directory watch
        self.assertEqual(rejected["contract_file"], "LP-CAL-001.json")
        self.assertTrue(rejected["reason"].startswith(
            "LP-CAL-001.json: equipment_list[0].last_calibration.calibration_date: 2030-01-01 "
            "is in the future"), rejected["reason"])
        status = host.ask(event("status.query", equipment_id="LP01-UVA-01"), "status")
        self.assertEqual(status["equipment"][0]["days_remaining"], 90)  # 2024-11-15 stays
        self.assertEqual(host.finish(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
