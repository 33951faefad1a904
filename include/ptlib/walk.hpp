// The one range walker (visitors: map, translate, leaf listing; later unmap/protect/split) and
// the read-only queries built on it.
#pragma once
#include <cstddef>
#include <cstdint>
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
///    linked only once it is filled). Entries of a fresh table are never read: the creator
///    fills them or the walk writes them.
///  - leaves: `Result<Step> leaf(const Slot&)`. Step::descend: the visitor has replaced the leaf
///    by a table of next-level leaves (a split); the walker re-reads the entry and walks into
///    it. Step::split (dry runs): the walker walks into a synthesized table whose entries are the
///    leaves such a split would write, so a dry run meets exactly what the real run will.
///  - tables: `Step table_pre(const Slot&)` (Step::descend walks into it; Step::done skips it),
///    then after the walk into an existing table `void table_post(const Slot&, void* table)`
///    (the visitor may fold or release it; the walker releases its access afterwards).
/// The first error stops the walk and is returned.
namespace detail {

/// How the walker reads a table: from memory, as all-invalid (a table being created), or as
/// the split of a leaf (dry run).
enum class Source : std::uint8_t { memory, fresh, split };

template <PagingFormat F, TableAccess A, class V>
struct Walker {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  A& access;
  V& visitor;

  template <std::size_t D>
  Result<void> walk(Entry* table, Source src, const Decoded& parent, std::uint64_t lo, std::uint64_t hi) {
    constexpr std::uint64_t span = G::span(D);
    constexpr auto L = G::level(D);
    auto read = [&](std::size_t i, std::uint64_t base) -> Decoded {
      switch (src) {
        case Source::memory: return F::decode(L, table[i]);
        case Source::fresh: return Decoded{};
        case Source::split: {
          const std::uint64_t k = (base >> G::shift(D)) & (G::entries(D) - 1);
          return Decoded{EntryKind::leaf, parent.addr + k * span, parent.attrs};
        }
      }
      return Decoded{};
    };
    std::size_t i = G::index(lo, D);
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
            while (n < max_n && F::decode(L, table[i + n]).kind == EntryKind::invalid) ++n;
          }
        }
        const std::uint64_t run_hi = full ? lo + n * span : end;
        Slot<F> s{D, table, i, n, lo, run_hi, full, {}};
        auto step = visitor.absent(s);
        if (!step) return step.error();
        if (*step == Step::descend) {
          if constexpr (D + 1 < G::kDepth) {
            for (std::size_t k = 0; k < n; ++k) {
              const std::uint64_t clo = lo + k * span;
              const std::uint64_t chi = full ? clo + span : run_hi;
              Slot<F> one{D, table, i + k, 1, clo, chi, full, {}};
              auto child = visitor.create(one);
              if (!child) return child.error();
              PTLIB_TRY(walk<D + 1>(static_cast<Entry*>(child->ptr), Source::fresh, e, clo, chi));
              visitor.link(one, *child);
            }
          } else {
            return malformed<D>(lo, PhysAddr{});
          }
        }
        lo = run_hi;
        i += n;
        continue;
      }
      Slot<F> s{D, table, i, 1, lo, end, full, e};
      if (e.kind == EntryKind::leaf) {
        auto step = visitor.leaf(s);
        if (!step) return step.error();
        if (*step == Step::split) {
          if constexpr (D + 1 < G::kDepth) {
            PTLIB_TRY(walk<D + 1>(nullptr, Source::split, e, lo, end));
          } else {
            return malformed<D>(lo, e.addr);
          }
        } else if (*step == Step::descend) {
          e = F::decode(L, table[i]);  // the visitor wrote a table here
          s.entry = e;
          PTLIB_TRY(into_table<D>(s, lo, end));
        }
      } else if (e.kind == EntryKind::table) {
        if (visitor.table_pre(s) == Step::descend) PTLIB_TRY(into_table<D>(s, lo, end));
      } else {
        return malformed<D>(lo, e.addr);
      }
      lo = end;
      ++i;
    }
    return {};
  }

  /// Walks into the existing table `s.entry` points at, then lets the visitor see it again.
  template <std::size_t D>
  Result<void> into_table(const Slot<F>& s, std::uint64_t lo, std::uint64_t hi) {
    if constexpr (D + 1 < G::kDepth) {
      void* p = access.map(s.entry.addr, D + 1);
      if (!p) return malformed<D>(lo, s.entry.addr);
      auto r = walk<D + 1>(static_cast<Entry*>(p), Source::memory, s.entry, lo, hi);
      if (r) visitor.table_post(s, p);
      access.unmap(p, D + 1);
      return r;
    } else {
      return malformed<D>(lo, s.entry.addr);  // a table pointer at the last level
    }
  }

  /// A malformed entry (or an unreachable table) met at depth D.
  template <std::size_t D>
  static Error malformed(std::uint64_t lo, PhysAddr pa) {
    constexpr auto L = G::level(D);
    return Error{Errc::malformed_entry, G::to_va(lo), pa, level_number<F>(L), F::level_name(L)};
  }
};

}  // namespace detail

