#!/bin/sh
# Builds tests/consumer with this source tree as its 'ptlib' subproject, runs it, and checks the
# dump shows the two 2 MiB pages it mapped.
set -eu
src=$1; work=$2
rm -rf "$work"; mkdir -p "$work/subprojects"
cp "$src/tests/consumer/meson.build" "$src/tests/consumer/main.cpp" "$work/"
ln -s "$src" "$work/subprojects/ptlib"
meson setup "$work/build" "$work" > "$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 1; }
ninja -C "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
out=$("$work/build/consumer")
echo "$out"
echo "$out" | grep -q '^0xffff800000000000-0xffff800000400000 -> 0x0000000000000000    4M      2 x 2M   PD '
