// Instantiates map, unmap, protect, compact, translate, the leaf walk and validate for every format in one freestanding translation
// unit; check_object.sh then proves the object needs no libc beyond memset/memcpy/memmove and
// has no static constructors.
#include <ptlib/formats.hpp>
#include <ptlib/ptlib.hpp>

namespace {
alignas(65536) unsigned char pool[1 << 20];

template <class F>
int build() {
  using namespace ptlib;
  Arena arena(pool, sizeof pool, PhysAddr(0x8000'0000));
  auto tree = make_tree<F>(arena);
  if (!tree) return 1;
  auto r = map(*tree, arena, VirtAddr(0), PhysAddr(0x8000'0000), 1 << 22, attrs::rwx);
  auto t = translate(*tree, arena, VirtAddr(0x1000));
  int leaves = 0;
  auto w = for_each_leaf(*tree, arena, [&](const Leaf<F>&) { ++leaves; });
  auto u = unmap(*tree, arena, VirtAddr(0x1000), 0x1000);
  auto p = protect(*tree, arena, VirtAddr(0x2000), 0x1000, attrs::rx);
  auto c = compact(*tree, arena, VirtAddr(0), 1 << 22);
  PhysAddr seen[64];
  const Validation v = validate(*tree, arena, ValidateOptions{}, seen);
  return r.ok() && t.ok() && w.ok() && u.ok() && p.ok() && c.ok() && v.ok() && leaves > 0 ? 0 : 1;
}

template <std::size_t... I>
int build_all(std::index_sequence<I...>) {
  return (build<std::tuple_element_t<I, ptlib::AllFormats>>() + ...);
}
}  // namespace

extern "C" int ptlib_freestanding_usage() { return build_all(std::make_index_sequence<ptlib::kFormatCount>{}); }
