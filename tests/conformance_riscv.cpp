// Tier 1: RISC-V Sv32/Sv39/Sv48/Sv57 conformance. Known-answer vectors are worked out by hand
// from the RISC-V Privileged Architecture manual, 20211203 ("priv").
#include <ptlib/riscv.hpp>

#include "support.hpp"

using namespace ptlib;
using namespace ptlib::riscv;
using RiscvFormats = std::tuple<Sv32, Sv39, Sv48, Sv57>;
using Rv64Formats = std::tuple<Sv39, Sv48, Sv57>;

namespace {
constexpr Caps kPlain{};
constexpr Caps kAll{true, true};
template <class F>
typename F::Entry leaf_of(Level l, Attrs a, std::uint64_t pa, Caps c = kAll, bool contiguous = false) {
  auto p = F::leaf_proto(l, LeafSettings{a, contiguous}, c);
  REQUIRE(p.ok());
  return F::leaf(l, *p, PhysAddr(pa));
}
}  // namespace

TEST_CASE("Sv39 known-answer entries from priv 4.4.1 (Figure 4.21) and Table 4.5", "[conformance][riscv]") {
  // Non-leaf PTE: V=1, R=W=X=0, PPN = 0x80201 at bit 10 -> 0x80201 << 10 | 1.
  CHECK(Sv39::table(Level::Vpn2, PhysAddr(0x8020'1000)) == 0x2008'0401ULL);
  // 4 KiB leaf rw- at PA 0x80200000: V|R|W|A|D = 0xc7, PPN 0x80200 << 10 = 0x20080000.
  CHECK(leaf_of<Sv39>(Level::Vpn0, attrs::rw, 0x8020'0000) == 0x2008'00c7ULL);
  // 1 GiB gigapage r-x global at PA 0x40000000: V|R|X|G|A = 0x6b, PPN 0x40000 << 10 = 0x10000000.
  CHECK(leaf_of<Sv39>(Level::Vpn2, Attrs{Perm::read | Perm::exec | Perm::global}, 0x4000'0000) == 0x1000'006bULL);
  // --x: execute-only is a legal leaf (Table 4.5: XWR = 100): V|X|A = 0x49.
  CHECK(leaf_of<Sv39>(Level::Vpn0, Attrs{Perm::exec}, 0x1000) == 0x449ULL);
  // User page r-- u: V|R|U|A = 0x53.
  CHECK(leaf_of<Sv39>(Level::Vpn0, Attrs{Perm::read | Perm::user}, 0x2000) == 0x853ULL);
}

TEST_CASE("Svpbmt memory types sit in bits 62:61 (priv ch. 7, Table 7.1)", "[conformance][riscv]") {
  // 2 MiB megapage rw- IO at PA 0x10000000: PBMT = 2 -> bit 62; PPN 0x10000 << 10 = 0x4000000.
  CHECK(leaf_of<Sv39>(Level::Vpn1, attrs::device_rw, 0x1000'0000) == 0x4000'0000'0400'00c7ULL);
  // r-- NC page at PA 0x3000: PBMT = 1 -> bit 61; V|R|A = 0x43.
  CHECK(leaf_of<Sv48>(Level::Vpn0, Attrs{Perm::read, MemType::normal_nc}, 0x3000) == 0x2000'0000'0000'0c43ULL);
  // PMA (normal) leaves PBMT = 0.
  CHECK((leaf_of<Sv57>(Level::Vpn0, attrs::rw, 0x3000) >> 61) == 0);
}

TEST_CASE("a Svnapot 64 KiB PTE holds ppn[3:0] = 1000 and N = 1 (priv ch. 6, Table 6.1)", "[conformance][riscv]") {
  // 64 KiB at PA 0x80010000, r--: ppn 0x80010 -> 0x80018; << 10 = 0x20006000; N = bit 63; V|R|A.
  const std::uint64_t want = 0x8000'0000'2000'6043ULL;
  // Every PTE of the run is identical, whichever page of the run it is written for.
  for (std::uint64_t k = 0; k < 16; ++k)
    CHECK(leaf_of<Sv39>(Level::Vpn0, attrs::r, 0x8001'0000 + k * 0x1000, kAll, true) == want);
  const Decoded d = Sv39::decode(Level::Vpn0, want);
  CHECK(d.kind == EntryKind::leaf);
  CHECK(d.contiguous);
  CHECK(d.run_log2 == 4);
  CHECK(d.addr == PhysAddr(0x8001'0000));
}

TEST_CASE("Sv32 known-answer entries from priv 4.3.1 (Figure 4.18): 4-byte PTEs, 34-bit PA", "[conformance][riscv]") {
  // 4 MiB megapage r-x u at PA 0x2_0000_0000 (above 4 GiB): PPN 0x200000 << 10 = 0x80000000;
  // V|R|X|U|A = 0x5b.
  CHECK(leaf_of<Sv32>(Level::Vpn1, Attrs{Perm::read | Perm::exec | Perm::user}, 0x2'0000'0000) == 0x8000'005bU);
  // 4 KiB rw- u at PA 0x80001000: PPN 0x80001 << 10 = 0x20000400; V|R|W|U|A|D = 0xd7.
  CHECK(leaf_of<Sv32>(Level::Vpn0, Attrs{Perm::read | Perm::write | Perm::user}, 0x8000'1000) == 0x2000'04d7U);
  CHECK(Sv32::table(Level::Vpn1, PhysAddr(0x3'ffff'f000)) == 0xffff'fc01U);
  static_assert(std::is_same_v<Sv32::Entry, std::uint32_t>);
}

TEST_CASE("reserved and illegal encodings decode as malformed (priv 4.3.1, 4.3.2, Table 4.5)", "[conformance][riscv]") {
  CHECK(Sv39::decode(Level::Vpn0, 0x5).kind == EntryKind::malformed);               // W without R
  CHECK(Sv39::decode(Level::Vpn0, 0xd).kind == EntryKind::malformed);               // W|X without R
  CHECK(Sv39::decode(Level::Vpn0, 0x1).kind == EntryKind::malformed);               // pointer at level 0
  CHECK(Sv39::decode(Level::Vpn1, 0x41).kind == EntryKind::malformed);              // non-leaf with A
  CHECK(Sv39::decode(Level::Vpn0, (1ULL << 54) | 0x43).kind == EntryKind::malformed);  // reserved bit 54
  CHECK(Sv39::decode(Level::Vpn0, (3ULL << 61) | 0x43).kind == EntryKind::malformed);  // PBMT = 3
  CHECK(Sv39::decode(Level::Vpn1, (1ULL << 63) | 0x2000'6043).kind == EntryKind::malformed);  // N above level 0
  CHECK(Sv39::decode(Level::Vpn0, (1ULL << 63) | 0x2000'5043).kind == EntryKind::malformed);  // ppn[3:0]=0100
  // Misaligned megapage: a level-1 leaf with PPN[0] != 0.
  CHECK(Sv39::decode(Level::Vpn1, (0x80201ULL << 10) | 0x43).kind == EntryKind::malformed);
  CHECK(Sv32::decode(Level::Vpn1, (0x80001U << 10) | 0x43).kind == EntryKind::malformed);
}

TEMPLATE_LIST_TEST_CASE("RISC-V geometry follows the manual", "[conformance][riscv]", RiscvFormats) {
  using F = TestType;
  using G = Geometry<F>;
  struct Want { unsigned va_bits; std::size_t depth; std::uint64_t entries; std::uint64_t root_span; };
  // priv 4.3-4.6: Sv32 2 levels of 1024 (4 MiB megapages); SvN levels of 512 each.
  const Want w = std::is_same_v<F, Sv32>   ? Want{32, 2, 1024, 4ULL << 20}
                 : std::is_same_v<F, Sv39> ? Want{39, 3, 512, 1ULL << 30}
                 : std::is_same_v<F, Sv48> ? Want{48, 4, 512, 512ULL << 30}
                                           : Want{57, 5, 512, 256ULL << 40};
  CHECK(G::kVaBits == w.va_bits);
  CHECK(G::kDepth == w.depth);
  CHECK(G::entries(0) == w.entries);
  CHECK(G::span(0) == w.root_span);
  CHECK(G::span(G::kDepth - 1) == 4096);
  CHECK(G::table_bytes(0) == 4096);
  CHECK(F::kLevels[G::kDepth - 1] == Level::Vpn0);
  CHECK(F::kLevels[0] == Level(G::kDepth - 1));
  for (std::size_t d = 0; d < G::kDepth; ++d) CHECK(F::can_leaf(G::level(d), kPlain));  // any level may be a leaf
}

TEMPLATE_LIST_TEST_CASE("Sv39+ VAs must be sign-extended from bit N-1 (priv 4.4.1)", "[conformance][riscv]", Rv64Formats) {
  using G = Geometry<TestType>;
  const unsigned n = G::kVaBits;
  Errc why{};
  CHECK(G::va_in_range((1ULL << (n - 1)) - 4096, 4096, why));          // top of the low half
  CHECK(G::va_in_range(~0ULL << (n - 1), 4096, why));                  // bottom of the high half
  CHECK_FALSE(G::va_in_range(1ULL << (n - 1), 4096, why));             // first non-canonical VA
  CHECK(why == Errc::va_non_canonical);
  CHECK_FALSE(G::va_in_range((1ULL << (n - 1)) - 4096, 8192, why));    // runs into the hole
  Errc why32{};
  CHECK(Geometry<Sv32>::va_in_range(0xffff'f000, 4096, why32));        // Sv32: every 32-bit VA
  CHECK_FALSE(Geometry<Sv32>::va_in_range(0x1'0000'0000, 4096, why32));
}

TEMPLATE_LIST_TEST_CASE("RISC-V leaf bits round-trip through decode at every level", "[conformance][riscv]", RiscvFormats) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    const Level l = G::level(d);
    for (unsigned perm = 0; perm < 32; ++perm) {
      for (MemType mem : {MemType::normal, MemType::normal_nc, MemType::device, MemType::wc}) {
        const Attrs a{Perm(perm), mem};
        auto p = F::leaf_proto(l, LeafSettings{a}, kAll);
        const bool expressible = !(a.write() && !a.read()) && (a.read() || a.exec()) && mem != MemType::wc &&
                                 (mem == MemType::normal || G::kVaBits > 32);
        CAPTURE(F::kName, d, perm, int(mem));
        REQUIRE(p.ok() == expressible);
        if (!expressible) continue;
        const std::uint64_t pa = G::span(d) * 3;
        const Decoded dec = F::decode(l, F::leaf(l, *p, PhysAddr(pa)));
        CHECK(dec.kind == EntryKind::leaf);
        CHECK(dec.addr == PhysAddr(pa));
        CHECK(dec.attrs == a);
        CHECK_FALSE(dec.contiguous);
      }
    }
  }
}

TEST_CASE("RISC-V refuses what it cannot express, with typed errors", "[conformance][riscv]") {
  auto code = [](auto r) { return r.ok() ? Errc{} : r.error().code; };
  CHECK(code(Sv39::leaf_proto(Level::Vpn0, {attrs::device_rw}, kPlain)) == Errc::unsupported_memtype);  // no Svpbmt
  CHECK(code(Sv39::leaf_proto(Level::Vpn0, {Attrs{Perm::read, MemType::wc}}, kAll)) == Errc::unsupported_memtype);
  CHECK(code(Sv32::leaf_proto(Level::Vpn0, {Attrs{Perm::read, MemType::normal_nc}}, kAll)) == Errc::unsupported_memtype);
  CHECK(code(Sv39::leaf_proto(Level::Vpn0, {Attrs{Perm::write}}, kAll)) == Errc::unsupported_attrs);
  CHECK(code(Sv39::leaf_proto(Level::Vpn0, {Attrs{Perm::user}}, kAll)) == Errc::unsupported_attrs);
  CHECK(code(Sv39::leaf_proto(Level::Vpn0, {attrs::r, true}, kPlain)) == Errc::unsupported_attrs);  // no Svnapot
  CHECK(code(Sv39::leaf_proto(Level::Vpn1, {attrs::r, true}, kAll)) == Errc::unsupported_attrs);    // 64 KiB only
  CHECK(code(Sv32::leaf_proto(Level::Vpn0, {attrs::r, true}, kAll)) == Errc::unsupported_attrs);
  CHECK(Sv39::contig_log2(Level::Vpn0, kAll) == 4);
  CHECK(Sv39::contig_log2(Level::Vpn0, kPlain) == 0);
  CHECK(Sv39::contig_log2(Level::Vpn1, kAll) == 0);
}

TEST_CASE("the engine maps Sv39 with gigapages, megapages and pages as the layout allows", "[conformance][riscv]") {
  test::Memory m;
  auto t = make_tree<Sv39>(m.arena, kAll);
  REQUIRE(t.ok());
  //                        |VPN2-9|  |VPN1-9|  |VPN0-9| |--12--|
  const VirtAddr va(0xffff'ffc0'4000'0000ULL);  // VPN[2] = 257, one gigapage into the high half
  auto r = map(*t, m.arena, va - 0x1000, PhysAddr(0x8000'0000 - 0x1000), (1ULL << 30) + (2 << 20) + 0x2000, attrs::rw);
  REQUIRE(r.ok());
  auto at = [&](std::uint64_t off) { return translate(*t, m.arena, va + off); };
  CHECK(at(0)->leaf.level == Level::Vpn2);
  CHECK(at((1ULL << 30) + 5)->pa == PhysAddr(0xc000'0005));
  CHECK(at(1ULL << 30)->leaf.level == Level::Vpn1);
  CHECK(at((1ULL << 30) + (2 << 20))->leaf.level == Level::Vpn0);
  CHECK(translate(*t, m.arena, va - 0x1000)->leaf.level == Level::Vpn0);
  CHECK(translate(*t, m.arena, va - 0x2000).error().code == Errc::not_mapped);
}
