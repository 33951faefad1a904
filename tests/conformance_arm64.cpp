// Tier-1 conformance of the arm64 VMSAv8-64 stage-1 formats: geometry, leaf levels, contiguous
// runs, descriptor known-answer vectors worked out by hand from the Arm ARM (DDI 0487K.a), VA
// ranges, refused attributes, and a short engine smoke test per mode.
#include <array>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <ptlib/arm64.hpp>
#include <ptlib/host.hpp>

#include "support.hpp"

using namespace ptlib;
using namespace ptlib::arm64;

namespace {

constexpr std::uint64_t KiB = 1ULL << 10, MiB = 1ULL << 20, GiB = 1ULL << 30, TiB = 1ULL << 40;

// Modes beyond the nine named ones: odd VA sizes, TTBR1 ranges, and 52-bit OA with a 48-bit VA.
using Vmsa4k36 = Vmsa<Granule::k4K, 36>;
using Vmsa16k40 = Vmsa<Granule::k16K, 40>;
using Vmsa4k39Ttbr1 = Vmsa<Granule::k4K, 39, VaRule::high>;
using Vmsa4k48Ttbr1 = Vmsa<Granule::k4K, 48, VaRule::high>;
using Vmsa4k48Pa52 = Vmsa<Granule::k4K, 48, VaRule::low, 52>;
using Vmsa64k48Pa52 = Vmsa<Granule::k64K, 48, VaRule::low, 52>;

using Modes = std::tuple<Vmsa4k39, Vmsa4k48, Vmsa4k52, Vmsa16k47, Vmsa16k48, Vmsa16k52, Vmsa64k42, Vmsa64k48,
                         Vmsa64k52, Vmsa4k36, Vmsa16k40, Vmsa4k39Ttbr1, Vmsa4k48Ttbr1, Vmsa4k48Pa52,
                         Vmsa64k48Pa52>;

/// What the Arm ARM says about one mode, per depth (0 = root).
struct Expect {
  const char* name = nullptr;
  unsigned va_bits = 0, pa_bits = 0;
  bool ds = false;   // TCR_ELx.DS = 1 (FEAT_LPA2 descriptor format)
  bool lpa = false;  // FEAT_LPA 64KB 52-bit OA format
  std::size_t depth = 0;
  std::array<int, 5> levels{};            // Arm ARM level numbers, root first
  std::array<std::uint64_t, 5> entries{}; // entries per table
  std::array<std::uint64_t, 5> span{};    // bytes one entry maps
  std::size_t root_bytes = 0, root_align = 0;
  std::array<bool, 5> leaf{};             // block (L<3) or page (L3) allowed
  std::array<unsigned, 5> contig{};       // entries in a contiguous run, 0 = none
};

// Derived by hand: D8.2 (granule 4KB/16KB/64KB resolves 9/11/13 bits per level; the initial
// level takes the remainder of VaBits - granule_shift), AArch64.BlockDescSupported() for the
// leaf levels, ContiguousSize() for the runs, TTBR BADDR for the 64-byte minimum root alignment.
template <class F>
inline constexpr Expect kExpect{};
template <>
inline constexpr Expect kExpect<Vmsa4k39>{"arm64-4k-39", 39, 48, false, false, 3, {1, 2, 3},
                                          {512, 512, 512}, {1 * GiB, 2 * MiB, 4 * KiB}, 4096, 4096,
                                          {true, true, true}, {16, 16, 16}};
template <>
inline constexpr Expect kExpect<Vmsa4k48>{"arm64-4k-48", 48, 48, false, false, 4, {0, 1, 2, 3},
                                          {512, 512, 512, 512}, {512 * GiB, 1 * GiB, 2 * MiB, 4 * KiB}, 4096, 4096,
                                          {false, true, true, true}, {0, 16, 16, 16}};
template <>
inline constexpr Expect kExpect<Vmsa4k52>{"arm64-4k-52", 52, 52, true, false, 5, {-1, 0, 1, 2, 3},
                                          {16, 512, 512, 512, 512},
                                          {256 * TiB, 512 * GiB, 1 * GiB, 2 * MiB, 4 * KiB}, 128, 128,
                                          {false, true, true, true, true}, {0, 0, 16, 16, 16}};
template <>
inline constexpr Expect kExpect<Vmsa16k47>{"arm64-16k-47", 47, 48, false, false, 3, {1, 2, 3},
                                           {2048, 2048, 2048}, {64 * GiB, 32 * MiB, 16 * KiB}, 16384, 16384,
                                           {false, true, true}, {0, 32, 128}};
template <>
inline constexpr Expect kExpect<Vmsa16k48>{"arm64-16k-48", 48, 48, false, false, 4, {0, 1, 2, 3},
                                           {2, 2048, 2048, 2048}, {128 * TiB, 64 * GiB, 32 * MiB, 16 * KiB}, 16, 64,
                                           {false, false, true, true}, {0, 0, 32, 128}};
template <>
inline constexpr Expect kExpect<Vmsa16k52>{"arm64-16k-52", 52, 52, true, false, 4, {0, 1, 2, 3},
                                           {32, 2048, 2048, 2048}, {128 * TiB, 64 * GiB, 32 * MiB, 16 * KiB}, 256, 256,
                                           {false, true, true, true}, {0, 0, 32, 128}};
template <>
inline constexpr Expect kExpect<Vmsa64k42>{"arm64-64k-42", 42, 48, false, false, 2, {2, 3},
                                           {8192, 8192}, {512 * MiB, 64 * KiB}, 65536, 65536,
                                           {true, true}, {32, 32}};
template <>
inline constexpr Expect kExpect<Vmsa64k48>{"arm64-64k-48", 48, 48, false, false, 3, {1, 2, 3},
                                           {64, 8192, 8192}, {4 * TiB, 512 * MiB, 64 * KiB}, 512, 512,
                                           {false, true, true}, {0, 32, 32}};
template <>
inline constexpr Expect kExpect<Vmsa64k52>{"arm64-64k-52", 52, 52, false, true, 3, {1, 2, 3},
                                           {1024, 8192, 8192}, {4 * TiB, 512 * MiB, 64 * KiB}, 8192, 8192,
                                           {true, true, true}, {0, 32, 32}};
template <>
inline constexpr Expect kExpect<Vmsa4k36>{"arm64-4k-36", 36, 48, false, false, 3, {1, 2, 3},
                                          {64, 512, 512}, {1 * GiB, 2 * MiB, 4 * KiB}, 512, 512,
                                          {true, true, true}, {16, 16, 16}};
template <>
inline constexpr Expect kExpect<Vmsa16k40>{"arm64-16k-40", 40, 48, false, false, 3, {1, 2, 3},
                                           {16, 2048, 2048}, {64 * GiB, 32 * MiB, 16 * KiB}, 128, 128,
                                           {false, true, true}, {0, 32, 128}};
template <>
inline constexpr Expect kExpect<Vmsa4k39Ttbr1> = kExpect<Vmsa4k39>;
template <>
inline constexpr Expect kExpect<Vmsa4k48Ttbr1> = kExpect<Vmsa4k48>;
template <>
inline constexpr Expect kExpect<Vmsa4k48Pa52>{"arm64-4k-48-pa52", 48, 52, true, false, 4, {0, 1, 2, 3},
                                              {512, 512, 512, 512}, {512 * GiB, 1 * GiB, 2 * MiB, 4 * KiB}, 4096,
                                              4096, {true, true, true, true}, {0, 16, 16, 16}};
template <>
inline constexpr Expect kExpect<Vmsa64k48Pa52>{"arm64-64k-48-pa52", 48, 52, false, true, 3, {1, 2, 3},
                                               {64, 8192, 8192}, {4 * TiB, 512 * MiB, 64 * KiB}, 512, 512,
                                               {true, true, true}, {0, 32, 32}};

/// A leaf built through the format's one encoder.
template <class F>
std::uint64_t leaf_of(Level l, Attrs a, std::uint64_t pa, bool contiguous = false) {
  auto p = F::leaf_proto(l, LeafSettings{.attrs = a, .contiguous = contiguous}, {});
  REQUIRE(p.ok());
  return F::leaf(l, *p, PhysAddr(pa));
}

constexpr Attrs kRwG{Perm::read | Perm::write | Perm::global};

}  // namespace

