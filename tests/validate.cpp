// Tier 2: validate() over every format plus the fake: trees built by map() are clean, and each
// kind of corruption is found with the right problem, VA and level.
#include <algorithm>
#include <random>

#include "support.hpp"

using namespace ptlib;
using test::EngineFormats;
using test::kRwxg;
using test::Memory;

namespace Catch {
template <>
struct StringMaker<ptlib::Problem> {
  static std::string convert(ptlib::Problem p) { return ptlib::name(p); }
};
template <>
struct StringMaker<ptlib::Finding> {
  static std::string convert(const ptlib::Finding& f) { return ptlib::to_string(f); }
};
}  // namespace Catch

namespace {

/// The room a test range needs in one half of the tree (sign-extended formats keep a range in
/// one half; the others may use the whole VA range).
template <class F>
constexpr std::uint64_t tree_limit() {
  using G = Geometry<F>;
  return F::kVaRule == VaRule::sign_extend ? (std::uint64_t{1} << (G::kVaBits - 1)) : G::kVaMask + 1;
}

template <class F>
Tree<F> new_tree(Memory& m) {
  auto t = make_tree<F>(m.arena, test::full_caps<F>());
  REQUIRE(t.ok());
  return *t;
}

/// A tree with one page mapped at tree offset 0: one table at every depth along that path.
template <class F>
Tree<F> path_tree(Memory& m) {
  using G = Geometry<F>;
  auto tree = new_tree<F>(m);
  REQUIRE(map(tree, m.arena, G::to_va(0), PhysAddr(0), G::kPageSize, kRwxg).ok());
  REQUIRE(m.arena.tables_in_use() == G::kDepth);
  return tree;
}

/// The table at `depth` on the path to tree offset t (following table entries from the root).
template <class F>
typename F::Entry* table_at(Memory& m, const Tree<F>& tree, std::uint64_t t, std::size_t depth) {
  using G = Geometry<F>;
  auto* table = static_cast<typename F::Entry*>(m.arena.map(tree.root, 0));
  for (std::size_t d = 0; d < depth; ++d) {
    const Decoded e = F::decode(G::level(d), table[G::index(t, d)]);
    REQUIRE(e.kind == EntryKind::table);
    table = static_cast<typename F::Entry*>(m.arena.map(e.addr, d + 1));
    REQUIRE(table != nullptr);
  }
  return table;
}

template <class F>
PhysAddr table_pa(Memory& m, const Tree<F>& tree, std::uint64_t t, std::size_t depth) {
  const auto* table = table_at(m, tree, t, depth);
  return PhysAddr(Memory::kBase + std::uint64_t(reinterpret_cast<const unsigned char*>(table) - m.buf.get()));
}

/// validate() with the allocator's table count as the expectation.
template <class F>
Validation check(const Tree<F>& tree, Memory& m, ValidateOptions o = {}) {
  if (!o.expected_tables) o.expected_tables = m.arena.tables_in_use();
  return validate(tree, m.arena, o);
}

/// Exactly one problem, `what`, at tree offset t, reported at depth `depth` (-1: no level).
template <class F>
void expect_one(const Validation& v, Problem what, std::uint64_t t, int depth) {
  using G = Geometry<F>;
  CAPTURE(v.first);
  CHECK(v.problems == 1);
  CHECK(v.first.what == what);
  CHECK(v.first.va == G::to_va(t));
  if (depth < 0) {
    CHECK_FALSE(v.first.has_level());
  } else {
    const auto L = G::level(std::size_t(depth));
    CHECK(v.first.level == level_number<F>(L));
    CHECK(std::string_view(v.first.level_name ? v.first.level_name : "") == F::level_name(L));
  }
}

/// Whether validate() must call the entry `e` at depth d malformed: the decoder says so, a table
/// pointer at the last level, or a leaf where the capabilities allow none.
template <class F>
bool malformed_at(std::size_t d, typename F::Entry e) {
  using G = Geometry<F>;
  const Decoded x = F::decode(G::level(d), e);
  return x.kind == EntryKind::malformed || (x.kind == EntryKind::table && d + 1 == G::kDepth) ||
         (x.kind == EntryKind::leaf && !F::can_leaf(G::level(d), test::full_caps<F>()));
}

/// An entry value with at most three bits set that validate() must call malformed at depth d.
template <class F>
std::optional<typename F::Entry> find_malformed(std::size_t d) {
  using Entry = typename F::Entry;
  constexpr unsigned bits = sizeof(Entry) * 8;
  for (unsigned a = 0; a < bits; ++a)
    for (unsigned b = a; b < bits; ++b)
      for (unsigned c = b; c < bits; ++c) {
        const Entry e = Entry(Entry{1} << a | Entry{1} << b | Entry{1} << c);
        if (malformed_at<F>(d, e)) return e;
      }
  return std::nullopt;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("an empty tree validates clean with one table and no leaf", "[engine][validate]",
                        EngineFormats) {
  using F = TestType;
  Memory m;
  const auto tree = new_tree<F>(m);
  const Validation v = check(tree, m);
  CAPTURE(v.first);
  CHECK(v.ok());
  CHECK(v.tables == 1);
  CHECK(v.leaves == 0);
}

TEMPLATE_LIST_TEST_CASE("trees built by map validate clean, with the allocator's tables and for_each_leaf's leaves",
                        "[engine][validate]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const auto caps = test::full_caps<F>();
  const std::uint64_t seed = GENERATE(1, 2, 3, 4);
  const std::uint64_t page = G::kPageSize;
  // Leaf sizes up to 1 GiB; a window of 8 of the largest, at the top of the (lower) range.
  std::vector<std::uint64_t> spans;
  for (std::size_t d = 0; d < G::kDepth; ++d)
    if (F::can_leaf(G::level(d), caps) && G::span(d) <= (std::uint64_t{1} << 30)) spans.push_back(G::span(d));
  const std::uint64_t window = std::min<std::uint64_t>(8 * spans.front(), tree_limit<F>() / 2);
  const std::uint64_t w0 = tree_limit<F>() - window;
  const std::uint64_t pa_window = std::min<std::uint64_t>(G::kPaLimit + 1 - window, std::uint64_t{1} << 34);

  std::mt19937_64 rng(0x7A11D000 + seed);
  auto pick = [&](std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); };
  Memory m(32 << 20);
  const auto tree = new_tree<F>(m);
  std::size_t mapped = 0;
  for (int op = 0; op < 40; ++op) {
    const std::uint64_t blk = spans[pick(spans.size())];
    std::uint64_t size = pick(2) ? (1 + pick(32)) * page : blk + pick(3) * page;
    size = std::min(size, window / 4);
    std::uint64_t lo = w0 + pick((window - size) / page + 1) * page;
    if (pick(2)) lo = std::max(w0, align_down(lo, blk));
    std::uint64_t pa = align_down(pick(pa_window - size), blk) + (lo % blk);
    if (pick(4) == 0) pa = align_down(pa, page) + page * (1 + pick(3));
    if (pa + size - 1 > G::kPaLimit) pa = 0;
    Options o{};
    if (pick(6) == 0) o.max_leaf_size = spans[pick(spans.size())];
    const Attrs a = pick(2) ? kRwxg : Attrs{Perm::read | Perm::exec};
    mapped += map(tree, m.arena, G::to_va(lo), PhysAddr(pa), size, a, o).ok();
  }
  CAPTURE(F::kName, seed);
  CHECK(mapped > 10);
  const Validation v = check(tree, m);
  CAPTURE(v.first);
  CHECK(v.ok());
  CHECK(v.tables == m.arena.tables_in_use());
  CHECK(v.leaves == test::leaves(tree, m.arena).size());

  // The freestanding entry point with a scratch of exactly one slot per table: the tables, sorted.
  std::vector<PhysAddr> scratch(v.tables);
  const Validation exact = validate(tree, m.arena, ValidateOptions{}, std::span<PhysAddr>(scratch));
  CHECK(exact.ok());
  CHECK(exact.tables_recorded == v.tables);
  CHECK(std::is_sorted(scratch.begin(), scratch.end()));
  CHECK(std::adjacent_find(scratch.begin(), scratch.end()) == scratch.end());
}

TEMPLATE_LIST_TEST_CASE("an entry malformed for its level is reported at its VA and level", "[engine][validate]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  std::size_t levels = 0;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    const auto bad = find_malformed<F>(d);
    CAPTURE(F::kName, d);
    if (!bad) continue;  // every encoding is valid here (an x86 PT entry, a fake Middle entry)
    ++levels;
    Memory m;
    const auto tree = path_tree<F>(m);
    table_at(m, tree, 0, d)[1] = *bad;
    const Validation v = check(tree, m);
    expect_one<F>(v, Problem::malformed_entry, G::span(d), int(d));
    CHECK(v.leaves == 1);
  }
  CHECK(levels > 0);
}

