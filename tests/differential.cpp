// Tier 2 differential test: random sequences of map / unmap / protect / compact with random sizes
// (pages, blocks, contiguous runs), attributes and options on every format, checked after every
// operation against an independent interval model (translate at the boundaries and inside the
// range) and against validate(); a full leaf walk is compared with the model after every split
// and every 64 operations. A failure prints its seed and a shrunk op list that replays it.
//
// PTLIB_DIFF_OPS (environment) sets the total number of operations across all formats
// (default 1,000,000). PTLIB_DIFF_SEED=0 or 1 runs only that seed's half (meson runs the two
// halves as two tests, in parallel).
#include <sstream>

#include "differential.hpp"
#include "support.hpp"

using namespace diff;
using test::EngineFormats;

namespace {

std::uint64_t total_ops() {
  if (const char* s = std::getenv("PTLIB_DIFF_OPS")) return std::strtoull(s, nullptr, 0);
  return 1'000'000;
}

template <class F>
void run_differential(std::uint64_t seed, std::uint64_t ops) {
  const Workload<F> w;
  Runner<F> r(w.w0, w.window);
  std::mt19937_64 rng(seed);
  std::vector<Op> done;
  done.reserve(std::size_t(ops));
  for (std::uint64_t i = 0; i < ops; ++i) {
    done.push_back(w.next(rng));
    if (auto f = r.step(done.back(), i)) {
      const auto small = shrink<F>(done);
      std::ostringstream os;
      os << F::kName << " seed " << seed << " op #" << i << ": " << *f << "\n";
      os << "shrunk to " << small.size() << " ops (replay with replay<" << F::kName << ">({...})):\n";
      for (const auto& o : small) os << "  " << to_string(o) << ",\n";
      if (auto again = replay<F>(small)) os << "  -> " << *again << "\n";
      FAIL(os.str());
    }
  }
  CHECK(r.whole_tree() == std::nullopt);
  // The workload really exercised every operation and the interesting paths.
  INFO(F::kName << ": ok map/unmap/protect/compact " << r.ok[0] << "/" << r.ok[1] << "/" << r.ok[2] << "/" << r.ok[3]
                << ", refused " << r.refused << ", splits " << r.splits << ", released " << r.released << ", folds "
                << r.folds);
  if (ops >= 2000) {
    CHECK((r.ok[0] && r.ok[1] && r.ok[2] && r.ok[3]));
    CHECK(r.refused > 0);
    CHECK(r.splits > 0);
    CHECK(r.released > 0);
    CHECK(r.folds > 0);
  }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("random map/unmap/protect/compact sequences agree with an interval model and validate",
                        "[differential]", EngineFormats) {
  const std::uint64_t seed = GENERATE(0, 1);  // two seeds per format
  if (const char* only = std::getenv("PTLIB_DIFF_SEED"); only && std::strtoull(only, nullptr, 0) != seed) return;
  const std::uint64_t per_run = total_ops() / (std::tuple_size_v<EngineFormats> * 2);
  run_differential<TestType>(0x5EED'0000 + seed, per_run);
}
