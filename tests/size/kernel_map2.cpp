// Code-size probe (tests/size/measure.sh): kernel_map.cpp's map() for Sv39 and Sv48 in one
// translation unit (a kernel that picks its paging mode at boot): what a second format adds.
#include <ptlib/ptlib.hpp>
#include <ptlib/riscv.hpp>

using namespace ptlib;

extern "C" int kernel_map2(unsigned char* pool, unsigned long bytes, unsigned long pool_pa, unsigned long root,
                           unsigned long va, unsigned long pa, int sv48) {
  Arena mem(pool, bytes, PhysAddr(pool_pa));
  const Attrs rw{Perm::read | Perm::write};
  if (sv48) return map(Tree<riscv::Sv48>{PhysAddr(root), {}}, mem, VirtAddr(va), PhysAddr(pa), 4096, rw).ok();
  return map(Tree<riscv::Sv39>{PhysAddr(root), {}}, mem, VirtAddr(va), PhysAddr(pa), 4096, rw).ok();
}
