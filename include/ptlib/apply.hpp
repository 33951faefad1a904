// modify(): change the leaves of a range by callback (Linux apply_to_page_range, aarch64-paging
// modify_range), on the engine's one walker, planned by a dry run like protect() and unmap().
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops.hpp"

PTLIB_BEGIN_NAMESPACE

/// What modify()'s callback does with one leaf.
struct Change {
  enum class Kind : std::uint8_t {
    keep,    ///< leave the leaf as it is
    set,     ///< give it `attrs` (as protect() does: same output address)
    remove,  ///< unmap it (as unmap() does)
  };
  Kind kind = Kind::keep;
  Attrs attrs{};

  static constexpr Change keep() { return {}; }
  static constexpr Change set(Attrs a) { return {Kind::set, a}; }
  static constexpr Change remove() { return {Kind::remove, {}}; }
};

namespace detail {

/// The callback, erased: the walk is compiled once per format, not once per lambda.
template <PagingFormat F>
struct ChangeFn {
  void* ctx;
  Change (*fn)(void*, const Leaf<F>&);
  Change operator()(const Leaf<F>& l) const { return fn(ctx, l); }
  template <class Fn>
  static ChangeFn of(Fn& f) {
    return ChangeFn{const_cast<void*>(static_cast<const void*>(&f)),
                    [](void* c, const Leaf<F>& l) -> Change { return (*static_cast<Fn*>(c))(l); }};
  }
};

/// protect() whose attributes come from the callback per leaf, and unmap() where it says so.
/// The protect and unmap visitors do the work (splits at the edges, contiguous runs, live
/// policies), so modify() changes a leaf exactly as protect()/unmap() of that leaf would.
template <PagingFormat F>
struct ModifyVisitor : ProtectVisitor<F> {
  using G = Geometry<F>;
  ChangeFn<F> fn;
  bool removed = false;  // some leaf was unmapped: tables may have become empty

  UnmapVisitor<F> unmapper() const {
    return UnmapVisitor<F>{static_cast<const Editor<F>&>(*this), this->lo, this->hi};
  }
  Result<Step> leaf(const Slot<F>& s) {
    const std::uint64_t base = align_down(s.lo, G::span(s.depth));
    const Slot<F> whole{s.depth, s.table, s.index, 1, base, base + G::span(s.depth), true, s.entry};
    const Change c = fn(Leaf<F>{G::to_va(base), leaf_output(whole), G::span(s.depth), G::level(s.depth), s.depth,
                                s.entry.attrs, s.entry.contiguous});
    if (c.kind == Change::Kind::keep) return Step::done;
    if (c.kind == Change::Kind::set) {
      this->attrs = c.attrs;
      return ProtectVisitor<F>::leaf(s);
    }
    auto u = unmapper();
    auto r = u.leaf(s);
    this->report = u.report;
    removed = true;
    return r;
  }
  void table_post(const Slot<F>& s, void* table) {
    if (!removed) return;
    auto u = unmapper();
    u.table_post(s, table);  // releases the table if the walk left it empty (opts.release_empty)
    this->report = u.report;
  }
};

/// modify(), compiled once per format (see formats.hpp): a dry run (every error, the tables the
/// splits need), a reservation, the splits (they allocate but change no translation), then the
/// changes (which allocate nothing).
template <PagingFormat F>
Result<Report> modify_erased(const Tree<F>& tree, MemRef mem, VirtAddr va, std::uint64_t size, ChangeFn<F> fn,
                             const Options& opts, SyncRef sync) {
  using G = Geometry<F>;
  auto lo = check_va_range<F>(va, size);
  if (!lo) return lo.error();
  if (!tree.root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, va, tree.root);
  const std::uint64_t hi = *lo + size;
  auto walk = [&](SyncRef s, bool commit, bool splits_only) -> Result<Report> {
    ModifyVisitor<F> v{{Editor<F>{tree, mem, s, opts, commit}, *lo, hi, Attrs{}}, fn};
    v.splits_only = splits_only;
    PTLIB_TRY(walk_range(tree, mem, *lo, hi, v));
    return v.report;
  };
  auto plan = walk(SyncRef{}, false, false);
  if (!plan) return plan.error();
  const std::size_t tables = plan->tables_added;
  if (tables && !mem.reserve(tables, table_request<F>())) return out_of_memory(mem, table_request<F>(), tables, va);
  Report splits{};
  if (tables) {
    auto r = walk(sync, true, true);
    if (!r) return r.error();
    splits = *r;
  }
  auto r = walk(sync, true, false);
  if (!r) return r.error();
  merge(*r, splits);
  return r;
}

}  // namespace detail

/// Calls `fn(const Leaf<F>&) -> Change` for every leaf that meets [va, va + size), in VA order,
/// and applies its answer: keep the leaf, give it other attributes (as protect(): a leaf or
/// contiguous run only partly inside the range is split or unfolded first, and only the part
/// inside changes; live policies as protect()), or unmap it (as unmap(): tables left empty are
/// released with opts.release_empty). Holes are skipped: map() fills them. The Leaf passed is
/// the whole leaf, even where it reaches outside the range.
///
/// No partial success, on one condition: `fn` must answer the same for the same leaf every
/// time, because it is asked during the dry run (which finds every error and counts the tables
/// the splits need), and again while writing (up to three times per leaf, and once more for
/// each leaf a split makes). A callback that keeps state and answers differently can make the
/// writing walk meet an error the dry run did not see, after earlier leaves were changed; that
/// is the one case where modify() can fail half-way (the tree is still well formed). Errors:
/// the VA errors of unmap(), unsupported_attrs / unsupported_memtype (an answer the format
/// cannot express, with the leaf's VA and level), needs_break_before_make (Live::refuse),
/// out_of_memory (splits), malformed_entry.
template <PagingFormat F, TableMemory M, class Fn, SyncHook S = NoSync>
Result<Report> modify(const Tree<F>& tree, M& mem, VirtAddr va, std::uint64_t size, Fn&& fn, const Options& opts = {},
                      S&& sync = S{}) {
  return detail::modify_erased<F>(tree, MemRef(mem), va, size, detail::ChangeFn<F>::of(fn), opts, SyncRef(sync));
}

PTLIB_END_NAMESPACE
