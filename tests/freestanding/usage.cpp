// Instantiates map, unmap, protect, compact, translate, the leaf walk, validate, the boot-time
// maps (linear, image), kernel-half sharing (registry, sync, preallocation) and clone for every
// format of the target's architecture in one freestanding translation unit; check_object.sh then proves the object needs no libc beyond memset/memcpy/memmove and
// has no static constructors.
#include <ptlib/formats.hpp>
#include <ptlib/clone.hpp>
#include <ptlib/maps.hpp>
#include <ptlib/ptlib.hpp>
#include <ptlib/share.hpp>

namespace {
alignas(65536) unsigned char pool[1 << 20];

template <class F>
int boot_maps(ptlib::Arena& arena, const ptlib::Tree<F>& tree) {
  using namespace ptlib;
  using G = Geometry<F>;
  const Bank banks[] = {{PhysAddr(0x8040'0000), 1 << 22}, {PhysAddr(0x8100'0000), 1 << 21}};
  auto l = map_linear(tree, arena, banks, G::span(0) - 0x8000'0000);
  const Section sections[] = {{"text", 0, 0x2000, SectionKind::text}, {"data", 0x2000, 0x1000, SectionKind::data}};
  auto i = map_image(tree, arena, VirtAddr(G::span(0) + (1 << 23)), PhysAddr(0x8200'0000), sections);
  PhysAddr roots[4];
  auto k = SharedKernel<F>::make(tree, G::to_va(0), G::span(0), roots);
  if (!k) return 1;
  auto process = k->create_root(arena);
  auto pre = k->preallocate(arena, G::to_va(0), G::span(0));
  auto s = k->sync_all(arena);
  auto copy = clone(tree, arena, arena);
  return l.ok() && i.ok() && process.ok() && pre.ok() && s.ok() && copy.ok() ? 0 : 1;
}

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
  if (!(r.ok() && t.ok() && w.ok() && u.ok() && p.ok() && c.ok() && v.ok() && leaves > 0)) return 1;
  return boot_maps<F>(arena, *tree);
}

// The formats a kernel for this target uses (every format is still built: each on its own
// architecture), so each target's build stays small.
#if defined(__riscv) && __riscv_xlen == 64
using Formats = std::tuple<ptlib::riscv::Sv39, ptlib::riscv::Sv48, ptlib::riscv::Sv57>;
#elif defined(__riscv)
using Formats = std::tuple<ptlib::riscv::Sv32>;
#elif defined(__aarch64__)
using Formats = std::tuple<ptlib::arm64::Vmsa4k39, ptlib::arm64::Vmsa4k48, ptlib::arm64::Vmsa4k52,
                           ptlib::arm64::Vmsa16k47, ptlib::arm64::Vmsa16k48, ptlib::arm64::Vmsa16k52,
                           ptlib::arm64::Vmsa64k42, ptlib::arm64::Vmsa64k48, ptlib::arm64::Vmsa64k52>;
#elif defined(__arm__)
using Formats = std::tuple<ptlib::armv7::Lpae32>;
#elif defined(__x86_64__)
using Formats = std::tuple<ptlib::x86::Long4, ptlib::x86::Long5>;
#elif defined(__i386__)
using Formats = std::tuple<ptlib::x86::X86_32, ptlib::x86::Pae>;
#else
using Formats = ptlib::AllFormats;
#endif

template <std::size_t... I>
int build_all(std::index_sequence<I...>) {
  return (build<std::tuple_element_t<I, Formats>>() + ...);
}
}  // namespace

extern "C" int ptlib_freestanding_usage() {
  return build_all(std::make_index_sequence<std::tuple_size_v<Formats>>{});
}
