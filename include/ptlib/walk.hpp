// The one range walker (its visitors: map, unmap, protect, compact, modify, preallocate, leaf
// listing, validate, and the copier behind clone/share_root/SharedKernel) and the read-only
// queries built on it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "format.hpp"
#include "memory.hpp"

PTLIB_BEGIN_NAMESPACE

/// A tree: the root's physical address plus the CPU capabilities the format consults.
template <PagingFormat F>
struct Tree {
  PhysAddr root{};
  typename F::Caps caps{};
};

/// Where the walker stands: one entry (`count` == 1) or a run of entries of one table.
/// `lo`/`hi` are tree offsets (VA with the bits above the format's VA width dropped; see
/// Geometry::to_va) of the part of the requested range these entries cover. `full` says every
/// entry of the run is covered whole.
template <PagingFormat F>
struct Slot {
  std::size_t depth = 0;
  typename F::Entry* table = nullptr;  ///< the table (nullptr inside a dry run's fresh subtree)
  std::size_t index = 0;
  std::size_t count = 1;
  std::uint64_t lo = 0, hi = 0;
  bool full = false;
  Decoded entry{};  ///< the decoded entry (leaf and table visits only)
};

/// What a visitor tells the walker after a visit.
enum class Step : std::uint8_t {
  done,     ///< handled (or skipped); move on
  descend,  ///< absent entries: create a table per entry (visitor.create) and walk into it;
            ///< a table entry: walk into the existing table;
            ///< a leaf: the visitor replaced it with a table (a split); walk into that table
  split,    ///< a leaf, in a dry run: walk into the table a split would make, without making it
};

/// A table the visitor created for the walker to descend into (ptr nullptr in a dry run).
struct Child {
  PhysAddr pa{};
  void* ptr = nullptr;
};

/// The walk contract. The walker visits [lo, hi) of a tree, descending once per chunk:
///  - runs of invalid entries: `Result<Step> absent(const Slot&)`. Step::descend asks the walker
///    to call `Result<Child> create(const Slot&)` for each entry of the run, walk the new
///    ("fresh") table, then `void link(const Slot&, const Child&)` (post-order: a table is
///    linked only once it is filled). When the walk of a fresh table fails, its entries not yet
///    written are cleared and `void discard(const Slot&, const Child&)` gets it instead of link. Entries of a fresh table are never read: the creator
///    fills them or the walk writes them.
///  - leaves: `Result<Step> leaf(const Slot&)`. Step::descend: the visitor has replaced the leaf
///    by a table of next-level leaves (a split); the walker re-reads the entry and walks into
///    it. Step::split (dry runs): the walker walks into a synthesized table whose entries are the
///    leaves such a split would write, so a dry run meets exactly what the real run will.
///  - tables: `Step table_pre(const Slot&)` or `Result<Step> table_pre(const Slot&)` (Step::descend
///    walks into it; Step::done skips it), then after the walk into an existing table
///    `void table_post(const Slot&, void* table)` (the visitor may fold or release it; the walker
///    releases its access afterwards).
///  - optional, `Result<void> fault(const Slot&)`: a malformed entry (`s.entry.kind` malformed) or
///    a table the access cannot map (`s.entry.kind` table). Without it the walk stops there with
///    Errc::malformed_entry; with it the walk goes on past the entry unless fault() returns an
///    error (validate() reports and goes on, the copier copies malformed entries it shares).
/// The first error stops the walk and is returned.
namespace detail {

/// The error at depth d for tree offset lo (the walk's errors, and visitors' own).
template <PagingFormat F>
Error entry_error(Errc c, std::size_t d, std::uint64_t lo, PhysAddr pa) {
  using G = Geometry<F>;
  const auto L = G::level(d);
  return Error{c, G::to_va(lo), pa, level_number<F>(L), F::level_name(L)};
}

/// How the walker reads a table: from memory, as all-invalid (a table being created), or as
/// the split of a leaf (dry run).
enum class Source : std::uint8_t { memory, fresh, split };

template <PagingFormat F, class V>
struct Walker {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  MemRef access;
  V& visitor;
  /// Whether the visitor sees malformed entries and unreachable tables (else the walk stops).
  static constexpr bool kHasFault = requires(V& v, const Slot<F>& s) { v.fault(s); };

  // The depth is a run-time value: one copy of the walk per format and visitor, not one per
  // level (the format's geometry is read from its constexpr tables).
  Result<void> walk(std::size_t d, Entry* table, Source src, const Decoded& parent, std::uint64_t lo,
                    std::uint64_t hi) {
    std::size_t i = G::index(lo, d);
    auto r = walk_entries(d, table, src, parent, lo, hi, i);
    if (!r && src == Source::fresh && table) {
      // A fresh table that will not be linked: clear what the walk did not write, so the
      // visitor's discard() can read it (and release the tables linked into it).
      const std::size_t last = G::index(hi - 1, d);
      for (std::size_t k = i; k <= last; ++k) table[k] = 0;
    }
    return r;
  }

