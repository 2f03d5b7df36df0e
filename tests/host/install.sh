# install.sh BUILD_DIR SMART_HOST MODULE_SOURCE VERSION — what a module author gets from
# `meson install`: installed into a temporary DESTDIR, the header is <smart/smart_plugin.h>, the
# pkg-config file gives the version and moduledir (where the module was installed), and a tiny
# module compiled with nothing but `pkg-config --cflags smart-plugin` loads and answers.
BUILD=$(realpath -- "$1")
HOST=$(realpath -- "$2")
SRC=$(realpath -- "$3")
VERSION=$4
. "$(dirname "$0")/lib.sh"

DEST=$WORK/dest
meson install -C "$BUILD" --no-rebuild --quiet --destdir "$DEST" > "$WORK/install.log" 2>&1 ||
    { cat "$WORK/install.log" >&2; fail "meson install into a DESTDIR failed"; }
header=$(find "$DEST" -path '*/include/smart/smart_plugin.h')
[ -n "$header" ] || fail "no include/smart/smart_plugin.h under $DEST"
pc=$(find "$DEST" -name smart-plugin.pc)
[ -n "$pc" ] || fail "no smart-plugin.pc under $DEST"
prefix=$(sed -n 's/^prefix=//p' "$pc")
export PKG_CONFIG_PATH=$(dirname "$pc")
pkgc() { pkg-config --define-variable=prefix="$DEST$prefix" "$@" smart-plugin; }

[ "$(pkgc --modversion)" = "$VERSION" ] || fail "pkg-config version $(pkgc --modversion), not $VERSION"
moduledir=$(pkgc --variable=moduledir)
[ -f "$moduledir/smart-maintenance.so" ] ||
    fail "moduledir $moduledir does not hold the installed smart-maintenance.so"
cflags=$(pkgc --cflags)
case " $cflags " in
*" -I$DEST$prefix/include "*) ;;
*) fail "Cflags '$cflags' do not name $DEST$prefix/include (for <smart/smart_plugin.h>)" ;;
esac

cc -std=gnu11 -Wall -Wextra -Werror -fPIC -shared $cflags -o "$WORK/tiny.so" "$SRC" \
    2> "$WORK/cc.err" || { cat "$WORK/cc.err" >&2; fail "the tiny module does not compile"; }

D=$WORK/run
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$WORK/tiny.so\"}]"
echo '{"topic":"tiny.ping","data":{"n":1}}' > "$D/events.jsonl"
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "run with the tiny module"
expect_contains "$D/out" '{"topic":"tiny.pong","data":{"n":1}}'
echo "install: header, pkg-config (version $VERSION, moduledir) and a module built against them"
