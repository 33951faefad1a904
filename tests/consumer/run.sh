#!/bin/sh
# Builds tests/consumer with ptlib as its subproject through the shipped wrap file
# (packaging/ptlib.wrap): this source tree is copied into a scratch git repository, the wrap's url
# is pointed at it (the only line changed), and meson clones it into subprojects/ptlib. The
# program runs and its dump must show the two 2 MiB pages it mapped.
set -eu
src=$1; work=$2
rm -rf "$work"; mkdir -p "$work/project/subprojects" "$work/ptlib"
# What a ptlib subproject needs (tools/, tests/ and the rest are for the top-level project only).
for f in meson.build meson_options.txt LICENSE include arch src cmake; do
  cp -R "$src/$f" "$work/ptlib/"
done
git -C "$work/ptlib" init -q
git -C "$work/ptlib" add -A
git -C "$work/ptlib" -c user.name=ptlib-test -c user.email=ptlib-test@invalid commit -q -m snapshot
cp "$src/tests/consumer/meson.build" "$src/tests/consumer/main.cpp" "$work/project/"
grep -q '^url = ' "$src/packaging/ptlib.wrap" || { echo "FAIL: packaging/ptlib.wrap has no url line"; exit 1; }
sed "s|^url = .*|url = file://$work/ptlib|" "$src/packaging/ptlib.wrap" > "$work/project/subprojects/ptlib.wrap"
# force_fallback_for: take the wrap even if pkg-config finds an installed ptlib on this machine.
meson setup -Dforce_fallback_for=ptlib,ptlib-host "$work/build" "$work/project" > "$work/setup.log" 2>&1 ||
  { cat "$work/setup.log"; exit 1; }
grep -q 'Cloning into' "$work/setup.log" || grep -q 'Executing subproject ptlib' "$work/setup.log" ||
  { cat "$work/setup.log"; echo "FAIL: ptlib did not come from the wrap"; exit 1; }
[ -f "$work/project/subprojects/ptlib/include/ptlib/ptlib.hpp" ] ||
  { echo "FAIL: the wrap did not fetch ptlib into subprojects/ptlib"; exit 1; }
ninja -C "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
out=$("$work/build/consumer")
echo "$out"
echo "$out" | grep -q '^0xffff800000000000-0xffff800000400000 -> 0x0000000000000000    4M      2 x 2M   PD '
