// Tier 2 differential test, live and hostile (issue 12, "tests that would have found these"): the
// random map / unmap / protect / compact sequences of differential.cpp, each op still checked
// against the interval model, translate and validate(), now also
//  - under Live::refuse and Live::break_before_make with a TLB model fed by the sync hook
//    (differential_live.hpp: no moment at which a VA has two translations the architecture
//    forbids to coexist, no contiguous run with mixed entries, nothing stale after a call; a
//    refused call changes nothing, calls no hook, and is refused only when something in its
//    range needs break-before-make);
//  - with allocators failing at every allocation index of every op, honestly and as liars;
//  - over an Arena whose base PA is not table-aligned, and small arenas that run out;
//  - in windows at the bottom and top of both halves of each format's VA space, with blocks
//    at every level that can hold one and PAs at the format's limit.
// A failure prints its seed, the window and a shrunk op list.
//
// Each case ends with sums that say it exercised what it is about (out of memory, folds, splits,
// refusals, probes); they hold at the default count and at CI's sanitizer count
// (PTLIB_DIFF_OPS=120000, runs of kMinOps ops) with the seeds below: the workload's follow-ups
// (Area::next) make folds and splits happen within a few ops, and the small arena runs out at
// its second block. Other PTLIB_DIFF_LIVE_SEED values at that count can miss a split on some
// formats of the live case, or an out-of-memory.
//
// PTLIB_DIFF_LIVE_OPS (environment) sets the total number of operations across all cases and
// formats (default 25,000); without it, PTLIB_DIFF_OPS scales the default the way it scales
// differential.cpp (PTLIB_DIFF_OPS / 1,000,000 of it); PTLIB_DIFF_LIVE_SEED shifts every seed.
#include <functional>
#include <sstream>

#include "differential_live.hpp"
#include "support.hpp"

using namespace diff;
using test::EngineFormats;

