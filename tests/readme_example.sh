#!/bin/sh
# Extracts the README's C++ example, compiles it against this tree and runs it.
set -eu
src=$1; out=$2; shift 2
awk '/^```cpp/{f=1;next} /^```/{if(f){exit}} f' "$src/README.md" > "$out.cpp"
printf '\nint main() { return build() ? 0 : 1; }\n' >> "$out.cpp"
"$@" -std=c++20 -Wall -Wextra -Werror -I"$src/include" -I"$src/arch/riscv" "$out.cpp" -o "$out"
"$out"
