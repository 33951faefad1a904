#!/usr/bin/env bash
# Runs the benchmark suite (the project's default build type, -O2, in build-bench/, or $PTLIB_BENCH_BUILD) and writes
# docs/benchmarks.md (tables of times and ratios) and docs/benchmarks.png (gnuplot); the raw
# results stay in the build directory (benchmarks.json). Extra arguments go to the benchmark
# binary, e.g. --benchmark_filter=W1.
# PTLIB_BENCH_REPS sets the repetitions (default 5). Needs gnuplot (Debian: gnuplot-nox).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${PTLIB_BENCH_BUILD:-build-bench}
reps=${PTLIB_BENCH_REPS:-5}
[ -d "$build" ] || meson setup "$build" -Dfuzz=disabled -Ddemos=false  # the default build type (-O2)
ninja -C "$build" bench/ptlib-bench
mkdir -p docs
"$build/bench/ptlib-bench" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_out="$build/benchmarks.json" --benchmark_out_format=json "$@"
python3 bench/report.py "$build/benchmarks.json" docs/benchmarks.md "$build/bench-plot.dat"
gnuplot -e "datafile='$build/bench-plot.dat'; outfile='docs/benchmarks.png'" bench/plot.gp
echo "wrote docs/benchmarks.md and docs/benchmarks.png (raw results: $build/benchmarks.json)"
