#!/bin/sh
# A pre-C++20 compiler mode must get ptlib's one #error naming the requirement and stop there: no
# diagnostic from any other ptlib header (C++20 syntax read as C++17 gives pages of them).
# Usage: requires_cxx20.sh <source root> <-std=...> <c++ compiler...>
set -u
src=$1; std=$2; shift 2
out=$(printf '#include <ptlib/ptlib.hpp>\nint main() {}\n' |
  "$@" "$std" -fsyntax-only -I "$src/include" -x c++ - 2>&1)
rc=$?
echo "$out"
[ $rc -ne 0 ] || { echo "FAIL: compiled with $std"; exit 1; }
echo "$out" | grep -q 'error: .*ptlib requires C++20 (__cplusplus >= 202002L): compile with -std=c++20' ||
  { echo "FAIL: no '#error ... ptlib requires C++20'"; exit 1; }
# Diagnostics are "file:line:col: kind: ...". All must come from config.hpp: the #error, then the
# fatal stop (an include that cannot exist, named after the requirement).
others=$(echo "$out" | grep -E '^[^ ]+:[0-9]+:[0-9]+: (fatal error|error|warning|note):' | grep -v '/include/ptlib/config\.hpp:' || true)
[ -z "$others" ] || { echo "FAIL: diagnostics from elsewhere:"; echo "$others"; exit 1; }
errors=$(echo "$out" | grep -cE ': (fatal error|error):')
[ "$errors" -le 2 ] || { echo "FAIL: $errors errors, want the #error and the stop"; exit 1; }
echo "ok: one #error for $std, compilation stopped"
