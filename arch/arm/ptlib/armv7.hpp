// The ARMv7-A LPAE (VMSAv7 Long-descriptor) paging family: stage 1 translation tables for a
// TTBR0 (low) or TTBR1 (high) region of 2^25..2^32 bytes, 4 KiB pages, 40-bit output addresses.
//
// Source: ARM Architecture Reference Manual ARMv7-A and ARMv7-R edition (ARM DDI 0406C), cited
// as "ARM ARM v7" below:
//   B3.6.1  Long-descriptor translation table format descriptors (type bits, address fields),
//   B3.6.2  Memory attributes in the Long-descriptor descriptors (AttrIndx, AP, SH, AF, nG,
//           XN, PXN, Contiguous hint, next-level table attributes),
//   B3.6.4  Selecting between TTBR0 and TTBR1 (TTBR0 at the bottom, TTBR1 at the top),
//   B3.6.5  Long-descriptor address lookup levels (first 1 GiB, second 2 MiB, third 4 KiB),
//   B3.6.6  Translation table walks (initial lookup level and TTBR.BADDR width from TxSZ),
//   B4.1.104 MAIR0/MAIR1 (the attribute encodings AttrIndx selects).
// The same text is in ARM DDI 0487 as "VMSAv8-32 Long-descriptor format" (G5.5).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include <ptlib/format.hpp>

