// A minimal RISC-V kernel that turns on Sv39 paging with ptlib: everything a kernel does to get
// its first page tables, in one file to copy. QEMU virt, S-mode under OpenSBI: `-bios default`
// loads this ELF at 0x80200000 and jumps to _start (start.S) with the MMU off.
//
//   1. a table pool in .bss, sized at compile time from what the kernel will map;
//   2. the tables: the image at its own address (VA = PA, so execution goes on after the
//      switch) with text r-x, rodata r-- and data rw-; all of RAM at the linear map; the UART
//      and the exit device in the fixmap;
//   3. satp written (ptlib/cpu/riscv.hpp), then a line printed through the UART's new address.
//
// Build and run: examples/kernel/meson.build (one clang++ command), docs/freestanding.md.
// Sources: QEMU hw/riscv/virt.c (memory map), RISC-V privileged spec 20211203 (satp 4.1.11,
// Sv39 4.4), Linux Documentation/arch/riscv/vm-layout.rst (ptlib's kLayoutSv39).
#include <array>
#include <cstdint>

#include <ptlib/cpu/riscv.hpp>   // satp write + SFENCE.VMA: the only instructions ptlib has
#include <ptlib/maps.hpp>        // map_image(), map_linear()
#include <ptlib/riscv_boot.hpp>  // riscv::Sv39, its layout, riscv::satp()
#include <ptlib/tables.hpp>      // table_budget(), StaticPool

#include "../support.hpp"        // puts/put_hex, check(), image(), finish(), memset/memcpy

using namespace ptlib;
using u64 = std::uint64_t;
using F = riscv::Sv39;

// ---- The machine (QEMU virt, -m 128M) -----------------------------------------------------
constexpr u64 kRamBase = 0x8020'0000;     // RAM after OpenSBI's first 2 MiB (its own, PMP-protected)
constexpr u64 kRamSize = 126ULL << 20;
constexpr u64 kUartPa = 0x1000'0000;      // ns16550: THR at +0, LSR at +5 (bit 5: THR empty)
constexpr u64 kExitPa = 0x10'0000;        // sifive_test: 0x5555 powers off with status 0
constexpr u64 kPage = 4096, kImageMax = 1ULL << 20;  // link.ld asserts the image fits

// ---- Where things go: ptlib's Sv39 layout -------------------------------------------------
constexpr const Layout& kLayout = riscv::kLayoutSv39;
constexpr u64 kLinearOffset = kLayout.linear.base.value - kRamBase;  // linear map: va = pa + this
constexpr u64 kUartVa = kLayout.fixmap.base.value, kExitVa = kUartVa + kPage;

// ---- 1. The pool: every region mapped below, known at compile time ------------------------
// table_budget() is the worst case of tables these regions can need; pool_bytes() adds the
// root. The pool is constant-initialised (.bss, no constructor) and needs no allocator.
constexpr std::array<Region, 3> kRegions{{
    {VirtAddr(kRamBase), kImageMax},        // the image, VA = PA
    {kLayout.linear.base, kRamSize},        // the linear map of RAM
    {VirtAddr(kUartVa), 2 * kPage},         // UART + exit device
}};
constinit StaticPool<pool_bytes<F>(table_budget<F>(kRegions)), pool_align<F>()> pool;

// The devices' current addresses: physical until the switch, fixmap after it.
constinit u64 uart = kUartPa, exit_dev = kExitPa;

template <class T>
volatile T& reg(u64 va) {
  return *reinterpret_cast<volatile T*>(va);
}
void example::putc(char c) {
  while (!(reg<std::uint8_t>(uart + 5) & 0x20)) {
  }
  reg<std::uint8_t>(uart) = std::uint8_t(c);
}
void example::exit(bool pass) {
  reg<std::uint32_t>(exit_dev) = pass ? 0x5555 : (1U << 16) | 0x3333;  // 0x3333: fail with status 1
  for (;;) asm volatile("wfi");
}

extern "C" [[noreturn]] void kmain() {
  using example::check;
  example::puts("ptlib example kernel (sv39): building the page tables\n");

  // ---- 2. The tables ---------------------------------------------------------------------
  // make_tree allocates the root. Caps{} assumes no Svnapot or Svpbmt (QEMU's default CPU).
  auto tree = make_tree<F>(pool);
  check(tree, "make_tree");
  const example::Image img = example::image();  // load address, text/rodata/data from link.ld
  check(map_image(*tree, pool, VirtAddr(img.load), PhysAddr(img.load), img.sections), "map the image");
  const Bank ram[] = {{PhysAddr(kRamBase), kRamSize}};
  check(map_linear(*tree, pool, ram, kLinearOffset), "map RAM");  // 2 MiB pages here
  // A device without Svpbmt: PBMT = 0 defers to the platform's PMAs, which make this I/O memory.
  const Attrs dev{Perm::read | Perm::write | Perm::global, MemType::normal};
  check(map(*tree, pool, VirtAddr(kUartVa), PhysAddr(kUartPa), kPage, dev), "map the UART");
  check(map(*tree, pool, VirtAddr(kExitVa), PhysAddr(kExitPa), kPage, dev), "map the exit device");

  // ---- 3. On -----------------------------------------------------------------------------
  auto satp = riscv::cpu::activate(*tree);  // SFENCE.VMA; csrw satp; SFENCE.VMA; read back
  check(satp, "write satp");
  uart = kUartVa;
  exit_dev = kExitVa;

  example::puts("Sv39 on: satp=");
  example::put_hex(*satp);
  example::put_pool(pool);
  example::puts("; this line goes through the UART at ");
  example::put_hex(kUartVa);
  example::puts("\n");
  example::finish("example-sv39", kLinearOffset);
}