// --- Geometry ---------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("geometry follows from the granule and VA size as the Arm ARM derives it",
                        "[arm64][geometry]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr Expect x = kExpect<F>;
  REQUIRE(x.name != nullptr);
  CHECK(std::string(F::kName) == x.name);
  CHECK(G::kVaBits == x.va_bits);
  CHECK(F::kTxSz == 64 - x.va_bits);
  CHECK(F::kPaBits == x.pa_bits);
  CHECK(F::kLpa2 == x.ds);
  CHECK(F::kLpa == x.lpa);
  CHECK(F::kInputBits == 64);
  CHECK(F::kMinTableAlign == 64);
  REQUIRE(G::kDepth == x.depth);
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    CAPTURE(d);
    CHECK(int(G::level(d)) == x.levels[d]);
    CHECK(G::entries(d) == x.entries[d]);
    CHECK(G::span(d) == x.span[d]);
  }
  CHECK(G::kPageSize == x.span[x.depth - 1]);
  CHECK(G::table_bytes(0) == x.root_bytes);
  CHECK(G::table_align(0) == x.root_align);
  CHECK(G::uniform_tables());
  if (G::kDepth > 1) CHECK(G::table_bytes(1) == G::kPageSize);  // a full table is one granule
}

TEST_CASE("levels carry the Arm ARM's numbers and names", "[arm64][geometry]") {
  CHECK(int(Level::Lm1) == -1);
  CHECK(int(Level::L3) == 3);
  CHECK(std::string(Vmsa4k52::level_name(Level::Lm1)) == "L-1");
  CHECK(std::string(Vmsa4k52::level_name(Level::L0)) == "L0");
  CHECK(std::string(Vmsa4k52::level_name(Level::L1)) == "L1");
  CHECK(std::string(Vmsa4k52::level_name(Level::L2)) == "L2");
  CHECK(std::string(Vmsa4k52::level_name(Level::L3)) == "L3");
  CHECK(level_number<Vmsa4k52>(Level::Lm1) == -1);
}

TEMPLATE_LIST_TEST_CASE("leaves are allowed exactly where the Arm ARM allows blocks and pages", "[arm64][leaf]",
                        Modes) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr Expect x = kExpect<F>;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    CAPTURE(d);
    CHECK(F::can_leaf(G::level(d), Caps{}) == x.leaf[d]);
  }
  // The rules are per level, whichever depth the level sits at (BlockDescSupported()).
  CHECK(F::can_leaf(Level::L3, Caps{}));
  CHECK(F::can_leaf(Level::L2, Caps{}));
  CHECK_FALSE(F::can_leaf(Level::Lm1, Caps{}));
}

TEMPLATE_LIST_TEST_CASE("contiguous runs have the Arm ARM's length at each level", "[arm64][contiguous]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr Expect x = kExpect<F>;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    CAPTURE(d);
    const unsigned lg = F::contig_log2(G::level(d), Caps{});
    CHECK((lg ? 1U << lg : 0U) == x.contig[d]);
  }
}

// --- Decode: invalid, reserved, round trips ---------------------------------------------------

TEMPLATE_LIST_TEST_CASE("a zero entry is not present at any level", "[arm64][decode]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    CAPTURE(d);
    CHECK(F::decode(G::level(d), 0).kind == EntryKind::invalid);
    // D8.3: with bit[0] = 0 every other bit is ignored.
    CHECK(F::decode(G::level(d), 0xffff'ffff'ffff'fffeULL).kind == EntryKind::invalid);
  }
}

TEMPLATE_LIST_TEST_CASE("leaf bits round-trip through decode for every expressible attribute set",
                        "[arm64][decode]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  const MemType mem = GENERATE(MemType::normal, MemType::normal_nc, MemType::device);
  const unsigned flags = GENERATE(range(0U, 16U));
  Perm p = Perm::read;
  if (flags & 1U) p = p | Perm::write;
  if (flags & 2U) p = p | Perm::exec;
  if (flags & 4U) p = p | Perm::user;
  if (flags & 8U) p = p | Perm::global;
  const Attrs a{p, mem};
  CAPTURE(a);
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    const Level l = G::level(d);
    if (!F::can_leaf(l, Caps{})) continue;
    const std::uint64_t span = G::span(d);
    // Lowest, a middle one, and the highest output address the format can hold.
    for (std::uint64_t pa : {std::uint64_t{0}, span, align_down(G::kPaLimit, span)}) {
      for (bool contiguous : {false, true}) {
        if (contiguous && F::contig_log2(l, Caps{}) == 0) continue;
        CAPTURE(d, pa, contiguous);
        const std::uint64_t e = leaf_of<F>(l, a, pa, contiguous);
        const Decoded dec = F::decode(l, e);
        CHECK(dec.kind == EntryKind::leaf);
        CHECK(dec.addr == PhysAddr(pa));
        CHECK(dec.attrs == a);
        CHECK(dec.contiguous == contiguous);
        CHECK(dec.run_log2 == 0);  // each arm64 entry carries its own output address
      }
    }
  }
}

