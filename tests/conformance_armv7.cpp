// Tier-1 conformance of the ARMv7-A LPAE formats (arch/arm/ptlib/armv7.hpp) against ARM DDI 0406C
// ("ARM ARM v7"): geometry, descriptor encodings worked out by hand, round trips, VA rules,
// refusals, and one small engine run per mode.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <catch2/catch.hpp>

#include <ptlib/armv7.hpp>
#include <ptlib/host.hpp>
#include <ptlib/ptlib.hpp>

#include "support.hpp"

using namespace ptlib;
using armv7::Level;
using armv7::Lpae;
using armv7::Lpae32;

namespace {

constexpr std::uint64_t KiB = 1024, MiB = KiB * KiB, GiB = KiB * MiB;

using Lpae31 = Lpae<31>;
using Lpae30 = Lpae<30>;
using Lpae25 = Lpae<25>;
using Ttbr1_256M = Lpae<28, VaRule::high>;

/// Every mode under test: the full TTBR0 region, both first-level roots (4 and 2 entries), a full
/// and the smallest second-level root, and a TTBR1 region (top 256 MiB).
using Modes = std::tuple<Lpae32, Lpae31, Lpae30, Lpae25, Ttbr1_256M>;

/// The manual's numbers per mode, worked out by hand from ARM ARM v7 B3.6.5 (level sizes) and
/// B3.6.6 (initial lookup level: first for TxSZ 0..1, second for TxSZ 2..7; TTBR.BADDR holds
/// bits [39:x] with x = 5 - TxSZ at the first level, 14 - TxSZ at the second), and B3.6.4 (the
/// TTBR1 region is [2^32 - 2^(32-T1SZ), 2^32)).
template <class F>
struct Manual;
template <>
struct Manual<Lpae32> {  // T0SZ = 0: first-level root resolving VA[31:30]
  static constexpr std::string_view name = "armv7-lpae";
  static constexpr unsigned va_bits = 32, txsz = 0;
  static constexpr std::array levels{Level::First, Level::Second, Level::Third};
  static constexpr std::array<std::uint64_t, 3> entries{4, 512, 512};
  static constexpr std::array<std::uint64_t, 3> span{1 * GiB, 2 * MiB, 4 * KiB};
  static constexpr std::size_t root_bytes = 32;  // x = 5: BADDR[39:5]
  static constexpr std::uint64_t va_first = 0, va_last = 0xFFFF'FFFF;
};
template <>
struct Manual<Lpae31> {  // T0SZ = 1: first-level root resolving VA[30]
  static constexpr std::string_view name = "armv7-lpae-31";
  static constexpr unsigned va_bits = 31, txsz = 1;
  static constexpr std::array levels{Level::First, Level::Second, Level::Third};
  static constexpr std::array<std::uint64_t, 3> entries{2, 512, 512};
  static constexpr std::array<std::uint64_t, 3> span{1 * GiB, 2 * MiB, 4 * KiB};
  static constexpr std::size_t root_bytes = 16;  // x = 4
  static constexpr std::uint64_t va_first = 0, va_last = 0x7FFF'FFFF;
};
template <>
struct Manual<Lpae30> {  // T0SZ = 2: second-level root resolving VA[29:21]
  static constexpr std::string_view name = "armv7-lpae-30";
  static constexpr unsigned va_bits = 30, txsz = 2;
  static constexpr std::array levels{Level::Second, Level::Third};
  static constexpr std::array<std::uint64_t, 2> entries{512, 512};
  static constexpr std::array<std::uint64_t, 2> span{2 * MiB, 4 * KiB};
  static constexpr std::size_t root_bytes = 4096;  // x = 12
  static constexpr std::uint64_t va_first = 0, va_last = 0x3FFF'FFFF;
};
template <>
struct Manual<Lpae25> {  // T0SZ = 7: second-level root resolving VA[24:21]
  static constexpr std::string_view name = "armv7-lpae-25";
  static constexpr unsigned va_bits = 25, txsz = 7;
  static constexpr std::array levels{Level::Second, Level::Third};
  static constexpr std::array<std::uint64_t, 2> entries{16, 512};
  static constexpr std::array<std::uint64_t, 2> span{2 * MiB, 4 * KiB};
  static constexpr std::size_t root_bytes = 128;  // x = 7
  static constexpr std::uint64_t va_first = 0, va_last = 0x01FF'FFFF;
};
template <>
struct Manual<Ttbr1_256M> {  // T1SZ = 4: second-level root resolving VA[27:21] of 0xF0000000..
  static constexpr std::string_view name = "armv7-lpae-ttbr1-28";
  static constexpr unsigned va_bits = 28, txsz = 4;
  static constexpr std::array levels{Level::Second, Level::Third};
  static constexpr std::array<std::uint64_t, 2> entries{128, 512};
  static constexpr std::array<std::uint64_t, 2> span{2 * MiB, 4 * KiB};
  static constexpr std::size_t root_bytes = 1024;  // x = 10
  static constexpr std::uint64_t va_first = 0xF000'0000, va_last = 0xFFFF'FFFF;
};

Result<std::uint64_t> proto(Level l, Attrs a, bool contiguous = false) {
  return Lpae32::leaf_proto(l, LeafSettings{a, contiguous, false}, Lpae32::Caps{});
}

/// The leaf Lpae32 writes at `l` for `a` at `pa` (the test fails if it is refused).
std::uint64_t leaf(Level l, Attrs a, std::uint64_t pa, bool contiguous = false) {
  auto p = proto(l, a, contiguous);
  REQUIRE(p.ok());
  return Lpae32::leaf(l, *p, PhysAddr(pa));
}

constexpr Perm R = Perm::read, W = Perm::write, X = Perm::exec, U = Perm::user, Gl = Perm::global;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Names and geometry

TEMPLATE_LIST_TEST_CASE("each mode has its documented short name", "[armv7][names]", Modes) {
  CHECK(std::string_view(TestType::kName) == Manual<TestType>::name);
}

TEMPLATE_LIST_TEST_CASE("geometry matches the manual's level sizes, table sizes and start level",
                        "[armv7][geometry]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  using M = Manual<F>;
  CHECK(F::kTxSZ == M::txsz);
  CHECK(G::kVaBits == M::va_bits);
  REQUIRE(G::kDepth == M::levels.size());
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    CAPTURE(d);
    CHECK(G::level(d) == M::levels[d]);
    CHECK(G::entries(d) == M::entries[d]);
    CHECK(G::span(d) == M::span[d]);
  }
  CHECK(G::table_bytes(0) == M::root_bytes);
  // The engine aligns the root to max(size, kMinTableAlign) = its size = 2^x, as TTBR.BADDR[39:x]
  // requires (B3.6.6); every lower table is a full 4 KiB table aligned to 4 KiB.
  CHECK(G::table_align(0) == M::root_bytes);
  CHECK(G::table_align(0) == (std::size_t{1} << F::kBaddrLowBit));
  for (std::size_t d = 1; d < G::kDepth; ++d) {
    CHECK(G::table_bytes(d) == 4096);
    CHECK(G::table_align(d) == 4096);
  }
  CHECK(G::kPageSize == 4096);
  CHECK(G::kPaLimit == 0xFF'FFFF'FFFFULL);  // 40-bit output address (B3.6.1)
}

