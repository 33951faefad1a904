// The benchmark harness shared by the suite's files: a pre-faulted arena, the peers' workloads
// W1, W2, W2b and W3 (as aarch64-paging, the x86_64 crate, page_table_multiarch and EDK2 were compared on) and a timing loop that
// measures every build next to a memset of the same table bytes, so each workload reports its
// ratio to the physical limit from one run.
#pragma once
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <ptlib/formats.hpp>

namespace bench {

using namespace ptlib;

// ---- Memory ---------------------------------------------------------------------------------

/// The physical address the arena's first byte stands for (1 GiB: aligned for every table, and
/// inside every format's PA width). Leaf output addresses are plain numbers, never dereferenced.
inline constexpr std::uint64_t kArenaBase = 1ULL << 30;

/// One process-wide buffer, grown on demand and pre-faulted (every page written once), so no
/// timed build pays for first-touch faults. Fresh tables per build = a new Arena over it.
struct Buffer {
  unsigned char* data = nullptr;
  std::size_t bytes = 0;
};
inline Buffer& buffer(std::size_t need) {
  static Buffer b;
  if (need > b.bytes) {
    if (b.data) munmap(b.data, b.bytes);
    const std::size_t bytes = (need + (1U << 21) - 1) & ~std::size_t((1U << 21) - 1);
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return b = Buffer{};
    b.data = static_cast<unsigned char*>(p);
    b.bytes = bytes;
    for (std::size_t i = 0; i < bytes; i += 4096) b.data[i] = 1;
  }
  return b;
}
inline Arena fresh_arena(const Buffer& b) { return Arena(b.data, b.bytes, PhysAddr(kArenaBase)); }

// ---- Formats --------------------------------------------------------------------------------

/// Caps with every optional leaf and hint a format has switched on (x86 1 GiB pages, Svnapot).
template <PagingFormat F>
typename F::Caps full_caps() {
  typename F::Caps c{};
  if constexpr (requires { c.page1g; }) c.page1g = true;
  if constexpr (requires { c.svnapot; }) c.svnapot = true;
  return c;
}
/// Read + write, normal memory: the peers' flags (x86 P|RW, arm64 VALID|AF|SH).
inline constexpr Attrs kAttrs{Perm::read | Perm::write};

/// W1: smallest pages only, no contiguous hint (aarch64-paging's NO_CONTIGUOUS_HINT).
inline Options page_only() {
  Options o = Options::page_only();
  o.contiguous = false;
  o.allow_implied_exec = true;
  return o;
}
inline Options largest() {
  Options o;
  o.contiguous = false;
  o.allow_implied_exec = true;
  return o;
}

// ---- The workloads: W1 8 GiB at VA 64 GiB -> PA 4 GiB; W2b the PA + 2 MiB; W3 in [512 GiB, 1 TiB)

inline constexpr std::uint64_t kGiB = 1ULL << 30, kMiB = 1ULL << 20;
inline constexpr VirtAddr kW1Va{64 * kGiB};
inline constexpr PhysAddr kW1Pa{4 * kGiB};
inline constexpr std::uint64_t kW1Size = 8 * kGiB;
inline constexpr PhysAddr kW2bPa{4 * kGiB + 2 * kMiB};
inline constexpr VirtAddr kW3Window{512 * kGiB};
inline constexpr std::size_t kW3Pages = 100'000;
inline constexpr std::uint64_t kW3Seed = 0x5EED0F0F12345678ULL;
inline constexpr std::uint64_t kW3Checksum = 0x5ac9c8175caf8f6bULL;

/// W3's page indices: splitmix64 from the seed, the top 27 bits of each output, duplicates
/// dropped, the first 100,000 in generation order. Empty if the list's checksum
/// (h = h * 31 + index, wrapping, from 0) is not the peers' one.
inline const std::vector<std::uint32_t>& w3_pages() {
  static const std::vector<std::uint32_t> pages = [] {
    std::vector<std::uint32_t> out;
    std::vector<bool> seen(std::size_t{1} << 27);
    std::uint64_t state = kW3Seed, h = 0;
    while (out.size() < kW3Pages) {
      state += 0x9e3779b97f4a7c15ULL;  // splitmix64 (Steele, Lea, Flood 2014)
      std::uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      const auto index = std::uint32_t(z >> 37);
      if (seen[index]) continue;
      seen[index] = true;
      out.push_back(index);
      h = h * 31 + index;
    }
    if (h != kW3Checksum) out.clear();
    return out;
  }();
  return pages;
}

template <PagingFormat F>
constexpr bool fits(VirtAddr va, PhysAddr pa, std::uint64_t size) {
  using G = Geometry<F>;
  Errc why{};
  return G::va_in_range(va.value, size, why) && pa.value + size - 1 <= G::kPaLimit;
}
template <PagingFormat F>
constexpr bool fits_w1() { return fits<F>(kW1Va, kW1Pa, kW1Size) && fits<F>(kW1Va, kW2bPa, kW1Size); }
/// W3 maps 4 KiB pages in [512 GiB, 1 TiB).
template <PagingFormat F>
constexpr bool fits_w3() {
  return Geometry<F>::kPageSize == 4096 && fits<F>(kW3Window, kW1Pa, 512 * kGiB);
}

/// Tables (root included) a smallest-page map of [va, va + size) creates in an empty tree: at each
/// depth d >= 1, one per depth-(d-1) entry the range meets.
template <PagingFormat F>
constexpr std::uint64_t page_map_tables(VirtAddr va, std::uint64_t size) {
  using G = Geometry<F>;
  const std::uint64_t lo = G::to_tree(va), last = lo + size - 1;
  std::uint64_t n = 1;
  for (std::size_t d = 1; d < G::kDepth; ++d) n += (last >> G::shift(d - 1)) - (lo >> G::shift(d - 1)) + 1;
  return n;
}

// ---- Timing ---------------------------------------------------------------------------------

/// The calling thread's CPU time in ns. The suite times with it, not with a wall clock: the
/// machine is shared, and time the thread spends descheduled is not the code's cost.
inline std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::uint64_t(ts.tv_sec) * 1'000'000'000ULL + std::uint64_t(ts.tv_nsec);
}
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}
inline double minimum(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

/// The memset baseline: zero `bytes` at the start of the buffer (the table bytes a build wrote).
inline void memset_tables(const Buffer& b, std::size_t bytes) {
  std::memset(b.data, 0, bytes);
  benchmark::ClobberMemory();
}

/// What one build produced: its footprint (table bytes handed out) and the pages/leaves it mapped.
struct Built {
  bool ok = false;
  std::size_t bytes = 0;  ///< arena bytes used
  std::size_t tables = 0;
  std::uint64_t pages = 0;  ///< smallest pages mapped (for ns per page)
};

/// Times `build(const Buffer&) -> Built` (fresh tables each time) and, interleaved in the same
/// iteration, a memset of the bytes it wrote. `batch` builds make one timed sample (tiny builds).
/// Reports the time of a batch (manual time) and, per build, the counters build_ns and memset_ns
/// (medians over the samples), x_memset (their ratio), x_memset_min (min / min), ns_per_page and
/// tables.
template <class Build>
void measure(benchmark::State& st, std::size_t arena_bytes, std::size_t batch, Build&& build) {
  const Buffer& b = buffer(arena_bytes);
  if (!b.data) return st.SkipWithError("cannot allocate the arena");
  std::vector<double> t_build, t_memset;
  Built last{};
  for (auto _ : st) {
    const std::uint64_t t0 = now_ns();
    for (std::size_t k = 0; k < batch; ++k) {
      last = build(b);
      benchmark::ClobberMemory();
    }
    const std::uint64_t t1 = now_ns();
    for (std::size_t k = 0; k < batch; ++k) memset_tables(b, last.bytes);
    const std::uint64_t t2 = now_ns();
    if (!last.ok) return st.SkipWithError("build failed");
    t_build.push_back(double(t1 - t0) / double(batch));
    t_memset.push_back(double(t2 - t1) / double(batch));
    st.SetIterationTime(double(t1 - t0) * 1e-9);
  }
  const double mb = median(t_build), mm = median(t_memset);
  st.counters["x_memset"] = mm > 0 ? mb / mm : 0;
  st.counters["x_memset_min"] = minimum(t_memset) > 0 ? minimum(t_build) / minimum(t_memset) : 0;
  st.counters["build_ns"] = mb;
  st.counters["memset_ns"] = mm;
  st.counters["ns_per_page"] = last.pages ? mb / double(last.pages) : 0;
  st.counters["tables"] = double(last.tables);
  st.counters["batch"] = double(batch);
}

/// Times `op()` (returns false on failure) after an untimed `setup()` in every iteration, and
/// reports the median as op_ns (and per page when `pages`).
template <class Setup, class Op>
void measure_op(benchmark::State& st, std::uint64_t pages, Setup&& setup, Op&& op) {
  std::vector<double> t;
  for (auto _ : st) {
    if (!setup()) return st.SkipWithError("setup failed");
    const std::uint64_t t0 = now_ns();
    const bool ok = op();
    benchmark::ClobberMemory();
    const std::uint64_t t1 = now_ns();
    if (!ok) return st.SkipWithError("operation failed");
    t.push_back(double(t1 - t0));
    st.SetIterationTime(double(t1 - t0) * 1e-9);
  }
  st.counters["op_ns"] = median(t);
  if (pages) st.counters["ns_per_page"] = median(t) / double(pages);
}

// ---- Shared builds --------------------------------------------------------------------------

template <PagingFormat F>
std::string name(const char* what) {
  return std::string(what) + "/" + F::kName;
}

/// Upper bound on the arena bytes of a workload: `tables` tables of the largest size, plus a root.
template <PagingFormat F>
std::size_t arena_for(std::uint64_t tables) {
  using G = Geometry<F>;
  return std::size_t((tables + 2) * G::table_align(1) + G::table_align(0));
}

/// Checks a build of [va, va + size) -> pa outside the timed loop: sampled pages translate to
/// their PA, the pages just outside the range are unmapped, and the table count is the one
/// expected (0 = not known for this format).
template <PagingFormat F, TableAccess A>
bool check(const Tree<F>& t, A& a, VirtAddr va, PhysAddr pa, std::uint64_t size, std::size_t tables,
           std::size_t expected_tables) {
  using G = Geometry<F>;
  if (expected_tables && tables != expected_tables) return false;
  const std::uint64_t pages = size / G::kPageSize;
  for (std::uint64_t k = 0; k < 64; ++k) {
    const std::uint64_t off = (k == 63 ? pages - 1 : pages * k / 63) * G::kPageSize;
    auto r = translate(t, a, VirtAddr(va.value + off + 8));
    if (!r || r->pa.value != pa.value + off + 8) return false;
  }
  if (va.value >= G::kPageSize && translate(t, a, VirtAddr(va.value - G::kPageSize))) return false;
  Errc why{};
  if (G::va_in_range(va.value + size, G::kPageSize, why) && translate(t, a, VirtAddr(va.value + size))) return false;
  return true;
}

/// One range map of [va, va + size) -> pa into a fresh tree in a fresh arena.
template <PagingFormat F>
Built build_range(const Buffer& b, VirtAddr va, PhysAddr pa, std::uint64_t size, const Options& o) {
  Arena a = fresh_arena(b);
  auto t = make_tree<F>(a, full_caps<F>());
  if (!t) return {};
  auto r = map(*t, a, va, pa, size, kAttrs, o);
  if (!r) return {};
  return Built{true, a.used(), r->tables_added + 1, size / Geometry<F>::kPageSize};
}

/// A range workload: one checked build, then measure() of fresh builds.
template <PagingFormat F>
void range_workload(benchmark::State& st, VirtAddr va, PhysAddr pa, std::uint64_t size, const Options& o,
                    std::size_t batch, std::size_t known_tables = 0) {
  const std::size_t bytes = arena_for<F>(page_map_tables<F>(va, size));
  {
    Arena a = fresh_arena(buffer(bytes));
    auto t = make_tree<F>(a, full_caps<F>());
    auto r = t ? map(*t, a, va, pa, size, kAttrs, o) : Result<Report>(t.error());
    if (!r || !check(*t, a, va, pa, size, r->tables_added + 1, known_tables))
      return st.SkipWithError("the build is wrong");
  }
  measure(st, bytes, batch, [&](const Buffer& b) { return build_range<F>(b, va, pa, size, o); });
}

inline benchmark::internal::Benchmark* reg(const std::string& n, std::function<void(benchmark::State&)> fn) {
  return benchmark::RegisterBenchmark(n.c_str(), [fn](benchmark::State& st) { fn(st); })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace bench
