// Strategies side by side: leaf choice (smallest pages, contiguous runs, largest blocks), direct vs
// fixmap-window table access, linear maps of 16..512 GiB at 4 KiB pages, kernel-half sync vs
// preallocation over 1..10,000 roots, fixed vs run-time-chosen format, unmap and protect of large
// ranges, and the cost of plan()'s dry run.
#include <ptlib/maps.hpp>
#include <ptlib/select.hpp>
#include <ptlib/share.hpp>
#include <ptlib/tables.hpp>

#include "harness.hpp"

namespace bench {
namespace {

using Long4 = x86::Long4;
using A48 = arm64::Vmsa4k48;

// ---- Leaf strategies ------------------------------------------------------------------------

template <PagingFormat F>
void register_leaves() {
  Options contiguous = page_only();
  contiguous.contiguous = true;
  reg(name<F>("Leaves/pages"), [](benchmark::State& st) {
    range_workload<F>(st, kW1Va, kW1Pa, kW1Size, page_only(), 1);
  });
  reg(name<F>("Leaves/contiguous"), [contiguous](benchmark::State& st) {
    range_workload<F>(st, kW1Va, kW1Pa, kW1Size, contiguous, 1);
  });
  reg(name<F>("Leaves/largest"), [](benchmark::State& st) {
    range_workload<F>(st, kW1Va, kW1Pa, kW1Size, largest(), 1000);
  });
}

// ---- Direct vs fixmap-window access ---------------------------------------------------------

/// A bump PageSource over the arena's physical range (pages never dereferenced by it).
struct BumpPages {
  std::uint64_t base, end, next;
  std::optional<PhysAddr> allocate(const TableRequest& r) {
    const std::uint64_t at = (next + r.align - 1) & ~std::uint64_t(r.align - 1);
    if (at + r.bytes > end) return std::nullopt;
    next = at + r.bytes;
    return PhysAddr(at);
  }
  [[nodiscard]] bool reserve(std::size_t n, const TableRequest& r) const {
    const std::uint64_t at = (next + r.align - 1) & ~std::uint64_t(r.align - 1);
    return at + n * ((r.bytes + r.align - 1) & ~std::uint64_t(r.align - 1)) <= end;
  }
  void release(PhysAddr, const TableRequest&) {}
};
static_assert(PageSource<BumpPages>);

/// A build through a fixmap window over the arena: `calls` ranges of [va, va + size) mapped one
/// after another (calls > 1 revisits the tables the earlier calls made).
template <PagingFormat F>
Built build_fixmap(const Buffer& b, SlotPolicy policy, std::uint64_t calls, WindowStats& out) {
  BumpPages pages{kArenaBase, kArenaBase + b.bytes, kArenaBase};
  BufferSlots slots(b.data, b.bytes, PhysAddr(kArenaBase));
  FixmapMemory<BumpPages, BufferSlots> mem(pages, slots, policy);
  auto t = make_tree<F>(mem, full_caps<F>());
  if (!t) return {};
  std::size_t tables = 1;
  const std::uint64_t part = kW1Size / calls;
  for (std::uint64_t k = 0; k < calls; ++k) {
    const VirtAddr va(kW1Va.value + k * part);
    auto r = map(*t, mem, va, PhysAddr(kW1Pa.value + k * part), part, kAttrs, page_only());
    if (!r) return {};
    tables += r->tables_added;
  }
  mem.close();
  out = mem.stats();
  if (slots.protocol_errors()) return {};
  return Built{true, std::size_t(pages.next - kArenaBase), tables, kW1Size / Geometry<F>::kPageSize};
}

template <PagingFormat F>
void fixmap(benchmark::State& st, SlotPolicy policy, std::uint64_t calls) {
  WindowStats w{};
  const std::size_t bytes = arena_for<F>(page_map_tables<F>(kW1Va, kW1Size));
  measure(st, bytes, 1, [&](const Buffer& b) { return build_fixmap<F>(b, policy, calls, w); });
  const double tables = double(w.allocated);
  st.counters["remaps_per_new_table"] = w.remaps / tables;
  st.counters["invalidations_per_table"] = w.invalidations / tables;
  st.counters["revisit_remaps"] = double(w.remaps) - tables;  // remaps beyond one per new table
  st.counters["hits"] = double(w.hits);
}

template <PagingFormat F>
void register_access() {
  reg(name<F>("Access/direct"), [](benchmark::State& st) {
    range_workload<F>(st, kW1Va, kW1Pa, kW1Size, page_only(), 1);
  });
  reg(name<F>("Access/fixmap_keep"), [](benchmark::State& st) { fixmap<F>(st, SlotPolicy::keep, 1); });
  reg(name<F>("Access/fixmap_keep_8calls"), [](benchmark::State& st) { fixmap<F>(st, SlotPolicy::keep, 8); });
  reg(name<F>("Access/fixmap_clear"), [](benchmark::State& st) { fixmap<F>(st, SlotPolicy::clear, 1); });
}

// ---- Linear map sizes (the arm64 thread: 16, 64, 256, 512 GiB at 4 KiB pages) ----------------

template <PagingFormat F>
void linear_map(benchmark::State& st) {
  const std::uint64_t size = std::uint64_t(st.range(0)) * kGiB;
  const PhysAddr ram(kGiB);                            // RAM at 1 GiB (QEMU virt)
  const std::uint64_t offset = (1ULL << 40) - kGiB;    // linear map at VA 1 TiB
  const Bank bank{ram, size};
  const std::size_t bytes = arena_for<F>(page_map_tables<F>(VirtAddr(1ULL << 40), size));
  measure(st, bytes, 1, [&](const Buffer& b) -> Built {
    Arena a = fresh_arena(b);
    auto t = make_tree<F>(a, full_caps<F>());
    if (!t) return {};
    auto r = map_linear(*t, a, std::span<const Bank>(&bank, 1), offset, kLinearAttrs, page_only());
    if (!r) return {};
    return Built{true, a.used(), r->tables_added + 1, size / 4096};
  });
  st.counters["GiB"] = double(st.range(0));
}

// ---- Kernel-half sync vs preallocation --------------------------------------------------------

/// x86-64 4-level: a reference tree whose kernel half (the upper 128 TiB) N process roots share.
/// Each iteration maps one 4 KiB page at a VA whose root entry is empty (sync: a new PDPT, the
/// root entry copied into every root) or already points at a preallocated PDPT (no sync needed),
/// and undoes it untimed (unmap with release, sync, and in the preallocated variant preallocate
/// the slot again).
void kernel_half(benchmark::State& st, bool prealloc) {
  using G = Geometry<Long4>;
  const auto roots = std::size_t(st.range(0));
  const VirtAddr half(0xffff'8000'0000'0000ULL);
  const std::uint64_t half_size = 1ULL << 47;
  const Buffer& b = buffer((roots + 600) * 4096);
  Arena a = fresh_arena(b);
  auto ref = make_tree<Long4>(a);
  std::vector<PhysAddr> storage(roots + 1);
  auto k = ref ? SharedKernel<Long4>::make(*ref, half, half_size, storage) : Result<SharedKernel<Long4>>(ref.error());
  if (!k) return st.SkipWithError("setup failed");
  if (prealloc && !k->preallocate(a, half, half_size)) return st.SkipWithError("preallocation failed");
  const std::size_t before_roots = a.used();
  for (std::size_t i = 0; i < roots; ++i)
    if (!k->create_root(a)) return st.SkipWithError("root creation failed");
  std::vector<double> t;
  std::size_t i = 0, copied = 0;
  for (auto _ : st) {
    // Slot i % 256 of the kernel half, 1 GiB region i / 256 in it: a fresh PD and PT each time.
    const VirtAddr va(half.value + (i % 256) * G::span(0) + (i / 256) * kGiB);
    ++i;
    const std::uint64_t t0 = now_ns();
    auto r = map(*ref, a, va, PhysAddr(kW1Pa), 4096, kAttrs, page_only());
    auto s = r ? k->sync(a, va, 4096, *r) : Result<SyncReport>(r.error());
    benchmark::ClobberMemory();
    const std::uint64_t t1 = now_ns();
    if (!s) return st.SkipWithError("map + sync failed");
    copied += s->entries_copied;
    t.push_back(double(t1 - t0));
    st.SetIterationTime(double(t1 - t0) * 1e-9);
    // Untimed: unmap and release the new tables (the root entry empties; freed tables are reused
    // by the next iteration in both variants), sync the roots, and re-preallocate the slot.
    auto u = unmap(*ref, a, va, 4096);
    if (!u || !k->sync(a, va, 4096, *u)) return st.SkipWithError("unmap + sync failed");
    if (prealloc) {
      const VirtAddr slot(align_down(va.value, G::span(0)));
      auto p = k->preallocate(a, slot, G::span(0));
      if (!p || !k->sync(a, slot, G::span(0), *p)) return st.SkipWithError("re-preallocation failed");
    }
  }
  st.counters["op_ns"] = median(t);
  st.counters["entries_copied_per_map"] = double(copied) / double(i ? i : 1);
  st.counters["prealloc_bytes"] = prealloc ? double(before_roots - G::table_bytes(0)) : 0;
  st.counters["roots"] = double(roots);
}

// ---- Fixed vs run-time-chosen format ----------------------------------------------------------

/// W1 built alternately with the format fixed at compile time and with the format chosen at run
/// time from a probe (with_chosen_format), in one loop; x_fixed = median chosen / median fixed.
template <PagingFormat F, class Probe>
void chosen_vs_fixed(benchmark::State& st, Probe probe) {
  const std::size_t bytes = arena_for<F>(page_map_tables<F>(kW1Va, kW1Size));
  const Buffer& b = buffer(bytes);
  std::vector<double> fixed, chosen;
  bool ok = true, order = false;
  for (auto _ : st) {
    std::uint64_t t_fixed = 0, t_chosen = 0;
    for (int pass = 0; pass < 2; ++pass) {
      const bool do_fixed = (pass == 0) == order;
      const std::uint64_t t0 = now_ns();
      if (do_fixed) {
        ok &= build_range<F>(b, kW1Va, kW1Pa, kW1Size, page_only()).ok;
      } else {
        const char* n = with_chosen_format(probe, [&]<class C>() {
          ok &= build_range<C>(b, kW1Va, kW1Pa, kW1Size, page_only()).ok;
        });
        ok &= n && std::string(n) == F::kName;
      }
      benchmark::ClobberMemory();
      (do_fixed ? t_fixed : t_chosen) = now_ns() - t0;
    }
    order = !order;
    if (!ok) return st.SkipWithError("build failed");
    fixed.push_back(double(t_fixed));
    chosen.push_back(double(t_chosen));
    st.SetIterationTime(double(t_chosen) * 1e-9);
  }
  st.counters["fixed_ns"] = median(fixed);
  st.counters["chosen_ns"] = median(chosen);
  st.counters["x_fixed"] = median(chosen) / median(fixed);
}

// ---- Unmap and protect of large ranges; plan() ------------------------------------------------

template <PagingFormat F>
void register_lifecycle() {
  struct State {
    Arena a{nullptr, 0, PhysAddr{}};
    Tree<F> t{};
  };
  auto setup = [](State& s, const Buffer& b, PhysAddr pa, const Options& o) {
    s.a = fresh_arena(b);
    auto t = make_tree<F>(s.a, full_caps<F>());
    if (!t) return false;
    s.t = *t;
    return bool(map(s.t, s.a, kW1Va, pa, kW1Size, kAttrs, o));
  };
  const std::uint64_t pages = kW1Size / Geometry<F>::kPageSize;
  const std::size_t bytes = arena_for<F>(page_map_tables<F>(kW1Va, kW1Size) + 4);
  const Attrs ro{Perm::read};
  reg(name<F>("Lifecycle/unmap_W1"), [=](benchmark::State& st) {
    State s;
    measure_op(st, pages, [&] { return setup(s, buffer(bytes), kW1Pa, page_only()); },
               [&] { return bool(unmap(s.t, s.a, kW1Va, kW1Size)); });
  });
  reg(name<F>("Lifecycle/protect_W1"), [=](benchmark::State& st) {
    State s;
    measure_op(st, pages, [&] { return setup(s, buffer(bytes), kW1Pa, page_only()); },
               [&] { return bool(protect(s.t, s.a, kW1Va, kW1Size, ro, page_only())); });
  });
  reg(name<F>("Lifecycle/unmap_W2b"), [=](benchmark::State& st) {
    State s;
    measure_op(st, pages, [&] { return setup(s, buffer(bytes), kW2bPa, largest()); },
               [&] { return bool(unmap(s.t, s.a, kW1Va, kW1Size)); });
  });
  reg(name<F>("Lifecycle/protect_W2b"), [=](benchmark::State& st) {
    State s;
    measure_op(st, pages, [&] { return setup(s, buffer(bytes), kW2bPa, largest()); },
               [&] { return bool(protect(s.t, s.a, kW1Va, kW1Size, ro, largest())); });
  });
  // One page in the middle of a W2 block made read-only: the block is split down to a page table.
  reg(name<F>("Lifecycle/protect_split_W2"), [=](benchmark::State& st) {
    State s;
    const VirtAddr mid(kW1Va.value + kW1Size / 2 + 5 * Geometry<F>::kPageSize);
    measure_op(st, 0, [&] { return setup(s, buffer(bytes), kW1Pa, largest()); },
               [&] { return bool(protect(s.t, s.a, mid, Geometry<F>::kPageSize, ro, largest())); });
  });
  reg(name<F>("Plan/map_W1_empty_tree"), [=](benchmark::State& st) {
    State s;
    measure_op(st, pages,
               [&] {
                 s.a = fresh_arena(buffer(bytes));
                 auto t = make_tree<F>(s.a, full_caps<F>());
                 return t && (s.t = *t, true);
               },
               [&] {
                 auto n = plan(s.t, s.a, op::Map{kW1Va, kW1Pa, kW1Size, kAttrs}, page_only());
                 return n && *n + 1 == page_map_tables<F>(kW1Va, kW1Size);
               });
  });
  reg(name<F>("Plan/unmap_W1"), [=](benchmark::State& st) {
    State s;
    measure_op(st, pages, [&] { return setup(s, buffer(bytes), kW1Pa, page_only()); },
               [&] { return bool(plan(s.t, s.a, op::Unmap{kW1Va, kW1Size})); });
  });
}

}  // namespace

void register_strategies() {
  register_leaves<Long4>();
  register_leaves<A48>();
  register_leaves<riscv::Sv48>();
  register_access<Long4>();
  register_access<A48>();
  for (auto* b : {reg("Linear/arm64-4k-48", linear_map<A48>), reg("Linear/x86-64-l4", linear_map<Long4>)})
    b->Arg(16)->Arg(64)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond);
  for (bool prealloc : {false, true}) {
    const std::size_t iters[] = {4096, 4096, 4096, 512, 128};
    const long roots[] = {1, 10, 100, 1000, 10000};
    for (std::size_t i = 0; i < 5; ++i)
      reg(prealloc ? "KernelHalf/preallocated/x86-64-l4" : "KernelHalf/sync/x86-64-l4",
          [prealloc](benchmark::State& st) { kernel_half(st, prealloc); })
          ->Arg(roots[i])
          ->Iterations(benchmark::IterationCount(iters[i]));
  }
  reg("Chosen/x86-64-l4", [](benchmark::State& st) { chosen_vs_fixed<Long4>(st, X86Probe{}); });
  reg("Chosen/arm64-4k-48", [](benchmark::State& st) {
    Arm64Probe p;
    p.gran4k = true;
    chosen_vs_fixed<A48>(st, p);
  });
  register_lifecycle<Long4>();
  register_lifecycle<A48>();
}

}  // namespace bench