PTLIB_BEGIN_NAMESPACE
namespace armv7 {

/// The lookup levels, as ARM ARM v7 B3.6.5 names them ("first-level lookup" ...). The value is
/// the manual's level number.
enum class Level : std::int8_t { First = 1, Second = 2, Third = 3 };

/// Every level of the family from the root down; a mode is a slice of it (see Lpae::kLevels).
inline constexpr std::array kAllLevels{Level::First, Level::Second, Level::Third};

/// MAIR0 as ptlib's memory-type convention needs it (ARM ARM v7 B4.1.104, MAIRn.Attr<n>
/// encoding; Attr<n> is bits [8n+7:8n]):
///   Attr0 = 0xFF  Normal, Outer and Inner Write-Back, Read- and Write-Allocate   (AttrIndx 0)
///   Attr1 = 0x44  Normal, Outer and Inner Non-cacheable                          (AttrIndx 1)
///   Attr2 = 0x04  Device memory (Attr[7:4] = 0b0000, Attr[3:0] = 0b0100)         (AttrIndx 2)
///   Attr3 = 0x00  Strongly-ordered (unused by ptlib; decodes as MemType::other)
/// The same indexes and values as ptlib's arm64 convention (there 0x04 is Device-nGnRE).
inline constexpr std::uint32_t kMair0 = 0x000444FFU;
/// MAIR1 (Attr4..Attr7): unused by ptlib, all Strongly-ordered.
inline constexpr std::uint32_t kMair1 = 0;

namespace detail {

using Entry = std::uint64_t;

// ARM ARM v7 B3.6.1 (Figures B3-15/B3-16): bit[0] valid; bit[1] at the first and second level
// 0 = block, 1 = table; at the third level 1 = page, 0 = reserved.
inline constexpr Entry kValid = Entry{1} << 0;
inline constexpr Entry kTypeBit = Entry{1} << 1;
inline constexpr Entry kTypeBlock = kValid;             // 0b01, first/second level
inline constexpr Entry kTypeTable = kValid | kTypeBit;  // 0b11, first/second level
inline constexpr Entry kTypePage = kValid | kTypeBit;   // 0b11, third level

// ARM ARM v7 B3.6.1: output address bits [39:30] (first-level block), [39:21] (second-level
// block), [39:12] (page, and the next-level table address of a table descriptor). The bits of
// a block between bit 12 and its OA field should be zero; ptlib writes and reads them as part
// of the address (bits [39:12] in every leaf), so a block that is not aligned to its size reads
// back misaligned instead of silently rounded down.
inline constexpr Entry kAddr39to12 = 0x000000FFFFFFF000ULL;
// ARM ARM v7 B3.6.1: bits [47:40] of every descriptor (table, block, page) lie above the 40-bit
// output address and should be zero; decode() reads a descriptor with any of them set as
// malformed (an address the 40-bit PA cannot hold; ARMv8's AArch32 description of the same
// format raises an Address size fault for it).
inline constexpr Entry kRes0Above40 = 0x0000FF0000000000ULL;

// ARM ARM v7 B3.6.2, lower block/page attributes (bits [11:2]).
inline constexpr unsigned kAttrIndxShift = 2;                    // AttrIndx[2:0], bits [4:2]
inline constexpr Entry kAttrIndxMask = Entry{7} << kAttrIndxShift;
inline constexpr Entry kNs = Entry{1} << 5;                      // NS (written 0; Secure only)
inline constexpr Entry kApUser = Entry{1} << 6;                  // AP[1]: PL0 access
inline constexpr Entry kApReadOnly = Entry{1} << 7;              // AP[2]: read-only
inline constexpr unsigned kShShift = 8;                          // SH[1:0], bits [9:8]
inline constexpr Entry kShMask = Entry{3} << kShShift;
inline constexpr Entry kShInner = Entry{3} << kShShift;          // 0b11 Inner Shareable
inline constexpr Entry kShReserved = Entry{1} << kShShift;       // 0b01 UNPREDICTABLE
inline constexpr Entry kAf = Entry{1} << 10;                     // AF, Access flag
inline constexpr Entry kNg = Entry{1} << 11;                     // nG, not global
// ARM ARM v7 B3.6.2, upper block/page attributes (bits [63:52]).
inline constexpr Entry kContiguous = Entry{1} << 52;             // Contiguous hint
inline constexpr Entry kPxn = Entry{1} << 53;                    // PXN, privileged execute-never
inline constexpr Entry kXn = Entry{1} << 54;                     // XN, execute-never (all PLs)
// Table descriptors, bits [63:59]: NSTable 63, APTable 62:61, XNTable 60, PXNTable 59.
// ptlib writes them 0 (no hierarchical limit) and ignores them when reading.

// ptlib's AttrIndx convention (see kMair0).
inline constexpr unsigned kIdxNormal = 0, kIdxNormalNc = 1, kIdxDevice = 2;

/// The levels of a mode whose input region is 2^va_bits bytes: ARM ARM v7 B3.6.6 ("Determining
/// the required first lookup level for stage 1 translations"): a region larger than 2^30 bytes
/// (TxSZ 0..1) starts at the first level, one of 2^30 bytes or less (TxSZ 2..7) at the second.
template <unsigned VaBits>
constexpr auto levels() {
  return last_levels<(VaBits > 30 ? 3 : 2)>(kAllLevels);
}

/// "armv7-lpae" for the full 32-bit TTBR0 region, else "armv7-lpae-<bits>" (TTBR0) or
/// "armv7-lpae-ttbr1-<bits>" (TTBR1).
constexpr std::array<char, 24> name(unsigned va_bits, VaRule rule) {
  std::array<char, 24> out{};
  std::size_t n = 0;
  auto put = [&](const char* s) {
    while (*s) out[n++] = *s++;
  };
  put("armv7-lpae");
  if (rule == VaRule::high) put("-ttbr1");
  if (rule == VaRule::high || va_bits != 32) {
    out[n++] = '-';
    out[n++] = char('0' + va_bits / 10);
    out[n++] = char('0' + va_bits % 10);
  }
  return out;
}

}  // namespace detail

/// A caller's own MAIR0/MAIR1 attribute for a leaf (AttrIndx[2:0], B3.6.2, "Memory region
/// attributes"); `preset` = the index of Attrs::mem in ptlib's layout (kMair0).
enum class AttrIndex : std::uint8_t { preset, attr0, attr1, attr2, attr3, attr4, attr5, attr6, attr7 };

/// ARMv7 LPAE leaf bits that Attrs cannot say (B3.6.2, block and page descriptor attributes):
struct Ext {
  Share share = Share::preset;               ///< SH[1:0], bits [9:8]
  AttrIndex attr_index = AttrIndex::preset;  ///< AttrIndx[2:0], bits [4:2]
  std::uint8_t software = 0;                 ///< bits [58:55], reserved for software use, 0..15
  constexpr bool operator==(const Ext&) const = default;
};
/// The tag of ARMv7 extensions in ExtBits.
inline constexpr unsigned kExtTag = 4;

namespace detail {
constexpr MemType mem_of_index(unsigned i) {
  return i == kIdxNormal ? MemType::normal : i == kIdxNormalNc ? MemType::normal_nc : i == kIdxDevice ? MemType::device : MemType::other;
}
/// SH[1:0] (B3.6.2: 0b00 Non-shareable, 0b10 Outer Shareable, 0b11 Inner Shareable).
constexpr Entry sh_bits(Share s) { return Entry(s == Share::inner ? 3 : s == Share::outer ? 2 : 0) << 8; }
}  // namespace detail

/// `a` with the ARMv7 extension `e`, in the form decode() reads back (detail::arm_with).
constexpr Attrs with(Attrs a, const Ext& e) { return ptlib::detail::arm_with(a, e, kExtTag, detail::mem_of_index); }
/// The ARMv7 extension of `a` (all presets when it has none).
constexpr Ext ext_of(const Attrs& a) { return ptlib::detail::arm_ext_of<Ext>(a, kExtTag); }

/// An LPAE stage 1 translation regime for one TTBR: VaBits = 32 - TTBCR.TxSZ (25..32).
/// Range = VaRule::low is a TTBR0 region [0, 2^VaBits); VaRule::high a TTBR1 region
/// [2^32 - 2^VaBits, 2^32) (ARM ARM v7 B3.6.4, "Use of TTBR0 and TTBR1").
///
/// Leaves: 1 GiB blocks at First, 2 MiB blocks at Second, 4 KiB pages at Third.
/// Attributes (leaf_proto):
///  - read is always granted: no Perm::read is Errc::unsupported_attrs;
///  - AP[2] = !write, AP[1] = user (B3.6.2, "AP[2:1] access permissions model");
///  - execute: XN applies at PL1 and PL0, PXN at PL1 only. Kernel exec: XN = 0, PXN = 0 (PL0 has
///    no access without AP[1], so it cannot fetch either). User exec: XN = 0, PXN = 1 (the
///    kernel never runs user pages). No exec: XN = 1, PXN = 1;
///  - AF = 1 always (no Access flag faults); nG = !global;
///  - memory types by AttrIndx as kMair0 says: normal 0, normal_nc 1, device 2; MemType::wc and
///    MemType::other are Errc::unsupported_memtype. SH = 0b11 (Inner Shareable) for Normal
///    memory; 0b00 for Device memory, whose shareability ignores SH (B3.6.2);
///  - Contiguous when LeafSettings::contiguous, where a 16-entry run fits (contig_log2).
/// decode() reads AttrIndx 3..7 as MemType::other; the reserved third-level encoding 0b01, the
/// UNPREDICTABLE SH = 0b01 and any of bits [47:40] set as EntryKind::malformed; a block's
/// address with every bit down to bit 12 (a misaligned block reads back misaligned).
template <unsigned VaBits = 32, VaRule Range = VaRule::low>
struct Lpae {
  static_assert(VaBits >= 25 && VaBits <= 32, "TTBCR.TxSZ is 0..7: the region is 2^25..2^32 bytes");
  static_assert(Range == VaRule::low || Range == VaRule::high, "LPAE regions are TTBR0 (low) or TTBR1 (high)");

