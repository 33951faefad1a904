#!/bin/sh
# Code size of ptlib in a riscv64 Sv39 kernel (clang -Os, freestanding, header-only): .text of
# kernel_full.cpp (linear map + image by sections + a device page + satp) and kernel_map.cpp
# (map() only), in bytes, and what a second format (Sv48) adds to the map() probe. With --check, fails when a size exceeds its budget
# (see docs/benchmarks.md, "Code size").
# usage: tests/size/measure.sh SOURCE_ROOT WORK_DIR [--check FULL_MAX MAP_MAX]
set -eu
src=$1
work=$2
mkdir -p "$work"
flags="--target=riscv64-unknown-elf -march=rv64imac -mabi=lp64 -mcmodel=medany -std=c++20 -Os
  -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-stack-protector -nostdlib -nostdlibinc
  -ffunction-sections -fdata-sections -Wno-pragma-once-outside-header
  -isystem /usr/include/c++/12 -isystem /usr/include/x86_64-linux-gnu/c++/12 -isystem $src/cross/shim
  -I$src/include -I$src/arch -I$src/arch/riscv -I$src/arch/arm64 -I$src/arch/x86 -I$src/arch/arm"
text() {
  # Link the probe alone (entry = its function; memset/memcpy left undefined) with unused
  # sections dropped, so .text is what the kernel would carry.
  clang++ $flags -c "$src/tests/size/$1.cpp" -o "$work/$1.o"
  ld.lld -m elf64lriscv --gc-sections -e "$2" --unresolved-symbols=ignore-all -o "$work/$1.elf" "$work/$1.o"
  llvm-size -A "$work/$1.elf" | awk '$1 == ".text" { print $2 }'
}
full=$(text kernel_full kernel_tables)
one=$(text kernel_map kernel_map)
two=$(text kernel_map2 kernel_map2)
echo "riscv64 sv39 -Os .text: map_linear+map_image+device page+satp $full bytes; map() only $one bytes; map() of Sv39 and Sv48 $two bytes (the second format adds $((two - one)))"
if [ "${3:-}" = "--check" ]; then
  status=0
  [ "$full" -le "$4" ] || { echo "FAIL: full kernel $full > $4 bytes"; status=1; }
  [ "$one" -le "$5" ] || { echo "FAIL: map() only $one > $5 bytes"; status=1; }
  exit $status
fi
