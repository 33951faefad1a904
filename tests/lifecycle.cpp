// Tier 2: the table lifecycle (unmap, protect, compact, splits, contiguous runs, live-update
// policies, plan) over every shipped format plus the level-scrambling fake.
#include "support.hpp"

using namespace ptlib;
using test::EngineFormats;
using test::kRwxg;
using test::Memory;

namespace {

/// A block-sized test setting: depth d is the level just above pages (every format can place a
/// leaf there with full capabilities); t0 is block-aligned VA room, pa0 block-aligned PA.
template <class F>
struct Setting {
  using G = Geometry<F>;
  static constexpr std::size_t d = G::kDepth - 2;
  static constexpr std::uint64_t S = G::span(d), P = G::kPageSize;
  static constexpr std::uint64_t t0 = 2 * S, pa0 = 4 * S;
  static VirtAddr va(std::uint64_t off) { return G::to_va(t0 + off); }

  Memory m{16 << 20};
  Tree<F> tree;
  Setting() {
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    tree = *t;
  }
  std::optional<Translation<F>> at(std::uint64_t off) {
    auto r = translate(tree, m.arena, va(off));
    if (!r) {
      REQUIRE(r.error().code == Errc::not_mapped);
      return std::nullopt;
    }
    return *r;
  }
  /// Whether turning the block map_block() writes into a table needs break-before-make.
  bool split_needs_bbm() const {
    const auto L = G::level(d);
    const auto block = F::leaf(L, *F::leaf_proto(L, LeafSettings{kRwxg}, tree.caps), PhysAddr(pa0));
    return F::needs_bbm(L, block, F::table(L, PhysAddr(pa0)));
  }
  void map_block(Attrs a = kRwxg, Options o = {}) {
    auto r = map(tree, m.arena, va(0), PhysAddr(pa0), S, a, o);
    REQUIRE(r.ok());
  }
};

template <class F>
bool fits() {
  using G = Geometry<F>;
  constexpr std::uint64_t S = Setting<F>::S;
  return 4 * S <= test::tree_limit<F>() && 5 * S - 1 <= G::kPaLimit && S / G::kPageSize <= 8192;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("unmapping one page of a block splits it and the rest keeps its mapping", "[lifecycle]",
                        EngineFormats) {
  using F = TestType;
  if (!fits<F>()) return;
  Setting<F> s;
  s.map_block();
  const auto P = s.P;
  auto planned = plan(s.tree, s.m.arena, op::Unmap{s.va(3 * P), P});
  REQUIRE(planned.ok());
  CHECK(*planned == 1);
  const auto in_use = s.m.arena.tables_in_use();
  auto r = unmap(s.tree, s.m.arena, s.va(3 * P), P);
  REQUIRE(r.ok());
  CHECK(r->tables_added == 1);
  CHECK(r->leaves_changed == 1);
  CHECK(s.m.arena.tables_in_use() == in_use + 1);
  CHECK_FALSE(s.at(3 * P));
  for (std::uint64_t off : {std::uint64_t{0}, 2 * P, 4 * P, s.S - P}) {
    auto t = s.at(off);
    REQUIRE(t);
    CHECK(t->pa == PhysAddr(s.pa0 + off));
    CHECK(t->leaf.attrs == kRwxg);
    CHECK(t->leaf.depth == s.d + 1);
  }
  CHECK(test::leaves(s.tree, s.m.arena).size() == s.S / P - 1);
}

TEMPLATE_LIST_TEST_CASE("unmapping everything releases every table but the root", "[lifecycle]", EngineFormats) {
  using F = TestType;
  if (!fits<F>()) return;
  Setting<F> s;
  REQUIRE(map(s.tree, s.m.arena, s.va(0), PhysAddr(s.pa0), 2 * s.P, kRwxg).ok());
  REQUIRE(map(s.tree, s.m.arena, s.va(s.S), PhysAddr(s.pa0 + s.S), s.S, kRwxg).ok());
  const auto added = s.m.arena.tables_in_use() - 1;
  auto r = unmap(s.tree, s.m.arena, s.va(0), 2 * s.S);
  REQUIRE(r.ok());
  CHECK(r->tables_released == added);
  CHECK(r->modified.root());
  CHECK(s.m.arena.tables_in_use() == 1);
  CHECK(test::leaves(s.tree, s.m.arena).empty());
  // Released tables are reused: mapping the same again needs no new memory.
  const auto used = s.m.arena.used();
  REQUIRE(map(s.tree, s.m.arena, s.va(0), PhysAddr(s.pa0), 2 * s.P, kRwxg).ok());
  CHECK(s.m.arena.used() == used);
}

TEMPLATE_LIST_TEST_CASE("unmap with release_empty off keeps emptied tables", "[lifecycle]", EngineFormats) {
  using F = TestType;
  if (!fits<F>()) return;
  Setting<F> s;
  REQUIRE(map(s.tree, s.m.arena, s.va(0), PhysAddr(s.pa0), s.P, kRwxg).ok());
  const auto in_use = s.m.arena.tables_in_use();
  Options keep;
  keep.release_empty = false;
  auto r = unmap(s.tree, s.m.arena, s.va(0), s.P, keep);
  REQUIRE(r.ok());
  CHECK(r->tables_released == 0);
  CHECK(s.m.arena.tables_in_use() == in_use);
  CHECK_FALSE(s.at(0));
}

TEMPLATE_LIST_TEST_CASE("protect changes attributes inside the range only, splitting the block at its edges",
                        "[lifecycle]", EngineFormats) {
  using F = TestType;
  if (!fits<F>()) return;
  Setting<F> s;
  s.map_block();
  const Attrs rxg{Perm::read | Perm::exec | Perm::global};
  const auto P = s.P;
  auto r = protect(s.tree, s.m.arena, s.va(P), 2 * P, rxg);
  REQUIRE(r.ok());
  CHECK(r->tables_added == 1);
  CHECK(r->leaves_changed == 2);
  CHECK(s.at(0)->leaf.attrs == kRwxg);
  CHECK(s.at(P)->leaf.attrs == rxg);
  CHECK(s.at(2 * P)->leaf.attrs == rxg);
  CHECK(s.at(2 * P)->pa == PhysAddr(s.pa0 + 2 * P));
  CHECK(s.at(3 * P)->leaf.attrs == kRwxg);
  // A second identical protect changes nothing.
  auto again = protect(s.tree, s.m.arena, s.va(P), 2 * P, rxg);
  REQUIRE(again.ok());
  CHECK(again->leaves_changed == 0);
  CHECK(again->tables_added == 0);
  // Holes are left alone.
  auto hole = protect(s.tree, s.m.arena, s.va(s.S), s.S, rxg);
  REQUIRE(hole.ok());
  CHECK(hole->leaves_changed == 0);
  CHECK_FALSE(s.at(s.S));
}

TEMPLATE_LIST_TEST_CASE("protect refuses attributes the format cannot express and changes nothing", "[lifecycle]",
                        EngineFormats) {
  using F = TestType;
  if (!fits<F>()) return;
  Setting<F> s;
  s.map_block();
  const auto before = s.m.snapshot();
  auto r = protect(s.tree, s.m.arena, s.va(s.P), s.P, Attrs{Perm::write});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::unsupported_attrs);
  CHECK(s.m.snapshot() == before);
}

TEMPLATE_LIST_TEST_CASE("compact folds a table of uniform pages back into one block", "[lifecycle]", EngineFormats) {
  using F = TestType;
  if (!fits<F>()) return;
  Setting<F> s;
  Options pages = Options::page_only();
  pages.contiguous = false;
  s.map_block(kRwxg, pages);
  CHECK(test::leaves(s.tree, s.m.arena).size() == s.S / s.P);
  // One page with other attributes: nothing folds.
  const Attrs rxg{Perm::read | Perm::exec | Perm::global};
  REQUIRE(protect(s.tree, s.m.arena, s.va(s.P), s.P, rxg).ok());
  auto none = compact(s.tree, s.m.arena, s.va(0), s.S);
  REQUIRE(none.ok());
  CHECK(none->tables_released == 0);
  // Uniform again: the table folds into one block and is released.
  REQUIRE(protect(s.tree, s.m.arena, s.va(s.P), s.P, kRwxg).ok());
  const auto in_use = s.m.arena.tables_in_use();
  auto r = compact(s.tree, s.m.arena, s.va(0), s.S);
  REQUIRE(r.ok());
  CHECK(r->tables_released == 1);
  CHECK(s.m.arena.tables_in_use() == in_use - 1);
  const auto ls = test::leaves(s.tree, s.m.arena);
  REQUIRE(ls.size() == 1);
  CHECK(ls[0].depth == s.d);
  CHECK(ls[0].pa == PhysAddr(s.pa0));
}

TEMPLATE_LIST_TEST_CASE("plan counts exactly the tables apply allocates", "[lifecycle]", EngineFormats) {
  using F = TestType;
  if (!fits<F>()) return;
  Setting<F> s;
  const auto P = s.P;
  auto check = [&](auto o) {
    auto planned = plan(s.tree, s.m.arena, o);
    REQUIRE(planned.ok());
    const auto before = s.m.snapshot();
    auto planned_again = plan(s.tree, s.m.arena, o);
    CHECK(s.m.snapshot() == before);  // plan changes nothing
    CHECK(*planned_again == *planned);
    auto r = apply(s.tree, s.m.arena, o);
    REQUIRE(r.ok());
    CHECK(r->tables_added == *planned);
  };
  check(op::Map{s.va(P), PhysAddr(s.pa0 + P), s.S + 2 * P, kRwxg});
  check(op::Unmap{s.va(5 * P), 3 * P});
  check(op::Protect{s.va(s.S - P), 3 * P, Attrs{Perm::read | Perm::exec}});
  check(op::Unmap{s.va(s.S + P), P});
  check(op::Compact{s.va(0), 2 * s.S});
}

TEMPLATE_LIST_TEST_CASE("a split that runs out of tables is refused before any write", "[lifecycle]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  if (!fits<F>()) return;
  Setting<F> s;
  s.map_block();
  // Fill the arena so not a single table is left.
  while (s.m.arena.allocate(TableRequest{G::table_bytes(1), G::table_align(1), false, 1})) {
  }
  const auto before = s.m.snapshot();
  auto r = unmap(s.tree, s.m.arena, s.va(s.P), s.P);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::out_of_memory);
  CHECK(s.m.snapshot() == before);
  auto p = protect(s.tree, s.m.arena, s.va(s.P), s.P, Attrs{Perm::read | Perm::exec});
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().code == Errc::out_of_memory);
  CHECK(s.m.snapshot() == before);
}

