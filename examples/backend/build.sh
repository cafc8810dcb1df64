#!/bin/sh
# build.sh [DESTDIR] [static] — compile scorer.c against an installed libloom,
# found through pkg-config: the system's (no argument), or one installed with
# `meson install --destdir DESTDIR` (then a copy of its loom.pc with the
# prefix moved under DESTDIR is what pkg-config reads). With `static`,
# libloom.a and its private dependencies (pkg-config --static) are linked.
#   OUT=path (default ./scorer), CC=compiler (default cc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
destdir=${1:-}
mode=${2:-shared}
out=${OUT:-scorer}
pc="pkg-config"
if [ -n "$destdir" ]; then
    destdir=$(cd "$destdir" && pwd)
    pcfile=$(find "$destdir" -name loom.pc | head -n 1)
    [ -n "$pcfile" ] || { echo "build.sh: no loom.pc under $destdir" >&2; exit 1; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    sed "s|^prefix=|prefix=$destdir|" "$pcfile" > "$tmp/loom.pc"
    PKG_CONFIG_PATH=$tmp${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    export PKG_CONFIG_PATH
fi
libdir=$($pc --variable=libdir loom)
if [ "$mode" = static ]; then
    # libloom.a by name, its dependencies as pkg-config --static lists them
    libs=$($pc --static --libs-only-l loom | sed 's/-lloom//')
    ${CC:-cc} -O2 -Wall -Wextra -std=c11 -D_GNU_SOURCE -o "$out" "$here/scorer.c" \
        $($pc --cflags loom) $($pc --static --libs-only-L loom) "$libdir/libloom.a" $libs -pthread
else
    ${CC:-cc} -O2 -Wall -Wextra -std=c11 -D_GNU_SOURCE -o "$out" "$here/scorer.c" \
        $($pc --cflags --libs loom) -Wl,-rpath,"$libdir" -pthread
fi
echo "built $out ($mode) against $($pc --modversion loom) in $libdir"
