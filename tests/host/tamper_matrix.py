#!/usr/bin/env python3
"""tamper_matrix.py SMART_HOST ECHO_MODULE — `smart-host ledger verify --key --checkpoints`
against each way of altering a signed ledger: rewritten with recomputed hashes, tail cut off,
replaced by an older copy, a checkpoint forged with another key, a checkpoint record removed, a
byte of a signature flipped (in the checkpoints file, and in the ledger re-hashed), a checkpoint
record replayed, the wrong public key. Each must fail naming the seq and the reason; the
untouched ledger passes. The forger signs with the stock minisign, as an attacker would.

Prints one line per row (the matrix), exits 1 on the first row that does not hold.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HOST, ECHO = (os.path.realpath(a) for a in sys.argv[1:3])
WORK = tempfile.mkdtemp(prefix="smart-tamper-")
NODE = os.path.join(WORK, "node")
LEDGER = os.path.join(NODE, "var", "ledger.jsonl")
CPS = LEDGER + ".checkpoints"
KEYS = os.path.join(WORK, "keys")
PUB = os.path.join(KEYS, "node.pub")
failed = False


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, **kw)


def setup():
    r = sh(HOST, "keygen", KEYS)
    assert r.returncode == 0, r.stderr
    os.makedirs(NODE)
    with open(os.path.join(NODE, "node.json"), "w") as f:
        json.dump({"node_id": "NODE-TAMPER", "station_type": "LP", "ledger": "var/ledger.jsonl",
                   "alerts": "var/alerts.jsonl", "signing_key": os.path.join(KEYS, "node.key"),
                   "modules": [{"path": ECHO}]}, f)
    events = os.path.join(WORK, "events.jsonl")
    for run in range(3):
        with open(events, "w") as f:
            f.write('{"topic":"echo.ping","data":{"n":1}}\n{"topic":"ledger.checkpoint"}\n'
                    '{"topic":"echo.ping","data":{"n":2}}\n')
        r = sh(HOST, "run", os.path.join(NODE, "node.json"), "--events", events,
               "--clock", f"2025-02-13T0{7 + run}:00:00Z")
        assert r.returncode == 0, r.stderr
        if run == 0:
            shutil.copy(LEDGER, os.path.join(WORK, "ledger-after-run-1"))
    r = sh("minisign", "-G", "-W", "-p", os.path.join(WORK, "forger.pub"),
           "-s", os.path.join(WORK, "forger.key"))
    assert r.returncode == 0, r.stderr


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def write(path, ls):
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in ls))


def rehash(ls):
    """Renumber seq and recompute every prev_hash and hash, as a forger would."""
    prev, out = "0" * 64, []
    for seq, line in enumerate(ls, 1):
        head = line[:line.rindex(',"hash":"')]
        head = re.sub(r'^\{"seq":\d+,', '{"seq":%d,' % seq, head)
        head = re.sub(r'"prev_hash":"[0-9a-f]{64}"$', '"prev_hash":"%s"' % prev, head)
        prev = hashlib.sha256(head.encode()).hexdigest()
        out.append('%s,"hash":"%s"}' % (head, prev))
    return out


def checkpoints():
    """(seq covered, index of its record in the ledger's lines) for each checkpoint record."""
    out = []
    for i, line in enumerate(lines(LEDGER)):
        rec = json.loads(line)
        if rec["action"] == "ledger.checkpoint":
            out.append((rec["metadata"]["seq"], i))
    return out


def forge(entry):
    """The same statement signed with the forger's key."""
    stmt = os.path.join(WORK, "stmt")
    with open(stmt, "w") as f:
        f.write(entry["statement"] + "\n")
    r = sh("minisign", "-S", "-W", "-s", os.path.join(WORK, "forger.key"), "-m", stmt,
           "-t", entry["statement"])
    assert r.returncode == 0, r.stderr
    with open(stmt + ".minisig") as f:
        entry = dict(entry, minisig=f.read())
    pub = lines(os.path.join(WORK, "forger.pub"))[0].split()[-1]
    entry["key_id"] = pub.rjust(16, "0")
    return entry


def set_metadata(line, meta):
    text = json.dumps(meta, separators=(",", ":"), ensure_ascii=False)
    return re.sub(r'"metadata":.*,"prev_hash":', lambda m: '"metadata":%s,"prev_hash":' % text,
                  line, count=1)


def verify(ledger, cps=CPS, key=PUB):
    args = [HOST, "ledger", "verify", ledger]
    if key:
        args += ["--key", key]
    if cps:
        args += ["--checkpoints", cps]
    return sh(*args)


def row(name, result, want_rc, want_text):
    global failed
    out = (result.stdout + result.stderr).strip()
    ok = result.returncode == want_rc and all(t in out for t in want_text)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {result.returncode}: {out[:400]}")
    if not ok:
        print(f"     wanted exit {want_rc} and {want_text}")
        failed = True


def main():
    setup()
    good = lines(LEDGER)
    good_cps = lines(CPS)
    cp = checkpoints()
    assert len(cp) == 6 and len(good_cps) == 6, (cp, len(good_cps))
    n = len(good)
    s1, i1 = cp[0]
    s2, i2 = cp[1]
    s_last = cp[-1][0]
    t = os.path.join(WORK, "tampered.jsonl")
    tc = os.path.join(WORK, "tampered.checkpoints")

    row("untouched", verify(LEDGER), 0,
        [f"ok: {n} records; last signed checkpoint at seq {s_last}; "
         "0 records after it not yet signed (6 checkpoints in the ledger, 6 in"])
    row("untouched, no --key", verify(LEDGER, cps=None, key=None), 0,
        [f"ledger ok: {n} records", "unanchored"])

    # Record 2 (before the first checkpoint) changed, every hash after it recomputed.
    ls = list(good)
    ls[1] = ls[1].replace('"details":"', '"details":"forged: ', 1)
    write(t, rehash(ls))
    row("rewritten, hashes recomputed", verify(t), 1,
        [f"FAILED at seq {s1}:", f"checkpoint of seq {s1}", "the chain was rewritten behind it"])

    # The last three records cut off: the last checkpoint (in the file) is beyond the end.
    write(t, good[:-3])
    row("tail truncated", verify(t), 1,
        [f"FAILED at seq {s_last}:", f"the ledger ends at seq {n - 3} before it"])

    # The ledger replaced by its copy from after the first run.
    old = os.path.join(WORK, "ledger-after-run-1")
    s_run2 = cp[2][0]
    row("replaced by an older copy", verify(old), 1,
        [f"FAILED at seq {s_run2}:", f"the ledger ends at seq {len(lines(old))} before it"])

    # The first checkpoint re-signed with the forger's key, in the ledger (re-hashed) and in the
    # file.
    ls = list(good)
    forged = forge(json.loads(ls[i1])["metadata"])
    ls[i1] = set_metadata(ls[i1], forged)
    write(t, rehash(ls))
    write(tc, [json.dumps(forged, separators=(",", ":"))] + good_cps[1:])
    row("forged checkpoint (other key)", verify(t, cps=tc), 1,
        [f"FAILED at seq {s1}:", "signed with key", "not key"])

    # The first checkpoint's record removed, the chain renumbered and re-hashed.
    write(t, rehash(good[:i1] + good[i1 + 1:]))
    row("checkpoint record removed", verify(t), 1,
        [f"FAILED at seq {s1}:", f"its ledger.checkpoint record (seq {s1 + 1}) is not in the "
         "ledger (removed)"])

    # One base64 character of the second checkpoint's signature changed, in the file.
    entries = [json.loads(l) for l in good_cps]
    sig_lines = entries[1]["minisig"].split("\n")
    c = sig_lines[1][20]
    sig_lines[1] = sig_lines[1][:20] + ("A" if c != "A" else "B") + sig_lines[1][21:]
    flipped = dict(entries[1], minisig="\n".join(sig_lines))
    write(tc, [good_cps[0], json.dumps(flipped, separators=(",", ":"))] + good_cps[2:])
    row("flipped byte in a signature (checkpoints file)", verify(LEDGER, cps=tc), 1,
        [f"FAILED at seq {s2}:", "signature does not verify"])
    # The same in the ledger's record, the chain re-hashed.
    ls = list(good)
    ls[i2] = set_metadata(ls[i2], flipped)
    write(t, rehash(ls))
    row("flipped byte in a signature (ledger, re-hashed)", verify(t, cps=None), 1,
        [f"FAILED at seq {s2}:", "signature does not verify"])

    # The first checkpoint's record appended again at the end, renumbered and re-hashed.
    write(t, rehash(good + [good[i1]]))
    row("checkpoint record replayed", verify(t, cps=None), 1,
        [f"FAILED at seq {n + 1}:", f"a replayed checkpoint: it covers seq {s1}"])

    row("wrong public key", verify(LEDGER, key=os.path.join(WORK, "forger.pub")), 1,
        [f"FAILED at seq {s1}:", "signed with key"])

    # A flipped byte in a record, not re-hashed: the chain itself names it.
    ls = list(good)
    ls[4] = ls[4].replace('"details":"', '"details":"X', 1)
    write(t, ls)
    row("changed record, not re-hashed", verify(t), 1, ["record seq 5", "hash"])

    shutil.rmtree(WORK)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