TEMPLATE_LIST_TEST_CASE("Live::refuse refuses exactly the changes the format says need break-before-make",
                        "[lifecycle]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  if (!fits<F>()) return;
  Setting<F> s;
  s.map_block();
  const auto L = G::level(s.d);
  const bool bbm = s.split_needs_bbm();
  Options refuse;
  refuse.live = Live::refuse;
  const auto before = s.m.snapshot();
  auto r = unmap(s.tree, s.m.arena, s.va(s.P), s.P, refuse, test::Recorder{});
  if (bbm) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::needs_break_before_make);
    CHECK(r.error().level == level_number<F>(L));
    CHECK(s.m.snapshot() == before);
  } else {
    CHECK(r.ok());
  }
  // Clearing whole leaves never needs break-before-make.
  CHECK(unmap(s.tree, s.m.arena, s.va(0), s.S, refuse, test::Recorder{}).ok());
}

TEMPLATE_LIST_TEST_CASE("break-before-make invalidates the old entry before the new one is written", "[lifecycle]",
                        EngineFormats) {
  using F = TestType;
  if (!fits<F>()) return;
  Setting<F> s;
  s.map_block();
  const bool bbm = s.split_needs_bbm();
  Options live;
  live.live = Live::break_before_make;
  test::Recorder rec;
  std::vector<bool> mapped_at_invalidate;
  rec.on_invalidate = [&](VirtAddr, std::uint64_t) { mapped_at_invalidate.push_back(s.at(0).has_value()); };
  auto r = unmap(s.tree, s.m.arena, s.va(s.P), s.P, live, rec);
  REQUIRE(r.ok());
  REQUIRE(rec.count(test::Recorder::Event::invalidate) >= 1);
  // The first invalidation covers the whole block; with BBM the block is gone at that moment.
  const auto& first = *std::find_if(rec.events.begin(), rec.events.end(),
                                    [](const auto& e) { return e.kind == test::Recorder::Event::invalidate; });
  CHECK(first.va == s.va(0));
  CHECK(first.size == s.S);
  CHECK(mapped_at_invalidate.front() == !bbm);
  // The new table was published before it was linked: a publish precedes the first invalidate.
  CHECK(rec.events.front().kind == test::Recorder::Event::publish);
  // Afterwards: the rest of the block is mapped, the page is not, and its TLB entry was dropped.
  CHECK(s.at(0).has_value());
  CHECK_FALSE(s.at(s.P).has_value());
  CHECK(std::any_of(rec.events.begin(), rec.events.end(), [&](const auto& e) {
    return e.kind == test::Recorder::Event::invalidate && e.va == s.va(s.P) && e.size == s.P;
  }));
}

