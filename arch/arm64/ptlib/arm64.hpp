// arm64 VMSAv8-64 stage-1 translation formats: 4K, 16K and 64K granules, every VA size a granule
// allows, TTBR0 (low) or TTBR1 (high) ranges, 48-bit or 52-bit output addresses (FEAT_LPA2/LPA).
//
// Source: Arm Architecture Reference Manual for A-profile architecture, DDI 0487K.a ("Arm ARM"),
// chapter D8 "The AArch64 Virtual Memory System Architecture":
//  - D8.2 "Translation process": granule sizes, TxSZ, the initial lookup level (each level
//    resolves granule_shift - 3 VA bits; the initial level resolves what remains), FEAT_TTST
//    (TxSZ up to 48, or 47 with the 64KB granule), FEAT_LVA and FEAT_LPA2 (52-bit VA);
//  - D8.3 "Translation table descriptor formats", D8.3.1 "VMSAv8-64 descriptor formats": table,
//    block and page descriptors, descriptor type bits [1:0], the OA field ([47:n]; [49:n] plus
//    OA[51:50] in [9:8] with FEAT_LPA2 and TCR_ELx.DS = 1; OA[51:48] in [15:12] with FEAT_LPA
//    and the 64KB granule), the RES0 bits around it (read back as malformed, see decode()),
//    the lower ([11:2]) and upper ([63:50]) attribute fields, and nT (bit 16 of a block, FEAT_BBM);
//  - D8.4 "Memory access control", D8.4.1.2.1 (stage 1 data accesses using Direct permissions):
//    AP[2:1], PXN, UXN; the Access flag and nG;
//  - D8.5 "Memory region attributes": AttrIndx, SH, and SH moving to TCR_ELx.SHx when DS = 1;
//  - D8.6.1 "The Contiguous bit";
//  - pseudocode AArch64.BlockDescSupported() (which levels may hold a block) and
//    ContiguousSize() (shared/translation/vmsa: entries in a contiguous run);
//  - TTBR0_EL1/TTBR1_EL1 BADDR: "If a table contains fewer than eight entries, it must be
//    aligned on a 64 byte address boundary" (so kMinTableAlign = 64);
//  - MAIR_EL1 Attr<n> encodings.
//
// ptlib's conventions for arm64 (the manual leaves them to software):
//  - MAIR layout (program MAIR_ELx with kMair):
//      AttrIndx 0 = Normal, Inner/Outer Write-Back Non-transient RW-allocate (MAIR attr 0xFF)
//      AttrIndx 1 = Normal, Inner/Outer Non-cacheable                         (MAIR attr 0x44)
//      AttrIndx 2 = Device-nGnRE                                               (MAIR attr 0x04)
//    MemType::normal / normal_nc / device map to these. MemType::wc is refused with
//    Errc::unsupported_memtype (Arm has no distinct write-combining type: ask for normal_nc).
//    decode() returns MemType::other for AttrIndx 3..7.
//  - Read permission is always granted by a valid arm64 descriptor: a request without read is
//    Errc::unsupported_attrs. AP[1] = user (EL0) access, AP[2] = read-only.
//  - Execute: kernel exec -> PXN = 0, UXN = 1; user exec -> UXN = 0, PXN = 1 (privileged code
//    never executes user pages); no exec -> UXN = PXN = 1.
//  - AF = 1 always (no Access flag fault on first use); nG = !global.
//  - SH = Inner Shareable (0b11) for Normal memory (normal, normal_nc) when SH is in the
//    descriptor; 0b00 for Device memory, whose shareability the hardware ignores (Device
//    memory is always treated as Outer Shareable). With FEAT_LPA2 (DS = 1) SH is not in the
//    descriptor: TCR_ELx.SH0/SH1 supply it.
//  - Table descriptors carry no hierarchical restrictions: NSTable, APTable, UXNTable/XNTable
//    and PXNTable are 0.
//  - TCR_ELx.DS is 1 (FEAT_LPA2 descriptor format) exactly when the granule is 4K or 16K and the
//    VA is wider than 48 bits or the OA is 52 bits (Vmsa::kLpa2).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include <ptlib/format.hpp>

