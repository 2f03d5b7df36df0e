#!/usr/bin/env python3
"""batch_bytes.py HOST ECHO BUILD_KIND — what a batch holds in memory is bounded in bytes.

smart-host holds a batch's answers in memory until the batch is durable (ledger, alerts, each
module's commit), so a batch made of every line one read brings could hold hundreds of MiB when
each event's answer is large. It ends a batch early, between two events, once its answers reach
HOST_BATCH_BYTES_MAX (4 MiB, run/batch.h). Checked with the echo module's "echo.big" (an answer
of B bytes, saying how many commits the host had called when it was made, so each answer names
its batch): 1,000 events of 64 KiB answers, all in one read (64 MiB of answers), must come as
several batches of at most the bound plus one answer; every answer arrives, in input order, and
only once its ledger record is in the ledger file (the host prints a batch after its sync); and,
in a build without a sanitizer (whose quarantine keeps freed memory), the host's peak RSS stays
far below the 64 MiB it held when the read made one batch.

The ledger records of a batch are bounded the same way, even within one event (a first sweep of
100,000 items records 100,000 status changes): past a few MiB they are written ahead, unsynced,
and synced with the batch. Checked with "echo.many": one event recording 1,000 records of
64 KiB; the ledger then verifies with every record, and the peak RSS stays below the 64 MiB.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from host_test import check, failures, write_node

HOST, ECHO = (os.path.realpath(a) for a in sys.argv[1:3])
BUILD_KIND = sys.argv[3] if len(sys.argv) > 3 else "plain"
BOUND = 4 * 1024 * 1024
EVENTS, ANSWER = 1000, 64 * 1024
RSS_LIMIT_MIB = 56  # 64 MiB of answers or records; meson's MALLOC_PERTURB_ touches capacity


def wait_host(proc):
    """The host's exit code and its own peak RSS (wait4), once it has ended."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


work = tempfile.mkdtemp(prefix="smart-batch-bytes-")
try:
    node = write_node(work, [{"path": ECHO}])
    events = os.path.join(work, "events.jsonl")
    with open(events, "w") as f:  # 40 KiB: one read
        for n in range(EVENTS):
            f.write('{"topic":"echo.big","data":{"n":%d,"bytes":%d}}\n' % (n, ANSWER))
    ledger_path = os.path.join(work, "var", "ledger.jsonl")
    host = subprocess.Popen([HOST, "run", node, "--events", events,
                             "--clock", "2025-02-13T07:00:00Z"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    recorded = set()  # the n of each echo.big record read from the ledger so far
    ledger_file, ledger_rest = None, b""
    expected, batches = 0, {}  # commits -> bytes of its answers
    for line in host.stdout:
        answer = json.loads(line)
        if answer["topic"] != "echo.big":
            continue
        n, commits = answer["data"]["n"], answer["data"]["commits"]
        check(n == expected, "answer for event %d where %d was next" % (n, expected))
        expected = n + 1
        batches[commits] = batches.get(commits, 0) + len(line)
        if n not in recorded:  # read what the ledger holds now
            if ledger_file is None:
                ledger_file = open(ledger_path, "rb")
            ledger_rest += ledger_file.read()
            *whole, ledger_rest = ledger_rest.split(b"\n")
            for record in whole:
                r = json.loads(record)
                if r["action"] == "echo.big":
                    recorded.add(r["metadata"]["n"])
        check(n in recorded, "event %d answered before its ledger record was written" % n)
        if failures:
            break
    err = host.stderr.read()
    code, peak_mib = wait_host(host)
    if ledger_file is not None:
        ledger_file.close()
    check(code == 0, "exit %d: %s" % (code, err[-500:]))
    check(expected == EVENTS, "%d answers for %d events" % (expected, EVENTS))
    largest = max(batches.values()) if batches else 0
    check(len(batches) >= EVENTS * ANSWER // BOUND,
          "%d batches for %d MiB of answers" % (len(batches), EVENTS * ANSWER >> 20))
    check(largest <= BOUND + ANSWER + 100,
          "a batch held %d bytes of answers (bound %d)" % (largest, BOUND))
    if BUILD_KIND == "plain":
        check(peak_mib < RSS_LIMIT_MIB, "peak RSS %.1f MiB (limit %d)" % (peak_mib, RSS_LIMIT_MIB))

    # One event, 1,000 records of 64 KiB: 64 MiB of ledger in one batch.
    shutil.rmtree(os.path.join(work, "var"))
    with open(events, "w") as f:
        f.write('{"topic":"echo.many","data":{"records":%d,"bytes":%d}}\n' % (EVENTS, ANSWER))
    host = subprocess.Popen([HOST, "run", node, "--events", events,
                             "--clock", "2025-02-13T07:00:00Z"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = host.stdout.read(), host.stderr.read()  # its stderr is a line or two
    code, many_mib = wait_host(host)
    check(code == 0, "echo.many: exit %d: %s" % (code, err[-500:]))
    check(b'"echo.many","data":{"records":%d}' % EVENTS in out, "echo.many: no answer")
    verify = subprocess.run([HOST, "ledger", "verify", ledger_path], capture_output=True)
    check(verify.returncode == 0, "ledger verify: %r" % (verify.stdout + verify.stderr))
    with open(ledger_path, "rb") as f:
        many = [json.loads(r)["metadata"]["i"] for r in f if b'"action":"echo.many"' in r]
    check(many == list(range(EVENTS)), "%d echo.many records, in order: %s"
          % (len(many), many == sorted(many)))
    if BUILD_KIND == "plain":
        check(many_mib < RSS_LIMIT_MIB,
              "echo.many: peak RSS %.1f MiB (limit %d)" % (many_mib, RSS_LIMIT_MIB))
finally:
    shutil.rmtree(work, ignore_errors=True)

if failures:
    sys.exit(1)
print("ok: %d answers in %d batches, the largest %d bytes, peak RSS %.1f MiB; %d records of "
      "one event, peak RSS %.1f MiB" % (EVENTS, len(batches), largest, peak_mib, EVENTS, many_mib))
