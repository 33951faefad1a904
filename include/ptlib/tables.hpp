// Table memory policies for the one engine: a fixmap window (one virtual slot per level, remapped
// for each table), a static pool sized at compile time by a table budget, and table images built
// in a byte buffer for a given physical load address.
#pragma once
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "memory.hpp"
#include "ops.hpp"

PTLIB_BEGIN_NAMESPACE

// ============================================================================================
// 1. Fixmap window: tables reached through one virtual slot per depth.
// ============================================================================================

/// Where table pages come from while the CPU cannot reach physical memory directly (a kernel's
/// early physical allocator, e.g. memblock). Physical addresses only: a page source has no
/// mapping, so it never zeroes (FixmapMemory zeroes through the window when asked).
///   allocate(req)     -> the PA of req.bytes at a req.align-aligned address, std::nullopt when out
///                        of memory (req.zeroed is always false here);
///   reserve(n, req)   -> true when the next n allocate(req) calls are certain to succeed;
///   release(pa, req)  -> the table at `pa` is free again.
/// Exemplar: PageBitmap below.
template <class P>
concept PageSource = requires(P& p, const TableRequest& r, std::size_t n, PhysAddr pa) {
  { p.allocate(r) } -> std::same_as<std::optional<PhysAddr>>;
  { p.reserve(n, r) } -> std::same_as<bool>;
  { p.release(pa, r) } -> std::same_as<void>;
};

/// A kernel's window slots, one per depth (the fixmap slots of early boot: FIX_PGD, FIX_PUD,
/// FIX_PMD, FIX_PTE of arm64 Linux; Ryan Roberts, "arm64: mm: Don't remap pgtables for allocate vs populate" (linux-arm-kernel, April 2024)). Each slot maps one page of the format's
/// granule, so it shows any table (a table is at most one page; a smaller root lies inside one).
///   map_slot(depth, pa)     -> points the (unmapped) slot `depth` at the page holding `pa` and
///                              returns the virtual address of `pa` through it; nullptr when `pa`
///                              cannot be mapped (the slot stays unmapped). Writing a PTE into an
///                              unmapped slot needs no TLB invalidation; whatever ordering the
///                              architecture wants before the new VA is used (a barrier; a fence
///                              on CPUs that may cache invalid entries) is part of map_slot.
///   invalidate_slot(depth)  -> unmaps the (mapped) slot `depth` and invalidates its TLB entry,
///                              waiting for completion (clear_fixmap: PTE clear + TLBI).
/// FixmapMemory calls map_slot only on an unmapped slot and invalidate_slot only on a mapped
/// one, so a slot never changes output address while valid (break-before-make by construction).
/// Exemplar: BufferSlots below.
template <class S>
concept SlotMapper = requires(S& s, std::size_t depth, PhysAddr pa) {
  { s.map_slot(depth, pa) } -> std::same_as<void*>;
  { s.invalidate_slot(depth) } -> std::same_as<void>;
};

/// When FixmapMemory takes a slot down.
enum class SlotPolicy : std::uint8_t {
  /// Lazily: a slot keeps its table until another table needs that slot (or close()). A table
  /// still in its slot costs nothing to reach again. The default.
  keep,
  /// At every unmap(ptr, depth), as Linux's pXd_clear_fixmap() after every use: no window is
  /// left pointing at a table, at one TLB invalidation per use.
  clear,
};

/// What a FixmapMemory did so far.
struct WindowStats {
  std::size_t remaps = 0;         ///< map_slot calls: a slot pointed at a new table
  std::size_t invalidations = 0;  ///< invalidate_slot calls: TLB invalidations of a slot
  std::size_t hits = 0;           ///< map()/allocate() served by the table already in the slot
  std::size_t allocated = 0;      ///< tables allocated (each mapped once, filled through that mapping)
  std::size_t bytes_zeroed = 0;   ///< bytes zeroed through the window (only for zeroed requests)
  constexpr bool operator==(const WindowStats&) const = default;
};