TEMPLATE_LIST_TEST_CASE("table descriptors round-trip through decode, high output bits included", "[arm64][decode]",
                        Modes) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    const Level l = G::level(d);
    for (std::uint64_t pa : {3 * G::kPageSize, align_down(G::kPaLimit, G::kPageSize)}) {
      CAPTURE(d, pa);
      const std::uint64_t e = F::table(l, PhysAddr(pa));
      CHECK((e & 3U) == 3U);   // D8.3: table descriptor type 0b11
      CHECK((e >> 59) == 0U);  // NSTable, APTable, UXNTable, PXNTable all 0
      const Decoded dec = F::decode(l, e);
      CHECK(dec.kind == EntryKind::table);
      CHECK(dec.addr == PhysAddr(pa));
    }
  }
}

TEMPLATE_LIST_TEST_CASE("descriptor type 0b01 is reserved at level 3 and malformed where no block is allowed",
                        "[arm64][decode]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    const Level l = G::level(d);
    CAPTURE(d);
    const EntryKind block = F::decode(l, 0x0000'0000'0000'0401ULL).kind;  // AF | type 0b01
    if (l == Level::L3 || !F::can_leaf(l, Caps{}))
      CHECK(block == EntryKind::malformed);
    else
      CHECK(block == EntryKind::leaf);
    // Type 0b11 is a table above level 3 and a page at level 3.
    CHECK(F::decode(l, 0x0000'0000'0000'0403ULL).kind == (l == Level::L3 ? EntryKind::leaf : EntryKind::table));
  }
}

TEMPLATE_LIST_TEST_CASE("AttrIndx 3 to 7 decode as MemType::other", "[arm64][decode]", Modes) {
  using F = TestType;
  const std::uint64_t idx = GENERATE(range(3U, 8U));
  const Decoded d = F::decode(Level::L3, 0x0060'0000'0000'0403ULL | (idx << 2));
  CHECK(d.kind == EntryKind::leaf);
  CHECK(d.attrs.mem == MemType::other);
}

// --- Refused requests -------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("requests the format cannot express are refused with the right error", "[arm64][errors]",
                        Modes) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    const Level l = G::level(d);
    if (!F::can_leaf(l, Caps{})) continue;
    CAPTURE(d);
    auto code = [&](Attrs a, bool contiguous = false) {
      auto r = F::leaf_proto(l, LeafSettings{.attrs = a, .contiguous = contiguous}, Caps{});
      REQUIRE_FALSE(r.ok());
      return r.error().code;
    };
    // A valid descriptor always grants read (D8.4): no write-only or execute-only pages.
    CHECK(code(Attrs{Perm::none}) == Errc::unsupported_attrs);
    CHECK(code(Attrs{Perm::write}) == Errc::unsupported_attrs);
    CHECK(code(Attrs{Perm::exec | Perm::user}) == Errc::unsupported_attrs);
    // No write-combining type in ptlib's MAIR layout; `other` is decode-only.
    CHECK(code(Attrs{Perm::read, MemType::wc}) == Errc::unsupported_memtype);
    CHECK(code(Attrs{Perm::read, MemType::other}) == Errc::unsupported_memtype);
    if (F::contig_log2(l, Caps{}) == 0) CHECK(code(Attrs{Perm::read}, true) == Errc::unsupported_attrs);
  }
}

// --- VA ranges --------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("the VA range is TTBR0's low range or TTBR1's high range", "[arm64][va]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  const std::uint64_t range = std::uint64_t{1} << kExpect<F>.va_bits, page = G::kPageSize;
  Errc why{};
  if constexpr (F::kVaRule == VaRule::low) {
    CHECK(G::va_in_range(0, page, why));
    CHECK(G::va_in_range(range - page, page, why));
    why = {};
    CHECK_FALSE(G::va_in_range(range, page, why));
    CHECK(why == Errc::va_out_of_range);
    why = {};
    CHECK_FALSE(G::va_in_range(range - page, 2 * page, why));
    CHECK(why == Errc::va_out_of_range);
    why = {};
    CHECK_FALSE(G::va_in_range(0 - page, page, why));  // TTBR1's half
    CHECK(why == Errc::va_out_of_range);
  } else {
    const std::uint64_t lo = 0 - range;  // 2^64 - 2^VaBits
    CHECK(G::va_in_range(lo, page, why));
    CHECK(G::va_in_range(0 - page, page, why));
    CHECK(G::to_va(0) == VirtAddr(lo));
    why = {};
    CHECK_FALSE(G::va_in_range(lo - page, page, why));
    CHECK(why == Errc::va_out_of_range);
    why = {};
    CHECK_FALSE(G::va_in_range(lo - page, 2 * page, why));
    CHECK(why == Errc::va_out_of_range);
    why = {};
    CHECK_FALSE(G::va_in_range(0, page, why));  // TTBR0's half
    CHECK(why == Errc::va_out_of_range);
  }
}

