// The peers' workloads W1, W2, W2b and W3 (README, "Benchmarks") on every format they
// fit, each timed next to a memset of its own table bytes; plus the standalone baselines (memset
// of the footprint, a plain loop writing the same leaf entries).
#include <string>

#include "harness.hpp"

namespace bench {
namespace {

/// W3: 100,000 one-page maps, one call each, in the peers' order.
template <PagingFormat F>
Built build_w3(const Buffer& buf) {
  Arena a = fresh_arena(buf);
  auto t = make_tree<F>(a, full_caps<F>());
  if (!t) return {};
  std::size_t tables = 1;
  for (std::uint32_t i : w3_pages()) {
    const std::uint64_t off = std::uint64_t{i} << 12;
    auto r = map(*t, a, VirtAddr(kW3Window.value + off), PhysAddr(kW1Pa.value + off), 4096, kAttrs, page_only());
    if (!r) return {};
    tables += r->tables_added;
  }
  return Built{true, a.used(), tables, kW3Pages};
}

template <PagingFormat F>
void w3(benchmark::State& st, std::size_t known) {
  if (w3_pages().size() != kW3Pages) return st.SkipWithError("W3 page list checksum differs from the peers'");
  const std::size_t bytes = arena_for<F>(86'000);
  {
    Built b = build_w3<F>(buffer(bytes));
    if (!b.ok || (known && b.tables != known)) return st.SkipWithError("the build is wrong");
  }
  measure(st, bytes, 1, [](const Buffer& b) { return build_w3<F>(b); });
}

/// Standalone baselines: memset of a workload's table bytes, and a loop writing its leaf entries.
void memset_baseline(benchmark::State& st, std::size_t bytes) {
  const Buffer& b = buffer(bytes);
  for (auto _ : st) {
    const std::uint64_t t0 = now_ns();
    memset_tables(b, bytes);
    st.SetIterationTime(double(now_ns() - t0) * 1e-9);
  }
  st.counters["bytes"] = double(bytes);
}

template <PagingFormat F>
void pte_loop_baseline(benchmark::State& st) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  const std::uint64_t n = kW1Size / G::kPageSize;
  const Buffer& b = buffer(std::size_t(n * sizeof(Entry)));
  const auto L = G::level(G::kDepth - 1);
  const Entry proto = *F::leaf_proto(L, LeafSettings{kAttrs, false, true}, full_caps<F>());
  for (auto _ : st) {
    const std::uint64_t t0 = now_ns();
    Entry* e = reinterpret_cast<Entry*>(b.data);
    const std::uint64_t pa = kW1Pa.value;
    for (std::uint64_t i = 0; i < n; ++i) e[i] = F::leaf(L, proto, PhysAddr(pa + i * G::kPageSize));
    benchmark::ClobberMemory();
    st.SetIterationTime(double(now_ns() - t0) * 1e-9);
  }
  st.counters["entries"] = double(n);
}

// Table counts for W1 that the four peer libraries (aarch64-paging, the x86_64 crate, page_table_multiarch and EDK2) each produced
// for the same maps: 4106 on 4-level x86-64 and arm64 4K/48, 4107 on 5-level x86-64.
template <PagingFormat F>
constexpr std::size_t known_w1() {
  return std::is_same_v<F, x86::Long4> || std::is_same_v<F, arm64::Vmsa4k48> ? 4106
         : std::is_same_v<F, x86::Long5>                                      ? 4107
                                                                              : 0;
}
template <PagingFormat F>
constexpr std::size_t known_w3() {
  return std::is_same_v<F, x86::Long4> || std::is_same_v<F, arm64::Vmsa4k48> ? 83'532
         : std::is_same_v<F, x86::Long5>                                      ? 83'533
                                                                              : 0;
}
template <PagingFormat F>
constexpr std::size_t known_w2(bool b) {
  return std::is_same_v<F, x86::Long4> ? (b ? 10 : 2) : 0;
}

template <PagingFormat F>
void register_format() {
  using G = Geometry<F>;
  if constexpr (fits_w1<F>()) {
    const std::uint64_t tables = page_map_tables<F>(kW1Va, kW1Size);
    reg(name<F>("W1"), [](benchmark::State& st) {
      range_workload<F>(st, kW1Va, kW1Pa, kW1Size, page_only(), 1, known_w1<F>());
    });
    reg(name<F>("W2"), [](benchmark::State& st) {
      range_workload<F>(st, kW1Va, kW1Pa, kW1Size, largest(), 1000, known_w2<F>(false));
    });
    reg(name<F>("W2b"), [](benchmark::State& st) {
      range_workload<F>(st, kW1Va, kW2bPa, kW1Size, largest(), 20, known_w2<F>(true));
    });
    if constexpr (std::is_same_v<F, x86::Long4> || std::is_same_v<F, arm64::Vmsa4k48>) {
      const std::size_t bytes = G::table_bytes(0) + std::size_t(tables - 1) * G::table_bytes(1);
      reg(name<F>("Baseline/memset_W1"), [=](benchmark::State& st) { memset_baseline(st, bytes); });
      reg(name<F>("Baseline/pte_loop_W1"), [](benchmark::State& st) { pte_loop_baseline<F>(st); });
    }
  }
  if constexpr (fits_w3<F>()) {
    reg(name<F>("W3"), [](benchmark::State& st) { w3<F>(st, known_w3<F>()); })->Unit(benchmark::kMillisecond);
    if constexpr (std::is_same_v<F, x86::Long4>) {
      reg(name<F>("Baseline/memset_W3"), [](benchmark::State& st) { memset_baseline(st, 83'532 * 4096); })
          ->Unit(benchmark::kMillisecond);
    }
  }
}

template <std::size_t... I>
void register_all(std::index_sequence<I...>) {
  (register_format<std::tuple_element_t<I, AllFormats>>(), ...);
}

}  // namespace

void register_workloads() { register_all(std::make_index_sequence<kFormatCount>{}); }

}  // namespace bench
