// What an ARMv7 LPAE kernel needs around its tables at boot: TTBR0/TTBR1 split address spaces with
// a TTBCR.T0SZ/T1SZ split (including the T0SZ = 0 case, where the TTBR0 walk covers more than the
// TTBR0 region), the classic 3G/1G layout and the 3840 MiB / 256 MiB 4G/4G layout,
// and the TTBR0, TTBR1, TTBCR, MAIR0 and MAIR1 values. Pure computation (no CP15 access).
//
// Sources: ARM Architecture Reference Manual ARMv7-A and ARMv7-R edition (ARM DDI 0406C),
// "ARM ARM v7":
//  - B3.6.4 "Selecting between TTBR0 and TTBR1, Long-descriptor translation table format": with
//    T0SZ = M > 0 and T1SZ = 0, TTBR0 translates [0, 2^(32-M)) and TTBR1 the rest; with T0SZ = 0
//    and T1SZ = N > 0, TTBR1 translates the top 2^(32-N) bytes and TTBR0 everything below
//    [0, 2^32 - 2^(32-N)), although its walk (a 4-entry first-level table, B3.6.6) could reach
//    the whole 4 GiB; with both non-zero, the addresses between the two regions fault. Linux
//    uses T0SZ = 0, T1SZ = 2 for its 3G/1G split (arch/arm/include/asm/pgtable-3level-hwdef.h:
//    "0xc0000000: T0SZ = 0, T1SZ = 2").
//  - B4.1.153 TTBCR, Long-descriptor format (EAE = 1): T0SZ [2:0], EPD0 [7], IRGN0 [9:8],
//    ORGN0 [11:10], SH0 [13:12], T1SZ [18:16], A1 [22], EPD1 [23], IRGN1 [25:24], ORGN1 [27:26],
//    SH1 [29:28], EAE [31]; IRGNn/ORGNn 0b00 Non-cacheable, 0b01 Write-Back Write-Allocate,
//    0b10 Write-Through, 0b11 Write-Back no Write-Allocate; SHn 0b00 Non-shareable, 0b10 Outer,
//    0b11 Inner Shareable.
//  - B4.1.154 / B4.1.155 TTBR0 / TTBR1, 64-bit format: ASID [55:48], BADDR [39:x] with
//    x = 5 - TxSZ (TxSZ 0 or 1) or 14 - TxSZ (TxSZ > 1), the root's alignment (armv7.hpp
//    Lpae::kBaddrLowBit).
//  - B4.1.104 MAIR0 / MAIR1 (armv7::kMair0 / kMair1).
// Layouts: Linux Documentation/arch/arm/memory.rst (VMALLOC_END = 0xff800000, the fixmap at
// 0xffc80000..0xffefffff, modules below PAGE_OFFSET) with PAGE_OFFSET 0xC0000000 (VMSPLIT_3G) and
// Linux's default 240 MiB of vmalloc after an 8 MiB gap above lowmem; RAM past lowmem is highmem
// (Documentation/arch/arm/memory.rst, arch/arm/mm/mmu.c: arm_lowmem_limit). The 4G/4G split
// layout is ptlib's: TTBR1 = top 256 MiB for image, modules, vmalloc and fixmap; TTBR0 = the low
// 3840 MiB for user space, and for the kernel's lowmem in a tree of its own with its own ASID.
#pragma once
#include <array>
#include <bit>
#include <cstdint>
#include <type_traits>

#include <ptlib/armv7.hpp>
#include <ptlib/layout.hpp>
#include <ptlib/maps.hpp>

