// Compiled with ptlib::ptlib only: the headers and C++20, nothing to link.
#include <ptlib/ptlib.hpp>
#include <ptlib/riscv.hpp>

bool map_one_gigapage(unsigned char* pool, unsigned long bytes) {
  using namespace ptlib;
  Arena mem(pool, bytes, PhysAddr(reinterpret_cast<std::uintptr_t>(pool)));
  auto tree = make_tree<riscv::Sv39>(mem);
  if (!tree) return false;
  return bool(map(*tree, mem, VirtAddr(0xffff'ffc0'0000'0000), PhysAddr(0x8000'0000), 1ULL << 30,
                  Attrs{Perm::read | Perm::write | Perm::global}));
}
