#!/bin/sh
# Installs ptlib's development files from a meson build dir into a DESTDIR (so the package is used
# from a prefix it was not configured for), then, by mode:
#  cmake:      builds tests/cmake-consumer with CMake against it (find_package(ptlib CONFIG):
#              ptlib::host, ptlib::ptlib, C++20 from the target) and runs the program;
#  pkg-config: builds tests/consumer/main.cpp with
#              `pkg-config --define-prefix --cflags --libs ptlib-host` and runs it.
# Usage: run.sh cmake|pkg-config <source root> <meson build dir> <work dir> <c++ compiler...>
set -eu
mode=$1; src=$2; build=$3; work=$4; shift 4
if [ "$mode" = cmake ] && ! command -v cmake > /dev/null; then
  echo "SKIP: cmake is not installed (apt-get install cmake)"; exit 77
fi
rm -rf "$work"; mkdir -p "$work"
meson install -C "$build" --no-rebuild --quiet --tags devel --destdir "$work/dest" > "$work/install.log" 2>&1 ||
  { cat "$work/install.log"; exit 1; }
prefix=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root=$work/dest$prefix
want='0xffff800000000000-0xffff800000400000 -> 0x0000000000000000    4M      2 x 2M   PD '

if [ "$mode" = cmake ]; then
  cmake -S "$src/tests/cmake-consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$root" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
    > "$work/cmake-configure.log" 2>&1 || { cat "$work/cmake-configure.log"; exit 1; }
  # The package must be the one just installed, not one elsewhere on the machine.
  dir=$(sed -n 's/^ptlib_DIR:PATH=//p' "$work/cmake/CMakeCache.txt")
  case "$dir" in "$root"/*) echo "cmake: ptlib_DIR=$dir" ;;
    *) echo "FAIL: CMake found ptlib at '$dir', not under $root"; exit 1 ;; esac
  cmake --build "$work/cmake" > "$work/cmake-build.log" 2>&1 || { cat "$work/cmake-build.log"; exit 1; }
  out=$("$work/cmake/consumer")
  if echo "$out" | grep -qF "$want"; then echo "cmake consumer: ok"; exit 0; fi
  echo "FAIL: the CMake consumer printed:"; echo "$out"; exit 1
fi

pcdir=$(find "$root" -name ptlib-host.pc -printf '%h\n' | head -n 1)
[ -n "$pcdir" ] || { echo "FAIL: no ptlib-host.pc installed under $root"; exit 1; }
flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --define-prefix --cflags --libs ptlib-host)
std=$(PKG_CONFIG_PATH=$pcdir pkg-config --define-prefix --variable=cxx_std ptlib-host)
echo "pkg-config: -std=$std $flags"
case "$flags" in *"-I$root/include"*) ;; *) echo "FAIL: --cflags lack -I$root/include"; exit 1 ;; esac
"$@" -std="$std" "$src/tests/consumer/main.cpp" $flags -o "$work/pc-consumer" ||
  { echo "FAIL: compiling against the pkg-config flags"; exit 1; }
out=$("$work/pc-consumer")
if echo "$out" | grep -qF "$want"; then echo "pkg-config consumer: ok"; exit 0; fi
echo "FAIL: the pkg-config consumer printed:"; echo "$out"; exit 1
