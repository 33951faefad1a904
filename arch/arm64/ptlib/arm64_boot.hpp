// What an arm64 kernel needs around its tables at boot: split address spaces (TTBR0_EL1 /
// TTBR1_EL1), the address-space layouts for 48- and 52-bit VAs, and the values of TTBR0_EL1,
// TTBR1_EL1, TCR_EL1 and MAIR_EL1 for a pair of trees. Pure computation (no system register
// access).
//
// Sources:
//  - Arm Architecture Reference Manual for A-profile architecture, DDI 0487K.a ("Arm ARM"),
//    D19.2 (AArch64 system registers): TTBR0_EL1 / TTBR1_EL1 (ASID [63:48]; BADDR [47:1]; CnP
//    [0]; with a 52-bit output address, FEAT_LPA with the 64KB granule or FEAT_LPA2 with DS = 1,
//    register bits [5:2] hold BADDR[51:48] and the table is at least 64-byte aligned), TCR_EL1
//    (T0SZ [5:0], EPD0 [7], IRGN0 [9:8], ORGN0 [11:10], SH0 [13:12], TG0 [15:14], T1SZ [21:16],
//    A1 [22], EPD1 [23], IRGN1 [25:24], ORGN1 [27:26], SH1 [29:28], TG1 [31:30], IPS [34:32],
//    AS [36], TBI0 [37], TBI1 [38], HA [39], HD [40], DS [59]), MAIR_EL1 (arm64::kMair).
//    Linux does the same packing of BADDR[51:48] in phys_to_ttbr() (arch/arm64, TTBR_BADDR_MASK_52).
//  - Layouts: Linux Documentation/arch/arm64/memory.rst ("4KB pages + 4 levels (48-bit)" and
//    "64KB pages + 3 levels (52-bit with HW support)": user, kernel logical memory map, vmalloc,
//    fixed mappings). The kernel image follows the RISC-V port's design: the last 2 GiB of vmalloc, with
//    modules after it. (Linux arm64 links the image at the start of vmalloc with a 2 GiB module
//    region just below; both keep modules within +-2 GiB. See docs/maps.md.)
#pragma once
#include <cstdint>
#include <type_traits>

#include <ptlib/arm64.hpp>
#include <ptlib/layout.hpp>
#include <ptlib/maps.hpp>