/// TableMemory over a page source and a slot mapper: the engine reaches every table through the
/// slot of its depth (root 0). Why one slot per depth is enough: the engine walks depth first and
/// links a new table into its parent only after filling it (post-order), and while a table at
/// depth d is in use every table it uses is at depth d + 1; so at any moment at most one table
/// per depth is in use, and the slot of depth d holds it.
///
/// Costs (rules the tests check):
///  - allocate(req) maps the new table once (1 remap, or 0 if its PA happens to be in the slot)
///    and zeroes it through that mapping only if req.zeroed; the engine fills it through the
///    returned pointer and links it. So building N new tables costs exactly N remaps (the arm64
///    thread counted 2 per table before its fix, 1 after).
///  - map(pa, depth) of the table already in slot `depth` costs 0 remaps (a hit).
///  - A slot that holds a table is invalidated (1 TLB invalidation) right before it is pointed at
///    another table; a slot used for the first time (or emptied) is not. With SlotPolicy::keep,
///    invalidations = remaps - (remaps into an empty slot); close() adds one per mapped slot.
///    With SlotPolicy::clear, every unmap invalidates: invalidations = remaps after each call.
///  - release(pa) first takes down any slot still showing `pa` (so no window maps a free page).
///  - A depth >= Slots has no slot: map() returns nullptr, allocate() std::nullopt.
/// Each apply() runs a dry run first: existing tables on the way are visited twice (dry run,
/// then commit); those still in their slots cost nothing the second time.
template <PageSource P, SlotMapper S, std::size_t Slots = 8>
class FixmapMemory {
 public:
  constexpr FixmapMemory(P& pages, S& slots, SlotPolicy policy = SlotPolicy::keep)
      : pages_(&pages), slots_(&slots), policy_(policy) {}

  std::optional<NewTable> allocate(const TableRequest& r) {
    const auto pa = pages_->allocate(source_request(r));
    if (!pa) return std::nullopt;
    void* p = enter(r.depth, *pa);
    if (!p) {
      pages_->release(*pa, source_request(r));
      return std::nullopt;
    }
    if (r.zeroed) {
      __builtin_memset(p, 0, r.bytes);
      stats_.bytes_zeroed += r.bytes;
    }
    ++stats_.allocated;
    return NewTable{*pa, p};
  }
  [[nodiscard]] bool reserve(std::size_t n, const TableRequest& r) { return pages_->reserve(n, source_request(r)); }
  void release(PhysAddr pa, const TableRequest& r) {
    for (std::size_t d = 0; d < Slots; ++d)
      if (held_[d] && pa_[d] == pa) leave(d);
    pages_->release(pa, source_request(r));
  }
  void* map(PhysAddr pa, std::size_t depth) { return enter(depth, pa); }
  void unmap(void* /*p*/, std::size_t depth) {
    if (policy_ == SlotPolicy::clear && depth < Slots) leave(depth);
  }

  /// Takes down every slot still mapped (one TLB invalidation each), e.g. before the pages are
  /// handed to the kernel's page allocator or the window is reused for something else.
  void close() {
    for (std::size_t d = 0; d < Slots; ++d) leave(d);
  }
  /// The table slot `depth` shows now, if any.
  [[nodiscard]] constexpr std::optional<PhysAddr> in_slot(std::size_t depth) const {
    if (depth >= Slots || !held_[depth]) return std::nullopt;
    return pa_[depth];
  }
  [[nodiscard]] constexpr const WindowStats& stats() const { return stats_; }
  [[nodiscard]] constexpr SlotPolicy policy() const { return policy_; }

