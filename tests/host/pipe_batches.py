#!/usr/bin/env python3
"""pipe_batches.py HOST ECHO — a piped producer gets batches as large as a file's.

smart-host makes a batch (and so one sync of the ledger, the alerts file and each store) of the
lines one read brings. A pipe holds 64 KiB by default, a quarter of a file read, so a producer
writing into a pipe got four times the syncs for the same events. The host asks for a 1 MiB
pipe (event_input.c): checked here on the writer's end, once the host has answered a first
line (so its input is open), and by writing 768 KiB into the pipe while the host is stopped
(SIGSTOP), which only a pipe of that size takes without blocking.
"""
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from host_test import check, failures, write_node

HOST, ECHO = (os.path.realpath(a) for a in sys.argv[1:3])
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)

work = tempfile.mkdtemp(prefix="smart-pipe-")
try:
    write_node(work, [{"path": ECHO}])
    read_end, write_end = os.pipe()
    host = subprocess.Popen([HOST, "run", os.path.join(work, "node.json"), "--events", "-",
                             "--clock", "2025-02-13T07:00:00Z"], stdin=read_end,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(read_end)
    os.write(write_end, b'{"topic":"echo.ping","data":{"n":0}}\n')
    first = host.stdout.readline()
    check(b"echo.pong" in first, "no answer to the first line: %r" % first)
    size = fcntl.fcntl(write_end, F_GETPIPE_SZ)
    check(size >= 1024 * 1024, "the host left its input pipe at %d bytes" % size)

    host.send_signal(signal.SIGSTOP)
    line = b'{"topic":"echo.ping","data":{"pad":"%s"}}\n' % (b"x" * 200)
    want = 768 * 1024 // len(line)
    os.set_blocking(write_end, False)
    written = 0
    try:
        for _ in range(want):
            os.write(write_end, line)  # a line is under PIPE_BUF: all of it or EAGAIN
            written += 1
    except BlockingIOError:
        pass
    check(written == want, "the pipe took %d of %d lines while the host was stopped"
          % (written, want))
    host.send_signal(signal.SIGCONT)
    os.set_blocking(write_end, True)
    os.close(write_end)
    out, err = host.communicate(timeout=120)
    check(host.returncode == 0, "exit %d: %s" % (host.returncode, err[-500:]))
    pongs = (first + out).count(b'"echo.pong"')
    check(pongs == written + 1, "%d answers for %d lines" % (pongs, written + 1))
finally:
    shutil.rmtree(work, ignore_errors=True)

if failures:
    sys.exit(1)
print("ok: pipe of %d bytes, %d lines written while the host was stopped" % (size, written))
