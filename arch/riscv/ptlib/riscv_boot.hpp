// What a RISC-V kernel needs around its tables at boot: the address-space layouts for Sv32, Sv39,
// Sv48 and Sv57, and the satp value that turns a tree on. Pure computation (no CSR access).
//
// Sources:
//  - satp: The RISC-V Instruction Set Manual, Volume II: Privileged Architecture, 20211203,
//    4.1.11 "Supervisor Address Translation and Protection (satp) Register": Figures 4.11 (RV32:
//    MODE [31], ASID [30:22], PPN [21:0]) and 4.12 (RV64: MODE [63:60], ASID [59:44],
//    PPN [43:0]); Table 4.4 (MODE 1 = Sv32, 8 = Sv39, 9 = Sv48, 10 = Sv57). The PPN is the root
//    table's physical address >> 12, so the root is 4 KiB aligned.
//  - Layouts: Linux Documentation/arch/riscv/vm-layout.rst (Sv39, Sv48, Sv57 tables: user
//    range, fixmap, vmalloc/ioremap, direct mapping); the kernel image follows Alexandre Ghiti's
//    "riscv: Move kernel mapping outside of linear mapping" (linux-riscv, 2020; Linux 5.13:
//    "KERNEL_VIRT_ADDR (VMALLOC_END - SZ_2G + 1)"): it sits in the last 2 GiB of the
//    vmalloc range, modules and BPF after it in the same window. Today's Linux has since moved
//    the image to the top 2 GiB of the address space with modules in the 2 GiB below it; ptlib
//    keeps the thread's rule for every 64-bit layout (see docs/maps.md). Sv32: the document's
//    Sv32 section is a TODO; PAGE_OFFSET = 0xC0000000 comes from arch/riscv/Kconfig, the rest is
//    ptlib's choice (image in the linear map, as the thread says 32-bit needs no module window).
#pragma once
#include <cstdint>
#include <type_traits>

#include <ptlib/layout.hpp>
#include <ptlib/riscv.hpp>
#include <ptlib/walk.hpp>