 private:
  static constexpr TableRequest source_request(TableRequest r) {
    r.zeroed = false;  // the source cannot zero (no mapping): the window does it
    return r;
  }
  void* enter(std::size_t depth, PhysAddr pa) {
    if (depth >= Slots) return nullptr;
    if (held_[depth] && pa_[depth] == pa) {
      ++stats_.hits;
      return ptr_[depth];
    }
    leave(depth);
    void* p = slots_->map_slot(depth, pa);
    ++stats_.remaps;
    if (p) {
      held_[depth] = true;
      pa_[depth] = pa;
      ptr_[depth] = p;
    }
    return p;
  }
  void leave(std::size_t depth) {
    if (!held_[depth]) return;
    slots_->invalidate_slot(depth);
    ++stats_.invalidations;
    held_[depth] = false;
  }

  P* pages_;
  S* slots_;
  SlotPolicy policy_;
  WindowStats stats_{};
  std::array<bool, Slots> held_{};
  std::array<PhysAddr, Slots> pa_{};
  std::array<void*, Slots> ptr_{};
};

/// A SlotMapper simulated over a buffer (hosts, tools, tests): the "physical memory" is a buffer
/// whose first byte has physical address `base`, and a slot's view of `pa` is buffer + (pa -
/// base). It counts calls and checks the slot protocol: map_slot on a mapped slot or
/// invalidate_slot on an unmapped one (or a depth >= 32) is a protocol error.
class BufferSlots {
 public:
  constexpr BufferSlots(void* buffer, std::size_t bytes, PhysAddr base)
      : buf_(buffer), size_(bytes), base_(base) {}

  void* map_slot(std::size_t depth, PhysAddr pa) {
    ++maps_;
    if (depth >= 32 || (mapped_ >> depth) & 1U) ++protocol_errors_;
    if (pa < base_ || pa - base_ >= size_) return nullptr;
    if (depth < 32) mapped_ |= std::uint32_t{1} << depth;
    return static_cast<unsigned char*>(buf_) + (pa - base_);
  }
  void invalidate_slot(std::size_t depth) {
    ++invalidations_;
    if (depth >= 32 || !((mapped_ >> depth) & 1U)) {
      ++protocol_errors_;
      return;
    }
    mapped_ &= ~(std::uint32_t{1} << depth);
  }

  [[nodiscard]] constexpr std::size_t maps() const { return maps_; }
  [[nodiscard]] constexpr std::size_t invalidations() const { return invalidations_; }
  [[nodiscard]] constexpr std::size_t protocol_errors() const { return protocol_errors_; }
  /// Bit d set: slot d is mapped.
  [[nodiscard]] constexpr std::uint32_t mapped() const { return mapped_; }

 private:
  void* buf_;  // void*: a cast from void* would not be a constant expression
  std::size_t size_;
  PhysAddr base_;
  std::uint32_t mapped_ = 0;
  std::size_t maps_ = 0, invalidations_ = 0, protocol_errors_ = 0;
};
static_assert(SlotMapper<BufferSlots>);

/// A PageSource over [base, base + pages * page_bytes) with one bit per page (first fit). A table
/// takes whole pages: ceil(bytes / page_bytes), at a PA aligned to its request. Keeps no state in
/// the pages themselves, so it works before they can be reached; constant-initialisable.
/// `page_bytes` is a power of two; `MaxPages` bounds `pages` (the bitmap lives in the object).
template <std::size_t MaxPages>
class PageBitmap {
 public:
  constexpr PageBitmap(PhysAddr base, std::size_t page_bytes, std::size_t pages = MaxPages)
      : base_(base), page_(page_bytes), shift_(unsigned(std::countr_zero(page_bytes))),
        pages_(pages < MaxPages ? pages : MaxPages) {}

