// The one create-mapping engine: map(tree, memory, va, pa, size, attrs, options) for every format.
#pragma once
#include <cstddef>
#include <cstdint>

#include "walk.hpp"

PTLIB_BEGIN_NAMESPACE

/// Which levels a mutating call wrote entries at (bit d = depth d, 0 = root), as the x86
/// kernel-mapping sync thread asks: "a new top-level entry was written" is `root()`.
struct LevelMask {
  std::uint32_t bits = 0;
  constexpr void set(std::size_t depth) { bits |= 1U << depth; }
  [[nodiscard]] constexpr bool has(std::size_t depth) const { return (bits >> depth) & 1U; }
  [[nodiscard]] constexpr bool root() const { return has(0); }
  [[nodiscard]] constexpr bool empty() const { return bits == 0; }
  constexpr bool operator==(const LevelMask&) const = default;
};

/// Per-call choices for map().
struct MapOptions {
  /// Largest leaf the engine may use, in bytes (0 = whatever the format allows). A value below a
  /// level's size rules that level's leaves out; the smallest page is always allowed, so any
  /// value up to the page size means "smallest pages only".
  std::uint64_t max_leaf_size = 0;
  /// Where a format cannot forbid execution (x86 without NX), map a non-executable request as
  /// executable instead of failing with Errc::unsupported_attrs. Off: never a silent upgrade.
  bool allow_implied_exec = false;

  /// Only smallest pages.
  static constexpr MapOptions page_only() { return MapOptions{1, false}; }
};

/// What a successful mutating call did.
struct MapReport {
  LevelMask modified{};        ///< levels at which entries were written
  std::size_t tables_added = 0;///< tables allocated and linked
};

namespace detail {

/// The map visitor. With Commit = false it is the dry run: it counts tables and finds every
/// error without writing; with Commit = true it writes, and cannot fail once the dry run passed
/// and the tables were reserved.
template <PagingFormat F, class M, bool Commit>
struct MapVisitor {
  using G = Geometry<F>;
  using Entry = typename F::Entry;

  M& mem;
  const Tree<F>& tree;
  std::uint64_t va0;  // tree offset of the first VA
  PhysAddr pa0;
  std::uint64_t max_leaf;
  const Entry* proto;       // per depth
  const Error* proto_error; // per depth; code meaningful only where proto_ok is false
  const bool* proto_ok;
  std::size_t tables = 0;
  LevelMask mask{};

  PhysAddr pa_at(std::uint64_t t) const { return pa0 + (t - va0); }
  Error level_error(Errc c, const Slot<F>& s, PhysAddr pa) const {
    const auto L = G::level(s.depth);
    return Error{c, G::to_va(s.lo), pa, level_number<F>(L), F::level_name(L)};
  }

  Result<Step> absent(const Slot<F>& s) {
    const std::uint64_t span = G::span(s.depth);
    const bool smallest = s.depth + 1 == G::kDepth;  // pages are always allowed
    if (!s.full || !F::can_leaf(G::level(s.depth), tree.caps) || (span > max_leaf && !smallest) ||
        !pa_at(s.lo).aligned(span))
      return Step::descend;
    if (!proto_ok[s.depth]) {
      Error e = level_error(proto_error[s.depth].code, s, pa_at(s.lo));
      return e;
    }
    if constexpr (Commit) {
      write_leaves(s, span);
      mask.set(s.depth);
    }
    return Step::done;
  }

  void write_leaves(const Slot<F>& s, std::uint64_t span) {
    const auto L = G::level(s.depth);
    const Entry p = proto[s.depth];
    Entry* e = s.table + s.index;
    std::uint64_t pa = pa_at(s.lo).value;
    for (std::size_t k = 0; k < s.count; ++k, pa += span) e[k] = F::leaf(L, p, PhysAddr(pa));
  }

  Result<Child> create(const Slot<F>& s) {
    ++tables;
    if constexpr (!Commit) {
      return Child{};
    } else {
      const std::size_t d = s.depth + 1;
      auto t = mem.allocate(TableRequest{G::table_bytes(d), G::table_align(d), false, d});
      if (!t) return level_error(Errc::out_of_memory, s, PhysAddr{});
      // The walk writes every entry in [first, last]; clear the rest (so no table is zeroed twice).
      Entry* e = static_cast<Entry*>(t->ptr);
      const std::size_t first = G::index(s.lo, d), last = G::index(s.hi - 1, d);
      for (std::size_t k = 0; k < first; ++k) e[k] = 0;
      for (std::size_t k = last + 1; k < G::entries(d); ++k) e[k] = 0;
      return Child{t->pa, t->ptr};
    }
  }

  void link(const Slot<F>& s, const Child& c) {
    if constexpr (Commit) {
      s.table[s.index] = F::table(G::level(s.depth), c.pa);
      mask.set(s.depth);
      mem.unmap(c.ptr, s.depth + 1);
    }
  }