namespace {

std::uint64_t total_ops() {
  if (const char* s = std::getenv("PTLIB_DIFF_LIVE_OPS")) return std::strtoull(s, nullptr, 0);
#if defined(PTLIB_DIFF_LIVE_DEFAULT_OPS)
  constexpr std::uint64_t kDefault = PTLIB_DIFF_LIVE_DEFAULT_OPS;
#else
  constexpr std::uint64_t kDefault = 25'000;
#endif
  if (const char* s = std::getenv("PTLIB_DIFF_OPS")) return kDefault * std::strtoull(s, nullptr, 0) / 1'000'000;
  return kDefault;
}
constexpr std::uint64_t kFormats = std::tuple_size_v<EngineFormats>;
/// Every run gets at least this many ops (with its follow-ups, enough for each case's sums).
constexpr std::uint64_t kMinOps = 16;

/// One run's set-up: where, which policy, which memory.
struct Config {
  std::size_t depth;
  int where;
  bool pa_top;
  Live live;
  bool probe = false;
  bool odd = false;  // small arena at a base PA that is not table-aligned
};

const char* name(Live l) {
  return l == Live::offline ? "offline" : l == Live::refuse ? "refuse" : "break_before_make";
}

template <class F>
LiveRunner<F> make_runner(const Area<F>& w, const Config& c) {
  using G = Geometry<F>;
  // 256 last-level tables: four times the most any run uses (62, measured); filling a 64 MiB
  // arena with garbage for every run was most of the run time of short runs.
  if (!c.odd) return LiveRunner<F>(w.w0, w.window, c.live, G::table_bytes(0) + 256 * G::table_bytes(G::kDepth - 1));
  // Room for the root and kDepth tables, placed at 0x1000_1020: every table PA must be aligned
  // up from there (the arena loses up to one table's alignment to that), which leaves one path
  // of tables: pages in a second block run out.
  const std::size_t bytes = G::table_align(0) + G::kDepth * G::table_align(G::kDepth - 1);
  return LiveRunner<F>(w.w0, w.window, c.live, bytes, 0x1000'1020, true);
}

template <class F>
std::optional<std::string> replay(const Area<F>& w, const Config& c, const std::vector<Op>& ops) {
  LiveRunner<F> r = make_runner<F>(w, c);
  r.probe = c.probe;
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (auto f = r.step(ops[i], i, true)) return fmt::format("op #{}: {}", i, *f);
  return std::nullopt;
}

template <class F>
std::vector<Op> shrink(const Area<F>& w, const Config& c, std::vector<Op> ops) {
  int budget = 300;
  for (std::size_t chunk = ops.size() / 2; chunk >= 1 && budget > 0; chunk /= 2)
    for (std::size_t at = 0; at + chunk <= ops.size() && budget > 0;) {
      std::vector<Op> fewer(ops.begin(), ops.begin() + std::ptrdiff_t(at));
      fewer.insert(fewer.end(), ops.begin() + std::ptrdiff_t(at + chunk), ops.end());
      --budget;
      if (replay<F>(w, c, fewer)) ops = std::move(fewer);
      else at += chunk;
    }
  return ops;
}

/// What the runs of one format exercised.
struct Totals {
  std::uint64_t runs = 0, ops = 0, ok[4] = {}, refused = 0, splits = 0, folds = 0, publishes = 0, invalidates = 0,
                bbm_refusals = 0, probes = 0, liar_failures = 0, ooms = 0;
  std::string text() const {
    return fmt::format("{} runs, {} ops; ok map/unmap/protect/compact {}/{}/{}/{}, refused {}, splits {}, folds {}, publishes {}, "
                       "invalidates {}, bbm refusals {}, allocation probes {} (liar failures {}), out of memory {}",
                       runs, ops, ok[0], ok[1], ok[2], ok[3], refused, splits, folds, publishes, invalidates, bbm_refusals,
                       probes, liar_failures, ooms);
  }
};

/// PTLIB_DIFF_LIVE_SEED (environment) is added to every run's seed: other sequences than CI's.
std::uint64_t seed_offset() {
  const char* s = std::getenv("PTLIB_DIFF_LIVE_SEED");
  return s ? std::strtoull(s, nullptr, 0) : 0;
}

template <class F>
void run(const Config& c, std::uint64_t seed, std::uint64_t ops, Totals& t) {
  using G = Geometry<F>;
  seed += seed_offset();
  Area<F> w(c.depth, c.where, c.pa_top);
  // Every publish() reads the whole tree: formats with big tables get fewer ops, and under a
  // live policy or probes ops that are not whole blocks stay below 256 pages.
  ops = std::max(kMinOps, ops * std::min<std::uint64_t>(1024, G::entries(G::kDepth - 1)) / G::entries(G::kDepth - 1));
  if (c.live != Live::offline || c.probe) w.max_pages = 256;
  if (!w.usable) return;
  LiveRunner<F> r = make_runner<F>(w, c);
  r.probe = c.probe;
  std::mt19937_64 rng(seed);
  std::vector<Op> done;
  for (std::uint64_t i = 0; i < ops; ++i) {
    done.push_back(w.next(rng));
    if (auto f = r.step(done.back(), i)) {
      const auto small = shrink<F>(w, c, done);
      std::ostringstream os;
      os << F::kName << " seed " << seed << ", " << name(c.live) << (c.probe ? ", failing allocators" : "")
         << (c.odd ? ", small arena at 0x1000_1020" : "") << ", " << w.describe() << "\nop #" << i << ": " << *f
         << "\nshrunk to " << small.size() << " ops:\n";
      for (const auto& o : small) os << "  " << to_string(o) << ",\n";
      if (auto again = replay<F>(w, c, small)) os << "  -> " << *again << "\n";
      FAIL(os.str());
    }
  }
  CHECK(r.r.whole_tree() == std::nullopt);
  ++t.runs;
  t.ops += ops;
  for (int k = 0; k < 4; ++k) t.ok[k] += r.r.ok[k];
  t.refused += r.r.refused;
  t.splits += r.r.splits;
  t.folds += r.r.folds;
  t.publishes += r.tlb.publishes;
  t.invalidates += r.tlb.invalidates;
  t.bbm_refusals += r.bbm_refusals;
  t.probes += r.probes;
  t.liar_failures += r.liar_failures;
  t.ooms += r.ooms;
}

/// Depths of the block levels to test: the one just above pages, and every other level that can
/// hold a block.
template <class F>
std::vector<std::size_t> block_depths() {
  using G = Geometry<F>;
  std::vector<std::size_t> v{G::kDepth - 2};
  for (std::size_t d = 0; d + 2 < G::kDepth; ++d)
    if (F::can_leaf(G::level(d), test::full_caps<F>())) v.push_back(d);
  return v;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("live trees: a TLB model fed by the sync hook never sees two translations for a VA, a mixed "
                        "contiguous run, or a stale entry after a call",
                        "[differential][live]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Totals t;
  // Four windows at page level (both halves, bottom and top), both live policies.
  const std::uint64_t per = total_ops() * 4 / 10 / kFormats / 8;
  for (int where = 0; where < 4; ++where)
    for (Live live : {Live::refuse, Live::break_before_make})
      run<F>(Config{G::kDepth - 2, where, where == 3, live}, 0x11FE'0000 + where * 2 + (live == Live::refuse), per, t);
  INFO(F::kName << ": " << t.text());
  CHECK(t.publishes > 0);
  CHECK(t.invalidates > 0);
  CHECK((t.ok[0] && t.ok[1] && t.ok[2] && t.ok[3]));
  CHECK(t.splits > 0);
  CHECK(t.folds > 0);
  // Every format but RISC-V needs break-before-make for splits: some calls are refused.
  CHECK((Traits<F>::riscv ? t.bbm_refusals == 0 : t.bbm_refusals > 0));
}

TEMPLATE_LIST_TEST_CASE("allocators that fail at every allocation index lose nothing and change no translation",
                        "[differential][alloc]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Totals t;
  const std::uint64_t per = total_ops() * 2 / 10 / kFormats / 2;
  run<F>(Config{G::kDepth - 2, 1, false, Live::offline, true}, 0xFA11'0000, per, t);
  run<F>(Config{G::kDepth - 2, 0, false, Live::break_before_make, true}, 0xFA11'0001, per, t);
  INFO(F::kName << ": " << t.text());
  CHECK(t.probes > 0);
  CHECK(t.liar_failures > 0);
}

TEMPLATE_LIST_TEST_CASE("an arena at a base PA that is not table-aligned, small enough to run out",
                        "[differential][arena]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Totals t;
  const std::uint64_t per = total_ops() * 1 / 10 / kFormats / 2;
  run<F>(Config{G::kDepth - 2, 1, false, Live::offline, false, true}, 0x0DD0'0000, per, t);
  run<F>(Config{G::kDepth - 2, 2, false, Live::break_before_make, true, true}, 0x0DD0'0001, per, t);
  INFO(F::kName << ": " << t.text());
  CHECK(t.ooms > 0);
  CHECK(t.ok[0] > 0);
}

TEMPLATE_LIST_TEST_CASE("the whole VA space: both halves, top and bottom, blocks at every level, PAs at the limit",
                        "[differential][space]", EngineFormats) {
  using F = TestType;
  Totals t;
  const auto depths = block_depths<F>();
  const std::uint64_t per = total_ops() * 3 / 10 / kFormats / (depths.size() * 4);
  for (std::size_t d : depths)
    for (int where = 0; where < 4; ++where) {
      const Live live = where == 0 ? Live::offline : where == 1 ? Live::break_before_make : Live::refuse;
      run<F>(Config{d, where, where != 0, live}, 0x5FACE'0000 + d * 4 + where, per, t);
    }
  INFO(F::kName << ": " << t.text());
  CHECK(t.runs >= depths.size());
  CHECK(t.ok[0] > 0);
  CHECK(t.folds > 0);
}