  std::optional<PhysAddr> allocate(const TableRequest& r) {
    const std::size_t k = pages_for(r);
    const std::size_t i = find(lowest_free_, k, r.align);
    if (i == kNone) return std::nullopt;
    for (std::size_t j = i; j < i + k; ++j) set(j, true);
    in_use_ += k;
    while (lowest_free_ < pages_ && test(lowest_free_)) ++lowest_free_;
    return base_ + (std::uint64_t{i} << shift_);
  }
  /// Exact: first fit places the next n tables where a greedy scan finds them.
  [[nodiscard]] bool reserve(std::size_t n, const TableRequest& r) const {
    const std::size_t k = pages_for(r);
    for (std::size_t i = lowest_free_; n != 0; --n, i += k) {
      i = find(i, k, r.align);
      if (i == kNone) return false;
    }
    return true;
  }
  void release(PhysAddr pa, const TableRequest& r) {
    const std::size_t i = std::size_t((pa - base_) >> shift_), k = pages_for(r);
    for (std::size_t j = i; j < i + k && j < pages_; ++j) set(j, false);
    in_use_ -= k;
    if (i < lowest_free_) lowest_free_ = i;
  }

  [[nodiscard]] constexpr std::size_t pages_in_use() const { return in_use_; }
  [[nodiscard]] constexpr std::size_t pages() const { return pages_; }
  [[nodiscard]] constexpr std::size_t page_bytes() const { return page_; }
  [[nodiscard]] constexpr PhysAddr base() const { return base_; }
  /// The whole allocator state, for comparisons.
  [[nodiscard]] constexpr const auto& bits() const { return bits_; }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};
  [[nodiscard]] constexpr std::size_t pages_for(const TableRequest& r) const {
    return r.bytes <= page_ ? 1 : (r.bytes + page_ - 1) >> shift_;
  }
  [[nodiscard]] constexpr bool test(std::size_t i) const { return (bits_[i / 64] >> (i % 64)) & 1U; }
  constexpr void set(std::size_t i, bool v) {
    const std::uint64_t m = std::uint64_t{1} << (i % 64);
    bits_[i / 64] = v ? bits_[i / 64] | m : bits_[i / 64] & ~m;
  }
  /// First i >= from where pages [i, i + k) are free and base + i * page is `align`-aligned.
  [[nodiscard]] constexpr std::size_t find(std::size_t from, std::size_t k, std::size_t align) const {
    for (std::size_t i = from; i + k <= pages_; ++i) {
      if (((base_.value + (std::uint64_t{i} << shift_)) & (align - 1)) != 0) continue;
      if (bits_[i / 64] == ~std::uint64_t{0} && k == 1) {  // a full word: skip it
        i = (i / 64) * 64 + 63;
        continue;
      }
      std::size_t j = 0;
      while (j < k && !test(i + j)) ++j;
      if (j == k) return i;
      i += j;  // page i + j is taken: no run starts at or before it
    }
    return kNone;
  }

  PhysAddr base_;
  std::size_t page_;
  unsigned shift_;  // log2(page_): no division (32-bit targets would need a 64-bit divide helper)
  std::size_t pages_;
  std::size_t in_use_ = 0;
  std::size_t lowest_free_ = 0;  // no page below it is free
  std::array<std::uint64_t, (MaxPages + 63) / 64> bits_{};
};

// ============================================================================================
// 2. Static pool and table budget: boot-time tables from a static array sized at compile time.
// ============================================================================================

namespace detail {
/// The tree offsets [lo, last] of a region (false for an empty one). The region is assumed to be
/// a valid map() range (inside the format's VA range, not wrapping); `last` is clamped anyway.
template <PagingFormat F>
constexpr bool region_span(const Region& r, std::uint64_t& lo, std::uint64_t& last) {
  using G = Geometry<F>;
  if (r.size == 0) return false;
  lo = G::to_tree(r.base);
  const std::uint64_t room = G::kVaMask - lo;
  last = r.size - 1 > room ? G::kVaMask : lo + (r.size - 1);
  return true;
}
constexpr std::size_t saturate(std::uint64_t v) {
  return v > std::uint64_t(~std::size_t{0}) ? ~std::size_t{0} : std::size_t(v);
}
/// The number of indexes in the union of closed intervals [a, b]: `parts(i, j, a, b)` gives part
/// j < per of item i < n (false: no such part). Each round counts the lowest uncounted covered
/// index and the rest of the interval that covers it (the one reaching furthest), then moves
/// past it: O((n * per)^2), constexpr.
template <class Parts>
constexpr std::size_t union_size(std::size_t n, std::size_t per, Parts&& parts) {
  std::uint64_t total = 0, pos = 0;
  for (;;) {
    bool found = false;
    std::uint64_t start = 0, end = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < per; ++j) {
        std::uint64_t a = 0, b = 0;
        if (!parts(i, j, a, b) || b < pos) continue;
        const std::uint64_t s = a > pos ? a : pos;
        if (!found || s < start || (s == start && b > end)) start = s, end = b, found = true;
      }
    if (!found) break;
    total += end - start + 1;
    if (end == ~std::uint64_t{0}) break;
    pos = end + 1;
  }
  return saturate(total);
}
}  // namespace detail