PTLIB_BEGIN_NAMESPACE
namespace arm64 {

/// Translation granule (TCR_ELx.TG0/TG1), Arm ARM D8.2.
enum class Granule : std::uint8_t { k4K, k16K, k64K };

/// Translation table levels as the Arm ARM numbers them. Level -1 exists only with FEAT_LPA2,
/// the 4KB granule and a VA wider than 48 bits.
enum class Level : std::int8_t { Lm1 = -1, L0 = 0, L1 = 1, L2 = 2, L3 = 3 };

/// arm64 has no run-time leaf capability the formats consult (FEAT_LPA2/LPA are compile-time
/// choices of the format, because they change the descriptor layout).
struct Caps {
  bool operator==(const Caps&) const = default;
};

/// MAIR_ELx value for ptlib's attribute layout (MAIR_EL1 Attr<n> field encodings):
/// Attr0 = 0xFF Normal WB, Attr1 = 0x44 Normal NC, Attr2 = 0x04 Device-nGnRE, Attr3..7 = 0.
inline constexpr std::uint64_t kMair = 0x0000'0000'0004'44ffULL;

/// Descriptor fields, Arm ARM D8.3.1 (block/page "lower attributes" [11:2], "upper attributes"
/// [63:50]) with their meaning from D8.4 (access control), D8.5 (attributes), D8.6.1 (Contiguous).
namespace desc {
inline constexpr std::uint64_t kValid = 1ULL << 0;        // D8.3.1: bit[0] = 1 valid
inline constexpr std::uint64_t kTableOrPage = 1ULL << 1;  // D8.3.1: bit[1] = 1 table (L<3) / page (L3)
inline constexpr unsigned kAttrIndxShift = 2;             // D8.5: AttrIndx[2:0] in bits [4:2]
inline constexpr std::uint64_t kAttrIndxMask = 7ULL << kAttrIndxShift;
inline constexpr std::uint64_t kApUser = 1ULL << 6;       // D8.4.1.2.1: AP[1], EL0 access
inline constexpr std::uint64_t kApReadOnly = 1ULL << 7;   // D8.4.1.2.1: AP[2], read-only
inline constexpr std::uint64_t kShInner = 3ULL << 8;      // D8.5: SH[1:0] in [9:8] = 0b11 Inner Shareable
inline constexpr std::uint64_t kAf = 1ULL << 10;          // D8.4: Access flag
inline constexpr std::uint64_t kNg = 1ULL << 11;          // D8.4: not global (ASID-tagged)
inline constexpr std::uint64_t kNt = 1ULL << 16;          // D8.3.1: block descriptors only, nT (FEAT_BBM)
inline constexpr std::uint64_t kContiguous = 1ULL << 52;  // D8.6.1: Contiguous
inline constexpr std::uint64_t kPxn = 1ULL << 53;         // D8.4: privileged execute-never
inline constexpr std::uint64_t kUxn = 1ULL << 54;         // D8.4: unprivileged execute-never
// ptlib's MAIR layout (see kMair).
inline constexpr std::uint64_t kIdxNormal = 0, kIdxNormalNc = 1, kIdxDevice = 2;
}  // namespace desc

/// A caller's own MAIR_ELx attribute for a leaf (AttrIndx, D8.5): the MAIR Attr<n> field it
/// selects, whatever Attrs::mem says; `preset` = the index of Attrs::mem in ptlib's layout (kMair).
enum class AttrIndex : std::uint8_t { preset, attr0, attr1, attr2, attr3, attr4, attr5, attr6, attr7 };

/// arm64 leaf bits that Attrs cannot say (D8.3.1 block and page descriptor attribute fields):
struct Ext {
  /// SH[1:0], bits [9:8] (D8.5): Non, Outer or Inner Shareable. With FEAT_LPA2 (TCR_ELx.DS = 1)
  /// the field holds OA[51:50] and TCR_ELx.SH0/SH1 give shareability: only `preset` is accepted.
  Share share = Share::preset;
  /// AttrIndx[2:0], bits [4:2] (D8.5): the caller's MAIR attribute.
  AttrIndex attr_index = AttrIndex::preset;
  /// Bits [58:55], reserved for software use (D8.3.1), 0..15.
  std::uint8_t software = 0;
  constexpr bool operator==(const Ext&) const = default;
};
/// The tag of arm64 extensions in ExtBits.
inline constexpr unsigned kExtTag = 1;

namespace detail {
inline constexpr std::array kAllLevels{Level::Lm1, Level::L0, Level::L1, Level::L2, Level::L3};

/// What an AttrIndx means in ptlib's MAIR layout (kMair).
constexpr MemType mem_of_index(unsigned i) {
  return i == desc::kIdxNormal ? MemType::normal
         : i == desc::kIdxNormalNc ? MemType::normal_nc
         : i == desc::kIdxDevice ? MemType::device
                                 : MemType::other;
}
/// SH[1:0] of a shareability (D8.5: 0b00 Non-shareable, 0b10 Outer, 0b11 Inner; 0b01 reserved).
constexpr std::uint64_t sh_bits(Share s) { return s == Share::inner ? 3 : s == Share::outer ? 2 : 0; }

/// log2 of the granule: 4KB, 16KB, 64KB (D8.2).
constexpr unsigned granule_shift(Granule g) {
  return g == Granule::k4K ? 12 : g == Granule::k16K ? 14 : 16;
}

/// Bits [hi:lo] set.
constexpr std::uint64_t bit_range(unsigned hi, unsigned lo) {
  return (~std::uint64_t{0} >> (63 - hi)) & ~((std::uint64_t{1} << lo) - 1);
}

/// "arm64-<granule>-<va>", plus "-pa<oa>" when the OA size is not the default for that VA.
constexpr std::array<char, 24> make_name(Granule g, unsigned va, unsigned oa, bool oa_default) {
  std::array<char, 24> s{};
  std::size_t n = 0;
  auto put = [&](const char* t) {
    while (*t) s[n++] = *t++;
  };
  auto num = [&](unsigned v) {
    char d[4]{};
    int k = 0;
    do {
      d[k++] = char('0' + v % 10);
      v /= 10;
    } while (v);
    while (k) s[n++] = d[--k];
  };
  put("arm64-");
  put(g == Granule::k4K ? "4k" : g == Granule::k16K ? "16k" : "64k");
  put("-");
  num(va);
  if (!oa_default) {
    put("-pa");
    num(oa);
  }
  return s;
}
}  // namespace detail

/// `a` with the arm64 extension `e`, in the form decode() reads back (detail::arm_with).
constexpr Attrs with(Attrs a, const Ext& e) { return ptlib::detail::arm_with(a, e, kExtTag, detail::mem_of_index); }
/// The arm64 extension of `a` (all presets when it has none).
constexpr Ext ext_of(const Attrs& a) { return ptlib::detail::arm_ext_of<Ext>(a, kExtTag); }

/// One VMSAv8-64 stage-1 translation regime's tables: granule `G`, a `VaBits`-bit VA
/// (TxSZ = 64 - VaBits), in the TTBR0 (VaRule::low) or TTBR1 (VaRule::high) range, with a
/// 48- or 52-bit output address.
template <Granule G, unsigned VaBits, VaRule Range = VaRule::low, unsigned OaBits = (VaBits == 52 ? 52 : 48)>
struct Vmsa {
  using Level = arm64::Level;
  using Entry = std::uint64_t;
  using Caps = arm64::Caps;

