// The maps kernels build at boot, as thin policies over the one engine (apply/plan): the linear
// map of RAM banks, the kernel image by sections, the identity map that picks a format reaching
// the highest physical address, and split address spaces (two roots, one per VA range).
// Every call here is all-or-nothing: it validates everything and plans all pieces as one before
// the first write, reserves exactly the tables planned, and only then applies.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ops.hpp"

PTLIB_BEGIN_NAMESPACE

/// A bank of physical memory [pa, pa + size).
struct Bank {
  PhysAddr pa{};
  std::uint64_t size = 0;
};

/// The attributes of a linear map of RAM: read, write, global, normal memory, no execute.
inline constexpr Attrs kLinearAttrs{Perm::read | Perm::write | Perm::global};

namespace detail {

/// The batch behind every map here: `count` pieces, the i-th given by `at(i)` (an op::Map;
/// pieces of size 0 are skipped), all-or-nothing. The pieces are checked in list order, checked
/// against one another (overlap), planned as one (a table two pieces share is counted once, so
/// the reservation is exact), reserved, and applied (see detail::apply_erased).
template <PagingFormat F, TableMemory M, class At, SyncHook S>
Result<Report> map_batch(const Tree<F>& tree, M& mem, std::size_t count, At&& at, const Options& opts, S& sync) {
  if (count == 0) return make_error(Errc::zero_size);
  return apply_erased<F, ops_for(OpKind::map), kUndo<M>, kOneWalk>(tree, MemRef(mem), OpList::pieces(at, count), opts,
                                                        SyncRef(sync));
}

}  // namespace detail

/// Linear map of RAM banks: each bank [pa, pa + size) at va = pa + offset (modulo 2^64: pass
/// linear_base - ram_base), with the largest blocks that alignment and size allow.
/// All-or-nothing (see detail::map_batch): banks are validated (page alignment, VA range, PA
/// width, overlap with the tree and with one another) and planned before any write.
/// Errors: zero_size (no bank has bytes), the errors of map() for a bank (reported with that
/// bank's va/pa), overlap (two banks meet: the later one's va/pa), out_of_memory.
template <PagingFormat F, TableMemory M, SyncHook S = NoSync>
Result<Report> map_linear(const Tree<F>& tree, M& mem, std::span<const Bank> banks, std::uint64_t offset,
                          Attrs attrs = kLinearAttrs, const Options& opts = {}, S&& sync = S{}) {
  auto at = [&](std::size_t i) {
    return op::Map{VirtAddr(banks[i].pa.value + offset), banks[i].pa, banks[i].size, attrs};
  };
  return detail::map_batch(tree, mem, banks.size(), at, opts, sync);
}

/// What a kernel image section holds, and so its permissions.
enum class SectionKind : std::uint8_t {
  text,    ///< code: read + execute
  rodata,  ///< read-only data: read
  data,    ///< data: read + write, no execute
  bss,     ///< zero-initialised data: read + write, no execute
  init,    ///< code and data sharing pages (.init, or a whole-image early map as RISC-V's
           ///< setup_vm() makes): read + write + execute, refused unless
           ///< ImageOptions::allow_write_exec
};

/// One section of a kernel image: bytes [offset, offset + size) of the loaded image.
/// `offset` must be a multiple of the smallest page; `size` is rounded up to one.
struct Section {
  const char* name = "";
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  SectionKind kind = SectionKind::text;
};

/// Choices for map_image().
struct ImageOptions {
  /// Accept sections that are writable and executable (SectionKind::init). Off: such a section
  /// is Errc::writable_executable and nothing is mapped.
  bool allow_write_exec = false;
  /// Kernel mappings are global (not tagged with an address-space id).
  bool global = true;
  MemType mem = MemType::normal;
  Options engine{};
};

/// The portable attributes of a section kind.
constexpr Attrs section_attrs(SectionKind k, bool global = true, MemType mem = MemType::normal) {
  Perm p = Perm::read;
  switch (k) {
    case SectionKind::text: p = Perm::read | Perm::exec; break;
    case SectionKind::rodata: p = Perm::read; break;
    case SectionKind::data:
    case SectionKind::bss: p = Perm::read | Perm::write; break;
    case SectionKind::init: p = Perm::read | Perm::write | Perm::exec; break;
  }
  if (global) p = p | Perm::global;
  return Attrs{p, mem};
}