TEST_CASE("MAIR0 holds Normal WB, Normal NC and Device at AttrIndx 0, 1, 2", "[armv7][kat]") {
  // ARM ARM v7 B4.1.104: Attr<n> is MAIR0 bits [8n+7:8n]. Attr0 = 0xFF (Outer 0b1111 and Inner
  // 0b1111: Write-Back, Read- and Write-Allocate), Attr1 = 0x44 (Outer and Inner Non-cacheable),
  // Attr2 = 0x04 (Attr[7:4] = 0b0000, Attr[3:0] = 0b0100: Device), Attr3 = 0x00.
  CHECK(armv7::kMair0 == 0x000444FFU);
  CHECK(armv7::kMair1 == 0);
}

// ---------------------------------------------------------------------------------------------
// Decoding rules

TEMPLATE_LIST_TEST_CASE("a zero entry is not present at any level", "[armv7][decode]", Modes) {
  for (Level l : armv7::kAllLevels) {
    CAPTURE(int(l));
    CHECK(TestType::decode(l, 0).kind == EntryKind::invalid);
  }
}

TEST_CASE("an entry with bit 0 clear is invalid whatever its other bits", "[armv7][decode]") {
  // ARM ARM v7 B3.6.1: bit[0] = 0 is an invalid (fault) entry at every level.
  const Level l = GENERATE(Level::First, Level::Second, Level::Third);
  const std::uint64_t e = GENERATE(0x2ULL, 0xFFFF'FFFF'FFFF'FFFEULL, 0x0060'0000'4000'0702ULL);
  CAPTURE(int(l), e);
  CHECK(Lpae32::decode(l, e).kind == EntryKind::invalid);
}

TEST_CASE("a third-level entry of type 0b01 is reserved and decodes as malformed", "[armv7][decode][kat]") {
  // ARM ARM v7 B3.6.1: at the third level bits[1:0] = 0b01 is reserved. The same bits are a valid
  // 2 MiB block at the second level and a 1 GiB block at the first.
  const std::uint64_t e = 0x0060'0000'4000'0701ULL;
  CHECK(Lpae32::decode(Level::Third, e).kind == EntryKind::malformed);
  CHECK(Lpae32::decode(Level::Second, e).kind == EntryKind::leaf);
  CHECK(Lpae32::decode(Level::First, e).kind == EntryKind::leaf);
}