  using Level = armv7::Level;
  using Entry = std::uint64_t;  // ARM ARM v7 B3.6.1: 64-bit descriptors
  /// No run-time options: every LPAE CPU has 1 GiB and 2 MiB blocks and the Contiguous hint.
  struct Caps {
    bool operator==(const Caps&) const = default;
  };

  /// TTBCR.T0SZ (low) or TTBCR.T1SZ (high) for this region (ARM ARM v7 B4.1.153).
  static constexpr unsigned kTxSZ = 32 - VaBits;
  /// TTBR.BADDR holds bits [39:x] of the root table, so the root is aligned to 2^x:
  /// x = 5 - TxSZ when the lookup starts at the first level, 14 - TxSZ at the second
  /// (ARM ARM v7 B3.6.6). That is the root table's size, which the engine aligns to.
  static constexpr unsigned kBaddrLowBit = VaBits > 30 ? 5 - kTxSZ : 14 - kTxSZ;

  static constexpr std::array<char, 24> kNameChars = detail::name(VaBits, Range);
  static constexpr const char* kName = kNameChars.data();
  static constexpr auto kLevels = detail::levels<VaBits>();
  static constexpr unsigned kPageShift = 12;    // 4 KiB pages (B3.6.5)
  static constexpr unsigned kPaBits = 40;       // 40-bit output address (B3.6.1)
  static constexpr unsigned kInputBits = 32;    // the VA is 32 bits (B3.6.5)
  static constexpr VaRule kVaRule = Range;
  /// One descriptor. The engine aligns a table to max(its size, this), which gives every table
  /// its own size: 4 KiB below the root, 2^kBaddrLowBit bytes at the root.
  static constexpr std::size_t kMinTableAlign = 8;

