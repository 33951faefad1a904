// A cursor for consecutive one-page calls (a kernel mapping pages one by one, a loader mapping a
// segment page by page, a fault handler): it keeps the last leaf table it reached, so a call
// whose page falls in that table writes one entry without descending from the root. Same errors
// and guarantees as map()/unmap()/protect() of one page: anything but the plain case goes
// through those calls.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops.hpp"

PTLIB_BEGIN_NAMESPACE

/// One-page map/unmap/protect over `tree` through `mem`, remembering the last-level table of the
/// last page it touched. While a cursor is in use, every change to the tree must go through it
/// (a table the cursor remembers must not be released behind its back); reset() forgets.
/// Calls that are not the plain case (a missing table, a block, a contiguous run, a live policy
/// that needs break-before-make, an error) are handed to the engine's calls unchanged.
template <PagingFormat F, TableMemory M, SyncHook S = NoSync>
class Cursor {
 public:
  using G = Geometry<F>;
  using Entry = typename F::Entry;

  Cursor(const Tree<F>& tree, M& mem, const Options& opts = {}, S sync = S{})
      : tree_(tree), mem_(mem), opts_(opts), sync_(sync) {}

  /// map() of the page at `va` to `pa`.
  Result<Report> map_page(VirtAddr va, PhysAddr pa, Attrs attrs) {
    if (Entry* e = entry(va, pa)) {
      if (*e == 0 || F::decode(kLeafLevel, *e).kind == EntryKind::invalid) {
        if (const Entry* p = proto(attrs)) {
          *e = F::leaf(kLeafLevel, *p, pa);
          if (opts_.live != Live::offline) sync_.publish();
          Report r = one_leaf();
          r.leaf_levels.set(kLast);
          return r;
        }
      }
    }
    return settle(ptlib::map(tree_, mem_, va, pa, G::kPageSize, attrs, opts_, sync_), va);
  }

  /// unmap() of the page at `va` (tables are kept: a cursor never releases them).
  Result<Report> unmap_page(VirtAddr va) {
    if (Entry* e = entry(va, PhysAddr{})) {
      const Decoded d = F::decode(kLeafLevel, *e);
      if (d.kind == EntryKind::invalid) return Report{};
      if (d.kind == EntryKind::leaf && !d.contiguous) {
        *e = 0;
        return changed(va);
      }
    }
    Options keep = opts_;
    keep.release_empty = false;
    return settle(ptlib::unmap(tree_, mem_, va, G::kPageSize, keep, sync_), va);
  }

  /// protect() of the page at `va`.
  Result<Report> protect_page(VirtAddr va, Attrs attrs) {
    if (Entry* e = entry(va, PhysAddr{})) {
      const Decoded d = F::decode(kLeafLevel, *e);
      if (d.kind == EntryKind::invalid || (d.kind == EntryKind::leaf && d.attrs == attrs)) return Report{};
      if (d.kind == EntryKind::leaf && !d.contiguous) {
        if (const Entry* p = proto(attrs)) {
          const Entry next = F::leaf(kLeafLevel, *p, d.addr);
          if (next == *e) return Report{};
          if (opts_.live == Live::offline || !F::needs_bbm(kLeafLevel, *e, next)) {
            *e = next;
            return changed(va);
          }
        }
      }
    }
    Options keep = opts_;
    keep.release_empty = false;
    return settle(ptlib::protect(tree_, mem_, va, G::kPageSize, attrs, keep, sync_), va);
  }

  /// Forgets the remembered table (after changing the tree by other means).
  void reset() { have_ = false; }

 private:
  static constexpr std::size_t kLast = G::kDepth - 1;
  static constexpr auto kLeafLevel = G::level(kLast);

  static Report one_leaf() {
    Report r{};
    r.modified.set(kLast);
    r.leaves_changed = 1;
    return r;
  }
  /// After a valid leaf at `va` changed: publish and invalidate it on a live tree.
  Report changed(VirtAddr va) {
    if (opts_.live != Live::offline) {
      sync_.publish();
      sync_.invalidate(va, G::kPageSize);
    }
    return one_leaf();
  }

  /// The entry of the page at `va` in the remembered table, or nullptr (not remembered, or the
  /// arguments need the engine's checks: misaligned, out of range).
  Entry* entry(VirtAddr va, PhysAddr pa) {
    if (!have_ || ((va.value | pa.value) & (G::kPageSize - 1))) return nullptr;
    Errc why{};
    if (!G::va_in_range(va.value, G::kPageSize, why) || pa.value > G::kPaLimit - (G::kPageSize - 1)) return nullptr;
    const std::uint64_t t = G::to_tree(va);
    if ((t >> kTableShift) != key_) return nullptr;
    return table_ + G::index(t, kLast);
  }

  /// The leaf encoding of `attrs` (cached for the last attributes), or nullptr when the format
  /// cannot express them (the engine's call then reports the error).
  const Entry* proto(const Attrs& a) {
    if (have_proto_ && proto_attrs_ == a) return &proto_;
    auto p = F::leaf_proto(kLeafLevel, LeafSettings{a, false, opts_.allow_implied_exec}, tree_.caps);
    if (!p) return nullptr;
    proto_ = *p;
    proto_attrs_ = a;
    have_proto_ = true;
    return &proto_;
  }

  /// After an engine call: remember the leaf table of `va` when the page now sits in one (a
  /// descent through tables only; tables reached through a non-direct access are not kept).
  Result<Report> settle(Result<Report> r, VirtAddr va) {
    have_ = false;
    if (kLast == 0 || !r) return r;
    if constexpr (requires { mem_.direct_window(); }) {
      const std::uint64_t t = G::to_tree(va);
      Entry* tab = static_cast<Entry*>(mem_.map(tree_.root, 0));
      for (std::size_t d = 0; tab && d < kLast; ++d) {
        const Decoded e = F::decode(G::level(d), tab[G::index(t, d)]);
        if (e.kind != EntryKind::table) return r;
        tab = static_cast<Entry*>(mem_.map(e.addr, d + 1));
      }
      if (tab) {
        table_ = tab;
        key_ = t >> kTableShift;
        have_ = true;
      }
    }
    return r;
  }

  static constexpr unsigned kTableShift = G::shift(kLast) + G::bits(kLast);

  Tree<F> tree_;
  M& mem_;
  Options opts_;
  S sync_;
  Entry* table_ = nullptr;
  std::uint64_t key_ = 0;
  bool have_ = false;
  Entry proto_{};
  Attrs proto_attrs_{};
  bool have_proto_ = false;
};

PTLIB_END_NAMESPACE