/// Walks [lo, hi) (tree offsets) of `tree` with `visitor` (see the walk contract above).
template <PagingFormat F, TableAccess A, class V>
Result<void> walk_range(const Tree<F>& tree, A& access, std::uint64_t lo, std::uint64_t hi, V& visitor) {
  void* root = access.map(tree.root, 0);
  if (!root) return Error{Errc::malformed_entry, VirtAddr{}, tree.root, Error::kNoLevel, nullptr};
  detail::Walker<F, A, V> w{access, visitor};
  auto r = w.template walk<0>(static_cast<typename F::Entry*>(root), detail::Source::memory, Decoded{}, lo, hi);
  access.unmap(root, 0);
  return r;
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

template <PagingFormat F, class Fn>
struct LeafVisitor {
  using G = Geometry<F>;
  Fn& fn;
  Result<Step> absent(const Slot<F>&) { return Step::done; }
  Result<Child> create(const Slot<F>&) { return Child{}; }
  void link(const Slot<F>&, const Child&) {}
  Step table_pre(const Slot<F>&) { return Step::descend; }
  void table_post(const Slot<F>&, void*) {}
  Result<Step> leaf(const Slot<F>& s) {
    const std::uint64_t base = align_down(s.lo, G::span(s.depth));
    fn(Leaf<F>{G::to_va(base), leaf_output(s), G::span(s.depth), G::level(s.depth), s.depth, s.entry.attrs,
               s.entry.contiguous});
    return Step::done;
  }
};
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
  detail::LeafVisitor<F, Fn> v{fn};
  const std::uint64_t lo = G::to_tree(va);
  return walk_range(tree, access, lo, lo + size, v);
}

/// Calls `fn` for every leaf of the tree. For sign-extended formats the low half comes first.
template <PagingFormat F, TableAccess A, class Fn>
Result<void> for_each_leaf(const Tree<F>& tree, A& access, Fn&& fn) {
  using G = Geometry<F>;
  detail::LeafVisitor<F, Fn> v{fn};
  return walk_range(tree, access, 0, G::kVaMask + 1, v);
}

/// Translates one virtual address. Errors: Errc::not_mapped (with the VA), the VA range
/// errors, Errc::malformed_entry.
template <PagingFormat F, TableAccess A>
Result<Translation<F>> translate(const Tree<F>& tree, A& access, VirtAddr va) {
  using G = Geometry<F>;
  Translation<F> t{};
  bool found = false;
  auto fn = [&](const Leaf<F>& l) {
    t.leaf = l;
    t.pa = l.pa + (va - l.va);
    found = true;
  };
  PTLIB_TRY(for_each_leaf(tree, access, VirtAddr(align_down(va.value, G::kPageSize)), G::kPageSize, fn));
  if (!found) return make_error(Errc::not_mapped, va);
  return t;
}

PTLIB_END_NAMESPACE