/// Maps a kernel image loaded at `load_pa` at the virtual address `image_va` (separate from the
/// linear map), section by section: va = image_va + offset, pa = load_pa + offset. Consecutive
/// list entries that touch and share attributes (data then bss) are mapped as one range, so
/// they can use blocks. Zero-size sections are skipped.
/// All-or-nothing, like map_linear(). Errors: writable_executable (a SectionKind::init section
/// without allow_write_exec; its va and pa), misaligned_va (a section offset not page-aligned),
/// overlap (two sections' page-rounded ranges meet, or one meets the tree), zero_size (no
/// section has bytes), and the errors of map().
template <PagingFormat F, TableMemory M, SyncHook S = NoSync>
Result<Report> map_image(const Tree<F>& tree, M& mem, VirtAddr image_va, PhysAddr load_pa,
                         std::span<const Section> sections, const ImageOptions& o = {}, S&& sync = S{}) {
  constexpr std::uint64_t page = Geometry<F>::kPageSize;
  auto rounded = [](std::uint64_t n) { return (n + page - 1) & ~(page - 1); };
  for (const Section& s : sections) {
    const VirtAddr va = image_va + s.offset;
    if (s.size && s.offset % page) return make_error(Errc::misaligned_va, va, load_pa + s.offset);
    if (s.size && s.kind == SectionKind::init && !o.allow_write_exec)
      return make_error(Errc::writable_executable, va, load_pa + s.offset);
  }
  // Entry i starts a run unless it continues entry i - 1; a run's op covers its whole run.
  auto attrs_of = [&](std::size_t i) { return section_attrs(sections[i].kind, o.global, o.mem); };
  auto continues = [&](std::size_t i) {
    if (i == 0 || sections[i].size == 0) return false;
    std::size_t p = i - 1;  // the previous non-empty entry
    while (p > 0 && sections[p].size == 0) --p;
    const Section& a = sections[p];
    return a.size && a.offset + rounded(a.size) == sections[i].offset && attrs_of(p) == attrs_of(i);
  };
  auto at = [&](std::size_t i) {
    const Section& s = sections[i];
    if (s.size == 0 || continues(i)) return op::Map{image_va, load_pa, 0, Attrs{}};
    std::uint64_t end = s.offset + rounded(s.size);
    for (std::size_t k = i + 1; k < sections.size() && (sections[k].size == 0 || continues(k)); ++k)
      if (sections[k].size) end = sections[k].offset + rounded(sections[k].size);
    return op::Map{image_va + s.offset, load_pa + s.offset, end - s.offset, attrs_of(i)};
  };
  return detail::map_batch(tree, mem, sections.size(), at, o.engine, sync);
}

/// Default capabilities for the candidate formats of map_identity(): each format's `Caps{}`.
struct DefaultCaps {
  template <PagingFormat F>
  constexpr typename F::Caps operator()() const {
    return {};
  }
};

template <class Formats>
struct IdentityMap;

/// The answer of map_identity() over the candidate list std::tuple<F...>: which format it chose
/// (position, name, levels, VA bits, root entries) and the tree it built.
template <PagingFormat... F>
struct IdentityMap<std::tuple<F...>> {
  std::size_t index = 0;        ///< position of the chosen format in the candidate list
  const char* format = "";      ///< its name (F::kName)
  std::size_t levels = 0;       ///< its number of lookup levels
  unsigned va_bits = 0;         ///< the VA bits its tree translates
  std::uint64_t root_entries = 0;  ///< entries of its root table
  PhysAddr root{};              ///< the root table
  Report report{};              ///< what the map wrote
  std::tuple<Tree<F>...> trees{};  ///< only std::get<index>(trees) is meaningful

  /// Calls fn(const Tree<Chosen>&) for the chosen format's tree.
  template <class Fn>
  void visit(Fn&& fn) const {
    visit_impl(fn, std::index_sequence_for<F...>{});
  }

 private:
  template <class Fn, std::size_t... I>
  void visit_impl(Fn& fn, std::index_sequence<I...>) const {
    ((I == index ? (fn(std::get<I>(trees)), 0) : 0), ...);
  }
};