  static constexpr Granule kGranule = G;
  static constexpr unsigned kPageShift = detail::granule_shift(G);
  /// VA bits each lookup level resolves: granule_shift - 3 (8-byte descriptors), D8.2.
  static constexpr unsigned kStride = kPageShift - 3;

  static_assert(Range == VaRule::low || Range == VaRule::high, "arm64 ranges are TTBR0 (low) or TTBR1 (high)");
  static_assert(OaBits == 48 || OaBits == 52, "the VMSAv8-64 output address is 48 or 52 bits wide");
  // D8.2: TxSZ >= 12 with FEAT_LVA (64KB) or FEAT_LPA2 (4KB/16KB), i.e. at most 52 VA bits;
  // TxSZ <= 48 (4KB/16KB) or 47 (64KB) with FEAT_TTST, 39 without.
  static_assert(VaBits <= 52, "VMSAv8-64 translates at most 52 VA bits (TxSZ >= 12)");
  static_assert(VaBits >= (G == Granule::k64K ? 17U : 16U),
                "VA too small for the granule (TxSZ at most 48, or 47 with 64KB, under FEAT_TTST)");

  /// FEAT_LPA2 descriptor format (TCR_ELx.DS = 1): 4KB/16KB with VA > 48 bits or a 52-bit OA.
  static constexpr bool kLpa2 = G != Granule::k64K && (VaBits > 48 || OaBits == 52);
  /// FEAT_LPA with the 64KB granule and a 52-bit OA (TCR_ELx.IPS = 0b110).
  static constexpr bool kLpa = G == Granule::k64K && OaBits == 52;
  /// TCR_ELx.T0SZ / T1SZ for this VA size.
  static constexpr unsigned kTxSz = 64 - VaBits;

