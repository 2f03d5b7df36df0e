"""smart-host with the maintenance module: contracts signed by the hub. With trusted_keys in the
module config a contract is in force only with a detached FILE.minisig that verifies against a
trusted key, prehashed (`minisign -S`) or legacy (`minisign -S -l`); a missing signature, one by
another key, a broken one, or a file changed after signing is a refused deployment: at start the
module is refused naming the file, while running the set in force stays, contract.rejected
names the file and an alert is raised. contracts.loaded names the key each contract was signed
with. The keys and signatures are made by the stock minisign (Debian's package), as the hub
would make them.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import base64
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
NAME = "LP-CAL-001.json"


def event(topic, **data):
    return json.dumps({"topic": topic, "time": CLOCK, "data": data}) + "\n"


def minisign(*args):
    res = subprocess.run(["minisign", *args], capture_output=True, text=True, timeout=TIMEOUT)
    if res.returncode != 0:
        raise AssertionError("minisign %s: %s" % (" ".join(args), res.stderr))


def key_id(pub_path):
    """The key id as smart-host writes it: 16 hex digits of the id read little-endian."""
    raw = base64.b64decode(open(pub_path).read().splitlines()[1])
    return "%016X" % int.from_bytes(raw[2:10], "little")


class Station:
    """A private copy of examples/lp-station whose module trusts the hub's key."""

    def __init__(self, test, trusted=("hub",), require=None):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="smart-contract-signatures-")
        test.addCleanup(shutil.rmtree, self.dir)
        shutil.copytree(os.path.join(ROOT, "examples", "lp-station"), self.dir, dirs_exist_ok=True)
        shutil.rmtree(os.path.join(self.dir, "var"), ignore_errors=True)
        self.keys = os.path.join(self.dir, "keys")
        os.mkdir(self.keys)
        for who in ("hub", "other"):
            minisign("-G", "-W", "-p", self.pub(who), "-s", self.key(who))
        self.node = os.path.join(self.dir, "node.json")
        with open(self.node) as f:
            node = json.load(f)
        config = node["modules"][0]["config"]
        if trusted:
            config["trusted_keys"] = [open(self.pub(w)).read().splitlines()[1] for w in trusted]
        if require is not None:
            config["require_signed_contracts"] = require
        with open(self.node, "w") as f:
            json.dump(node, f)
        self.contract = os.path.join(self.dir, "contracts", NAME)
        # The station's other contracts (the hub's daily checklist) come signed by the hub, so
        # each test is about NAME's signature alone.
        contracts = os.path.join(self.dir, "contracts")
        for other in sorted(os.listdir(contracts)):
            if other != NAME and other.endswith((".json", ".yaml", ".yml")):
                minisign("-S", "-W", "-s", self.key("hub"), "-m", os.path.join(contracts, other))

    def pub(self, who):
        return os.path.join(self.keys, who + ".pub")

    def key(self, who):
        return os.path.join(self.keys, who + ".key")

    def sign(self, who="hub", legacy=False):
        minisign("-S", "-W", *(["-l"] if legacy else []), "-s", self.key(who), "-m", self.contract)

    def run(self):
        path = os.path.join(self.dir, "events.jsonl")
        with open(path, "w") as f:
            f.write(event("status.query", equipment_id="LP01-THM-01"))
        return subprocess.run([HOST, "run", self.node, "--events", path, "--clock", CLOCK],
                              capture_output=True, text=True, env=ENV, timeout=TIMEOUT)

    def ledger(self):
        with open(os.path.join(self.dir, "var", "ledger.jsonl")) as f:
            return [json.loads(line) for line in f]


def flip_signature(path):
    lines = open(path).read().split("\n")
    c = lines[1][30]
    lines[1] = lines[1][:30] + ("A" if c != "A" else "B") + lines[1][31:]
    open(path, "w").write("\n".join(lines))


