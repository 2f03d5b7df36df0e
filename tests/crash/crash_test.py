#!/usr/bin/env python3
"""crash_test.py — kill smart-host at random points and check that nothing acknowledged is lost.

A station (the LP example's contracts) gets a long, valid event stream: ClientPO links, test
starts, calibration records with increasing dates, status queries. Every event gets exactly one
answer line (clientpo.linked, gate.decision, calibration.recorded, status), and a batch's
answers are printed only once the batch is durable, so the answers seen are always those of a
prefix of the stream: that prefix is what was acknowledged.

Kill loop (SMART_CRASH_KILLS times, default 200). Each round restarts the host on the same
state, first asks for a status probe, then feeds the next events through a pipe in chunks of
random size and kills the host with SIGKILL at a random point: right after a write, after a
random delay, after a random number of answers, or (some rounds) during start-up. After every
kill:
  - `smart-host ledger verify` passes, or fails only on the last line (a torn write); the next
    start-up must then move that line aside and report it (a kill on tmpfs seldom tears a
    write, so after about one kill in ten the test appends half a record itself, as a power
    cut would leave it);
  - the SQLite store passes PRAGMA integrity_check;
  - every answer seen so far has its ledger record (gate.decision for its ClientPO as many
    times as answered, clientpo.linked, calibration.recorded with its certificate);
  - on the next start-up: the ledger's intact bytes are unchanged (seq and prev_hash continue,
    never a new genesis), and the probe's status shows, for every item, the last acknowledged
    calibration or a later one of the stream.

Re-feeding. The next round feeds the stream from the first event that was not acknowledged. An
event whose answer was not seen may or may not have been committed, so it may now be handled
twice. The stream is built so that this cannot change the final state: each ClientPO is linked
once with its own id, a test start only adds a decision, a status query changes nothing, and
each item gets at most one calibration a day with dates that only increase, so a calibration
re-fed after it was committed either has the date on record (accepted, same record) or is
rejected as earlier than the record; either way the latest calibration of every item is the
same. So the final comparison is on the final status only: after the last kill the rest of the
stream is fed to the end, and the final status must be byte-identical to an uninterrupted run's.

Full disk. With fault_shim.so preloaded (SMART_FAULT_AFTER=N, SMART_FAULT_MATCH=ledger.jsonl or
store.sqlite), the N+1-th write or sync fails with ENOSPC. smart-host must stop with exit 4 and
a "fatal:" message, print no answer after that message (stdout and stderr share one pipe here,
so their order is visible), and a restart without the fault must find the ledger verifying,
the store intact and every answer printed before the failure present.
"""
import argparse
import json
import os
import random
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

ANSWERS = {
    "clientpo.link": "clientpo.linked",
    "test.start": "gate.decision",
    "calibration.record": "calibration.recorded",
    "status.query": "status",
}
T0 = datetime(2025, 2, 13, 7, 0, 0, tzinfo=timezone.utc)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


class Stream:
    """The deterministic event stream and what each event means for the checks."""

    def __init__(self, equipment, count, seed):
        rng = random.Random(seed)
        self.lines, self.topics, self.times = [], [], []
        self.cal = {}  # event index -> (equipment_id, date, certificate)
        self.po = {}  # event index -> clientpo_id
        self.cert_index = {}  # certificate -> event index
        last_day = {e: None for e in equipment}
        linked = []
        t = T0
        while len(self.lines) < count:
            t += timedelta(minutes=rng.randint(1, 20))
            i = len(self.lines)
            r = rng.random()
            day = t.date().isoformat()
            free = [e for e in equipment if last_day[e] != day]
            if r < 0.2 or not linked:
                po = "SC-CRASH-%05d-LP" % i
                items = rng.sample(equipment, rng.randint(1, 4))
                ev = {"topic": "clientpo.link", "data": {"clientpo_id": po, "equipment": items}}
                linked.append(po)
                self.po[i] = po
            elif r < 0.5:
                po = rng.choice(linked)
                ev = {"topic": "test.start", "data": {"clientpo_id": po}}
                self.po[i] = po
            elif r < 0.75 and free:
                item = rng.choice(free)
                last_day[item] = day
                cert = "CRASH-%05d" % i
                ev = {"topic": "calibration.record", "data": {
                    "equipment_id": item, "calibration_date": day, "certificate_number": cert,
                    "provider": "Northbridge Calibration Ltd (ISO/IEC 17025 accredited)",
                    "technician": rng.choice(["J. Alvarez", "M. Okafor", "S. Lindqvist"])}}
                self.cal[i] = (item, day, cert)
                self.cert_index[cert] = i
            else:
                data = {} if rng.random() < 0.1 else {"equipment_id": rng.choice(equipment)}
                ev = {"topic": "status.query", "data": data}
            ev["time"] = rfc3339(t)
            self.lines.append(json.dumps(ev, separators=(",", ":")) + "\n")
            self.topics.append(ev["topic"])
            self.times.append(ev["time"])
        self.end_time = rfc3339(t + timedelta(minutes=1))


