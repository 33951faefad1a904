// Tier 2: kernel-half sharing across many roots (registry, mask-driven sync, sync at depth 1
// with private tables), preallocation and its planner (figures from Joerg Roedel, "[RFC PATCH 0/7] mm: Get rid of vmalloc_sync_(un)mappings()" (LKML, May 2020)), and
// clones (deep copies into other memory, roots sharing the kernel half), over every format.
#include <algorithm>
#include <vector>

#include <ptlib/clone.hpp>
#include <ptlib/share.hpp>

#include "support.hpp"

using namespace ptlib;
using test::EngineFormats;
using test::kRwxg;
using test::Memory;

namespace {

constexpr std::uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB, TiB = 1024 * GiB, PiB = 1024 * TiB;

/// A TableMemory over an Arena that hands out at most `left` more tables (to make a call run
/// out of memory at a chosen point).
struct Budget {
  Arena& a;
  std::size_t left;
  std::optional<NewTable> allocate(const TableRequest& r) {
    if (left == 0) return std::nullopt;
    --left;
    return a.allocate(r);
  }
  bool reserve(std::size_t n, const TableRequest& r) const { return n <= left && a.reserve(n, r); }
  void release(PhysAddr pa, const TableRequest& r) { a.release(pa, r); }
  void* map(PhysAddr pa, std::size_t d) const { return a.map(pa, d); }
  void unmap(void* p, std::size_t d) const { a.unmap(p, d); }
};
static_assert(TableMemory<Budget>);

/// Host memory at another physical base (a second machine's RAM, a kexec destination).
struct OtherMemory {
  static constexpr std::uint64_t kBase = 0x3000'0000;  // fits every format's PA width
  std::vector<unsigned char> raw;
  Arena arena;
  explicit OtherMemory(std::size_t bytes)
      : raw(bytes + 65536, 0x5a), arena(aligned(raw.data()), bytes, PhysAddr(kBase)) {}
  static void* aligned(unsigned char* p) {
    return reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(p) + 65535) & ~std::uintptr_t{65535});
  }
};

template <class F>
Validation check(const Tree<F>& t, Arena& a, ValidateOptions o = {}) {
  std::vector<PhysAddr> scratch(1 << 16);
  return validate(t, a, o, scratch);
}

template <class F>
bool same_leaves(const std::vector<Leaf<F>>& a, const std::vector<Leaf<F>>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Leaf<F>& x, const Leaf<F>& y) {
    return x.va == y.va && x.pa == y.pa && x.size == y.size && x.level == y.level && x.depth == y.depth &&
           x.attrs == y.attrs && x.contiguous == y.contiguous;
  });
}

/// A kernel half over the upper half of the tree (whole root entries), a reference tree, and
/// room for `roots` roots.
template <class F, std::size_t Depth = 0>
struct Kernel {
  using G = Geometry<F>;
  static constexpr std::uint64_t P = G::kPageSize;
  static constexpr std::uint64_t kTop = G::kVaMask + 1;
  static constexpr std::uint64_t kPa = 0x4000'0000;
  Memory m;
  Tree<F> ref;
  std::vector<PhysAddr> storage;
  SharedKernel<F, Depth> k;
  std::uint64_t lo;  // tree offset of the shared range

  static std::size_t bytes_for(std::size_t roots) {
    return roots * (G::table_align(0) > G::table_bytes(0) ? G::table_align(0) : G::table_bytes(0)) + 8 * MiB;
  }
  /// `shared_entries` root entries at the top (0: the upper half).
  explicit Kernel(std::size_t roots, std::size_t shared_entries = 0)
      : m(bytes_for(roots)), storage(roots) {
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    ref = *t;
    lo = shared_entries ? kTop - shared_entries * G::span(0) : kTop / 2;
    auto s = SharedKernel<F, Depth>::make(ref, G::to_va(lo), kTop - lo, storage);
    REQUIRE(s.ok());
    k = *s;
  }
  VirtAddr va(std::uint64_t off) const { return G::to_va(lo + off); }
  /// The PA a test maps at `off` (kept within every format's PA width).
  static PhysAddr pa(std::uint64_t off) { return PhysAddr(kPa + (off & (256 * MiB - 1))); }
  Report map_ref(std::uint64_t off, std::uint64_t size, Options o = {}) {
    auto r = map(ref, m.arena, va(off), pa(off), size, kRwxg, o);
    REQUIRE(r.ok());
    return *r;
  }
  SyncReport sync(std::uint64_t off, std::uint64_t size, const Report& r) {
    auto s = k.sync(m.arena, va(off), size, r);
    REQUIRE(s.ok());
    return *s;
  }
  std::vector<Tree<F>> create(std::size_t n) {
    std::vector<Tree<F>> v;
    for (std::size_t i = 0; i < n; ++i) {
      auto t = k.create_root(m.arena);
      REQUIRE(t.ok());
      v.push_back(*t);
    }
    return v;
  }
  bool translates(const Tree<F>& t, std::uint64_t off) {
    auto r = translate(t, m.arena, va(off));
    return r.ok() && r->pa == pa(off);
  }
  typename F::Entry root_entry(const Tree<F>& t, std::uint64_t off) {
    auto* e = static_cast<typename F::Entry*>(m.arena.map(t.root, 0));
    return e[G::index(lo + off, 0)];
  }
};