PTLIB_BEGIN_NAMESPACE
namespace armv7 {

namespace detail {
constexpr std::array<char, 32> clipped_name(VaRule rule, unsigned other_txsz) {
  std::array<char, 32> out{};
  std::size_t n = 0;
  auto put = [&](const char* s) {
    while (*s) out[n++] = *s++;
  };
  put(rule == VaRule::low ? "armv7-lpae-t1sz" : "armv7-lpae-t0sz");
  out[n++] = char('0' + other_txsz);
  put(rule == VaRule::low ? "-ttbr0" : "-ttbr1");
  return out;
}
}  // namespace detail

/// An LPAE region whose table walk reaches further than the region (B3.6.4): the TTBR0 tree of
/// a T0SZ = 0, T1SZ = N split translates [0, 2^32 - 2^(32-N)) with a walk that spans 4 GiB, and
/// the TTBR1 tree of a T0SZ = M, T1SZ = 0 split translates [2^(32-M), 2^32) with a walk from 0.
/// Everything is Lpae<32>'s but the VA range: the optional format members kVaStart/kVaEnd make
/// Geometry::va_in_range (so map(), unmap(), translate() and the rest) refuse VAs outside
/// [kVaStart, kVaEnd) with Errc::va_out_of_range (a leaf there would shadow the other TTBR's region).
template <VaRule Range, std::uint64_t Start, std::uint64_t End>
struct LpaeClipped : Lpae<32, Range> {
  static_assert(Start < End && End <= (std::uint64_t{1} << 32));
  static constexpr std::uint64_t kVaStart = Start;
  static constexpr std::uint64_t kVaEnd = End;
  /// T1SZ of the other region (TTBR0 trees) or T0SZ (TTBR1 trees), for the name.
  static constexpr unsigned kOtherTxSz = unsigned(
      32 - std::countr_zero(Range == VaRule::low ? (std::uint64_t{1} << 32) - End : Start));
  static constexpr std::array<char, 32> kNameChars = detail::clipped_name(Range, kOtherTxSz);
  static constexpr const char* kName = kNameChars.data();
};

/// The two formats of a TTBCR.T0SZ / T1SZ split (B3.6.4). Not T0SZ = T1SZ = 0: then TTBR1 is
/// unused and Lpae32 alone translates everything.
template <unsigned T0SZ, unsigned T1SZ>
struct SplitFormats {
  static_assert(T0SZ <= 7 && T1SZ <= 7, "TTBCR.T0SZ and T1SZ are 3-bit fields");
  static_assert(T0SZ || T1SZ, "T0SZ = T1SZ = 0: TTBR1 is not used (use Lpae32)");
  static constexpr std::uint64_t k4G = std::uint64_t{1} << 32;
  /// TTBR0 translates [0, kTtbr0End), TTBR1 [kTtbr1Start, 2^32).
  static constexpr std::uint64_t kTtbr0End = T0SZ ? std::uint64_t{1} << (32 - T0SZ) : k4G - (std::uint64_t{1} << (32 - T1SZ));
  static constexpr std::uint64_t kTtbr1Start = T1SZ ? k4G - (std::uint64_t{1} << (32 - T1SZ)) : std::uint64_t{1} << (32 - T0SZ);
  using Ttbr0 = std::conditional_t<T0SZ == 0, LpaeClipped<VaRule::low, 0, kTtbr0End>, Lpae<32 - T0SZ, VaRule::low>>;
  using Ttbr1 = std::conditional_t<T1SZ == 0, LpaeClipped<VaRule::high, kTtbr1Start, k4G>, Lpae<32 - T1SZ, VaRule::high>>;
};

/// A split address space for TTBCR.T0SZ / T1SZ (e.g. Split<0, 4>: 3840 MiB / 256 MiB).
template <unsigned T0SZ, unsigned T1SZ>
using Split = SplitSpace<typename SplitFormats<T0SZ, T1SZ>::Ttbr0, typename SplitFormats<T0SZ, T1SZ>::Ttbr1>;

static_assert(PagingFormat<SplitFormats<0, 4>::Ttbr0>);
static_assert(PagingFormat<SplitFormats<2, 0>::Ttbr1>);

/// TTBCR.IRGNn / ORGNn (B4.1.153).
enum class Cacheability : std::uint8_t { non_cacheable = 0b00, wb_wa = 0b01, wt = 0b10, wb_no_wa = 0b11 };
/// TTBCR.SHn (0b01 is reserved).
enum class Shareability : std::uint8_t { non = 0b00, outer = 0b10, inner = 0b11 };

/// How the walker reads one tree's tables.
struct WalkAttrs {
  Cacheability inner = Cacheability::wb_wa;
  Cacheability outer = Cacheability::wb_wa;
  Shareability share = Shareability::inner;
};

/// TTBCR choices the formats do not fix.
struct TtbcrOptions {
  WalkAttrs walk0{}, walk1{};
  bool asid_in_ttbr1 = false;  ///< A1: the ASID comes from TTBR1 (else TTBR0)
  bool disable_ttbr0 = false;  ///< EPD0
  bool disable_ttbr1 = false;  ///< EPD1
};

namespace detail {
template <class F>
inline constexpr bool kIsLpae = requires { F::kTxSZ; F::kBaddrLowBit; } && std::is_same_v<typename F::Level, Level>;
}  // namespace detail

/// TTBR0 / TTBR1 (64-bit format) for `tree`: BADDR [39:x], ASID [55:48].
/// Errors: misaligned_table (the root not aligned to 2^x), pa_out_of_range (root at or above
/// 2^40), field_out_of_range (ASID wider than 8 bits).
template <PagingFormat F>
constexpr Result<std::uint64_t> ttbr(const Tree<F>& tree, std::uint32_t asid = 0) {
  static_assert(detail::kIsLpae<F>, "ttbr: not an ARMv7 LPAE format");
  const PhysAddr root = tree.root;
  if (!root.aligned(std::uint64_t{1} << F::kBaddrLowBit)) return make_error(Errc::misaligned_table, VirtAddr{}, root);
  if (root.value >> 40) return make_error(Errc::pa_out_of_range, VirtAddr{}, root);
  if (asid > 0xff) return make_error(Errc::field_out_of_range, VirtAddr{}, root);
  return root.value | (std::uint64_t{asid} << 48);
}

/// TTBCR (EAE = 1) for TTBR0 format Low and TTBR1 format High (High = void: TTBR0 only,
/// T1SZ = 0 and TTBR1 walks disabled with EPD1).
template <PagingFormat Low, class High = void>
constexpr std::uint32_t ttbcr(const TtbcrOptions& o = {}) {
  static_assert(detail::kIsLpae<Low> && Low::kVaRule == VaRule::low, "ttbcr: Low must be an LPAE TTBR0 format");
  std::uint32_t t1sz = 0;
  if constexpr (!std::is_void_v<High>) {
    static_assert(detail::kIsLpae<High> && High::kVaRule == VaRule::high, "ttbcr: High must be an LPAE TTBR1 format");
    t1sz = High::kTxSZ;
  }
  auto walk = [](const WalkAttrs& w, unsigned shift) {
    return (std::uint32_t(w.inner) << shift) | (std::uint32_t(w.outer) << (shift + 2)) |
           (std::uint32_t(w.share) << (shift + 4));
  };
  std::uint32_t v = (std::uint32_t{1} << 31) | Low::kTxSZ | (t1sz << 16);  // EAE, T0SZ, T1SZ
  v |= walk(o.walk0, 8) | walk(o.walk1, 24);
  if (o.disable_ttbr0) v |= 1U << 7;
  if (o.disable_ttbr1 || std::is_void_v<High>) v |= 1U << 23;
  if (o.asid_in_ttbr1) v |= 1U << 22;
  return v;
}

/// The registers that turn a split space on.
struct SplitRegs {
  std::uint64_t ttbr0 = 0, ttbr1 = 0;
  std::uint32_t ttbcr = 0, mair0 = kMair0, mair1 = kMair1;
};

/// TTBR0 (with `asid`, as A1 = 0 reads it), TTBR1, TTBCR, MAIR0 and MAIR1 for a split space.
/// Errors: those of ttbr().
template <PagingFormat Low, PagingFormat High>
constexpr Result<SplitRegs> split_regs(const SplitSpace<Low, High>& s, std::uint32_t asid = 0, const TtbcrOptions& o = {}) {
  auto t0 = ttbr(s.low, o.asid_in_ttbr1 ? 0 : asid);
  if (!t0) return t0.error();
  auto t1 = ttbr(s.high, o.asid_in_ttbr1 ? asid : 0);
  if (!t1) return t1.error();
  return SplitRegs{*t0, *t1, ttbcr<Low, High>(o), kMair0, kMair1};
}

/// Layouts. Classic: Linux's 3G/1G split with LPAE (T0SZ = 0, T1SZ = 2), the image in lowmem,
/// modules in the 16 MiB below PAGE_OFFSET (left out of the user range). Lowmem ends where Linux
/// puts it by default (arch/arm/mm/mmu.c: vmalloc_min = VMALLOC_END - 240 MiB - VMALLOC_OFFSET
/// = 0xf0000000, so 768 MiB), vmalloc starts 8 MiB (VMALLOC_OFFSET) above it; RAM past lowmem
/// is highmem (Layout::highmem), as in Linux.
inline constexpr Layout kLayout3g{
    "armv7-lpae-3g",
    Region{VirtAddr(0), 0xbf00'0000ULL},              // user, up to PAGE_OFFSET - 16 MiB
    Region{VirtAddr(0xc000'0000ULL), 0x3000'0000ULL},  // lowmem, 768 MiB (high_memory 0xf0000000)
    Region{VirtAddr(0xf080'0000ULL), 0x0f00'0000ULL},  // vmalloc, 240 MiB after the 8 MiB gap, to VMALLOC_END
    Region{},                                          // image in lowmem
    Region{VirtAddr(0xffc8'0000ULL), 0x0028'0000ULL},  // fixmap 0xffc80000..0xffefffff
    0, false, true};

/// The 4G/4G split (T0SZ = 0, T1SZ = 4): TTBR0 covers the low 3840 MiB and
/// holds either a process (user) or the kernel's lowmem (ptlib's choice: RAM mapped from VA 0);
/// TTBR1's 256 MiB holds vmalloc with the image and modules in its last 32 MiB (the reach of an
/// ARM BL instruction, +-32 MiB), and the fixmap.
inline constexpr std::uint64_t kBranchReach = 32ULL << 20;
inline constexpr Layout kLayout4g4g{
    "armv7-lpae-4g4g",
    Region{VirtAddr(0), 0xf000'0000ULL},                             // user (a process's TTBR0 tree)
    Region{VirtAddr(0), 0xf000'0000ULL},                             // lowmem (the kernel's TTBR0 tree)
    Region{VirtAddr(0xf000'0000ULL), 0x0f80'0000ULL},                // vmalloc, to VMALLOC_END
    Region{VirtAddr(0xff80'0000ULL - kBranchReach), kBranchReach},   // image + modules
    Region{VirtAddr(0xffc8'0000ULL), 0x0028'0000ULL},                // fixmap
    kBranchReach, true, true};

static_assert(check_layout<SplitFormats<0, 2>::Ttbr0, SplitFormats<0, 2>::Ttbr1>(kLayout3g).ok());
static_assert(check_layout<SplitFormats<0, 4>::Ttbr0, SplitFormats<0, 4>::Ttbr1, SplitFormats<0, 4>::Ttbr0>(
                  kLayout4g4g)
                  .ok());

}  // namespace armv7
PTLIB_END_NAMESPACE
