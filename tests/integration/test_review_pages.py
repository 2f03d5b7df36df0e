"""A finding's review lists bounded and lossless (issue 14: no output line over 1 MiB). An item
used by some 15,000 tests (or a reference used in some 3,000 checks) made one oot.impact, or a
failed check's review, longer than the 1 MiB a line may hold. The host refused the module's
record ("metadata: 1048577 bytes, more than the 1048576 a module may hand the host") and
rejected the line, while the calibration stayed recorded in the ledger and the store: the
impact, its alert and the recall list were lost, and the same calibration sent again was only a
replay, so the review was never raised.

Now the answer's own lists show the first 1,000 jobs of the finding and the first 200 records
of each list of records, and say how many each holds (clientpo_count, check_count,
chain_count), the answer says where the rest is (review_pages), and everything follows in
review.page pages (ledger records and output events, each under 1 MiB) whose jobs, then
records, taken in order, are every one of the finding, each with the list it belongs to. A
finding whose lists fit is answered as before.

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
SMART_JSON_MAX = 1024 * 1024
INLINE = 1000

try:
    import validate  # tests/schemas/validate.py
    VALIDATORS = validate.make_validators(validate.load_schemas(ROOT))
except SystemExit:  # no jsonschema module: the shapes are not checked here
    VALIDATORS = None

REF, THM = "LP-REF-01", "LP-THM-01"


def contract():
    def thermometer(eid, pm, day):
        return {"equipment_id": eid, "description": eid, "equipment_type": "thermometer",
                "calibration_interval_days": 180,
                "tolerances": [{"parameter": "temperature", "unit": "degC", "nominal": 38,
                                "plus_minus": pm}],
                "last_calibration": {"calibration_date": day, "certificate_number": eid + "-0",
                                     "provider": "Northbridge Calibration Ltd"}}
    return {"smart_contract_id": "LP-CAL-REVIEW", "contract_type": "SmartMaintenance",
            "version": 1, "station_type": "LP", "title": "Review pages",
            "issued_by": "MaintenanceHub LAB-01", "issued_at": "2025-01-06",
            "warning_period_days": 30,
            "equipment_list": [thermometer(REF, 0.2, "2025-01-05"),
                               thermometer(THM, 0.5, "2025-01-10")],
            "procedures": [{"procedure_id": "LP-THM-ICE", "title": "Ice point",
                            "equipment": [THM], "frequency": "daily",
                            "required_before_test": False,
                            "checklist_steps": [{"step_id": "ice_point",
                                                 "description": "Reading in an ice bath",
                                                 "input_type": "number", "unit": "degC",
                                                 "min": -0.3, "max": 0.3}]}]}


def ev(topic, time, **data):
    return json.dumps({"topic": topic, "time": time, "data": data}) + "\n"


def calibration(time, eid, cert, found, reference=None):
    extra = {"reference_standard": reference} if reference else {}
    return ev("calibration.record", time, equipment_id=eid, calibration_date=time,
              certificate_number=cert, provider="Northbridge Calibration Ltd",
              technician="L. Brandt",
              results=[{"parameter": "temperature", "unit": "degC", "nominal": 38,
                        "as_found": found, "as_left": 38}], **extra)


def po(n):
    return "SC-2025-%06d-LP-RECALL" % n


def story(tests):
    """THM calibrated against REF, then `tests` tests with it; its ice-point check fails (the
    review: every test, as it never passed); REF is found out of tolerance (the chain: THM's
    calibration and every test after it); THM is found out of tolerance (its own clientpos);
    then one more test, blocked."""
    text = calibration("2025-02-13T06:00:00Z", THM, "THM-1", 38.1, REF)
    for n in range(tests):
        text += ev("test.start", "2025-02-13T07:00:00Z", clientpo_id=po(n), equipment=[THM])
    text += ev("maintenance.check", "2025-02-13T08:00:00Z", equipment_id=THM,
               check_type="LP-THM-ICE", technician="R. Okafor", readings={"ice_point": 0.6})
    text += calibration("2025-02-13T08:10:00Z", REF, "REF-1", 38.5)
    text += calibration("2025-02-13T08:20:00Z", THM, "THM-2", 39)
    text += ev("test.start", "2025-02-13T08:30:00Z", clientpo_id="SC-AFTER", equipment=[THM])
    return text


class Run:
    """The story with `tests` tests on a new station, checked as it runs (`test`'s asserts);
    the station is removed by `cleanup` (a class cleanup)."""

    def __init__(self, test, cleanup, tests, events=None, doc=None):
        d = tempfile.mkdtemp(prefix="smart-review-")
        cleanup(subprocess.run, ["rm", "-rf", d])
        os.mkdir(os.path.join(d, "contracts"))
        with open(os.path.join(d, "contracts", "LP-CAL-REVIEW.json"), "w") as f:
            json.dump(doc or contract(), f)
        with open(os.path.join(d, "node.json"), "w") as f:
            json.dump({"node_id": "NODE-REVIEW", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": "smart-maintenance.so",
                                    "config": {"contracts_dir": "contracts",
                                               "data_dir": "var/maintenance"}}]}, f)
        with open(os.path.join(d, "events.jsonl"), "w") as f:
            f.write(events if events is not None else story(tests))
        # The findings of 15,000 jobs take a while under a sanitizer: the watchdog's warning
        # is not what is tested here, and every other line on standard error fails the run.
        env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR, SMART_HOST_WATCHDOG_WARN_MS="60000")
        p = subprocess.run([HOST, "run", os.path.join(d, "node.json"), "--events",
                            os.path.join(d, "events.jsonl"), "--clock", "2025-02-13T06:00:00Z"],
                           capture_output=True, text=True, env=env, timeout=600)
        test.assertEqual(p.returncode, 0, p.stderr[-2000:])
        test.assertEqual(p.stderr, "")
        verify = subprocess.run([HOST, "ledger", "verify", os.path.join(d, "var", "ledger.jsonl")],
                                capture_output=True, text=True)
        test.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.lines = p.stdout.splitlines()
        self.ledger_path = os.path.join(d, "var", "ledger.jsonl")
        with open(self.ledger_path) as f:
            self.ledger_lines = f.read().splitlines()
        with open(os.path.join(d, "var", "alerts.jsonl")) as f:
            self.alert_lines = f.read().splitlines()
        self.out = [json.loads(line) for line in self.lines]
        self.ledger = [json.loads(line) for line in self.ledger_lines]

    def topic(self, topic):
        return [o["data"] for o in self.out if o["topic"] == topic]

    def records(self, action):
        return [r for r in self.ledger if r["action"] == action]


def pages_of(run, of, **ident):
    return [p for p in run.topic("review.page") if p["of"] == of and
            all(p[k] == v for k, v in ident.items())]


def decisions(run):
    return [(g["clientpo_id"], g["allowed"], g.get("blocking"),
             [(i["equipment_id"], i["status"], i["ready"], i["reason"]) for i in g["equipment"]])
            for g in run.topic("gate.decision")]


class ReviewListsComeInPages(unittest.TestCase):
    TESTS = 15000

    @classmethod
    def setUpClass(cls):
        # One run of each for every test below: the big one takes seconds.
        checker = unittest.TestCase()
        cls.big = Run(checker, cls.addClassCleanup, cls.TESTS)
        cls.small = Run(checker, cls.addClassCleanup, 3)

    def expected_jobs(self, tests):
        return [(po(n), "2025-02-13T07:00:00Z") for n in range(tests)]

    def assertComplete(self, run, inline, pages, lists, tests):
        """`inline`: the answer's list (its first jobs); `pages` the review.page pages of the
        finding: in order, every job exactly once, and each list's inline part a prefix."""
        self.assertEqual([p["page"] for p in pages], list(range(1, len(pages) + 1)))
        jobs = [j for p in pages for j in p["jobs"]]
        for p in pages:
            self.assertEqual(p["pages"], len(pages))
            self.assertEqual(p["jobs_total"], len(jobs))
            self.assertEqual(p["records_total"], sum(len(q["records"]) for q in pages))
        self.assertEqual([(j["clientpo_id"], j["decided_at"]) for j in jobs
                          if j["list"] in lists], self.expected_jobs(tests))
        shown = [(j["clientpo_id"], j["decided_at"]) for j in inline]
        self.assertEqual(shown, self.expected_jobs(tests)[:len(shown)])
        return jobs

    def test_no_line_passes_one_mib(self):
        for lines in (self.big.lines, self.big.ledger_lines, self.big.alert_lines):
            self.assertLessEqual(max(len(line.encode()) for line in lines), SMART_JSON_MAX)
        self.assertEqual(self.big.records("input.rejected"), [])

    def test_the_failed_checks_review_is_complete_in_its_pages(self):
        (checked,) = self.big.topic("maintenance.checked")
        review = checked["review"]
        self.assertEqual(len(review["clientpos"]), INLINE)
        self.assertEqual(review["clientpo_count"], self.TESTS)
        pages = pages_of(self.big, "maintenance.checked", equipment_id=THM,
                         check_type="LP-THM-ICE", performed_at="2025-02-13T08:00:00Z")
        self.assertGreater(len(pages), 1)
        self.assertEqual(review["review_pages"], {"topic": "review.page", "pages": len(pages),
                                                  "jobs": self.TESTS, "records": 0})
        jobs = self.assertComplete(self.big, review["clientpos"], pages, ["review"], self.TESTS)
        self.assertEqual(len(jobs), self.TESTS)
        (alert,) = [a for a in self.big.topic("alert")
                    if a["alert_type"] == "maintenance_check_failed"]
        self.assertEqual(len(alert["clientpo_ids"]), INLINE)
        self.assertEqual(alert["clientpo_ids_total"], self.TESTS)

    def test_the_references_chain_is_complete_in_its_pages(self):
        impact = next(i for i in self.big.topic("oot.impact") if i["equipment_id"] == REF)
        (entry,) = impact["chain"]
        self.assertEqual(entry["equipment_id"], THM)
        self.assertEqual(entry["clientpo_count"], self.TESTS)
        pages = pages_of(self.big, "oot.impact", equipment_id=REF, certificate_number="REF-1")
        jobs = self.assertComplete(self.big, entry["clientpos"], pages, ["chain"], self.TESTS)
        self.assertEqual({j["chain_index"] for j in jobs}, {0})
        self.assertEqual(impact["review_pages"]["pages"], len(pages))
        # The chain entry itself is in the pages too, whole but for its own cut list.
        (record,) = [r for p in pages for r in p["records"] if r["list"] == "chain"]
        self.assertEqual(record["chain_index"], 0)
        self.assertEqual(record["record"], entry)
        (alert,) = [a for a in self.big.topic("alert")
                    if a["alert_type"] == "out_of_tolerance_impact" and a["equipment_id"] == REF]
        self.assertEqual(alert["chain_clientpo_ids_total"], self.TESTS)

    def test_the_items_own_finding_is_complete_in_its_pages(self):
        impact = next(i for i in self.big.topic("oot.impact") if i["equipment_id"] == THM)
        self.assertEqual(len(impact["clientpos"]), INLINE)
        self.assertEqual(impact["clientpo_count"], self.TESTS)
        pages = pages_of(self.big, "oot.impact", equipment_id=THM, certificate_number="THM-2")
        self.assertComplete(self.big, impact["clientpos"], pages, ["clientpos"], self.TESTS)
        self.assertIn("%d test(s) allowed" % self.TESTS,
                      self.big.records("oot.impact")[-1]["details"])

    def test_the_ledger_holds_every_page_as_answered(self):
        self.assertEqual([r["metadata"] for r in self.big.records("review.page")],
                         self.big.topic("review.page"))
        self.assertEqual([r["metadata"] for r in self.big.records("oot.impact")],
                         self.big.topic("oot.impact"))

    def test_the_oot_register_lists_every_job_from_the_pages(self):
        r = subprocess.run([HOST, "report", "oot", self.big.ledger_path, "--format", "json"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        (affected,) = [s for s in json.loads(r.stdout)["sections"] if s["id"] == "oot_affected"]
        for certificate, what in (("THM-2", "test allowed"),
                                  ("REF-1", "test allowed, down the chain")):
            jobs = [(row["values"]["subject"], row["values"]["when"]) for row in affected["rows"]
                    if row["values"]["certificate"] == certificate and
                    row["values"]["affected"] == "clientpo"]
            self.assertEqual(jobs, self.expected_jobs(self.TESTS), certificate)
            self.assertTrue(all(row["values"]["what"] == what for row in affected["rows"]
                                if row["values"]["certificate"] == certificate and
                                row["values"]["affected"] == "clientpo"))

    def test_gate_decisions_are_those_of_a_small_station(self):
        big, small = decisions(self.big), decisions(self.small)
        self.assertEqual(len(big), self.TESTS + 1)
        self.assertTrue(all(d[1] for d in big[:-1]))
        self.assertEqual(big[0], small[0])
        self.assertEqual(big[-1], small[-1])
        self.assertFalse(big[-1][1])

    def test_a_finding_whose_lists_fit_is_answered_as_before(self):
        self.assertEqual(self.small.topic("review.page"), [])
        for impact in self.small.topic("oot.impact"):
            self.assertNotIn("review_pages", impact)
            self.assertNotIn("clientpo_count", impact)
        (checked,) = self.small.topic("maintenance.checked")
        self.assertEqual(sorted(checked["review"]), ["clientpos"])
        self.assertEqual(len(checked["review"]["clientpos"]), 3)

    def test_the_findings_lines_match_the_schemas(self):
        if not VALIDATORS:
            self.skipTest("no jsonschema module")
        for run in (self.big, self.small):
            for o in run.out:
                if o["topic"] == "review.page":
                    # Its rows are written by one function, row after row: the first ones and
                    # the last one stand for the 15,000 (validating all takes many seconds).
                    data = dict(o["data"])
                    for key in ("jobs", "records"):
                        data[key] = data[key][:20] + data[key][-1:]
                    o = {"topic": o["topic"], "data": data}
                if o["topic"] in ("oot.impact", "review.page", "maintenance.checked", "alert"):
                    self.assertEqual(
                        validate.errors(VALIDATORS["output-event.schema.json"], o), [],
                        o["topic"])
            for line in run.alert_lines:
                self.assertEqual(validate.errors(VALIDATORS["alert.schema.json"],
                                                 json.loads(line)), [])


CHECKS = 3000


def checks_story(checks):
    """REF is THM's reference instrument for its ice-point check, made `checks` times (every
    second); a test after the last; then REF is found out of tolerance."""
    text = ""
    for n in range(checks):
        text += ev("maintenance.check", "2025-02-13T%02d:%02d:%02dZ" % (6 + n // 3600,
                                                                        n // 60 % 60, n % 60),
                   equipment_id=THM, check_type="LP-THM-ICE", technician="R. Okafor",
                   readings={"ice_point": 0.1}, reference_instrument=REF)
    text += ev("test.start", "2025-02-13T07:00:00Z", clientpo_id=po(0), equipment=[THM])
    text += calibration("2025-02-13T08:10:00Z", REF, "REF-1", 38.5)
    return text


class RecordListsComeInPages(unittest.TestCase):
    """A reference used in 3,000 checks: its verified_with_it and its chain (some 350 bytes an
    entry) passed 1 MiB; they show their first 200 records and page the rest."""

    @classmethod
    def setUpClass(cls):
        doc = contract()
        doc["procedures"][0]["reference_instruments"] = [REF]
        cls.run_ = Run(unittest.TestCase(), cls.addClassCleanup, 0, checks_story(CHECKS), doc)

    def test_every_record_is_in_the_pages_and_no_line_passes_one_mib(self):
        run = self.run_
        for lines in (run.lines, run.ledger_lines, run.alert_lines):
            self.assertLessEqual(max(len(line.encode()) for line in lines), SMART_JSON_MAX)
        self.assertEqual(run.records("input.rejected"), [])
        (impact,) = run.topic("oot.impact")
        verified = impact["verified_with_it"]
        self.assertEqual((len(verified["checks"]), verified["check_count"]), (200, CHECKS))
        self.assertEqual((len(impact["chain"]), impact["chain_count"]), (200, CHECKS))
        pages = pages_of(run, "oot.impact", equipment_id=REF, certificate_number="REF-1")
        self.assertEqual(impact["review_pages"],
                         {"topic": "review.page", "pages": len(pages), "jobs": 1,
                          "records": 2 * CHECKS})
        records = [r for p in pages for r in p["records"]]
        checks = [r["record"] for r in records if r["list"] == "checks"]
        chain = [r for r in records if r["list"] == "chain"]
        self.assertEqual(checks[:200], verified["checks"])
        self.assertEqual(len({c["performed_at"] for c in checks}), CHECKS)
        self.assertEqual([r["chain_index"] for r in chain], list(range(CHECKS)))
        self.assertEqual([r["record"] for r in chain[:200]], impact["chain"])
        # The one job, tested after the last check: it rested on that check only.
        jobs = [j for p in pages for j in p["jobs"]]
        self.assertEqual([(j["clientpo_id"], j["chain_index"]) for j in jobs],
                         [(po(0), CHECKS - 1)])
        self.assertEqual(run.records("review.page")[-1]["metadata"], pages[-1])

    def test_the_oot_register_lists_every_record(self):
        r = subprocess.run([HOST, "report", "oot", self.run_.ledger_path, "--format", "json"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        (affected,) = [s for s in json.loads(r.stdout)["sections"] if s["id"] == "oot_affected"]
        kinds = [row["values"]["affected"] for row in affected["rows"]]
        self.assertEqual((kinds.count("check"), kinds.count("chain"), kinds.count("clientpo")),
                         (CHECKS, CHECKS, 1))


class TheBoundIsExact(unittest.TestCase):
    """1,000 jobs are listed whole, as before; the 1,001st cuts the lists and brings the pages.
    (The story's THM finding lists them in clientpos: 1,000 is the finding's share across its
    lists, so only a finding alone on the station is at the bound exactly.)"""

    def test_a_thousand_jobs_are_answered_whole_and_a_thousand_and_one_in_pages(self):
        at = Run(self, self.addCleanup, INLINE)
        (checked,) = at.topic("maintenance.checked")
        self.assertEqual(len(checked["review"]["clientpos"]), INLINE)
        self.assertNotIn("clientpo_count", checked["review"])
        self.assertEqual(at.topic("review.page"), [])
        past = Run(self, self.addCleanup, INLINE + 1)
        (checked,) = past.topic("maintenance.checked")
        self.assertEqual(len(checked["review"]["clientpos"]), INLINE)
        self.assertEqual(checked["review"]["clientpo_count"], INLINE + 1)
        (page,) = pages_of(past, "maintenance.checked")
        self.assertEqual((page["page"], page["pages"], page["jobs_total"], page["records_total"]),
                         (1, 1, INLINE + 1, 0))
        self.assertEqual(len(page["jobs"]), INLINE + 1)
        (alert,) = [a for a in past.topic("alert")
                    if a["alert_type"] == "maintenance_check_failed"]
        self.assertEqual((len(alert["clientpo_ids"]), alert["clientpo_ids_total"]),
                         (INLINE, INLINE + 1))


if __name__ == "__main__":
    unittest.main()