/// A layout with a block, pages, a run of pages (contiguous hints where the format has them) in
/// the low part of the tree and two pages at its top: depth d is the level above pages.
template <class F>
struct Layout {
  using G = Geometry<F>;
  static constexpr std::size_t d = G::kDepth - 2;
  static constexpr std::uint64_t S = G::span(d), P = G::kPageSize;
  static constexpr bool fits() {
    return 6 * S <= test::tree_limit<F>() && 8 * S - 1 <= G::kPaLimit && S / P <= 8192;
  }
  static VirtAddr va(std::uint64_t t) { return G::to_va(t); }
  static VirtAddr top(std::uint64_t back) { return G::to_va(G::kVaMask + 1 - back); }
  static void build(const Tree<F>& t, Arena& a) {
    const std::uint64_t run = S < 256 * P ? S : 256 * P;
    REQUIRE(map(t, a, va(2 * S), PhysAddr(4 * S), S, kRwxg).ok());
    REQUIRE(map(t, a, va(3 * S + P), PhysAddr(5 * S + 3 * P), 5 * P, Attrs{Perm::read | Perm::exec | Perm::global}).ok());
    REQUIRE(map(t, a, va(4 * S), PhysAddr(6 * S), run, kRwxg).ok());
    REQUIRE(map(t, a, top(2 * P), PhysAddr(7 * S), 2 * P, kRwxg).ok());
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Sync across roots

TEMPLATE_LIST_TEST_CASE("a kernel map that writes a new top-level entry reaches every registered root", "[share]",
                        EngineFormats) {
  using F = TestType;
  const std::size_t n = GENERATE(1, 2, 10, 1000);
  Kernel<F> s(n);
  auto roots = s.create(n);
  CHECK(s.k.count() == n);
  // A user mapping in one root: sync must leave the user half alone.
  REQUIRE(map(roots[0], s.m.arena, VirtAddr(0), PhysAddr(0x1000'0000), s.P, kRwxg).ok());

  const Report r = s.map_ref(0, s.P);
  CHECK(r.modified.root());
  CHECK(s.k.needs_sync(r));
  const SyncReport sr = s.sync(0, s.P, r);
  CHECK(sr.roots == n);
  CHECK(sr.entries_copied == n);  // one root entry per root
  CHECK(sr.tables_added == 0);
  for (const auto& t : roots) {
    REQUIRE(s.translates(t, 0));
    CHECK(s.root_entry(t, 0) == s.root_entry(s.ref, 0));
  }
  CHECK(translate(roots[0], s.m.arena, VirtAddr(0)).ok());
  for (std::size_t i = 0; i < std::min<std::size_t>(n, 10); ++i) CHECK(check(roots[i], s.m.arena).ok());
}

TEMPLATE_LIST_TEST_CASE("a kernel map that writes only lower levels triggers no copy", "[share]", EngineFormats) {
  using F = TestType;
  Kernel<F> s(8);
  auto roots = s.create(8);
  s.sync(0, s.P, s.map_ref(0, s.P));
  // The same top-level entry: only the shared lower tables change.
  const Report r = s.map_ref(s.P, s.P);
  CHECK_FALSE(r.modified.root());
  CHECK_FALSE(s.k.needs_sync(r));
  const SyncReport sr = s.sync(s.P, s.P, r);
  CHECK(sr.roots == 0);
  CHECK(sr.entries_copied == 0);
  for (const auto& t : roots) CHECK(s.translates(t, s.P));  // seen through the shared tables
}

TEMPLATE_LIST_TEST_CASE("an unregistered root is no longer synced", "[share]", EngineFormats) {
  using F = TestType;
  Kernel<F> s(5);
  auto roots = s.create(5);
  CHECK(s.k.remove(roots[2].root));
  CHECK_FALSE(s.k.remove(roots[2].root));
  CHECK(s.k.count() == 4);
  const SyncReport sr = s.sync(0, s.P, s.map_ref(0, s.P));
  CHECK(sr.roots == 4);
  CHECK(sr.entries_copied == 4);
  for (std::size_t i = 0; i < roots.size(); ++i) CHECK(s.translates(roots[i], 0) == (i != 2));
  // Registered again (and resynced), it catches up; a second add is a no-op.
  REQUIRE(s.k.add(roots[2].root).ok());
  REQUIRE(s.k.add(roots[2].root).ok());
  CHECK(s.k.count() == 5);
  auto all = s.k.sync_all(s.m.arena);
  REQUIRE(all.ok());
  CHECK(all->entries_copied == 1);
  CHECK(s.translates(roots[2], 0));
}

TEMPLATE_LIST_TEST_CASE("a root created after kernel maps holds the kernel half at creation", "[share]",
                        EngineFormats) {
  using F = TestType;
  Kernel<F> s(2);
  const Report r = s.map_ref(0, 3 * s.P);
  CHECK(s.sync(0, 3 * s.P, r).roots == 0);  // nobody registered yet
  auto roots = s.create(1);
  CHECK(s.translates(roots[0], 2 * s.P));
  CHECK(s.root_entry(roots[0], 0) == s.root_entry(s.ref, 0));
  // Nothing outside the shared range.
  CHECK_FALSE(translate(roots[0], s.m.arena, Geometry<F>::to_va(0)).ok());
}

TEMPLATE_LIST_TEST_CASE("the registry refuses a root beyond its storage and changes nothing", "[share]",
                        EngineFormats) {
  using F = TestType;
  Kernel<F> s(2);
  s.create(2);
  const auto before = s.m.snapshot();
  auto t = s.k.create_root(s.m.arena);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == Errc::out_of_memory);
  CHECK(s.m.snapshot() == before);
  auto a = s.k.add(PhysAddr(Memory::kBase + 64 * 65536));
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().code == Errc::out_of_memory);
  CHECK(s.k.count() == 2);
}

TEMPLATE_LIST_TEST_CASE("a shared range that is not whole root entries is refused", "[share]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Memory m(1 * MiB);
  auto t = make_tree<F>(m.arena);
  REQUIRE(t.ok());
  std::vector<PhysAddr> st(4);
  const std::uint64_t half = (G::kVaMask + 1) / 2;
  auto a = SharedKernel<F>::make(*t, G::to_va(half + G::kPageSize), half - G::kPageSize, st);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().code == Errc::misaligned_va);
  auto b = SharedKernel<F>::make(*t, G::to_va(half), G::kPageSize, st);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().code == Errc::misaligned_size);
}

namespace {
template <class F>
constexpr bool deep_enough() {
  return Geometry<F>::kDepth >= 3;
}
}  // namespace

TEMPLATE_LIST_TEST_CASE("sync at depth 1 gives each root private depth-1 tables and copies their entries",
                        "[share]", EngineFormats) {
  using F = TestType;
  if constexpr (deep_enough<F>()) {
    Kernel<F, 1> s(3, 1);
    // Complete the private level in the reference first (Linux PAE preallocates kernel PMDs).
    auto pre = preallocate<0>(s.ref, s.m.arena, s.va(0), Geometry<F>::span(0));
    REQUIRE(pre.ok());
    CHECK(pre->tables_added == 1);
    auto roots = s.create(3);
    for (const auto& t : roots) CHECK(s.root_entry(t, 0) != s.root_entry(s.ref, 0));  // private
    const Report r = s.map_ref(0, s.P);
    CHECK_FALSE(r.modified.root());  // the root entries are complete: never written again
    CHECK(r.modified.has(1));
    const SyncReport sr = s.sync(0, s.P, r);
    CHECK(sr.roots == 3);
    CHECK(sr.entries_copied == 3);
    CHECK(sr.tables_added == 0);
    for (const auto& t : roots) {
      CHECK(s.translates(t, 0));
      CHECK(check(t, s.m.arena).ok());
    }
    const Report lower = s.map_ref(s.P, s.P);
    CHECK_FALSE(decltype(s.k)::needs_sync(lower));
    for (const auto& t : roots) CHECK(s.translates(t, s.P));
  }
}

TEMPLATE_LIST_TEST_CASE("sync at depth 1 adds and releases private tables, or refuses and changes nothing",
                        "[share]", EngineFormats) {
  using F = TestType;
  if constexpr (deep_enough<F>()) {
    Kernel<F, 1> s(3, 1);
    auto roots = s.create(3);
    const auto in_use = s.m.arena.tables_in_use();
    const Report r = s.map_ref(0, s.P);
    CHECK(r.modified.root());  // the reference grew a private-level table
    // Each root needs its own depth-1 table: 3 tables. With 2 left, nothing changes.
    const auto before = s.m.snapshot();
    Budget tight{s.m.arena, 2};
    auto refused = s.k.sync(tight, s.va(0), s.P, r);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::out_of_memory);
    CHECK(s.m.snapshot() == before);
    auto ok = s.k.sync(s.m.arena, s.va(0), s.P, r);
    REQUIRE(ok.ok());
    CHECK(ok->tables_added == 3);
    for (const auto& t : roots) CHECK(s.translates(t, 0));
    // Unmapping everything in the reference (releasing its tables) releases the roots' copies.
    auto u = unmap(s.ref, s.m.arena, s.va(0), s.P);
    REQUIRE(u.ok());
    auto gone = s.k.sync(s.m.arena, s.va(0), s.P, *u);
    REQUIRE(gone.ok());
    CHECK(gone->tables_released == 3);
    CHECK(s.m.arena.tables_in_use() == in_use);
    for (const auto& t : roots) {
      CHECK_FALSE(s.translates(t, 0));
      CHECK(s.root_entry(t, 0) == 0);
    }
  }
}

