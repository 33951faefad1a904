// Builds an x86-64 4-level tree through ptlib pulled in as a subproject and prints its dump.
#include <cstdio>

#include <ptlib/host.hpp>
#include <ptlib/x86.hpp>

alignas(4096) static unsigned char pool[16 * 4096];

int main() {
  using namespace ptlib;
  Arena mem(pool, sizeof pool, PhysAddr(0x10'0000));
  auto tree = make_tree<x86::Long4>(mem);
  if (!tree) return 1;
  auto r = map(*tree, mem, VirtAddr(0xffff'8000'0000'0000), PhysAddr(0), 4 << 20, attrs::rw);
  if (!r) return 2;
  std::fputs(dump(*tree, mem).c_str(), stdout);
  return 0;
}
