#!/bin/sh
# Extracts the README's C example, compiles it as C99 against ptlib.h and the built libraries,
# and runs it. Usage: readme_c.sh <source root> <out path> <build root> <C compiler...>
set -eu
src=$1; out=$2; build=$3; shift 3
awk '/^```c$/{f=1;next} /^```/{if(f){exit}} f' "$src/README.md" > "$out.c"
[ -s "$out.c" ] || { echo "no \`\`\`c block in README.md"; exit 1; }
"$@" -std=c99 -Wall -Wextra -pedantic -Werror -I"$src/include" "$out.c" -o "$out" \
  -L"$build" -lptlib_c -lptlib_engine -lstdc++
"$out"