  Result<void> walk_entries(std::size_t d, Entry* table, Source src, const Decoded& parent, std::uint64_t lo,
                            std::uint64_t hi, std::size_t& i) {
    const std::uint64_t span = G::span(d);
    const auto L = G::level(d);
    const bool last_level = d + 1 >= G::kDepth;
    auto read = [&](std::size_t i, std::uint64_t base) -> Decoded {
      switch (src) {
        case Source::memory: return F::decode(L, table[i]);
        case Source::fresh: return Decoded{};
        case Source::split: {
          const std::uint64_t k = (base >> G::shift(d)) & (G::entries(d) - 1);
          return Decoded{EntryKind::leaf, parent.addr + k * span, parent.attrs};
        }
      }
      return Decoded{};
    };
    while (lo < hi) {
      const std::uint64_t base = align_down(lo, span);
      const std::uint64_t end = hi - base > span ? base + span : hi;
      const bool full = lo == base && end == base + span;
      Decoded e = read(i, base);
      if (e.kind == EntryKind::invalid) {
        // Gather a run of wholly covered invalid entries.
        std::size_t n = 1;
        if (full) {
          const std::uint64_t max_n = (hi - lo) / span;
          if (src == Source::fresh) {
            n = std::size_t(max_n);
          } else {
            // Most of a sparse table is zero: where zero is invalid at this level (every real
            // format), zero entries are counted without decoding them.
            const bool zero_invalid = F::decode(L, Entry{}).kind == EntryKind::invalid;
            while (n < max_n && ((zero_invalid && table[i + n] == Entry{}) ||
                                 F::decode(L, table[i + n]).kind == EntryKind::invalid))
              ++n;
          }
        }
        const std::uint64_t run_hi = full ? lo + n * span : end;
        Slot<F> s{d, table, i, n, lo, run_hi, full, {}};
        auto step = visitor.absent(s);
        if (!step) return step.error();
        if (*step == Step::descend) {
          if (last_level) return malformed(d, lo, Error::kNoPa);
          for (std::size_t k = 0; k < n; ++k) {
            const std::uint64_t clo = lo + k * span;
            const std::uint64_t chi = full ? clo + span : run_hi;
            Slot<F> one{d, table, i + k, 1, clo, chi, full, {}};
            // On failure, i moves to the entry that failed: the k entries before it are linked
            // tables, which a fresh table being given up must keep (walk() clears from i on,
            // and the visitor's discard() releases what is linked).
            auto child = visitor.create(one);
            if (!child) {
              i += k;
              return child.error();
            }
            auto r = walk(d + 1, static_cast<Entry*>(child->ptr), Source::fresh, e, clo, chi);
            if (!r) {
              visitor.discard(one, *child);
              i += k;
              return r;
            }
            visitor.link(one, *child);
          }
        }
        lo = run_hi;
        i += n;
        continue;
      }
      Slot<F> s{d, table, i, 1, lo, end, full, e};
      if (e.kind == EntryKind::leaf) {
        auto step = visitor.leaf(s);
        if (!step) return step.error();
        if (*step == Step::split) {
          if (last_level) return malformed(d, lo, e.addr);
          PTLIB_TRY(walk(d + 1, nullptr, Source::split, e, lo, end));
        } else if (*step == Step::descend) {
          e = F::decode(L, table[i]);  // the visitor wrote a table here
          s.entry = e;
          PTLIB_TRY(into_table(s, lo, end));
        }
      } else if (e.kind == EntryKind::table) {
        PTLIB_TRY(table_entry(s));
      } else if constexpr (kHasFault) {
        PTLIB_TRY(visitor.fault(s));
      } else {
        return malformed(d, lo, e.addr);
      }
      lo = end;
      ++i;
    }
    return {};
  }

  /// Visits the table entry `s` (table_pre, then the walk into the table and table_post). Also
  /// the way to walk one subtree from the entry that links it.
  Result<void> table_entry(const Slot<F>& s) {
    if constexpr (std::is_same_v<decltype(visitor.table_pre(s)), Step>) {
      if (visitor.table_pre(s) == Step::descend) return into_table(s, s.lo, s.hi);
    } else {
      const Result<Step> step = visitor.table_pre(s);
      if (!step) return step.error();
      if (*step == Step::descend) return into_table(s, s.lo, s.hi);
    }
    return {};
  }

