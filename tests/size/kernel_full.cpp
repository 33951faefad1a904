// Code-size probe (tests/size/measure.sh): what a riscv64 Sv39 kernel links to build its boot
// tables with ptlib: a linear map of 1 GiB of RAM, the kernel image by three sections, one
// device page, and the satp value. Freestanding, one format, header-only.
#include <ptlib/maps.hpp>
#include <ptlib/riscv.hpp>
#include <ptlib/riscv_boot.hpp>
#include <ptlib/tables.hpp>

using namespace ptlib;
using F = riscv::Sv39;

extern "C" unsigned long kernel_tables(unsigned char* pool, unsigned long bytes, unsigned long pool_pa) {
  Arena mem(pool, bytes, PhysAddr(pool_pa));
  auto tree = make_tree<F>(mem);
  if (!tree) return 0;
  const Bank ram[] = {{PhysAddr(0x8000'0000), 1ULL << 30}};
  if (!map_linear(*tree, mem, std::span<const Bank>(ram), 0xffff'ffd8'0000'0000 - 0x8000'0000)) return 0;
  const Section image[] = {{".text", 0, 0x20'0000, SectionKind::text},
                           {".rodata", 0x20'0000, 0x10'0000, SectionKind::rodata},
                           {".data", 0x30'0000, 0x10'0000, SectionKind::data}};
  if (!map_image(*tree, mem, VirtAddr(0xffff'ffff'8000'0000), PhysAddr(0x8020'0000), std::span<const Section>(image)))
    return 0;
  if (!map(*tree, mem, VirtAddr(0xffff'ffc6'fee0'0000), PhysAddr(0x1000'0000), 4096,
           Attrs{Perm::read | Perm::write | Perm::global, MemType::device}, Options{}))
    return 0;
  auto satp = riscv::satp(*tree);
  return satp ? static_cast<unsigned long>(*satp) : 0;
}
