// The API a kernel author needs beyond map/unmap/protect, over every format: re-mapping what is
// already mapped (Options::remap), errors that say what to do, the mutate-by-callback range walk
// (ptlib/apply.hpp) and the W^X audit of validate().
#include <string>

#include <ptlib/maps.hpp>
#include <ptlib/tables.hpp>

#include "support.hpp"

using namespace ptlib;
using test::kRwxg;
using test::Memory;

namespace {

/// A tree over test memory with full capabilities, and the leaf attributes a test can use.
template <class F>
struct Space {
  using G = Geometry<F>;
  Memory m;
  Tree<F> tree;
  Space() : tree(*make_tree<F>(m.arena, test::full_caps<F>())) {}
  /// The VA (tree offset) of the first page of the second table's span at the level above
  /// pages: a block of that size fits at t0 on formats that have one.
  static constexpr std::uint64_t kT0 = G::span(G::kDepth - 2);
  static VirtAddr va(std::uint64_t off = 0) { return G::to_va(kT0 + off); }
  /// Whether every level of F can express `a` (allow_implied_exec: x86-32 has no NX).
  bool expressible(Attrs a) const {
    for (std::size_t d = 0; d < G::kDepth; ++d)
      if (F::can_leaf(G::level(d), tree.caps) && !F::leaf_proto(G::level(d), LeafSettings{a, false, true}, tree.caps))
        return false;
    return true;
  }
};

Options remap_opts(Remap r, Live live = Live::offline) {
  Options o;
  o.remap = r;
  o.live = live;
  o.allow_implied_exec = true;
  o.contiguous = false;
  return o;
}

const Attrs kRxg{Perm::read | Perm::exec | Perm::global};
const Attrs kRwx{Perm::read | Perm::write | Perm::exec};  // not global
const Attrs kRwxgUser{Perm::read | Perm::write | Perm::exec | Perm::global | Perm::user};
const Attrs kRwxgDev{Perm::read | Perm::write | Perm::exec | Perm::global, MemType::device};
const Attrs kRwDev{Perm::read | Perm::write | Perm::global, MemType::device};

}  // namespace

// ==============================================================================================
// Options::remap: Linux's pgattr_change_is_safe choice, as an option.
// ==============================================================================================

TEMPLATE_LIST_TEST_CASE("re-mapping the same pages: refused by default, kept when identical, refused when they conflict",
                        "[remap]", test::EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const std::uint64_t P = G::kPageSize;
  Space<F> s;
  const PhysAddr pa(0x20'0000 + 0x1000'0000);
  CAPTURE(F::kName);
  const Options plain = remap_opts(Remap::refuse);
  REQUIRE(map(s.tree, s.m.arena, s.va(), pa, 4 * P, kRwxg, plain).ok());
  const auto before = s.m.snapshot();
  const auto leaves = test::leaves(s.tree, s.m.arena);

  // The default: overlap, with the VA, PA and level of the leaf met.
  auto r = map(s.tree, s.m.arena, s.va(P), pa + P, P, kRwxg, plain);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::overlap);
  CHECK(r.error().va == s.va(P));
  CHECK(r.error().pa == pa + P);
  CHECK(r.error().has_level());

  for (const Live live : {Live::offline, Live::refuse, Live::break_before_make}) {
    CAPTURE(int(live));
    for (const Remap mode : {Remap::identical, Remap::safe}) {
      CAPTURE(int(mode));
      test::Recorder rec;
      // Identical (the whole range, a part of it): accepted, nothing written, no TLB work.
      for (const auto& [off, size] : {std::pair{std::uint64_t{0}, 4 * P}, std::pair{P, 2 * P}}) {
        auto ok = map(s.tree, s.m.arena, s.va(off), pa + off, size, kRwxg, remap_opts(mode, live), rec);
        REQUIRE(ok.ok());
        CHECK(ok->leaves_changed == 0);
        CHECK(ok->tables_added == 0);
        CHECK(ok->modified.empty());
      }
      CHECK(rec.events.empty());
      CHECK(s.m.snapshot() == before);
      // Conflicts: another PA; another memory type or user flag (never safe); each refused as
      // overlap with nothing changed. The range also covers free pages: none of them is mapped.
      std::vector<std::pair<PhysAddr, Attrs>> conflicts{{pa + 2 * P, kRwxg}, {pa + 8 * P, kRwxg}};
      if (s.expressible(kRwxgDev)) conflicts.emplace_back(pa, kRwxgDev);
      if (s.expressible(kRwxgUser)) conflicts.emplace_back(pa, kRwxgUser);
      for (const auto& [cpa, ca] : conflicts) {
        CAPTURE(cpa, ca);
        auto bad = map(s.tree, s.m.arena, s.va(2 * P), cpa + 2 * P, 4 * P, ca, remap_opts(mode, live), rec);
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().code == Errc::overlap);
        CHECK(bad.error().va == s.va(2 * P));
        CHECK(s.m.snapshot() == before);
        CHECK(rec.events.empty());
      }
    }
  }
  CHECK(test::leaves(s.tree, s.m.arena) == leaves);
}

