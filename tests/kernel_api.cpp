// The API a kernel author needs beyond map/unmap/protect, over every format: re-mapping what is
// already mapped (Options::remap), errors that say what to do, the mutate-by-callback range walk
// (ptlib/apply.hpp) and the W^X audit of validate().
#include <string>

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