  /// Walks into the existing table `s.entry` points at, then lets the visitor see it again.
  Result<void> into_table(const Slot<F>& s, std::uint64_t lo, std::uint64_t hi) {
    const std::size_t d = s.depth;
    if (d + 1 >= G::kDepth) return malformed(d, lo, s.entry.addr);  // a table pointer at the last level
    void* p = access.map(s.entry.addr, d + 1);
    if (!p) {
      if constexpr (kHasFault) return visitor.fault(s);
      else return malformed(d, lo, s.entry.addr);
    }
    auto r = walk(d + 1, static_cast<Entry*>(p), Source::memory, s.entry, lo, hi);
    if (r) visitor.table_post(s, p);
    access.unmap(p, d + 1);
    return r;
  }

  /// A malformed entry (or an unreachable table) met at depth d.
  static Error malformed(std::size_t d, std::uint64_t lo, PhysAddr pa) {
    return entry_error<F>(Errc::malformed_entry, d, lo, pa);
  }
};

/// Defaults of the walk contract for visitors that never create tables.
template <PagingFormat F>
struct ReadVisitor {
  Result<Step> absent(const Slot<F>&) { return Step::done; }
  Result<Child> create(const Slot<F>&) { return Child{}; }
  void link(const Slot<F>&, const Child&) {}
  void discard(const Slot<F>&, const Child&) {}
  Result<Step> leaf(const Slot<F>&) { return Step::done; }
  Step table_pre(const Slot<F>&) { return Step::descend; }
  void table_post(const Slot<F>&, void*) {}
};

}  // namespace detail

/// Walks [lo, hi) (tree offsets) of `tree` with `visitor` (see the walk contract above).
/// `fresh_root`: walk as if the root were a new, all-invalid table (dry runs that plan a tree
/// before its root exists); the root is then never read.
template <PagingFormat F, class V>
Result<void> walk_range(const Tree<F>& tree, MemRef access, std::uint64_t lo, std::uint64_t hi, V& visitor,
                        bool fresh_root = false) {
  detail::Walker<F, V> w{access, visitor};
  if (fresh_root) return w.walk(0, nullptr, detail::Source::fresh, Decoded{}, lo, hi);
  void* root = access.map(tree.root, 0);
  if (!root) return Error{Errc::malformed_entry, VirtAddr{}, tree.root, Error::kNoLevel, nullptr};
  auto r = w.walk(0, static_cast<typename F::Entry*>(root), detail::Source::memory, Decoded{}, lo, hi);
  access.unmap(root, 0);
  return r;
}
template <PagingFormat F, TableAccess A, class V>
  requires(!std::is_same_v<std::remove_const_t<A>, MemRef>)
Result<void> walk_range(const Tree<F>& tree, A& access, std::uint64_t lo, std::uint64_t hi, V& visitor) {
  return walk_range(tree, MemRef(access), lo, hi, visitor);
}

/// One leaf of a tree, as a read-only walk reports it.
template <PagingFormat F>
struct Leaf {
  VirtAddr va{};          ///< first VA the leaf maps
  PhysAddr pa{};          ///< its output address
  std::uint64_t size = 0; ///< bytes the leaf maps
  typename F::Level level{};
  std::size_t depth = 0;
  Attrs attrs{};
  bool contiguous = false;
  constexpr bool operator==(const Leaf&) const = default;
};

/// The answer of translate(): where `va` goes and through which leaf.
template <PagingFormat F>
struct Translation {
  PhysAddr pa{};        ///< the physical address `va` translates to (page offset included)
  Leaf<F> leaf{};       ///< the leaf that maps it
};