class AtStart(unittest.TestCase):
    def loaded(self, st):
        res = st.run()
        self.assertEqual(res.returncode, 0, res.stderr)
        records = [r for r in st.ledger() if r["action"] == "contracts.loaded"]
        self.assertTrue(records)
        return records[-1]["metadata"]["contracts"][0]  # this run's: the ledger is the station's

    def test_signed_contracts_are_in_force_naming_the_key(self):
        for legacy in (False, True):
            with self.subTest(legacy=legacy):
                st = Station(self)
                st.sign(legacy=legacy)
                self.assertEqual(self.loaded(st)["signed_by"], key_id(st.pub("hub")))

    def test_a_second_trusted_key_is_named(self):
        st = Station(self, trusted=("hub", "other"))
        st.sign("other")
        self.assertEqual(self.loaded(st)["signed_by"], key_id(st.pub("other")))

    def refused(self, st, why):
        """Refused at start: the module still runs (never ungated) on the set it adopted last,
        or on none with every test blocked; the refusal is said and recorded."""
        res = st.run()
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("refused at start-up: ", res.stderr)
        self.assertIn(why, res.stderr)
        rejected = [r for r in st.ledger() if r["action"] == "contract.rejected"]
        self.assertTrue(rejected and why in rejected[-1]["details"], rejected[-1:])

    def test_each_bad_signature_refuses_the_module_naming_the_file(self):
        st = Station(self)
        self.refused(st, "%s: not signed: no %s.minisig beside it, and require_signed_contracts "
                     "is on" % (NAME, NAME))
        st.sign("other")
        self.refused(st, "%s.minisig: signed with key %s, which is not one of trusted_keys"
                     % (NAME, key_id(st.pub("other"))))
        st.sign()
        flip_signature(st.contract + ".minisig")
        self.refused(st, "%s.minisig (key %s): signature does not verify" % (NAME, key_id(st.pub("hub"))))
        st.sign()
        with open(st.contract, "a") as f:
            f.write(" ")  # the file changed after signing: still a valid contract
        self.refused(st, "%s.minisig (key %s): signature does not verify" % (NAME, key_id(st.pub("hub"))))
        st.sign()
        text = open(st.contract + ".minisig").read()
        open(st.contract + ".minisig", "w").write(text.replace("\ntrusted comment: ", "\ntrusted comment: x", 1))
        self.refused(st, "trusted comment's signature does not verify")
        open(st.contract + ".minisig", "w").write(text[:-30])
        self.refused(st, "%s: signature " % NAME)
        st.sign()
        self.loaded(st)

    def test_not_required_unsigned_is_in_force_but_a_bad_signature_is_not(self):
        st = Station(self, require=False)
        self.assertNotIn("signed_by", self.loaded(st))
        shutil.rmtree(os.path.join(st.dir, "var"))
        st.sign("other")
        self.refused(st, "which is not one of trusted_keys")

    def test_without_trusted_keys_nothing_changes_and_require_needs_keys(self):
        st = Station(self, trusted=())
        self.assertNotIn("signed_by", self.loaded(st))
        st = Station(self, trusted=(), require=True)
        res = st.run()
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("config.require_signed_contracts: needs trusted_keys", res.stderr)
        st = Station(self, trusted=())
        with open(st.node) as f:
            node = json.load(f)
        node["modules"][0]["config"]["trusted_keys"] = ["RWQ-not-a-key"]
        with open(st.node, "w") as f:
            json.dump(node, f)
        res = st.run()
        self.assertIn("config.trusted_keys[0]: public key: line 1", res.stderr)


class WhileRunning(unittest.TestCase):
    def test_a_redeploy_without_a_good_signature_keeps_the_set_in_force(self):
        st = Station(self)
        st.sign()
        proc = subprocess.Popen([HOST, "run", st.node, "--events", "-", "--clock", CLOCK],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=ENV)
        outputs = queue.Queue()

        def read():
            for text in proc.stdout:
                outputs.put(json.loads(text))
            outputs.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()

        def ask(line, topic):
            if line:
                proc.stdin.write(line)
                proc.stdin.flush()
            while True:
                out = outputs.get(timeout=TIMEOUT)
                self.assertIsNotNone(out, "smart-host ended")
                if out["topic"] == topic:
                    return out["data"]

        try:
            status = ask(event("status.query", equipment_id="LP01-THM-01"), "status")
            self.assertEqual(status["equipment"][0]["days_overdue"], 10)
            # A new version signed by nobody trusted: written aside, then renamed in.
            with open(st.contract) as f:
                doc = json.load(f)
            doc["version"] += 1
            for item in doc["equipment_list"]:
                if item["equipment_id"] == "LP01-THM-01":
                    item["calibration_interval_days"] = 3650
            tmp = os.path.join(st.dir, "new.json")
            with open(tmp, "w") as f:
                json.dump(doc, f)
            minisign("-S", "-W", "-s", st.key("other"), "-m", tmp)
            os.rename(tmp + ".minisig", st.contract + ".minisig")
            os.rename(tmp, st.contract)
            rejected = ask(event("contract.deployed"), "contract.rejected")
            self.assertEqual(rejected["contract_file"], NAME)
            self.assertIn("which is not one of trusted_keys", rejected["reason"])
            status = ask(event("status.query", equipment_id="LP01-THM-01"), "status")
            self.assertEqual(status["equipment"][0]["days_overdue"], 10)  # the old terms
            # Signed by the hub, the same file is taken.
            st.sign()
            ask(event("contract.deployed"), "contracts.loaded")
            status = ask(event("status.query", equipment_id="LP01-THM-01"), "status")
            self.assertNotEqual(status["equipment"][0].get("days_overdue"), 10)  # the new terms
        finally:
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=TIMEOUT), 0)
            reader.join()
            proc.stdout.close()
            proc.stderr.close()
        with open(os.path.join(st.dir, "var", "alerts.jsonl")) as f:
            alerts = [json.loads(line) for line in f]
        self.assertTrue(any(a["alert_type"] == "contract_rejected" for a in alerts), alerts)
        loaded = [r for r in st.ledger() if r["action"] == "contracts.loaded"]
        self.assertEqual(loaded[-1]["metadata"]["contracts"][0]["signed_by"], key_id(st.pub("hub")))


if __name__ == "__main__":
    unittest.main()