TEMPLATE_LIST_TEST_CASE("release_root frees a root and its private tables, refusing one with user mappings",
                        "[share]", EngineFormats) {
  using F = TestType;
  if constexpr (deep_enough<F>()) {
    Kernel<F, 1> s(2, 1);
    s.map_ref(0, s.P);
    const auto in_use = s.m.arena.tables_in_use();
    auto roots = s.create(2);
    CHECK(s.m.arena.tables_in_use() == in_use + 4);  // 2 roots + 2 private tables
    REQUIRE(map(roots[1], s.m.arena, VirtAddr(0), PhysAddr(0x1000'0000), s.P, kRwxg).ok());
    const auto before = s.m.snapshot();
    auto busy = s.k.release_root(s.m.arena, roots[1].root);
    REQUIRE_FALSE(busy.ok());
    CHECK(busy.error().code == Errc::overlap);
    CHECK(busy.error().va == VirtAddr(0));
    CHECK(s.m.snapshot() == before);
    REQUIRE(s.k.release_root(s.m.arena, roots[0].root).ok());
    CHECK(s.k.count() == 1);
    CHECK(s.m.arena.tables_in_use() == before.live - 2);
    CHECK(s.translates(roots[1], 0));  // the shared tables stay
  }
}

TEMPLATE_LIST_TEST_CASE("a live sync publishes, and invalidates only when a valid entry changed", "[share]",
                        EngineFormats) {
  using F = TestType;
  Kernel<F> s(2);
  s.create(2);
  Options live;
  live.live = Live::break_before_make;
  test::Recorder rec;
  const Report r = s.map_ref(0, s.P);
  auto a = s.k.sync(s.m.arena, s.va(0), s.P, r, live, rec);
  REQUIRE(a.ok());
  CHECK(rec.count(test::Recorder::Event::publish) >= 1);
  CHECK(rec.count(test::Recorder::Event::invalidate) == 0);  // invalid -> valid needs no TLBI
  rec.events.clear();
  auto u = unmap(s.ref, s.m.arena, s.va(0), s.P);  // releases the tables: the root entry clears
  REQUIRE(u.ok());
  auto b = s.k.sync(s.m.arena, s.va(0), s.P, *u, live, rec);
  REQUIRE(b.ok());
  CHECK(b->entries_copied == 2);
  REQUIRE(rec.count(test::Recorder::Event::invalidate) == 1);
  CHECK(rec.events.back().va == s.va(0));
}

// ---------------------------------------------------------------------------------------------
// Preallocation and its planner

TEST_CASE("x86-64 4-level: preallocating the 32 TiB vmalloc area costs 64 tables, 256 KiB (Roedel 2020)", "[share]") {
  using F = x86::Long4;
  // Roedel's vmalloc_sync RFC thread: "it would only need 256kb of preallocated memory for the vmalloc range"; the
  // area is 32 TiB at 0xffffc90000000000 (Documentation/arch/x86/x86_64/mm.rst), and each PML4
  // entry maps 512 GiB: 32 TiB / 512 GiB = 64 PDPT pages of 4 KiB.
  const VirtAddr vmalloc(0xffff'c900'0000'0000);
  const std::uint64_t size = 32 * TiB;
  constexpr auto cost = preallocation_cost<F>(VirtAddr(0xffff'c900'0000'0000), 32 * TiB);
  static_assert(cost.ok());
  CHECK(cost->tables == 64);
  CHECK(cost->by_depth[1] == 64);
  CHECK(cost->bytes == 256 * KiB);

  Memory m(2 * MiB);
  auto t = make_tree<F>(m.arena);
  REQUIRE(t.ok());
  auto planned = plan_preallocate<0>(*t, m.arena, vmalloc, size);
  REQUIRE(planned.ok());
  CHECK(*planned == *cost);
  const auto used = m.arena.used();
  auto r = preallocate<0>(*t, m.arena, vmalloc, size);
  REQUIRE(r.ok());
  CHECK(r->tables_added == 64);
  CHECK(m.arena.used() - used == 256 * KiB);
  CHECK(check(*t, m.arena, ValidateOptions{true, m.arena.tables_in_use()}).ok());
  // From now on no vmalloc map writes the PML4: nothing to sync, ever.
  for (std::uint64_t off : {std::uint64_t{0}, 17 * TiB, size - 2 * MiB}) {
    auto mr = map(*t, m.arena, vmalloc + off, PhysAddr(0x1'0000'0000), 2 * MiB, kRwxg);
    REQUIRE(mr.ok());
    CHECK_FALSE(mr->modified.root());
    CHECK_FALSE(SharedKernel<F>::needs_sync(*mr));
  }
}

TEST_CASE("x86 PAE, 512 MiB RAM, 1G/3G split: about 1272 PTE tables, about 5 MiB (Roedel 2020)", "[share]") {
  using F = x86::Pae;
  // Joerg Roedel, "[RFC PATCH 0/7] mm: Get rid of vmalloc_sync_(un)mappings()" (LKML, May 2020):
  // "1536 total PMD entries - 256 for direct-mapping - 4 for ISA hole
  // - 4 for stuff at the end of the address space = 1272 PMD entries for VMALLOC space", each
  // needing a 4 KiB PTE page. Derived here from the parameters:
  constexpr std::uint64_t kUser = 1 * GiB, kRam = 512 * MiB, kPmd = 2 * MiB;
  constexpr std::uint64_t kHoleAfterDirectMap = 4, kHoleAtEnd = 4;  // PMD entries (explicit input)
  constexpr std::uint64_t kKernelPmds = (4 * GiB - kUser) / kPmd;
  static_assert(kKernelPmds == 1536);
  constexpr std::uint64_t kDirectPmds = kRam / kPmd;
  static_assert(kDirectPmds == 256);
  constexpr std::uint64_t kVmallocPmds = kKernelPmds - kDirectPmds - kHoleAfterDirectMap - kHoleAtEnd;
  static_assert(kVmallocPmds == 1272);
  const VirtAddr vmalloc(kUser + kRam + kHoleAfterDirectMap * kPmd);
  const std::uint64_t size = 4 * GiB - kHoleAtEnd * kPmd - vmalloc.value;
  REQUIRE(size == kVmallocPmds * kPmd);

  // In an empty tree: 3 PDs (PDPT entries 1..3) and 1272 PTE pages.
  auto cost = preallocation_cost<F, 1>(vmalloc, size);
  REQUIRE(cost.ok());
  CHECK(cost->by_depth[1] == 3);
  CHECK(cost->by_depth[2] == kVmallocPmds);
  CHECK(cost->tables == 3 + kVmallocPmds);

  // A kernel whose PMDs are private per process (sync level 1) preallocates its 3 kernel PDs,
  // maps the direct map, and then pays exactly the 1272 PTE pages: 4.97 MiB, about 1% of RAM.
  Memory m(8 * MiB);
  auto t = make_tree<F>(m.arena);
  REQUIRE(t.ok());
  std::vector<PhysAddr> st(4);
  auto made = SharedKernel<F, 1>::make(*t, VirtAddr(kUser), 4 * GiB - kUser, st);
  REQUIRE(made.ok());
  auto k = *made;
  REQUIRE(preallocate<0>(*t, m.arena, VirtAddr(kUser), 4 * GiB - kUser).ok());
  REQUIRE(map(*t, m.arena, VirtAddr(kUser), PhysAddr(0), kRam, kRwxg).ok());
  auto planned = plan_preallocate<1>(*t, m.arena, vmalloc, size);
  REQUIRE(planned.ok());
  CHECK(planned->tables == 1272);
  CHECK(planned->by_depth[2] == 1272);
  CHECK(planned->bytes == 1272 * 4 * KiB);
  CHECK(planned->bytes > 4.9 * MiB);
  CHECK(planned->bytes < 5.0 * MiB);
  auto r = k.preallocate(m.arena, vmalloc, size);
  REQUIRE(r.ok());
  CHECK(r->tables_added == 1272);
  auto mr = map(*t, m.arena, vmalloc + 100 * kPmd, PhysAddr(0x4000'0000), 4 * KiB, kRwxg);
  REQUIRE(mr.ok());
  CHECK_FALSE(k.needs_sync(*mr));
  CHECK(mr->modified == LevelMask{1U << 2});  // only the (shared) PTE page
}

TEST_CASE("preallocation costs of comparable areas in the other formats", "[share]") {
  // Linux's documented vmalloc areas (Documentation/arch/x86/x86_64/mm.rst,
  // Documentation/arch/riscv/vm-layout.rst), divided by what one top-level entry maps:
  // x86-64 5-level: 12.5 PiB at 0xffa0000000000000 / 256 TiB per PML5 entry = 50 PML4 pages.
  constexpr auto l5 = preallocation_cost<x86::Long5>(VirtAddr(0xffa0'0000'0000'0000), 12 * PiB + PiB / 2);
  static_assert(l5.ok() && l5->tables == 50 && l5->bytes == 200 * KiB);
  // Sv39: 64 GiB at 0xffffffc600000000 / 1 GiB per root entry = 64 pages.
  constexpr auto sv39 = preallocation_cost<riscv::Sv39>(VirtAddr(0xffff'ffc6'0000'0000), 64 * GiB);
  static_assert(sv39.ok() && sv39->tables == 64 && sv39->bytes == 256 * KiB);
  // Sv48: 32 TiB at 0xffff8f8000000000 / 512 GiB = 64 pages.
  constexpr auto sv48 = preallocation_cost<riscv::Sv48>(VirtAddr(0xffff'8f80'0000'0000), 32 * TiB);
  static_assert(sv48.ok() && sv48->tables == 64 && sv48->bytes == 256 * KiB);
  // Sv57: 16 PiB at 0xff20000000000000 / 256 TiB = 64 pages.
  constexpr auto sv57 = preallocation_cost<riscv::Sv57>(VirtAddr(0xff20'0000'0000'0000), 16 * PiB);
  static_assert(sv57.ok() && sv57->tables == 64 && sv57->bytes == 256 * KiB);
  // arm64 shares its kernel half through TTBR1 (one tree for all processes): nothing to sync.
  // For a comparable 32 TiB area at 128 TiB: 4K/48: 512 GiB per L0 entry -> 64 x 4 KiB;
  // 16K/48: 128 TiB per L0 entry -> 1 x 16 KiB; 64K/48: 4 TiB per L1 entry -> 8 x 64 KiB;
  // 4K/52: 256 TiB per L-1 entry -> 1 x 4 KiB; 64K/52: 4 TiB per L1 entry -> 8 x 64 KiB.
  constexpr VirtAddr a(128 * TiB);
  constexpr auto a4 = preallocation_cost<arm64::Vmsa4k48>(a, 32 * TiB);
  static_assert(a4.ok() && a4->tables == 64 && a4->bytes == 256 * KiB);
  constexpr auto a16 = preallocation_cost<arm64::Vmsa16k48>(a, 32 * TiB);
  static_assert(a16.ok() && a16->tables == 1 && a16->bytes == 16 * KiB);
  constexpr auto a64 = preallocation_cost<arm64::Vmsa64k48>(a, 32 * TiB);
  static_assert(a64.ok() && a64->tables == 8 && a64->bytes == 512 * KiB);
  constexpr auto a4l = preallocation_cost<arm64::Vmsa4k52>(a, 32 * TiB);
  static_assert(a4l.ok() && a4l->tables == 1 && a4l->bytes == 4 * KiB);
  constexpr auto a64l = preallocation_cost<arm64::Vmsa64k52>(a, 32 * TiB);
  static_assert(a64l.ok() && a64l->tables == 8 && a64l->bytes == 512 * KiB);
  // x86-32 without PAE, same 1G/3G split and 512 MiB: 768 kernel PDEs of 4 MiB - 128 direct
  // map - the same 16 MiB of holes (4 PDEs) = 636 PTE pages, 2.48 MiB: "half as big as it
  // would be with PAE" (the same thread).
  constexpr auto x32 = preallocation_cost<x86::X86_32>(VirtAddr(1 * GiB + 512 * MiB + 8 * MiB),
                                                       3 * GiB - 512 * MiB - 16 * MiB);
  static_assert(x32.ok() && x32->tables == 636 && x32->bytes == 636 * 4 * KiB);
  CHECK(x32->bytes * 2 == 1272 * 4 * KiB);
}

TEMPLATE_LIST_TEST_CASE("after preallocate a kernel map in the range writes no shared level", "[share]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Kernel<F> s(4, 1);
  auto roots = s.create(4);
  auto cost = preallocation_cost<F>(s.va(0), G::span(0));
  REQUIRE(cost.ok());
  CHECK(cost->tables == 1);
  auto r = s.k.preallocate(s.m.arena, s.va(0), G::span(0));
  REQUIRE(r.ok());
  CHECK(r->tables_added == 1);
  CHECK(r->modified.root());
  CHECK(s.sync(0, G::span(0), *r).entries_copied == 4);  // the one sync preallocation needs
  for (std::uint64_t off : {std::uint64_t{0}, G::span(0) / 2, G::span(0) - s.P}) {
    const Report m = s.map_ref(off, s.P);
    CHECK((m.modified.bits & decltype(s.k)::kSyncMask.bits) == 0);
    CHECK(s.sync(off, s.P, m).roots == 0);
    for (const auto& t : roots) CHECK(s.translates(t, off));
  }
}

TEMPLATE_LIST_TEST_CASE("preallocate refuses a leaf where a table must be, and changes nothing", "[share]",
                        EngineFormats) {
  using F = TestType;
  using L = Layout<F>;
  if constexpr (L::fits()) {
    Memory m(8 * MiB);
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    REQUIRE(map(*t, m.arena, L::va(2 * L::S), PhysAddr(4 * L::S), L::S, kRwxg).ok());  // a block at depth d
    const auto before = m.snapshot();
    auto r = preallocate<L::d>(*t, m.arena, L::va(L::S), 3 * L::S);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::overlap);
    CHECK(r.error().va == L::va(2 * L::S));
    CHECK(r.error().level == level_number<F>(Geometry<F>::level(L::d)));
    CHECK(m.snapshot() == before);
  }
}

TEMPLATE_LIST_TEST_CASE("preallocate takes exactly what the planner says, or fails and changes nothing",
                        "[share]", EngineFormats) {
  using F = TestType;
  using L = Layout<F>;
  if constexpr (L::fits()) {
    Memory m(8 * MiB);
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    REQUIRE(map(*t, m.arena, L::va(L::S), PhysAddr(L::S), L::P, kRwxg).ok());  // some tables exist
    auto planned = plan_preallocate<L::d>(*t, m.arena, L::va(0), 4 * L::S);
    REQUIRE(planned.ok());
    CHECK(planned->tables == 3);  // the 4 entries at depth d: 1 already has its table
    const auto before = m.snapshot();
    Budget tight{m.arena, planned->tables - 1};
    auto refused = preallocate<L::d>(*t, tight, L::va(0), 4 * L::S);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::out_of_memory);
    CHECK(m.snapshot() == before);
    const auto in_use = m.arena.tables_in_use();
    auto r = preallocate<L::d>(*t, m.arena, L::va(0), 4 * L::S);
    REQUIRE(r.ok());
    CHECK(r->tables_added == planned->tables);
    CHECK(m.arena.tables_in_use() == in_use + planned->tables);
    CHECK(translate(*t, m.arena, L::va(L::S)).ok());
    CHECK(check(*t, m.arena, ValidateOptions{true, m.arena.tables_in_use()}).ok());
    auto again = plan_preallocate<L::d>(*t, m.arena, L::va(0), 4 * L::S);
    REQUIRE(again.ok());
    CHECK(again->tables == 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Clones

TEMPLATE_LIST_TEST_CASE("a deep clone into other memory translates identically and validates clean", "[clone]",
                        EngineFormats) {
  using F = TestType;
  using L = Layout<F>;
  if constexpr (L::fits()) {
    Memory src(8 * MiB);
    auto t = make_tree<F>(src.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    L::build(*t, src.arena);
    OtherMemory dst(8 * MiB);
    auto c = clone(*t, src.arena, dst.arena);
    REQUIRE(c.ok());
    CHECK(c->caps == t->caps);
    CHECK(c->root.value >= OtherMemory::kBase);
    const auto a = test::leaves(*t, src.arena);
    const auto b = test::leaves(*c, dst.arena);
    CHECK(a.size() >= 4);
    CHECK(same_leaves(a, b));
    CHECK(dst.arena.tables_in_use() == src.arena.tables_in_use());
    CHECK(check(*t, src.arena, ValidateOptions{false, src.arena.tables_in_use()}).ok());
    CHECK(check(*c, dst.arena, ValidateOptions{false, dst.arena.tables_in_use()}).ok());
  }
}

TEMPLATE_LIST_TEST_CASE("a clone is independent of its source", "[clone]", EngineFormats) {
  using F = TestType;
  using L = Layout<F>;
  if constexpr (L::fits()) {
    Memory m(8 * MiB);
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    L::build(*t, m.arena);
    auto c = clone(*t, m.arena, m.arena);  // even in the same memory
    REQUIRE(c.ok());
    const auto original = test::leaves(*t, m.arena);
    REQUIRE(unmap(*c, m.arena, L::va(2 * L::S), 3 * L::S).ok());
    REQUIRE(unmap(*c, m.arena, L::top(2 * L::P), L::P).ok());
    CHECK(same_leaves(test::leaves(*t, m.arena), original));
    REQUIRE(map(*t, m.arena, L::va(5 * L::S), PhysAddr(L::S), L::P, kRwxg).ok());
    CHECK_FALSE(translate(*c, m.arena, L::va(5 * L::S)).ok());
    CHECK(test::leaves(*c, m.arena).size() == 1);  // the second of the two top pages
    std::vector<PhysAddr> scratch(1 << 12);
    CHECK(validate(*t, m.arena, {}, scratch).ok());
    CHECK(validate(*c, m.arena, {}, scratch).ok());
  }
}

TEMPLATE_LIST_TEST_CASE("a clone that does not fit fails before allocating and changes nothing", "[clone]",
                        EngineFormats) {
  using F = TestType;
  using L = Layout<F>;
  if constexpr (L::fits()) {
    Memory src(8 * MiB);
    auto t = make_tree<F>(src.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    L::build(*t, src.arena);
    Memory dst(8 * MiB);
    const auto before = dst.snapshot();
    Budget tight{dst.arena, src.arena.tables_in_use() - 1};  // one table short (root included)
    auto c = clone(*t, src.arena, tight);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::out_of_memory);
    CHECK(dst.snapshot() == before);
    Budget exact{dst.arena, src.arena.tables_in_use()};
    CHECK(clone(*t, src.arena, exact).ok());
  }
}

TEMPLATE_LIST_TEST_CASE("a clone of a range copies the leaves that meet it and nothing else", "[clone]",
                        EngineFormats) {
  using F = TestType;
  using L = Layout<F>;
  if constexpr (L::fits()) {
    Memory m(8 * MiB);
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    L::build(*t, m.arena);
    // From the middle of the block to the middle of the page group: the block is copied whole.
    const VirtAddr va = L::va(2 * L::S + L::S / 2);
    const std::uint64_t size = L::S / 2 + 3 * L::P;
    auto c = clone(*t, m.arena, m.arena, va, size);
    REQUIRE(c.ok());
    std::vector<Leaf<F>> want;
    REQUIRE(for_each_leaf(*t, m.arena, va, size, [&](const Leaf<F>& l) { want.push_back(l); }).ok());
    CHECK(want.size() == 3);  // the block and two of the five pages
    CHECK(same_leaves(test::leaves(*c, m.arena), want));
    std::vector<PhysAddr> scratch(1 << 12);
    CHECK(validate(*c, m.arena, {}, scratch).ok());
  }
}

TEMPLATE_LIST_TEST_CASE("a root sharing the kernel half points at the same lower tables", "[clone]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Kernel<F> s(1);
  s.map_ref(0, s.P);
  const auto in_use = s.m.arena.tables_in_use();
  auto c = share_root(s.ref, s.m.arena, s.va(0), G::kVaMask + 1 - s.lo);
  REQUIRE(c.ok());
  CHECK(s.m.arena.tables_in_use() == in_use + 1);  // the root only
  CHECK(s.root_entry(*c, 0) == s.root_entry(s.ref, 0));
  s.map_ref(s.P, s.P);  // lower levels only: seen through the shared table, no copy needed
  CHECK(s.translates(*c, s.P));
  auto bad = share_root(s.ref, s.m.arena, s.va(s.P), G::span(0) - s.P);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::misaligned_va);
}

TEMPLATE_LIST_TEST_CASE("a clone of a tree with an unreachable table fails and changes nothing", "[clone]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Memory src(1 * MiB);
  auto t = make_tree<F>(src.arena);
  REQUIRE(t.ok());
  // A root entry pointing outside the source memory (PA 128 MiB, below the arena's base).
  auto* root = static_cast<typename F::Entry*>(src.arena.map(t->root, 0));
  root[1] = F::table(G::level(0), PhysAddr(0x0800'0000));
  Memory dst(1 * MiB);
  const auto before = dst.snapshot();
  auto c = clone(*t, src.arena, dst.arena);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == Errc::malformed_entry);
  CHECK(c.error().va == G::to_va(G::span(0)));
  CHECK(dst.snapshot() == before);
}