namespace detail {

/// Whether every bank, mapped at va = pa, is inside F's VA range and PA width.
template <PagingFormat F>
constexpr bool reaches(std::span<const Bank> banks) {
  using G = Geometry<F>;
  for (const Bank& b : banks) {
    if (b.size == 0) continue;
    Errc why{};
    if (b.pa.value + (b.size - 1) < b.pa.value) return false;
    if (!G::va_in_range(b.pa.value, b.size, why) || b.pa.value + (b.size - 1) > G::kPaLimit) return false;
  }
  return true;
}

/// The bank whose last byte is highest (banks of size 0 skipped); size 0 when no bank has bytes.
constexpr Bank top_bank(std::span<const Bank> banks) {
  Bank top{};
  for (const Bank& b : banks)
    if (b.size && (top.size == 0 || b.pa.value + (b.size - 1) > top.pa.value + (top.size - 1))) top = b;
  return top;
}
template <class Formats, std::size_t... I>
constexpr std::size_t first_reaching(std::span<const Bank> banks, std::index_sequence<I...>) {
  std::size_t found = sizeof...(I);
  ((found == sizeof...(I) && reaches<std::tuple_element_t<I, Formats>>(banks) ? (found = I, 0) : 0), ...);
  return found;
}

/// map_identity() once the format is chosen.
template <class Formats, std::size_t I, TableMemory M, class CapsFn>
Result<IdentityMap<Formats>> build_identity(M& mem, std::span<const Bank> banks, Attrs attrs, const Options& opts,
                                            CapsFn& caps_fn) {
  using F = std::tuple_element_t<I, Formats>;
  using G = Geometry<F>;
  const typename F::Caps caps = caps_fn.template operator()<F>();
  auto at = [&](std::size_t i) { return op::Map{VirtAddr(banks[i].pa.value), banks[i].pa, banks[i].size, attrs}; };
  // Plan everything against an empty root before allocating anything.
  const Tree<F> planned{PhysAddr{}, caps};
  if (banks.empty()) return make_error(Errc::zero_size);
  auto planned_tables =
      plan_erased<F, ops_for(OpKind::map)>(planned, MemRef(mem), OpList::pieces(at, banks.size()), opts, true);
  if (!planned_tables) return planned_tables.error();
  const std::size_t tables = *planned_tables;
  const TableRequest root_req{G::table_bytes(0), G::table_align(0), true, 0};
  const TableRequest table_req{G::table_bytes(1), G::table_align(1), false, 1};
  const bool same = root_req.bytes == table_req.bytes && root_req.align == table_req.align;
  if (same ? !mem.reserve(tables + 1, table_req)
           : (!mem.reserve(1, root_req) || (tables && !mem.reserve(tables, table_req))))
    return make_error(Errc::out_of_memory, VirtAddr(banks[0].pa.value), banks[0].pa);
  auto tree = make_tree<F>(mem, caps);
  if (!tree) return tree.error();
  NoSync none;
  auto r = map_batch(*tree, mem, banks.size(), at, opts, none);
  if (!r) {
    mem.release(tree->root, root_req);  // only when the allocator broke its reserve() promise
    return r.error();
  }
  IdentityMap<Formats> out{};
  out.index = I;
  out.format = F::kName;
  out.levels = G::kDepth;
  out.va_bits = G::kVaBits;
  out.root_entries = G::entries(0);
  out.root = tree->root;
  out.report = *r;
  std::get<I>(out.trees) = *tree;
  return out;
}

template <class Formats, TableMemory M, class CapsFn, std::size_t... I>
Result<IdentityMap<Formats>> build_identity_at(std::size_t index, M& mem, std::span<const Bank> banks, Attrs attrs,
                                               const Options& opts, CapsFn& caps, std::index_sequence<I...>) {
  Result<IdentityMap<Formats>> out = make_error(Errc::va_out_of_range);
  ((I == index ? (out = build_identity<Formats, I>(mem, banks, attrs, opts, caps), 0) : 0), ...);
  return out;
}

}  // namespace detail

/// Identity map (va = pa) of RAM banks with the first format of `Formats` (a std::tuple of
/// candidates, smallest first: e.g. std::tuple<Sv39, Sv48, Sv57>, or arm64 Vmsa<4K, 39>,
/// Vmsa<4K, 48>, Vmsa<4K, 52>) whose VA range covers every bank and whose output size reaches it.
/// This is arm64's idmap with a smaller T0SZ (as discussed in Pingfan Liu's RFC "arm64: use
/// __create_pgd_mapping() to implement idmap and unify codes", linux-arm-kernel, April 2021):
/// when RAM sits above what the
/// kernel's own VA size reaches, the identity map takes one more level or a wider root.
/// The new root is allocated by the call; caps_fn.template operator()<F>() gives each
/// candidate's capabilities (DefaultCaps: `Caps{}`).
/// All-or-nothing: every bank is planned against an empty root and the root plus the planned
/// tables are reserved before the root is allocated. Errors: va_out_of_range (no candidate
/// reaches the banks; with the highest bank's address), and those of map_linear().
template <class Formats, TableMemory M, class CapsFn = DefaultCaps>
Result<IdentityMap<Formats>> map_identity(M& mem, std::span<const Bank> banks, Attrs attrs = kLinearAttrs,
                                          const Options& opts = {}, CapsFn caps = {}) {
  constexpr std::size_t n = std::tuple_size_v<Formats>;
  const Bank top = detail::top_bank(banks);
  if (top.size == 0) return make_error(Errc::zero_size);
  const std::size_t index = detail::first_reaching<Formats>(banks, std::make_index_sequence<n>{});
  if (index == n) return make_error(Errc::va_out_of_range, VirtAddr(top.pa.value), top.pa);
  return detail::build_identity_at<Formats>(index, mem, banks, attrs, opts, caps, std::make_index_sequence<n>{});
}