class Node:
    def __init__(self, args, root, name):
        self.args = args
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        shutil.copytree(os.path.join(args.example, "contracts"), os.path.join(self.dir, "contracts"))
        with open(os.path.join(self.dir, "node.json"), "w") as f:
            json.dump({"node_id": "NODE-CRASH-001", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": args.module, "config": {
                           "contracts_dir": "contracts", "data_dir": "var/maintenance"}}]}, f)
        self.ledger = os.path.join(self.dir, "var", "ledger.jsonl")
        self.store = os.path.join(self.dir, "var", "maintenance", "store.sqlite")

    def spawn(self, clock, extra_env=None, merge_stderr=False, stderr_path=None):
        env = dict(os.environ)
        env.update(extra_env or {})
        err = subprocess.STDOUT if merge_stderr else open(stderr_path, "wb")
        p = subprocess.Popen([self.args.host, "run", os.path.join(self.dir, "node.json"),
                              "--clock", clock], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=err, env=env)
        if not merge_stderr:
            err.close()
        return p

    def verify(self):
        r = subprocess.run([self.args.host, "ledger", "verify", self.ledger], capture_output=True,
                           text=True)
        return r.returncode, r.stdout + r.stderr

    def integrity(self):
        if not os.path.exists(self.store):
            return "ok"
        db = sqlite3.connect(self.store)
        try:
            return db.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            db.close()