  /// Number of lookup levels: ceil((VaBits - granule_shift) / stride), so the initial level is
  /// 4 - depth (the Arm ARM's "initial lookup level", D8.2).
  static constexpr std::size_t kDepth = (VaBits - kPageShift + kStride - 1) / kStride;
  static constexpr int kStartLevel = 4 - int(kDepth);
  /// VA bits the initial level resolves: the remainder (a root of 2^kRootBits entries).
  static constexpr unsigned kRootBits = VaBits - kPageShift - unsigned(kDepth - 1) * kStride;
  static_assert(kStartLevel >= -1 && kStartLevel <= 3);
  static_assert(kStartLevel >= 0 || kLpa2, "level -1 exists only with FEAT_LPA2");

  static constexpr std::array<char, 24> kNameChars =
      detail::make_name(G, VaBits, OaBits, OaBits == (VaBits == 52 ? 52U : 48U));
  static constexpr const char* kName = kNameChars.data();
  static constexpr auto kLevels = last_levels<kDepth>(detail::kAllLevels);
  static constexpr unsigned kPaBits = OaBits;
  static constexpr unsigned kInputBits = 64;
  static constexpr VaRule kVaRule = Range;
  /// TTBRn_ELx.BADDR: a table is aligned to its size, and a table of fewer than eight entries
  /// to 64 bytes.
  static constexpr std::size_t kMinTableAlign = 64;

  static constexpr unsigned index_bits(Level l) { return int(l) == kStartLevel ? kRootBits : kStride; }

  static constexpr const char* level_name(Level l) {
    switch (l) {
      case Level::Lm1: return "L-1";
      case Level::L0: return "L0";
      case Level::L1: return "L1";
      case Level::L2: return "L2";
      case Level::L3: return "L3";
    }
    return "L?";
  }

  /// Pages at level 3; blocks per AArch64.BlockDescSupported(): 4KB at L1 and L2 (and L0 with
  /// DS = 1), 16KB at L2 (and L1 with DS = 1), 64KB at L2 (and L1 with a 52-bit PA, FEAT_LPA).
  static constexpr bool can_leaf(Level l, const Caps&) {
    switch (l) {
      case Level::L3:
      case Level::L2: return true;
      case Level::L1: return G == Granule::k4K || (G == Granule::k16K && kLpa2) || (G == Granule::k64K && kLpa);
      case Level::L0: return G == Granule::k4K && kLpa2;
      case Level::Lm1: return false;
    }
    return false;
  }

  /// ContiguousSize() (D8.6.1 "The Contiguous bit"): 4KB: 16 entries at L1, L2, L3; 16KB: 32 at L2,
  /// 128 at L3; 64KB: 32 at L2 and L3. None for 4KB L0, 16KB L1 or 64KB L1 blocks.
  static constexpr unsigned contig_log2(Level l, const Caps&) {
    switch (l) {
      case Level::L3: return G == Granule::k4K ? 4 : G == Granule::k16K ? 7 : 5;
      case Level::L2: return G == Granule::k4K ? 4 : 5;
      case Level::L1: return G == Granule::k4K ? 4 : 0;
      default: return 0;
    }
  }

