# lib.sh — helpers shared by the host stub's shell tests. Sourced, not run.
set -u

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_contains FILE TEXT — FILE must contain TEXT (fixed string).
expect_contains() {
    grep -qF -- "$2" "$1" || {
        echo "--- $1:" >&2
        cat "$1" >&2
        fail "$1 does not contain: $2"
    }
}

# expect_status WANTED GOT WHAT
expect_status() {
    [ "$2" -eq "$1" ] || fail "$3: exit status $2, expected $1"
}

# write_node DIR MODULES_JSON — a NODE.json in DIR with the given "modules" array.
write_node() {
    cat > "$1/node.json" <<JSON
{"node_id": "NODE-TEST-001", "station_type": "LP",
 "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
 "modules": $2}
JSON
}

WORK=$(mktemp -d /tmp/smart-host-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
