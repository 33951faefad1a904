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

// ==============================================================================================
// Architecture-specific attributes: typed per-family extensions (known answers from the manuals).
// ==============================================================================================

namespace {
/// The leaf `attrs` encode to at `level` with output address `pa` (full caps).
template <class F>
typename F::Entry encode(typename F::Level level, Attrs attrs, PhysAddr pa) {
  auto p = F::leaf_proto(level, LeafSettings{attrs, false, false}, test::full_caps<F>());
  REQUIRE(p.ok());
  return F::leaf(level, *p, pa);
}
const Attrs kRwG{Perm::read | Perm::write | Perm::global};
}  // namespace

TEST_CASE("arm64 extension: shareability, own MAIR index and software bits encode as the Arm ARM says", "[ext]") {
  using F = arm64::Vmsa4k48;
  // Arm ARM DDI 0487K.a D8.3.1 (page descriptor: bits[1:0] = 0b11, OA [47:12], software use
  // [58:55]), D8.5 (AttrIndx [4:2]; SH [9:8]: 0b10 Outer Shareable), D8.4 (AP[2:1] [7:6] = 0b00
  // EL1 read/write; AF [10]; nG [11] = 0 global; PXN [53], UXN [54] = 1 no execute):
  //   0b11 | 5 << 2 | 0b10 << 8 | 1 << 10 | 0x40000000 | 1 << 53 | 1 << 54 | 0b1010 << 55
  const Attrs a = with(kRwG, arm64::Ext{Share::outer, arm64::AttrIndex::attr5, 0b1010});
  CHECK(a.mem == MemType::other);
  CHECK(encode<F>(arm64::Level::L3, a, PhysAddr(0x4000'0000)) == 0x0560'0000'4000'0617ULL);
  // A 2 MiB block (bits[1:0] = 0b01) with Non-shareable normal memory of ptlib's attr0.
  const Attrs b = with(kRwG, arm64::Ext{Share::non, arm64::AttrIndex::attr0, 0});
  CHECK(b.mem == MemType::normal);
  CHECK(encode<F>(arm64::Level::L2, b, PhysAddr(0x4000'0000)) == 0x0060'0000'4000'0401ULL);
  // With FEAT_LPA2 bits [9:8] are OA[51:50] (D8.3.1): a shareability choice is refused, the
  // software bits are not.
  using L = arm64::Vmsa4k52;
  auto lpa2 = L::leaf_proto(arm64::Level::L3, LeafSettings{a}, {});
  REQUIRE_FALSE(lpa2.ok());
  CHECK_THAT(std::string(remedy(lpa2.error())), Catch::Contains("TCR_ELx.SH"));
  CHECK(encode<L>(arm64::Level::L3, with(kRwG, arm64::Ext{Share::preset, arm64::AttrIndex::attr5, 0b1010}),
                  PhysAddr(0x4000'0000)) == 0x0560'0000'4000'0417ULL);
}

TEST_CASE("ARMv7 LPAE extension encodes as the ARM ARM says", "[ext]") {
  using F = armv7::Lpae32;
  // ARM ARM v7-A/R (DDI 0406C) B3.6.1 (page: bits[1:0] = 0b11, OA [39:12]) and B3.6.2
  // (AttrIndx [4:2], AP[2:1] [7:6], SH [9:8] 0b10 Outer Shareable, AF [10], nG [11], PXN [53],
  // XN [54], bits [58:55] reserved for software use).
  const Attrs a = with(kRwG, armv7::Ext{Share::outer, armv7::AttrIndex::attr5, 0b1010});
  CHECK(encode<F>(armv7::Level::Third, a, PhysAddr(0x8000'0000)) == 0x0560'0000'8000'0617ULL);
  // Device memory, Inner Shareable on request (ptlib's preset for device is 0b00).
  const Attrs d = with(Attrs{Perm::read | Perm::write | Perm::global, MemType::device}, armv7::Ext{Share::inner});
  CHECK(encode<F>(armv7::Level::Third, d, PhysAddr(0x8000'0000)) == 0x0060'0000'8000'070bULL);
}

TEST_CASE("x86 extension: A/D policy, PAT entry and software bits encode as the SDM says", "[ext]") {
  using F = x86::Long4;
  // Intel SDM vol 3A Table 4-19 (4-KByte PTE: P 0, R/W 1, U/S 2, PWT 3, PCD 4, A 5, D 6, PAT 7,
  // G 8, bits 11:9 ignored, XD 63) and 11.12.3 (PAT index = PAT*4 + PCD*2 + PWT: 5 = PAT + PWT):
  //   P | R/W | PWT | PAT | G | 0b101 << 9 | 0x12345000 | XD, with A = D = 0
  const Attrs a = with(kRwG, x86::Ext{Accessed::clear, Dirty::clear, x86::PatIndex::pat5, 0b101});
  CHECK(encode<F>(x86::Level::Pt, a, PhysAddr(0x1234'5000)) == 0x8000'0000'1234'5b8bULL);
  // Table 4-18 (2-MByte PDE): PS 7 and the PAT bit at 12.
  CHECK(encode<F>(x86::Level::Pd, a, PhysAddr(0x4000'0000)) == 0x8000'0000'4000'1b8bULL);
  // The defaults (A = 1, D = 1 on a writable leaf): no extension at all.
  CHECK(with(kRwG, x86::Ext{}).ext.empty());
  CHECK(encode<F>(x86::Level::Pt, kRwG, PhysAddr(0x1234'5000)) == 0x8000'0000'1234'5163ULL);
}

TEST_CASE("RISC-V extension: A/D for Svade and the RSW bits encode as the privileged spec says", "[ext]") {
  using F = riscv::Sv39;
  // RISC-V privileged spec 4.4.1 (Sv39 PTE: V 0, R 1, W 2, X 3, U 4, G 5, A 6, D 7, RSW 9:8,
  // PPN from bit 10): rw- global at 0x80201000 with A = D = 0 and RSW = 0b10.
  const Attrs a = with(kRwG, riscv::Ext{Accessed::clear, Dirty::clear, 0b10});
  CHECK(encode<F>(riscv::Level::Vpn0, a, PhysAddr(0x8020'1000)) == 0x2008'0627ULL);
  CHECK(encode<F>(riscv::Level::Vpn0, kRwG, PhysAddr(0x8020'1000)) == 0x2008'04e7ULL);  // A = D = 1
  // Dirty on a read-only page (D = 1, W = 0).
  const Attrs r = with(Attrs{Perm::read | Perm::global}, riscv::Ext{Accessed::set, Dirty::set, 0});
  CHECK(encode<F>(riscv::Level::Vpn0, r, PhysAddr(0x8020'1000)) == 0x2008'04e3ULL);
}

namespace {
/// Every extension value of F's family worth trying (a few per field), applied to `base`.
template <class F>
std::vector<Attrs> extended(Attrs base) {
  std::vector<Attrs> out;
  if constexpr (requires { arm64::ext_of(base); F::kLpa2; }) {
    for (auto sh : {Share::preset, Share::non, Share::outer, Share::inner})
      for (auto i : {arm64::AttrIndex::preset, arm64::AttrIndex::attr1, arm64::AttrIndex::attr2, arm64::AttrIndex::attr6})
        for (std::uint8_t sw : {0, 9}) out.push_back(with(base, arm64::Ext{F::kLpa2 ? Share::preset : sh, i, sw}));
  } else if constexpr (std::is_same_v<typename F::Level, armv7::Level>) {
    for (auto sh : {Share::preset, Share::non, Share::outer, Share::inner})
      for (auto i : {armv7::AttrIndex::preset, armv7::AttrIndex::attr2, armv7::AttrIndex::attr7})
        for (std::uint8_t sw : {0, 6}) out.push_back(with(base, armv7::Ext{sh, i, sw}));
  } else if constexpr (std::is_same_v<typename F::Level, x86::Level>) {
    for (auto ac : {Accessed::set, Accessed::clear})
      for (auto d : {Dirty::if_writable, Dirty::clear, Dirty::set})
        for (auto p : {x86::PatIndex::preset, x86::PatIndex::pat3, x86::PatIndex::pat4, x86::PatIndex::pat7})
          for (std::uint8_t sw : {0, 5}) out.push_back(with(base, x86::Ext{ac, d, p, sw}));
  } else if constexpr (std::is_same_v<typename F::Level, riscv::Level>) {
    for (auto ac : {Accessed::set, Accessed::clear})
      for (auto d : {Dirty::if_writable, Dirty::clear, Dirty::set})
        for (std::uint8_t sw : {0, 1, 3}) out.push_back(with(base, riscv::Ext{ac, d, sw}));
  }
  return out;
}
}  // namespace

TEMPLATE_LIST_TEST_CASE("every extension value reads back as set, through the engine too; another family's is refused",
                        "[ext]", AllFormats) {
  using F = TestType;
  using G = Geometry<F>;
  CAPTURE(F::kName);
  const auto caps = test::full_caps<F>();
  std::size_t tried = 0;
  for (const Attrs base : {kRwxg, Attrs{Perm::read | Perm::exec}}) {
    for (const Attrs& a : extended<F>(base)) {
      CAPTURE(a.ext.value);
      for (std::size_t d = 0; d < G::kDepth; ++d) {
        const auto L = G::level(d);
        if (!F::can_leaf(L, caps)) continue;
        auto p = F::leaf_proto(L, LeafSettings{a, false, true}, caps);
        REQUIRE(p.ok());
        const Decoded back = F::decode(L, F::leaf(L, *p, PhysAddr(0)));
        REQUIRE(back.kind == EntryKind::leaf);
        CHECK(back.attrs == a);
        CHECK(back.attrs.ext == a.ext);
        ++tried;
      }
    }
  }
  CHECK(tried > 0);
  // Through the engine: map with an extension, translate reads it, protect to the same is a no-op.
  const auto all = extended<F>(kRwxg);
  const Attrs a = all.back();
  test::Memory m;
  auto tree = make_tree<F>(m.arena, caps);
  REQUIRE(tree.ok());
  Options o;
  o.allow_implied_exec = true;
  REQUIRE(map(*tree, m.arena, G::to_va(0x40'0000), PhysAddr(0x40'0000), G::kPageSize, a, o).ok());
  auto t = translate(*tree, m.arena, G::to_va(0x40'0000));
  REQUIRE(t.ok());
  CHECK(t->leaf.attrs == a);
  auto same = protect(*tree, m.arena, G::to_va(0x40'0000), G::kPageSize, a, o);
  REQUIRE(same.ok());
  CHECK(same->leaves_changed == 0);
  // Another family's extension: refused, with the hint naming the right one.
  const Attrs foreign = std::is_same_v<typename F::Level, riscv::Level>
                            ? with(kRwxg, x86::Ext{Accessed::clear})
                            : with(kRwxg, riscv::Ext{Accessed::clear});
  auto bad = map(*tree, m.arena, G::to_va(0x80'0000), PhysAddr(0x80'0000), G::kPageSize, foreign, o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::unsupported_attrs);
  CHECK_THAT(std::string(remedy(bad.error())), Catch::Contains("another family"));
}

// ==============================================================================================
// modify(): a mutate-by-callback range walk (ptlib/apply.hpp).
// ==============================================================================================

namespace {
/// A block (where the format has one at the level above pages) and 8 pages after it.
template <class F>
void block_and_pages(Space<F>& s, PhysAddr pa) {
  using G = Geometry<F>;
  const std::uint64_t B = G::span(G::kDepth - 2);
  Options o;
  o.contiguous = false;
  REQUIRE(map(s.tree, s.m.arena, s.va(), pa, B, kRwxg, o).ok());
  REQUIRE(map(s.tree, s.m.arena, s.va(B), pa + B, 8 * G::kPageSize, kRwxg, o).ok());
}
}  // namespace

TEMPLATE_LIST_TEST_CASE("modify() changes each leaf as protect()/unmap() of it would, splitting at the range's edges",
                        "[modify]", test::EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const std::uint64_t B = G::span(G::kDepth - 2), P = G::kPageSize;
  const PhysAddr pa(std::uint64_t{1} << 30);
  const Attrs kRxg{Perm::read | Perm::exec | Perm::global};
  CAPTURE(F::kName);
  for (const Live live : {Live::offline, Live::break_before_make}) {
    Space<F> got, want;
    block_and_pages(got, pa);
    block_and_pages(want, pa);
    Options o;
    o.live = live;
    o.contiguous = false;
    // The range: the second half of the block and the first 4 pages. The callback: the block (or
    // the pages that stand for it) read-only; of the 4 pages, even ones unmapped, odd ones read-only.
    std::vector<Leaf<F>> seen;
    auto fn = [&](const Leaf<F>& l) {
      seen.push_back(l);
      if (l.pa < pa + B) return Change::set(kRxg);
      return ((l.pa - (pa + B)) / P) % 2 == 0 ? Change::remove() : Change::set(kRxg);
    };
    test::Recorder rec;
    auto r = modify(got.tree, got.m.arena, got.va(B / 2), B / 2 + 4 * P, fn, o, rec);
    REQUIRE(r.ok());
    // The oracle: protect() and unmap() of the same pieces.
    REQUIRE(protect(want.tree, want.m.arena, want.va(B / 2), B / 2, kRxg, o).ok());
    for (std::uint64_t k = 0; k < 4; ++k) {
      auto w = k % 2 == 0 ? unmap(want.tree, want.m.arena, want.va(B + k * P), P, o)
                          : protect(want.tree, want.m.arena, want.va(B + k * P), P, kRxg, o);
      REQUIRE(w.ok());
    }
    CHECK(test::leaves(got.tree, got.m.arena) == test::leaves(want.tree, want.m.arena));
    CHECK(got.m.arena.tables_in_use() == want.m.arena.tables_in_use());
    CHECK(r->leaves_changed >= 4);
    if (live != Live::offline) CHECK(rec.count(test::Recorder::Event::invalidate) > 0);
    // The callback saw whole leaves, in VA order, the first one reaching below the range when it
    // is a block (the dry run and the writing walk each ask: the same leaf is seen again).
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.front().va <= got.va(B / 2));
    for (std::size_t k = 1; k < seen.size(); ++k)
      if (seen[k].va <= seen[k - 1].va) CHECK(seen[k].va >= got.va(B / 2) - B);  // a new pass started
    std::vector<PhysAddr> scratch(64);
    CHECK(validate(got.tree, got.m.arena, ValidateOptions{}, scratch).ok());
  }
}

TEMPLATE_LIST_TEST_CASE("modify() has no partial success: an answer the format refuses, or no memory, changes nothing",
                        "[modify]", test::EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  const std::uint64_t B = G::span(G::kDepth - 2), P = G::kPageSize;
  const PhysAddr pa(std::uint64_t{1} << 30);
  CAPTURE(F::kName);
  for (const Live live : {Live::offline, Live::refuse, Live::break_before_make}) {
    CAPTURE(int(live));
    Space<F> s;
    block_and_pages(s, pa);
    Options o;
    o.live = live;
    const auto before = s.m.snapshot();
    test::Recorder rec;
    // Every leaf but the last read-only (a split of the block on the way), the last one without
    // read or exec, which no format can express: refused, with its VA; nothing written.
    const PhysAddr last = pa + B + 7 * P;
    auto bad = modify(s.tree, s.m.arena, s.va(B / 2), B / 2 + 8 * P, [&](const Leaf<F>& l) {
      return l.pa == last ? Change::set(Attrs{Perm::none}) : Change::set(attrs::rx);
    }, o, rec);
    REQUIRE_FALSE(bad.ok());
    if (bad.error().code == Errc::needs_break_before_make) {  // Live::refuse: splitting a live block (Arm)
      CHECK(live == Live::refuse);
      CHECK(bad.error().va == s.va(B / 2));
    } else {
      CHECK(bad.error().code == Errc::unsupported_attrs);
      CHECK(bad.error().va == s.va(B + 7 * P));
    }
    CHECK(s.m.snapshot() == before);
    CHECK(rec.events.empty());
    // Splitting the block needs a table; an arena with no room refuses before any write and
    // says how many tables were missing.
    if (live == Live::offline && F::can_leaf(G::level(G::kDepth - 2), s.tree.caps)) {
      test::Memory probe;
      auto pt = make_tree<F>(probe.arena, s.tree.caps);
      REQUIRE(pt.ok());
      auto k = plan(*pt, probe.arena, op::Map{s.va(), pa, B, kRwxg});
      REQUIRE(k.ok());
      test::Memory full(pool_bytes<F>(*k));  // the root and exactly the block's tables
      auto t = make_tree<F>(full.arena, s.tree.caps);
      REQUIRE(t.ok());
      REQUIRE(map(*t, full.arena, s.va(), pa, B, kRwxg).ok());
      const auto fb = full.snapshot();
      auto oom = modify(*t, full.arena, s.va(P), P, [](const Leaf<F>&) { return Change::remove(); }, o, rec);
      REQUIRE_FALSE(oom.ok());
      CHECK(oom.error().code == Errc::out_of_memory);
      CHECK(oom.error().tables_needed == 1);
      CHECK(oom.error().tables_available == 0);
      CHECK(full.snapshot() == fb);
    }
  }
}