PTLIB_BEGIN_NAMESPACE
namespace arm64 {

/// A split address space with one VA size for both halves: TTBR0_EL1 holds the low tree
/// [0, 2^VaBits), TTBR1_EL1 the high tree [2^64 - 2^VaBits, 2^64). Both use the same output size
/// (so the same descriptor format: TCR_EL1.DS is one bit for both). Halves of different sizes:
/// SplitSpace<Vmsa<G, A, VaRule::low, Oa>, Vmsa<G, B, VaRule::high, Oa>>.
template <Granule G, unsigned VaBits, unsigned OaBits = (VaBits == 52 ? 52 : 48)>
using Split = SplitSpace<Vmsa<G, VaBits, VaRule::low, OaBits>, Vmsa<G, VaBits, VaRule::high, OaBits>>;

/// MAIR_EL1 for ptlib's attribute indexes (see arm64.hpp).
inline constexpr std::uint64_t kMairEl1 = kMair;

/// TCR_ELx.IRGNn / ORGNn: cacheability of table walks (Arm ARM D19.2, TCR_EL1).
enum class Cacheability : std::uint8_t {
  non_cacheable = 0b00,
  wb_wa = 0b01,     ///< Write-Back Read-Allocate Write-Allocate
  wt = 0b10,        ///< Write-Through Read-Allocate No Write-Allocate
  wb_no_wa = 0b11,  ///< Write-Back Read-Allocate No Write-Allocate
};
/// TCR_ELx.SHn: shareability of table walks (0b01 is reserved).
enum class Shareability : std::uint8_t { non = 0b00, outer = 0b10, inner = 0b11 };

/// How the walker reads one tree's tables.
struct WalkAttrs {
  Cacheability inner = Cacheability::wb_wa;
  Cacheability outer = Cacheability::wb_wa;
  Shareability share = Shareability::inner;
};

/// TCR_EL1 choices the formats do not fix.
struct TcrOptions {
  WalkAttrs walk0{};       ///< IRGN0/ORGN0/SH0
  WalkAttrs walk1{};       ///< IRGN1/ORGN1/SH1
  unsigned pa_bits = 0;    ///< IPS: 32, 36, 40, 42, 44, 48 or 52; 0 = the formats' output size
  bool asid16 = true;      ///< AS: 16-bit ASIDs (else 8-bit)
  bool asid_in_ttbr1 = false;  ///< A1: the ASID comes from TTBR1_EL1 (else TTBR0_EL1)
  bool disable_ttbr0 = false;  ///< EPD0: no walks through TTBR0_EL1
  bool disable_ttbr1 = false;  ///< EPD1: no walks through TTBR1_EL1
  bool tbi0 = false, tbi1 = false;  ///< TBI0/TBI1: top byte ignored
  bool hw_access = false;  ///< HA: hardware Access flag updates (FEAT_HAFDBS)
  bool hw_dirty = false;   ///< HD: hardware dirty state (FEAT_HAFDBS)
};

namespace regs {
inline constexpr unsigned kT0szShift = 0, kEpd0 = 7, kIrgn0Shift = 8, kOrgn0Shift = 10, kSh0Shift = 12,
                          kTg0Shift = 14, kT1szShift = 16, kA1 = 22, kEpd1 = 23, kIrgn1Shift = 24,
                          kOrgn1Shift = 26, kSh1Shift = 28, kTg1Shift = 30, kIpsShift = 32, kAs = 36,
                          kTbi0 = 37, kTbi1 = 38, kHa = 39, kHd = 40, kDs = 59;
/// TCR_EL1.TG0 (4KB 0b00, 64KB 0b01, 16KB 0b10) and TG1 (16KB 0b01, 4KB 0b10, 64KB 0b11).
constexpr std::uint64_t tg0(Granule g) { return g == Granule::k4K ? 0b00 : g == Granule::k64K ? 0b01 : 0b10; }
constexpr std::uint64_t tg1(Granule g) { return g == Granule::k16K ? 0b01 : g == Granule::k4K ? 0b10 : 0b11; }
/// TCR_EL1.IPS for a PA size, or 8 when the size has no encoding.
constexpr std::uint64_t ips(unsigned bits) {
  switch (bits) {
    case 32: return 0b000;
    case 36: return 0b001;
    case 40: return 0b010;
    case 42: return 0b011;
    case 44: return 0b100;
    case 48: return 0b101;
    case 52: return 0b110;
    default: return 8;
  }
}
constexpr std::uint64_t walk(const WalkAttrs& w, unsigned irgn, unsigned orgn, unsigned sh) {
  return (std::uint64_t(w.inner) << irgn) | (std::uint64_t(w.outer) << orgn) | (std::uint64_t(w.share) << sh);
}
template <class F>
inline constexpr bool kIsVmsa = requires { F::kGranule; F::kTxSz; F::kLpa2; F::kLpa; };
}  // namespace regs

/// TTBR0_EL1 / TTBR1_EL1 for `tree`: BADDR (with BADDR[51:48] in bits [5:2] for a 52-bit output
/// address), ASID in [63:48], CnP in [0]. Errors: misaligned_table (the root is not aligned to
/// its table size, 64 bytes at least), pa_out_of_range (the root is wider than the output size),
/// field_out_of_range (ASID wider than 16 bits; with TCR_EL1.AS = 0 only 8 bits are used).
template <PagingFormat F>
constexpr Result<std::uint64_t> ttbr(const Tree<F>& tree, std::uint32_t asid = 0, bool cnp = false) {
  static_assert(regs::kIsVmsa<F>, "ttbr: not an arm64 format");
  using G = Geometry<F>;
  const std::uint64_t pa = tree.root.value;
  if (!tree.root.aligned(G::table_align(0)) || !tree.root.aligned(64))
    return make_error(Errc::misaligned_table, VirtAddr{}, tree.root);
  if (pa > G::kPaLimit) return make_error(Errc::pa_out_of_range, VirtAddr{}, tree.root);
  if (asid > 0xffff) return make_error(Errc::field_out_of_range, VirtAddr{}, tree.root);
  std::uint64_t baddr = pa & detail::bit_range(47, 1);
  if constexpr (F::kPaBits == 52) baddr |= ((pa >> 48) & 0xf) << 2;
  return baddr | (std::uint64_t{asid} << 48) | (cnp ? 1U : 0U);
}

/// TCR_EL1 for a split space whose TTBR0_EL1 tree has format Low and TTBR1_EL1 tree High
/// (High = void: TTBR0 only, TTBR1 walks disabled with EPD1 and T1SZ/TG1 copied from Low).
/// T0SZ/T1SZ and TG0/TG1 come from the formats; DS = 1 when they use the FEAT_LPA2 descriptor
/// format (both must agree); IPS from opts.pa_bits or the formats' output size.
/// Errors: pa_out_of_range (opts.pa_bits beyond a format's output size), field_out_of_range
/// (opts.pa_bits with no IPS encoding), unsupported_attrs (DS = 1 with a walk shareability other
/// than Inner Shareable: with DS = 1, SH0/SH1 also give the shareability of every block and page,
/// and ptlib's descriptors are Inner Shareable).
template <PagingFormat Low, class High = void>
constexpr Result<std::uint64_t> tcr_el1(const TcrOptions& o = {}) {
  static_assert(regs::kIsVmsa<Low> && Low::kVaRule == VaRule::low, "tcr_el1: Low must be an arm64 TTBR0 format");
  using H = std::conditional_t<std::is_void_v<High>, Low, High>;
  constexpr bool kOnlyLow = std::is_void_v<High>;
  if constexpr (!kOnlyLow) {
    static_assert(regs::kIsVmsa<H> && H::kVaRule == VaRule::high, "tcr_el1: High must be an arm64 TTBR1 format");
    static_assert(Low::kLpa2 == H::kLpa2, "TCR_EL1.DS is shared: both trees need the same descriptor format");
  }
  constexpr unsigned max_pa = Low::kPaBits < H::kPaBits ? Low::kPaBits : H::kPaBits;
  const unsigned pa_bits = o.pa_bits ? o.pa_bits : max_pa;
  if (pa_bits > max_pa) return make_error(Errc::pa_out_of_range);
  if (regs::ips(pa_bits) > 7) return make_error(Errc::field_out_of_range);
  constexpr bool ds = Low::kLpa2;
  if (ds && (o.walk0.share != Shareability::inner || o.walk1.share != Shareability::inner))
    return make_error(Errc::unsupported_attrs);
  using namespace regs;
  std::uint64_t v = std::uint64_t{Low::kTxSz} << kT0szShift;
  v |= walk(o.walk0, kIrgn0Shift, kOrgn0Shift, kSh0Shift) | (tg0(Low::kGranule) << kTg0Shift);
  v |= std::uint64_t{H::kTxSz} << kT1szShift;
  v |= walk(o.walk1, kIrgn1Shift, kOrgn1Shift, kSh1Shift) | (tg1(H::kGranule) << kTg1Shift);
  v |= ips(pa_bits) << kIpsShift;
  if (o.disable_ttbr0) v |= std::uint64_t{1} << kEpd0;
  if (o.disable_ttbr1 || kOnlyLow) v |= std::uint64_t{1} << kEpd1;
  if (o.asid_in_ttbr1) v |= std::uint64_t{1} << kA1;
  if (o.asid16) v |= std::uint64_t{1} << kAs;
  if (o.tbi0) v |= std::uint64_t{1} << kTbi0;
  if (o.tbi1) v |= std::uint64_t{1} << kTbi1;
  if (o.hw_access) v |= std::uint64_t{1} << kHa;
  if (o.hw_dirty) v |= std::uint64_t{1} << kHd;
  if (ds) v |= std::uint64_t{1} << kDs;
  return v;
}

/// The registers that turn a split space on.
struct SplitRegs {
  std::uint64_t ttbr0 = 0, ttbr1 = 0, tcr = 0, mair = kMairEl1;
};

/// TTBR0_EL1 (with `asid`, as TCR_EL1.A1 = 0 reads it), TTBR1_EL1, TCR_EL1 and MAIR_EL1 for a
/// split space. Errors: those of ttbr() and tcr_el1().
template <PagingFormat Low, PagingFormat High>
constexpr Result<SplitRegs> split_regs(const SplitSpace<Low, High>& s, std::uint32_t asid = 0, const TcrOptions& o = {}) {
  auto t0 = ttbr(s.low, o.asid_in_ttbr1 ? 0 : asid);
  if (!t0) return t0.error();
  auto t1 = ttbr(s.high, o.asid_in_ttbr1 ? asid : 0);
  if (!t1) return t1.error();
  auto tcr = tcr_el1<Low, High>(o);
  if (!tcr) return tcr.error();
  if (!o.asid16 && asid > 0xff) return make_error(Errc::field_out_of_range);
  return SplitRegs{*t0, *t1, *tcr, kMairEl1};
}

/// Layouts (Documentation/arch/arm64/memory.rst). The same for every granule at a VA size.
inline constexpr std::uint64_t kImageWindow = 2ULL << 30;
inline constexpr std::uint64_t kVmallocEnd = 0xffff'fbff'f000'0000ULL;

inline constexpr Layout kLayout48{
    "arm64-48",
    Region{VirtAddr(0), 0x0001'0000'0000'0000ULL},                         // user, 256 TiB (TTBR0)
    Region{VirtAddr(0xffff'0000'0000'0000ULL), 0x0000'8000'0000'0000ULL},   // kernel logical map, 128 TiB
    Region{VirtAddr(0xffff'8000'8000'0000ULL), 0x0000'7bff'7000'0000ULL},   // vmalloc (to fffffbffefffffff)
    Region{VirtAddr(kVmallocEnd - kImageWindow), kImageWindow},            // image + modules
    Region{VirtAddr(0xffff'fbff'f000'0000ULL), 0x0e00'0000ULL},            // fixed mappings, 224 MiB
    kImageWindow, false};

inline constexpr Layout kLayout52{
    "arm64-52",
    Region{VirtAddr(0), 0x0010'0000'0000'0000ULL},                         // user, 4 PiB (TTBR0)
    Region{VirtAddr(0xfff0'0000'0000'0000ULL), 0x000f'8000'0000'0000ULL},   // kernel logical map, ~4 PiB
    Region{VirtAddr(0xffff'8000'8000'0000ULL), 0x0000'7bff'7000'0000ULL},   // vmalloc
    Region{VirtAddr(kVmallocEnd - kImageWindow), kImageWindow},
    Region{VirtAddr(0xffff'fbff'f000'0000ULL), 0x0e00'0000ULL},            // fixed mappings, 224 MiB
    kImageWindow, false};

/// The layout for a VA size (48 or 52; smaller VA sizes need layouts of their own).
template <unsigned VaBits>
constexpr const Layout& layout() {
  static_assert(VaBits == 48 || VaBits == 52, "ptlib ships arm64 layouts for 48- and 52-bit VAs");
  if constexpr (VaBits == 48) return kLayout48;
  else return kLayout52;
}

static_assert(check_layout<Vmsa<Granule::k4K, 48>, Vmsa<Granule::k4K, 48, VaRule::high>>(kLayout48).ok());
static_assert(check_layout<Vmsa<Granule::k64K, 48>, Vmsa<Granule::k64K, 48, VaRule::high>>(kLayout48).ok());
static_assert(check_layout<Vmsa<Granule::k4K, 52>, Vmsa<Granule::k4K, 52, VaRule::high>>(kLayout52).ok());
static_assert(check_layout<Vmsa<Granule::k64K, 52>, Vmsa<Granule::k64K, 52, VaRule::high>>(kLayout52).ok());

}  // namespace arm64
PTLIB_END_NAMESPACE
