// Copying trees: a deep copy into other memory (kexec / hibernation copies of the linear map), a
// new root that shares the tables below a chosen depth with its source (a process root sharing
// the kernel half), and the copier that keeps such shared copies up to date (share.hpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ops.hpp"
#include "walk.hpp"

PTLIB_BEGIN_NAMESPACE

/// What a copy (or a refresh of a shared copy) did to its destination.
struct CopyReport {
  std::size_t tables_added = 0;     ///< destination tables allocated (root excluded)
  std::size_t tables_released = 0;  ///< destination tables given back (refresh only)
  std::size_t entries_written = 0;  ///< destination entries that changed (copied, linked, cleared)
  bool changed_valid = false;       ///< a valid destination entry was rewritten or cleared
};

namespace detail {

/// Gives back a destination's private tables: walked from the entry that links them, each table
/// at depth <= `share` is released after the tables below it; the tables its depth-`share`
/// entries point at are shared and stay. Malformed entries are skipped; a table the memory
/// cannot map stops the walk (the dry run, commit = false, finds that before anything is
/// released).
template <PagingFormat F>
struct Releaser : ReadVisitor<F> {
  using G = Geometry<F>;
  MemRef mem;
  std::size_t share;
  bool commit;
  std::size_t released = 0;

  /// Releases the subtree linked from the table entry `s` (a tree offset range of one entry).
  Result<void> run(const Slot<F>& s) { return Walker<F, Releaser>{mem, *this}.table_entry(s); }

  Step table_pre(const Slot<F>& s) {
    if (s.depth + 1 < share) return Step::descend;  // its entries link private tables
    release(s);
    return Step::done;
  }
  void table_post(const Slot<F>& s, void*) { release(s); }
  Result<void> fault(const Slot<F>& s) {
    if (s.entry.kind == EntryKind::table) return entry_error<F>(Errc::malformed_entry, s.depth, s.lo, s.entry.addr);
    return {};
  }
  void release(const Slot<F>& s) {
    ++released;
    const std::size_t d = s.depth + 1;
    if (commit) mem.release(s.entry.addr, TableRequest{G::table_bytes(d), G::table_align(d), false, d});
  }
};

/// The copier behind clone(), share_root() and SharedKernel::sync(): a visitor of the walk over
/// the source's [lo, hi) (tree offsets) that makes the destination tree's entries equal to the
/// source's, where
///  - entries at depth `share` (and leaves above it) are copied verbatim: a table entry at
///    depth `share` then points at the source's own lower table, which both trees share;
///  - a table entry above `share` gets a private destination table, copied recursively (an
///    existing private table is reused; a private subtree whose source entry is no longer a
///    table is released).
/// share = depth - 1 is a deep copy (every table private). Source and destination may live in
/// different memories (`src` reaches the source, `dst` allocates and reaches the destination).
/// commit = false is the dry run: it finds every error and counts tables; it writes nothing.
template <PagingFormat F>
struct Copier : ReadVisitor<F> {
  using G = Geometry<F>;
  using Entry = typename F::Entry;

  MemRef src, dst;
  SyncRef sync;
  std::size_t share;
  std::uint64_t clip_lo, clip_hi;  // what a fresh private table mirrors: its span inside these
  bool commit = false;
  bool live = false;
  CopyReport report{};

  /// The destination table at each depth of the walk.
  struct Dest {
    Entry* table = nullptr;  ///< its entries (nullptr: a dry run's new table, or not mapped yet)
    PhysAddr pa{};           ///< an existing table: mapped at the first visit below it
    bool fresh = false;      ///< a new table: never read, every entry of the walked range written
    bool mapped = false;     ///< mapped here (unmapped by table_post, or by copy() after an error)
  };
  Dest at[G::kDepth] = {};

  /// Copies [lo, hi) of the source root `s` into the destination root `d` (`fresh`: just
  /// allocated, its entries in [lo, hi) garbage; nullptr in a dry run).
  Result<void> copy(void* s, Entry* d, bool fresh, std::uint64_t lo, std::uint64_t hi) {
    at[0] = Dest{d, {}, fresh, false};
    auto r = Walker<F, Copier>{src, *this}.walk(0, static_cast<Entry*>(s), Source::memory, Decoded{}, lo, hi);
    for (std::size_t k = 1; k < G::kDepth; ++k)  // after an error: the tables still mapped
      if (at[k].mapped) {
        dst.unmap(at[k].table, k);
        at[k].mapped = false;
      }
    return r;
  }

  static TableRequest request(std::size_t depth) {
    return TableRequest{G::table_bytes(depth), G::table_align(depth), false, depth};
  }
  bool verbatim(std::size_t d) const { return d >= share || d + 1 == G::kDepth; }

