"""A running smart-host with the status board, for the board's tests (tests/board/).

The host reads its events from a FIFO and prints its answers on standard output; a test sends
an event and waits for its answer, which the board has taken in before the line is printed
(batch.c hands the batch to the board, then to the output writer), so it never sleeps and
hopes. The board's port is the one the system chose (listen 127.0.0.1:0), read from the
"board at http://..." line on standard error.
"""
import http.client
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = float(os.environ.get("BOARD_TEST_TIMEOUT", "60"))


class BoardHost:
    def __init__(self, host_exe, module_dir, dashboard=None, clock="2025-02-13T07:00:00Z",
                 example="lp-station", start=True):
        self.host_exe = host_exe
        self.module_dir = module_dir
        self.dir = tempfile.mkdtemp(prefix="board-test-")
        shutil.copytree(os.path.join(ROOT, "examples", example), self.dir, dirs_exist_ok=True)
        shutil.rmtree(os.path.join(self.dir, "var"), ignore_errors=True)
        self.node = os.path.join(self.dir, "node.json")
        with open(self.node) as f:
            config = json.load(f)
        config["dashboard"] = dashboard if dashboard is not None else {"listen": "127.0.0.1:0"}
        with open(self.node, "w") as f:
            json.dump(config, f)
        self.clock = clock
        self.proc = None
        self.fifo = None
        self.port = None
        self.token = config["dashboard"].get("token")
        self.outputs = queue.Queue()
        self.stderr_lines = []
        self._stderr_cv = threading.Condition()
        if start:
            self.start()

    def start(self):
        fifo = os.path.join(self.dir, "in")
        if not os.path.exists(fifo):
            os.mkfifo(fifo)
        env = dict(os.environ, SMART_MODULE_PATH=self.module_dir)
        self.proc = subprocess.Popen(
            [self.host_exe, "run", self.node, "--events", fifo, "--clock", self.clock],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.fifo = open(fifo, "w", buffering=1)  # the host opens it for reading at start
        line = self.wait_stderr(r"board at http://[^ ]*:(\d+)/")
        self.port = int(re.search(r":(\d+)/", line).group(1))

    def _read_stdout(self):
        for line in self.proc.stdout:
            self.outputs.put(json.loads(line))
        self.outputs.put(None)

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self._stderr_cv:
                self.stderr_lines.append(line.decode("utf-8", "replace").rstrip("\n"))
                self._stderr_cv.notify_all()
        with self._stderr_cv:
            self.stderr_lines.append(None)
            self._stderr_cv.notify_all()

    def wait_stderr(self, pattern, timeout=TIMEOUT):
        """The first standard error line matching `pattern` (a regex), waiting for it."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._stderr_cv:
            while True:
                for line in self.stderr_lines[seen:]:
                    if line is None:
                        raise AssertionError("host ended before %r; stderr: %s" %
                                             (pattern, self.stderr_lines))
                    if re.search(pattern, line):
                        return line
                seen = len(self.stderr_lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %r on stderr: %s" % (pattern, self.stderr_lines))
                self._stderr_cv.wait(left)

    def send(self, topic, time_=None, **data):
        event = {"topic": topic, "data": data}
        if time_:
            event["time"] = time_
        self.fifo.write(json.dumps(event) + "\n")
        self.fifo.flush()

    def wait_topic(self, topic, pred=lambda d: True, timeout=TIMEOUT):
        """Read output events until one of `topic` whose data satisfies `pred`; returns its data."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s answer" % topic)
            ev = self.outputs.get(timeout=left)
            if ev is None:
                raise AssertionError("host ended before a %s answer: %s" % (topic, self.stderr_lines))
            if ev["topic"] == topic and pred(ev["data"]):
                return ev["data"]

    def request(self, path, method="GET", headers=None, body=None, token=True):
        """(status, headers dict, body bytes) of one request to the board."""
        h = dict(headers or {})
        if token and self.token and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def get_json(self, path):
        status, headers, body = self.request(path)
        if status != 200:
            raise AssertionError("GET %s: %d %s" % (path, status, body))
        assert headers["content-type"].startswith("application/json"), headers
        return json.loads(body)

    def stop(self):
        """End the input; returns the host's exit status."""
        if self.fifo:
            self.fifo.close()
            self.fifo = None
        rc = self.proc.wait(timeout=TIMEOUT) if self.proc else None
        self._close_pipes()
        return rc

    def _close_pipes(self):
        if self.proc:
            for pipe in (self.proc.stdout, self.proc.stderr):
                try:
                    pipe.close()
                except (OSError, ValueError):
                    pass  # its reader thread may be inside it; it ends at the host's exit
        self.proc = None

    def cleanup(self):
        if self.fifo:
            try:
                self.fifo.close()
            except OSError:
                pass
            self.fifo = None
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self._close_pipes()
        shutil.rmtree(self.dir, ignore_errors=True)


def validators():
    """A Draft 2020-12 validator per schema in schemas/, resolving their $refs."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tests", "schemas"))
    import validate
    return validate.make_validators(validate.load_schemas(ROOT))