TEMPLATE_LIST_TEST_CASE("a block whose output address is not aligned to its size is misaligned or malformed",
                        "[engine][validate]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const auto caps = test::full_caps<F>();
  bool misaligned_seen = false;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    const auto L = G::level(d);
    const std::uint64_t span = G::span(d);
    if (!F::can_leaf(L, caps) || 2 * span - 1 > G::kPaLimit || 2 * span > tree_limit<F>()) continue;
    CAPTURE(F::kName, d);
    Memory m;
    const auto tree = path_tree<F>(m);
    const auto proto = F::leaf_proto(L, LeafSettings{kRwxg}, caps);
    REQUIRE(proto.ok());
    const auto e = F::leaf(L, *proto, PhysAddr(span + G::kPageSize));  // one page past the block
    table_at(m, tree, 0, d)[1] = e;
    const Decoded x = F::decode(L, e);
    const Validation v = check(tree, m);
    if (x.kind == EntryKind::malformed) {
      expect_one<F>(v, Problem::malformed_entry, span, int(d));  // RISC-V, x86: reserved bits
    } else if (x.kind == EntryKind::leaf && !x.addr.aligned(span)) {
      expect_one<F>(v, Problem::misaligned_leaf, span, int(d));
      CHECK(v.first.pa == x.addr);
      misaligned_seen = true;
    } else {
      CHECK(x.kind == EntryKind::leaf);  // the format drops the low bits: nothing to find
      CAPTURE(v.first);
      CHECK(v.ok());
    }
  }
  if constexpr (std::is_same_v<F, fake::Scrambled>) CHECK(misaligned_seen);  // its decoder keeps every bit
}

