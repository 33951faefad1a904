#!/bin/sh
# The C API as a freestanding static library for one target: src/c_api.cpp compiled once with
# clang at -Os (the engine instantiated in that one translation unit for the families asked),
# archived as libptlib_c.a, checked to need nothing beyond the memory functions and to have no
# static constructors, and its .text size printed. The target flags are those of the shipped
# cross file (the ptlib_target_args line of cross/meson/<target>.ini).
# Usage: freestanding.sh <source root> <target> <out dir> [families: a PTLIB_C_FAMILIES value,
#        1 RISC-V | 2 arm64 | 4 x86 | 8 ARMv7; default 15 = all]
set -eu
src=$1; target=$2; out=$3; families=${4:-15}
mkdir -p "$out"
targs=$(sed -n "s/^ptlib_target_args = \[\(.*\)\]/\1/p" "$src/cross/meson/$target.ini" | tr -d "',")
[ -n "$targs" ] || { echo "no ptlib_target_args in cross/meson/$target.ini"; exit 1; }
obj="$out/c_api-$target-$families.o"
# shellcheck disable=SC2086
clang++ $targs -std=c++20 -Os -Wall -Wextra -Werror -Wno-pragma-once-outside-header \
  -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-stack-protector -fno-jump-tables \
  -ffunction-sections -fdata-sections -nostdlib -nostdlibinc \
  -isystem /usr/include/c++/12 -isystem /usr/include/x86_64-linux-gnu/c++/12 -isystem "$src/cross/shim" \
  -I "$src/include" -I "$src/arch" -I "$src/arch/riscv" -I "$src/arch/arm64" -I "$src/arch/x86" -I "$src/arch/arm" \
  -DPTLIB_C_FAMILIES="$families" -c "$src/src/c_api.cpp" -o "$obj"
lib="$out/libptlib_c-$target-$families.a"
rm -f "$lib"
llvm-ar rcs "$lib" "$obj"
"$src/tests/freestanding/check_object.sh" "$obj"
text=$(llvm-size -A "$obj" | awk '$1 ~ /^\.text/ {t += $2} END {print t}')
echo "$target families=$families .text $text bytes ($lib)"
