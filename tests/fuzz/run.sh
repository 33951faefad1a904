#!/bin/sh
# Runs the fuzz_ops target for a bounded time (PTLIB_FUZZ_SECONDS, default 30) from the seed
# corpus (tests/fuzz/corpus, written by make_corpus.py) and a corpus that grows from run to run:
# PTLIB_FUZZ_CORPUS, by default <work>-corpus next to the work directory (in the build tree,
# kept between runs). PTLIB_FUZZ_SAVE=1 afterwards merges the inputs that add coverage into the
# seed corpus in the source tree (libFuzzer -merge=1), to be committed. Crashes go to <work>.
set -eu
fuzzer=$1; seeds=$2; work=$3
corpus=${PTLIB_FUZZ_CORPUS:-$work-corpus}
rm -rf "$work"; mkdir -p "$work" "$corpus"
# -error_exitcode=1: libFuzzer exits 77 on a crash by default, which meson reads as "skipped".
# -max_len: a format byte, two set-up bytes and 48 operations of 9 bytes (fuzz_ops.cpp).
"$fuzzer" -error_exitcode=1 -timeout_exitcode=1 -max_total_time="${PTLIB_FUZZ_SECONDS:-30}" -max_len=435 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$work/" "$corpus" "$seeds"
if [ "${PTLIB_FUZZ_SAVE:-0}" = 1 ]; then
  "$fuzzer" -merge=1 -max_len=435 -rss_limit_mb=4096 "$seeds" "$corpus"
fi