TEMPLATE_LIST_TEST_CASE("a table linked from two entries is reported at the second link and walked once",
                        "[engine][validate]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t d = G::kDepth - 2;  // the level that links page tables
  const std::uint64_t span = G::span(d);
  REQUIRE(3 * span <= tree_limit<F>());
  Memory m;
  const auto tree = new_tree<F>(m);
  REQUIRE(map(tree, m.arena, G::to_va(0), PhysAddr(0), G::kPageSize, kRwxg).ok());
  REQUIRE(map(tree, m.arena, G::to_va(span), PhysAddr(0), G::kPageSize, kRwxg).ok());
  auto* table = table_at(m, tree, 0, d);
  table[2] = table[0];
  const Validation v = check(tree, m);
  expect_one<F>(v, Problem::table_reached_twice, 2 * span, int(d));
  CHECK(v.first.pa == table_pa(m, tree, 0, d + 1));
  CHECK(v.tables == m.arena.tables_in_use());
  CHECK(v.leaves == 2);
}

TEMPLATE_LIST_TEST_CASE("a link back to the root or to its own table ends and is reported", "[engine][validate]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    for (bool to_root : {true, false}) {
      if (!to_root && d == 0) continue;  // the root's own table is the root
      CAPTURE(F::kName, d, to_root);
      Memory m;
      const auto tree = path_tree<F>(m);
      const PhysAddr target = to_root ? tree.root : table_pa(m, tree, 0, d);
      table_at(m, tree, 0, d)[1] = F::table(G::level(d), target);
      const Validation v = check(tree, m);
      expect_one<F>(v, Problem::table_reached_twice, G::span(d), int(d));
      CHECK(v.first.pa == target);
      CHECK(v.leaves == 1);
    }
  }
}