/// How table_budget counts tables that several regions touch.
enum class Overlap : std::uint8_t {
  separate,  ///< each region on its own (sum): exact for page-only maps of regions in distinct tables
  merge,     ///< a table touched by several regions counts once: exact for any page-only map
};

/// The tables at `depth` (1 .. depth of the format - 1; the root is depth 0) that map() of the
/// regions can create in an empty tree: the distinct depth-1 entries their VA spans touch.
/// Assumes no block leaves, so it is an upper bound (blocks only save tables) and exact for
/// page-only maps (Options::page_only()). O(n) for Overlap::separate, O(n^2) for merge.
template <PagingFormat F>
constexpr std::size_t tables_touched(std::span<const Region> regions, std::size_t depth,
                                     Overlap how = Overlap::separate) {
  using G = Geometry<F>;
  if (depth == 0 || depth >= G::kDepth) return 0;
  const unsigned shift = G::shift(depth - 1);
  std::uint64_t n = 0;
  if (how == Overlap::separate) {
    for (const Region& r : regions) {
      std::uint64_t lo = 0, last = 0;
      if (detail::region_span<F>(r, lo, last)) n += (last >> shift) - (lo >> shift) + 1;
    }
    return detail::saturate(n);
  }
  return detail::union_size(regions.size(), 1, [&](std::size_t i, std::size_t, std::uint64_t& a, std::uint64_t& b) {
    std::uint64_t lo = 0, last = 0;
    if (!detail::region_span<F>(regions[i], lo, last)) return false;
    a = lo >> shift, b = last >> shift;
    return true;
  });
}

/// The worst-case number of tables below the root that map() of `regions` into an empty tree
/// allocates, whatever the output addresses (sum of tables_touched over every depth below the
/// root: no blocks). table_budget over MapExtent (below) is exact when the PAs are known. Size a
/// pool with pool_bytes(table_budget(...)), which adds the root. Evaluate it at compile time:
///     constexpr Region kLayout[] = {{VirtAddr(0x8020'0000), 16 << 20}, {VirtAddr(0xffff'ffc0'0000'0000), 1 << 30}};
///     constinit static StaticPoolFor<riscv::Sv39, table_budget<riscv::Sv39>(kLayout)> pool;
/// Not covered: later splits (unmap/protect of part of a block) and maps into a tree that already
/// has other mappings.
template <PagingFormat F>
constexpr std::size_t table_budget(std::span<const Region> regions, Overlap how = Overlap::separate) {
  std::uint64_t n = 0;
  for (std::size_t d = 1; d < Geometry<F>::kDepth; ++d) n += tables_touched<F>(regions, d, how);
  return detail::saturate(n);
}
/// table_budget with tables shared by several regions counted once.
template <PagingFormat F>
constexpr std::size_t table_budget_merged(std::span<const Region> regions) {
  return table_budget<F>(regions, Overlap::merge);
}

/// A map() to come, with its output address: what an exact budget needs to know where blocks go.
struct MapExtent {
  VirtAddr va{};
  PhysAddr pa{};
  std::uint64_t size = 0;
};

