#!/usr/bin/env python3
"""Check the JSON Schemas in schemas/, the examples against them, and the demo's output.

    validate.py --root SRC                 schemas against the metaschema; examples/ against
                                           the schemas; the deliberately bad examples fail
    validate.py --root SRC --run SMART_HOST [--module-dir DIR]
                                           run every shipped scenario (examples/lp-station's
                                           scenario.jsonl, examples/*/scenarios/*.jsonl), each in
                                           a fresh copy of its station, and check its stdout,
                                           ledger and alerts files

Every failure prints the file, the line and the schema error path; the exit status is then 1.
Needs only the standard library and jsonschema (Debian's python3-jsonschema 4.10 is enough).
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import best_match
except ImportError:
    print("SKIP: the jsonschema module is not installed (Debian: python3-jsonschema)")
    sys.exit(77)

CLOCK = "2025-02-13T07:00:00Z"
BASE = "https://smart-node.example/schemas/"

# examples/bad/events-bad.jsonl, line by line: what the schema alone can catch. The other
# lines (unknown topic, a date in the future, time running backwards, the final valid
# query) are well-formed and are rejected, if at all, by the host or the module.
BAD_EVENTS = {1: "json", 3: "schema", 4: "schema", 5: "schema"}
SKIP_BAD_CONTRACTS = {"contract-duplicate-id"}  # a rule across files, not one file's schema

failures = 0


def fail(where, message):
    global failures
    failures += 1
    print(f"FAIL {where}: {message}")


# "date" and "date-time" checked with the standard library, so the result does not depend
# on which optional format packages happen to be installed.
formats = FormatChecker()


@formats.checks("date", raises=ValueError)
def _is_date(value):
    if isinstance(value, str):
        datetime.date.fromisoformat(value)
    return True


@formats.checks("date-time", raises=ValueError)
def _is_date_time(value):
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", value):
            raise ValueError(value)
        datetime.datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", value.replace("t", "T")))
    return True


def load_schemas(root):
    schemas = {}
    for path in sorted(glob.glob(os.path.join(root, "schemas", "*.schema.json"))):
        name = os.path.basename(path)
        try:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            Draft202012Validator.check_schema(schema)
        except json.JSONDecodeError as e:
            fail(f"{rel(root, path)}:{e.lineno}", f"not valid JSON: {e.msg}")
            continue
        except jsonschema.SchemaError as e:
            fail(rel(root, path), f"{pointer(e.absolute_path)}: {e.message} (metaschema)")
            continue
        if schema.get("$id") != BASE + name:
            fail(rel(root, path), f"$id is {schema.get('$id')!r}, expected {BASE + name!r}")
        schemas[name] = schema
    return schemas


def make_validators(schemas):
    """One validator per schema, each able to resolve relative $refs to the others."""
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        registry = Registry().with_resources(
            (s["$id"], Resource.from_contents(s)) for s in schemas.values())
        return {name: Draft202012Validator(s, registry=registry, format_checker=formats)
                for name, s in schemas.items()}
    except (ImportError, TypeError):  # jsonschema 4.10 (Debian bookworm)
        store = {s["$id"]: s for s in schemas.values()}
        return {name: Draft202012Validator(
                    s, resolver=jsonschema.RefResolver.from_schema(s, store=store),
                    format_checker=formats)
                for name, s in schemas.items()}


def rel(root, path):
    return os.path.relpath(path, root) if root else path


def pointer(path):
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def errors(validator, instance):
    """The instance's errors as text, each with its instance path and schema path."""
    out = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        deepest = best_match([err])
        schema_path = "/".join(map(str, deepest.absolute_schema_path))
        out.append(f"{pointer(deepest.absolute_path)}: {deepest.message} (schema: {schema_path})")
    return out


def check_file(validators, schema_name, path, where, expect_valid=True):
    """Validate one JSON file; returns the errors found."""
    try:
        with open(path, encoding="utf-8") as f:
            instance = json.load(f)
    except json.JSONDecodeError as e:
        errs = [f"line {e.lineno}: not valid JSON: {e.msg}"]
    else:
        errs = errors(validators[schema_name], instance)
    if expect_valid:
        for e in errs:
            fail(where, e)
    return errs


