// Address spaces for the demo boot template: one tree (RISC-V, x86) or two trees split by VA
// range (arm64 / ARMv7 TTBR0 + TTBR1), with one way to route an operation to the tree whose
// range holds it, a compile-time pool size for a list of regions, and a table memory that
// reaches tables through the linear map (a page source + DirectAccess with the linear offset).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

#include <ptlib/maps.hpp>
#include <ptlib/tables.hpp>

namespace demo {

using ptlib::Attrs;
using ptlib::PhysAddr;
using ptlib::Region;
using ptlib::VirtAddr;

/// Where a VA goes, whatever the tree: translate() of either space.
struct Where {
  PhysAddr pa{};
  std::uint64_t leaf_size = 0;
  Attrs attrs{};
  bool contiguous = false;
};

template <class T>
Where where_of(const T& t) {
  return Where{t.pa, t.leaf.size, t.leaf.attrs, t.leaf.contiguous};
}

/// One tree for the whole address space.
template <ptlib::PagingFormat F>
struct Single {
  using Format = F;          ///< the format the kernel half uses (INFO levels, page size)
  using Caps = typename F::Caps;
  using G = ptlib::Geometry<F>;
  ptlib::Tree<F> tree{};

  template <ptlib::TableMemory M>
  static ptlib::Result<Single> make(M& mem, const Caps& caps) {
    auto t = ptlib::make_tree<F>(mem, caps);
    if (!t) return t.error();
    return Single{*t};
  }
  /// fn(tree) for the tree that translates [va, va + size).
  template <class Fn>
  decltype(auto) on(VirtAddr, std::uint64_t, Fn&& fn) const {
    return fn(tree);
  }
  template <ptlib::TableAccess A>
  ptlib::Result<Where> translate(A& access, VirtAddr va) const {
    auto t = ptlib::translate(tree, access, va);
    if (!t) return t.error();
    return where_of(*t);
  }
  /// Bytes of a pool that holds the roots and every table mapping `regions` may need.
  template <std::size_t N>
  static constexpr std::size_t pool_bytes(const std::array<Region, N>& regions) {
    return ptlib::pool_bytes<F>(ptlib::table_budget<F>(regions));
  }
  static constexpr std::size_t kPoolAlign = ptlib::pool_align<F>();
  /// log2 of the entries in one contiguous run of smallest pages (0: the format has none).
  static constexpr unsigned run_log2(const Caps& caps) { return F::contig_log2(G::level(G::kDepth - 1), caps); }
};

/// Two trees: Low translates the low VA range (TTBR0), High the high one (TTBR1).
template <ptlib::PagingFormat Low, ptlib::PagingFormat High>
struct Split {
  using Format = High;
  using Caps = typename High::Caps;
  // The same capabilities for both halves, or none at all (ARMv7 LPAE: each Lpae<> has its own
  // empty Caps type).
  static_assert(std::is_same_v<typename Low::Caps, Caps> || (std::is_empty_v<typename Low::Caps> && std::is_empty_v<Caps>),
                "Split: both halves take the same capabilities");
  static constexpr typename Low::Caps low_caps(const Caps& caps) {
    if constexpr (std::is_same_v<typename Low::Caps, Caps>) return caps;
    else return {};
  }
  using G = ptlib::Geometry<High>;
  ptlib::SplitSpace<Low, High> trees{};

  template <ptlib::TableMemory M>
  static ptlib::Result<Split> make(M& mem, const Caps& caps) {
    auto s = ptlib::make_split<Low, High>(mem, low_caps(caps), caps);
    if (!s) return s.error();
    return Split{*s};
  }
  static constexpr bool high(VirtAddr va, std::uint64_t size) {
    ptlib::Errc why{};
    return ptlib::Geometry<High>::va_in_range(va.value, size ? size : 1, why);
  }
  template <class Fn>
  decltype(auto) on(VirtAddr va, std::uint64_t size, Fn&& fn) const {
    return high(va, size) ? fn(trees.high) : fn(trees.low);
  }
  template <ptlib::TableAccess A>
  ptlib::Result<Where> translate(A& access, VirtAddr va) const {
    if (high(va, 1)) {
      auto t = ptlib::translate(trees.high, access, va);
      if (!t) return t.error();
      return where_of(*t);
    }
    auto t = ptlib::translate(trees.low, access, va);
    if (!t) return t.error();
    return where_of(*t);
  }
  template <std::size_t N>
  static constexpr std::size_t pool_bytes(const std::array<Region, N>& regions) {
    std::array<Region, N> lo{}, hi{};
    for (std::size_t i = 0; i < N; ++i) (high(regions[i].base, regions[i].size) ? hi : lo)[i] = regions[i];
    return ptlib::pool_bytes<Low>(ptlib::table_budget<Low>(lo)) + kPoolAlign +
           ptlib::pool_bytes<High>(ptlib::table_budget<High>(hi));
  }
  static constexpr std::size_t kPoolAlign = ptlib::pool_align<Low>() > ptlib::pool_align<High>()
                                                ? ptlib::pool_align<Low>()
                                                : ptlib::pool_align<High>();
  static constexpr unsigned run_log2(const Caps& caps) { return High::contig_log2(G::level(G::kDepth - 1), caps); }
};

/// TableMemory for a kernel whose RAM is linearly mapped: table pages come from a page source
/// (physical addresses), and every table is reached at pa + offset (ptlib::DirectAccess), so the
/// tree is built and edited through the linear map (Linux: pgd_alloc + __va()).
template <ptlib::PageSource P>
class LinearTables {
 public:
  LinearTables(P& pages, std::uintptr_t offset) : pages_(&pages), access_(offset) {}

  std::optional<ptlib::NewTable> allocate(const ptlib::TableRequest& r) {
    ptlib::TableRequest q = r;
    q.zeroed = false;  // a page source has no mapping: zero through the linear map below
    auto pa = pages_->allocate(q);
    if (!pa) return std::nullopt;
    void* p = access_.map(*pa, r.depth);
    if (r.zeroed) __builtin_memset(p, 0, r.bytes);
    return ptlib::NewTable{*pa, p};
  }
  bool reserve(std::size_t n, const ptlib::TableRequest& r) { return pages_->reserve(n, r); }
  void release(PhysAddr pa, const ptlib::TableRequest& r) { pages_->release(pa, r); }
  void* map(PhysAddr pa, std::size_t depth) { return access_.map(pa, depth); }
  void unmap(void* p, std::size_t depth) { access_.unmap(p, depth); }
  const ptlib::DirectAccess& access() const { return access_; }

 private:
  P* pages_;
  ptlib::DirectAccess access_;
};

}  // namespace demo
