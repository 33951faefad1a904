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

# cmake_consumer <prefix> <build dir>: configure, build and run tests/cmake-consumer against it.
cmake_consumer() {
  cmake -S "$src/tests/cmake-consumer" -B "$2" -DCMAKE_PREFIX_PATH="$1" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
    > "$2.configure.log" 2>&1 || { cat "$2.configure.log"; exit 1; }
  # The package must be the one just installed, not one elsewhere on the machine.
  dir=$(sed -n 's/^ptlib_DIR:PATH=//p' "$2/CMakeCache.txt")
  case "$dir" in "$1"/*) echo "cmake: ptlib_DIR=$dir" ;;
    *) echo "FAIL: CMake found ptlib at '$dir', not under $1"; exit 1 ;; esac
  cmake --build "$2" > "$2.build.log" 2>&1 || { cat "$2.build.log"; exit 1; }
  out=$("$2/consumer")
  echo "$out" | grep -qF "$want" || { echo "FAIL: the CMake consumer printed:"; echo "$out"; exit 1; }
  "$2/c_consumer" || { echo "FAIL: the C consumer (ptlib::c)"; exit 1; }
}

if [ "$mode" = cmake ]; then
  cmake_consumer "$root" "$work/cmake"
  echo "cmake consumer (DESTDIR install): ok"
  # The same tree moved elsewhere: the package finds its files relative to itself.
  mv "$work/dest" "$work/moved"
  cmake_consumer "$work/moved$prefix" "$work/cmake-moved"
  echo "cmake consumer (moved tree): ok"
  exit 0
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
echo "$out" | grep -qF "$want" || { echo "FAIL: the pkg-config consumer printed:"; echo "$out"; exit 1; }
echo "pkg-config consumer: ok"
# The C API with a C compiler: pkg-config ptlib-c.
cflags=$(PKG_CONFIG_PATH=$pcdir pkg-config --define-prefix --cflags --libs ptlib-c)
echo "pkg-config (C): $cflags"
${CC:-cc} -std=c99 "$src/tests/cmake-consumer/c_consumer.c" $cflags -o "$work/pc-c-consumer" ||
  { echo "FAIL: compiling C against pkg-config ptlib-c"; exit 1; }
"$work/pc-c-consumer" || { echo "FAIL: the C consumer (pkg-config ptlib-c)"; exit 1; }
echo "pkg-config C consumer: ok"