PTLIB_BEGIN_NAMESPACE
namespace riscv {

/// satp.MODE for a format (priv Table 4.4).
template <PagingFormat F>
constexpr unsigned satp_mode() {
  if constexpr (std::is_same_v<F, Sv32>) return kSatpModeSv32;
  else if constexpr (std::is_same_v<F, Sv39>) return kSatpModeSv39;
  else if constexpr (std::is_same_v<F, Sv48>) return kSatpModeSv48;
  else {
    static_assert(std::is_same_v<F, Sv57>, "satp_mode: not a RISC-V format");
    return kSatpModeSv57;
  }
}

/// The satp register's width: 32 bits for Sv32 (RV32), 64 for the others (RV64).
template <PagingFormat F>
using SatpValue = std::conditional_t<std::is_same_v<F, Sv32>, std::uint32_t, std::uint64_t>;

/// The satp value that translates through `tree` with address-space id `asid` (priv 4.1.11).
/// Errors: misaligned_table (the root is not 4 KiB aligned), pa_out_of_range (the root's PPN
/// does not fit: PA >= 2^34 on RV32, >= 2^56 on RV64), field_out_of_range (ASID wider than 9 bits
/// on RV32, 16 bits on RV64; the hardware may implement fewer, which software finds by writing
/// all ones and reading back).
template <PagingFormat F>
constexpr Result<SatpValue<F>> satp(const Tree<F>& tree, std::uint32_t asid = 0) {
  constexpr bool rv32 = std::is_same_v<F, Sv32>;
  constexpr unsigned ppn_bits = rv32 ? 22 : 44, asid_bits = rv32 ? 9 : 16;
  constexpr unsigned asid_shift = rv32 ? 22 : 44, mode_shift = rv32 ? 31 : 60;
  const PhysAddr root = tree.root;
  if (!root.aligned(4096)) return make_error(Errc::misaligned_table, VirtAddr{}, root);
  const std::uint64_t ppn = root.value >> 12;
  if (ppn >> ppn_bits) return make_error(Errc::pa_out_of_range, VirtAddr{}, root);
  if (asid >> asid_bits) return make_error(Errc::field_out_of_range, VirtAddr{}, root);
  return SatpValue<F>((std::uint64_t{satp_mode<F>()} << mode_shift) | (std::uint64_t{asid} << asid_shift) | ppn);
}

/// Kernel address-space layouts. Numbers from vm-layout.rst (start and end addresses of each
/// region); 2 GiB image windows as in that patch.
inline constexpr std::uint64_t kImageWindow = 2ULL << 30;

inline constexpr Layout kLayoutSv39{
    "sv39",
    Region{VirtAddr(0), 0x0000'0040'0000'0000ULL},                          // user, 256 GiB
    Region{VirtAddr(0xffff'ffd6'0000'0000ULL), 0x0000'0020'0000'0000ULL},    // direct map, 128 GiB
    Region{VirtAddr(0xffff'ffc6'0000'0000ULL), 0x0000'0010'0000'0000ULL},    // vmalloc/ioremap, 64 GiB
    Region{VirtAddr(0xffff'ffd6'0000'0000ULL - kImageWindow), kImageWindow},  // image + modules
    Region{VirtAddr(0xffff'ffc4'fea0'0000ULL), 0x60'0000ULL},               // fixmap, 6 MiB
    kImageWindow, false};

inline constexpr Layout kLayoutSv48{
    "sv48",
    Region{VirtAddr(0), 0x0000'8000'0000'0000ULL},                          // user, 128 TiB
    Region{VirtAddr(0xffff'af80'0000'0000ULL), 0x0000'4000'0000'0000ULL},    // direct map, 64 TiB
    Region{VirtAddr(0xffff'8f80'0000'0000ULL), 0x0000'2000'0000'0000ULL},    // vmalloc/ioremap, 32 TiB
    Region{VirtAddr(0xffff'af80'0000'0000ULL - kImageWindow), kImageWindow},
    Region{VirtAddr(0xffff'8d7f'fea0'0000ULL), 0x60'0000ULL},               // fixmap, 6 MiB
    kImageWindow, false};

inline constexpr Layout kLayoutSv57{
    "sv57",
    Region{VirtAddr(0), 0x0100'0000'0000'0000ULL},                          // user, 64 PiB
    Region{VirtAddr(0xff60'0000'0000'0000ULL), 0x007f'0000'0000'0000ULL},    // direct map (to ffdeff..ff)
    Region{VirtAddr(0xff20'0000'0000'0000ULL), 0x0040'0000'0000'0000ULL},    // vmalloc/ioremap, 16 PiB
    Region{VirtAddr(0xff60'0000'0000'0000ULL - kImageWindow), kImageWindow},
    Region{VirtAddr(0xff1b'ffff'fea0'0000ULL), 0x60'0000ULL},               // fixmap, 6 MiB
    kImageWindow, false};

/// Sv32 (ptlib's choice around Linux's PAGE_OFFSET 0xC0000000): 768 MiB of linear map, vmalloc
/// up to the last megapage, the fixmap in that last 4 MiB megapage; the image in the linear map.
inline constexpr Layout kLayoutSv32{
    "sv32",
    Region{VirtAddr(0), 0xc000'0000ULL},               // user, 3 GiB
    Region{VirtAddr(0xc000'0000ULL), 0x3000'0000ULL},  // linear map, 768 MiB
    Region{VirtAddr(0xf000'0000ULL), 0x0fc0'0000ULL},  // vmalloc, 252 MiB
    Region{},                                          // image in the linear map
    Region{VirtAddr(0xffc0'0000ULL), 0x40'0000ULL},    // fixmap, the last 4 MiB
    0, false};

/// The layout for a format.
template <PagingFormat F>
constexpr const Layout& layout() {
  if constexpr (std::is_same_v<F, Sv32>) return kLayoutSv32;
  else if constexpr (std::is_same_v<F, Sv39>) return kLayoutSv39;
  else if constexpr (std::is_same_v<F, Sv48>) return kLayoutSv48;
  else return kLayoutSv57;
}

static_assert(check_layout<Sv32>(kLayoutSv32).ok());
static_assert(check_layout<Sv39>(kLayoutSv39).ok());
static_assert(check_layout<Sv48>(kLayoutSv48).ok());
static_assert(check_layout<Sv57>(kLayoutSv57).ok());

}  // namespace riscv
PTLIB_END_NAMESPACE
