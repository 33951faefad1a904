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

/// The copier behind clone(), share_root() and SharedKernel::sync(): makes the destination
/// tree's entries in [lo, hi) (tree offsets) equal to the source's, where
///  - entries at depth `share` (and leaves above it) are copied verbatim: a table entry at
///    depth `share` then points at the source's own lower table, which both trees share;
///  - a table entry above `share` gets a private destination table, copied recursively (an
///    existing private table is reused; a private subtree whose source entry is no longer a
///    table is released).
/// share = depth - 1 is a deep copy (every table private). Source and destination may live in
/// different memories (A reaches the source, M allocates and reaches the destination).
/// Commit = false is the dry run: it finds every error and counts tables; it writes nothing.
template <PagingFormat F, TableAccess A, class M, class S, bool Commit>
struct Copier {
  using G = Geometry<F>;
  using Entry = typename F::Entry;

  A& src;
  M& dst;
  S& sync;
  std::size_t share;
  std::uint64_t clip_lo, clip_hi;  // what a fresh private table mirrors: its span inside these
  bool live = false;
  CopyReport report{};

  static TableRequest request(std::size_t depth) {
    return TableRequest{G::table_bytes(depth), G::table_align(depth), false, depth};
  }
  template <std::size_t D>
  static Error malformed(std::uint64_t t, PhysAddr pa) {
    constexpr auto L = G::level(D);
    return Error{Errc::malformed_entry, G::to_va(t), pa, level_number<F>(L), F::level_name(L)};
  }

  /// Writes `next` over `old` at d[i] (entry covering tree offset `base` at depth D).
  template <std::size_t D>
  void write(Entry* d, std::size_t i, Entry old, Entry next, std::uint64_t base) {
    constexpr auto L = G::level(D);
    const bool was_valid = F::decode(L, old).kind != EntryKind::invalid;
    if (was_valid) report.changed_valid = true;
    ++report.entries_written;
    if constexpr (Commit) {
      if (live && was_valid && F::decode(L, next).kind != EntryKind::invalid && F::needs_bbm(L, old, next)) {
        d[i] = 0;  // break-before-make: invalid entry, publish, invalidate, then the new entry
        sync.publish();
        sync.invalidate(G::to_va(base), G::span(D));
      }
      d[i] = next;
    }
  }

  /// Whether the source subtree of the table `s` (depth D) has anything in [lo, hi) to copy.
  template <std::size_t D>
  Result<bool> has_content(const Entry* s, std::uint64_t lo, std::uint64_t hi) {
    constexpr auto L = G::level(D);
    constexpr std::uint64_t span = G::span(D);
    for (std::size_t i = G::index(lo, D); lo < hi; ++i) {
      const std::uint64_t base = align_down(lo, span);
      const std::uint64_t end = hi - base > span ? base + span : hi;
      const Decoded e = F::decode(L, s[i]);
      if (e.kind == EntryKind::leaf || (e.kind == EntryKind::table && D >= share)) return true;
      if (e.kind == EntryKind::malformed) return malformed<D>(lo, e.addr);
      if (e.kind == EntryKind::table) {
        if constexpr (D + 1 < G::kDepth) {
          void* p = src.map(e.addr, D + 1);
          if (!p) return malformed<D>(lo, e.addr);
          auto r = has_content<D + 1>(static_cast<const Entry*>(p), lo, end);
          src.unmap(p, D + 1);
          if (!r || *r) return r;
        } else {
          return malformed<D>(lo, e.addr);
        }
      }
      lo = end;
    }
    return false;
  }

  /// Releases the destination's private table at `pa` (depth D <= share) and the private
  /// tables below it; the shared tables its depth-`share` entries point at stay.
  template <std::size_t D>
  Result<void> release(PhysAddr pa, std::uint64_t t) {
    if constexpr (D < G::kDepth) {
      if (D < share) {
        if constexpr (D + 1 < G::kDepth) {
          void* p = dst.map(pa, D);
          if (!p) return malformed<D - 1>(t, pa);
          const Entry* e = static_cast<const Entry*>(p);
          Result<void> r{};
          for (std::size_t k = 0; k < G::entries(D) && r; ++k) {
            const Decoded x = F::decode(G::level(D), e[k]);
            if (x.kind == EntryKind::table) r = release<D + 1>(x.addr, t + k * G::span(D));
          }
          dst.unmap(p, D);
          if (!r) return r;
        }
      }
      ++report.tables_released;
      if constexpr (Commit) dst.release(pa, request(D));
    }
    return {};
  }