  Step table_pre(const Slot<F>&) { return Step::descend; }

  Result<void> leaf(const Slot<F>& s) {
    const std::uint64_t base = align_down(s.lo, G::span(s.depth));
    return level_error(Errc::overlap, s, leaf_output(s) + (s.lo - base));
  }
};

}  // namespace detail

/// Checks the arguments every range call shares; returns the tree offset of `va`.
template <PagingFormat F>
Result<std::uint64_t> check_range(VirtAddr va, PhysAddr pa, std::uint64_t size) {
  using G = Geometry<F>;
  if (size == 0) return make_error(Errc::zero_size, va, pa);
  if (!va.aligned(G::kPageSize)) return make_error(Errc::misaligned_va, va, pa);
  if (!pa.aligned(G::kPageSize)) return make_error(Errc::misaligned_pa, va, pa);
  if (size & (G::kPageSize - 1)) return make_error(Errc::misaligned_size, va, pa);
  if (va.value + (size - 1) < va.value || pa.value + (size - 1) < pa.value) return make_error(Errc::range_wraps, va, pa);
  Errc why{};
  if (!G::va_in_range(va.value, size, why)) return make_error(why, va, pa);
  if (pa.value + (size - 1) > G::kPaLimit) return make_error(Errc::pa_out_of_range, va, pa);
  return G::to_tree(va);
}

/// Maps [va, va + size) to [pa, pa + size) with `attrs`.
///
/// At each step the engine uses the largest leaf that the format allows at that level, the
/// tree's capabilities allow, `opts.max_leaf_size` allows, and the alignment of VA, PA and the
/// remaining size allows. It walks the range once per chunk (never from the root per page).
/// Where an existing table covers a block-sized chunk, the engine maps inside that table.
///
/// Preconditions: `tree.root` is a table of the format reachable through `mem`.
/// Errors: Errc::zero_size, misaligned_va / misaligned_pa / misaligned_size (smallest page),
/// range_wraps, va_out_of_range / va_non_canonical, pa_out_of_range, overlap (an existing leaf
/// meets the range; reported with its VA, its PA and level), unsupported_attrs /
/// unsupported_memtype (with the level whose leaf could not express them), out_of_memory,
/// malformed_entry, misaligned_table (the root).
/// No partial success: a dry run finds every error and counts the tables needed, which are
/// reserved before the first write; on any error the tables and allocator are as before.
template <PagingFormat F, TableMemory M>
Result<MapReport> map(const Tree<F>& tree, M& mem, VirtAddr va, PhysAddr pa, std::uint64_t size, Attrs attrs,
                      const MapOptions& opts = {}) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  static_assert(G::uniform_tables(), "tables below the root must all have one size");
  auto lo = check_range<F>(va, pa, size);
  if (!lo) return lo.error();
  if (!tree.root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, va, tree.root);

  // Leaf bits per depth, encoded once per call.
  Entry proto[G::kDepth]{};
  Error proto_error[G::kDepth]{};
  bool proto_ok[G::kDepth]{};
  const LeafSettings settings{attrs, false, opts.allow_implied_exec};
  for (std::size_t d = 0; d < G::kDepth; ++d) {
    if (!F::can_leaf(G::level(d), tree.caps)) continue;
    auto p = F::leaf_proto(G::level(d), settings, tree.caps);
    proto_ok[d] = p.ok();
    if (p) proto[d] = *p; else proto_error[d] = p.error();
  }
  const std::uint64_t max_leaf = opts.max_leaf_size ? opts.max_leaf_size : ~std::uint64_t{0};

  detail::MapVisitor<F, M, false> plan{mem, tree, *lo, pa, max_leaf, proto, proto_error, proto_ok};
  PTLIB_TRY(walk_range(tree, mem, *lo, *lo + size, plan));
  if (plan.tables && !mem.reserve(plan.tables, TableRequest{G::table_bytes(1), G::table_align(1), false, 1}))
    return make_error(Errc::out_of_memory, va, pa);

  detail::MapVisitor<F, M, true> commit{mem, tree, *lo, pa, max_leaf, proto, proto_error, proto_ok};
  PTLIB_TRY(walk_range(tree, mem, *lo, *lo + size, commit));
  return MapReport{commit.mask, commit.tables};
}

/// Allocates a zeroed root table for a format.
template <PagingFormat F, TableMemory M>
Result<Tree<F>> make_tree(M& mem, const typename F::Caps& caps = {}) {
  using G = Geometry<F>;
  auto t = mem.allocate(TableRequest{G::table_bytes(0), G::table_align(0), true, 0});
  if (!t) return make_error(Errc::out_of_memory);
  mem.unmap(t->ptr, 0);
  return Tree<F>{t->pa, caps};
}

PTLIB_END_NAMESPACE
