#!/bin/sh
# Runs the fuzz_ops target for a bounded time (PTLIB_FUZZ_SECONDS, default 30) from the
# committed corpus (tests/fuzz/corpus: make_corpus.py's hand-made lifecycles and the inputs
# earlier fuzzing found) and a corpus that grows from run to run: PTLIB_FUZZ_CORPUS, by default
# <work>-corpus next to the work directory (in the build tree, kept between runs).
# PTLIB_FUZZ_SAVE=1 afterwards merges into the committed corpus the inputs that reach code it
# does not (libFuzzer -merge=1 with -use_counters=0: new edges only, not new hit counts, which
# keeps it small), to be committed. libFuzzer runs every input of both corpora before the time
# limit counts: the committed corpus must stay quick to run (1,003 inputs: about 3 s under ASan).
# Crashes go to <work>.
set -eu
fuzzer=$1; seeds=$2; work=$3
corpus=${PTLIB_FUZZ_CORPUS:-$work-corpus}
rm -rf "$work"; mkdir -p "$work" "$corpus"
# -error_exitcode=1: libFuzzer exits 77 on a crash by default, which meson reads as "skipped".
# -max_len: a format byte, two set-up bytes and 48 operations of 9 bytes (fuzz_ops.cpp).
# -entropic=0: libFuzzer 14's entropic schedule keeps every coverage feature seen fewer than 256
# times in a list it searches linearly for each feature of each run; with the ~100,000 features
# of this target (19 formats' engines) that search took 58% of the time (perf), more than the
# target itself. Without it: 2.6 to 3.4 times the runs per second and more edges reached in the
# same time (60 s runs from the committed corpus).
"$fuzzer" -error_exitcode=1 -timeout_exitcode=1 -max_total_time="${PTLIB_FUZZ_SECONDS:-30}" -max_len=435 -entropic=0 \
  -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$work/" "$corpus" "$seeds"
if [ "${PTLIB_FUZZ_SAVE:-0}" = 1 ]; then
  "$fuzzer" -merge=1 -use_counters=0 -max_len=435 -rss_limit_mb=4096 "$seeds" "$corpus"
fi