  /// Copies [lo, hi) of the source table `s` (depth D) into `d`. `fresh`: `d` was just
  /// allocated (its entries are garbage and all of [lo, hi) gets written) — in a dry run `d` is
  /// then nullptr.
  template <std::size_t D>
  Result<void> copy(const Entry* s, Entry* d, bool fresh, std::uint64_t lo, std::uint64_t hi) {
    constexpr auto L = G::level(D);
    constexpr std::uint64_t span = G::span(D);
    for (std::size_t i = G::index(lo, D); lo < hi; ++i) {
      const std::uint64_t base = align_down(lo, span);
      const std::uint64_t end = hi - base > span ? base + span : hi;
      const Entry se = s[i];
      const Entry de = fresh ? Entry{0} : d[i];
      if (D >= share || D + 1 == G::kDepth) {  // verbatim: leaves, or links to shared tables
        if (se != de) write<D>(d, i, de, se, base);
        else if (Commit && fresh) d[i] = se;
        lo = end;
        continue;
      }
      const Decoded sd = F::decode(L, se);
      if (sd.kind == EntryKind::malformed) return malformed<D>(lo, sd.addr);
      const Decoded dd = fresh ? Decoded{} : F::decode(L, de);
      if (dd.kind == EntryKind::malformed) return malformed<D>(lo, dd.addr);
      if (sd.kind != EntryKind::table) {  // invalid or a leaf above the shared depth
        if (dd.kind == EntryKind::table) {
          // Unlink the private subtree (and drop it from the TLBs of a live tree) before
          // handing its tables back.
          write<D>(d, i, de, se, base);
          if (Commit && live) {
            sync.publish();
            sync.invalidate(G::to_va(base), span);
          }
          PTLIB_TRY(release<D + 1>(dd.addr, base));
        } else if (se != de) {
          write<D>(d, i, de, se, base);
        } else if (Commit && fresh) {
          d[i] = se;
        }
        lo = end;
        continue;
      }
      if constexpr (D + 1 < G::kDepth) {
        void* sp = src.map(sd.addr, D + 1);
        if (!sp) return malformed<D>(lo, sd.addr);
        auto r = into<D>(static_cast<const Entry*>(sp), d, i, de, dd, base, lo, end);
        src.unmap(sp, D + 1);
        PTLIB_TRY(r);
      }
      lo = end;
    }
    return {};
  }

  /// The source entry d[i] mirrors is a table above the shared depth: copy into the existing
  /// private table, or into a new one linked once filled.
  template <std::size_t D>
  Result<void> into(const Entry* sp, Entry* d, std::size_t i, Entry de, const Decoded& dd, std::uint64_t base,
                    std::uint64_t lo, std::uint64_t end) {
    constexpr auto L = G::level(D);
    constexpr std::uint64_t span = G::span(D);
    if (dd.kind == EntryKind::table) {
      void* dp = dst.map(dd.addr, D + 1);
      if (!dp) return malformed<D>(lo, dd.addr);
      auto r = copy<D + 1>(sp, static_cast<Entry*>(dp), false, lo, end);
      dst.unmap(dp, D + 1);
      return r;
    }
    // A new private table mirrors the whole entry inside the clip range.
    const std::uint64_t flo = base > clip_lo ? base : clip_lo;
    const std::uint64_t fhi = clip_hi - base > span ? base + span : clip_hi;
    if (flo != base || fhi != base + span) {  // a partly covered entry: copy it only if needed
      auto any = has_content<D + 1>(sp, flo, fhi);
      if (!any) return any.error();
      if (!*any) {
        if (de != 0) write<D>(d, i, de, Entry{0}, base);
        else if (Commit) d[i] = 0;
        return {};
      }
    }
    ++report.tables_added;
    if constexpr (!Commit) {
      PTLIB_TRY(copy<D + 1>(sp, nullptr, true, flo, fhi));
      write<D>(d, i, de, F::table(L, PhysAddr{}), base);
      return {};
    } else {
      auto t = dst.allocate(request(D + 1));
      if (!t) return Error{Errc::out_of_memory, G::to_va(lo), Error::kNoPa, level_number<F>(L), F::level_name(L)};
      Entry* e = static_cast<Entry*>(t->ptr);
      const std::size_t first = G::index(flo, D + 1), last = G::index(fhi - 1, D + 1);
      for (std::size_t k = 0; k < first; ++k) e[k] = 0;
      for (std::size_t k = last + 1; k < G::entries(D + 1); ++k) e[k] = 0;
      auto r = copy<D + 1>(sp, e, true, flo, fhi);
      if (r) {
        if (live) sync.publish();  // the table's contents before the pointer to it
        write<D>(d, i, de, F::table(L, t->pa), base);
      }
      dst.unmap(t->ptr, D + 1);
      return r;
    }
  }
};

/// Reserves a root plus `tables` tables below it in `mem`. Every shipped format's root fits in a
/// table slot (it is at most as large and as aligned), so one reservation of tables + 1 covers
/// the root allocated first; otherwise both are asked for separately.
template <PagingFormat F, TableMemory M>
bool reserve_root_and(M& mem, std::size_t tables) {
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
template <PagingFormat F, TableAccess A, TableMemory M>
Result<Tree<F>> copy_into_new_root(const Tree<F>& src, A& src_access, M& dst, std::uint64_t lo, std::uint64_t hi,
                                   std::size_t share) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  if (!src.root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, G::to_va(lo), src.root);
  void* sroot = src_access.map(src.root, 0);
  if (!sroot) return Error{Errc::malformed_entry, G::to_va(lo), src.root, Error::kNoLevel, nullptr};
  SyncRef none;  // (SyncRef, not NoSync: the same Copier instances as SharedKernel's sync)
  Copier<F, A, M, SyncRef, false> plan{src_access, dst, none, share, lo, hi};
  auto planned = plan.template copy<0>(static_cast<const Entry*>(sroot), nullptr, true, lo, hi);
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
  const std::size_t first = G::index(lo, 0), last = G::index(hi - 1, 0);
  for (std::size_t k = 0; k < first; ++k) e[k] = 0;
  for (std::size_t k = last + 1; k < G::entries(0); ++k) e[k] = 0;
  Copier<F, A, M, SyncRef, true> commit{src_access, dst, none, share, lo, hi};
  auto r = commit.template copy<0>(static_cast<const Entry*>(sroot), e, true, lo, hi);
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
  return detail::copy_into_new_root<F, MemRef, MemRef>(src, s, d, 0, G::kVaMask + 1, G::kDepth - 1);
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
  return detail::copy_into_new_root<F, MemRef, MemRef>(src, s, d, *lo, *lo + size, G::kDepth - 1);
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
  return detail::copy_into_new_root<F, MemRef, MemRef>(src, m, m, *lo, *lo + size, depth);
}

PTLIB_END_NAMESPACE
