// Tier 2: the one engine, tested over every shipped format plus the level-scrambling fake.
#include "support.hpp"

using namespace ptlib;
using test::EngineFormats;
using test::kRwxg;
using test::Memory;

namespace {

template <class F>
Tree<F> new_tree(Memory& m, typename F::Caps caps = test::full_caps<F>()) {
  auto t = make_tree<F>(m.arena, caps);
  REQUIRE(t.ok());
  return *t;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a zero entry is not present and a table entry decodes to its table, at every level",
                        "[engine][conformance]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    CAPTURE(F::kName, d);
    CHECK(F::decode(G::level(d), 0).kind == EntryKind::invalid);
    if (d + 1 < G::kDepth) {
      const PhysAddr pa(0x1234000 & ~(G::table_align(d + 1) - 1) & G::kPaLimit);
      const Decoded e = F::decode(G::level(d), F::table(G::level(d), pa));
      CHECK(e.kind == EntryKind::table);
      CHECK(e.addr == pa);
    } else {
      CHECK(F::can_leaf(G::level(d), typename F::Caps{}));  // the last level always maps pages
    }
  }
}

TEMPLATE_LIST_TEST_CASE("every leaf size is used where VA, PA and size allow, and translates at every boundary",
                        "[engine]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const auto caps = test::full_caps<F>();
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    if (!F::can_leaf(G::level(d), caps)) continue;
    const std::uint64_t span = G::span(d), page = G::kPageSize;
    // [t0 - page, t0 + 2 span + page) in tree offsets; PA pa0 - page ... aligned like the VA.
    const std::uint64_t t0 = span < 4 * page ? 4 * page : span;
    if (t0 + 2 * span + page > test::tree_limit<F>()) continue;
    const std::uint64_t pa0 = 2 * span;
    if (pa0 + 2 * span + page - 1 > G::kPaLimit) continue;
    CAPTURE(F::kName, d, span);
    Memory m(8 << 20);
    auto tree = new_tree<F>(m, caps);
    auto r = map(tree, m.arena, G::to_va(t0 - page), PhysAddr(pa0 - page), 2 * span + 2 * page, kRwxg);
    REQUIRE(r.ok());

    std::size_t at_d = 0;
    for (const auto& l : test::leaves(tree, m.arena)) at_d += l.depth == d;
    CHECK(at_d == (d + 1 == G::kDepth ? 2 * span / page + 2 : 2));

    // Every boundary: before the range, each leaf's first and last page, after the range.
    for (std::uint64_t t : {t0 - page, t0, t0 + span - page, t0 + span, t0 + 2 * span - page, t0 + 2 * span}) {
      auto tr = translate(tree, m.arena, G::to_va(t) + 8);
      REQUIRE(tr.ok());
      CHECK(tr->pa == PhysAddr(pa0 + (t - t0) + 8));
      CHECK(tr->leaf.depth == ((t < t0 || t >= t0 + 2 * span) ? G::kDepth - 1 : d));
      CHECK(tr->leaf.attrs == kRwxg);
    }
    for (std::uint64_t t : {t0 - 2 * page, t0 + 2 * span + page}) {
      auto tr = translate(tree, m.arena, G::to_va(t));
      REQUIRE_FALSE(tr.ok());
      CHECK(tr.error().code == Errc::not_mapped);
    }
  }
}

TEMPLATE_LIST_TEST_CASE("a page-only map uses only the smallest pages", "[engine]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t d = G::kDepth - 2;  // the level above pages
  const std::uint64_t span = G::span(d);
  if (4 * span > test::tree_limit<F>() || 4 * span - 1 > G::kPaLimit || span > (64 << 20)) return;
  Memory m(8 << 20);
  auto tree = new_tree<F>(m);
  auto r = map(tree, m.arena, G::to_va(2 * span), PhysAddr(2 * span), span, kRwxg, MapOptions::page_only());
  REQUIRE(r.ok());
  const auto ls = test::leaves(tree, m.arena);
  CHECK(ls.size() == span / G::kPageSize);
  for (const auto& l : ls) CHECK(l.depth == G::kDepth - 1);
}