TEMPLATE_LIST_TEST_CASE("an identical re-map that also covers free pages maps those and keeps the rest",
                        "[remap]", test::EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const std::uint64_t P = G::kPageSize;
  Space<F> s;
  const PhysAddr pa(0x1000'0000);
  CAPTURE(F::kName);
  REQUIRE(map(s.tree, s.m.arena, s.va(2 * P), pa + 2 * P, 2 * P, kRwxg, remap_opts(Remap::refuse)).ok());
  auto r = map(s.tree, s.m.arena, s.va(), pa, 6 * P, kRwxg, remap_opts(Remap::identical));
  REQUIRE(r.ok());
  CHECK(r->leaves_changed == 4);  // pages 0, 1, 4, 5
  const auto leaves = test::leaves(s.tree, s.m.arena);
  REQUIRE(leaves.size() == 6);
  for (std::size_t k = 0; k < 6; ++k) {
    CHECK(leaves[k].va == s.va(k * P));
    CHECK(leaves[k].pa == pa + k * P);
  }
}

TEMPLATE_LIST_TEST_CASE("a page re-mapped inside a block with the block's attributes and PA is identical",
                        "[remap]", test::EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Space<F> s;
  constexpr std::size_t kBlock = G::kDepth - 2;
  if (!F::can_leaf(G::level(kBlock), s.tree.caps)) return;  // no block at the level above pages
  const std::uint64_t B = G::span(kBlock), P = G::kPageSize;
  const PhysAddr pa(std::uint64_t{1} << 30);
  REQUIRE(map(s.tree, s.m.arena, s.va(), pa, B, kRwxg, remap_opts(Remap::refuse)).ok());
  REQUIRE(test::leaves(s.tree, s.m.arena).size() == 1);
  const auto before = s.m.snapshot();
  auto r = map(s.tree, s.m.arena, s.va(3 * P), pa + 3 * P, P, kRwxg, remap_opts(Remap::identical));
  REQUIRE(r.ok());
  CHECK(r->leaves_changed == 0);
  CHECK(s.m.snapshot() == before);
  // Inside the block with other attributes: even Remap::safe refuses (it would need a split).
  if (s.expressible(kRxg)) {
    auto bad = map(s.tree, s.m.arena, s.va(3 * P), pa + 3 * P, P, kRxg, remap_opts(Remap::safe));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::overlap);
    CHECK(s.m.snapshot() == before);
  }
}