def check_lines(validators, schema_name, path, where, expect=None):
    """Validate each non-blank line of a JSON Lines file. expect maps a line number to
    "json" or "schema" for lines that must fail that way; every other line must pass."""
    expect = expect or {}
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                instance = json.loads(line)
            except json.JSONDecodeError as e:
                got, errs = "json", [f"not valid JSON: {e.msg} (column {e.colno})"]
            else:
                records.append((lineno, line, instance))
                errs = errors(validators[schema_name], instance)
                got = "schema" if errs else None
            wanted = expect.get(lineno)
            if got != wanted:
                detail = errs or [f"passes {schema_name} but should fail ({wanted})"]
                for e in detail:
                    fail(f"{where}:{lineno}", e)
    return records


def station_scenarios(station):
    """A station's event files: *.jsonl beside node.json and scenarios/*.jsonl."""
    return (sorted(glob.glob(os.path.join(station, "*.jsonl"))) +
            sorted(glob.glob(os.path.join(station, "scenarios", "*.jsonl"))))


def first_time(path):
    """The time of a scenario's first event: the clock it is replayed from."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return json.loads(line).get("time")
    return None


def check_static(root, validators):
    examples = os.path.join(root, "examples")
    stations = sorted(d for d in glob.glob(os.path.join(examples, "*", ""))
                      if os.path.basename(os.path.dirname(d)) != "bad")
    if not stations:
        fail(rel(root, examples), "no example stations found")
    for station in stations:
        for path in sorted(glob.glob(os.path.join(station, "node.json"))):
            check_file(validators, "node.schema.json", path, rel(root, path))
        for path in sorted(glob.glob(os.path.join(station, "contracts", "*.json"))):
            check_file(validators, "contract.schema.json", path, rel(root, path))
        for path in station_scenarios(station):
            check_lines(validators, "input-event.schema.json", path, rel(root, path))

    check_time_zone_config(root, validators)

    bad = os.path.join(examples, "bad")
    for case in sorted(glob.glob(os.path.join(bad, "contract-*"))):
        if os.path.basename(case) in SKIP_BAD_CONTRACTS:
            continue
        for path in sorted(glob.glob(os.path.join(case, "*.json"))):
            if not check_file(validators, "contract.schema.json", path, rel(root, path),
                              expect_valid=False):
                fail(rel(root, path), "passes contract.schema.json but must be refused")
    bad_events = os.path.join(bad, "events-bad.jsonl")
    if os.path.exists(bad_events):
        check_lines(validators, "input-event.schema.json", bad_events, rel(root, bad_events),
                    expect=BAD_EVENTS)


def check_time_zone_config(root, validators):
    """The module's time_zone and utc_offset, on a copy of an example station's node.json."""
    path = os.path.join(root, "examples", "mt-station", "node.json")
    with open(path, encoding="utf-8") as f:
        node = json.load(f)
    cases = [({"time_zone": "Europe/Berlin"}, True),
             ({"time_zone": "America/Port-au-Prince"}, True),
             ({"utc_offset": "-03:30"}, True), ({"utc_offset": "Z"}, True),
             ({"time_zone": "Europe/Berlin", "utc_offset": "+01:00"}, False),
             ({"time_zone": "Europe/Berlin west"}, False), ({"time_zone": ""}, False),
             ({"time_zone": 1}, False), ({"utc_offset": "+24:00"}, False)]
    for extra, valid in cases:
        doc = json.loads(json.dumps(node))
        doc["modules"][0]["config"].update(extra)
        errs = errors(validators["node.schema.json"], doc)
        if valid and errs:
            fail(f"node.json with {extra}", "; ".join(errs))
        elif not valid and not errs:
            fail(f"node.json with {extra}", "passes node.schema.json but must be refused")


def check_chain(records, where):
    """The ledger's hash chain, checked independently of smart-host ledger verify."""
    prev = "0" * 64
    for n, (lineno, line, rec) in enumerate(records, 1):
        cut = line.find(',"hash":"')
        digest = hashlib.sha256(line[:cut].encode("utf-8")).hexdigest() if cut > 0 else None
        if rec.get("seq") != n:
            fail(f"{where}:{lineno}", f"$.seq: is {rec.get('seq')}, expected {n}")
        if rec.get("prev_hash") != prev:
            fail(f"{where}:{lineno}", "$.prev_hash: does not match the previous record's hash")
        if rec.get("hash") != digest:
            fail(f"{where}:{lineno}", "$.hash: not the SHA-256 of the bytes before ',\"hash\":\"'")
        prev = rec.get("hash")