  /// log2 of the entries of a table at `l` in this mode (B3.6.5/B3.6.6): the first level
  /// resolves VA bits [VaBits-1:30] (2 or 4 entries), the second [29:21] (512 entries) or, as the
  /// root of a region of 2^VaBits <= 2^30 bytes, [VaBits-1:21] (16..512 entries); the third
  /// [20:12]. A level outside this mode has 0 bits.
  static constexpr unsigned index_bits(Level l) {
    switch (l) {
      case Level::First: return VaBits > 30 ? VaBits - 30 : 0;
      case Level::Second: return VaBits > 30 ? 9 : VaBits - 21;
      case Level::Third: return 9;
    }
    return 0;
  }

  static constexpr const char* level_name(Level l) {
    switch (l) {
      case Level::First: return "first-level";
      case Level::Second: return "second-level";
      case Level::Third: return "third-level";
    }
    return "?";
  }

  /// Blocks at the first and second level, pages at the third (B3.6.1).
  static constexpr bool can_leaf(Level, const Caps&) { return true; }

  /// The Contiguous hint marks 16 adjacent entries (B3.6.2, "Contiguous hint"), at any level.
  /// A stage 1 first-level table has at most 4 entries, so no run fits there (a run wider than
  /// the region is a programming error, B3.6.4); a second-level root has 16 entries or more.
  static constexpr unsigned contig_log2(Level l, const Caps&) { return index_bits(l) >= 4 ? 4 : 0; }

  /// Every bit of a block (First, Second) or page (Third) except the output address.
  static constexpr Result<Entry> leaf_proto(Level l, const LeafSettings& s, const Caps& caps) {
    const Attrs& a = s.attrs;
    if (!a.read()) return make_error(Errc::unsupported_attrs);
    if (s.contiguous && contig_log2(l, caps) == 0) return make_error(Errc::unsupported_attrs);
    if (!a.ext.empty() && a.ext.tag() != kExtTag)
      return with_hint(make_error(Errc::unsupported_attrs), "the attribute extension is another family's: use armv7::Ext");
    const ExtFields x = unpack_ext(a.ext);
    if (x.software > 15)
      return with_hint(make_error(Errc::unsupported_attrs), "armv7::Ext::software is 4 bits ([58:55]): 0..15");
    Entry e = l == Level::Third ? detail::kTypePage : detail::kTypeBlock;
    unsigned idx = 0;
    switch (a.mem) {
      case MemType::normal: idx = detail::kIdxNormal; break;
      case MemType::normal_nc: idx = detail::kIdxNormalNc; break;
      case MemType::device: idx = detail::kIdxDevice; break;
      case MemType::other:
        if (x.index) {
          idx = x.index - 1U;
          break;
        }
        [[fallthrough]];
      case MemType::wc:
        return with_hint(make_error(Errc::unsupported_memtype),
                         "ARMv7's MAIR0 (armv7::kMair0) has no write-combining type: use normal_nc, or your own "
                         "MAIR attribute through armv7::Ext::attr_index");
    }
    e |= Entry{idx} << detail::kAttrIndxShift;
    e |= detail::sh_bits(x.share == Share::preset ? ptlib::detail::arm_preset_share(a.mem) : x.share);
    e |= Entry{x.software} << 55;  // B3.6.2: bits [58:55] reserved for software use
    if (!a.write()) e |= detail::kApReadOnly;
    if (a.user()) e |= detail::kApUser;
    e |= detail::kAf;
    if (!a.global()) e |= detail::kNg;
    if (!a.exec()) {
      e |= detail::kXn | detail::kPxn;
    } else if (a.user()) {
      e |= detail::kPxn;
    }
    if (s.contiguous) e |= detail::kContiguous;
    return e;
  }

  /// A block or page: `proto` plus `pa` (aligned to the level's size, below 2^40). Address bits
  /// below a block's size are written as given, so decode() reads back what was asked for.
  static constexpr Entry leaf(Level, Entry proto, PhysAddr pa) { return proto | (pa.value & detail::kAddr39to12); }
  /// Leaves are linear in their address below this (ExampleFormat::kLinearOaLimit): the output
  /// address is bits [39:n] in place (B3.6.1).
  static constexpr std::uint64_t kLinearOaLimit = std::uint64_t{1} << 40;