class Reader:
    """Complete stdout lines of a child, read without blocking the test."""

    def __init__(self, proc):
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.lines = []

    def poll(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buf += chunk
        *complete, self.buf = self.buf.split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        return True

    def drain(self):
        while self.poll(5) is not None:
            pass
        # A last line without its newline was cut by the kill: never seen by a user.


def answers_of(lines):
    out = []
    for line in lines:
        topic = json.loads(line)["topic"]
        if topic in ANSWERS.values():
            out.append((topic, line))
    return out


class Acked:
    """What the user has seen acknowledged so far."""

    def __init__(self):
        self.count = 0  # events 0..count-1 acknowledged
        self.gates = {}  # clientpo_id -> gate.decision answers seen
        self.last_cal = {}  # equipment_id -> event index of the last acknowledged calibration

    def add(self, stream, answers):
        for topic, line in answers:
            i = self.count
            if i >= len(stream.lines):
                fail("more answers than events")
            if ANSWERS[stream.topics[i]] != topic:
                fail("event %d (%s) answered by %s: %s" % (i, stream.topics[i], topic, line[:200]))
            if topic == "gate.decision":
                po = stream.po[i]
                self.gates[po] = self.gates.get(po, 0) + 1
            if topic == "calibration.recorded":
                self.last_cal[stream.cal[i][0]] = i
            self.count += 1


def check_ledger_records(node, stream, acked, ledger_text):
    """Every acknowledged answer has its ledger record."""
    gates, links, certs = {}, set(), set()
    for line in ledger_text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line
        action = rec.get("action")
        if action == "gate.decision":
            gates[rec["target"]] = gates.get(rec["target"], 0) + 1
        elif action == "clientpo.linked":
            links.add(rec["target"])
        elif action == "calibration.recorded":
            certs.add(json.dumps(rec))
    for po, n in acked.gates.items():
        if gates.get(po, 0) < n:
            fail("%d gate.decision answer(s) for %s seen, %d in the ledger" % (n, po, gates.get(po, 0)))
    for i in range(acked.count):
        if stream.topics[i] == "clientpo.link" and stream.po[i] not in links:
            fail("clientpo.linked for %s was answered but is not in the ledger" % stream.po[i])
    blob = "\n".join(certs)
    for item, i in acked.last_cal.items():
        if stream.cal[i][2] not in blob:
            fail("calibration %s was answered but is not in the ledger" % stream.cal[i][2])


def committed_records(ledger_text):
    """The ledger's records up to the one the last start's store.opened says the store is
    committed through, as text ('' when it names none); None when no start said so."""
    records = []
    for line in ledger_text.splitlines():
        try:
            records.append((json.loads(line), line))
        except ValueError:
            continue  # a torn last line
    opened = [r for r, _ in records if r.get("action") == "store.opened"]
    if not opened:
        return None
    through = opened[-1]["metadata"]["committed_through_seq"]
    return "\n".join(line for r, line in records if through is not None and r["seq"] <= through)


def check_probe(stream, acked, status_line):
    status = json.loads(status_line)["data"]
    by_id = {e["equipment_id"]: e for e in status["equipment"]}
    for item, i in acked.last_cal.items():
        cert = by_id.get(item, {}).get("certificate_number")
        if cert not in stream.cert_index or stream.cert_index[cert] < i:
            fail("after restart %s shows certificate %s, but %s (event %d) was acknowledged"
                 % (item, cert, stream.cal[i][2], i))


def intact_prefix(text):
    """The ledger bytes up to the last complete line (a torn line never counts)."""
    cut = text.rfind("\n")
    return text[:cut + 1]


def kill_loop(args, stream, node, rng):
    acked = Acked()
    ledger_before = ""  # intact ledger bytes after the previous kill
    torn_expected = False
    kills = torn_seen = startup_kills = injected = 0
    err_path = os.path.join(node.dir, "stderr.txt")
    while kills < args.kills:
        clock = stream.times[acked.count - 1] if acked.count else rfc3339(T0)
        proc = node.spawn(clock, stderr_path=err_path)
        reader = Reader(proc)
        early = rng.random() < 0.12
        probe = '{"topic":"status.query","data":{}}\n'
        try:
            proc.stdin.write(probe.encode())
            proc.stdin.flush()
            if early:
                time.sleep(rng.uniform(0, 0.03))
            else:
                deadline = time.monotonic() + 20
                while not answers_of(reader.lines) and time.monotonic() < deadline:
                    if reader.poll(0.5) is None:
                        break
                if not answers_of(reader.lines):
                    proc.kill()
                    proc.wait()
                    fail("no probe answer; stderr:\n" + open(err_path).read())
                n = min(len(stream.lines) - acked.count, rng.randint(1, args.per_round))
                fed, mode = 0, rng.choice(["write", "delay", "answers"])
                target = rng.randint(1, max(1, n)) + len(reader.lines)  # lines seen
                while fed < n:
                    chunk = min(n - fed, rng.randint(1, 12))
                    data = "".join(stream.lines[acked.count + fed:acked.count + fed + chunk])
                    proc.stdin.write(data.encode())
                    proc.stdin.flush()
                    fed += chunk
                    reader.poll(0)
                if mode == "delay":
                    time.sleep(rng.uniform(0, 0.004))
                elif mode == "answers":
                    deadline = time.monotonic() + 2
                    while len(reader.lines) < target and time.monotonic() < deadline:
                        reader.poll(0.001)
        except BrokenPipeError:
            proc.wait()
            fail("smart-host exited (status %s) before the kill; stderr:\n%s"
                 % (proc.returncode, open(err_path).read()))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdin.close()
        reader.drain()
        proc.stdout.close()
        kills += 1
        stderr = open(err_path).read()
        if proc.returncode != -signal.SIGKILL:
            fail("smart-host exited with %s before the kill; stderr:\n%s" % (proc.returncode, stderr))

        # What this start-up had to do, now that its stderr is complete.
        answers = answers_of(reader.lines)
        if answers:
            if torn_expected:
                if "torn last record" not in stderr or "moved aside to" not in stderr:
                    fail("a torn ledger line was not reported at start-up:\n" + stderr)
                torn_seen += 1
            current = open(node.ledger).read()
            if not current.startswith(ledger_before):
                fail("the ledger's intact records changed across a restart")
            if answers[0][0] != "status":
                fail("first answer is not the probe's status: " + answers[0][1][:200])
            check_probe(stream, acked, answers[0][1])
            # Everything answered before this start was committed: its records lie at or
            # before the record this start's store.opened names.
            committed = committed_records(open(node.ledger).read())
            if committed is None:
                fail("a start that answered wrote no store.opened record")
            check_ledger_records(node, stream, acked, committed)
            acked.add(stream, answers[1:])
        else:
            startup_kills += 1

        # After the kill.
        if os.path.exists(node.ledger):
            rc, text = node.verify()
            ledger_text = open(node.ledger).read()
            lines = ledger_text.count("\n") + (0 if ledger_text.endswith("\n") else 1)
            if rc not in (0, 1):
                fail("ledger verify: status %d: %s" % (rc, text))
            if rc == 1 and "(line %d)" % lines not in text:
                fail("the ledger is broken before its last line: " + text)
            check_ledger_records(node, stream, acked, ledger_text)
            ledger_before = intact_prefix(ledger_text) if rc == 0 else \
                ledger_text[:ledger_text.rstrip("\n").rfind("\n") + 1]
            if rc == 0 and rng.random() < 0.1:
                # A kill on tmpfs rarely tears a write, a power cut on a disk does: leave what
                # such a cut leaves, the start of a next record without its end.
                last = ledger_text.rstrip("\n").rsplit("\n", 1)[-1]
                with open(node.ledger, "a") as f:
                    f.write(last[:rng.randint(1, len(last) - 1)])
                rc = 1
                injected += 1
            torn_expected = rc == 1
        result = node.integrity()
        if result != "ok":
            fail("PRAGMA integrity_check after kill %d: %s" % (kills, result))
        if kills % 50 == 0:
            print("  %d kills: %d of %d events acknowledged" % (kills, acked.count, len(stream.lines)),
                  flush=True)
    return acked, kills, torn_seen, startup_kills, injected


def run_to_end(node, stream, start, clock, err_path):
    """Feed stream[start:] and a final status query; returns the final status line."""
    final = '{"topic":"status.query","time":"%s","data":{}}\n' % stream.end_time
    proc = node.spawn(clock, stderr_path=err_path)
    out, _ = proc.communicate(("".join(stream.lines[start:]) + final).encode(), timeout=600)
    if proc.returncode != 0:
        fail("run to the end exited %d:\n%s" % (proc.returncode, open(err_path).read()))
    lines = out.decode().splitlines()
    return lines, lines[-1]


def full_disk(args, stream, root):
    """ENOSPC on the ledger or the store at many points: exit 4, nothing acknowledged after."""
    cases = failed = 0
    for match in ("ledger.jsonl", "store.sqlite"):
        for after in list(range(0, 12)) + list(range(12, 80, 7)):
            node = Node(args, root, "disk-%s-%d" % (match.split(".")[1], after))
            feed = stream.lines[:150]
            env = {"LD_PRELOAD": args.shim, "SMART_FAULT_AFTER": str(after),
                   "SMART_FAULT_MATCH": match,
                   "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
            proc = node.spawn(rfc3339(T0), extra_env=env, merge_stderr=True)
            out, _ = proc.communicate("".join(feed).encode(), timeout=120)
            lines = out.decode().splitlines()
            cases += 1
            if proc.returncode == 0:
                continue  # this many calls never happened: nothing to check
            failed += 1
            if proc.returncode != 4:
                fail("ENOSPC on %s after %d calls: exit %d, expected 4:\n%s"
                     % (match, after, proc.returncode, "\n".join(lines[-5:])))
            # The message says what failed and why; at start-up it is the start-up error, later
            # "smart-host: fatal: ...; acknowledging nothing more".
            fatal = [i for i, l in enumerate(lines) if l.startswith("smart-host:") and
                     any(why in l for why in ("No space left on device", "disk is full",
                                              "disk I/O error"))]
            if not fatal:
                fail("ENOSPC on %s after %d: no message naming the failure:\n%s"
                     % (match, after, out.decode()))
            after_msg = [l for l in lines[fatal[0] + 1:] if l.startswith("{")]
            if after_msg:
                fail("ENOSPC on %s after %d: output after the failure: %s" % (match, after, after_msg[0]))
            seen = [l for l in lines if l.startswith("{")]
            acked = Acked()
            acked.add(stream, answers_of(seen))
            # Restart without the fault: everything acknowledged is there.
            if os.path.exists(node.ledger):
                rc, text = node.verify()
                if rc != 0:
                    fail("ENOSPC on %s after %d: ledger: %s" % (match, after, text))
                check_ledger_records(node, stream, acked, open(node.ledger).read())
            if node.integrity() != "ok":
                fail("ENOSPC on %s after %d: store integrity" % (match, after))
            err_path = os.path.join(node.dir, "restart.txt")
            proc = node.spawn(rfc3339(T0), stderr_path=err_path)
            out, _ = proc.communicate(b'{"topic":"status.query","data":{}}\n', timeout=60)
            if proc.returncode != 0:
                fail("restart after ENOSPC on %s after %d: exit %d:\n%s"
                     % (match, after, proc.returncode, open(err_path).read()))
            check_probe(stream, acked, answers_of(out.decode().splitlines())[0][1])
    if failed < 10:
        fail("only %d of %d full-disk cases hit a write or sync" % (failed, cases))
    return cases, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--module", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--example", required=True)
    ap.add_argument("--kills", type=int, default=int(os.environ.get("SMART_CRASH_KILLS", "200")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SMART_CRASH_SEED", "20250213")))
    args = ap.parse_args()
    args.host = os.path.realpath(args.host)
    args.module = os.path.realpath(args.module)
    args.shim = os.path.realpath(args.shim)
    args.per_round = 30
    with open(os.path.join(args.example, "contracts", "LP-CAL-001.json")) as f:
        equipment = [e["equipment_id"] for e in json.load(f)["equipment_list"]]
    events = max(3000, args.kills * args.per_round // 2)
    stream = Stream(equipment, events, args.seed)
    rng = random.Random(args.seed + 1)
    root = tempfile.mkdtemp(prefix="smart-crash-")
    try:
        start = time.monotonic()
        reference = Node(args, root, "reference")
        ref_lines, ref_final = run_to_end(reference, stream, 0, rfc3339(T0),
                                          os.path.join(reference.dir, "stderr.txt"))
        if len(answers_of(ref_lines)) != len(stream.lines) + 1:
            fail("the uninterrupted run did not answer every event once")
        print("crash: %d events; uninterrupted run answered all (seed %d)"
              % (len(stream.lines), args.seed), flush=True)

        node = Node(args, root, "crashed")
        acked, kills, torn, early, injected = kill_loop(args, stream, node, rng)
        print("crash: %d kills (%d during start-up before any answer), %d torn ledger tails "
              "reported and moved aside at restart (%d of them made by the test), %d of %d "
              "events acknowledged before the last kill"
              % (kills, early, torn, injected, acked.count, len(stream.lines)), flush=True)
        if torn == 0:
            fail("no torn ledger tail was recovered")
        clock = stream.times[acked.count - 1] if acked.count else rfc3339(T0)
        _, final = run_to_end(node, stream, acked.count, clock, os.path.join(node.dir, "end.txt"))
        if final != ref_final:
            fail("final status differs from the uninterrupted run's:\n%s\n%s" % (final, ref_final))
        rc, text = node.verify()
        if rc != 0:
            fail("final ledger: " + text)
        if node.integrity() != "ok":
            fail("final store integrity")
        print("crash: final status identical to the uninterrupted run's; ledger %s"
              % text.strip(), flush=True)

        cases, failed = full_disk(args, stream, root)
        print("crash: full disk: %d cases, %d hit a write or sync: each exit 4, no answer after "
              "the failure, ledger and store intact, acknowledged answers present" % (cases, failed))
        print("crash: done in %.1f s" % (time.monotonic() - start))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
