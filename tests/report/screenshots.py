"""Regenerate the README's report screenshots (examples/reports/*.png) from the test station
of test_reports.py, with headless Chromium:

    SMART_HOST=build/host-stub/smart-host SMART_MODULE_DIR=build/plugin SOURCE_ROOT=. \
        python3 tests/report/screenshots.py examples/reports"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_reports as t  # noqa: E402

out = os.path.abspath(sys.argv[1])
station = t.Station()
shots = (("trend", ["--equipment", "RP-LAMP-01"], "accuracy-trend", "900,1000"),
         ("audit", ["--from", "2024-01-01", "--to", "2025-04-11"], "audit-pack", "900,1270"))
for kind, extra, name, size in shots:
    page = os.path.join(station.dir, name + ".html")
    t.run(["report", kind, station.ledger, "--format", "html", "--out", page] + extra)
    shot = os.path.join(out, name + ".png")
    t.browser(["--screenshot=" + shot, "--window-size=" + size, "--hide-scrollbars",
               "file://" + page], station.dir)
    print(shot, os.path.getsize(shot))