namespace detail {
/// The entries at `depth` under which map() of `m` into an empty tree creates a table, as up to
/// two closed index intervals (entry index = tree offset >> shift(depth)); `part` picks one.
/// map() makes a leaf of an entry the range covers whole when the level may hold a leaf (format,
/// caps, max_leaf_size) and VA and PA agree modulo its size; every other entry it touches gets a
/// table, unless a leaf above already covers it.
template <PagingFormat F>
constexpr bool table_parents(const MapExtent& m, std::size_t depth, std::size_t part, const typename F::Caps& caps,
                             std::uint64_t max_leaf, std::uint64_t& a, std::uint64_t& b) {
  using G = Geometry<F>;
  std::uint64_t lo = 0, last = 0;
  if (!region_span<F>(Region{m.va, m.size}, lo, last)) return false;
  auto leafable = [&](std::size_t d) {
    return F::can_leaf(G::level(d), caps) && (G::span(d) <= max_leaf || d + 1 == G::kDepth) &&
           ((m.pa.value - m.va.value) & (G::span(d) - 1)) == 0;
  };
  // Entries at depth d wholly inside [lo, last]: [full_lo, full_end).
  auto full = [&](std::size_t d, std::uint64_t& full_lo, std::uint64_t& full_end) {
    const unsigned s = G::shift(d);
    const std::uint64_t mask = G::span(d) - 1;
    full_lo = (lo >> s) + ((lo & mask) != 0);
    full_end = (last >> s) + ((last & mask) == mask);
    return full_lo < full_end;
  };
  const unsigned s = G::shift(depth);
  const std::uint64_t first = lo >> s, final = last >> s;
  std::uint64_t flo = 0, fend = 0;
  const bool any_full = full(depth, flo, fend);
  if (leafable(depth)) {  // only the partly covered entries at the two ends
    if (part == 0 && (!any_full || first < flo)) return a = b = first, true;
    if (part == 1 && final != first && (!any_full || final >= fend)) return a = b = final, true;
    return false;
  }
  // Every entry touched, except those under a leaf of the deepest leafable level above (its
  // whole entries cover those of every leafable level above it).
  std::uint64_t cut_lo = 0, cut_end = 0;
  bool cut = false;
  for (std::size_t k = depth; k-- > 0 && !cut;)
    if (leafable(k) && full(k, cut_lo, cut_end)) {
      cut = true;
      cut_lo <<= G::shift(k) - s;
      cut_end <<= G::shift(k) - s;
    }
  if (!cut) {
    if (part != 0) return false;
    return a = first, b = final, true;
  }
  if (part == 0 && first < cut_lo) return a = first, b = cut_lo - 1, true;
  if (part == 1 && cut_end <= final) return a = cut_end, b = final, true;
  return false;
}
}  // namespace detail

/// The exact number of tables below the root that map() of `maps` (in any order, one call each
/// or as one batch) allocates in an empty tree of format F with capabilities `caps` and options
/// `opts` (max_leaf_size): the tables the chunking needs where the VA/PA alignment allows no
/// leaf, a table shared by several maps counted once. The maps must not overlap (map() would
/// refuse them). A 1 GiB Sv39 linear map at a 1 GiB-aligned PA needs none:
///     constexpr MapExtent kBoot[] = {{VirtAddr(0xffff'ffc0'0000'0000), PhysAddr(0x8000'0000), 1 << 30}};
///     static_assert(table_budget<riscv::Sv39>(kBoot) == 0);
/// Pass the same caps as make_tree (default caps: no x86 1 GiB pages). O(n^2) per level.
template <PagingFormat F>
constexpr std::size_t table_budget(std::span<const MapExtent> maps, const typename F::Caps& caps = {},
                                   const Options& opts = {}) {
  const std::uint64_t max_leaf = opts.max_leaf_size ? opts.max_leaf_size : ~std::uint64_t{0};
  std::uint64_t n = 0;
  for (std::size_t d = 0; d + 1 < Geometry<F>::kDepth; ++d)
    n += detail::union_size(maps.size(), 2, [&](std::size_t i, std::size_t j, std::uint64_t& a, std::uint64_t& b) {
      return detail::table_parents<F>(maps[i], d, j, caps, max_leaf, a, b);
    });
  return detail::saturate(n);
}