  /// Every bit of a block (L < 3) or page (L3) descriptor except the output address.
  /// Precondition: can_leaf(l). Errors: unsupported_attrs (no read; contiguous where the level
  /// has no contiguous run), unsupported_memtype (wc, other).
  static constexpr Result<Entry> leaf_proto(Level l, const LeafSettings& s, const Caps& c) {
    const Attrs& a = s.attrs;
    if (!a.read()) return make_error(Errc::unsupported_attrs);  // D8.4: valid implies readable
    if (!a.ext.empty() && a.ext.tag() != kExtTag)
      return with_hint(make_error(Errc::unsupported_attrs), "the attribute extension is another family's: use arm64::Ext");
    const ExtFields x = unpack_ext(a.ext);
    if (x.software > 15)
      return with_hint(make_error(Errc::unsupported_attrs), "arm64::Ext::software is 4 bits ([58:55]): 0..15");
    Entry e = desc::kValid | desc::kAf;
    if (l == Level::L3) e |= desc::kTableOrPage;  // D8.3: page 0b11; block 0b01
    std::uint64_t idx = 0;
    switch (a.mem) {
      case MemType::normal: idx = desc::kIdxNormal; break;
      case MemType::normal_nc: idx = desc::kIdxNormalNc; break;
      case MemType::device: idx = desc::kIdxDevice; break;
      case MemType::other:
        if (x.index) {
          idx = x.index - 1U;
          break;
        }
        [[fallthrough]];
      default:
        return with_hint(make_error(Errc::unsupported_memtype),
                         "arm64's MAIR (arm64::kMair) has no write-combining type: use normal_nc, or your own MAIR "
                         "attribute through arm64::Ext::attr_index");
    }
    e |= idx << desc::kAttrIndxShift;
    if (kLpa2 && x.share != Share::preset)
      return with_hint(make_error(Errc::unsupported_attrs),
                       "with FEAT_LPA2 (TCR_ELx.DS = 1) shareability is not in the descriptor: set TCR_ELx.SH0/SH1");
    if (!kLpa2) e |= detail::sh_bits(x.share == Share::preset ? ptlib::detail::arm_preset_share(a.mem) : x.share) << 8;
    e |= Entry{x.software} << 55;  // D8.3.1: bits [58:55] reserved for software use
    if (a.user()) e |= desc::kApUser;
    if (!a.write()) e |= desc::kApReadOnly;
    if (!a.global()) e |= desc::kNg;
    if (!a.exec()) {
      e |= desc::kPxn | desc::kUxn;
    } else {
      e |= a.user() ? desc::kPxn : desc::kUxn;
    }
    if (s.contiguous) {
      if (contig_log2(l, c) == 0) return make_error(Errc::unsupported_attrs);
      e |= desc::kContiguous;
    }
    return e;
  }

  /// A block/page descriptor: `proto` plus the output address (aligned to the level's size).
  static constexpr Entry leaf(Level, Entry proto, PhysAddr pa) { return proto | oa_field(pa.value); }
  /// Leaves are linear in their address below this (ExampleFormat::kLinearOaLimit): OA[49:n]
  /// (LPA2) or OA[47:n] sit in place, the bits above move elsewhere (oa_field).
  static constexpr std::uint64_t kLinearOaLimit = std::uint64_t{1} << (kLpa2 ? 50 : 48);

  /// A table descriptor (D8.3: bits[1:0] = 0b11, next-level table address; NSTable, APTable,
  /// UXNTable, PXNTable = 0).
  static constexpr Entry table(Level, PhysAddr pa) { return oa_field(pa.value) | desc::kValid | desc::kTableOrPage; }

  /// Arm ARM D8.16.1 "Using break-before-make when updating translation table entries": a live
  /// change of the output address, the memory type (AttrIndx) or shareability, block <-> table
  /// (descriptor type), the Contiguous bit or nG must go through an invalid entry and a TLB
  /// invalidation. Permission and AF changes may be made in place.
  static constexpr bool needs_bbm(Level l, Entry old, Entry next) {
    const Decoded a = decode(l, old), b = decode(l, next);
    if (a.kind != b.kind || a.addr != b.addr) return true;
    constexpr Entry kBbmBits = desc::kAttrIndxMask | desc::kContiguous | desc::kNg | (kLpa2 ? 0 : desc::kShInner);
    return ((old ^ next) & kBbmBits) != 0;
  }

