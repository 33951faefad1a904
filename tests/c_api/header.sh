#!/bin/sh
# ptlib.h alone: C99 with gcc and clang (-Wall -Wextra -pedantic -Werror), C11, and C++ (g++,
# clang++), freestanding (-ffreestanding -nostdinc with only the compiler's own headers).
# Usage: header.sh <source root> <work dir>
set -eu
src=$1
work=$2
mkdir -p "$work"
cat > "$work/use.c" <<'C'
#include <ptlib.h>
/* Every type and macro used once, so the compilers see them all. */
ptlib_status use(const ptlib_tree* t, const ptlib_memory* m);
/* A pool sized at compile time (a constant expression in every language mode). */
static uint64_t pool[PTLIB_POOL_BYTES(PTLIB_ARM64_4K_48_TTBR1,
                                      PTLIB_REGION_TABLES(PTLIB_ARM64_4K_48_TTBR1, 0xffff000000000000u, 1u << 30) +
                                          PTLIB_REGION_TABLES_ANYWHERE(PTLIB_ARM64_4K_48_TTBR1, 2u << 20)) / 8];
ptlib_status use(const ptlib_tree* t, const ptlib_memory* m) {
  ptlib_ext x = {PTLIB_SHARE_OUTER, 0, PTLIB_ACCESSED_SET, PTLIB_DIRTY_IF_WRITABLE, 0};
  ptlib_options o = {0, PTLIB_OPT_NO_CONTIGUOUS, PTLIB_LIVE_REFUSE, 0, 0};
  ptlib_report r;
  ptlib_error e;
  ptlib_shared_kernel k;
  ptlib_attrs a = PTLIB_R | PTLIB_W | PTLIB_G | PTLIB_MEM_DEVICE;
  o.ext = &x;
  if (ptlib_shared_kernel_init(&k, t, 0, 4096, 0, pool, sizeof pool / sizeof pool[0] / PTLIB_POOL_ALIGN(PTLIB_SV39), &e))
    return e.code;
  return ptlib_map(t, m, 0, 0, 4096, a, &o, &r, &e);
}
C
cp "$work/use.c" "$work/use.cpp"
status=0
run() {
  if "$@"; then echo "ok   $*"; else echo "FAIL $*"; status=1; fi
}
warn="-Wall -Wextra -pedantic -Werror"
for cc in gcc clang; do
  command -v $cc >/dev/null || { echo "skip $cc (not installed)"; continue; }
  for std in c99 c11; do
    run $cc -std=$std $warn -I "$src/include" -c "$work/use.c" -o "$work/use-$cc-$std.o"
  done
  # Freestanding: the compiler's own stdint/stddef/stdbool only.
  inc=$($cc -print-file-name=include)
  run $cc -std=c99 $warn -ffreestanding -nostdinc -isystem "$inc" -I "$src/include" -c "$work/use.c" -o "$work/use-$cc-fs.o"
done
for cxx in g++ clang++; do
  command -v $cxx >/dev/null || { echo "skip $cxx (not installed)"; continue; }
  for std in c++11 c++20; do
    run $cxx -std=$std $warn -I "$src/include" -c "$work/use.cpp" -o "$work/use-$cxx-$std.o"
  done
done
exit $status
