#!/bin/sh
# Builds a ptlib translation unit in a small external project configured with a shipped cross
# file, then checks the object with check_object.sh (nothing undefined beyond the memory
# functions, no static constructors):
#   meson: tests/freestanding/usage.cpp (the whole engine for the target architecture's formats), cross/meson/<t>.ini,
#          ptlib as a subproject;
#   cmake: <source> (default tests/freestanding/usage.cpp), cross/cmake/<t>.cmake.
# Usage: cross_build.sh meson|cmake <source root> <target> <work dir> [source]
set -eu
mode=$1; src=$2; target=$3; work=$4; source=${5:-$src/tests/freestanding/usage.cpp}
rm -rf "$work"; mkdir -p "$work"
if [ "$mode" = meson ]; then
  mkdir -p "$work/project/subprojects"
  cp "$src/tests/freestanding/cross-project/meson.build" "$work/project/"
  cp "$source" "$work/project/usage.cpp"
  ln -s "$src" "$work/project/subprojects/ptlib"
  # The cross file wants to know where ptlib is (for cross/shim): a second machine file says it.
  printf "[constants]\nptlib = '%s'\n" "$src" > "$work/ptlib-path.ini"
  meson setup --cross-file "$src/cross/meson/$target.ini" --cross-file "$work/ptlib-path.ini" \
    "$work/build" "$work/project" > "$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 1; }
  meson compile -C "$work/build" usage > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
  obj=$(find "$work/build" -name 'usage.cpp.o' | head -n 1)
  # The command the object was built with (from the cross file).
  grep -o '"command": "[^"]*usage.cpp[^"]*"' "$work/build/compile_commands.json" | head -n 1
else
  command -v cmake > /dev/null || { echo "SKIP: cmake is not installed (apt-get install cmake)"; exit 77; }
  cmake -S "$src/tests/freestanding/cmake-project" -B "$work/build" \
    -DCMAKE_TOOLCHAIN_FILE="$src/cross/cmake/$target.cmake" -DPTLIB_SOURCE_DIR="$src" \
    -DPTLIB_TEST_SOURCE="$source" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$work/setup.log" 2>&1 ||
    { cat "$work/setup.log"; exit 1; }
  cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
  obj=$(find "$work/build" -name '*.o' -o -name '*.obj' | head -n 1)
  grep -o '"command": "[^"]*"' "$work/build/compile_commands.json" | head -n 1
fi
[ -n "$obj" ] || { echo "FAIL: no object built in $work/build"; exit 1; }
exec "$src/tests/freestanding/check_object.sh" "$obj"