TEMPLATE_LIST_TEST_CASE("a safe re-map changes write/exec and global to non-global; the reverse and partial success never",
                        "[remap]", test::EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const std::uint64_t P = G::kPageSize;
  const PhysAddr pa(0x1000'0000);
  CAPTURE(F::kName);
  for (const Live live : {Live::offline, Live::refuse, Live::break_before_make}) {
    CAPTURE(int(live));
    Space<F> s;
    // Pages 0-2 -> pa + 0..2 pages, page 3 -> pa + 9 pages, page 5 -> pa + 5 pages; page 4 free.
    REQUIRE(map(s.tree, s.m.arena, s.va(), pa, 3 * P, kRwxg, remap_opts(Remap::refuse)).ok());
    REQUIRE(map(s.tree, s.m.arena, s.va(3 * P), pa + 9 * P, P, kRwxg, remap_opts(Remap::refuse)).ok());
    REQUIRE(map(s.tree, s.m.arena, s.va(5 * P), pa + 5 * P, P, kRwxg, remap_opts(Remap::refuse)).ok());
    test::Recorder rec;
    // rwx g -> r-x g on pages 1..2: the leaves change in place (a TLB invalidation each when live).
    REQUIRE(s.expressible(kRxg));
    REQUIRE_FALSE(map(s.tree, s.m.arena, s.va(P), pa + P, 2 * P, kRxg, remap_opts(Remap::identical), rec).ok());
    auto r = map(s.tree, s.m.arena, s.va(P), pa + P, 2 * P, kRxg, remap_opts(Remap::safe, live), rec);
    REQUIRE(r.ok());
    CHECK(r->leaves_changed == 2);
    auto t = translate(s.tree, s.m.arena, s.va(2 * P));
    REQUIRE(t.ok());
    CHECK_FALSE(t->leaf.attrs.write());
    CHECK(t->pa == pa + 2 * P);
    CHECK(rec.count(test::Recorder::Event::invalidate) == (live == Live::offline ? 0 : 2));
    // global -> non-global is safe in Linux's rule; where the format's manual demands
    // break-before-make for it (Arm ARM D8.16.1 lists nG), it is refused as a conflict too.
    constexpr auto L = G::level(G::kDepth - 1);
    const auto g = F::leaf_proto(L, LeafSettings{kRwxg, false, true}, s.tree.caps);
    const auto ng_proto = F::leaf_proto(L, LeafSettings{kRwx, false, true}, s.tree.caps);
    REQUIRE((g.ok() && ng_proto.ok()));
    const bool bbm = F::needs_bbm(L, F::leaf(L, *g, pa), F::leaf(L, *ng_proto, pa));
    auto ng = map(s.tree, s.m.arena, s.va(5 * P), pa + 5 * P, P, kRwx, remap_opts(Remap::safe, live), rec);
    CHECK(ng.ok() == !bbm);
    CHECK(translate(s.tree, s.m.arena, s.va(5 * P))->leaf.attrs.global() == bbm);
    const auto before = s.m.snapshot();
    rec.events.clear();
    // Non-global -> global: never ("Transitioning from Non-Global to Global is unsafe").
    if (!bbm) {
      auto back = map(s.tree, s.m.arena, s.va(5 * P), pa + 5 * P, P, kRwxg, remap_opts(Remap::safe, live), rec);
      REQUIRE_FALSE(back.ok());
      CHECK(back.error().code == Errc::overlap);
    }
    // No partial success: another memory type on page 0 (never safe), then pages 0
    // (identical), 1-2 (r-x -> rwx: safe), 3 (another PA: conflict), 4 (free).
    if (s.expressible(kRwDev)) {
      auto dev = map(s.tree, s.m.arena, s.va(), pa, P, kRwxgDev, remap_opts(Remap::safe, live), rec);
      REQUIRE_FALSE(dev.ok());
      CHECK(dev.error().code == Errc::overlap);
    }
    auto part = map(s.tree, s.m.arena, s.va(), pa, 5 * P, kRwxg, remap_opts(Remap::safe, live), rec);
    REQUIRE_FALSE(part.ok());
    CHECK(part.error().code == Errc::overlap);
    CHECK(part.error().va == s.va(3 * P));
    CHECK(part.error().pa == pa + 9 * P);
    CHECK(s.m.snapshot() == before);
    CHECK(rec.events.empty());
  }
}

// ==============================================================================================
// Errors that say what was needed and what to do.
// ==============================================================================================

TEMPLATE_LIST_TEST_CASE("out_of_memory says how many tables the call needed and how many the allocator had",
                        "[errors]", test::EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  CAPTURE(F::kName);
  const std::uint64_t P = G::kPageSize, T = G::span(G::kDepth - 2);
  // Pages across three last-level tables: every level below the root needs new tables.
  const VirtAddr va = G::to_va(3 * T - P);
  const std::uint64_t size = T + 2 * P;
  for (std::size_t room = 0; room < 3; ++room) {
    CAPTURE(room);
    const std::size_t bytes = pool_bytes<F>(room);  // the root and `room` tables
    Memory m(bytes);
    auto tree = make_tree<F>(m.arena);
    REQUIRE(tree.ok());
    auto needed = plan(*tree, m.arena, op::Map{va, PhysAddr(0x1000'0000), size, kRwxg}, Options::page_only());
    REQUIRE(needed.ok());
    REQUIRE(*needed > room);
    const auto before = m.snapshot();
    auto r = map(*tree, m.arena, va, PhysAddr(0x1000'0000), size, kRwxg, Options::page_only());
    REQUIRE_FALSE(r.ok());
    const Error& e = r.error();
    CHECK(e.code == Errc::out_of_memory);
    CHECK(e.tables_needed == *needed);
    CHECK(e.tables_available == room);
    CHECK_FALSE(e.has_pa());
    CHECK(m.snapshot() == before);
    char line[256];
    const std::size_t n = format_error(e, line, sizeof line);
    CHECK(n < sizeof line);
    CHECK_THAT(std::string(line), Catch::Contains(fmt::format("needed {} tables, the allocator could give {}", *needed, room)));
    CHECK_THAT(std::string(line), Catch::Contains("what to do: give the allocator more tables"));
    CHECK_THAT(std::string(line), !Catch::Contains(" pa "));
  }
  // The root itself: one table needed, none there.
  Memory none(G::table_bytes(0) - 1);
  auto t = make_tree<F>(none.arena);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == Errc::out_of_memory);
  CHECK(t.error().tables_needed == 1);
  CHECK(t.error().tables_available == 0);
}

TEST_CASE("a batch map's out_of_memory counts the tables of all its pieces", "[errors]") {
  using F = riscv::Sv39;
  // Two banks in two 1 GiB entries, each 2 MiB + 4 KiB at 2 MiB-aligned PAs: each needs a VPN[1]
  // table (2 MiB leaf + a VPN[0] table for the last page): 4 tables (RISC-V priv 4.4.1).
  const Bank banks[] = {{PhysAddr(0x8000'0000), (2 << 20) + 0x1000}, {PhysAddr(0xc000'0000), (2 << 20) + 0x1000}};
  Memory m(pool_bytes<F>(1));
  auto tree = make_tree<F>(m.arena);
  REQUIRE(tree.ok());
  auto r = map_linear(*tree, m.arena, banks, 0xffff'ffc0'0000'0000 - 0x8000'0000);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::out_of_memory);
  CHECK(r.error().tables_needed == 4);
  CHECK(r.error().tables_available == 1);
}

TEST_CASE("format_error writes what is known, cut to the buffer, and returns the whole length", "[errors]") {
  Error e = make_error(Errc::zero_size, VirtAddr(0x1000));
  char big[200];
  const std::size_t n = format_error(e, big, sizeof big);
  CHECK(std::string(big) == "zero_size at va 0x0000000000001000: size is zero; what to do: pass a size of at least one page");
  CHECK(n == std::string(big).size());
  char small[10];
  CHECK(format_error(e, small, sizeof small) == n);
  CHECK(std::string(small) == "zero_size");
  CHECK(format_error(e, nullptr, 0) == n);
  // Level and PA when present; a PA of 0 is a real address.
  const Error at0{Errc::overlap, VirtAddr(0x2000), PhysAddr(0), 0, "VPN[0]"};
  format_error(at0, big, sizeof big);
  CHECK_THAT(std::string(big), Catch::StartsWith("overlap at va 0x0000000000002000 pa 0x0000000000000000 level 0 (VPN[0]): "));
  // constexpr: usable where a kernel has no libc.
  constexpr std::size_t len = [] {
    char b[8]{};
    return format_error(make_error(Errc::not_mapped), b, sizeof b);
  }();
  static_assert(len > 8);
}

TEST_CASE("capability and attribute errors say which capability or option fixes them", "[errors]") {
  test::Memory m;
  auto rv = make_tree<riscv::Sv39>(m.arena);  // default caps: no Svpbmt
  REQUIRE(rv.ok());
  auto dev = map(*rv, m.arena, VirtAddr(0x1000'0000), PhysAddr(0x1000'0000), 0x1000, attrs::device_rw);
  REQUIRE_FALSE(dev.ok());
  CHECK(dev.error().code == Errc::unsupported_memtype);
  CHECK(dev.error().has_level());
  CHECK(dev.error().pa == PhysAddr(0x1000'0000));
  CHECK_THAT(to_string(dev.error()), Catch::Contains("Caps::svpbmt") && Catch::Contains("--caps svpbmt"));

  auto x32 = make_tree<x86::X86_32>(m.arena);
  REQUIRE(x32.ok());
  auto rw = map(*x32, m.arena, VirtAddr(0x40'0000), PhysAddr(0x40'0000), 0x1000, attrs::rw);
  REQUIRE_FALSE(rw.ok());
  CHECK(rw.error().code == Errc::unsupported_attrs);
  CHECK_THAT(to_string(rw.error()), Catch::Contains("allow_implied_exec") && Catch::Contains("x86-pae"));

  auto l4 = make_tree<x86::Long4>(m.arena);  // default caps: no PAT layout
  REQUIRE(l4.ok());
  auto wc = map(*l4, m.arena, VirtAddr(0x40'0000), PhysAddr(0x40'0000), 0x1000, Attrs{Perm::read | Perm::write, MemType::wc});
  REQUIRE_FALSE(wc.ok());
  CHECK_THAT(std::string(remedy(wc.error())), Catch::Contains("Caps::pat"));

  auto a64 = make_tree<arm64::Vmsa4k48>(m.arena);
  REQUIRE(a64.ok());
  auto wc64 = map(*a64, m.arena, VirtAddr(0x40'0000), PhysAddr(0x40'0000), 0x1000, Attrs{Perm::read, MemType::wc});
  REQUIRE_FALSE(wc64.ok());
  CHECK_THAT(std::string(remedy(wc64.error())), Catch::Contains("normal_nc"));
  // Errors without a hint fall back to the code's remedy.
  auto z = unmap(*a64, m.arena, VirtAddr(0x40'0000), 0);
  REQUIRE_FALSE(z.ok());
  CHECK_FALSE(z.error().has_pa());
  CHECK(std::string(remedy(z.error())) == remedy(Errc::zero_size));
}

TEST_CASE("Report::leaf_levels shows that x86 without page1g maps a GiB with 2 MiB pages", "[errors]") {
  using F = x86::Long4;
  // Intel SDM vol 3 4.5: a PDPTE (depth 1 of PML4, PDPT, PD, PT) maps 1 GiB only with 1-GByte
  // pages; otherwise PD entries (depth 2) map 2 MiB each.
  for (const bool page1g : {false, true}) {
    test::Memory m;
    auto t = make_tree<F>(m.arena, x86::Caps{.page1g = page1g});
    REQUIRE(t.ok());
    auto r = map(*t, m.arena, VirtAddr(0xffff'8880'0000'0000), PhysAddr(0x4000'0000), 1 << 30, kRwxg);
    REQUIRE(r.ok());
    CHECK(r->leaf_levels.has(1) == page1g);
    CHECK(r->leaf_levels.has(2) == !page1g);
    CHECK(r->leaves_changed == (page1g ? 1 : 512));
  }
}
