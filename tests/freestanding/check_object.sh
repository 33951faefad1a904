#!/bin/sh
# Checks a freestanding object ($1): it needs no symbol beyond the memory functions the compiler
# itself emits calls to (memset/memcpy/memmove; on 32-bit Arm their EABI forms __aeabi_memset*,
# __aeabi_memclr*, __aeabi_memcpy*, __aeabi_memmove*) and has no static constructors
# (.init_array/.ctors). With a compiler command after $1, compiles it to $1 first.
set -eu
obj=$1; shift
if [ $# -gt 0 ]; then "$@" -c -o "$obj"; fi
allowed='memset|memcpy|memmove|__aeabi_(memset|memclr|memcpy|memmove)[48]?'
undefined=$(llvm-nm -u "$obj" | awk '{print $NF}' | grep -vxE "$allowed" || true)
if [ -n "$undefined" ]; then echo "undefined symbols beyond the memory functions:"; echo "$undefined"; exit 1; fi
if llvm-readelf -S "$obj" | grep -qE '\.(init_array|ctors)'; then echo "static constructors found"; exit 1; fi
echo "ok: needs only $(llvm-nm -u "$obj" | awk '{print $NF}' | tr '\n' ' ')(no static constructors)"