TEST_CASE("VA range boundaries of TTBR0 and TTBR1 known from TxSZ", "[arm64][va][kat]") {
  Errc why{};
  // T0SZ = 25: TTBR0 translates 0 .. 0x0000_007f_ffff_ffff.
  CHECK(Geometry<Vmsa4k39>::va_in_range(0x0000'007f'ffff'f000ULL, 0x1000, why));
  CHECK_FALSE(Geometry<Vmsa4k39>::va_in_range(0x0000'0080'0000'0000ULL, 0x1000, why));
  // T1SZ = 25: TTBR1 translates 0xffff_ff80_0000_0000 .. 2^64 - 1.
  CHECK(Geometry<Vmsa4k39Ttbr1>::va_in_range(0xffff'ff80'0000'0000ULL, 0x1000, why));
  CHECK_FALSE(Geometry<Vmsa4k39Ttbr1>::va_in_range(0xffff'ff7f'ffff'f000ULL, 0x1000, why));
  // T1SZ = 16: 0xffff_0000_0000_0000 upwards.
  CHECK(Geometry<Vmsa4k48Ttbr1>::va_in_range(0xffff'0000'0000'0000ULL, 0x1000, why));
  CHECK_FALSE(Geometry<Vmsa4k48Ttbr1>::va_in_range(0xfffe'ffff'ffff'f000ULL, 0x1000, why));
  // T0SZ = 12 (FEAT_LPA2 / FEAT_LVA): 4 PiB.
  CHECK(Geometry<Vmsa4k52>::va_in_range(0x000f'ffff'ffff'f000ULL, 0x1000, why));
  CHECK_FALSE(Geometry<Vmsa4k52>::va_in_range(0x0010'0000'0000'0000ULL, 0x1000, why));
  CHECK(Geometry<Vmsa64k52>::va_in_range(0x000f'ffff'ffff'0000ULL, 0x10000, why));
}

// --- Known-answer vectors ---------------------------------------------------------------------

TEST_CASE("kMair holds Normal WB, Normal NC and Device-nGnRE at AttrIndx 0, 1, 2", "[arm64][kat]") {
  // MAIR_EL1 Attr<n>: 0xFF = Normal Inner/Outer WB non-transient RW-allocate, 0x44 = Normal
  // Inner/Outer Non-cacheable, 0x04 = Device-nGnRE (0b0000dd00 with dd = 01).
  CHECK(kMair == 0x0000'0000'0004'44ffULL);
  CHECK(((kMair >> 0) & 0xff) == 0xff);
  CHECK(((kMair >> 8) & 0xff) == 0x44);
  CHECK(((kMair >> 16) & 0xff) == 0x04);
}

TEST_CASE("descriptors match known answers worked out from the Arm ARM descriptor formats", "[arm64][kat]") {
  // Field positions, Arm ARM D8.3 (descriptor formats), D8.4 (AP[2:1] = bits 7:6, AF bit 10,
  // nG bit 11, PXN bit 53, UXN bit 54), D8.5 (AttrIndx bits 4:2, SH bits 9:8), D8.6 (Contiguous
  // bit 52). ptlib's MAIR layout: AttrIndx 0 normal, 1 normal_nc, 2 device.
  SECTION("4K table descriptor: next-level address in [47:12], type 0b11") {
    CHECK(Vmsa4k48::table(Level::L0, PhysAddr(0x4000'1000)) == 0x0000'0000'4000'1003ULL);
    CHECK(Vmsa4k48::table(Level::L2, PhysAddr(0x0000'ffff'ffff'f000ULL)) == 0x0000'ffff'ffff'f003ULL);
  }
  SECTION("4K page: kernel rw global normal = type 0b11 | SH 0b11 | AF | PXN | UXN") {
    CHECK(leaf_of<Vmsa4k48>(Level::L3, kRwG, 0x8000'0000) == 0x0060'0000'8000'0703ULL);
  }
  SECTION("4K 2 MiB block: kernel r-x = type 0b01 | AP[2] | SH | AF | UXN") {
    CHECK(leaf_of<Vmsa4k48>(Level::L2, Attrs{Perm::read | Perm::exec | Perm::global}, 0x4020'0000) ==
          0x0040'0000'4020'0781ULL);
  }
  SECTION("4K 1 GiB block: user rw non-global normal_nc = AttrIndx 1 | AP[1] | SH | AF | nG | PXN | UXN") {
    CHECK(leaf_of<Vmsa4k48>(Level::L1, Attrs{Perm::read | Perm::write | Perm::user, MemType::normal_nc},
                            0x1'4000'0000ULL) == 0x0060'0001'4000'0f45ULL);
    CHECK(leaf_of<Vmsa4k39>(Level::L1, Attrs{Perm::read | Perm::write | Perm::user, MemType::normal_nc},
                            0x1'4000'0000ULL) == 0x0060'0001'4000'0f45ULL);
  }
  SECTION("4K device page: AttrIndx 2, no SH (Device memory ignores it), AF, PXN, UXN") {
    CHECK(leaf_of<Vmsa4k48>(Level::L3, Attrs{Perm::read | Perm::write | Perm::global, MemType::device},
                            0x0900'0000) == 0x0060'0000'0900'040bULL);
  }
  SECTION("4K user r-x page: AP[2:1] = 0b11, UXN clear, PXN set, nG") {
    CHECK(leaf_of<Vmsa4k48>(Level::L3, Attrs{Perm::read | Perm::exec | Perm::user}, 0x40'0000) ==
          0x0020'0000'0040'0fc3ULL);
  }
  SECTION("4K user rwx page: AP[2:1] = 0b01, PXN set, UXN clear") {
    CHECK(leaf_of<Vmsa4k48>(Level::L3, Attrs{Perm::read | Perm::write | Perm::exec | Perm::user}, 0x40'0000) ==
          0x0020'0000'0040'0f43ULL);
  }
  SECTION("4K kernel rwx global page: only UXN set") {
    CHECK(leaf_of<Vmsa4k48>(Level::L3, Attrs{Perm::read | Perm::write | Perm::exec | Perm::global}, 0x8000'0000) ==
          0x0040'0000'8000'0703ULL);
  }
  SECTION("contiguous bit 52") {
    CHECK(leaf_of<Vmsa4k48>(Level::L3, kRwG, 0x8000'0000, true) == 0x0070'0000'8000'0703ULL);
    CHECK(leaf_of<Vmsa4k39>(Level::L1, kRwG, 0x4000'0000, true) == 0x0070'0000'4000'0701ULL);
  }
  SECTION("TTBR1 tables hold the same descriptors as TTBR0 tables") {
    CHECK(leaf_of<Vmsa4k48Ttbr1>(Level::L3, kRwG, 0x8000'0000) == 0x0060'0000'8000'0703ULL);
    CHECK(Vmsa4k48Ttbr1::table(Level::L0, PhysAddr(0x4000'1000)) == 0x0000'0000'4000'1003ULL);
  }
  SECTION("16K: page address in [47:14], 32 MiB block at L2") {
    CHECK(leaf_of<Vmsa16k47>(Level::L3, kRwG, 0x8000'4000) == 0x0060'0000'8000'4703ULL);
    CHECK(leaf_of<Vmsa16k47>(Level::L2, kRwG, 0x4200'0000) == 0x0060'0000'4200'0701ULL);
    CHECK(Vmsa16k48::table(Level::L0, PhysAddr(0x8000'4000)) == 0x0000'0000'8000'4003ULL);
  }
  SECTION("64K: page address in [47:16], 512 MiB block at L2, table address in [47:16]") {
    CHECK(leaf_of<Vmsa64k42>(Level::L3, kRwG, 0x1'0000) == 0x0060'0000'0001'0703ULL);
    CHECK(leaf_of<Vmsa64k42>(Level::L2, kRwG, 0x6000'0000) == 0x0060'0000'6000'0701ULL);
    CHECK(Vmsa64k48::table(Level::L1, PhysAddr(0x12'3456'0000ULL)) == 0x0000'0012'3456'0003ULL);
  }
  SECTION("FEAT_LPA2 (4K, DS = 1): OA[51:50] in bits [9:8], OA[49:12] in place, no SH") {
    // PA 0x0008_0000_1234_5000: OA[51] = 1 -> bit 9.
    CHECK(leaf_of<Vmsa4k52>(Level::L3, kRwG, 0x0008'0000'1234'5000ULL) == 0x0060'0000'1234'5603ULL);
    // DS = 1 also for a 48-bit VA with a 52-bit OA: SH leaves the descriptor, [9:8] = OA[51:50] = 0.
    CHECK(leaf_of<Vmsa4k48Pa52>(Level::L3, kRwG, 0x8000'0000) == 0x0060'0000'8000'0403ULL);
    // Table at level -1 to PA 0x000f_0000_0000_1000: OA[51:50] -> [9:8], OA[49:48] in place.
    CHECK(Vmsa4k52::table(Level::Lm1, PhysAddr(0x000f'0000'0000'1000ULL)) == 0x0003'0000'0000'1303ULL);
    // 512 GiB block at level 0 (allowed with DS = 1) at PA 2^51.
    CHECK(leaf_of<Vmsa4k52>(Level::L0, kRwG, 0x0008'0000'0000'0000ULL) == 0x0060'0000'0000'0601ULL);
  }
  SECTION("FEAT_LPA2 (16K, DS = 1): 64 GiB block at level 1") {
    // PA 0x000c_0010_0000_0000: OA[51:50] = 0b11 -> [9:8], OA[36] in place.
    CHECK(leaf_of<Vmsa16k52>(Level::L1, kRwG, 0x000c'0010'0000'0000ULL) == 0x0060'0010'0000'0701ULL);
  }
  SECTION("FEAT_LPA (64K, 52-bit OA): OA[51:48] in bits [15:12]") {
    CHECK(leaf_of<Vmsa64k52>(Level::L3, kRwG, 0x000a'0000'0001'0000ULL) == 0x0060'0000'0001'a703ULL);
    // 4 TiB block at level 1 (allowed with a 52-bit PA) at PA 0x000f_0400_0000_0000.
    CHECK(leaf_of<Vmsa64k52>(Level::L1, kRwG, 0x000f'0400'0000'0000ULL) == 0x0060'0400'0000'f701ULL);
    CHECK(Vmsa64k52::table(Level::L1, PhysAddr(0x0001'0000'0003'0000ULL)) == 0x0000'0000'0003'1003ULL);
  }
}

TEST_CASE("known raw descriptors decode to the Arm ARM's meaning", "[arm64][kat][decode]") {
  SECTION("4K page 0x0040_0000_8000_0783: kernel r-x global normal at 0x8000_0000") {
    const Decoded d = Vmsa4k48::decode(Level::L3, 0x0040'0000'8000'0783ULL);
    CHECK(d.kind == EntryKind::leaf);
    CHECK(d.addr == PhysAddr(0x8000'0000));
    CHECK(d.attrs == Attrs{Perm::read | Perm::exec | Perm::global, MemType::normal});
  }
  SECTION("user r-x non-global page: exec from UXN, not PXN") {
    const Decoded d = Vmsa4k48::decode(Level::L3, 0x0020'0000'0040'0fc3ULL);
    CHECK(d.attrs == Attrs{Perm::read | Perm::exec | Perm::user});
  }
  SECTION("a 2 MiB block's address ignores the bits below 2 MiB") {
    const Decoded d = Vmsa4k48::decode(Level::L2, 0x0060'0000'4021'0701ULL);  // bit 16 (nT) set
    CHECK(d.kind == EntryKind::leaf);
    CHECK(d.addr == PhysAddr(0x4020'0000));
  }
  SECTION("table at L2, reserved 0b01 at L3, L0 block without LPA2") {
    CHECK(Vmsa4k48::decode(Level::L2, 0x0000'0000'4000'1003ULL).kind == EntryKind::table);
    CHECK(Vmsa4k48::decode(Level::L2, 0x0000'0000'4000'1003ULL).addr == PhysAddr(0x4000'1000));
    CHECK(Vmsa4k48::decode(Level::L3, 0x0000'0000'4000'1001ULL).kind == EntryKind::malformed);
    CHECK(Vmsa4k48::decode(Level::L0, 0x0000'0080'0000'0401ULL).kind == EntryKind::malformed);
    CHECK(Vmsa16k47::decode(Level::L1, 0x0000'0010'0000'0401ULL).kind == EntryKind::malformed);
    CHECK(Vmsa64k48::decode(Level::L1, 0x0000'0400'0000'0401ULL).kind == EntryKind::malformed);
  }
  SECTION("with LPA2 an L0 block is a leaf; AP = 00, PXN = UXN = 0 is kernel rwx") {
    const Decoded d = Vmsa4k48Pa52::decode(Level::L0, 0x0000'0080'0000'0401ULL);
    CHECK(d.kind == EntryKind::leaf);
    CHECK(d.addr == PhysAddr(0x80'0000'0000ULL));
    CHECK(d.attrs == Attrs{Perm::read | Perm::write | Perm::exec | Perm::global});
  }
  SECTION("LPA2 bits [9:8] are address bits, not SH") {
    CHECK(Vmsa4k52::decode(Level::L3, 0x0060'0000'1234'5603ULL).addr == PhysAddr(0x0008'0000'1234'5000ULL));
    CHECK(Vmsa4k48::decode(Level::L3, 0x0060'0000'1234'5703ULL).addr == PhysAddr(0x1234'5000));
  }
  SECTION("LPA bits [15:12] are OA[51:48] with the 64K granule") {
    CHECK(Vmsa64k52::decode(Level::L3, 0x0060'0000'0001'a703ULL).addr == PhysAddr(0x000a'0000'0001'0000ULL));
  }
  SECTION("AttrIndx 4 is outside ptlib's layout") {
    CHECK(Vmsa4k48::decode(Level::L3, 0x0060'0000'8000'0713ULL).attrs.mem == MemType::other);
  }
  SECTION("contiguous bit where ContiguousSize() defines a run, ignored where it does not") {
    CHECK(Vmsa16k47::decode(Level::L3, 0x0070'0000'8000'4703ULL).contiguous);
    CHECK_FALSE(Vmsa4k52::decode(Level::L0, 0x0070'0000'0000'0601ULL).contiguous);
  }
}

// --- Output-address bits: misaligned blocks and RES0 bits (issue 12, item 5) ------------------
//
// Every descriptor below is assembled from the Arm ARM's field layout (D8.3.1, the VMSAv8-64
// table, block and page descriptor figures), never from the format's own encoder:
//   bit[0] valid, bit[1] 1 = table (L < 3) / page (L3), 0 = block; AF = bit 10;
//   OA in place in bits [47:granule] (48-bit OA); with DS = 1 (FEAT_LPA2) OA[49:granule] in
//   place and OA[51:50] in bits [9:8]; with FEAT_LPA and the 64KB granule OA[51:48] in [15:12];
//   a block at level n holds OA[47:n] (bits [n-1:granule] are RES0, bit 16 is nT, FEAT_BBM);
//   RES0: bits [49:48] of blocks and pages and [50:48] of tables without DS, bit 50 of tables
//   with DS; bits [granule-1:12] with the 16KB and 64KB granules (except OA[51:48] with LPA).
// An output address wider than the PA size (OA[51:48] of an LPA2 descriptor when the format's
// PA is 48 bits) is also malformed: the hardware takes an Address size fault there.

namespace {

// More modes for these tests: DS = 1 with a 48-bit OA (VA > 48 bits on 4KB), and TTBR1 52-bit
// modes of the LPA2 and LPA layouts.
using Vmsa4k50 = Vmsa<Granule::k4K, 50>;
using Vmsa16k52Ttbr1 = Vmsa<Granule::k16K, 52, VaRule::high>;
using Vmsa64k52Ttbr1 = Vmsa<Granule::k64K, 52, VaRule::high>;
using OaModes = decltype(std::tuple_cat(std::declval<Modes>(),
                                        std::declval<std::tuple<Vmsa4k50, Vmsa16k52Ttbr1, Vmsa64k52Ttbr1>>()));

constexpr std::uint64_t bit(unsigned b) { return std::uint64_t{1} << b; }

/// The OA field of a descriptor for output address `pa`, written out from the manual's figures
/// for this test (the format's oa_field is the code under test).
template <class F>
std::uint64_t manual_oa(std::uint64_t pa) {
  const std::uint64_t low48 = pa & 0x0000'ffff'ffff'f000ULL;  // OA[47:12] sits in bits [47:12]
  if (F::kLpa2) return low48 | (pa & 0x0003'0000'0000'0000ULL) | ((pa >> 50) & 3) << 8;
  if (F::kLpa) return low48 | ((pa >> 48) & 0xf) << 12;
  return low48;
}

/// Bits that make a descriptor malformed: RES0 bits, and OA bits above the format's PA size.
template <class F>
std::vector<unsigned> bad_bits(bool table) {
  std::vector<unsigned> v;
  if (F::kPageShift == 14) v = {12, 13};                            // 16KB: [13:12] RES0
  if (F::kPageShift == 16 && !F::kLpa) v = {12, 13, 14, 15};        // 64KB without LPA: RES0
  if (!F::kLpa2) {
    v.insert(v.end(), {48, 49});                                    // RES0 above OA[47]
    if (table) v.push_back(50);
  } else {
    if (table) v.push_back(50);
    if (F::kPaBits == 48) v.insert(v.end(), {8, 9, 48, 49});        // OA[51:48] > 48-bit PA
  }
  return v;
}

/// log2 of the bytes an entry at depth d maps.
template <class F>
unsigned shift_of(std::size_t d) {
  unsigned s = 0;
  while ((std::uint64_t{1} << s) != Geometry<F>::span(d)) ++s;
  return s;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a block reads back every address bit it holds down to the granule", "[arm64][decode][oa]",
                        OaModes) {
  using F = TestType;
  using G = Geometry<F>;
  std::size_t blocks = 0;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    const Level l = G::level(d);
    if (!F::can_leaf(l, Caps{})) continue;
    ++blocks;
    const std::uint64_t span = G::span(d);
    const std::uint64_t base = 3 * span;  // aligned, below 2^48 in every mode
    const std::uint64_t good = 0x401 | manual_oa<F>(base);
    CAPTURE(F::kName, d, base);
    const Decoded ok = F::decode(l, good);
    REQUIRE(ok.kind == EntryKind::leaf);
    CHECK(ok.addr == PhysAddr(base));
    for (unsigned b = F::kPageShift; b < shift_of<F>(d); ++b) {
      CAPTURE(b);
      const Decoded x = F::decode(l, good | bit(b));
      CHECK(x.kind == EntryKind::leaf);
      if (b == 16) {
        CHECK(x.addr == PhysAddr(base));  // nT (FEAT_BBM) is not an address bit
      } else {
        CHECK(x.addr == PhysAddr(base + bit(b)));
        CHECK_FALSE(x.addr.aligned(span));
      }
    }
  }
  CHECK(blocks > 0);
}

TEMPLATE_LIST_TEST_CASE("RES0 bits and output-address bits above the PA size make a descriptor malformed",
                        "[arm64][decode][oa]", OaModes) {
  using F = TestType;
  using G = Geometry<F>;
  const std::uint64_t top = (F::kPaBits == 52 ? 0x000f'ffff'ffff'ffffULL : 0x0000'ffff'ffff'ffffULL);
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    const Level l = G::level(d);
    CAPTURE(F::kName, d);
    if (d + 1 < G::kDepth) {
      // Table descriptors at the lowest and the highest next-level address the PA size allows.
      for (std::uint64_t pa : {3 * G::kPageSize, align_down(top, G::kPageSize)}) {
        const std::uint64_t good = 0x3 | manual_oa<F>(pa);
        CAPTURE(pa);
        REQUIRE(F::decode(l, good).kind == EntryKind::table);
        CHECK(F::decode(l, good).addr == PhysAddr(pa));
        for (unsigned b : bad_bits<F>(true)) {
          CAPTURE(b);
          CHECK(F::decode(l, good | bit(b)).kind == EntryKind::malformed);
        }
        // IGNORED bits [58:51] and the table attributes [63:59] are not RES0.
        for (unsigned b : {51U, 52U, 58U, 59U, 63U}) {
          CAPTURE(b);
          CHECK(F::decode(l, good | bit(b)).kind == EntryKind::table);
          CHECK(F::decode(l, good | bit(b)).addr == PhysAddr(pa));
        }
      }
    }
    if (!F::can_leaf(l, Caps{})) continue;
    const std::uint64_t span = G::span(d);
    for (std::uint64_t pa : {span, align_down(top, span)}) {
      const std::uint64_t good = (l == Level::L3 ? 0x403 : 0x401) | manual_oa<F>(pa);
      CAPTURE(pa);
      REQUIRE(F::decode(l, good).kind == EntryKind::leaf);
      CHECK(F::decode(l, good).addr == PhysAddr(pa));
      for (unsigned b : bad_bits<F>(false)) {
        CAPTURE(b);
        CHECK(F::decode(l, good | bit(b)).kind == EntryKind::malformed);
      }
      // GP (50), DBM (51), Contiguous, PXN, UXN and the software bits are attributes.
      for (unsigned b : {50U, 51U, 52U, 53U, 54U, 55U, 58U}) {
        CAPTURE(b);
        CHECK(F::decode(l, good | bit(b)).kind == EntryKind::leaf);
        CHECK(F::decode(l, good | bit(b)).addr == PhysAddr(pa));
      }
    }
  }
}

TEST_CASE("hand-assembled descriptors with misaligned or out-of-range addresses", "[arm64][decode][oa][kat]") {
  SECTION("4K: a 2 MiB block with bit 13 set holds 0x4020_2000") {
    // 0x0060... = PXN | UXN; 0x701 = SH 0b11 | AF | block.
    const Decoded d = Vmsa4k48::decode(Level::L2, 0x0060'0000'4020'2701ULL);
    CHECK(d.kind == EntryKind::leaf);
    CHECK(d.addr == PhysAddr(0x4020'2000));
  }
  SECTION("4K: a 1 GiB block with bit 29 set, the same well-formed") {
    CHECK(Vmsa4k39::decode(Level::L1, 0x0060'0000'6000'0701ULL).addr == PhysAddr(0x6000'0000));
    CHECK(Vmsa4k39::decode(Level::L1, 0x0060'0000'4000'0701ULL).addr == PhysAddr(0x4000'0000));
  }
  SECTION("16K: a 32 MiB block with bit 14 set; bits [13:12] are RES0") {
    CHECK(Vmsa16k47::decode(Level::L2, 0x0060'0000'4200'4701ULL).addr == PhysAddr(0x4200'4000));
    CHECK(Vmsa16k47::decode(Level::L2, 0x0060'0000'4200'1701ULL).kind == EntryKind::malformed);
    CHECK(Vmsa16k47::decode(Level::L3, 0x0060'0000'8000'6703ULL).kind == EntryKind::malformed);
  }
  SECTION("64K: a 512 MiB block with bit 17 set; bit 16 is nT") {
    CHECK(Vmsa64k42::decode(Level::L2, 0x0060'0000'6002'0701ULL).addr == PhysAddr(0x6002'0000));
    CHECK(Vmsa64k42::decode(Level::L2, 0x0060'0000'6001'0701ULL).addr == PhysAddr(0x6000'0000));
  }
  SECTION("48-bit OA: bit 48 is RES0 in a page and a table; bits 50 and 51 of a page are GP and DBM") {
    CHECK(Vmsa4k48::decode(Level::L3, 0x0061'0000'8000'0703ULL).kind == EntryKind::malformed);
    CHECK(Vmsa4k48::decode(Level::L2, 0x0001'0000'4000'1003ULL).kind == EntryKind::malformed);
    CHECK(Vmsa4k48::decode(Level::L3, 0x006c'0000'8000'0703ULL).addr == PhysAddr(0x8000'0000));
  }
  SECTION("64K without LPA: bits [15:12] (OA[51:48] under LPA) are RES0") {
    CHECK(Vmsa64k48::decode(Level::L3, 0x0060'0000'0001'1703ULL).kind == EntryKind::malformed);
    CHECK(Vmsa64k52::decode(Level::L3, 0x0060'0000'0001'1703ULL).addr == PhysAddr(0x0001'0000'0001'0000ULL));
  }
  SECTION("LPA2 with a 48-bit PA: OA[51:50] in [9:8] and OA[49:48] are beyond the PA") {
    CHECK(Vmsa4k50::decode(Level::L3, 0x0060'0000'8000'0503ULL).kind == EntryKind::malformed);
    CHECK(Vmsa4k50::decode(Level::L3, 0x0061'0000'8000'0403ULL).kind == EntryKind::malformed);
    CHECK(Vmsa4k50::decode(Level::L3, 0x0060'0000'8000'0403ULL).addr == PhysAddr(0x8000'0000));
    // With a 52-bit PA the same bits are the address: OA[50] from bit 8, OA[48] in place.
    CHECK(Vmsa4k52::decode(Level::L3, 0x0061'0000'8000'0503ULL).addr == PhysAddr(0x0005'0000'8000'0000ULL));
  }
}

// --- Engine smoke test ------------------------------------------------------------------------

namespace {
alignas(65536) unsigned char g_tables[1 << 20];
}  // namespace

TEMPLATE_LIST_TEST_CASE("the engine maps the largest block plus pages and translates through them",
                        "[arm64][engine]", Modes) {
  using F = TestType;
  using G = Geometry<F>;
  std::size_t big = 0;
  while (!F::can_leaf(G::level(big), Caps{})) ++big;
  const std::uint64_t span = G::span(big), page = G::kPageSize;
  const std::uint64_t t0 = span;  // entry 1 of its table at the block's depth
  // 52-bit modes put the output above 2^51 so OA[51] goes through the quirky encodings.
  const std::uint64_t pa0 = (F::kPaBits == 52 ? std::uint64_t{1} << 51 : 0) + 2 * span;
  CAPTURE(F::kName, big, span);

  Arena arena(g_tables, sizeof g_tables, PhysAddr(0x8000'0000));
  auto tree = make_tree<F>(arena);
  REQUIRE(tree.ok());
  const VirtAddr va0 = G::to_va(t0);
  auto r = map(*tree, arena, va0, PhysAddr(pa0), span + 4 * page, kRwG);
  REQUIRE(r.ok());
  CHECK(r->tables_added == G::kDepth - 1);

  for (std::uint64_t off : {std::uint64_t{0x1238}, span - 8}) {
    auto t = translate(*tree, arena, va0 + off);
    REQUIRE(t.ok());
    CHECK(t->pa == PhysAddr(pa0 + off));
    CHECK(t->leaf.level == G::level(big));
    CHECK(t->leaf.size == span);
    CHECK(t->leaf.attrs == kRwG);
  }
  for (std::uint64_t k = 0; k < 4; ++k) {
    auto t = translate(*tree, arena, va0 + span + k * page + 0x10);
    REQUIRE(t.ok());
    CHECK(t->pa == PhysAddr(pa0 + span + k * page + 0x10));
    CHECK(t->leaf.level == Level::L3);
    CHECK(t->leaf.size == page);
    CHECK(t->leaf.attrs == kRwG);
  }
  for (VirtAddr va : {va0 - page, va0 + span + 4 * page}) {
    auto t = translate(*tree, arena, va);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code == Errc::not_mapped);
  }
}

// --- validate() and translate() over hand-written descriptors (issue 12, item 5) --------------

namespace {
/// The table at depth `depth` on the path to tree offset 0 of a tree with one page mapped there.
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
  REQUIRE(map(*tree, m.arena, G::to_va(0), PhysAddr(0), G::kPageSize, kRwG).ok());
  return *tree;
}
}  // namespace

TEMPLATE_LIST_TEST_CASE("validate reports a block with an address bit below its size as misaligned_leaf",
                        "[arm64][validate][oa]", OaModes) {
  using F = TestType;
  using G = Geometry<F>;
  std::size_t seen = 0;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    const Level l = G::level(d);
    if (!F::can_leaf(l, Caps{})) continue;
    const std::uint64_t span = G::span(d);
    // The lowest address bit of the granule (bit 17 for 64KB, whose bit 16 is nT) and the bit
    // just below the block size.
    for (unsigned b : {F::kPageShift == 16 ? 17U : F::kPageShift, shift_of<F>(d) - 1}) {
      CAPTURE(F::kName, d, b);
      test::Memory m;
      const auto tree = one_page_tree<F>(m);
      // Entry 1 of the table at depth d: a block at tree offset `span` to PA span + 2^b.
      path_table(m, tree, d)[1] = 0x401 | manual_oa<F>(span + bit(b));
      const Validation v = validate(tree, m.arena);
      CAPTURE(to_string(v.first));
      CHECK(v.problems == 1);
      CHECK(v.first.what == Problem::misaligned_leaf);
      CHECK(v.first.va == G::to_va(span));
      CHECK(v.first.level == int(l));
      CHECK(v.first.pa == PhysAddr(span + bit(b)));
      // translate() reports the address the descriptor holds, as validate() does.
      auto t = translate(tree, m.arena, G::to_va(span) + 0x10);
      REQUIRE(t.ok());
      CHECK(t->leaf.pa == PhysAddr(span + bit(b)));
      ++seen;
    }
  }
  CHECK(seen > 0);
}

TEMPLATE_LIST_TEST_CASE("validate reports RES0 and beyond-PA address bits as malformed_entry",
                        "[arm64][validate][oa]", OaModes) {
  using F = TestType;
  using G = Geometry<F>;
  constexpr std::size_t last = G::kDepth - 1;
  // A table descriptor with a RES0 bit at every depth above the last (bit 50 is RES0 in every
  // layout), and a page with each bad bit at the last level.
  for (std::size_t d = 0; d < last; ++d) {
    CAPTURE(F::kName, d);
    test::Memory m;
    const auto tree = one_page_tree<F>(m);
    path_table(m, tree, d)[1] = 0x3 | manual_oa<F>(0x4000'0000) | bit(50);
    const Validation v = validate(tree, m.arena);
    CAPTURE(to_string(v.first));
    CHECK(v.problems == 1);
    CHECK(v.first.what == Problem::malformed_entry);
    CHECK(v.first.va == G::to_va(G::span(d)));
    CHECK(v.first.level == int(G::level(d)));
  }
  for (unsigned b : bad_bits<F>(false)) {
    CAPTURE(F::kName, b);
    test::Memory m;
    const auto tree = one_page_tree<F>(m);
    path_table(m, tree, last)[1] = 0x403 | manual_oa<F>(0x8000'0000) | bit(b);
    const Validation v = validate(tree, m.arena);
    CAPTURE(to_string(v.first));
    CHECK(v.problems == 1);
    CHECK(v.first.what == Problem::malformed_entry);
    CHECK(v.first.va == G::to_va(G::kPageSize));
    CHECK(v.first.level == 3);
    auto t = translate(tree, m.arena, G::to_va(G::kPageSize));
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code == Errc::malformed_entry);
  }
}

TEMPLATE_LIST_TEST_CASE("translate goes through well-formed blocks and contiguous runs to the exact address",
                        "[arm64][engine][oa]", OaModes) {
  using F = TestType;
  using G = Geometry<F>;
  // A contiguous run of pages and one of L2 blocks (ContiguousSize() entries each), mapped by
  // the engine with its automatic hints; every entry carries its own address (run_log2 = 0).
  for (std::size_t d : {G::kDepth - 2, G::kDepth - 1}) {
    const Level l = G::level(d);
    const unsigned k = F::contig_log2(l, Caps{});
    REQUIRE(k != 0);
    const std::uint64_t span = G::span(d), run = span << k;
    const std::uint64_t t0 = 2 * run;
    const std::uint64_t pa0 = (F::kPaBits == 52 ? bit(51) : 0) + 4 * run;
    CAPTURE(F::kName, d, run);
    REQUIRE(t0 + run <= G::kVaMask + 1);
    test::Memory m;
    auto tree = make_tree<F>(m.arena);
    REQUIRE(tree.ok());
    REQUIRE(map(*tree, m.arena, G::to_va(t0), PhysAddr(pa0), run, kRwG).ok());
    for (std::uint64_t i = 0; i < (std::uint64_t{1} << k); ++i) {
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
