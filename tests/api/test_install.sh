#!/bin/sh
# test_install.sh BUILD_DIR MODEL_DIR — `meson install` into a temporary
# DESTDIR puts loom.h, libloom.so/.a, loom.pc and the loom binary in place;
# examples/backend/build.sh then builds the scorer against that install
# through pkg-config, shared and static, and both score the model's listings
# (run without meson's LD_LIBRARY_PATH, so the installed library is the one used).
set -eu
build=$1 model=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --destdir "$tmp/root" > "$tmp/install.log"
for f in include/loom.h bin/loom; do
    [ -e "$tmp/root/usr/local/$f" ] || { echo "missing $f"; find "$tmp/root"; exit 1; }
done
for f in libloom.so libloom.so.0 libloom.a pkgconfig/loom.pc; do
    [ -n "$(find "$tmp/root" -path "*/$f")" ] || { echo "missing $f"; find "$tmp/root"; exit 1; }
done
for mode in shared static; do
    OUT="$tmp/scorer-$mode" "$src/examples/backend/build.sh" "$tmp/root" $mode
    env -u LD_LIBRARY_PATH "$tmp/scorer-$mode" "$model/model.loom" "$model/listings.csv" --image-root "$model/photos" \
        -t 2 -b 4 | tee "$tmp/out"
    grep -q "scored 200 rows" "$tmp/out"
done
env -u LD_LIBRARY_PATH ldd "$tmp/scorer-shared" | grep -q "$tmp/root.*libloom.so.0"
if env -u LD_LIBRARY_PATH ldd "$tmp/scorer-static" | grep -q libloom; then echo "static scorer links libloom.so"; exit 1; fi
echo "install, pkg-config (shared and --static) and the scorer: ok"