TEST_CASE("a leaf with SH = 0b01 is malformed", "[armv7][decode][kat]") {
  // ARM ARM v7 B3.6.2: SH[1:0] = 0b01 is UNPREDICTABLE (00 Non-, 10 Outer, 11 Inner Shareable).
  // A page with SH = 0b01 (bits [9:8] = 01) at PA 0x1000, AF, XN|PXN: 0x0060000000001503.
  CHECK(Lpae32::decode(Level::Third, 0x0060'0000'0000'1503ULL).kind == EntryKind::malformed);
  // The same page with SH = 0b10 (Outer Shareable, written by someone else) is a normal leaf.
  const Decoded d = Lpae32::decode(Level::Third, 0x0060'0000'0000'1603ULL);
  CHECK(d.kind == EntryKind::leaf);
  CHECK(Attrs{d.attrs.perm, d.attrs.mem} == Attrs{R | W | Gl, MemType::normal});
  CHECK(armv7::ext_of(d.attrs).share == Share::outer);
}

TEST_CASE("known-answer table descriptors", "[armv7][kat]") {
  // ARM ARM v7 B3.6.1: a table descriptor is the next-level table address [39:12] | 0b11;
  // B3.6.2: NSTable/APTable/XNTable/PXNTable (bits 63:59) are left 0 by ptlib.
  // Table at PA 0x80001000: 0x0000000080001003.
  CHECK(Lpae32::table(Level::First, PhysAddr(0x8000'1000)) == 0x0000'0000'8000'1003ULL);
  // The highest 40-bit table address 0xFFFFFFF000: 0x000000FFFFFFF003.
  CHECK(Lpae32::table(Level::Second, PhysAddr(0xFF'FFFF'F000ULL)) == 0x0000'00FF'FFFF'F003ULL);

  // Reading: the hierarchical attributes another writer set (NSTable 63, APTable 62:61, XNTable 60,
  // PXNTable 59 = 0xF8 in the top byte) do not change the table address.
  const Decoded d = Lpae32::decode(Level::First, 0xF800'0000'8000'1003ULL);
  CHECK(d.kind == EntryKind::table);
  CHECK(d.addr == PhysAddr(0x8000'1000));
  // The same bits at the third level are a page (B3.6.1: 0b11 = page there).
  const Decoded p = Lpae32::decode(Level::Third, 0x0000'0000'8000'1003ULL);
  CHECK(p.kind == EntryKind::leaf);
  CHECK(p.addr == PhysAddr(0x8000'1000));
}

TEST_CASE("known-answer page leaves", "[armv7][kat]") {
  // ARM ARM v7 B3.6.1/B3.6.2. Page = 0b11; AttrIndx [4:2]; AP[1] bit 6 (PL0); AP[2] bit 7
  // (read-only); SH [9:8] = 0b11 for Normal; AF bit 10; nG bit 11; Contiguous 52; PXN 53; XN 54.
  SECTION("kernel rw data, global, normal WB: 0b11 | SH 0x300 | AF 0x400 | XN|PXN") {
    CHECK(leaf(Level::Third, Attrs{R | W | Gl}, 0x1234'5000) == 0x0060'0000'1234'5703ULL);
  }
  SECTION("user r-x text, not global, at the top of the 40-bit PA space: AP[2]|AP[1], nG, PXN only") {
    // 0x3 | 0x80 | 0x40 | 0x300 | 0x400 | 0x800 = 0xFC3; PXN = 1 << 53 = 0x0020000000000000.
    CHECK(leaf(Level::Third, Attrs{R | X | U}, 0xFF'FFFF'F000ULL) == 0x0020'00FF'FFFF'FFC3ULL);
  }
  SECTION("user rw data, not global: AP[1], nG, XN|PXN") {
    // 0x3 | 0x40 | 0x300 | 0x400 | 0x800 = 0xF43.
    CHECK(leaf(Level::Third, Attrs{R | W | U}, 0x2000) == 0x0060'0000'0000'2F43ULL);
  }
  SECTION("kernel text r-x, global: AP[2], XN = PXN = 0") {
    // 0x3 | 0x80 | 0x300 | 0x400 = 0x783.
    CHECK(leaf(Level::Third, Attrs{R | X | Gl}, 0x8000) == 0x0000'0000'0000'8783ULL);
  }
  SECTION("normal non-cacheable, read-only: AttrIndx 1 (0x4)") {
    // 0x3 | 0x4 | 0x80 | 0x300 | 0x400 = 0x787.
    CHECK(leaf(Level::Third, Attrs{R | Gl, MemType::normal_nc}, 0x1000) == 0x0060'0000'0000'1787ULL);
  }
  SECTION("device rw: AttrIndx 2 (0x8), SH = 0b00") {
    // 0x3 | 0x8 | 0x400 = 0x40B.
    CHECK(leaf(Level::Third, Attrs{R | W | Gl, MemType::device}, 0x0900'0000) == 0x0060'0000'0900'040BULL);
  }
  SECTION("contiguous hint: bit 52") {
    CHECK(leaf(Level::Third, Attrs{R | W | Gl}, 0x1'0000, true) == 0x0070'0000'0001'0703ULL);
  }
}

TEST_CASE("known-answer block leaves", "[armv7][kat]") {
  // ARM ARM v7 B3.6.1: block = 0b01 at the first (OA [39:30]) and second (OA [39:21]) level.
  SECTION("1 GiB kernel rwx block above 4 GiB, normal WB: 0b01 | SH | AF, XN = PXN = 0") {
    CHECK(leaf(Level::First, Attrs{R | W | X | Gl}, 0x80'4000'0000ULL) == 0x0000'0080'4000'0701ULL);
  }
  SECTION("2 MiB device rw block: 0b01 | AttrIndx 2 | AF, XN|PXN") {
    CHECK(leaf(Level::Second, Attrs{R | W | Gl, MemType::device}, 0x4020'0000) == 0x0060'0000'4020'0409ULL);
  }
  SECTION("2 MiB user rw block, not global, contiguous") {
    // 0x1 | 0x40 | 0x300 | 0x400 | 0x800 = 0xF41; bits 54..52.
    CHECK(leaf(Level::Second, Attrs{R | W | U}, 0x20'0000, true) == 0x0070'0000'0020'0F41ULL);
  }
  SECTION("a well-formed block reads back its address exactly") {
    CHECK(Lpae32::decode(Level::First, 0x0000'0000'4000'0701ULL).addr == PhysAddr(0x4000'0000));
    CHECK(Lpae32::decode(Level::Second, 0x0000'0000'4020'0701ULL).addr == PhysAddr(0x4020'0000));
    CHECK(Lpae32::decode(Level::First, 0x0000'00FF'C000'0701ULL).addr == PhysAddr(0xFF'C000'0000ULL));
  }
  SECTION("a block with a bit set below its size reads back misaligned, not rounded down") {
    // Bits [29:12] of a first-level block and [20:12] of a second-level block should be zero
    // (B3.6.1); the decoder keeps them so that validate() sees the misaligned block.
    CHECK(Lpae32::decode(Level::Second, 0x0000'0000'4020'2701ULL).addr == PhysAddr(0x4020'2000));
    CHECK(Lpae32::decode(Level::Second, 0x0000'0000'4030'0701ULL).addr == PhysAddr(0x4030'0000));
    CHECK(Lpae32::decode(Level::First, 0x0000'0000'6000'0701ULL).addr == PhysAddr(0x6000'0000));
    CHECK(Lpae32::decode(Level::First, 0x0000'0000'4000'1701ULL).addr == PhysAddr(0x4000'1000));
    CHECK(Lpae32::decode(Level::First, 0x0000'0000'4000'1701ULL).kind == EntryKind::leaf);
  }
}

TEST_CASE("bits [47:40] above the 40-bit output address make any descriptor malformed", "[armv7][decode][kat]") {
  // B3.6.1: table, block and page descriptors hold an address of at most 40 bits ([39:12]);
  // bits [47:40] should be zero. Hand-assembled: table 0x80001003, 2 MiB block 0x40200701,
  // 1 GiB block 0x40000701, page 0x12345703 (SH 0b11 | AF | type, XN|PXN for the page).
  for (unsigned b = 40; b < 48; ++b) {
    const std::uint64_t x = std::uint64_t{1} << b;
    CAPTURE(b);
    CHECK(Lpae32::decode(Level::First, 0x0000'0000'8000'1003ULL | x).kind == EntryKind::malformed);
    CHECK(Lpae32::decode(Level::Second, 0x0000'0000'8000'1003ULL | x).kind == EntryKind::malformed);
    CHECK(Lpae32::decode(Level::Second, 0x0000'0000'4020'0701ULL | x).kind == EntryKind::malformed);
    CHECK(Lpae32::decode(Level::First, 0x0000'0000'4000'0701ULL | x).kind == EntryKind::malformed);
    CHECK(Lpae32::decode(Level::Third, 0x0060'0000'1234'5703ULL | x).kind == EntryKind::malformed);
  }
  // Bit 39 is the top address bit, and the upper attributes / table attributes from bit 52 up
  // are not address bits.
  CHECK(Lpae32::decode(Level::Third, 0x0060'0080'1234'5703ULL).addr == PhysAddr(0x80'1234'5000ULL));
  CHECK(Lpae32::decode(Level::First, 0xF800'0000'8000'1003ULL).kind == EntryKind::table);
  CHECK(Lpae32::decode(Level::Third, 0x0070'0000'1234'5703ULL).kind == EntryKind::leaf);
}

TEST_CASE("entries other writers make decode to the nearest portable attributes", "[armv7][decode][kat]") {
  // ARM ARM v7 B3.6.2. Each is a page at PA 0x1000 or 0x5000, hand-assembled.
  SECTION("AttrIndx 3..7 (outside ptlib's MAIR use) is MemType::other") {
    // 0x3 | AttrIndx 3 (0xC) | SH | AF = 0x70F; AttrIndx 7 (0x1C) = 0x71F.
    const Attrs a3 = Lpae32::decode(Level::Third, 0x0000'0000'0000'570FULL).attrs;
    CHECK(Attrs{a3.perm, a3.mem} == Attrs{R | W | X | Gl, MemType::other});
    CHECK(armv7::ext_of(a3).attr_index == armv7::AttrIndex::attr3);
    CHECK(Lpae32::decode(Level::Third, 0x0000'0000'0000'571FULL).attrs.mem == MemType::other);
  }
  SECTION("PXN on a kernel-only page leaves nobody able to execute") {
    CHECK(Lpae32::decode(Level::Third, 0x0020'0000'0000'1703ULL).attrs == Attrs{R | W | Gl});
  }
  SECTION("XN = PXN = 0 on a user page is user-executable") {
    CHECK(Lpae32::decode(Level::Third, 0x0000'0000'0000'1743ULL).attrs == Attrs{R | W | X | U | Gl});
  }
  SECTION("XN alone forbids execution at every level of privilege") {
    CHECK(Lpae32::decode(Level::Third, 0x0040'0000'0000'1743ULL).attrs == Attrs{R | W | U | Gl});
  }
  SECTION("a leaf with AF = 0 is still a leaf (it faults on access, B3.6.2 Access flag)") {
    const Decoded d = Lpae32::decode(Level::Third, 0x0060'0000'0000'1303ULL);
    CHECK(d.kind == EntryKind::leaf);
    CHECK(d.attrs == Attrs{R | W | Gl});
  }
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEMPLATE_LIST_TEST_CASE("leaf bits round-trip through decode at every level of every mode", "[armv7][roundtrip]",
                        Modes) {
  using F = TestType;
  using G = Geometry<F>;
  const unsigned flags = GENERATE(range(0u, 16u));  // write, exec, user, global
  const MemType mem = GENERATE(MemType::normal, MemType::normal_nc, MemType::device);
  const bool contiguous = GENERATE(false, true);
  Perm p = Perm::read;
  if (flags & 1) p = p | Perm::write;
  if (flags & 2) p = p | Perm::exec;
  if (flags & 4) p = p | Perm::user;
  if (flags & 8) p = p | Perm::global;
  const Attrs a{p, mem};
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    const Level l = G::level(d);
    CAPTURE(F::kName, int(l), a, contiguous);
    auto pr = F::leaf_proto(l, LeafSettings{a, contiguous, false}, typename F::Caps{});
    if (contiguous && F::contig_log2(l, {}) == 0) {
      REQUIRE(!pr.ok());
      CHECK(pr.error().code == Errc::unsupported_attrs);
      continue;
    }
    REQUIRE(pr.ok());
    for (std::uint64_t pa : {std::uint64_t{0}, G::span(d), (std::uint64_t{1} << 40) - G::span(d)}) {
      const std::uint64_t e = F::leaf(l, *pr, PhysAddr(pa));
      const Decoded dec = F::decode(l, e);
      CHECK(dec.kind == EntryKind::leaf);
      CHECK(dec.addr == PhysAddr(pa));
      CHECK(dec.attrs == a);
      CHECK(dec.contiguous == contiguous);
      CHECK(dec.run_log2 == 0);  // every LPAE entry carries its own address
      CHECK((e & 0x400) != 0);   // AF is always set
    }
  }
}

TEMPLATE_LIST_TEST_CASE("table descriptors round-trip at every level above the last", "[armv7][roundtrip]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    for (std::uint64_t pa : {0x1000ULL, 0x8000'1000ULL, 0xFF'FFFF'F000ULL}) {
      const Decoded dec = F::decode(G::level(d), F::table(G::level(d), PhysAddr(pa)));
      CHECK(dec.kind == EntryKind::table);
      CHECK(dec.addr == PhysAddr(pa));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Leaves per level, contiguous runs, refusals

TEMPLATE_LIST_TEST_CASE("every level can hold a leaf and Caps has nothing to switch", "[armv7][leaf]", Modes) {
  using F = TestType;
  for (Level l : F::kLevels) CHECK(F::can_leaf(l, typename F::Caps{}));
  CHECK(typename F::Caps{} == typename F::Caps{});
  CHECK(std::is_empty_v<typename F::Caps>);
}

TEST_CASE("contiguous runs are 16 entries wherever a table has room for them", "[armv7][contig]") {
  // ARM ARM v7 B3.6.2 (Contiguous hint): 16 adjacent entries. A stage 1 first-level table has 4
  // (T0SZ = 0) or 2 (T0SZ = 1) entries, so no run fits there.
  CHECK(Lpae32::contig_log2(Level::First, {}) == 0);
  CHECK(Lpae32::contig_log2(Level::Second, {}) == 4);
  CHECK(Lpae32::contig_log2(Level::Third, {}) == 4);
  CHECK(Lpae31::contig_log2(Level::First, {}) == 0);
  CHECK(Lpae30::contig_log2(Level::Second, {}) == 4);
  CHECK(Lpae25::contig_log2(Level::Second, {}) == 4);  // a 16-entry root: exactly one run
  CHECK(Ttbr1_256M::contig_log2(Level::Second, {}) == 4);
  auto r = proto(Level::First, Attrs{R | W}, true);
  REQUIRE(!r.ok());
  CHECK(r.error().code == Errc::unsupported_attrs);
}

TEMPLATE_LIST_TEST_CASE("attributes the format cannot express are refused with the right error",
                        "[armv7][refuse]", Modes) {
  using F = TestType;
  for (Level l : F::kLevels) {
    CAPTURE(int(l));
    auto code = [&](Attrs a) {
      auto r = F::leaf_proto(l, LeafSettings{a, false, false}, typename F::Caps{});
      REQUIRE(!r.ok());
      return r.error().code;
    };
    // Read is always granted (AP has no write-only or no-access-at-PL1 encoding, B3.6.2).
    CHECK(code(Attrs{Perm::none}) == Errc::unsupported_attrs);
    CHECK(code(Attrs{W}) == Errc::unsupported_attrs);
    CHECK(code(Attrs{X | U}) == Errc::unsupported_attrs);
    // Only AttrIndx 0..2 are defined by ptlib's MAIR0.
    CHECK(code(Attrs{R | W, MemType::wc}) == Errc::unsupported_memtype);
    CHECK(code(Attrs{R | W, MemType::other}) == Errc::unsupported_memtype);
  }
}

// ---------------------------------------------------------------------------------------------
// VA rules

TEMPLATE_LIST_TEST_CASE("a mode translates exactly its TTBR region", "[armv7][va]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  using M = Manual<F>;
  Errc why{};
  CHECK(G::to_va(0).value == M::va_first);
  CHECK(G::va_in_range(M::va_first, 4096, why));
  CHECK(G::va_in_range(M::va_last - 4095, 4096, why));
  CHECK(G::va_in_range(M::va_first, M::va_last - M::va_first + 1, why));
  why = {};
  CHECK_FALSE(G::va_in_range(M::va_last + 1, 4096, why));  // first byte past the region
  CHECK(why == Errc::va_out_of_range);
  why = {};
  CHECK_FALSE(G::va_in_range(M::va_last - 4095, 8192, why));  // runs off the end
  CHECK(why == Errc::va_out_of_range);
  why = {};
  CHECK_FALSE(G::va_in_range(0x1'0000'0000ULL, 4096, why));  // not a 32-bit VA
  CHECK(why == Errc::va_out_of_range);
  if (M::va_first > 0) {  // TTBR1: the address just below the region belongs to TTBR0
    why = {};
    CHECK_FALSE(G::va_in_range(M::va_first - 4096, 4096, why));
    CHECK(why == Errc::va_out_of_range);
    why = {};
    CHECK_FALSE(G::va_in_range(M::va_first - 4096, 8192, why));
    CHECK(why == Errc::va_out_of_range);
    CHECK_FALSE(G::va_in_range(0, 4096, why));
  }
}

// ---------------------------------------------------------------------------------------------
// Engine smoke test

TEMPLATE_LIST_TEST_CASE("the engine maps a root-level block plus pages and translates them", "[armv7][engine]",
                        Modes) {
  using F = TestType;
  using G = Geometry<F>;
  alignas(4096) static unsigned char buf[64 * 1024];
  std::memset(buf, 0xA5, sizeof buf);  // the engine must not rely on zeroed memory
  Arena arena(buf, sizeof buf, PhysAddr(0x8000'0000));
  auto tree = make_tree<F>(arena);
  REQUIRE(tree.ok());
  CHECK(tree->root.aligned(std::uint64_t{1} << F::kBaddrLowBit));  // TTBR.BADDR[39:x], B3.6.6

  // Two pages, then one block of the root's size: [base - 8K, base + big) -> [P - 8K, P + big).
  const std::uint64_t big = G::span(0);
  const VirtAddr base = G::to_va(big);  // the root's second entry
  const PhysAddr P(0x40'0000'0000ULL);  // 256 GiB: above 4 GiB, aligned to 1 GiB
  const Attrs rw{R | W | Gl};
  auto rep = map(*tree, arena, base - 8192, P - 8192, big + 8192, rw);
  REQUIRE(rep.ok());
  CHECK(rep->tables_added == G::kDepth - 1);  // one table per level below the root
  CHECK(rep->modified.root());

  auto t = translate(*tree, arena, base + 0x12345);
  REQUIRE(t.ok());
  CHECK(t->pa == P + 0x12345);
  CHECK(t->leaf.level == F::kLevels[0]);
  CHECK(t->leaf.size == big);
  CHECK(t->leaf.attrs == rw);

  t = translate(*tree, arena, base - 8192 + 0x10);
  REQUIRE(t.ok());
  CHECK(t->pa == P - 8192 + 0x10);
  CHECK(t->leaf.level == Level::Third);
  CHECK(t->leaf.size == 4096);

  auto miss = translate(*tree, arena, base - 3 * 4096);
  REQUIRE(!miss.ok());
  CHECK(miss.error().code == Errc::not_mapped);

  // A type the format cannot express is refused (by the third level, inside the page table just
  // made), and nothing changes.
  const std::size_t used = arena.used();
  auto bad = map(*tree, arena, base - 4 * 4096, P - 4 * 4096, 4096, Attrs{R | W, MemType::wc});
  REQUIRE(!bad.ok());
  CHECK(bad.error().code == Errc::unsupported_memtype);
  CHECK(bad.error().level == 3);
  CHECK(arena.used() == used);

  // The root entry itself, by hand (B3.6.1/B3.6.2): a block at root index 1 for [P, P + big),
  // kernel rw, global, normal WB, XN|PXN: 0x0060000000000000 | P | SH 0x300 | AF 0x400 | 0b01.
  const auto* root = static_cast<const std::uint64_t*>(arena.map(tree->root, 0));
  CHECK(root[1] == (0x0060'0000'0000'0701ULL | P.value));
  CHECK(F::decode(F::kLevels[0], root[0]).kind == EntryKind::table);
}

TEST_CASE("a TTBR1 root is indexed from the region's base", "[armv7][engine][kat]") {
  // Lpae<28, high>: T1SZ = 4, region 0xF0000000..0xFFFFFFFF (B3.6.4), second-level root of 128
  // entries indexed by VA[27:21] (B3.6.6). VA 0xF0400000 is 0b1111'0000010'000000000'000000000000:
  // root index 2, so the 2 MiB block lands in root[2].
  using F = Ttbr1_256M;
  alignas(4096) static unsigned char buf[16 * 1024];
  Arena arena(buf, sizeof buf, PhysAddr(0x1000'0000));
  auto tree = make_tree<F>(arena);
  REQUIRE(tree.ok());
  REQUIRE(map(*tree, arena, VirtAddr(0xF040'0000), PhysAddr(0x4020'0000), 2 * MiB, Attrs{R | W | Gl, MemType::device})
              .ok());
  const auto* root = static_cast<const std::uint64_t*>(arena.map(tree->root, 0));
  CHECK(root[2] == 0x0060'0000'4020'0409ULL);  // as in "known-answer block leaves"
  CHECK(root[1] == 0);
  CHECK(root[3] == 0);
  auto t = translate(*tree, arena, VirtAddr(0xF05F'FFFF));
  REQUIRE(t.ok());
  CHECK(t->pa == PhysAddr(0x403F'FFFF));
  CHECK(t->leaf.attrs == (Attrs{R | W | Gl, MemType::device}));
  // A TTBR0 address is out of this root's range.
  auto out = map(*tree, arena, VirtAddr(0xE000'0000), PhysAddr(0), 4096, Attrs{R});
  REQUIRE(!out.ok());
  CHECK(out.error().code == Errc::va_out_of_range);
}

// ---------------------------------------------------------------------------------------------
// validate() and translate() over hand-written descriptors (issue 12, item 5)

namespace {
/// The table at depth `depth` on the path to tree offset 0 (of a tree with a page mapped there).
template <class F>
std::uint64_t* path_table(test::Memory& m, const Tree<F>& tree, std::size_t depth) {
  using G = Geometry<F>;
  auto* table = static_cast<std::uint64_t*>(m.arena.map(tree.root, 0));
  for (std::size_t d = 0; d < depth; ++d) {
    const Decoded e = F::decode(G::level(d), table[0]);
    REQUIRE(e.kind == EntryKind::table);
    table = static_cast<std::uint64_t*>(m.arena.map(e.addr, d + 1));
    REQUIRE(table != nullptr);
  }
  return table;
}

template <class F>
Tree<F> one_page_tree(test::Memory& m) {
  using G = Geometry<F>;
  auto tree = make_tree<F>(m.arena);
  REQUIRE(tree.ok());
  REQUIRE(map(*tree, m.arena, G::to_va(0), PhysAddr(0), G::kPageSize, Attrs{R | W | Gl}).ok());
  return *tree;
}

unsigned log2_of(std::uint64_t v) {
  unsigned s = 0;
  while ((std::uint64_t{1} << s) < v) ++s;
  return s;
}
}  // namespace

TEMPLATE_LIST_TEST_CASE("validate reports a block with an address bit below its size as misaligned_leaf",
                        "[armv7][validate]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  std::size_t seen = 0;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    const std::uint64_t span = G::span(d);  // 1 GiB (first level) or 2 MiB (second level)
    for (unsigned b : {12U, 13U, log2_of(span) - 1}) {
      const std::uint64_t pa = span + (std::uint64_t{1} << b);
      CAPTURE(F::kName, d, b);
      test::Memory m;
      const auto tree = one_page_tree<F>(m);
      // Entry 1 at depth d, by hand (B3.6.1): block 0b01 | AF, the address in place.
      path_table(m, tree, d)[1] = 0x401 | pa;
      const Validation v = validate(tree, m.arena);
      CAPTURE(to_string(v.first));
      CHECK(v.problems == 1);
      CHECK(v.first.what == Problem::misaligned_leaf);
      CHECK(v.first.va == G::to_va(span));
      CHECK(v.first.level == int(G::level(d)));
      CHECK(v.first.pa == PhysAddr(pa));
      auto t = translate(tree, m.arena, G::to_va(span) + 0x10);
      REQUIRE(t.ok());
      CHECK(t->leaf.pa == PhysAddr(pa));  // the address the descriptor holds, as validate() says
      ++seen;
    }
  }
  CHECK(seen > 0);
}

TEMPLATE_LIST_TEST_CASE("validate reports bits [47:40] of a descriptor as malformed_entry", "[armv7][validate]",
                        Modes) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t last = G::kDepth - 1;
  for (unsigned b : {40U, 47U}) {
    const std::uint64_t x = std::uint64_t{1} << b;
    for (std::size_t d = 0; d <= last; ++d) {
      CAPTURE(F::kName, b, d);
      test::Memory m;
      const auto tree = one_page_tree<F>(m);
      // A table descriptor above the last level, a page (0b11 | AF) at the last.
      path_table(m, tree, d)[1] = (d < last ? 0x8000'1003ULL : 0x8000'0403ULL) | x;
      const Validation v = validate(tree, m.arena);
      CAPTURE(to_string(v.first));
      CHECK(v.problems == 1);
      CHECK(v.first.what == Problem::malformed_entry);
      CHECK(v.first.va == G::to_va(G::span(d)));
      CHECK(v.first.level == int(G::level(d)));
    }
  }
}

TEMPLATE_LIST_TEST_CASE("translate goes through well-formed blocks and contiguous runs to the exact address",
                        "[armv7][engine]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  // Runs of 16 pages and of 16 second-level blocks, hinted by the engine (B3.6.2, Contiguous
  // hint); every entry carries its own address.
  for (std::size_t d : {G::kDepth - 2, G::kDepth - 1}) {
    const Level l = G::level(d);
    const unsigned k = F::contig_log2(l, typename F::Caps{});
    REQUIRE(k == 4);
    const std::uint64_t span = G::span(d), run = span << k;
    const std::uint64_t t0 = 2 * run <= G::kVaMask + 1 ? run : 0;
    const std::uint64_t pa0 = 0x40'0000'0000ULL + 4 * run;
    CAPTURE(F::kName, d, run);
    test::Memory m;
    auto tree = make_tree<F>(m.arena);
    REQUIRE(tree.ok());
    REQUIRE(map(*tree, m.arena, G::to_va(t0), PhysAddr(pa0), run, Attrs{R | W | Gl}).ok());
    for (std::uint64_t i = 0; i < 16; ++i) {
      const std::uint64_t off = i * span + (i % 2 ? span - 8 : 0x18);
      auto t = translate(*tree, m.arena, G::to_va(t0 + off));
      REQUIRE(t.ok());
      CHECK(t->pa == PhysAddr(pa0 + off));
      CHECK(t->leaf.pa == PhysAddr(pa0 + i * span));
      CHECK(t->leaf.level == l);
      CHECK(t->leaf.contiguous);
    }
    const Validation v = validate(*tree, m.arena);
    CAPTURE(to_string(v.first));
    CHECK(v.ok());
  }
}