TEMPLATE_LIST_TEST_CASE("a table pointer the access cannot map is reported and not followed", "[engine][validate]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    CAPTURE(F::kName, d);
    Memory m;
    const auto tree = path_tree<F>(m);
    const PhysAddr outside(Memory::kBase + m.arena.capacity());  // just past the arena
    REQUIRE(outside.value <= G::kPaLimit);
    table_at(m, tree, 0, d)[1] = F::table(G::level(d), outside);
    const Validation v = check(tree, m);
    expect_one<F>(v, Problem::unreachable_table, G::span(d), int(d));
    CHECK(v.first.pa == outside);
    CHECK(v.tables == G::kDepth);
  }
}

TEMPLATE_LIST_TEST_CASE("a root that is misaligned or unreachable is reported without a level", "[engine][validate]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  Memory m;
  const auto tree = new_tree<F>(m);
  // One entry further on: the root's other entries plus a zero word after it.
  std::memset(m.buf.get() + G::table_bytes(0), 0, sizeof(Entry));
  const Tree<F> shifted{tree.root + sizeof(Entry), tree.caps};
  Validation v = validate(shifted, m.arena);
  expect_one<F>(v, Problem::misaligned_table, 0, -1);
  CHECK(v.first.pa == shifted.root);
  CHECK(v.tables == 1);

  const Tree<F> nowhere{PhysAddr(Memory::kBase + m.arena.capacity()), tree.caps};
  v = validate(nowhere, m.arena);
  expect_one<F>(v, Problem::unreachable_table, 0, -1);
  CHECK(v.tables == 0);
}

TEMPLATE_LIST_TEST_CASE("a table with no present entry is reported unless empty tables are allowed",
                        "[engine][validate]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t last = G::kDepth - 1;
  Memory m;
  const auto tree = path_tree<F>(m);
  table_at(m, tree, 0, last)[0] = 0;  // the only leaf
  Validation v = check(tree, m);
  expect_one<F>(v, Problem::empty_table, 0, int(last - 1));
  CHECK(v.first.pa == table_pa(m, tree, 0, last));
  CHECK(v.leaves == 0);

  ValidateOptions allow{};
  allow.allow_empty_tables = true;
  v = check(tree, m, allow);
  CAPTURE(v.first);
  CHECK(v.ok());
  CHECK(v.tables == G::kDepth);
}

TEMPLATE_LIST_TEST_CASE("a table count other than the expected one is an accounting mismatch",
                        "[engine][validate]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  Memory m;
  const auto tree = path_tree<F>(m);
  for (std::size_t expected : {G::kDepth - 1, G::kDepth + 1}) {
    ValidateOptions o{};
    o.expected_tables = expected;
    const Validation v = validate(tree, m.arena, o);
    expect_one<F>(v, Problem::accounting_mismatch, 0, -1);
    CHECK(v.first.va == VirtAddr{});
    CHECK(v.tables == G::kDepth);
  }
}