/// The alignment a pool of tables of format F must have (the largest table alignment).
template <PagingFormat F>
constexpr std::size_t pool_align() {
  using G = Geometry<F>;
  std::size_t a = G::table_align(0);
  for (std::size_t d = 1; d < G::kDepth; ++d) a = G::table_align(d) > a ? G::table_align(d) : a;
  return a;
}

/// Bytes of an Arena/StaticPool (aligned to pool_align<F>()) that holds a root and `tables`
/// tables below it, laid out as Arena hands them out: the root at offset 0, then each table at
/// its alignment (a 32-byte PAE root is followed by padding up to the first 4 KiB table).
template <PagingFormat F>
constexpr std::size_t pool_bytes(std::size_t tables) {
  using G = Geometry<F>;
  if constexpr (G::kDepth == 1) {
    return G::table_bytes(0);
  } else {
    const std::uint64_t a = G::table_align(1);
    const std::uint64_t root = (G::table_bytes(0) + a - 1) & ~(a - 1);
    const std::uint64_t stride = (G::table_bytes(1) + a - 1) & ~(a - 1);  // a power of two
    if (tables > (~std::uint64_t{0} - root) >> std::countr_zero(stride)) return ~std::size_t{0};
    return detail::saturate(root + tables * stride);
  }
}

/// Tables from a static array inside the object, for boot code that runs with the MMU off:
/// `constinit static StaticPool<N> pool;` needs no static constructor (the array is zero-
/// initialised, i.e. .bss) and is a TableMemory (an Arena over the array, set up at first use).
/// By default a table's physical address is its address (MMU off, identity: true when code
/// computes addresses PC-relative, e.g. RISC-V -mcmodel=medany, arm64 adrp); place_at() says
/// otherwise. Requests aligned beyond `Align` cannot be served (std::nullopt / reserve false).
/// Not copyable (the Arena points into the object).
template <std::size_t Bytes, std::size_t Align = 4096>
class StaticPool {
  static_assert(Bytes > 0 && std::has_single_bit(Align));

 public:
  constexpr StaticPool() = default;
  /// reserve() is exact (an Arena inside): the engine needs no rollback for this memory.
  static constexpr bool kReservesExactly = true;
  StaticPool(const StaticPool&) = delete;
  StaticPool& operator=(const StaticPool&) = delete;

  /// Sets the physical address of the pool's first byte. Only before the first allocation and
  /// only to an `Align`-aligned address; returns false (and changes nothing) otherwise.
  [[nodiscard]] bool place_at(PhysAddr pa) {
    if (arena_ || !pa.aligned(Align)) return false;
    placed_ = true;
    base_ = pa;
    return true;
  }

  std::optional<NewTable> allocate(const TableRequest& r) {
    if (r.align > Align) return std::nullopt;
    return arena().allocate(r);
  }
  [[nodiscard]] bool reserve(std::size_t n, const TableRequest& r) { return r.align <= Align && arena().reserve(n, r); }
  void release(PhysAddr pa, const TableRequest& r) { arena().release(pa, r); }
  void* map(PhysAddr pa, std::size_t depth) { return arena().map(pa, depth); }
  void unmap(void* p, std::size_t depth) { arena().unmap(p, depth); }

  [[nodiscard]] static constexpr std::size_t capacity() { return Bytes; }
  [[nodiscard]] std::size_t used() { return arena().used(); }
  [[nodiscard]] std::size_t tables_in_use() { return arena().tables_in_use(); }
  [[nodiscard]] PhysAddr base() { return arena().base(); }

