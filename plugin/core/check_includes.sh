#!/bin/sh
# check_includes.sh OUTPUT FILE... — the purity rule of plugin/core/: a core file includes core/
# headers and the C library (its standard headers and POSIX <strings.h>), nothing else (no
# jansson, libuv, SQLite, libyaml, ICU, nor any other layer of the module). Prints each line that breaks the rule and fails; otherwise
# writes OUTPUT, which the core library's build waits for. Every .c and .h in the folder of the
# first FILE is checked, listed in meson.build or not.
out=$1
shift
bad=$(grep -Hn '^[[:space:]]*#[[:space:]]*include' "$@" "$(dirname "$1")"/*.[ch] |
    grep -Ev '#[[:space:]]*include[[:space:]]*("core/[a-z0-9_]+\.h"|<(assert|ctype|errno|float|inttypes|limits|math|stdarg|stdbool|stddef|stdint|stdio|stdlib|string|strings)\.h>)[[:space:]]*(/\*.*)?$')
if [ -n "$bad" ]; then
    printf '%s\n' "$bad" >&2
    echo "plugin/core/ may include only core/ headers and the C standard library" >&2
    exit 1
fi
echo '/* plugin/core/ includes only core/ headers and the C standard library (check_includes.sh) */' >"$out"
