// What an x86 kernel needs around its tables at boot: the address-space layouts for 4- and 5-level
// paging and for the 32-bit modes, and the CR3 / CR4 / EFER / CR0 values that turn a tree on.
// Pure computation (no control register or MSR access).
//
// Sources:
//  - Intel SDM vol. 3A, chapter 4 "Paging" (numbering as in x86.hpp): 4.1.1 and Table 4-1
//    (CR0.PG, CR4.PAE, IA32_EFER.LME and CR4.LA57 select the paging mode; CR4.PSE enables 4 MiB
//    pages in 32-bit paging; CR4.PGE global pages; CR4.PCIDE process-context ids; IA32_EFER.NXE
//    execute-disable), Table 4-3 (CR3 with 32-bit paging: PWT [3], PCD [4], PD address [31:12]),
//    Table 4-7 (CR3 with PAE paging: PDPT address [31:5]), Tables 4-12 / 4-13 (CR3 with 4-/5-level
//    paging: PWT [3], PCD [4] when CR4.PCIDE = 0, PCID [11:0] when CR4.PCIDE = 1, root address
//    [M-1:12]), 4.10.1 (CR4.PCIDE can be 1 only in IA-32e mode; PCIDs are 12 bits), 4.10.4.1
//    (bit 63 of a MOV to CR3 with CR4.PCIDE = 1: do not invalidate the PCID's entries).
//    Control register bits: SDM vol. 3A 2.5 "Control Registers" (CR0.PE [0], CR0.WP [16],
//    CR0.PG [31]; CR4.PSE [4], CR4.PAE [5], CR4.PGE [7], CR4.LA57 [12], CR4.PCIDE [17]) and
//    2.2.1 "Extended Feature Enable Register" (IA32_EFER.LME [8], IA32_EFER.NXE [11]).
//  - Layouts: Linux Documentation/arch/x86/x86_64/mm.rst ("Complete virtual memory map with
//    4-level page tables" and "... 5-level page tables": user space, direct mapping of all
//    physical memory, vmalloc/ioremap space, and the fixmap below the vsyscall page). The image
//    follows the RISC-V port's design (the last 2 GiB of vmalloc, modules after it); Linux links x86-64
//    kernel text at ffffffff80000000 with modules right after it (see docs/maps.md). 32-bit:
//    PAGE_OFFSET 0xC0000000 (arch/x86/Kconfig, VMSPLIT_3G), 896 MiB of lowmem, an 8 MiB gap
//    before vmalloc (VMALLOC_OFFSET), the fixmap up to FIXADDR_TOP 0xFFFFF000; the image in the
//    linear map.
#pragma once
#include <cstdint>
#include <optional>
#include <type_traits>

#include <ptlib/layout.hpp>
#include <ptlib/walk.hpp>
#include <ptlib/x86.hpp>

