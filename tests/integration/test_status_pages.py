"""status.query in pages (issue 14, item 3): a station's whole list comes in pages of at most
`limit` items after the cursor `after`, in id order, each page's summary counting every item,
and no answer line over the host's 1 MiB limit whatever the station holds.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import json
import os
import subprocess
import tempfile
import unittest

HOST = os.environ["SMART_HOST"]
MODULE_DIR = os.environ["SMART_MODULE_DIR"]
CLOCK = "2025-02-13T07:00:00Z"
SMART_JSON_MAX = 1024 * 1024
DEFAULT_PAGE = 1000


def contract(items, description):
    """One contract naming `items` ids, a third of them expired (not ready)."""
    equipment = []
    for n, eid in enumerate(items):
        day = "2024-12-01" if n % 3 else "2024-01-10"
        equipment.append({
            "equipment_id": eid, "description": description, "equipment_type": "thermometer",
            "manufacturer": "Calder Instruments", "model": "DT-410",
            "serial_number": "DT410-%05d" % n, "calibration_interval_days": 180,
            "tolerances": [{"parameter": "temperature", "unit": "degC", "nominal": 38,
                            "plus_minus": 0.5}],
            "last_calibration": {"calibration_date": day, "certificate_number": "C-%05d" % n,
                                 "provider": "Northbridge Calibration Ltd"}})
    return {"smart_contract_id": "LP-CAL-PAGES", "contract_type": "SmartMaintenance",
            "version": 1, "station_type": "LP", "title": "Paged status",
            "issued_by": "MaintenanceHub LAB-01", "issued_at": "2025-01-06",
            "warning_period_days": 30, "equipment_list": equipment}


class Station:
    def __init__(self, test, count, description="Digital thermometer"):
        self.dir = tempfile.mkdtemp(prefix="smart-pages-")
        test.addCleanup(subprocess.run, ["rm", "-rf", self.dir])
        os.mkdir(os.path.join(self.dir, "contracts"))
        # Ids not in the order they are written, so the pages' order is the module's own.
        self.ids = ["LP-EQ-%05d" % ((n * 7919) % count) for n in range(count)]
        with open(os.path.join(self.dir, "contracts", "LP-CAL-PAGES.json"), "w") as f:
            json.dump(contract(self.ids, description), f)
        with open(os.path.join(self.dir, "node.json"), "w") as f:
            json.dump({"node_id": "NODE-PAGES", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": "smart-maintenance.so",
                                    "config": {"contracts_dir": "contracts",
                                               "data_dir": "var/maintenance"}}]}, f)
        self.test = test

    def run(self, queries):
        """Runs the host on the status.query data `queries`; returns (stdout lines, stderr)."""
        events = "".join(json.dumps({"topic": "status.query", "data": q}) + "\n" for q in queries)
        env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)
        p = subprocess.run([HOST, "run", os.path.join(self.dir, "node.json"), "--events", "-",
                            "--clock", CLOCK], input=events, capture_output=True, text=True,
                           env=env, timeout=300)
        self.test.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.splitlines(), p.stderr

    def answers(self, queries):
        out, _ = self.run(queries)
        for line in out:
            self.test.assertLessEqual(len(line.encode()), SMART_JSON_MAX)
        return [json.loads(l)["data"] for l in out if json.loads(l)["topic"] == "status"]


class StatusPages(unittest.TestCase):
    def test_pages_follow_the_cursor_through_every_item_once_in_id_order(self):
        st = Station(self, 2500)
        whole, first, page, after_last, past = st.answers(
            [{}, {"limit": 1000}, {"limit": 600, "after": "LP-EQ-00999"},
             {"after": "LP-EQ-02499"}, {"after": "LP-EQ-9"}])
        ids = sorted(st.ids)
        # An unpaged query of a station over the default page: its first page, and the cursor.
        self.assertEqual([i["equipment_id"] for i in whole["equipment"]], ids[:DEFAULT_PAGE])
        self.assertEqual(whole["next_after"], ids[DEFAULT_PAGE - 1])
        self.assertEqual(first, whole)
        # The summary counts the whole station on every page.
        self.assertEqual(whole["summary"]["total"], 2500)
        self.assertEqual(whole["summary"]["expired"], 834)
        for a in (page, after_last, past):
            self.assertEqual(a["summary"], whole["summary"])
        self.assertEqual([i["equipment_id"] for i in page["equipment"]], ids[1000:1600])
        self.assertEqual(page["next_after"], "LP-EQ-01599")
        # After the last id (or any id after it): an empty last page, which says so.
        self.assertEqual(after_last["equipment"], [])
        self.assertIsNone(after_last["next_after"])
        self.assertEqual(past["equipment"], [])
        # Following next_after lists every item exactly once, and the last page says it is.
        seen, cursor, pages = [], None, 0
        while True:
            q = {"limit": 777}
            if cursor:
                q["after"] = cursor
            (a,) = st.answers([q])
            seen += [i["equipment_id"] for i in a["equipment"]]
            pages += 1
            cursor = a["next_after"]
            if cursor is None:
                break
        self.assertEqual(seen, ids)
        self.assertEqual(pages, 4)

    def test_a_not_ready_only_page_lists_only_those_and_counts_everything(self):
        st = Station(self, 300)
        short, rest = st.answers([{"not_ready_only": True, "limit": 40},
                                  {"not_ready_only": True, "limit": 100, "after": "LP-EQ-00000"}])
        expired = sorted(eid for n, eid in enumerate(st.ids) if n % 3 == 0)
        self.assertEqual([i["equipment_id"] for i in short["equipment"]], expired[:40])
        self.assertEqual(short["next_after"], expired[39])
        self.assertEqual(short["summary"]["total"], 300)
        self.assertEqual([i["equipment_id"] for i in rest["equipment"]],
                         [e for e in expired if e > "LP-EQ-00000"])
        self.assertIsNone(rest["next_after"])

    def test_a_whole_list_within_one_page_is_answered_as_before(self):
        st = Station(self, 40)
        (a,) = st.answers([{}])
        self.assertEqual(len(a["equipment"]), 40)
        self.assertNotIn("next_after", a)
        self.assertEqual(list(a), ["as_of", "equipment", "summary"])

    def test_no_page_passes_the_line_limit_whatever_the_items_hold(self):
        # Long items: the largest page allowed by count would be some 5 MB, so it is cut by size.
        st = Station(self, 6000, description="Digital thermometer " + "x" * 180)
        (a,) = st.answers([{"limit": 10000}])
        self.assertLess(len(a["equipment"]), 6000)
        self.assertGreater(len(a["equipment"]), 100)
        self.assertEqual(a["next_after"], a["equipment"][-1]["equipment_id"])
        self.assertEqual(a["summary"]["total"], 6000)

    def test_bad_paging_is_refused_naming_the_field(self):
        st = Station(self, 10)
        _, err = st.run([{"limit": 0}, {"limit": 10001}, {"limit": "5"}, {"after": "a b"},
                         {"equipment_id": "LP-EQ-00001", "after": "LP-EQ-00000"},
                         {"equipment_id": "LP-EQ-00001", "limit": 5}])
        lines = err.splitlines()
        self.assertEqual(len(lines), 6, err)
        for line, field in zip(lines, ["limit", "limit", "limit", "after", "after", "limit"]):
            self.assertIn("data.%s" % field, line)


if __name__ == "__main__":
    unittest.main()
