#!/bin/sh
# The README's main job: boots every demo kernel under QEMU (meson suite 'qemu', built by
# `meson compile`) and prints one line per boot: format, levels, tables used, PASS/FAIL, time.
# usage: demo/boot-all.sh [build dir]   (exit status 0 only when every boot passed)
set -u
build=${1:-build}
here=$(dirname "$0")
meson test -C "$build" --suite qemu --no-rebuild --num-processes 2 \
  --logbase qemu-boots >/dev/null 2>&1
python3 "$here/summary.py" "$build/meson-logs/qemu-boots.json"
