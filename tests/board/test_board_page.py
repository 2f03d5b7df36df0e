#!/usr/bin/env python3
"""The board's page in a real headless chromium (Debian's), driven over the DevTools protocol
on a pipe (--remote-debugging-pipe: no port, no extra package): the page loads from the running
host, the test feeds events to the host and waits for their answers, and the page shows each
change without a reload — an item turns not ready after an expiring sweep, a blocked test
appears with its reason. Waits are for conditions (a MutationObserver promise in the page),
never for time. The screenshot is kept in --artifacts (the build directory).

Usage: test_board_page.py --host build/host-stub/smart-host --module-dir build/plugin
                          --artifacts DIR [--chromium /usr/bin/chromium]
"""
import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from board_lib import ROOT, TIMEOUT, BoardHost  # noqa: E402

ARGS = None


class DevTools:
    """chromium --headless with the DevTools protocol on fds 3 (commands) and 4 (answers and
    events), each message NUL-terminated JSON."""

    def __init__(self, chromium, width=1280, height=800):
        self.profile = tempfile.mkdtemp(prefix="board-chromium-")
        cmd_r, self.cmd_w = os.pipe()
        self.ev_r, ev_w = os.pipe()
        args = [chromium, "--headless=new", "--remote-debugging-pipe", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars", "--mute-audio",
                "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height)]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # as root (CI) chromium's sandbox refuses to start

        def fds():
            os.dup2(cmd_r, 3)
            os.dup2(ev_w, 4)

        self.proc = subprocess.Popen(args + ["about:blank"], pass_fds=(3, 4), preexec_fn=fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(ev_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("chromium did not answer in time")
            ready, _, _ = select.select([self.ev_r], [], [], left)
            if ready:
                chunk = os.read(self.ev_r, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium closed the DevTools pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, timeout=TIMEOUT, session=True, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.cmd_w, data):]
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise AssertionError("%s: %s" % (method, answer["error"]))
                return answer.get("result", {})

    def open(self, url, width, height):
        target = self.call("Target.createTarget", session=False, url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", session=False, targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)

    def evaluate(self, expression, timeout=TIMEOUT):
        r = self.call("Runtime.evaluate", timeout=timeout + 5, expression=expression,
                      awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise AssertionError("page: %s" % json.dumps(r["exceptionDetails"])[:1000])
        return r["result"].get("value")

    def wait_for(self, condition, what, timeout=TIMEOUT):
        """Wait until the JS expression `condition` holds in the page: a promise resolved by a
        MutationObserver on the document, or rejected at the deadline."""
        js = """new Promise((resolve, reject) => {
            const ok = () => { try { return !!(%s); } catch (e) { return false; } };
            if (ok()) return resolve(true);
            const obs = new MutationObserver(() => { if (ok()) { obs.disconnect(); resolve(true); } });
            obs.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
            setTimeout(() => { obs.disconnect(); reject(new Error('timed out: ' + %s)); }, %d);
        })""" % (condition, json.dumps(what), int(timeout * 1000))
        return self.evaluate(js, timeout)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=10)
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.cmd_w, self.ev_r):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


def tile(item, attr):
    return "document.querySelector('.tile[data-id=\"%s\"]')?.dataset.%s" % (item, attr)


class BoardPage(unittest.TestCase):
    def test_the_page_follows_the_station_without_a_reload(self):
        browser = DevTools(ARGS.chromium)  # before the host's reader threads start
        self.addCleanup(browser.close)
        host = BoardHost(ARGS.host, ARGS.module_dir)
        self.addCleanup(host.cleanup)
        with open(os.path.join(ROOT, "examples", "lp-station", "scenario.jsonl")) as f:
            events = [json.loads(line) for line in f if line.strip()]
        for ev in events[:3]:  # the status at 07:00, the lamp's and the station's daily checks
            host.fifo.write(json.dumps(ev) + "\n")
        host.fifo.flush()
        host.wait_topic("maintenance.checked", lambda d: d["check_type"] == "LP-DAILY-CHECKLIST-001")

        browser.open("http://127.0.0.1:%d/" % host.port, 1280, 800)
        browser.wait_for("document.body.dataset.synced === 'true' && %s === 'true'"
                         % tile("LP01-OVN-01", "ready"), "the board synced")
        self.assertEqual(browser.evaluate(tile("LP01-THM-01", "ready")), "false")
        self.assertEqual(browser.evaluate("document.getElementById('link').textContent"), "live")
        browser.evaluate("window.__notReloaded = 'yes'")

        # A blocked test appears with its reason.
        host.send("clientpo.link", "2025-02-13T07:05:00Z", clientpo_id="SC-2025-001-LP",
                  equipment=["LP01-UVA-01", "LP01-THM-01", "LP01-RAD-01", "LP01-OVN-01"])
        host.send("test.start", "2025-02-13T07:10:00Z", clientpo_id="SC-2025-001-LP")
        decision = host.wait_topic("gate.decision")
        self.assertFalse(decision["allowed"])
        browser.wait_for("document.getElementById('decision').dataset.allowed === 'false' && "
                         "document.querySelector('#decision .blocking li[data-item=\"LP01-THM-01\"]')"
                         "?.textContent.includes('calibration expired: was due 2025-02-03')",
                         "the blocked test and its reason")
        browser.wait_for("document.querySelector('#alerts li[data-type=\"equipment_not_ready\"] "
                         ".sev-high') !== null", "the blocked test's alert")
        verdict = browser.evaluate("document.querySelector('#decision .verdict').textContent")
        self.assertIn("BLOCKED", verdict)

        # An expiring sweep: the drying oven's calibration (due 2025-04-21) lapses.
        host.send("calibration.sweep", "2025-04-22T07:00:00Z")
        host.wait_topic("sweep.completed")
        browser.wait_for("%s === 'false' && document.querySelector('.tile[data-id=\"LP01-OVN-01\"] "
                         ".reason').textContent.includes('calibration expired')"
                         % tile("LP01-OVN-01", "ready"), "the oven turned not ready")
        self.assertEqual(browser.evaluate(tile("LP01-OVN-01", "tone")), "bad")
        self.assertEqual(browser.evaluate(tile("LP01-TMR-01", "tone")), "warn")  # expiring soon
        self.assertEqual(browser.evaluate("window.__notReloaded"), "yes")  # no reload
        os.makedirs(ARGS.artifacts, exist_ok=True)
        shot = os.path.join(ARGS.artifacts, "board.png")
        browser.screenshot(shot)
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertEqual(host.stop(), 0)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--module-dir", required=True)
    p.add_argument("--artifacts", required=True)
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ARGS, rest = p.parse_known_args()
    ARGS.host = os.path.abspath(ARGS.host)
    ARGS.module_dir = os.path.abspath(ARGS.module_dir)
    if not os.access(ARGS.chromium, os.X_OK):
        print("chromium not installed (.ci/install-deps.sh installs it): skipped")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
