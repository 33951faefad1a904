// A minimal arm64 kernel that turns on the MMU with ptlib (4 KiB granule, 48-bit VAs): every
// step a kernel takes to get its first page tables, in one file to copy. QEMU virt at EL1:
// `-kernel` loads this ELF at 0x40200000 and enters _start (start.S) with the MMU off.
//
//   1. a table pool in .bss, sized at compile time from what the kernel will map;
//   2. two trees, as arm64 splits the address space: TTBR0_EL1 holds the image at its own
//      address (VA = PA, so execution goes on after the switch) with text r-x, rodata r-- and
//      data rw-; TTBR1_EL1 holds all of RAM at the linear map and the UART in the fixmap;
//   3. MAIR_EL1, TCR_EL1, TTBR0/1_EL1 loaded and SCTLR_EL1.M set (ptlib/cpu/arm64.hpp), then a
//      line printed through the UART's new address.
//
// Build and run: examples/kernel/meson.build (one clang++ command), docs/freestanding.md.
// Sources: QEMU hw/arm/virt.c (memory map), Arm ARM DDI 0487K.a (D8 VMSAv8-64, D19.2 TCR_EL1
// and ID_AA64MMFR0_EL1), Linux Documentation/arch/arm64/memory.rst (ptlib's kLayout48).
#include <array>
#include <cstdint>

#include <ptlib/arm64_boot.hpp>  // Vmsa formats, split_regs(), layouts
#include <ptlib/cpu/arm64.hpp>   // system registers, MMU on: the only instructions ptlib has
#include <ptlib/maps.hpp>        // map_image(), map_linear(), make_split()
#include <ptlib/tables.hpp>      // table_budget(), StaticPool

#include "../support.hpp"        // puts/put_hex, check(), image(), finish(), memset/memcpy

using namespace ptlib;
using u64 = std::uint64_t;
using Low = arm64::Vmsa4k48;                                           // TTBR0_EL1: [0, 2^48)
using High = arm64::Vmsa<arm64::Granule::k4K, 48, VaRule::high>;       // TTBR1_EL1: the top 2^48

// ---- The machine (QEMU virt, -m 128M) -----------------------------------------------------
constexpr u64 kRamBase = 0x4000'0000, kRamSize = 128ULL << 20;
constexpr u64 kUartPa = 0x0900'0000;      // PL011: data register at +0, flag register at +0x18
constexpr u64 kLoadPa = 0x4020'0000;      // link.ld
constexpr u64 kPage = 4096, kImageMax = 1ULL << 20;  // link.ld asserts the image fits

// ---- Where things go: ptlib's 48-bit layout -----------------------------------------------
constexpr const Layout& kLayout = arm64::kLayout48;
constexpr u64 kLinearOffset = kLayout.linear.base.value - kRamBase;  // linear map: va = pa + this
constexpr u64 kUartVa = kLayout.fixmap.base.value;

// ---- 1. The pool: every region mapped below, per tree, known at compile time ---------------
constexpr std::array<Region, 1> kLowRegions{{{VirtAddr(kLoadPa), kImageMax}}};
constexpr std::array<Region, 2> kHighRegions{{{kLayout.linear.base, kRamSize}, {VirtAddr(kUartVa), kPage}}};
static_assert(pool_align<Low>() == pool_align<High>());
constinit StaticPool<pool_bytes<Low>(table_budget<Low>(kLowRegions)) + pool_bytes<High>(table_budget<High>(kHighRegions)),
                     pool_align<Low>()>
    pool;

constinit u64 uart = kUartPa;  // the UART's address: physical until the switch, fixmap after it

template <class T>
volatile T& reg(u64 va) {
  return *reinterpret_cast<volatile T*>(va);
}
void example::putc(char c) {
  while (reg<std::uint32_t>(uart + 0x18) & (1U << 5)) {  // UARTFR.TXFF: transmit FIFO full
  }
  reg<std::uint32_t>(uart) = std::uint32_t(static_cast<unsigned char>(c));
}
/// Semihosting SYS_EXIT (0x18; QEMU -semihosting): {ADP_Stopped_ApplicationExit, status}.
void example::exit(bool pass) {
  volatile u64 block[2] = {0x20026, pass ? 0U : 1U};
  register u64 x0 asm("x0") = 0x18;
  register u64 x1 asm("x1") = reinterpret_cast<u64>(&block[0]);
  asm volatile("hlt #0xf000" ::"r"(x0), "r"(x1) : "memory");
  for (;;) asm volatile("wfe");
}

extern "C" [[noreturn]] void kmain() {
  using example::check;
  example::puts("ptlib example kernel (arm64-4k-48): building the page tables\n");

  // ---- 2. The trees ----------------------------------------------------------------------
  auto space = make_split<Low, High>(pool);  // both roots, or neither
  check(space, "make_split");
  const example::Image img = example::image();  // load address, text/rodata/data from link.ld
  check(map_image(space->low, pool, VirtAddr(img.load), PhysAddr(img.load), img.sections), "map the image");
  const Bank ram[] = {{PhysAddr(kRamBase), kRamSize}};
  check(map_linear(space->high, pool, ram, kLinearOffset), "map RAM");  // 2 MiB blocks here
  const Attrs dev{Perm::read | Perm::write | Perm::global, MemType::device};  // Device-nGnRE (MAIR index 2)
  check(map(space->high, pool, VirtAddr(kUartVa), PhysAddr(kUartPa), kPage, dev), "map the UART");

  // ---- 3. On -----------------------------------------------------------------------------
  // TCR_EL1.IPS may not exceed the CPU's physical address size (44 bits on a Cortex-A57).
  arm64::TcrOptions tcr;
  tcr.pa_bits = arm64::cpu::pa_range_bits(arm64::cpu::read_id_aa64mmfr0_el1());
  if (tcr.pa_bits > 48) tcr.pa_bits = 48;
  auto regs = arm64::split_regs(*space, 0, tcr);  // TTBR0/1_EL1, TCR_EL1, MAIR_EL1
  check(regs, "compute the registers");
  check(arm64::cpu::enable_mmu(*regs), "turn the MMU on");
  uart = kUartVa;

  example::puts("MMU on: TTBR0_EL1=");
  example::put_hex(regs->ttbr0);
  example::puts(" TTBR1_EL1=");
  example::put_hex(regs->ttbr1);
  example::puts(" TCR_EL1=");
  example::put_hex(regs->tcr);
  example::put_pool(pool);
  example::puts("; this line goes through the UART at ");
  example::put_hex(kUartVa);
  example::puts("\n");
  example::finish("example-arm64-4k-48", kLinearOffset);
}