TEMPLATE_LIST_TEST_CASE("a scratch too small for every table is reported and never overrun", "[engine][validate]",
                        EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t n = G::kDepth;  // tables of the path tree
  Memory m;
  const auto tree = path_tree<F>(m);
  ValidateOptions o{};
  o.expected_tables = n;
  const PhysAddr guard(0xdead'0000);
  std::vector<PhysAddr> scratch(n + 1, guard);

  Validation v = validate(tree, m.arena, o, std::span<PhysAddr>(scratch).first(n));
  CAPTURE(v.first);
  CHECK(v.ok());
  CHECK(v.tables_recorded == n);
  CHECK(scratch[n] == guard);

  std::fill(scratch.begin(), scratch.end(), guard);
  v = validate(tree, m.arena, o, std::span<PhysAddr>(scratch).first(n - 1));
  expect_one<F>(v, Problem::scratch_exhausted, 0, int(n - 2));  // the last table, a page table
  CHECK(v.first.pa == table_pa(m, tree, 0, n - 1));
  CHECK(v.tables == n - 1);
  CHECK(scratch[n - 1] == guard);

  v = validate(tree, m.arena, o, std::span<PhysAddr>());
  expect_one<F>(v, Problem::scratch_exhausted, 0, -1);
  CHECK(v.tables == 0);
}

TEMPLATE_LIST_TEST_CASE("a contiguous run validates whole and is reported at its first VA when broken",
                        "[engine][validate]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const auto caps = test::full_caps<F>();
  std::size_t levels_with_runs = 0;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    const auto L = G::level(d);
    const unsigned k = F::contig_log2(L, caps);
    const std::uint64_t span = G::span(d), run = std::uint64_t{1} << k;
    if (k == 0 || !F::can_leaf(L, caps) || 2 * run > G::entries(d)) continue;
    if (2 * run * span > tree_limit<F>() || 2 * run * span - 1 > G::kPaLimit) continue;
    ++levels_with_runs;
    const std::uint64_t t0 = run * span;   // entries [run, 2 run) of the table on the path to 0
    const PhysAddr pa0(run * span);         // naturally aligned run base
    const auto proto = F::leaf_proto(L, LeafSettings{kRwxg, true}, caps);
    const auto ro = F::leaf_proto(L, LeafSettings{Attrs{Perm::read}, true}, caps);
    REQUIRE(proto.ok());
    REQUIRE(ro.ok());

    enum Break { none, clear, attrs, address };
    for (Break b : {none, clear, attrs, address}) {
      CAPTURE(F::kName, d, k, int(b));
      Memory m;
      const auto tree = path_tree<F>(m);
      auto* table = table_at(m, tree, 0, d);
      for (std::uint64_t j = 0; j < run; ++j) table[run + j] = F::leaf(L, *proto, pa0 + j * span);
      const std::size_t j = run / 2 + 1;
      switch (b) {
        case none: break;
        case clear: table[run + j] = 0; break;
        case attrs: table[run + j] = F::leaf(L, *ro, pa0 + j * span); break;
        case address: table[run + j] = F::leaf(L, *proto, pa0 + (run + j) * span); break;
      }
      const Validation v = check(tree, m);
      if (b == none) {
        CAPTURE(v.first);
        CHECK(v.ok());
        CHECK(v.leaves == 1 + run);
        CHECK(v.leaves == test::leaves(tree, m.arena).size());
      } else {
        expect_one<F>(v, Problem::inconsistent_run, t0, int(d));
        CHECK(v.first.pa == pa0);
      }
    }
  }
  // arm64 has runs at every leaf level, ARMv7 LPAE too, Sv39+ (Svnapot) at level 0.
  const bool has_runs = F::contig_log2(G::level(G::kDepth - 1), caps) != 0;
  CHECK((levels_with_runs > 0) == has_runs);
}

TEMPLATE_LIST_TEST_CASE("every problem is counted and the first reported is the one with the lowest VA",
                        "[engine][validate]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  // Two malformed entries in the deepest table that can hold one, plus a wrong table count.
  std::size_t d = G::kDepth;
  std::optional<typename F::Entry> bad;
  while (!bad && d-- > 0)
    if (G::entries(d) >= 4) bad = find_malformed<F>(d);
  REQUIRE(bad);
  CAPTURE(F::kName, d);
  Memory m;
  const auto tree = path_tree<F>(m);
  auto* table = table_at(m, tree, 0, d);
  table[3] = *bad;
  table[1] = *bad;
  ValidateOptions o{};
  o.expected_tables = G::kDepth + 1;
  const Validation v = validate(tree, m.arena, o);
  CAPTURE(v.first);
  CHECK(v.problems == 3);
  CHECK(v.first.what == Problem::malformed_entry);
  CHECK(v.first.va == G::to_va(G::span(d)));
}