/// A split address space: two roots, each translating its own VA range (arm64 TTBR0_EL1 /
/// TTBR1_EL1; ARMv7 LPAE TTBR0 / TTBR1 with a TTBCR.T0SZ/T1SZ split). `Low` and `High` are the
/// formats of the two ranges; their VA ranges must not overlap.
template <PagingFormat Low, PagingFormat High>
struct SplitSpace {
  using LowFormat = Low;
  using HighFormat = High;
  Tree<Low> low{};    ///< TTBR0: the low range
  Tree<High> high{};  ///< TTBR1: the high range
};

/// Allocates the two roots (both or neither: the first is released if the second fails).
template <PagingFormat Low, PagingFormat High, TableMemory M>
Result<SplitSpace<Low, High>> make_split(M& mem, const typename Low::Caps& low_caps = {},
                                         const typename High::Caps& high_caps = {}) {
  auto lo = make_tree<Low>(mem, low_caps);
  if (!lo) return lo.error();
  auto hi = make_tree<High>(mem, high_caps);
  if (!hi) {
    mem.release(lo->root, TableRequest{Geometry<Low>::table_bytes(0), Geometry<Low>::table_align(0), true, 0});
    return hi.error();
  }
  return SplitSpace<Low, High>{*lo, *hi};
}

namespace detail {
/// Which root of `s` translates [va, va + size): 0 low, 1 high. Errors: zero_size,
/// va_out_of_range (in neither range, or across both).
template <PagingFormat Low, PagingFormat High>
constexpr Result<int> split_side(VirtAddr va, std::uint64_t size) {
  if (size == 0) return make_error(Errc::zero_size, va);
  Errc why{};
  if (Geometry<Low>::va_in_range(va.value, size, why)) return 0;
  if (Geometry<High>::va_in_range(va.value, size, why)) return 1;
  return make_error(Errc::va_out_of_range, va);
}
}  // namespace detail

/// map() on the root whose range holds [va, va + size). Errors: va_out_of_range (the range is
/// in neither root's range or straddles the split), and those of map().
template <PagingFormat Low, PagingFormat High, TableMemory M, SyncHook S = NoSync>
Result<Report> map(const SplitSpace<Low, High>& s, M& mem, VirtAddr va, PhysAddr pa, std::uint64_t size, Attrs attrs,
                   const Options& opts = {}, S&& sync = S{}) {
  auto side = detail::split_side<Low, High>(va, size);
  if (!side) return Error{side.error().code, va, pa, Error::kNoLevel, nullptr};
  return *side == 0 ? map(s.low, mem, va, pa, size, attrs, opts, sync) : map(s.high, mem, va, pa, size, attrs, opts, sync);
}

/// unmap() on the root whose range holds [va, va + size).
template <PagingFormat Low, PagingFormat High, TableMemory M, SyncHook S = NoSync>
Result<Report> unmap(const SplitSpace<Low, High>& s, M& mem, VirtAddr va, std::uint64_t size, const Options& opts = {},
                     S&& sync = S{}) {
  auto side = detail::split_side<Low, High>(va, size);
  if (!side) return side.error();
  return *side == 0 ? unmap(s.low, mem, va, size, opts, sync) : unmap(s.high, mem, va, size, opts, sync);
}

/// Where `va` goes in a split space: its physical address and the leaf's size and attributes.
struct SplitTranslation {
  PhysAddr pa{};
  std::uint64_t leaf_size = 0;
  Attrs attrs{};
  int side = 0;  ///< 0: the low root (TTBR0), 1: the high root (TTBR1)
};

/// translate() on the root whose range holds `va`. Errors: va_out_of_range, not_mapped.
template <PagingFormat Low, PagingFormat High, TableAccess A>
Result<SplitTranslation> translate(const SplitSpace<Low, High>& s, A& access, VirtAddr va) {
  auto side = detail::split_side<Low, High>(va, 1);
  if (!side) return side.error();
  if (*side == 0) {
    auto t = translate(s.low, access, va);
    if (!t) return t.error();
    return SplitTranslation{t->pa, t->leaf.size, t->leaf.attrs, 0};
  }
  auto t = translate(s.high, access, va);
  if (!t) return t.error();
  return SplitTranslation{t->pa, t->leaf.size, t->leaf.attrs, 1};
}

PTLIB_END_NAMESPACE