  /// Reads a descriptor back. Besides the type rules (0b01 reserved at level 3 and where
  /// BlockDescSupported() is false), two kinds of damage are visible here:
  ///  - a block's output address keeps every address bit the descriptor holds down to the
  ///    granule (bits [n-1:granule] of a block at level n, which the Arm ARM makes RES0), so a
  ///    block whose address is not a multiple of its size reads back misaligned and validate()
  ///    reports misaligned_leaf, as translate() reports the address the descriptor really holds.
  ///    Bit 16 of a block is nT (FEAT_BBM), not an address bit: it is left out and ignored;
  ///  - a descriptor with a RES0 bit in or beside its address field set, or whose output address is wider
  ///    than kPaBits (e.g. OA[51:48] of an FEAT_LPA2 descriptor in a 48-bit-PA format), is
  ///    EntryKind::malformed, with the address it holds: an address wider than the configured PA
  ///    size takes an Address size fault, and RES0 bits are software's to keep zero (kLeafRes0,
  ///    kTableRes0). The RISC-V and x86 decoders treat reserved bits alike.
  static constexpr Decoded decode(Level l, Entry e) {
    if (!(e & desc::kValid)) return {};  // D8.3: bit[0] = 0 is invalid, other bits ignored
    const bool table = l != Level::L3 && (e & desc::kTableOrPage);
    const bool block = l != Level::L3 && !table;
    if (block && !can_leaf(l, Caps{})) return {EntryKind::malformed};  // BlockDescSupported() false
    if (l == Level::L3 && !(e & desc::kTableOrPage)) return {EntryKind::malformed};  // D8.3: 0b01 reserved at L3
    const std::uint64_t oa = oa_of(block ? e & ~desc::kNt : e);
    if ((e & (table ? kTableRes0 : kLeafRes0)) || oa > kOaLimit) return {EntryKind::malformed, PhysAddr(oa)};
    if (table) return {EntryKind::table, PhysAddr(oa)};

    Decoded d{EntryKind::leaf};
    d.addr = PhysAddr(oa);
    Perm p = Perm::read;
    if (!(e & desc::kApReadOnly)) p = p | Perm::write;
    const bool user = (e & desc::kApUser) != 0;
    if (user) p = p | Perm::user;
    if (!(e & desc::kNg)) p = p | Perm::global;
    if (!(e & (user ? desc::kUxn : desc::kPxn))) p = p | Perm::exec;
    d.attrs.perm = p;
    // The extension, in with()'s canonical form: another MAIR index, a shareability other than
    // the preset (SH = 0b01 is reserved: malformed), software bits.
    const unsigned idx = unsigned((e & desc::kAttrIndxMask) >> desc::kAttrIndxShift);
    d.attrs.mem = detail::mem_of_index(idx);
    ExtFields f;
    if (d.attrs.mem == MemType::other) f.index = std::uint8_t(idx + 1);
    if constexpr (!kLpa2) {
      const unsigned sh = unsigned(e >> 8) & 3;
      if (sh == 1) return {EntryKind::malformed, PhysAddr(oa)};
      const Share share = sh == 3 ? Share::inner : sh == 2 ? Share::outer : Share::non;
      if (share != ptlib::detail::arm_preset_share(d.attrs.mem)) f.share = share;
    }
    f.software = std::uint8_t((e >> 55) & 0xf);
    d.attrs.ext = pack_ext(kExtTag, f);
    d.contiguous = contig_log2(l, Caps{}) != 0 && (e & desc::kContiguous) != 0;
    return d;
  }

