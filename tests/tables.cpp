// Table access and allocation policies (ptlib/tables.hpp) over every format: the fixmap window's
// remap and TLB-invalidation counts, table budgets and static pools, table images built for a
// load address, and which tables the engine asks to be zeroed.
#include <algorithm>
#include <array>
#include <random>

#include <ptlib/tables.hpp>

#include "support.hpp"

using namespace ptlib;
using test::EngineFormats;
using test::kRwxg;

namespace {

// ----------------------------------------------------------------------------------------------
// Host "physical memory" and window slots.
// ----------------------------------------------------------------------------------------------

struct FreeDeleter {
  void operator()(unsigned char* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<unsigned char, FreeDeleter>;
Buffer aligned_buffer(std::size_t bytes, unsigned char fill = 0xa5) {
  const std::size_t rounded = (bytes + 65535) / 65536 * 65536;
  Buffer b(static_cast<unsigned char*>(std::aligned_alloc(65536, rounded ? rounded : 65536)));
  std::memset(b.get(), fill, rounded ? rounded : 65536);  // garbage: nothing may rely on zeroed memory
  return b;
}

/// A buffer standing for physical memory [kBase, kBase + bytes).
struct Phys {
  static constexpr std::uint64_t kBase = 0x1000'0000;  // fits every format's PA width
  std::size_t bytes;
  Buffer buf;
  explicit Phys(std::size_t n) : bytes(n), buf(aligned_buffer(n)) {}
  unsigned char* at(PhysAddr pa) const { return buf.get() + (pa - PhysAddr(kBase)); }
  /// A read-only view for checks: bounds-checked like a kernel's linear map would be.
  Arena view() const { return Arena(buf.get(), bytes, PhysAddr(kBase)); }
  std::vector<unsigned char> snapshot() const { return {buf.get(), buf.get() + bytes}; }
};

/// A strict SlotMapper: each slot is its own page-sized buffer, as a real window is its own
/// virtual page. map_slot copies the page in; invalidate_slot copies it back to "physical
/// memory" and poisons the slot. So a write through a pointer whose slot has been remapped
/// lands in another table's copy (or is lost), and the checks of the tree find it.
struct CopyWindow {
  static constexpr std::size_t kSlots = 8;
  Phys& phys;
  std::size_t page;
  std::array<Buffer, kSlots> slot;
  std::array<std::optional<PhysAddr>, kSlots> mapped{};  // page PA each slot shows
  std::array<bool, kSlots> ever{};
  std::size_t maps = 0, invalidations = 0, protocol_errors = 0;

  CopyWindow(Phys& p, std::size_t page_bytes) : phys(p), page(page_bytes) {
    for (auto& s : slot) s = aligned_buffer(page, 0x5a);
  }
  void* map_slot(std::size_t d, PhysAddr pa) {
    ++maps;
    if (d >= kSlots || mapped[d]) {
      ++protocol_errors;
      return nullptr;
    }
    const PhysAddr pg(align_down(pa.value, page));
    if (pg < PhysAddr(Phys::kBase) || pg - PhysAddr(Phys::kBase) + page > phys.bytes) return nullptr;
    std::memcpy(slot[d].get(), phys.at(pg), page);
    mapped[d] = pg;
    ever[d] = true;
    return slot[d].get() + (pa - pg);
  }
  void invalidate_slot(std::size_t d) {
    ++invalidations;
    if (d >= kSlots || !mapped[d]) {
      ++protocol_errors;
      return;
    }
    std::memcpy(phys.at(*mapped[d]), slot[d].get(), page);
    std::memset(slot[d].get(), 0x5a, page);
    mapped[d].reset();
  }
  std::size_t slots_ever_used() const { return std::size_t(std::count(ever.begin(), ever.end(), true)); }
};
static_assert(SlotMapper<CopyWindow>);

/// One slot for every depth (the window "one slot per level" is compared against).
struct SharedSlot {
  CopyWindow& w;
  void* map_slot(std::size_t, PhysAddr pa) {
    if (w.mapped[0]) w.invalidate_slot(0);
    return w.map_slot(0, pa);
  }
  void invalidate_slot(std::size_t) {
    if (w.mapped[0]) w.invalidate_slot(0);
  }
};

/// A FixmapMemory for format F over a PageBitmap and a slot mapper, backed by `pages` pages.
template <class F, class Mapper = CopyWindow>
struct Window {
  static constexpr std::size_t kPage = pool_align<F>();  // every table fits one such page
  static constexpr std::size_t kMaxPages = 4096;
  using Pages = PageBitmap<kMaxPages>;
  Phys phys;
  Pages pages;
  CopyWindow slots;
  Mapper mapper;
  FixmapMemory<Pages, Mapper> mem;

  explicit Window(std::size_t n, SlotPolicy policy = SlotPolicy::keep)
      : phys(n * kPage), pages(PhysAddr(Phys::kBase), kPage, n), slots(phys, kPage), mapper(make_mapper()),
        mem(pages, mapper, policy) {}
  Mapper make_mapper() {
    if constexpr (std::is_same_v<Mapper, CopyWindow>) return CopyWindow(phys, kPage);
    else return Mapper{slots};
  }
  /// The mapper that counts (the CopyWindow every slot goes through).
  CopyWindow& window() {
    if constexpr (std::is_same_v<Mapper, CopyWindow>) return mapper;
    else return slots;
  }
};

// ----------------------------------------------------------------------------------------------
// Layouts and checks.
// ----------------------------------------------------------------------------------------------

/// One mapping of a layout: tree offset, PA, size.
struct Mapping {
  std::uint64_t t;
  std::uint64_t pa;
  std::uint64_t size;
};

template <class F>
std::vector<Region> regions_of(const std::vector<Mapping>& layout) {
  std::vector<Region> r;
  for (const auto& m : layout) r.push_back(Region{Geometry<F>::to_va(m.t), m.size});
  return r;
}

/// Up to 5 disjoint mappings anywhere in the format's VA room (half of them right after the
/// previous one, so tables are shared); with `blocks`, sizes add up to 2 blocks of the level
/// above pages and half of the PAs are congruent to their VAs modulo that block.
template <class F>
std::vector<Mapping> random_layout(std::mt19937_64& rng, bool blocks) {
  using G = Geometry<F>;
  const std::uint64_t P = G::kPageSize, B = G::span(G::kDepth - 2);
  const std::uint64_t limit = test::tree_limit<F>();
  const std::uint64_t pa_room = std::min<std::uint64_t>(G::kPaLimit, std::uint64_t{1} << 40) / 2;
  const std::size_t n = 1 + rng() % 5;
  std::vector<Mapping> out;
  for (int attempt = 0; attempt < 200 && out.size() < n; ++attempt) {
    std::uint64_t size = (1 + rng() % 40) * P;
    if (blocks && rng() % 2) size += (1 + rng() % 2) * B;
    if (size > limit / 4) continue;
    std::uint64_t t = align_down(rng() % (limit - size), P);
    if (!out.empty() && rng() % 2) t = out.back().t + out.back().size + (rng() % 64) * P;
    if (t + size > limit) continue;
    bool overlaps = false;
    for (const auto& m : out) overlaps |= t < m.t + m.size && m.t < t + size;
    if (overlaps) continue;
    std::uint64_t pa = align_down(rng() % pa_room, P);
    if (blocks && rng() % 2) pa = align_down(pa, B) + (t & (B - 1));
    if (pa + size - 1 > G::kPaLimit) continue;
    out.push_back(Mapping{t, pa, size});
  }
  return out;
}

/// The tree is well formed, holds exactly `tables` tables, and every mapping translates (first
/// page, last page, and a middle one).
template <class F, class A>
void check_tree(const Tree<F>& tree, A& access, std::size_t tables, const std::vector<Mapping>& layout) {
  using G = Geometry<F>;
  std::vector<PhysAddr> scratch(tables + 16);
  ValidateOptions vo;
  vo.expected_tables = tables;
  const Validation v = validate(tree, access, vo, scratch);
  CAPTURE(v.problems, name(v.first.what), v.first.va, v.first.pa);
  CHECK(v.ok());
  for (const auto& m : layout) {
    for (std::uint64_t off : {std::uint64_t{0}, align_down(m.size / 2, G::kPageSize), m.size - G::kPageSize}) {
      auto tr = translate(tree, access, G::to_va(m.t + off) + 0x18);
      REQUIRE(tr.ok());
      CHECK(tr->pa == PhysAddr(m.pa + off + 0x18));
    }
  }
}

/// A page-only mapping crossing the boundary between two last-level tables, at the start of the
/// second entry of the root (so one table per level above, two at the last level).
template <class F>
Mapping boundary_mapping() {
  using G = Geometry<F>;
  const std::uint64_t P = G::kPageSize, T = G::span(G::kDepth - 2);
  const std::uint64_t t0 = G::kDepth > 2 ? G::span(0) : 2 * T;
  return Mapping{t0 + T - 3 * P, 0x4000'0000 & G::kPaLimit, 6 * P};
}

}  // namespace

// ==============================================================================================
// 1. Fixmap window
// ==============================================================================================

TEMPLATE_LIST_TEST_CASE("building N new tables through the fixmap window costs exactly N remaps, each table mapped once",
                        "[tables][fixmap]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Window<F> w(64);
  auto tree = make_tree<F>(w.mem, test::full_caps<F>());
  REQUIRE(tree.ok());
  // The root: allocated zeroed, mapped once into slot 0, zeroed through that mapping.
  CHECK(w.mem.stats().remaps == 1);
  CHECK(w.mem.stats().invalidations == 0);
  CHECK(w.mem.stats().bytes_zeroed == G::table_bytes(0));
  CHECK(w.mem.in_slot(0) == tree->root);

  const Mapping m = boundary_mapping<F>();
  auto r = map(*tree, w.mem, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, Options::page_only());
  REQUIRE(r.ok());
  const std::size_t n = r->tables_added;
  CHECK(n == G::kDepth);  // one per level below the root, two at the last level
  const WindowStats s = w.mem.stats();
  CHECK(s.remaps == 1 + n);
  CHECK(s.allocated == 1 + n);
  CHECK(s.bytes_zeroed == G::table_bytes(0));  // map() never asks for a zeroed table
  // One TLB invalidation per remap of a slot that held a table; first uses of a slot cost none.
  CHECK(s.invalidations == s.remaps - w.window().slots_ever_used());
  CHECK(w.window().slots_ever_used() == G::kDepth);
  CHECK(w.window().protocol_errors == 0);

  // Through the window itself (one slot per depth), and through plain memory after close().
  check_tree(*tree, w.mem, 1 + n, {m});
  w.mem.close();
  CHECK(w.window().mapped == decltype(w.window().mapped){});
  CHECK(w.mem.stats().invalidations == w.mem.stats().remaps);  // every remap eventually taken down
  auto view = w.phys.view();
  check_tree(*tree, view, 1 + n, {m});
  CHECK(w.window().protocol_errors == 0);
}

TEMPLATE_LIST_TEST_CASE("one slot per level is enough for random layouts: map, unmap, protect and compact through the window",
                        "[tables][fixmap]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  for (int iter = 0; iter < 12; ++iter) {
    const std::uint64_t seed = 0x7ab1e5 + 977 * iter;
    CAPTURE(F::kName, seed);
    std::mt19937_64 rng(seed);
    const bool blocks = iter % 2;
    const auto layout = random_layout<F>(rng, blocks);
    const std::size_t budget = table_budget<F>(regions_of<F>(layout));
    Window<F> w(budget + 8);
    auto tree = make_tree<F>(w.mem, test::full_caps<F>());
    REQUIRE(tree.ok());
    std::size_t tables = 1;
    for (const auto& m : layout) {
      auto r = map(*tree, w.mem, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, blocks ? Options{} : Options::page_only());
      REQUIRE(r.ok());
      tables += r->tables_added;
    }
    CHECK(w.mem.stats().bytes_zeroed == G::table_bytes(0));
    check_tree(*tree, w.mem, tables, layout);
    // Change the tree through the window: unmap a page of each mapping (splitting blocks), then
    // protect the first page, then compact; check against plain memory after close().
    std::vector<Mapping> left;
    const Attrs ro{Perm::read | Perm::exec | Perm::global};  // every format can say r-x
    for (const auto& m : layout) {
      const std::uint64_t P = G::kPageSize;
      if (m.size < 3 * P) {
        left.push_back(m);
        continue;
      }
      auto u = unmap(*tree, w.mem, G::to_va(m.t + P), P);
      REQUIRE(u.ok());
      tables += u->tables_added;
      tables -= u->tables_released;
      auto p = protect(*tree, w.mem, G::to_va(m.t), P, ro);
      REQUIRE(p.ok());
      tables += p->tables_added;
      left.push_back(Mapping{m.t, m.pa, P});
      left.push_back(Mapping{m.t + 2 * P, m.pa + 2 * P, m.size - 2 * P});
    }
    for (const auto& m : layout) {
      auto c = compact(*tree, w.mem, G::to_va(m.t), m.size);
      REQUIRE(c.ok());
      tables -= c->tables_released;
    }
    CHECK(w.mem.stats().bytes_zeroed == G::table_bytes(0));
    check_tree(*tree, w.mem, tables, left);
    w.mem.close();
    auto view = w.phys.view();
    check_tree(*tree, view, tables, left);
    CHECK(w.pages.pages_in_use() == tables);
    CHECK(w.window().protocol_errors == 0);
    CHECK(w.mem.stats().invalidations == w.mem.stats().remaps);
  }
}

TEMPLATE_LIST_TEST_CASE("one window slot shared by all levels is not enough (the strict window sees the damage)",
                        "[tables][fixmap]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Window<F, SharedSlot> w(64);
  auto tree = make_tree<F>(w.mem);
  REQUIRE(tree.ok());
  const Mapping m = boundary_mapping<F>();
  REQUIRE(map(*tree, w.mem, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, Options::page_only()).ok());
  w.mem.close();
  auto view = w.phys.view();
  std::vector<PhysAddr> scratch(64);
  const bool valid = validate(*tree, view, ValidateOptions{}, scratch).ok();
  auto tr = translate(*tree, view, G::to_va(m.t));
  CHECK_FALSE((valid && tr.ok() && tr->pa == PhysAddr(m.pa)));
}

TEMPLATE_LIST_TEST_CASE("revisiting tables still in their slots costs no remap; a table that left its slot costs one",
                        "[tables][fixmap]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const std::uint64_t P = G::kPageSize, T = G::span(G::kDepth - 2);
  const Mapping m = boundary_mapping<F>();
  const std::uint64_t a = m.t + 3 * P - T;  // first page of the last-level table A (before the boundary)
  Window<F> w(64);
  auto tree = make_tree<F>(w.mem);
  REQUIRE(tree.ok());
  REQUIRE(map(*tree, w.mem, G::to_va(a), PhysAddr(m.pa), P, kRwxg).ok());

  // Same last-level table: every table on the path is in its slot.
  WindowStats before = w.mem.stats();
  auto r = map(*tree, w.mem, G::to_va(a + P), PhysAddr(m.pa + P), P, kRwxg);
  REQUIRE(r.ok());
  CHECK(r->tables_added == 0);
  CHECK(w.mem.stats().remaps == before.remaps);
  CHECK(w.mem.stats().invalidations == before.invalidations);
  CHECK(w.mem.stats().hits > before.hits);
  REQUIRE(translate(*tree, w.mem, G::to_va(a + P)).ok());
  CHECK(w.mem.stats().remaps == before.remaps);

  // The next last-level table B (one new table, one remap), then back to A: the dry run maps A
  // again (1 remap, 1 invalidation of B's slot); the commit finds A in its slot.
  before = w.mem.stats();
  r = map(*tree, w.mem, G::to_va(a + T), PhysAddr(m.pa + T), P, kRwxg);
  REQUIRE(r.ok());
  CHECK(r->tables_added == 1);
  CHECK(w.mem.stats().remaps == before.remaps + 1);
  CHECK(w.mem.stats().invalidations == before.invalidations + 1);
  before = w.mem.stats();
  REQUIRE(map(*tree, w.mem, G::to_va(a + 2 * P), PhysAddr(m.pa + 2 * P), P, kRwxg).ok());
  CHECK(w.mem.stats().remaps == before.remaps + 1);
  CHECK(w.mem.stats().invalidations == before.invalidations + 1);
  CHECK(w.window().protocol_errors == 0);
  check_tree(*tree, w.mem, 1 + G::kDepth, {Mapping{a, m.pa, 3 * P}, Mapping{a + T, m.pa + T, P}});
}

TEMPLATE_LIST_TEST_CASE("with SlotPolicy::clear every use of a slot costs one remap and one TLB invalidation",
                        "[tables][fixmap]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Window<F> w(64, SlotPolicy::clear);
  auto tree = make_tree<F>(w.mem);
  REQUIRE(tree.ok());
  CHECK(w.mem.stats().remaps == 1);
  CHECK(w.mem.stats().invalidations == 1);
  CHECK_FALSE(w.mem.in_slot(0));
  const Mapping m = boundary_mapping<F>();
  auto r = map(*tree, w.mem, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, Options::page_only());
  REQUIRE(r.ok());
  // N new tables, plus the root mapped by the dry run and again by the commit.
  CHECK(w.mem.stats().remaps == 1 + r->tables_added + 2);
  CHECK(w.mem.stats().invalidations == w.mem.stats().remaps);
  // A one-page revisit pays for every table on the path once: a one-table call is one walk
  // (docs/engine.md), no dry run.
  const WindowStats before = w.mem.stats();
  REQUIRE(map(*tree, w.mem, G::to_va(m.t + m.size), PhysAddr(m.pa + m.size), G::kPageSize, kRwxg).ok());
  CHECK(w.mem.stats().remaps == before.remaps + G::kDepth);
  CHECK(w.mem.stats().invalidations == w.mem.stats().remaps);
  CHECK(w.window().protocol_errors == 0);
  auto view = w.phys.view();
  check_tree(*tree, view, 1 + r->tables_added, {m, Mapping{m.t + m.size, m.pa + m.size, G::kPageSize}});
}

TEMPLATE_LIST_TEST_CASE("a map the page source cannot serve fails and leaves tables and page source as before",
                        "[tables][fixmap]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const Mapping m = boundary_mapping<F>();
  Window<F> w(G::kDepth);  // root + depth - 1 tables: one short of the map's G::kDepth tables
  auto tree = make_tree<F>(w.mem);
  REQUIRE(tree.ok());
  w.mem.close();
  const auto bytes = w.phys.snapshot();
  const auto bits = w.pages.bits();
  auto r = map(*tree, w.mem, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, Options::page_only());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::out_of_memory);
  w.mem.close();
  CHECK(w.phys.snapshot() == bytes);
  CHECK(w.pages.bits() == bits);
  CHECK(w.mem.stats().allocated == 1);
}

TEST_CASE("PageBitmap hands out aligned pages first fit, reserves exactly, and reuses released pages",
          "[tables][fixmap]") {
  PageBitmap<130> pages(PhysAddr(0x10'0000), 4096, 130);
  const TableRequest page{4096, 4096, false, 1}, pair{8192, 8192, false, 1};
  CHECK(pages.reserve(130, page));
  CHECK_FALSE(pages.reserve(131, page));
  CHECK(pages.reserve(65, pair));
  CHECK_FALSE(pages.reserve(66, pair));
  auto a = pages.allocate(page);
  REQUIRE(a);
  CHECK(*a == PhysAddr(0x10'0000));
  auto b = pages.allocate(pair);  // page 1 is free but not 8 KiB aligned: pages 2 and 3
  REQUIRE(b);
  CHECK(*b == PhysAddr(0x10'2000));
  CHECK(pages.pages_in_use() == 3);
  CHECK(pages.reserve(63, pair));  // 4..129 hold 63 aligned pairs
  CHECK_FALSE(pages.reserve(64, pair));
  for (int i = 0; i < 63; ++i) REQUIRE(pages.allocate(pair));
  CHECK_FALSE(pages.allocate(pair));
  CHECK(pages.allocate(page) == PhysAddr(0x10'1000));
  CHECK_FALSE(pages.allocate(page));
  pages.release(*b, pair);
  CHECK(pages.allocate(page) == PhysAddr(0x10'2000));
  CHECK(pages.pages_in_use() == 129);
}

TEST_CASE("BufferSlots shows a slot's table at buffer + (pa - base) and flags protocol errors", "[tables][fixmap]") {
  alignas(4096) static unsigned char mem[4 * 4096];
  BufferSlots slots(mem, sizeof mem, PhysAddr(0x8000'0000));
  CHECK(slots.map_slot(2, PhysAddr(0x8000'1000)) == mem + 0x1000);
  CHECK(slots.mapped() == 0b100);
  CHECK(slots.map_slot(1, PhysAddr(0x8000'4000)) == nullptr);  // outside the buffer
  CHECK(slots.protocol_errors() == 0);
  slots.map_slot(2, PhysAddr(0x8000'2000));  // remapping a mapped slot skips break-before-make
  CHECK(slots.protocol_errors() == 1);
  slots.invalidate_slot(2);
  slots.invalidate_slot(2);
  CHECK(slots.protocol_errors() == 2);
  CHECK(slots.maps() == 3);
  CHECK(slots.invalidations() == 2);
}

TEMPLATE_LIST_TEST_CASE("FixmapMemory over BufferSlots builds the same tree as an Arena, keeping the slot protocol",
                        "[tables][fixmap]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t kPage = pool_align<F>();
  Phys phys(32 * kPage);
  PageBitmap<32> pages(PhysAddr(Phys::kBase), kPage);
  BufferSlots slots(phys.buf.get(), phys.bytes, PhysAddr(Phys::kBase));
  FixmapMemory mem(pages, slots);
  auto tree = make_tree<F>(mem);
  REQUIRE(tree.ok());
  const Mapping m = boundary_mapping<F>();
  REQUIRE(map(*tree, mem, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, Options::page_only()).ok());
  CHECK(slots.maps() == mem.stats().remaps);
  CHECK(slots.invalidations() == mem.stats().invalidations);
  CHECK(slots.mapped() == (1U << G::kDepth) - 1);  // each depth's slot still shows its last table
  mem.close();
  CHECK(slots.mapped() == 0);
  CHECK(slots.protocol_errors() == 0);
  check_tree(*tree, mem, 1 + G::kDepth, {m});
}

namespace {
/// The linear map of 4 GiB of RAM, page-only or with blocks, built through the window.
template <class F>
WindowStats linear_map_4g(std::uint64_t va, std::uint64_t pa, const Options& opts, typename F::Caps caps,
                          std::size_t expect_tables, SlotPolicy policy = SlotPolicy::keep) {
  using G = Geometry<F>;
  Window<F> w(expect_tables + 1, policy);
  auto tree = make_tree<F>(w.mem, caps);
  REQUIRE(tree.ok());
  auto r = map(*tree, w.mem, VirtAddr(va), PhysAddr(pa), std::uint64_t{4} << 30, Attrs{Perm::read | Perm::write | Perm::global}, opts);
  REQUIRE(r.ok());
  CHECK(r->tables_added == expect_tables);
  CHECK(w.window().protocol_errors == 0);
  const WindowStats s = w.mem.stats();
  w.mem.close();
  auto view = w.phys.view();
  check_tree(*tree, view, 1 + expect_tables, {Mapping{G::to_tree(VirtAddr(va)), pa, std::uint64_t{4} << 30}});
  return s;
}
}  // namespace

TEST_CASE("a 4 GiB linear map with 4 KiB pages costs one remap per table on arm64-4k-48 and x86-64-l4",
          "[tables][fixmap]") {
  // Tables by hand from the level spans: 4K granule L1 = 1 GiB, L2 = 2 MiB, L3 = 4 KiB (Arm ARM
  // D8.2); x86 4-level PDPTE = 1 GiB, PDE = 2 MiB, PTE = 4 KiB (SDM vol. 3A 4.5). A 1 GiB-aligned
  // 4 GiB range inside one root entry: 1 + 4 + 2048 = 2053 tables page-only.
  // Window: the root's slot is filled by make_tree (1 remap); each of the 2053 tables is mapped
  // once; slots 1..3 are first used without an invalidation: 2053 - 3 = 2050 invalidations
  // (the arm64 thread's pre-fix code: 2 per table = 4106).
  const auto arm = linear_map_4g<arm64::Vmsa4k48>(0x4000'0000, 0x4000'0000, Options::page_only(), {}, 2053);
  CHECK(arm.remaps == 1 + 2053);
  CHECK(arm.invalidations == 2050);
  CHECK(arm.bytes_zeroed == 4096);
  // Clearing the slot after every use: the root twice more (dry run, commit), all invalidated.
  const auto arm_clear =
      linear_map_4g<arm64::Vmsa4k48>(0x4000'0000, 0x4000'0000, Options::page_only(), {}, 2053, SlotPolicy::clear);
  CHECK(arm_clear.remaps == 1 + 2053 + 2);
  CHECK(arm_clear.invalidations == arm_clear.remaps);
  // x86-64 direct map base 0xffff888000000000 (PML4 index 273), RAM from PA 0.
  const auto x86 = linear_map_4g<x86::Long4>(0xffff'8880'0000'0000, 0, Options::page_only(), {}, 2053);
  CHECK(x86.remaps == 1 + 2053);
  CHECK(x86.invalidations == 2050);
  // With blocks: arm64 1 GiB L1 blocks need the L1 table only; x86-64 with 1 GiB pages likewise;
  // without Page1GB: the PDPT and 4 PDs of 2 MiB pages.
  const auto arm_b = linear_map_4g<arm64::Vmsa4k48>(0x4000'0000, 0x4000'0000, Options{}, {}, 1);
  CHECK(arm_b.remaps == 2);
  CHECK(arm_b.invalidations == 0);
  x86::Caps g1;
  g1.page1g = true;
  CHECK(linear_map_4g<x86::Long4>(0xffff'8880'0000'0000, 0, Options{}, g1, 1).remaps == 2);
  const auto x86_2m = linear_map_4g<x86::Long4>(0xffff'8880'0000'0000, 0, Options{}, {}, 5);
  CHECK(x86_2m.remaps == 6);
  CHECK(x86_2m.invalidations == 3);
}

// ==============================================================================================
// 2. Table budget and static pool
// ==============================================================================================

namespace {
// Known answers from Joerg Roedel, "[RFC PATCH 0/7] mm: Get rid of vmalloc_sync_(un)mappings()" (LKML, May 2020):
// - 4-level paging: the vmalloc area (32 TiB from 0xffffc90000000000) is 64 PML4 entries, "64
//   pages to pre-populate the vmalloc area";
constexpr Region kVmalloc4[] = {{VirtAddr(0xffff'c900'0000'0000), std::uint64_t{32} << 40}};
static_assert(tables_touched<x86::Long4>(kVmalloc4, 1) == 64);
// - PAE with a 1G/3G split: "1536 total PMD entries" for the 3 GiB kernel half; with 512 MiB of
//   RAM, 256 for the direct map, 4 for the 8 MiB hole and 4 at the end: "1272 PMD entries for
//   VMALLOC space", each needing a PTE page;
constexpr Region kPaeKernel[] = {{VirtAddr(0x4000'0000), 0xc000'0000}};
static_assert(tables_touched<x86::Pae>(kPaeKernel, 2) == 1536);
constexpr Region kPaeVmalloc[] = {{VirtAddr(0x4000'0000 + (512u << 20) + (8u << 20)), 0xc000'0000 - (512u << 20) - (16u << 20)}};
static_assert(tables_touched<x86::Pae>(kPaeVmalloc, 2) == 1272);
// - 32-bit non-PAE: 1024-entry directories of 4 MiB entries; a 3 GiB kernel uses 768 of them.
constexpr Region kLegacyKernel[] = {{VirtAddr(0x4000'0000), 0xc000'0000}};
static_assert(tables_touched<x86::X86_32>(kLegacyKernel, 1) == 768);
// arm64 4K granule (L1 1 GiB, L2 2 MiB; Arm ARM D8.2): 4 GiB page-only = 1 + 4 + 2048.
constexpr Region kLinear4g[] = {{VirtAddr(0x4000'0000), std::uint64_t{4} << 30}};
static_assert(table_budget<arm64::Vmsa4k48>(kLinear4g) == 2053);
static_assert(tables_touched<arm64::Vmsa4k48>(kLinear4g, 3) == 2048);
// Two pages in one Sv39 last-level table (VPN[2] = 1 GiB, VPN[1] = 2 MiB; RISC-V priv 4.4.1):
// each alone needs 2 tables; together they share both.
constexpr Region kShared[] = {{VirtAddr(0x1000), 0x1000}, {VirtAddr(0x3000), 0x1000}};
static_assert(table_budget<riscv::Sv39>(kShared) == 4);
static_assert(table_budget_merged<riscv::Sv39>(kShared) == 2);
constexpr Region kChain[] = {{VirtAddr(0x20'0000), 0x40'0000}, {VirtAddr(0x1000), 0x1000}, {VirtAddr(0x60'0000), 0x1000}, {VirtAddr(0x3f'f000), 0x1000}};
static_assert(tables_touched<riscv::Sv39>(kChain, 2, Overlap::merge) == 4);  // VPN[1] 0..3
static_assert(table_budget<riscv::Sv39>(std::span<const Region>{}) == 0);
// Exact budgets with blocks (the PA decides where leaves go). Sv39 (RISC-V priv 4.4.1: VPN[2]
// entries map 1 GiB): 1 GiB of RAM at a 1 GiB-aligned PA is one root leaf, no table; the worst
// case counts its 1 + 512 tables. With the PA only 2 MiB-aligned: one VPN[1] table of 2 MiB leaves.
constexpr MapExtent kGiga[] = {{VirtAddr(0xffff'ffc0'0000'0000), PhysAddr(0x8000'0000), 1 << 30}};
constexpr MapExtent kGiga2m[] = {{VirtAddr(0xffff'ffc0'0000'0000), PhysAddr(0x8020'0000), 1 << 30}};
constexpr Region kGigaRegion[] = {{VirtAddr(0xffff'ffc0'0000'0000), 1 << 30}};
static_assert(table_budget<riscv::Sv39>(kGiga) == 0);
static_assert(table_budget<riscv::Sv39>(kGiga2m) == 1);
static_assert(table_budget<riscv::Sv39>(kGigaRegion) == 513);
// max_leaf_size 2 MiB: one VPN[1] table of 2 MiB leaves.
static_assert(table_budget<riscv::Sv39>(kGiga, {}, Options{.max_leaf_size = 2 << 20}) == 1);
// x86-64 4-level (Intel SDM vol 3 4.5: a PDPTE maps 1 GiB only with 1-GByte-page support): the
// same 1 GiB needs a PDPT, plus a PD of 2 MiB pages when page1g is off (the default caps).
constexpr MapExtent kGigaX86[] = {{VirtAddr(0xffff'8880'0000'0000), PhysAddr(0x4000'0000), 1 << 30}};
static_assert(table_budget<x86::Long4>(kGigaX86) == 2);
static_assert(table_budget<x86::Long4>(kGigaX86, x86::Caps{.page1g = true}) == 1);
// The RISC-V boot layout with its PAs: the kernel's 2 MiB at a 2 MiB-aligned PA is one VPN[1]
// leaf (1 table), the 8 MiB linear map four (1 table): 2 tables instead of 7.
constexpr MapExtent kBootExtents[] = {{VirtAddr(0x8020'0000), PhysAddr(0x8020'0000), 2 << 20},
                                      {VirtAddr(0xffff'ffc0'0000'0000), PhysAddr(0x8000'0000), 8 << 20}};
static_assert(table_budget<riscv::Sv39>(kBootExtents) == 2);
// docs/tables.md: the image's 2 MiB is a VPN[1] leaf (1 table), 1 GiB of RAM a root leaf.
constexpr MapExtent kDocBoot[] = {{VirtAddr(0x8020'0000), PhysAddr(0x8020'0000), 2 << 20},
                                  {VirtAddr(0xffff'ffc0'0000'0000), PhysAddr(0x8000'0000), 1 << 30}};
static_assert(table_budget<riscv::Sv39>(kDocBoot) == 1);
// Pool sizes: the root first, padded to the tables' alignment (a PAE root is 32 bytes).
static_assert(pool_bytes<x86::Pae>(3) == 4 * 4096);
static_assert(pool_bytes<riscv::Sv39>(7) == 8 * 4096);
static_assert(pool_bytes<arm64::Vmsa64k48>(2) == 3 * 65536);
static_assert(pool_align<arm64::Vmsa16k48>() == 16384);

// A RISC-V boot layout (kernel at 0x80200000, linear map at the Sv39 PAGE_OFFSET, as in setup_vm()):
// kernel 2 MiB inside one 2 MiB entry (1 + 1 tables) and 8 MiB of linear map (1 + 4): 7 tables.
constexpr Region kBootLayout[] = {{VirtAddr(0x8020'0000), 2 << 20}, {VirtAddr(0xffff'ffc0'0000'0000), 8 << 20}};
static_assert(table_budget<riscv::Sv39>(kBootLayout) == 7);
constinit StaticPoolFor<riscv::Sv39, table_budget<riscv::Sv39>(kBootLayout)> boot_pool;
static_assert(sizeof(boot_pool) >= 8 * 4096);
}  // namespace

TEST_CASE("a constinit static pool sized by the budget holds the boot layout exactly, and refuses one table more",
          "[tables][pool]") {
  using F = riscv::Sv39;
  auto tree = make_tree<F>(boot_pool);
  REQUIRE(tree.ok());
  CHECK(tree->root == PhysAddr(reinterpret_cast<std::uintptr_t>(&boot_pool)));  // identity by default
  std::vector<Mapping> layout;
  for (const Region& r : kBootLayout) {
    const std::uint64_t pa = 0x8020'0000 + (layout.empty() ? 0 : (64u << 20));
    auto m = map(*tree, boot_pool, r.base, PhysAddr(pa), r.size, kRwxg, Options::page_only());
    REQUIRE(m.ok());
    layout.push_back(Mapping{Geometry<F>::to_tree(r.base), pa, r.size});
  }
  CHECK(boot_pool.tables_in_use() == 8);
  CHECK(boot_pool.used() == boot_pool.capacity());
  check_tree(*tree, boot_pool, 8, layout);
  CHECK_FALSE(boot_pool.place_at(PhysAddr(0x8000'0000)));  // too late: tables handed out
  auto r = map(*tree, boot_pool, VirtAddr(0x4000'0000), PhysAddr(0x4000'0000), 4096, kRwxg);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::out_of_memory);
  check_tree(*tree, boot_pool, 8, layout);
}

TEST_CASE("a static pool placed at a physical address hands out tables there", "[tables][pool]") {
  using F = x86::Pae;  // 32-bit table addresses: the pool must say where it is
  static StaticPoolFor<F, 3> pool;
  CHECK_FALSE(pool.place_at(PhysAddr(0x10'0800)));  // not 4 KiB aligned
  REQUIRE(pool.place_at(PhysAddr(0x10'0000)));
  auto tree = make_tree<F>(pool);
  REQUIRE(tree.ok());
  CHECK(tree->root == PhysAddr(0x10'0000));
  REQUIRE(map(*tree, pool, VirtAddr(0xc000'0000), PhysAddr(0x20'0000), 8192, kRwxg).ok());
  CHECK(pool.tables_in_use() == 3);  // root, PD, PT
  check_tree(*tree, pool, 3, {Mapping{0xc000'0000, 0x20'0000, 8192}});
}

TEMPLATE_LIST_TEST_CASE("the table budget bounds what map() allocates for random layouts and is exact for page-only maps",
                        "[tables][pool]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  for (int iter = 0; iter < 40; ++iter) {
    const std::uint64_t seed = 0xb0d6e7 + 7919 * iter;
    const bool blocks = iter % 2;
    CAPTURE(F::kName, seed, blocks);
    std::mt19937_64 rng(seed);
    const auto layout = random_layout<F>(rng, blocks);
    const auto regions = regions_of<F>(layout);
    const std::size_t separate = table_budget<F>(regions), merged = table_budget_merged<F>(regions);
    CHECK(merged <= separate);
    // A pool of exactly pool_bytes(budget) never runs out, for either budget.
    for (const std::size_t budget : {separate, merged}) {
      const std::size_t bytes = pool_bytes<F>(budget);
      Buffer buf = aligned_buffer(bytes);
      Arena pool(buf.get(), bytes, PhysAddr(Phys::kBase));
      auto tree = make_tree<F>(pool, test::full_caps<F>());
      REQUIRE(tree.ok());
      std::size_t used = 0;
      for (const auto& m : layout) {
        auto r = map(*tree, pool, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, blocks ? Options{} : Options::page_only());
        REQUIRE(r.ok());
        used += r->tables_added;
      }
      CHECK(used <= budget);
      if (!blocks) {
        CHECK(used == merged);  // page-only: the merged budget is exact...
        if (budget == merged) CHECK(pool.used() == bytes);  // ...to the byte
      }
      check_tree(*tree, pool, 1 + used, layout);
    }
    // Page-only, one table short of the merged budget: some map runs out (the budget is tight).
    if (!blocks && merged > 0) {
      const std::size_t bytes = pool_bytes<F>(merged - 1);
      Buffer buf = aligned_buffer(bytes);
      Arena pool(buf.get(), bytes, PhysAddr(Phys::kBase));
      auto tree = make_tree<F>(pool, test::full_caps<F>());
      REQUIRE(tree.ok());
      bool ran_out = false;
      for (const auto& m : layout) {
        auto r = map(*tree, pool, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, Options::page_only());
        if (!r) {
          CHECK(r.error().code == Errc::out_of_memory);
          ran_out = true;
          break;
        }
      }
      CHECK(ran_out);
    }
  }
}

/// Up to 4 disjoint mappings of whole blocks of a random level with partial blocks at both ends,
/// each at a PA congruent to its VA modulo a random level's size (so map() picks blocks of
/// several sizes); layouts the exact budget puts above 256 tables are skipped (host memory).
template <class F>
std::vector<Mapping> block_layout(std::mt19937_64& rng, const typename F::Caps& caps, const Options& opts) {
  using G = Geometry<F>;
  const std::uint64_t limit = test::tree_limit<F>();
  const std::uint64_t pa_room = std::min<std::uint64_t>(G::kPaLimit, std::uint64_t{1} << 46) / 2;
  const std::size_t n = 1 + rng() % 4;
  std::vector<Mapping> out;
  for (int attempt = 0; attempt < 200 && out.size() < n; ++attempt) {
    const std::size_t d = rng() % (G::kDepth - 1);  // the level of the whole blocks
    const std::uint64_t B = G::span(d), below = G::span(d + 1);
    if (4 * B > limit / 2 || 4 * B > pa_room) continue;
    const std::uint64_t head = (rng() % 3) * below + (rng() % 3) * G::kPageSize;
    const std::uint64_t size = head + (rng() % 3) * B + (rng() % 3) * below + (rng() % 3) * G::kPageSize;
    if (size == 0 || head >= B) continue;
    const std::uint64_t t = align_down(rng() % (limit - size - B), B) + B - head;
    if (t + size > limit) continue;
    bool overlaps = false;
    for (const auto& m : out) overlaps |= t < m.t + m.size && m.t < t + size;
    if (overlaps) continue;
    const std::uint64_t congruent = G::span(d + rng() % (G::kDepth - d));  // VA - PA is a multiple of it
    const std::uint64_t pa = align_down(rng() % (pa_room - size - B), B) + (t & (congruent - 1));
    out.push_back(Mapping{t, pa, size});
    std::vector<MapExtent> e;
    for (const auto& m : out) e.push_back(MapExtent{G::to_va(m.t), PhysAddr(m.pa), m.size});
    if (table_budget<F>(e, caps, opts) > 256) out.pop_back();
  }
  return out;
}

TEMPLATE_LIST_TEST_CASE("the exact budget with PAs equals what plan() and map() allocate, blocks included",
                        "[tables][pool]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  for (int iter = 0; iter < 48; ++iter) {
    const std::uint64_t seed = 0xe4ac7 + 104729 * iter;
    std::mt19937_64 rng(seed);
    const typename F::Caps caps = iter % 2 ? test::full_caps<F>() : typename F::Caps{};
    Options opts;
    if (iter % 3 == 2) opts.max_leaf_size = G::span(rng() % G::kDepth);
    CAPTURE(F::kName, seed, opts.max_leaf_size);
    auto layout = block_layout<F>(rng, caps, opts);
    std::vector<MapExtent> extents;
    for (const auto& m : layout) extents.push_back(MapExtent{G::to_va(m.t), PhysAddr(m.pa), m.size});
    const std::size_t exact = table_budget<F>(extents, caps, opts);
    CHECK(exact <= table_budget_merged<F>(regions_of<F>(layout)));  // never above the worst case
    // A pool of exactly pool_bytes(exact) is used to the byte, in any order of the maps.
    std::shuffle(layout.begin(), layout.end(), rng);
    const std::size_t bytes = pool_bytes<F>(exact);
    Buffer buf = aligned_buffer(bytes);
    Arena pool(buf.get(), bytes, PhysAddr(Phys::kBase));
    auto tree = make_tree<F>(pool, caps);
    REQUIRE(tree.ok());
    std::size_t planned = 0, used = 0;
    for (const auto& m : layout) {
      const op::Map o{G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg};
      auto p = plan(*tree, pool, o, opts);
      REQUIRE(p.ok());
      auto r = apply(*tree, pool, o, opts);
      REQUIRE(r.ok());
      CHECK(r->tables_added == *p);
      planned += *p;
      used += r->tables_added;
    }
    CHECK(planned == exact);
    CHECK(used == exact);
    CHECK(pool.used() == bytes);
    check_tree(*tree, pool, 1 + used, layout);
  }
}

TEMPLATE_LIST_TEST_CASE("the separate budget equals the tables used when page-only regions share no table",
                        "[tables][pool]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  // One region per root entry (as many as the root has, up to 3), each crossing a last-level
  // table boundary: no table is shared.
  const std::uint64_t P = G::kPageSize, T = G::span(G::kDepth - 2);
  const std::uint64_t stride = G::kDepth > 2 ? G::span(0) : 2 * T;  // two levels: skip a table
  const std::size_t n = std::size_t(std::min<std::uint64_t>(3, test::tree_limit<F>() / stride));
  std::vector<Mapping> layout;
  for (std::size_t k = 0; k < n; ++k) layout.push_back(Mapping{k * stride + T - 2 * P, 0x10'0000 + k * 0x10'0000, 4 * P});
  const auto regions = regions_of<F>(layout);
  CHECK(table_budget<F>(regions) == table_budget_merged<F>(regions));
  test::Memory mem;
  auto tree = make_tree<F>(mem.arena);
  REQUIRE(tree.ok());
  std::size_t used = 0;
  for (const auto& m : layout) {
    auto r = map(*tree, mem.arena, G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg, Options::page_only());
    REQUIRE(r.ok());
    used += r->tables_added;
  }
  CHECK(used == table_budget<F>(regions));
  CHECK(used == n * G::kDepth);
}

// ==============================================================================================
// 3. Images
// ==============================================================================================

TEMPLATE_LIST_TEST_CASE("an image built for load address X and copied elsewhere translates the same when reached at X",
                        "[tables][image]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const PhysAddr load(0x8000'0000 & G::kPaLimit);  // aligned to every format's pool_align
  for (int iter = 0; iter < 6; ++iter) {
    const std::uint64_t seed = 0x1a6e + 31 * iter;
    CAPTURE(F::kName, seed);
    std::mt19937_64 rng(seed);
    const auto layout = random_layout<F>(rng, iter % 2);
    const std::size_t bytes = pool_bytes<F>(table_budget<F>(regions_of<F>(layout)));
    Buffer build = aligned_buffer(bytes);
    auto img = ImageBuilder<F>::create(build.get(), bytes, load, test::full_caps<F>());
    REQUIRE(img.ok());
    auto image = *img;
    CHECK(image.root() == load);
    CHECK(image.bytes().size() == G::table_bytes(0));  // the root, at offset 0
    for (const auto& m : layout) REQUIRE(image.map(G::to_va(m.t), PhysAddr(m.pa), m.size, kRwxg).ok());
    const auto out = image.bytes();
    CHECK(out.data() == build.get());

    // Copy the used prefix elsewhere; the copy is all another machine gets.
    Buffer copy = aligned_buffer(out.size(), 0x00);
    std::memcpy(copy.get(), out.data(), out.size());
    build.reset();
    Arena at_x(copy.get(), out.size(), load);
    check_tree(image.tree(), at_x, image.memory().tables_in_use(), layout);
    DirectAccess direct(reinterpret_cast<std::uintptr_t>(copy.get()) - load.value);
    for (const auto& m : layout) {
      auto tr = translate(image.tree(), direct, G::to_va(m.t));
      REQUIRE(tr.ok());
      CHECK(tr->pa == PhysAddr(m.pa));
    }
    // The first table is the root: the root entry of every mapping's first VA is in it.
    const auto* root = reinterpret_cast<const typename F::Entry*>(copy.get());
    for (const auto& m : layout) CHECK(F::decode(G::level(0), root[G::index(m.t, 0)]).kind != EntryKind::invalid);
  }
}

TEMPLATE_LIST_TEST_CASE("an image refuses a misaligned load address, a buffer too small for the root, and PAs the format cannot hold",
                        "[tables][image]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Buffer buf = aligned_buffer(1 << 20);
  auto misaligned = ImageBuilder<F>::create(buf.get(), 1 << 20, PhysAddr(0x8000'0000 + pool_align<F>() / 2));
  REQUIRE_FALSE(misaligned.ok());
  CHECK(misaligned.error().code == Errc::misaligned_table);
  auto small = ImageBuilder<F>::create(buf.get(), G::table_bytes(0) - 1, PhysAddr(0x10'0000));
  REQUIRE_FALSE(small.ok());
  CHECK(small.error().code == Errc::out_of_memory);
  auto high = ImageBuilder<F>::create(buf.get(), 1 << 20, PhysAddr(align_down(G::kPaLimit - (1 << 19), pool_align<F>())));
  REQUIRE_FALSE(high.ok());
  CHECK(high.error().code == Errc::pa_out_of_range);
  CHECK(ImageBuilder<F>::create(buf.get(), 1 << 20, PhysAddr(0x10'0000)).ok());
}

// ==============================================================================================
// 4. Zeroing
// ==============================================================================================

namespace {
/// A TableMemory that counts what the engine asks of the allocator.
struct CountingArena {
  Arena& arena;
  std::size_t zeroed_requests = 0, plain_requests = 0, bytes_zeroed = 0;
  std::optional<NewTable> allocate(const TableRequest& r) {
    (r.zeroed ? zeroed_requests : plain_requests) += 1;
    if (r.zeroed) bytes_zeroed += r.bytes;
    return arena.allocate(r);
  }
  bool reserve(std::size_t n, const TableRequest& r) { return arena.reserve(n, r); }
  void release(PhysAddr pa, const TableRequest& r) { arena.release(pa, r); }
  void* map(PhysAddr pa, std::size_t d) { return arena.map(pa, d); }
  void unmap(void* p, std::size_t d) { arena.unmap(p, d); }
};
static_assert(TableMemory<CountingArena>);
}  // namespace

TEMPLATE_LIST_TEST_CASE("make_tree asks for a zeroed root; map and splits never ask for zeroed tables", "[tables][zero]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  test::Memory m(16 << 20);  // filled with garbage
  CountingArena mem{m.arena};
  auto tree = make_tree<F>(mem, test::full_caps<F>());
  REQUIRE(tree.ok());
  CHECK(mem.zeroed_requests == 1);
  CHECK(mem.plain_requests == 0);
  CHECK(mem.bytes_zeroed == G::table_bytes(0));

  const std::size_t d = G::kDepth - 2;  // blocks at the level above pages
  const std::uint64_t P = G::kPageSize, B = G::span(d);
  const std::uint64_t t0 = G::kDepth > 2 ? G::span(0) : 2 * B;
  std::size_t added = 0;
  const Mapping page_only{t0 + B - 2 * P, 0x10'0000, 4 * P};
  auto r = map(*tree, mem, G::to_va(page_only.t), PhysAddr(page_only.pa), page_only.size, kRwxg, Options::page_only());
  REQUIRE(r.ok());
  added += r->tables_added;
  // Two blocks, then a page of each unmapped / protected: both blocks split.
  const Mapping blocks{t0 + 2 * B, 4 * B, 2 * B};
  r = map(*tree, mem, G::to_va(blocks.t), PhysAddr(blocks.pa), blocks.size, kRwxg);
  REQUIRE(r.ok());
  added += r->tables_added;
  r = unmap(*tree, mem, G::to_va(blocks.t + P), P);
  REQUIRE(r.ok());
  CHECK(r->tables_added == 1);
  added += r->tables_added;
  r = protect(*tree, mem, G::to_va(blocks.t + B), P, Attrs{Perm::read | Perm::exec | Perm::global});
  REQUIRE(r.ok());
  CHECK(r->tables_added == 1);
  added += r->tables_added;

  CHECK(mem.zeroed_requests == 1);
  CHECK(mem.bytes_zeroed == G::table_bytes(0));
  CHECK(mem.plain_requests == added);
  // Nothing relied on zeroed memory: the garbage around every entry written is gone.
  check_tree(*tree, m.arena, 1 + added,
             {page_only, Mapping{blocks.t, blocks.pa, P}, Mapping{blocks.t + 2 * P, blocks.pa + 2 * P, 2 * B - 2 * P}});
}
