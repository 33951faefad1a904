// The benchmark binary: registers every benchmark of the suite and runs Google Benchmark. Exits
// with 1 when a benchmark reported an error (a failed or wrong build), so a smoke run is a test.
#include <benchmark/benchmark.h>

#include <vector>

namespace bench {
void register_workloads();
void register_strategies();
void register_pagewise();
}  // namespace bench

namespace {
class CheckingReporter : public benchmark::ConsoleReporter {
 public:
  bool failed = false;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) failed |= r.error_occurred;
    ConsoleReporter::ReportRuns(runs);
  }
};
}  // namespace

int main(int argc, char** argv) {
  bench::register_workloads();
  bench::register_strategies();
  bench::register_pagewise();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  CheckingReporter console;
  benchmark::RunSpecifiedBenchmarks(&console);
  benchmark::Shutdown();
  return console.failed ? 1 : 0;
}