TEMPLATE_LIST_TEST_CASE("contiguous runs are used where the format has them and unfolded before a partial change",
                        "[lifecycle]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  if (!fits<F>()) return;
  const auto caps = test::full_caps<F>();
  const unsigned k = F::contig_log2(G::level(G::kDepth - 1), caps);
  const std::uint64_t P = G::kPageSize, run = P << (k ? k : 4);
  Setting<F> s;
  Options pages = Options::page_only();
  REQUIRE(map(s.tree, s.m.arena, s.va(0), PhysAddr(s.pa0), 2 * run, kRwxg, pages).ok());
  for (const auto& l : test::leaves(s.tree, s.m.arena)) CHECK(l.contiguous == (k != 0));
  if (k == 0) return;
  // Unmapping one page of the first run unfolds that run; the second run keeps its hint.
  auto r = unmap(s.tree, s.m.arena, s.va(P), P);
  REQUIRE(r.ok());
  for (const auto& l : test::leaves(s.tree, s.m.arena)) {
    const std::uint64_t off = G::to_tree(l.va) - s.t0;
    CHECK(l.contiguous == (off >= run));
    CHECK(l.pa == PhysAddr(s.pa0 + off));
  }
  CHECK_FALSE(s.at(P));
  // With contiguous runs switched off, none are written.
  Setting<F> plain;
  Options off = Options::page_only();
  off.contiguous = false;
  REQUIRE(map(plain.tree, plain.m.arena, plain.va(0), PhysAddr(plain.pa0), 2 * run, kRwxg, off).ok());
  for (const auto& l : test::leaves(plain.tree, plain.m.arena)) CHECK_FALSE(l.contiguous);
}