TEMPLATE_LIST_TEST_CASE("a PA misaligned for a block makes the engine use the next smaller leaf", "[engine]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const auto caps = test::full_caps<F>();
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    if (!F::can_leaf(G::level(d), caps) || !F::can_leaf(G::level(d + 1), caps)) continue;
    const std::uint64_t span = G::span(d), small = G::span(d + 1);
    if (3 * span > test::tree_limit<F>() || 3 * span + small > G::kPaLimit) continue;
    if (span / small > 16384) continue;  // keep the tree small
    CAPTURE(F::kName, d);
    Memory m(16 << 20);
    auto tree = new_tree<F>(m, caps);
    REQUIRE(map(tree, m.arena, G::to_va(span), PhysAddr(span + small), span, kRwxg).ok());
    const auto ls = test::leaves(tree, m.arena);
    CHECK(ls.size() == span / small);
    for (const auto& l : ls) CHECK(l.depth == d + 1);
  }
}

TEMPLATE_LIST_TEST_CASE("a map inside an existing table's span fills that table instead of placing a block",
                        "[engine]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t d = G::kDepth - 2;
  const std::uint64_t span = G::span(d), page = G::kPageSize;
  if (!F::can_leaf(G::level(d), test::full_caps<F>()) || 2 * span > test::tree_limit<F>() || 2 * span > G::kPaLimit) return;
  Memory m(8 << 20);
  auto tree = new_tree<F>(m);
  REQUIRE(map(tree, m.arena, G::to_va(span), PhysAddr(span), page, kRwxg).ok());
  auto r = map(tree, m.arena, G::to_va(span + page), PhysAddr(span + page), span - page, kRwxg);
  REQUIRE(r.ok());
  CHECK(r->tables_added == 0);
  CHECK(r->modified == LevelMask{1U << (G::kDepth - 1)});
  CHECK(test::leaves(tree, m.arena).size() == span / page);
}

TEMPLATE_LIST_TEST_CASE("the modified-level mask names every level whose entries were written", "[engine]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Memory m;
  auto tree = new_tree<F>(m);
  const std::uint64_t page = G::kPageSize;
  auto first = map(tree, m.arena, G::to_va(0), PhysAddr(0), page, kRwxg);
  REQUIRE(first.ok());
  LevelMask all{};
  for (std::size_t d = 0; d < G::kDepth; ++d) all.set(d);
  CHECK(first->modified == all);  // a new table linked at every level above the page
  CHECK(first->modified.root());
  CHECK(first->tables_added == G::kDepth - 1);
  auto second = map(tree, m.arena, G::to_va(page), PhysAddr(page), page, kRwxg);
  REQUIRE(second.ok());
  CHECK(second->modified == LevelMask{1U << (G::kDepth - 1)});
  CHECK_FALSE(second->modified.root());
  CHECK(second->tables_added == 0);
}

TEMPLATE_LIST_TEST_CASE("bad arguments are typed errors and leave tables and allocator unchanged", "[engine]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Memory m;
  auto tree = new_tree<F>(m);
  const std::uint64_t page = G::kPageSize;
  const VirtAddr va = G::to_va(16 * page);
  REQUIRE(map(tree, m.arena, va, PhysAddr(16 * page), 4 * page, kRwxg).ok());
  const auto before = m.snapshot();

  auto expect = [&](Errc code, VirtAddr v, PhysAddr p, std::uint64_t size, Attrs a = kRwxg) {
    auto r = map(tree, m.arena, v, p, size, a);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == code);
    CHECK(m.snapshot() == before);
    return r.error();
  };
  expect(Errc::zero_size, va, PhysAddr(0), 0);
  expect(Errc::misaligned_va, va + 8, PhysAddr(0), page);
  expect(Errc::misaligned_pa, va, PhysAddr(8), page);
  expect(Errc::misaligned_size, va, PhysAddr(0), page + 8);
  expect(Errc::range_wraps, va, PhysAddr(~std::uint64_t{0} & ~(page - 1)), 2 * page);
  if constexpr (F::kVaRule == VaRule::sign_extend) {
    expect(Errc::va_non_canonical, VirtAddr(std::uint64_t{1} << (G::kVaBits - 1)), PhysAddr(0), page);
    // A range that starts canonical and ends in the hole.
    expect(Errc::va_non_canonical, VirtAddr((std::uint64_t{1} << (G::kVaBits - 1)) - page), PhysAddr(0), 2 * page);
  } else if constexpr (F::kVaRule == VaRule::low) {
    if (G::kVaBits < F::kInputBits)
      expect(Errc::va_out_of_range, VirtAddr(G::kVaMask + 1), PhysAddr(0), page);
    expect(Errc::va_out_of_range, VirtAddr(G::kVaMask + 1 - page), PhysAddr(0), 2 * page);
  } else {
    expect(Errc::va_out_of_range, VirtAddr(0), PhysAddr(0), page);
  }
  if (F::kPaBits < 64) {
    expect(Errc::pa_out_of_range, va, PhysAddr(G::kPaLimit + 1), page);
    expect(Errc::pa_out_of_range, va, PhysAddr(G::kPaLimit + 1 - page), 2 * page);
  }
  // Overlap: reported at the existing leaf, even when the range starts in free space (no part of
  // the range is mapped before the error).
  const Error e = expect(Errc::overlap, va - 2 * page, PhysAddr(0x100 * page), 3 * page);
  CHECK(e.va == va);
  CHECK(e.pa == PhysAddr(16 * page));
  CHECK(e.level == level_number<F>(G::level(G::kDepth - 1)));
  CHECK(e.level_name != nullptr);
  expect(Errc::overlap, va + 3 * page, PhysAddr(0), 2 * page);
}