// Issue 12, item 5: the arm64 and ARMv7 LPAE decoders keep every address bit of a block down to
// the granule, and read RES0 / beyond-PA address bits as malformed. Descriptors by hand from the
// manuals' layouts (Arm ARM DDI 0487 D8.3.1; ARM DDI 0406C B3.6.1): block = bit 0 | AF (bit 10),
// page/table = bits [1:0] = 0b11, output address in place (below 2^48 every arm layout holds it
// in place; bits [9:8] / [15:12] carry only OA bits 48 and up).
namespace {
using ArmFormats = std::tuple<arm64::Vmsa4k39, arm64::Vmsa4k48, arm64::Vmsa4k52, arm64::Vmsa16k47, arm64::Vmsa16k48,
                              arm64::Vmsa16k52, arm64::Vmsa64k42, arm64::Vmsa64k48, arm64::Vmsa64k52, armv7::Lpae32>;

/// Bits that are RES0 above the address field in a leaf (table: `table`) of F, or hold an
/// output address beyond its PA size: ARMv7 LPAE [47:40]; arm64 without FEAT_LPA2 [49:48] (and
/// bit 50 of a table); arm64 with FEAT_LPA2 (52-bit PA) bit 50 of a table only.
template <class F>
std::vector<unsigned> arm_res0_bits(bool table) {
  if constexpr (requires { F::kLpa2; }) {
    std::vector<unsigned> v;
    if (!F::kLpa2) v = {48, 49};
    if (table) v.push_back(50);
    return v;
  } else {
    return {40, 47};
  }
}
}  // namespace

TEMPLATE_LIST_TEST_CASE("arm64 and ARMv7 LPAE: a block with an address bit below its size is misaligned_leaf",
                        "[engine][validate][arm]", ArmFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const auto caps = test::full_caps<F>();
  std::size_t seen = 0;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    const auto L = G::level(d);
    const std::uint64_t span = G::span(d);  // 2 MiB, 1 GiB, 32 MiB, 512 MiB, ... as the format has
    if (!F::can_leaf(L, caps) || 2 * span > tree_limit<F>()) continue;
    unsigned top = 0;
    while ((std::uint64_t{1} << (top + 1)) < span) ++top;  // the highest bit below the block size
    // One granule past the block base (bit 13 for 4 KiB: the case; bit 16 of an arm64
    // block is nT, so 64 KiB uses bit 17), and the highest bit below the block size.
    for (unsigned b : {F::kPageShift + 1, top}) {
      CAPTURE(F::kName, d, b);
      Memory m;
      const auto tree = path_tree<F>(m);
      const std::uint64_t pa = span + (std::uint64_t{1} << b);
      table_at(m, tree, 0, d)[1] = 0x401 | pa;
      const Validation v = check(tree, m);
      expect_one<F>(v, Problem::misaligned_leaf, span, int(d));
      CHECK(v.first.pa == PhysAddr(pa));
      ++seen;
    }
    // The same block without the stray bit is clean.
    Memory m;
    const auto tree = path_tree<F>(m);
    table_at(m, tree, 0, d)[1] = 0x401 | span;
    CHECK(F::decode(L, 0x401 | span).addr == PhysAddr(span));
    const Validation v = check(tree, m);
    CAPTURE(v.first);
    CHECK(v.ok());
  }
  CHECK(seen > 0);
}

TEMPLATE_LIST_TEST_CASE("arm64 and ARMv7 LPAE: an address bit above the PA size or a RES0 bit is malformed_entry",
                        "[engine][validate][arm]", ArmFormats) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t last = G::kDepth - 1;
  std::size_t seen = 0;
  for (const bool table : {false, true}) {
    const std::size_t d = table ? 0 : last;  // a table descriptor in the root, a page at the last level
    for (unsigned b : arm_res0_bits<F>(table)) {
      CAPTURE(F::kName, table, b);
      Memory m;
      const auto tree = path_tree<F>(m);
      table_at(m, tree, 0, d)[1] = (table ? 0x4000'0003ULL : 0x8000'0403ULL) | (std::uint64_t{1} << b);
      const Validation v = check(tree, m);
      expect_one<F>(v, Problem::malformed_entry, G::span(d), int(d));
      ++seen;
    }
  }
  CHECK(seen > 0);
}

TEST_CASE("every problem has a name, a sentence and a one-line text", "[engine][validate]") {
  for (int i = 0; i <= int(Problem::user_kernel_mapping); ++i) {
    const auto p = Problem(i);
    CHECK(std::string_view(name(p)) != "unknown");
    CHECK(std::string_view(describe(p)) != "unknown problem");
    for (int j = 0; j < i; ++j) CHECK(std::string_view(name(p)) != name(Problem(j)));
  }
  const Finding f{Problem::empty_table, VirtAddr(0x4000'0000), PhysAddr(0x8000'1000), 2, "VPN[2]"};
  CHECK(to_string(f) ==
        "empty_table at va 0x0000000040000000 pa 0x0000000080001000 level 2 (VPN[2]): a table below the root has no "
        "present entry");
  CHECK(to_string(Finding{Problem::accounting_mismatch}) ==
        "accounting_mismatch at va 0x0000000000000000 pa 0x0000000000000000: the tables reached differ from the "
        "tables expected");
}

