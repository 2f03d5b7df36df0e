# module_limits.sh SMART_HOST BAD_JSON_MODULE — the strings a module hands the host have the
# limit the README states (issue 11, defect 10): each string of a ledger entry (action, target,
# details, user_id) and each topic it emits or posts is at most SMART_JSON_MAX bytes. One byte
# more is refused with SMART_EINVAL and leaves nothing behind; at the limit it is taken.
HOST=$(realpath -- "$1")
MODULE=$(realpath -- "$2")
HERE=$(dirname "$0")
. "$HERE/lib.sh"

# has FILE TEXT — like expect_contains, without printing FILE (a bad host prints megabytes).
has() { grep -qF -- "$2" "$1" || fail "$1 does not contain: $2"; }

D=$WORK/run
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$MODULE\"}]"
FIELDS="action target details user_id emit_topic post_topic"
: > "$D/events.jsonl"
for f in $FIELDS; do
    echo "{\"topic\":\"bad.field\",\"data\":{\"field\":\"$f\",\"over\":true}}" >> "$D/events.jsonl"
done
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "run with strings over the limit"
for f in $FIELDS; do
    has "$D/out" "{\"call\":\"$f\",\"case\":1,\"rc\":-22}"
done
for f in action target details user_id topic; do
    has "$D/err" "$f: more than the 1048576 bytes a module may hand the host"
done
[ "$(grep -c '"action":"bad.field"' "$D/var/ledger.jsonl")" -eq 0 ] ||
    fail "a record with a string over the limit was appended"
! grep -q xxxxxxxxxx "$D/var/ledger.jsonl" "$D/out" ||
    fail "a string over the limit reached the ledger or the output"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"

# At the limit each is taken (a posted topic is then delivered, and unknown: rejected).
rm -rf "$D/var"
: > "$D/events.jsonl"
for f in $FIELDS; do
    echo "{\"topic\":\"bad.field\",\"data\":{\"field\":\"$f\",\"over\":false}}" >> "$D/events.jsonl"
done
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "run with strings at the limit"
for f in $FIELDS; do
    has "$D/out" "{\"call\":\"$f\",\"case\":0,\"rc\":0}"
done
[ "$(grep -c '"module":"test-bad-json"' "$D/var/ledger.jsonl")" -eq 4 ] ||
    fail "the four records at the limit were not all appended"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
echo "ok"
