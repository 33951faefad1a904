// Kernel address-space layouts as plain data (user range, linear map, vmalloc, the kernel image's
// window, fixmap), their checks against a format's VA range, and the run-time placement that turns
// a layout into the two offsets of a kernel whose image lives outside the linear map:
// `va_pa_offset` (linear map) and `va_kernel_pa_offset` (image), with virt<->phys helpers that
// pick the right one by address range. The numbers of each architecture's layouts live in
// arch/<isa>/ptlib/<isa>_boot.hpp; nothing here knows an architecture.
#pragma once
#include <cstdint>

#include "format.hpp"
#include "result.hpp"

PTLIB_BEGIN_NAMESPACE

/// An address-space layout: where a kernel puts each kind of mapping.
///
/// The kernel image follows the RISC-V "kernel outside the linear map" design (Linux's RISC-V
/// port since 5.13, Documentation/arch/riscv/vm-layout.rst):
/// the image is linked at the start of `image_window`, the last `module_reach` bytes of the
/// vmalloc range, and modules/BPF are placed in the rest of that window, so every module is
/// within +-module_reach of every byte of kernel text (2 GiB: the reach of PC-relative code on
/// RISC-V, arm64 and x86-64). The linear map then keeps its huge pages, since no image mapping
/// with different permissions sits inside it. An empty `image_window` means the image is linked
/// inside the linear map (the classic 32-bit layouts), so both offsets are the same.
struct Layout {
  const char* name = "";
  Region user;          ///< per-process user addresses
  Region linear;        ///< room for the linear (direct) map of RAM: va = pa + va_pa_offset
  Region vmalloc;       ///< vmalloc / ioremap space
  Region image_window;  ///< the image and its modules: the last module_reach bytes of vmalloc
  Region fixmap;        ///< fixed (compile-time) mappings
  std::uint64_t module_reach = 0;  ///< modules within +- this of every image byte
  /// User and linear map live in different trees (the ARMv7 LPAE 4G/4G split: TTBR0 holds
  /// either a process or the kernel's lowmem), so they may overlap.
  bool user_separate = false;
  /// RAM past the linear region is highmem (Linux's 32-bit ARM and x86: lowmem is the RAM the
  /// kernel maps permanently, the rest is reached through temporary mappings): place() maps the
  /// first linear.size bytes of RAM and reports the rest in Placement::highmem_size instead of
  /// refusing it. Off (the 64-bit layouts): RAM larger than the linear region is an error.
  bool highmem = false;
};

/// Checks a layout against the formats that translate it: `user` inside UserF's VA range, the
/// linear region inside LinearF's, every other region inside KernelF's (one format for
/// sign-extended spaces; TTBR0/TTBR1 formats for split ones, with LinearF = the TTBR0 format when
/// the kernel's lowmem has a TTBR0 tree of its own); regions pairwise disjoint (user and linear
/// may overlap when user_separate);
/// the image window inside vmalloc, ending where vmalloc ends, and module_reach bytes long.
/// Errors: va_out_of_range / va_non_canonical (the region's base), overlap (the later region's
/// base), zero_size (an empty linear or vmalloc region), misaligned_va (a window not at the end
/// of vmalloc or of the wrong size).
template <PagingFormat UserF, PagingFormat KernelF = UserF, PagingFormat LinearF = KernelF>
constexpr Result<void> check_layout(const Layout& l) {
  auto inside = [](const Region& r, auto geometry) -> Result<void> {
    using G = decltype(geometry);
    if (r.empty()) return {};
    Errc why{};
    if (!G::va_in_range(r.base.value, r.size, why)) return make_error(why, r.base);
    return {};
  };
  if (l.linear.empty() || l.vmalloc.empty()) return make_error(Errc::zero_size);
  PTLIB_TRY(inside(l.user, Geometry<UserF>{}));
  PTLIB_TRY(inside(l.linear, Geometry<LinearF>{}));
  PTLIB_TRY(inside(l.vmalloc, Geometry<KernelF>{}));
  PTLIB_TRY(inside(l.fixmap, Geometry<KernelF>{}));
  const Region kernel[] = {l.linear, l.vmalloc, l.fixmap};
  for (const Region& r : kernel)
    if (l.user.overlaps(r) && !(l.user_separate && r == l.linear)) return make_error(Errc::overlap, r.base);
  if (l.linear.overlaps(l.vmalloc)) return make_error(Errc::overlap, l.vmalloc.base);
  if (l.linear.overlaps(l.fixmap) || l.vmalloc.overlaps(l.fixmap)) return make_error(Errc::overlap, l.fixmap.base);
  if (!l.image_window.empty()) {
    if (!l.vmalloc.contains(l.image_window) || l.image_window.last() != l.vmalloc.last() ||
        l.image_window.size != l.module_reach)
      return make_error(Errc::misaligned_va, l.image_window.base);
  }
  return {};
}

