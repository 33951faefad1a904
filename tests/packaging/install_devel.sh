#!/bin/sh
# `meson install --tags devel` into a DESTDIR must install the development files only: headers,
# pkg-config files, the CMake package, and the static libraries (libptlib_host.a, which
# ptlib-host.pc and ptlib::host link, libptlib_c.a and libptlib_engine.a for the C API; meson
# tags static libraries `devel`). No tool, test or demo.
# Usage: install_devel.sh <meson build dir> <work dir>
set -eu
build=$1; work=$2
rm -rf "$work"; mkdir -p "$work"
meson install -C "$build" --no-rebuild --quiet --tags devel --destdir "$work/dest" > "$work/install.log" 2>&1 ||
  { cat "$work/install.log"; exit 1; }
opt() { meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"; }
prefix=$(opt prefix); libdir=$(opt libdir); datadir=$(opt datadir); includedir=$(opt includedir)
(cd "$work/dest$prefix" && find . -type f -o -type l | sed 's|^\./||' | sort) > "$work/files.txt"
echo "installed under $prefix:"; sed 's/^/  /' "$work/files.txt"
status=0
unexpected=$(grep -vxE "$includedir/ptlib/(cpu/)?[A-Za-z0-9_-]+\.hpp|$includedir/ptlib\.h|$datadir/pkgconfig/ptlib(-host|-c)?\.pc|$libdir/cmake/ptlib/ptlib(ConfigVersion|Config)\.cmake|$libdir/libptlib_[a-z_]+\.a" "$work/files.txt" || true)
if [ -n "$unexpected" ]; then echo "FAIL: not development files:"; echo "$unexpected"; status=1; fi
for f in "$includedir/ptlib/ptlib.hpp" "$includedir/ptlib/formats.hpp" "$includedir/ptlib/cpu/riscv.hpp" "$datadir/pkgconfig/ptlib.pc" \
         "$includedir/ptlib.h" "$datadir/pkgconfig/ptlib-c.pc" "$libdir/libptlib_c.a" \
         "$libdir/cmake/ptlib/ptlibConfig.cmake" "$libdir/cmake/ptlib/ptlibConfigVersion.cmake"; do
  grep -qxF "$f" "$work/files.txt" || { echo "FAIL: $f was not installed"; status=1; }
done
exit $status