  /// A table descriptor (B3.6.1): next-level table address [39:12] | 0b11; NSTable, APTable,
  /// XNTable and PXNTable 0 (B3.6.2, no hierarchical limits).
  static constexpr Entry table(Level, PhysAddr pa) { return (pa.value & detail::kAddr39to12) | detail::kTypeTable; }

  /// ARM ARM v7 B3.10.1 (break-before-make for LPAE translation tables, as in the Armv8 AArch32
  /// rules): a live change of the output address, memory type (AttrIndx) or shareability,
  /// block <-> table, the Contiguous hint or nG goes through an invalid entry and a TLB
  /// invalidation; permission changes may be made in place.
  static constexpr bool needs_bbm(Level l, Entry old, Entry next) {
    const Decoded a = decode(l, old), b = decode(l, next);
    if (a.kind != b.kind || a.addr != b.addr) return true;
    constexpr Entry kBbmBits = detail::kAttrIndxMask | detail::kShMask | detail::kContiguous | detail::kNg;
    return ((old ^ next) & kBbmBits) != 0;
  }

  static constexpr Decoded decode(Level l, Entry e) {
    using namespace detail;
    if (!(e & kValid)) return {};
    // Bits [39:12]: a table's next-level address, a page's address, or a block's address with
    // the bits below its size (zero in a well-formed block: see kAddr39to12).
    const PhysAddr oa(e & kAddr39to12);
    // Bits [47:40] set: an output address beyond 40 bits (B3.6.1).
    if (e & kRes0Above40) return {EntryKind::malformed, oa};
    if (l != Level::Third && (e & kTypeBit)) return {EntryKind::table, oa};
    // Third level 0b01: reserved (B3.6.1). SH = 0b01: UNPREDICTABLE (B3.6.2).
    if (l == Level::Third && !(e & kTypeBit)) return {EntryKind::malformed, oa};
    if ((e & kShMask) == kShReserved) return {EntryKind::malformed, oa};

    Perm p = Perm::read;
    if (!(e & kApReadOnly)) p = p | Perm::write;
    const bool user = e & kApUser;
    if (user) p = p | Perm::user;
    if (!(e & kNg)) p = p | Perm::global;
    // XN forbids execution everywhere; otherwise PL0 may execute a user page, and PL1 may
    // execute unless PXN.
    if (!(e & kXn) && (user || !(e & kPxn))) p = p | Perm::exec;

    // The extension, in with()'s canonical form.
    const unsigned idx = unsigned((e & kAttrIndxMask) >> kAttrIndxShift);
    const MemType m = mem_of_index(idx);
    ExtFields f;
    if (m == MemType::other) f.index = std::uint8_t(idx + 1);
    const unsigned sh = unsigned(e >> 8) & 3;
    const Share share = sh == 3 ? Share::inner : sh == 2 ? Share::outer : Share::non;
    if (share != ptlib::detail::arm_preset_share(m)) f.share = share;
    f.software = std::uint8_t((e >> 55) & 0xf);
    return {EntryKind::leaf, oa, Attrs{p, m, pack_ext(kExtTag, f)}, (e & kContiguous) != 0};
  }
};

/// The whole 4 GiB through TTBR0 (TTBCR.T0SZ = 0), lookup from a 4-entry first-level table.
using Lpae32 = Lpae<32>;

static_assert(PagingFormat<Lpae32>);
static_assert(PagingFormat<Lpae<31>>);
static_assert(PagingFormat<Lpae<30>>);
static_assert(PagingFormat<Lpae<25>>);
static_assert(PagingFormat<Lpae<28, VaRule::high>>);

namespace detail {
/// Every TxSZ, both TTBRs: the geometry ptlib derives matches B3.6.6 (VA bits, root alignment).
template <unsigned VaBits, VaRule Range>
constexpr bool geometry_matches_manual() {
  using F = Lpae<VaBits, Range>;
  using G = Geometry<F>;
  return PagingFormat<F> && G::kVaBits == VaBits && G::uniform_tables() && G::table_bytes(1) == 4096 &&
         G::table_align(0) == (std::size_t{1} << F::kBaddrLowBit);
}
template <std::size_t... I>
constexpr bool all_geometries_match(std::index_sequence<I...>) {
  return (... && (geometry_matches_manual<25 + I, VaRule::low>() && geometry_matches_manual<25 + I, VaRule::high>()));
}
static_assert(all_geometries_match(std::make_index_sequence<8>{}));
}  // namespace detail

}  // namespace armv7
PTLIB_END_NAMESPACE
