# module_rewritten.sh SMART_HOST ECHO_MODULE OTHER_MODULE — a module file rewritten in place
# (cp over it) while the host runs changes nothing of the running module (issue 11, defect 4):
# the host maps a private copy, so the next events are still answered and it ends with exit 0.
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
OTHER=$(realpath -- "$3")
. "$(dirname "$0")/lib.sh"

# A TMPDIR of its own: the check for copies left behind must not see another run's.
export TMPDIR=$WORK/tmp
D=$WORK/run
mkdir -p "$D" "$TMPDIR"
cp "$ECHO" "$D/module.so"
write_node "$D" "[{\"path\": \"$D/module.so\"}]"
mkfifo "$D/in" "$D/out"
"$HOST" run "$D/node.json" < "$D/in" > "$D/out" 2> "$D/err" &
pid=$!
exec 3> "$D/in" 4< "$D/out"
echo '{"topic":"echo.ping","data":{"n":1}}' >&3
read -r -t 20 line <&4 || fail "no answer to the first event"
[ "$line" = '{"topic":"echo.pong","data":{"n":1}}' ] || fail "first answer: $line"
# In place: cp truncates the file and writes another module's bytes into the same inode.
cp "$OTHER" "$D/module.so"
echo '{"topic":"echo.ping","data":{"n":2}}' >&3
read -r -t 20 line <&4 || { cat "$D/err" >&2; fail "no answer after the file was rewritten"; }
[ "$line" = '{"topic":"echo.pong","data":{"n":2}}' ] || fail "second answer: $line"
exec 3>&-
wait $pid
expect_status 0 $? "run over a rewritten module file"
ls "$TMPDIR"/smart-module-*.so 2> /dev/null | grep -q . && fail "a private copy was left behind"
echo "ok"
