#!/bin/sh
# check_exports.sh NM LIBRARY HEADER — the shared library exports exactly the
# LOOM_API functions declared in include/loom.h: nothing else (no internal
# loom_* symbol, no symbol of a library linked in), nothing missing.
set -eu
nm=$1 lib=$2 header=$3
exported=$("$nm" -D --defined-only "$lib" | awk '{print $3}' | sort)
declared=$(grep -v '^#' "$header" | tr '\n' ' ' | grep -o 'LOOM_API [^(;]*(' |
           sed 's/($//; s/.*[ *]//' | sort)
if [ "$exported" != "$declared" ]; then
    echo "exported but not declared:"; echo "$exported" | grep -vxF "$declared" || true
    echo "declared but not exported:"; echo "$declared" | grep -vxF "$exported" || true
    exit 1
fi
echo "$(echo "$exported" | wc -l) symbols, all declared in loom.h"