def run_scenario(root, validators, host, module_dir, station_dir, events, clock):
    """Runs one scenario in a fresh copy of its station; checks every line it emits, the
    ledger (schema and chain) and the alerts. Returns (outputs, alerts) as parsed records."""
    name = rel(root, events)
    with tempfile.TemporaryDirectory(prefix="smart-scenario-") as tmp:
        station = os.path.join(tmp, "station")
        shutil.copytree(station_dir, station, ignore=shutil.ignore_patterns("var"))
        env = dict(os.environ)
        if module_dir:
            module_dir = os.path.abspath(module_dir)
            if os.path.isfile(module_dir):  # meson may hand us the module itself
                module_dir = os.path.dirname(module_dir)
            env["SMART_MODULE_PATH"] = module_dir
        argv = [os.path.abspath(host), "run", "node.json", "--events",
                os.path.relpath(events, station_dir), "--clock", clock]
        before = failures
        try:
            proc = subprocess.run(argv, cwd=station, env=env, capture_output=True, text=True,
                                  timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            fail(f"{name}: " + " ".join(argv), str(e))
            return [], []
        if proc.returncode != 0:
            fail(f"{name}: " + " ".join(argv),
                 f"exit status {proc.returncode}, expected 0\n{proc.stderr}")

        out_path = os.path.join(station, "stdout.jsonl")
        with open(out_path, "w", encoding="utf-8") as f:
            f.write(proc.stdout)
        outputs = check_lines(validators, "output-event.schema.json", out_path,
                              f"{name}: smart-host stdout")

        with open(os.path.join(station, "node.json"), encoding="utf-8") as f:
            node = json.load(f)
        files = {}
        for key, schema in (("ledger", "ledger-record.schema.json"),
                            ("alerts", "alert.schema.json")):
            path = os.path.join(station, node[key])
            if not os.path.exists(path):
                if key == "ledger":
                    fail(f"{name}: {node[key]}", "not written")
                files[key] = []
                continue
            files[key] = check_lines(validators, schema, path, f"{name}: {node[key]}")
        check_chain(files["ledger"], f"{name}: {node['ledger']}")
        if failures > before:
            print(f"--- {name}: smart-host stderr ---\n{proc.stderr}--- stdout ---\n{proc.stdout}",
                  end="")
        return ([o for _, _, o in outputs], [a for _, _, a in files["alerts"]])


def run_all(root, validators, host, module_dir):
    examples = os.path.join(root, "examples")
    stations = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(examples, "*", "node.json")))
    ran = 0
    for station in stations:
        for events in station_scenarios(station):
            clock = first_time(events) or CLOCK
            outputs, alerts = run_scenario(root, validators, host, module_dir, station, events,
                                           clock)
            ran += 1
            if rel(root, events) == os.path.join("examples", "lp-station", "scenario.jsonl"):
                check_seed(outputs, alerts, rel(root, events))
    if ran == 0:
        fail(rel(root, examples), "no scenarios found")
    print(f"{ran} scenario(s) run")


def check_seed(outputs, alerts, where):
    """What the seed scenario is there to show: blocked by the expired thermometer, then
    allowed once its calibration is recorded."""
    gates = [o["data"].get("allowed") for o in outputs if o.get("topic") == "gate.decision"]
    if gates != [False, True]:
        fail(where, f"gate.decision allowed values are {gates}, expected [False, True]")
    if not any(a.get("alert_type") == "calibration_expired"
               and a.get("equipment_id") == "LP01-THM-01" for a in alerts):
        fail(where, "no calibration_expired alert for LP01-THM-01")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="the project's source directory")
    ap.add_argument("--run", metavar="SMART_HOST",
                    help="run every shipped scenario with this host binary")
    ap.add_argument("--module-dir", help="directory (or file) of smart-maintenance.so")
    args = ap.parse_args()
    root = os.path.abspath(args.root)

    schemas = load_schemas(root)
    if not schemas:
        fail(rel(root, os.path.join(root, "schemas")), "no *.schema.json found")
    if failures:
        return 1
    validators = make_validators(schemas)
    if args.run:
        run_all(root, validators, args.run, args.module_dir)
    else:
        check_static(root, validators)
    print(f"{failures} failure(s)" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
