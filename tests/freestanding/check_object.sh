#!/bin/sh
# Compiles a freestanding TU to an object ($1 = output, rest = compiler command) and checks that it
# needs no symbol beyond memset/memcpy/memmove and has no static constructors (.init_array/.ctors).
set -eu
obj=$1; shift
"$@" -c -o "$obj"
undefined=$(llvm-nm -u "$obj" | awk '{print $NF}' | grep -vxE 'memset|memcpy|memmove' || true)
if [ -n "$undefined" ]; then echo "undefined symbols beyond memset/memcpy/memmove:"; echo "$undefined"; exit 1; fi
if llvm-readelf -S "$obj" | grep -qE '\.(init_array|ctors)'; then echo "static constructors found"; exit 1; fi
echo "ok: $(llvm-nm -u "$obj" | wc -l) undefined (memset/memcpy/memmove only), no static constructors"
