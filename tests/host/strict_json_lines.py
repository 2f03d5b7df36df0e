"""strict_json_lines.py FILE... — every line of each FILE is one JSON object: valid UTF-8, no key
twice in any object, no NaN or Infinity. Exits 1 naming the first line that is not."""
import json
import sys


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def refuse_constant(name):
    raise ValueError("not JSON: " + name)


bad = 0
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        for n, raw in enumerate(f.read().split(b"\n"), 1):
            if raw == b"":
                continue
            try:
                value = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates,
                                   parse_constant=refuse_constant)
                if not isinstance(value, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                print(f"{path}:{n}: {e}: {raw[:80]!r}", file=sys.stderr)
                bad += 1
sys.exit(1 if bad else 0)