 private:
  /// The largest output address the format's PA size allows.
  static constexpr std::uint64_t kOaLimit = (std::uint64_t{1} << OaBits) - 1;
  /// Bits between bit 12 and the granule in the address field (D8.3.1, the 16KB and 64KB
  /// descriptor figures): RES0 in every descriptor, except that with FEAT_LPA and the 64KB
  /// granule bits [15:12] carry OA[51:48] (oa_of reads them, kOaLimit bounds them).
  static constexpr Entry kRes0BelowGranule = kPageShift > 12 && !kLpa ? detail::bit_range(kPageShift - 1, 12) : 0;
  /// RES0 bits of a block or page descriptor above the OA field (D8.3.1): without DS the OA
  /// ends at bit 47 and bits [49:48] are RES0 (bits [51:50] are the upper attributes DBM and GP,
  /// left alone); with DS = 1 bits [49:48] are OA[49:48] and nothing above the field is RES0.
  static constexpr Entry kLeafRes0 = kRes0BelowGranule | (kLpa2 ? 0 : detail::bit_range(49, 48));
  /// RES0 bits of a table descriptor (D8.3.1, table descriptor figures): bits [50:48] without
  /// DS, bit 50 with DS (bits [49:48] are then next-level table address bits). Bits [58:51] are
  /// not checked (the table descriptor figures of DDI 0487K.a mark them IGNORED).
  static constexpr Entry kTableRes0 =
      kRes0BelowGranule | (kLpa2 ? detail::bit_range(50, 50) : detail::bit_range(50, 48));

  /// The OA field of a descriptor (D8.3): OA[47:n] in place; with DS = 1 OA[49:n] in place and
  /// OA[51:50] in bits [9:8]; with FEAT_LPA (64KB) OA[51:48] in bits [15:12].
  static constexpr Entry oa_field(std::uint64_t pa) {
    if constexpr (kLpa2) {
      return (pa & detail::bit_range(49, kPageShift)) | (((pa >> 50) & 0x3) << 8);
    } else if constexpr (kLpa) {
      return (pa & detail::bit_range(47, kPageShift)) | (((pa >> 48) & 0xf) << 12);
    } else {
      return pa & detail::bit_range(47, kPageShift);
    }
  }
  static constexpr std::uint64_t oa_of(Entry e) {
    if constexpr (kLpa2) {
      return (e & detail::bit_range(49, kPageShift)) | (((e >> 8) & 0x3) << 50);
    } else if constexpr (kLpa) {
      return (e & detail::bit_range(47, kPageShift)) | (((e >> 12) & 0xf) << 48);
    } else {
      return e & detail::bit_range(47, kPageShift);
    }
  }
};

using Vmsa4k39 = Vmsa<Granule::k4K, 39>;    ///< 3 levels (L1-L3), 1 GiB and 2 MiB blocks
using Vmsa4k48 = Vmsa<Granule::k4K, 48>;    ///< 4 levels (L0-L3)
using Vmsa4k52 = Vmsa<Granule::k4K, 52>;    ///< 5 levels (L-1-L3), FEAT_LPA2, 512 GiB L0 blocks
using Vmsa16k47 = Vmsa<Granule::k16K, 47>;  ///< 3 levels (L1-L3), 32 MiB blocks
using Vmsa16k48 = Vmsa<Granule::k16K, 48>;  ///< 4 levels, a 2-entry L0 root
using Vmsa16k52 = Vmsa<Granule::k16K, 52>;  ///< 4 levels, FEAT_LPA2, 64 GiB L1 blocks
using Vmsa64k42 = Vmsa<Granule::k64K, 42>;  ///< 2 levels (L2-L3), 512 MiB blocks
using Vmsa64k48 = Vmsa<Granule::k64K, 48>;  ///< 3 levels (L1-L3)
using Vmsa64k52 = Vmsa<Granule::k64K, 52>;  ///< 3 levels, FEAT_LVA + FEAT_LPA, 4 TiB L1 blocks

static_assert(PagingFormat<Vmsa4k39>);
static_assert(PagingFormat<Vmsa4k48>);
static_assert(PagingFormat<Vmsa4k52>);
static_assert(PagingFormat<Vmsa16k47>);
static_assert(PagingFormat<Vmsa16k48>);
static_assert(PagingFormat<Vmsa16k52>);
static_assert(PagingFormat<Vmsa64k42>);
static_assert(PagingFormat<Vmsa64k48>);
static_assert(PagingFormat<Vmsa64k52>);

}  // namespace arm64
PTLIB_END_NAMESPACE