TEMPLATE_LIST_TEST_CASE("unmap, protect and compact reject bad ranges and change nothing", "[lifecycle]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  if (!fits<F>()) return;
  Setting<F> s;
  s.map_block();
  const auto before = s.m.snapshot();
  auto expect = [&](auto r, Errc c) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c);
    CHECK(s.m.snapshot() == before);
  };
  for (int which = 0; which < 3; ++which) {
    auto call = [&](VirtAddr va, std::uint64_t size) {
      if (which == 0) return unmap(s.tree, s.m.arena, va, size);
      if (which == 1) return protect(s.tree, s.m.arena, va, size, attrs::rx);
      return compact(s.tree, s.m.arena, va, size);
    };
    expect(call(s.va(0), 0), Errc::zero_size);
    expect(call(s.va(0) + 8, s.P), Errc::misaligned_va);
    expect(call(s.va(0), s.P + 8), Errc::misaligned_size);
    expect(call(VirtAddr(~std::uint64_t{0} & ~(s.P - 1)), 2 * s.P), Errc::range_wraps);
    if constexpr (F::kVaRule == VaRule::sign_extend)
      expect(call(VirtAddr(std::uint64_t{1} << (G::kVaBits - 1)), s.P), Errc::va_non_canonical);
    else if constexpr (F::kVaRule == VaRule::low)
      expect(call(VirtAddr(G::kVaMask + 1 - s.P), 2 * s.P), Errc::va_out_of_range);
  }
}
