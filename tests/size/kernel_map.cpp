// Code-size probe (tests/size/measure.sh): a riscv64 Sv39 kernel that only calls map().
#include <ptlib/ptlib.hpp>
#include <ptlib/riscv.hpp>

using namespace ptlib;
using F = riscv::Sv39;

extern "C" int kernel_map(unsigned char* pool, unsigned long bytes, unsigned long pool_pa, unsigned long root,
                          unsigned long va, unsigned long pa) {
  Arena mem(pool, bytes, PhysAddr(pool_pa));
  const Tree<F> tree{PhysAddr(root), {}};
  return map(tree, mem, VirtAddr(va), PhysAddr(pa), 4096, Attrs{Perm::read | Perm::write}).ok();
}