  // The walk contract: every source entry lands in entry(), or for a table above the shared
  // depth in table_pre().
  Result<Step> absent(const Slot<F>& s) {
    const std::uint64_t base = align_down(s.lo, G::span(s.depth));
    for (std::size_t k = 0; k < s.count; ++k) {
      const std::uint64_t at_k = base + k * G::span(s.depth);
      PTLIB_TRY(entry(s, s.index + k, k ? at_k : s.lo, at_k));
    }
    return Step::done;
  }
  Result<Step> leaf(const Slot<F>& s) {
    PTLIB_TRY(entry(s, s.index, s.lo, align_down(s.lo, G::span(s.depth))));
    return Step::done;
  }
  Result<void> fault(const Slot<F>& s) {
    PTLIB_TRY(reach(s));
    if (s.entry.kind == EntryKind::malformed && verbatim(s.depth))  // copied as it is
      return entry(s, s.index, s.lo, align_down(s.lo, G::span(s.depth)));
    return entry_error<F>(Errc::malformed_entry, s.depth, s.lo, s.entry.addr);
  }
  Result<Step> table_pre(const Slot<F>& s) {
    const std::size_t D = s.depth;
    const std::uint64_t base = align_down(s.lo, G::span(D));
    if (verbatim(D)) {
      PTLIB_TRY(entry(s, s.index, s.lo, base));
      return Step::done;
    }
    PTLIB_TRY(reach(s));
    const Entry de = at[D].fresh ? Entry{0} : at[D].table[s.index];
    const Decoded dd = at[D].fresh ? Decoded{} : F::decode(G::level(D), de);
    if (dd.kind == EntryKind::malformed) return entry_error<F>(Errc::malformed_entry, D, s.lo, dd.addr);
    if (dd.kind != EntryKind::table) return into_new(s, de, base);
    at[D + 1] = Dest{nullptr, dd.addr, false, false};  // copy into the existing private table
    return Step::descend;
  }
  void table_post(const Slot<F>& s, void*) {
    Dest& t = at[s.depth + 1];
    if (t.mapped) dst.unmap(t.table, s.depth + 1);
    t.mapped = false;
  }

 private:
  /// Maps the destination table at s.depth if this is the first visit below it (after the
  /// source table: the walk maps that first).
  Result<void> reach(const Slot<F>& s) {
    Dest& t = at[s.depth];
    if (t.table || t.fresh) return {};
    void* p = dst.map(t.pa, s.depth);
    if (!p) return entry_error<F>(Errc::malformed_entry, s.depth - 1, s.lo, t.pa);
    t.table = static_cast<Entry*>(p);
    t.mapped = true;
    return {};
  }

  /// Writes `next` over `old` at entry i of the destination table at depth d (covering tree
  /// offset `base`).
  void write(std::size_t d, std::size_t i, Entry old, Entry next, std::uint64_t base) {
    const auto L = G::level(d);
    const bool was_valid = F::decode(L, old).kind != EntryKind::invalid;
    if (was_valid) report.changed_valid = true;
    ++report.entries_written;
    if (!commit) return;
    Entry* t = at[d].table;
    if (live && was_valid && F::decode(L, next).kind != EntryKind::invalid && F::needs_bbm(L, old, next)) {
      t[i] = 0;  // break-before-make: invalid entry, publish, invalidate, then the new entry
      sync.publish();
      sync.invalidate(G::to_va(base), G::span(d));
    }
    t[i] = next;
  }

  /// Mirrors source entry i of the slot's table (from tree offset `lo`, covering `base`) when
  /// it is copied as it is: verbatim, or (above the shared depth) invalid or a leaf, which
  /// replaces a private subtree of the destination (released).
  Result<void> entry(const Slot<F>& s, std::size_t i, std::uint64_t lo, std::uint64_t base) {
    const std::size_t d = s.depth;
    PTLIB_TRY(reach(s));
    Dest& t = at[d];
    const Entry se = s.table[i];
    const Entry de = t.fresh ? Entry{0} : t.table[i];
    if (!verbatim(d) && !t.fresh) {
      const Decoded dd = F::decode(G::level(d), de);
      if (dd.kind == EntryKind::malformed) return entry_error<F>(Errc::malformed_entry, d, lo, dd.addr);
      if (dd.kind == EntryKind::table) {
        // Unlink the private subtree (and drop it from the TLBs of a live tree) before handing
        // its tables back.
        write(d, i, de, se, base);
        if (commit && live) {
          sync.publish();
          sync.invalidate(G::to_va(base), G::span(d));
        }
        Releaser<F> r{{}, dst, share, commit};
        PTLIB_TRY(r.run(Slot<F>{d, t.table, i, 1, base, base + G::span(d), true, dd}));
        report.tables_released += r.released;
        return {};
      }
    }
    if (se != de) write(d, i, de, se, base);
    else if (commit && t.fresh) t.table[i] = se;
    return {};
  }