namespace detail {
/// Output address of the leaf at `s` (first byte of the page/block it maps).
template <PagingFormat F>
constexpr PhysAddr leaf_output(const Slot<F>& s) {
  using G = Geometry<F>;
  const unsigned shift = G::shift(s.depth);
  const std::uint64_t in_run = (s.lo >> shift) & ((std::uint64_t{1} << s.entry.run_log2) - 1);
  return s.entry.addr + (in_run << shift);
}

/// A leaf callback, erased: the walker is instantiated once per format, not once per lambda.
template <PagingFormat F>
struct LeafFn {
  void* ctx;
  void (*fn)(void*, const Leaf<F>&);
  void operator()(const Leaf<F>& l) const { fn(ctx, l); }
  template <class Fn>
  static LeafFn of(Fn& f) {
    return LeafFn{const_cast<void*>(static_cast<const void*>(&f)),
                  [](void* c, const Leaf<F>& l) { (*static_cast<Fn*>(c))(l); }};
  }
};

template <PagingFormat F>
struct LeafVisitor : ReadVisitor<F> {
  using G = Geometry<F>;
  LeafFn<F> fn;
  Result<Step> leaf(const Slot<F>& s) {
    const std::uint64_t base = align_down(s.lo, G::span(s.depth));
    fn(Leaf<F>{G::to_va(base), leaf_output(s), G::span(s.depth), G::level(s.depth), s.depth, s.entry.attrs,
               s.entry.contiguous});
    return Step::done;
  }
};

/// The leaves meeting tree offsets [lo, hi), in VA order (compiled once per format).
template <PagingFormat F>
Result<void> leaves_erased(const Tree<F>& tree, MemRef access, std::uint64_t lo, std::uint64_t hi, LeafFn<F> fn) {
  LeafVisitor<F> v{{}, fn};
  return walk_range(tree, access, lo, hi, v);
}

/// One descent from the root to the leaf mapping the page at tree offset `t` (no walker).
template <PagingFormat F>
Result<Translation<F>> translate_erased(const Tree<F>& tree, MemRef access, VirtAddr va) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  const VirtAddr page(align_down(va.value, G::kPageSize));
  Errc why{};
  if (!G::va_in_range(page.value, G::kPageSize, why)) return make_error(why, page);
  const std::uint64_t t = G::to_tree(page);
  void* mapped[G::kDepth] = {};
  auto done = [&](std::size_t n) {
    for (std::size_t k = n; k-- > 0;) access.unmap(mapped[k], k);
  };
  mapped[0] = access.map(tree.root, 0);
  if (!mapped[0]) return Error{Errc::malformed_entry, VirtAddr{}, tree.root, Error::kNoLevel, nullptr};
  for (std::size_t d = 0;; ++d) {
    const auto L = G::level(d);
    const std::size_t i = G::index(t, d);
    const Decoded e = F::decode(L, static_cast<const Entry*>(mapped[d])[i]);
    auto fail = [&](Errc c, PhysAddr pa) -> Error {
      done(d + 1);
      return Error{c, c == Errc::not_mapped ? va : G::to_va(t), pa, c == Errc::not_mapped ? Error::kNoLevel : level_number<F>(L),
                   c == Errc::not_mapped ? nullptr : F::level_name(L)};
    };
    if (e.kind == EntryKind::invalid) return fail(Errc::not_mapped, Error::kNoPa);
    if (e.kind == EntryKind::malformed) return fail(Errc::malformed_entry, e.addr);
    if (e.kind == EntryKind::leaf) {
      const std::uint64_t base = align_down(t, G::span(d));
      const Slot<F> s{d, nullptr, i, 1, t, t + G::kPageSize, false, e};
      Translation<F> out{};
      out.leaf = Leaf<F>{G::to_va(base), leaf_output(s), G::span(d), L, d, e.attrs, e.contiguous};
      out.pa = out.leaf.pa + (va - out.leaf.va);
      done(d + 1);
      return out;
    }
    if (d + 1 == G::kDepth) return fail(Errc::malformed_entry, e.addr);
    mapped[d + 1] = access.map(e.addr, d + 1);
    if (!mapped[d + 1]) return fail(Errc::malformed_entry, e.addr);
  }
}
}  // namespace detail

/// Calls `fn(const Leaf<F>&)` for every leaf that meets [va, va + size), in VA order.
/// A leaf only partly inside the range is reported whole. Errors: the VA errors of map(), and
/// Errc::malformed_entry for an entry that is illegal for its level or a table the access
/// cannot reach.
template <PagingFormat F, TableAccess A, class Fn>
Result<void> for_each_leaf(const Tree<F>& tree, A& access, VirtAddr va, std::uint64_t size, Fn&& fn) {
  using G = Geometry<F>;
  if (size == 0) return make_error(Errc::zero_size, va);
  if (va.value + (size - 1) < va.value) return make_error(Errc::range_wraps, va);
  Errc why{};
  if (!G::va_in_range(va.value, size, why)) return make_error(why, va);
  const std::uint64_t lo = G::to_tree(va);
  return detail::leaves_erased(tree, MemRef(access), lo, lo + size, detail::LeafFn<F>::of(fn));
}

/// Calls `fn` for every leaf of the tree. For sign-extended formats the low half comes first.
template <PagingFormat F, TableAccess A, class Fn>
Result<void> for_each_leaf(const Tree<F>& tree, A& access, Fn&& fn) {
  using G = Geometry<F>;
  return detail::leaves_erased(tree, MemRef(access), 0, G::kVaMask + 1, detail::LeafFn<F>::of(fn));
}

/// Translates one virtual address. Errors: Errc::not_mapped (with the VA), the VA range
/// errors, Errc::malformed_entry.
template <PagingFormat F, TableAccess A>
Result<Translation<F>> translate(const Tree<F>& tree, A& access, VirtAddr va) {
  return detail::translate_erased(tree, MemRef(access), va);
}

PTLIB_END_NAMESPACE