TEMPLATE_LIST_TEST_CASE("running out of tables is reported before any write", "[engine]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Memory m;
  // An arena that holds the root and exactly one more table.
  const std::size_t root_room = (G::table_bytes(0) + G::table_align(1) - 1) & ~(G::table_align(1) - 1);
  Arena small(m.buf.get(), root_room + G::table_bytes(1), PhysAddr(Memory::kBase));
  auto t = make_tree<F>(small, test::full_caps<F>());
  REQUIRE(t.ok());
  if (G::kDepth < 3) return;  // one table is all a 2-level format's page map needs
  const auto used = small.used();
  std::vector<unsigned char> root(m.buf.get(), m.buf.get() + used);
  auto r = map(*t, small, G::to_va(0), PhysAddr(0), G::kPageSize, kRwxg);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::out_of_memory);
  CHECK(small.used() == used);
  CHECK(std::equal(root.begin(), root.end(), m.buf.get()));
}

TEMPLATE_LIST_TEST_CASE("attributes a format cannot express are refused, never downgraded", "[engine]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Memory m;
  auto tree = new_tree<F>(m);
  const auto before = m.snapshot();
  // No format can map "write-only, no read" (RISC-V reserves it; arm64/x86/ARMv7 imply read).
  auto r = map(tree, m.arena, G::to_va(0), PhysAddr(0), G::kPageSize, Attrs{Perm::write});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::unsupported_attrs);
  CHECK(r.error().has_level());
  CHECK(m.snapshot() == before);
}

TEMPLATE_LIST_TEST_CASE("whatever a leaf accepts, translate reads back", "[engine]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const auto caps = test::full_caps<F>();
  for (unsigned perm = 0; perm < 32; ++perm) {
    for (MemType mem : {MemType::normal, MemType::normal_nc, MemType::device, MemType::wc}) {
      const Attrs a{Perm(perm), mem};
      Memory m;
      auto tree = new_tree<F>(m, caps);
      auto r = map(tree, m.arena, G::to_va(0), PhysAddr(0), G::kPageSize, a);
      if (!r) {
        CHECK((r.error().code == Errc::unsupported_attrs || r.error().code == Errc::unsupported_memtype));
        continue;
      }
      auto tr = translate(tree, m.arena, G::to_va(0));
      REQUIRE(tr.ok());
      CAPTURE(F::kName, perm, int(mem));
      CHECK(tr->leaf.attrs == a);
    }
  }
}

TEST_CASE("every format is listed once, by its name", "[engine]") {
  for (std::size_t i = 0; i < kFormatCount; ++i) {
    for (std::size_t j = 0; j < i; ++j) CHECK(std::string_view(kFormatNames[i]) != kFormatNames[j]);
    const char* found = nullptr;
    CHECK(with_format(kFormatNames[i], [&]<class F>() { found = F::kName; }));
    CHECK(found == kFormatNames[i]);
  }
  CHECK_FALSE(with_format("sv40", []<class F>() {}));
}