 private:
  Arena& arena() {
    if (!arena_) arena_.emplace(storage_, Bytes, placed_ ? base_ : PhysAddr(reinterpret_cast<std::uintptr_t>(storage_)));
    return *arena_;
  }

  alignas(Align) unsigned char storage_[Bytes]{};
  std::optional<Arena> arena_{};  // set up at first use (an address is no constant)
  PhysAddr base_{};
  bool placed_ = false;
};

/// A StaticPool for a root and `Tables` tables of format F (Tables from table_budget).
template <PagingFormat F, std::size_t Tables>
using StaticPoolFor = StaticPool<pool_bytes<F>(Tables), pool_align<F>()>;

// ============================================================================================
// 3. Images: tables built into a byte buffer for the physical address they will be loaded at.
// ============================================================================================

/// Page tables built in a byte buffer (at build time, or by a bootloader for another CPU) that
/// will sit at physical address `load_pa`: the root is the first table (offset 0), every table
/// pointer is load_pa + the table's offset, and bytes() is the used prefix to copy out.
///
/// Entries are stored in the building CPU's byte order; every format ptlib ships is read
/// little-endian by its hardware as kernels configure it (RISC-V; arm64 and ARMv7 with
/// SCTLR.EE = 0; x86), so building on a big-endian host is refused at compile time.
template <PagingFormat F>
class ImageBuilder {
  static_assert(std::endian::native == std::endian::little,
                "table images are little-endian: build them on a little-endian host");

 public:
  using G = Geometry<F>;

  /// An empty builder (no buffer); use create().
  ImageBuilder() = default;
  /// reserve() is exact (an Arena inside): the engine needs no rollback for this memory.
  static constexpr bool kReservesExactly = true;

  /// Starts an image in `buffer` (`bytes` long) for physical address `load_pa`, and allocates its
  /// root at offset 0. Errors: Errc::misaligned_table (load_pa not aligned to pool_align<F>(),
  /// or `buffer` not aligned for F::Entry), pa_out_of_range (the image would end above the
  /// format's physical address width), out_of_memory (no room for the root).
  static Result<ImageBuilder> create(void* buffer, std::size_t bytes, PhysAddr load_pa,
                                     const typename F::Caps& caps = {}) {
    if (!load_pa.aligned(pool_align<F>()) ||
        reinterpret_cast<std::uintptr_t>(buffer) % alignof(typename F::Entry) != 0)
      return make_error(Errc::misaligned_table, VirtAddr{}, load_pa);
    if (bytes != 0 && (load_pa.value + (bytes - 1) < load_pa.value || load_pa.value + (bytes - 1) > G::kPaLimit))
      return make_error(Errc::pa_out_of_range, VirtAddr{}, load_pa);
    ImageBuilder b;
    b.arena_ = Arena(buffer, bytes, load_pa);
    auto t = make_tree<F>(b.arena_, caps);
    if (!t) return t.error();
    b.tree_ = *t;
    return b;
  }

  /// The tree (its root is load_pa).
  [[nodiscard]] constexpr const Tree<F>& tree() const { return tree_; }
  /// The root table's physical address: load_pa, the image's first byte.
  [[nodiscard]] constexpr PhysAddr root() const { return tree_.root; }
  /// The image's allocator and access, for map()/unmap()/validate() (or use map() below).
  [[nodiscard]] Arena& memory() { return arena_; }
  /// The used prefix of the buffer: what to copy to load_pa.
  [[nodiscard]] std::span<const unsigned char> bytes() const { return {arena_.data(), arena_.used()}; }

  /// ptlib::map() into the image.
  Result<Report> map(VirtAddr va, PhysAddr pa, std::uint64_t size, Attrs attrs, const Options& opts = {}) {
    return ptlib::map(tree_, arena_, va, pa, size, attrs, opts);
  }

 private:
  Arena arena_{nullptr, 0, PhysAddr{}};
  Tree<F> tree_{};
};

PTLIB_END_NAMESPACE
