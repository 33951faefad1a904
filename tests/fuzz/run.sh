#!/bin/sh
# Runs the fuzz_ops target for a bounded time (PTLIB_FUZZ_SECONDS, default 30) from the seed
# corpus; new inputs and any crash go to the work directory, never into the source tree.
set -eu
fuzzer=$1; seeds=$2; work=$3
rm -rf "$work"; mkdir -p "$work/corpus"
# -max_len: a format byte and 48 operations of 9 bytes (fuzz_ops.cpp).
exec "$fuzzer" -max_total_time="${PTLIB_FUZZ_SECONDS:-30}" -max_len=433 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "$seeds"