TEMPLATE_LIST_TEST_CASE("the W^X audit reports every writable+executable leaf and every user leaf in the kernel's range",
                        "[engine][validate][wx]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  CAPTURE(F::kName);
  const std::uint64_t P = G::kPageSize, K0 = test::tree_limit<F>() / 2;
  const Perm r = Perm::read, w = Perm::write, x = Perm::exec, u = Perm::user, g = Perm::global;
  struct Piece {
    std::uint64_t t, pages;
    Attrs attrs;
  };
  // A user page pair, kernel text, kernel data, one rwx kernel page, one user page in the kernel.
  const Piece layout[] = {{0x40'0000, 2, Attrs{r | w | u}},     {K0, 2, Attrs{r | x | g}},
                          {K0 + 16 * P, 3, Attrs{r | w | g}},   {K0 + 32 * P, 1, Attrs{r | w | x | g}},
                          {K0 + 48 * P, 1, Attrs{r | w | u}}};
  Memory m;
  auto tree = make_tree<F>(m.arena);
  REQUIRE(tree.ok());
  Options o = Options::page_only();
  o.allow_implied_exec = true;  // x86-32 has no NX: its rw- pages are executable
  for (const Piece& p : layout)
    REQUIRE(map(*tree, m.arena, G::to_va(p.t), PhysAddr(0x10'0000 + p.t % 0x1000'0000), p.pages * P, p.attrs, o).ok());
  std::vector<PhysAddr> scratch(64);
  CHECK(validate(*tree, m.arena, ValidateOptions{}, scratch).ok());  // not asked: no audit

  // Without NX (x86-32, Intel SDM vol 3 4.3: no XD bit in 32-bit paging) every writable page is
  // executable: 2 + 3 + 1 + 1; elsewhere only the rwx page.
  const bool no_nx = std::is_same_v<F, x86::X86_32>;
  std::vector<VirtAddr> want_wx;
  for (const Piece& p : layout)
    if (p.attrs.write() && (p.attrs.exec() || no_nx))
      for (std::uint64_t k = 0; k < p.pages; ++k) want_wx.push_back(G::to_va(p.t + k * P));
  std::vector<Finding> found;
  auto collect = [&](const Finding& f) { found.push_back(f); };
  ValidateOptions vo;
  vo.check_wx = true;
  vo.kernel = Region{G::to_va(K0), K0};
  vo.report_to(collect);
  const Validation v = validate(*tree, m.arena, vo, scratch);
  CHECK(v.wx_leaves == (no_nx ? 7 : 1));
  CHECK(v.user_kernel_leaves == 1);
  CHECK(v.problems == v.wx_leaves + 1);
  std::vector<VirtAddr> got_wx;
  for (const Finding& f : found) {
    CHECK(f.has_level());
    if (f.what == Problem::writable_executable) got_wx.push_back(f.va);
    if (f.what == Problem::user_kernel_mapping) CHECK(f.va == G::to_va(K0 + 48 * P));
  }
  CHECK(got_wx == want_wx);
  CHECK(v.first == found.front());  // the lowest VA, and the walk is in VA order
  // Fixing the rwx page (and on x86-32 the rest cannot be fixed: documented) clears the audit.
  REQUIRE(protect(*tree, m.arena, G::to_va(K0 + 32 * P), P, Attrs{r | x | g}, o).ok());
  REQUIRE(unmap(*tree, m.arena, G::to_va(K0 + 48 * P), P).ok());
  found.clear();
  const Validation after = validate(*tree, m.arena, vo, scratch);
  CHECK(after.user_kernel_leaves == 0);
  CHECK(after.wx_leaves == (no_nx ? 5 : 0));
}