  /// The source entry at `s` is a table above the shared depth and the destination has none:
  /// a new private table mirrors the whole entry inside the clip range (which may be wider than
  /// the range walked, so the copier walks the source table itself), linked once filled. A
  /// partly covered entry gets one only if the source has something to copy there.
  Result<Step> into_new(const Slot<F>& s, Entry de, std::uint64_t base) {
    const std::size_t D = s.depth;
    const std::uint64_t span = G::span(D);
    const std::uint64_t flo = base > clip_lo ? base : clip_lo;
    const std::uint64_t fhi = clip_hi - base > span ? base + span : clip_hi;
    void* sp = src.map(s.entry.addr, D + 1);
    if (!sp) return entry_error<F>(Errc::malformed_entry, D, s.lo, s.entry.addr);
    Result<void> r{};
    bool wanted = true;
    if (flo != base || fhi != base + span) {
      ContentProbe probe{{}, share};
      r = Walker<F, ContentProbe>{src, probe}.walk(D + 1, static_cast<Entry*>(sp), Source::memory, s.entry, flo, fhi);
      wanted = probe.found;
    }
    if (r && !wanted) {
      if (de != 0) write(D, s.index, de, Entry{0}, base);
      else if (commit) at[D].table[s.index] = 0;
    } else if (r) {
      r = fill_new(s, sp, de, base, flo, fhi);
    }
    src.unmap(sp, D + 1);
    if (!r) return r.error();
    return Step::done;
  }

  Result<void> fill_new(const Slot<F>& s, void* sp, Entry de, std::uint64_t base, std::uint64_t flo,
                        std::uint64_t fhi) {
    const std::size_t D = s.depth;
    ++report.tables_added;
    Dest t{nullptr, {}, true, false};
    if (commit) {
      auto n = dst.allocate(request(D + 1));
      if (!n) return entry_error<F>(Errc::out_of_memory, D, s.lo, Error::kNoPa);
      t.table = static_cast<Entry*>(n->ptr);
      t.pa = n->pa;
      Editor<F>::clear_new(t.table, D + 1, G::index(flo, D + 1), G::index(fhi - 1, D + 1));
    }
    at[D + 1] = t;
    auto r = Walker<F, Copier>{src, *this}.walk(D + 1, static_cast<Entry*>(sp), Source::memory, s.entry, flo, fhi);
    if (r) {
      if (commit && live) sync.publish();  // the table's contents before the pointer to it
      write(D, s.index, de, F::table(G::level(D), t.pa), base);
    }
    if (commit) dst.unmap(t.table, D + 1);
    return r;
  }

  /// Whether the source has anything to copy in the range walked: a leaf, or a table entry at
  /// or below the shared depth. Entries after the first such one are not looked at.
  struct ContentProbe : ReadVisitor<F> {
    std::size_t share;
    bool found = false;
    Result<Step> leaf(const Slot<F>&) {
      found = true;
      return Step::done;
    }
    Step table_pre(const Slot<F>& s) {
      if (found) return Step::done;
      if (s.depth >= share) found = true;
      return found ? Step::done : Step::descend;
    }
    Result<void> fault(const Slot<F>& s) {
      if (found) return {};
      return entry_error<F>(Errc::malformed_entry, s.depth, s.lo, s.entry.addr);
    }
  };
};

/// Reserves a root plus `tables` tables below it in `mem`. Every shipped format's root fits in a
/// table slot (it is at most as large and as aligned), so one reservation of tables + 1 covers
/// the root allocated first; otherwise both are asked for separately.
template <PagingFormat F>
bool reserve_root_and(MemRef mem, std::size_t tables) {
  using G = Geometry<F>;
  const TableRequest root{G::table_bytes(0), G::table_align(0), false, 0};
  if constexpr (G::kDepth < 2) {
    return mem.reserve(1, root);
  } else {
    const TableRequest table{G::table_bytes(1), G::table_align(1), false, 1};
    if (root.bytes <= table.bytes && root.align <= table.align) return mem.reserve(tables + 1, table);
    return mem.reserve(1, root) && (tables == 0 || mem.reserve(tables, table));
  }
}

/// Copies [lo, hi) of `src` into a new root in `dst` (see Copier), sharing the tables below
/// depth `share`. Root entries outside the range are invalid. No partial success.
template <PagingFormat F>
Result<Tree<F>> copy_into_new_root(const Tree<F>& src, MemRef src_access, MemRef dst, std::uint64_t lo,
                                   std::uint64_t hi, std::size_t share) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  if (!src.root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, G::to_va(lo), src.root);
  void* sroot = src_access.map(src.root, 0);
  if (!sroot) return Error{Errc::malformed_entry, G::to_va(lo), src.root, Error::kNoLevel, nullptr};
  Copier<F> plan{{}, src_access, dst, SyncRef{}, share, lo, hi};
  auto planned = plan.copy(sroot, nullptr, true, lo, hi);
  if (!planned) {
    src_access.unmap(sroot, 0);
    return planned.error();
  }
  if (!reserve_root_and<F>(dst, plan.report.tables_added)) {
    src_access.unmap(sroot, 0);
    return make_error(Errc::out_of_memory, G::to_va(lo));
  }
  auto root = dst.allocate(TableRequest{G::table_bytes(0), G::table_align(0), false, 0});
  if (!root) {  // the reservation said it would not happen
    src_access.unmap(sroot, 0);
    return make_error(Errc::out_of_memory, G::to_va(lo));
  }
  Entry* e = static_cast<Entry*>(root->ptr);
  Editor<F>::clear_new(e, 0, G::index(lo, 0), G::index(hi - 1, 0));
  Copier<F> commit{{}, src_access, dst, SyncRef{}, share, lo, hi, true};
  auto r = commit.copy(sroot, e, true, lo, hi);
  dst.unmap(root->ptr, 0);
  src_access.unmap(sroot, 0);
  if (!r) return r.error();  // not reached: the dry run met every error first
  return Tree<F>{root->pa, src.caps};
}

}  // namespace detail