/// A layout placed on one machine: RAM and the loaded image give the two offsets.
///   linear map:  va = pa + va_pa_offset         for pa in [ram_base, ram_base + ram_size)
///   image:       va = pa + va_kernel_pa_offset  for pa in [load_pa, load_pa + image_size)
/// (arithmetic modulo 2^64, as the kernels do it).
struct Placement {
  Layout layout{};
  PhysAddr ram_base{};
  std::uint64_t ram_size = 0;
  PhysAddr load_pa{};
  std::uint64_t image_size = 0;
  std::uint64_t va_pa_offset = 0;         ///< linear map: va - pa
  std::uint64_t va_kernel_pa_offset = 0;  ///< kernel image: va - pa
  VirtAddr image_va{};                    ///< where the image's first byte is linked
  /// RAM past the linear map (layouts with Layout::highmem): [ram_base + ram_size,
  /// ram_base + ram_size + highmem_size) is not in the linear map. ram_size is then the lowmem.
  std::uint64_t highmem_size = 0;

  /// The linear map of RAM.
  [[nodiscard]] constexpr Region linear_map() const { return Region{layout.linear.base, ram_size}; }
  /// The image's virtual range.
  [[nodiscard]] constexpr Region image() const { return Region{image_va, image_size}; }
  /// Where modules/BPF go: the rest of the image window after the image (rounded up to
  /// `align`, a power of two). Empty for layouts whose image is in the linear map.
  [[nodiscard]] constexpr Region modules(std::uint64_t align = 4096) const {
    const Region& w = layout.image_window;
    if (w.empty()) return Region{};
    const std::uint64_t start = (image_va.value + image_size + align - 1) & ~(align - 1);
    if (start - w.base.value >= w.size) return Region{};
    return Region{VirtAddr(start), w.size - (start - w.base.value)};
  }
  /// __pa(): a linear-map address through va_pa_offset, an image address through
  /// va_kernel_pa_offset. Errors: not_mapped (neither range holds `va`).
  [[nodiscard]] constexpr Result<PhysAddr> virt_to_phys(VirtAddr va) const {
    if (linear_map().contains(va)) return PhysAddr(va.value - va_pa_offset);
    if (image().contains(va)) return PhysAddr(va.value - va_kernel_pa_offset);
    return make_error(Errc::not_mapped, va);
  }
  /// __va(): the linear-map address of RAM at `pa`. Errors: not_mapped (pa outside RAM).
  [[nodiscard]] constexpr Result<VirtAddr> phys_to_virt(PhysAddr pa) const {
    if (pa < ram_base || pa - ram_base >= ram_size) return make_error(Errc::not_mapped, VirtAddr{}, pa);
    return VirtAddr(pa.value + va_pa_offset);
  }
  /// The image-map address of a byte of the loaded image. Errors: not_mapped.
  [[nodiscard]] constexpr Result<VirtAddr> image_virt(PhysAddr pa) const {
    if (pa < load_pa || pa - load_pa >= image_size) return make_error(Errc::not_mapped, VirtAddr{}, pa);
    return VirtAddr(pa.value + va_kernel_pa_offset);
  }
};

/// Places `layout` on a machine whose RAM is [ram_base, ram_base + ram_size) and whose kernel
/// image was loaded at [load_pa, load_pa + image_size). The linear map starts at
/// layout.linear.base; the image is linked at the start of the image window (or, for layouts
/// without one, where the linear map puts load_pa). With Layout::highmem, RAM larger than the
/// linear region is split as Linux does on 32-bit ARM and x86: the first linear.size bytes are
/// lowmem (Placement::ram_size, the linear map), the rest highmem (Placement::highmem_size, not
/// mapped), and an image in the linear map must lie in lowmem.
/// Errors: zero_size; misaligned_pa (ram_base or load_pa not a multiple of `page`);
/// va_out_of_range (RAM larger than the linear region of a layout without highmem, reported with
/// the linear region's base and ram_base; or the image larger than its window);
/// pa_out_of_range (a linear-image layout whose image is not inside RAM, or not in lowmem).
constexpr Result<Placement> place(const Layout& layout, PhysAddr ram_base, std::uint64_t ram_size, PhysAddr load_pa,
                                  std::uint64_t image_size, std::uint64_t page = 4096) {
  if (ram_size == 0 || image_size == 0) return make_error(Errc::zero_size, VirtAddr{}, ram_size ? load_pa : ram_base);
  if (!ram_base.aligned(page)) return make_error(Errc::misaligned_pa, VirtAddr{}, ram_base);
  if (!load_pa.aligned(page)) return make_error(Errc::misaligned_pa, VirtAddr{}, load_pa);
  std::uint64_t highmem = 0;
  if (ram_size > layout.linear.size) {
    if (!layout.highmem) return make_error(Errc::va_out_of_range, layout.linear.base, ram_base);
    highmem = ram_size - layout.linear.size;
    ram_size = layout.linear.size;
  }
  Placement p{layout, ram_base, ram_size, load_pa, image_size, 0, 0, VirtAddr{}, highmem};
  p.va_pa_offset = layout.linear.base.value - ram_base.value;
  if (layout.image_window.empty()) {
    if (load_pa < ram_base || load_pa - ram_base >= ram_size || image_size > ram_size - (load_pa - ram_base))
      return make_error(Errc::pa_out_of_range, VirtAddr{}, load_pa);
    p.va_kernel_pa_offset = p.va_pa_offset;
    p.image_va = VirtAddr(load_pa.value + p.va_pa_offset);
  } else {
    if (image_size > layout.image_window.size) return make_error(Errc::va_out_of_range, layout.image_window.base, load_pa);
    p.image_va = layout.image_window.base;
    p.va_kernel_pa_offset = p.image_va.value - load_pa.value;
  }
  return p;
}

PTLIB_END_NAMESPACE
