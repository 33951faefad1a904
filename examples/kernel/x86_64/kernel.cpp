// A minimal x86-64 kernel that builds its page tables with ptlib (4-level paging) and switches
// to them: every step a kernel takes to get its real tables, in one file to copy. QEMU's
// -kernel boots it as a multiboot image; start.S enters long mode on a throw-away identity map
// and calls kmain().
//
//   1. a table pool in .bss, sized at compile time from what the kernel will map;
//   2. the tables: the image at its own address (VA = PA, so execution goes on after the
//      switch) with text r-x, rodata r-- and data rw- no-exec; all of RAM at the linear map;
//      the local APIC's registers in the fixmap as uncached device memory;
//   3. EFER.NXE, CR4.PGE, CR0.WP and CR3 loaded (ptlib/cpu/x86.hpp), the boot stub's map gone.
// The console is COM1, an I/O port: it needs no mapping.
//
// Build and run: examples/kernel/meson.build (clang++, then llvm-objcopy -O elf32-i386, since
// QEMU loads multiboot kernels only as ELF32), docs/freestanding.md.
// Sources: Intel SDM vol. 3A chapter 4 (4-level paging), 10.4.1 and 10.4.8 (local APIC at
// FEE0_0000H, version register at offset 30H); Linux Documentation/arch/x86/x86_64/mm.rst
// (ptlib's kLayoutLong4); QEMU's isa-debug-exit device (status = value * 2 + 1).
#include <array>
#include <cstdint>

#include <ptlib/cpu/x86.hpp>   // CPUID, CR3/CR4/EFER: the only instructions ptlib has
#include <ptlib/maps.hpp>      // map_image(), map_linear()
#include <ptlib/tables.hpp>    // table_budget(), StaticPool
#include <ptlib/x86_boot.hpp>  // x86::Long4, its layout, cr3()/cr4()/efer()

#include "../support.hpp"      // puts/put_hex, check(), image(), finish(), memset/memcpy

using namespace ptlib;
using u64 = std::uint64_t;
using F = x86::Long4;

// ---- The machine (QEMU pc, -m 128M) -------------------------------------------------------
constexpr u64 kRamBase = 0, kRamSize = 126ULL << 20;  // QEMU keeps the top 128 KiB for ACPI
constexpr u64 kLoadPa = 0x10'0000;                    // link.ld
constexpr u64 kApicPa = 0xfee0'0000;
constexpr u64 kPage = 4096, kImageMax = 1ULL << 20;  // link.ld asserts the image fits

// ---- Where things go: ptlib's 4-level layout ----------------------------------------------
constexpr const Layout& kLayout = x86::kLayoutLong4;
constexpr u64 kLinearOffset = kLayout.linear.base.value - kRamBase;  // linear map: va = pa + this
constexpr u64 kApicVa = kLayout.fixmap.base.value;

// ---- 1. The pool: every region mapped below, known at compile time ------------------------
constexpr std::array<Region, 3> kRegions{{
    {VirtAddr(kLoadPa), kImageMax},          // the image, VA = PA
    {kLayout.linear.base, kRamSize},         // the linear map of RAM
    {VirtAddr(kApicVa), kPage},              // the local APIC
}};
constinit StaticPool<pool_bytes<F>(table_budget<F>(kRegions)), pool_align<F>()> pool;

void outb(std::uint16_t port, std::uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
std::uint8_t inb(std::uint16_t port) {
  std::uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
void example::putc(char c) {
  while (!(inb(0x3fd) & 0x20)) {  // COM1 line status: transmit holding register empty
  }
  outb(0x3f8, std::uint8_t(c));
}
void example::exit(bool pass) {
  outb(0xf4, pass ? 0 : 1);  // isa-debug-exit: QEMU ends with status 1 (pass) or 3
  for (;;) asm volatile("cli; hlt");
}

extern "C" [[noreturn]] void kmain() {
  using example::check;
  example::puts("ptlib example kernel (x86-64-l4): building the page tables\n");

  // ---- 2. The tables ---------------------------------------------------------------------
  // Capabilities from CPUID: NX (then data is no-exec), 1 GiB pages if the CPU has them.
  auto tree = make_tree<F>(pool, x86::cpu::caps(x86::cpu::features()));
  check(tree, "make_tree");
  const example::Image img = example::image();  // load address, text/rodata/data from link.ld
  check(map_image(*tree, pool, VirtAddr(img.load), PhysAddr(img.load), img.sections), "map the image");
  const Bank ram[] = {{PhysAddr(kRamBase), kRamSize}};
  check(map_linear(*tree, pool, ram, kLinearOffset), "map RAM");  // 2 MiB pages here
  const Attrs dev{Perm::read | Perm::write | Perm::global, MemType::device};  // PCD|PWT: uncached
  check(map(*tree, pool, VirtAddr(kApicVa), PhysAddr(kApicPa), kPage, dev), "map the local APIC");

  // ---- 3. Switch: the boot stub already turned 4-level paging on --------------------------
  check(x86::cpu::switch_tables(*tree), "load EFER, CR4, CR0 and CR3");

  example::puts("4-level paging on ptlib's tables: CR3=");
  example::put_hex(x86::cpu::read_cr3());
  example::put_pool(pool);
  const std::uint32_t apic = *reinterpret_cast<volatile std::uint32_t*>(kApicVa + 0x30);
  example::puts("\nlocal APIC version register through the fixmap: ");
  example::put_hex(apic);
  example::puts("\n");
  example::finish("example-x86-64-l4", kLinearOffset, (apic & 0xf0) == 0x10);  // 1XH: integrated APIC (SDM 10.4.8)
}