/// A deep copy of the whole of `src` (read through `src_access`) into new tables allocated from
/// `dst`, which may be another memory with other physical addresses: every table is copied,
/// table entries are rewritten to point at the copies, leaves are copied bit for bit. The copy
/// translates exactly like the source and shares nothing with it. An empty table of the source
/// is copied as an empty table.
///
/// Errors: Errc::out_of_memory (checked before the first allocation: the table count is planned
/// first and reserved), malformed_entry (an entry invalid for its level, or a table the access
/// cannot reach), misaligned_table (the source root). No partial success: on error `dst` is as
/// before.
template <PagingFormat F, TableAccess A, TableMemory M>
Result<Tree<F>> clone(const Tree<F>& src, A& src_access, M& dst) {
  using G = Geometry<F>;
  MemRef s(src_access), d(dst);
  return detail::copy_into_new_root<F>(src, s, d, 0, G::kVaMask + 1, G::kDepth - 1);
}

/// A deep copy of the part of `src` in [va, va + size) (e.g. the linear map, for a kexec or
/// hibernation copy): root entries outside the range are invalid; inside, tables are copied
/// and entries outside the range are left invalid. A leaf that straddles an edge of the range
/// is copied whole, and a table whose part inside the range is empty is not copied.
/// Errors: those of clone(), and the VA errors of unmap() (page-aligned, non-empty, inside the
/// format's VA range, canonical).
template <PagingFormat F, TableAccess A, TableMemory M>
Result<Tree<F>> clone(const Tree<F>& src, A& src_access, M& dst, VirtAddr va, std::uint64_t size) {
  using G = Geometry<F>;
  auto lo = detail::check_va_range<F>(va, size);
  if (!lo) return lo.error();
  MemRef s(src_access), d(dst);
  return detail::copy_into_new_root<F>(src, s, d, *lo, *lo + size, G::kDepth - 1);
}

/// A new root in `mem` that shares [va, va + size) with `src`: the entries at depth `depth`
/// (0 = the root's own entries) covering the range are copied, so they point at the same
/// lower tables as the source's; the tables above that depth are private copies (none for
/// depth 0). The rest of the root is invalid. This is how a process root gets the kernel half
/// (x86 pgd_alloc copying the kernel's top-level entries; PAE with private kernel PMDs is
/// depth 1). The range must cover whole root entries.
/// Errors: misaligned_va / misaligned_size (not whole root entries), the VA errors of unmap(),
/// va_out_of_range (depth is not above the last level), and those of clone(). No partial success.
template <PagingFormat F, TableMemory M>
Result<Tree<F>> share_root(const Tree<F>& src, M& mem, VirtAddr va, std::uint64_t size, std::size_t depth = 0) {
  using G = Geometry<F>;
  auto lo = detail::check_va_range<F>(va, size);
  if (!lo) return lo.error();
  if (!va.aligned(G::span(0))) return make_error(Errc::misaligned_va, va);
  if (size % G::span(0) != 0) return make_error(Errc::misaligned_size, va);
  if (depth + 1 >= G::kDepth) return make_error(Errc::va_out_of_range, va);
  MemRef m(mem);
  return detail::copy_into_new_root<F>(src, m, m, *lo, *lo + size, depth);
}

PTLIB_END_NAMESPACE