PTLIB_BEGIN_NAMESPACE
namespace x86 {

/// Control-register and EFER bits (SDM vol. 3A 2.5, 2.2.1).
namespace cr {
inline constexpr std::uint64_t kCr0Pe = 1ULL << 0, kCr0Wp = 1ULL << 16, kCr0Pg = 1ULL << 31;
inline constexpr std::uint64_t kCr4Pse = 1ULL << 4, kCr4Pae = 1ULL << 5, kCr4Pge = 1ULL << 7, kCr4La57 = 1ULL << 12,
                               kCr4Pcide = 1ULL << 17;
inline constexpr std::uint64_t kEferLme = 1ULL << 8, kEferNxe = 1ULL << 11;
inline constexpr std::uint64_t kCr3Pwt = 1ULL << 3, kCr3Pcd = 1ULL << 4, kCr3NoFlush = 1ULL << 63;
}  // namespace cr

/// Bits a register must have set and clear for a paging mode: new = (old & ~clear) | set.
struct ControlBits {
  std::uint64_t set = 0;
  std::uint64_t clear = 0;
  [[nodiscard]] constexpr std::uint64_t apply(std::uint64_t old) const { return (old & ~clear) | set; }
  constexpr bool operator==(const ControlBits&) const = default;
};

namespace detail {
template <class F>
inline constexpr bool kIsIa32e = std::is_same_v<F, Long4> || std::is_same_v<F, Long5>;
template <class F>
inline constexpr bool kIsX86 = kIsIa32e<F> || std::is_same_v<F, X86_32> || std::is_same_v<F, Pae>;
}  // namespace detail

/// CR3 choices.
struct Cr3Options {
  bool pwt = false;  ///< page-level write-through for the root (CR4.PCIDE = 0 only)
  bool pcd = false;  ///< page-level cache disable for the root (CR4.PCIDE = 0 only)
  std::optional<std::uint16_t> pcid;  ///< CR4.PCIDE = 1: the process-context id (12 bits)
  bool no_flush = false;  ///< with a PCID: bit 63, keep the PCID's TLB entries on the write
};

/// The CR3 value for `tree`. Errors: misaligned_table (the root: 4 KiB, or 32 bytes for the PAE
/// PDPT), pa_out_of_range (32-bit and PAE paging: root at or above 4 GiB, CR3 being 32 bits
/// there; 4-/5-level: above 2^52), field_out_of_range (a PCID wider than 12 bits, a PCID outside
/// IA-32e paging, PWT/PCD together with a PCID, no_flush without a PCID, PWT/PCD with PAE).
template <PagingFormat F>
constexpr Result<std::uint64_t> cr3(const Tree<F>& tree, const Cr3Options& o = {}) {
  static_assert(detail::kIsX86<F>, "cr3: not an x86 format");
  using G = Geometry<F>;
  const PhysAddr root = tree.root;
  if (!root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, VirtAddr{}, root);
  if constexpr (!detail::kIsIa32e<F>) {
    if (root.value >> 32) return make_error(Errc::pa_out_of_range, VirtAddr{}, root);
    if (o.pcid || o.no_flush) return make_error(Errc::field_out_of_range, VirtAddr{}, root);
    if (std::is_same_v<F, Pae> && (o.pwt || o.pcd)) return make_error(Errc::field_out_of_range, VirtAddr{}, root);
  } else {
    if (root.value > G::kPaLimit) return make_error(Errc::pa_out_of_range, VirtAddr{}, root);
    if (o.pcid && (*o.pcid > 0xfff || o.pwt || o.pcd)) return make_error(Errc::field_out_of_range, VirtAddr{}, root);
    if (o.no_flush && !o.pcid) return make_error(Errc::field_out_of_range, VirtAddr{}, root);
  }
  std::uint64_t v = root.value;
  if (o.pwt) v |= cr::kCr3Pwt;
  if (o.pcd) v |= cr::kCr3Pcd;
  if (o.pcid) v |= *o.pcid;
  if (o.no_flush) v |= cr::kCr3NoFlush;
  return v;
}

/// CR4 choices.
struct Cr4Options {
  bool pge = true;     ///< global pages (the formats write G for Perm::global)
  bool pcide = false;  ///< process-context ids (IA-32e paging only)
};

/// The CR4 paging bits for F: PSE (32-bit paging with Caps::pse), PAE (every mode but 32-bit),
/// LA57 (5-level), PGE and PCIDE as asked; the other paging bits cleared.
/// Errors: field_out_of_range (PCIDE outside IA-32e paging).
template <PagingFormat F>
constexpr Result<ControlBits> cr4(const typename F::Caps& caps = {}, const Cr4Options& o = {}) {
  static_assert(detail::kIsX86<F>, "cr4: not an x86 format");
  if (o.pcide && !detail::kIsIa32e<F>) return make_error(Errc::field_out_of_range);
  std::uint64_t set = 0;
  if constexpr (std::is_same_v<F, X86_32>) {
    if (caps.pse) set |= cr::kCr4Pse;
  } else {
    set |= cr::kCr4Pae;
  }
  if constexpr (std::is_same_v<F, Long5>) set |= cr::kCr4La57;
  if (o.pge) set |= cr::kCr4Pge;
  if (o.pcide) set |= cr::kCr4Pcide;
  const std::uint64_t all = cr::kCr4Pse | cr::kCr4Pae | cr::kCr4Pge | cr::kCr4La57 | cr::kCr4Pcide;
  return ControlBits{set, all & ~set};
}

/// The IA32_EFER bits for F: LME for 4-/5-level paging, NXE when the tree's format writes XD
/// (Caps::nx, every mode but 32-bit paging).
template <PagingFormat F>
constexpr ControlBits efer(const typename F::Caps& caps = {}) {
  static_assert(detail::kIsX86<F>, "efer: not an x86 format");
  std::uint64_t set = 0;
  if constexpr (detail::kIsIa32e<F>) set |= cr::kEferLme;
  if constexpr (!std::is_same_v<F, X86_32>) {
    if (caps.nx) set |= cr::kEferNxe;
  }
  return ControlBits{set, (cr::kEferLme | cr::kEferNxe) & ~set};
}

/// CR0: protection, paging, and WP (supervisor writes honour read-only pages, which ptlib's
/// read-only kernel mappings rely on).
inline constexpr ControlBits kCr0{cr::kCr0Pe | cr::kCr0Pg | cr::kCr0Wp, 0};

/// Layouts (Documentation/arch/x86/x86_64/mm.rst for 64-bit).
inline constexpr std::uint64_t kImageWindow = 2ULL << 30;

inline constexpr Layout kLayoutLong4{
    "x86-64-l4",
    Region{VirtAddr(0), 0x0000'8000'0000'0000ULL},                         // user, 128 TiB
    Region{VirtAddr(0xffff'8880'0000'0000ULL), 0x0000'4000'0000'0000ULL},   // direct mapping, 64 TiB
    Region{VirtAddr(0xffff'c900'0000'0000ULL), 0x0000'2000'0000'0000ULL},   // vmalloc/ioremap, 32 TiB
    Region{VirtAddr(0xffff'e900'0000'0000ULL - kImageWindow), kImageWindow},
    Region{VirtAddr(0xffff'ffff'ff00'0000ULL), 0x60'0000ULL},              // fixmap, up to the vsyscall page
    kImageWindow, false};

inline constexpr Layout kLayoutLong5{
    "x86-64-l5",
    Region{VirtAddr(0), 0x0100'0000'0000'0000ULL},                         // user, 64 PiB
    Region{VirtAddr(0xff11'0000'0000'0000ULL), 0x0080'0000'0000'0000ULL},   // direct mapping, 32 PiB
    Region{VirtAddr(0xffa0'0000'0000'0000ULL), 0x0032'0000'0000'0000ULL},   // vmalloc/ioremap, 12.5 PiB
    Region{VirtAddr(0xffd2'0000'0000'0000ULL - kImageWindow), kImageWindow},
    Region{VirtAddr(0xffff'ffff'ff00'0000ULL), 0x60'0000ULL},              // fixmap
    kImageWindow, false};

/// 32-bit and PAE paging: the 3G/1G split with the image in the linear map.
inline constexpr Layout kLayout32{
    "x86-32",
    Region{VirtAddr(0), 0xc000'0000ULL},                // user, 3 GiB
    Region{VirtAddr(0xc000'0000ULL), 0x3800'0000ULL},   // lowmem, 896 MiB
    Region{VirtAddr(0xf880'0000ULL), 0x0700'0000ULL},   // vmalloc, after an 8 MiB gap, 112 MiB
    Region{},                                           // image in the linear map
    Region{VirtAddr(0xff80'0000ULL), 0x007f'f000ULL},   // fixmap, up to FIXADDR_TOP 0xfffff000
    0, false, true};  // RAM past 896 MiB is highmem, as in Linux

/// The layout for a format.
template <PagingFormat F>
constexpr const Layout& layout() {
  static_assert(detail::kIsX86<F>, "layout: not an x86 format");
  if constexpr (std::is_same_v<F, Long4>) return kLayoutLong4;
  else if constexpr (std::is_same_v<F, Long5>) return kLayoutLong5;
  else return kLayout32;
}

static_assert(check_layout<Long4>(kLayoutLong4).ok());
static_assert(check_layout<Long5>(kLayoutLong5).ok());
static_assert(check_layout<X86_32>(kLayout32).ok());
static_assert(check_layout<Pae>(kLayout32).ok());

}  // namespace x86
PTLIB_END_NAMESPACE
