// Kernel-half sharing across many roots: a registry of process roots kept in a caller-provided
// array, synchronisation of the shared entries driven by Report::modified, and preallocation
// of every table under the shared entries (with a planner that reports its memory cost) so
// that nothing ever needs syncing.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "clone.hpp"
#include "ops.hpp"
#include "walk.hpp"

PTLIB_BEGIN_NAMESPACE

/// The depth whose entries the kernel half shares ("sync level"): entries at this depth are
/// copied into every root; the tables they point at are shared; the tables above it are each
/// root's own. Default: 0, the root's own entries (x86-64 PGD/P4D, RISC-V, ...). A format may
/// declare `static constexpr std::size_t kSyncDepth`; users may specialize this trait.
template <PagingFormat F>
struct SharedLevel {
  static constexpr std::size_t value = [] {
    if constexpr (requires { F::kSyncDepth; }) return std::size_t(F::kSyncDepth);
    else return std::size_t{0};
  }();
};

/// What a preallocation costs: the tables it allocates, per depth and in total, and their bytes.
template <PagingFormat F>
struct PreallocPlan {
  std::size_t tables = 0;
  std::uint64_t bytes = 0;
  /// New tables by the depth they sit at (index 0, the root, is always 0).
  std::array<std::size_t, Geometry<F>::kDepth> by_depth{};
  constexpr bool operator==(const PreallocPlan&) const = default;
};

namespace detail {

/// preallocate(): every entry at depths 0..depth meeting the range must point to a table (the
/// depth is a run-time value: one walker instance per format serves every depth).
template <PagingFormat F, class M, class S, bool Commit>
struct PreallocVisitor {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  M& mem;
  S& sync;
  std::size_t depth = 0;
  bool live = false;
  Report report{};
  PreallocPlan<F> plan{};

  Result<Step> absent(const Slot<F>& s) { return s.depth <= depth ? Step::descend : Step::done; }
  Result<Child> create(const Slot<F>& s) {
    const std::size_t d = s.depth + 1;
    ++plan.by_depth[d];
    ++plan.tables;
    plan.bytes += G::table_bytes(d);
    ++report.tables_added;
    if constexpr (!Commit) {
      return Child{};
    } else {
      auto t = mem.allocate(TableRequest{G::table_bytes(d), G::table_align(d), false, d});
      if (!t) {
        const auto L = G::level(s.depth);
        return Error{Errc::out_of_memory, G::to_va(s.lo), Error::kNoPa, level_number<F>(L), F::level_name(L)};
      }
      Entry* e = static_cast<Entry*>(t->ptr);
      for (std::size_t k = 0; k < G::entries(d); ++k) e[k] = 0;  // the walk writes only tables below
      return Child{t->pa, t->ptr};
    }
  }
  void link(const Slot<F>& s, const Child& c) {
    if constexpr (Commit) {
      if (live) sync.publish();
      s.table[s.index] = F::table(G::level(s.depth), c.pa);
      if (live) sync.publish();
      report.modified.set(s.depth);
      mem.unmap(c.ptr, s.depth + 1);
    }
  }
  void discard(const Slot<F>& s, const Child& c) {  // only if the memory broke its reserve() promise
    if constexpr (Commit) {
      const std::size_t d = s.depth + 1;
      mem.unmap(c.ptr, d);
      mem.release(c.pa, TableRequest{G::table_bytes(d), G::table_align(d), false, d});
      --report.tables_added;
    }
  }
  Step table_pre(const Slot<F>& s) { return s.depth < depth ? Step::descend : Step::done; }
  void table_post(const Slot<F>&, void*) {}
  Result<Step> leaf(const Slot<F>& s) {  // a leaf where a table must be
    const auto L = G::level(s.depth);
    const std::uint64_t base = align_down(s.lo, G::span(s.depth));
    return Error{Errc::overlap, G::to_va(s.lo), leaf_output(s) + (s.lo - base), level_number<F>(L),
                 F::level_name(L)};
  }
};

/// check_va_range() usable in constant expressions: the tree offset of a page-aligned,
/// non-empty, non-wrapping range inside the format's VA range.
template <PagingFormat F>
constexpr Result<std::uint64_t> tree_range(VirtAddr va, std::uint64_t size) {
  using G = Geometry<F>;
  if (size == 0) return make_error(Errc::zero_size, va);
  if (!va.aligned(G::kPageSize)) return make_error(Errc::misaligned_va, va);
  if (size & (G::kPageSize - 1)) return make_error(Errc::misaligned_size, va);
  if (va.value + (size - 1) < va.value) return make_error(Errc::range_wraps, va);
  Errc why{};
  if (!G::va_in_range(va.value, size, why)) return make_error(why, va);
  return G::to_tree(va);
}

template <PagingFormat F, std::size_t Depth>
consteval void check_depth() {
  static_assert(Depth + 1 < Geometry<F>::kDepth, "the shared depth must have a level below it");
}

}  // namespace detail

namespace detail {
/// preallocation_cost() with the depth at run time (depth + 1 < the format's depth; checked by
/// the callers).
template <PagingFormat F>
constexpr Result<PreallocPlan<F>> preallocation_cost_at(VirtAddr va, std::uint64_t size, std::size_t depth) {
  using G = Geometry<F>;
  auto lo = tree_range<F>(va, size);
  if (!lo) return lo.error();
  const std::uint64_t hi = *lo + size;
  PreallocPlan<F> p{};
  for (std::size_t d = 1; d <= depth + 1; ++d) {
    const std::uint64_t span = G::span(d - 1);
    const std::uint64_t first = *lo / span, last = (hi - 1) / span;
    p.by_depth[d] = std::size_t(last - first + 1);
    p.tables += p.by_depth[d];
    p.bytes += std::uint64_t(p.by_depth[d]) * G::table_bytes(d);
  }
  return p;
}

/// plan_preallocate() with the depth at run time.
template <PagingFormat F, TableAccess A>
Result<PreallocPlan<F>> plan_preallocate_at(const Tree<F>& tree, A& access, VirtAddr va, std::uint64_t size,
                                            std::size_t depth) {
  auto lo = check_va_range<F>(va, size);
  if (!lo) return lo.error();
  NoSync none;
  PreallocVisitor<F, A, NoSync, false> v{access, none, depth};
  PTLIB_TRY(walk_range(tree, access, *lo, *lo + size, v));
  return v.plan;
}

/// preallocate() with memory, sync hook and depth erased (compiled once per format).
template <PagingFormat F>
Result<Report> preallocate_erased(const Tree<F>& tree, MemRef mem, VirtAddr va, std::uint64_t size,
                                  const Options& opts, SyncRef sync, std::size_t depth) {
  using G = Geometry<F>;
  auto planned = plan_preallocate_at(tree, mem, va, size, depth);
  if (!planned) return planned.error();
  const TableRequest req{G::table_bytes(1), G::table_align(1), false, 1};
  if (planned->tables && !mem.reserve(planned->tables, req)) return out_of_memory(mem, req, planned->tables, va);
  const std::uint64_t lo = G::to_tree(va);
  PreallocVisitor<F, MemRef, SyncRef, true> v{mem, sync, depth, opts.live != Live::offline};
  PTLIB_TRY(walk_range(tree, mem, lo, lo + size, v));
  return v.report;
}
}  // namespace detail

/// The memory preallocate<Depth>() would take for [va, va + size) in an EMPTY tree: at each
/// depth d = 1..Depth+1, one table per entry of depth d-1 that meets the range. Allocates
/// nothing, reads nothing. Errors: the VA errors of unmap().
template <PagingFormat F, std::size_t Depth = SharedLevel<F>::value>
constexpr Result<PreallocPlan<F>> preallocation_cost(VirtAddr va, std::uint64_t size) {
  detail::check_depth<F, Depth>();
  return detail::preallocation_cost_at<F>(va, size, Depth);
}

/// The memory preallocate<Depth>() would take for [va, va + size) in `tree` as it is (tables
/// already there cost nothing): a dry run that reads the tree and writes nothing.
/// Errors: as preallocate().
template <std::size_t Depth, PagingFormat F, TableAccess A>
Result<PreallocPlan<F>> plan_preallocate(const Tree<F>& tree, A& access, VirtAddr va, std::uint64_t size) {
  detail::check_depth<F, Depth>();
  return detail::plan_preallocate_at(tree, access, va, size, Depth);
}

/// Makes every entry at depths 0..Depth that meets [va, va + size) point to a table, allocating
/// the missing tables (filled with invalid entries). Afterwards no map, unmap-without-release or
/// protect inside the range writes an entry at depth <= Depth, so roots sharing the entries of
/// depth Depth never need a sync for it (Linux's preallocate_vmalloc_pages()). With
/// Depth = SharedLevel<F>::value - 1 it instead completes the roots' private levels.
/// The new tables are empty: validate() them with ValidateOptions::allow_empty_tables.
/// Report::tables_added counts the tables; Report::modified the depths linked at.
/// Errors: the VA errors of unmap(), overlap (a leaf at depth <= Depth meets the range; with its
/// VA, PA and level), out_of_memory (with tables_needed and tables_available), malformed_entry.
/// No partial success: the tables are counted by a dry run and reserved before the first write.
template <std::size_t Depth, PagingFormat F, TableMemory M, SyncHook S = NoSync>
Result<Report> preallocate(const Tree<F>& tree, M& mem, VirtAddr va, std::uint64_t size, const Options& opts = {},
                           S&& sync = S{}) {
  detail::check_depth<F, Depth>();
  return detail::preallocate_erased<F>(tree, MemRef(mem), va, size, opts, SyncRef(sync), Depth);
}

/// What SharedKernel::sync() did.
struct SyncReport {
  std::size_t roots = 0;            ///< roots visited (0 when the mask shows no shared level written)
  std::size_t entries_copied = 0;   ///< entries written into roots
  std::size_t tables_added = 0;     ///< private tables allocated in roots (SyncDepth > 0 only)
  std::size_t tables_released = 0;  ///< private tables released from roots (SyncDepth > 0 only)
};

namespace detail {
/// SharedKernel::sync()/sync_all() over [a, b) (tree offsets inside the shared range [lo, hi))
/// with memory, hook and sync depth erased: compiled once per format (the engine library).
template <PagingFormat F>
Result<SyncReport> mirror_erased(const Tree<F>& reference, std::span<const PhysAddr> roots, MemRef mem,
                                 std::uint64_t lo, std::uint64_t hi, std::uint64_t a, std::uint64_t b,
                                 std::size_t sync_depth, const Options& opts, SyncRef hook) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  void* ref = mem.map(reference.root, 0);
  if (!ref) return Error{Errc::malformed_entry, G::to_va(a), reference.root, Error::kNoLevel, nullptr};
  auto one = [&](auto& c, PhysAddr root) -> Result<void> {
    void* p = mem.map(root, 0);
    if (!p) return Error{Errc::malformed_entry, G::to_va(a), root, Error::kNoLevel, nullptr};
    auto r = c.copy(ref, static_cast<Entry*>(p), false, a, b);
    mem.unmap(p, 0);
    return r;
  };
  const bool live = opts.live != Live::offline;
  // Dry run over every root: every error, and the private tables all of them need.
  Copier<F> plan{{}, mem, mem, hook, sync_depth, lo, hi, false, live};
  for (const PhysAddr root : roots) {
    if (root == reference.root) continue;
    if (auto r = one(plan, root); !r) {
      mem.unmap(ref, 0);
      return r.error();
    }
  }
  const std::size_t tables = plan.report.tables_added;
  const TableRequest req{G::table_bytes(1), G::table_align(1), false, 1};
  if (tables && !mem.reserve(tables, req)) {
    mem.unmap(ref, 0);
    return out_of_memory(mem, req, tables, G::to_va(a));
  }
  Copier<F> c{{}, mem, mem, hook, sync_depth, lo, hi, true, live};
  SyncReport out{};
  for (const PhysAddr root : roots) {
    if (root == reference.root) continue;
    ++out.roots;
    (void)one(c, root);  // cannot fail after the dry run
  }
  mem.unmap(ref, 0);
  if (live && c.report.entries_written) {
    hook.publish();
    if (c.report.changed_valid) hook.invalidate(G::to_va(a), b - a);
  }
  out.entries_copied = c.report.entries_written;
  out.tables_added = c.report.tables_added;
  out.tables_released = c.report.tables_released;
  return out;
}

/// release_root()'s release of a root's private tables under the shared range [lo, hi) of its
/// root table `root` (sync depth > 0): a dry run finds unreachable tables before anything is
/// released. Compiled once per format.
template <PagingFormat F>
Result<void> release_private_erased(MemRef mem, typename F::Entry* root, std::uint64_t lo, std::uint64_t hi,
                                    std::size_t sync_depth) {
  for (const bool commit : {false, true}) {
    Releaser<F> r{{}, mem, sync_depth, commit};
    auto done = Walker<F, Releaser<F>>{mem, r}.walk(0, root, Source::memory, Decoded{}, lo, hi);
    if (!done) return done.error();
  }
  return {};
}
}  // namespace detail

/// The kernel half shared by many roots (one per process): a reference tree that kernel
/// mappings are made in, a range of whole root entries [va, va + size) that every root shares,
/// and a registry of roots kept in a caller-provided array (no heap, cache-friendly to iterate:
/// the x86 thread measured arrays beating lists for exactly this loop).
///
/// SyncDepth is the depth whose entries every root holds copies of (see SharedLevel): 0 copies
/// root entries (x86-64, RISC-V); 1 gives each root private tables at depth 1 whose entries are
/// copied (x86 PAE: PDPTEs are loaded at CR3 load, so each process has its own kernel PMDs).
/// The tables below depth SyncDepth are shared by all roots.
///
/// Protocol: after a kernel map/unmap/protect in the reference, call sync() with the call's
/// range and Report; it copies the changed shared entries into every root, and only when
/// Report::modified says a shared level (depth <= SyncDepth) was written (Linux's
/// ARCH_PAGE_TABLE_SYNC_MASK). In the shared range, unmap with Options::release_empty = false
/// (kernel page tables are never freed, as on x86-64): releasing a shared table frees memory
/// that the other roots still point at until sync() runs. The registry is not locked: callers
/// serialise register/unregister/sync (Linux's pgd_lock).
template <PagingFormat F, std::size_t SyncDepth = SharedLevel<F>::value>
class SharedKernel {
 public:
  using G = Geometry<F>;
  static_assert(SyncDepth + 1 < G::kDepth, "the shared depth must have a level below it");
  /// The levels whose writes need a sync: depths 0..SyncDepth.
  static constexpr LevelMask kSyncMask{(2U << SyncDepth) - 1};

  SharedKernel() = default;

  /// A shared kernel half over `reference`, registering roots in `storage` (its size is the
  /// registry's capacity). `registered`: the first that many entries of `storage` are roots
  /// already registered (a registry kept in the caller's array across handles, as the C API
  /// keeps it); 0 for a new registry. Errors: misaligned_va / misaligned_size (the range is not
  /// whole root entries), the VA errors of unmap(), misaligned_table (the reference root, or a
  /// registered root), out_of_memory (registered > storage.size()).
  static Result<SharedKernel> make(const Tree<F>& reference, VirtAddr va, std::uint64_t size,
                                   std::span<PhysAddr> storage, std::size_t registered = 0) {
    auto lo = detail::check_va_range<F>(va, size);
    if (!lo) return lo.error();
    if (!va.aligned(G::span(0))) return make_error(Errc::misaligned_va, va);
    if (size % G::span(0) != 0) return make_error(Errc::misaligned_size, va);
    if (!reference.root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, va, reference.root);
    if (registered > storage.size()) return make_error(Errc::out_of_memory, va);
    for (std::size_t i = 0; i < registered; ++i)
      if (!storage[i].aligned(G::table_align(0))) return make_error(Errc::misaligned_table, va, storage[i]);
    SharedKernel k;
    k.ref_ = reference;
    k.lo_ = *lo;
    k.hi_ = *lo + size;
    k.slots_ = storage;
    k.count_ = registered;
    return k;
  }

  [[nodiscard]] const Tree<F>& reference() const { return ref_; }
  [[nodiscard]] VirtAddr va() const { return G::to_va(lo_); }
  [[nodiscard]] std::uint64_t size() const { return hi_ - lo_; }
  /// The registered roots, in no particular order (removal moves the last one into the gap).
  [[nodiscard]] std::span<const PhysAddr> roots() const { return {slots_.data(), count_}; }
  [[nodiscard]] std::size_t count() const { return count_; }
  [[nodiscard]] std::size_t capacity() const { return slots_.size(); }

  /// Whether a call that reported `r` wrote a shared level (depth <= SyncDepth).
  [[nodiscard]] static constexpr bool needs_sync(const Report& r) { return (r.modified.bits & kSyncMask.bits) != 0; }

  /// Registers an existing root (it should already hold the kernel half: see create_root(), or
  /// call sync_all() after). Registering a root twice is a no-op. Errors: out_of_memory (the
  /// storage is full), misaligned_table (the root is not aligned as the format requires).
  Result<void> add(PhysAddr root) {
    if (!root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, VirtAddr{}, root);
    if (find(root) != count_) return {};
    if (count_ == slots_.size()) return make_error(Errc::out_of_memory, VirtAddr{}, root);
    slots_[count_++] = root;
    return {};
  }
  /// Unregisters a root (its tables are left alone); false if it was not registered.
  bool remove(PhysAddr root) {
    const std::size_t i = find(root);
    if (i == count_) return false;
    slots_[i] = slots_[--count_];
    return true;
  }

  /// A new root holding the kernel half (share_root() with this sync depth), registered.
  /// Errors: out_of_memory (tables, or the registry is full), and those of share_root().
  /// No partial success.
  template <TableMemory M>
  Result<Tree<F>> create_root(M& mem) {
    if (count_ == slots_.size()) return make_error(Errc::out_of_memory, va());
    MemRef m(mem);
    auto t = detail::copy_into_new_root<F>(ref_, m, m, lo_, hi_, SyncDepth);
    if (!t) return t;
    slots_[count_++] = t->root;
    return t;
  }

  /// Unregisters `root`, releases its private tables of the shared range (SyncDepth > 0) and the
  /// root table itself. Errors: overlap (the root still maps something outside the shared range:
  /// unmap the user half first; carries the first such VA), malformed_entry (unreachable root).
  /// No partial success.
  template <TableMemory M>
  Result<void> release_root(M& memory, PhysAddr root) {
    MemRef mem(memory);
    return release_root_erased(mem, root);
  }

  /// (release_root() with the memory erased: compiled once per format and sync depth.)
  Result<void> release_root_erased(MemRef& mem, PhysAddr root) {
    using Entry = typename F::Entry;
    void* p = mem.map(root, 0);
    if (!p) return Error{Errc::malformed_entry, va(), root, Error::kNoLevel, nullptr};
    const Entry* e = static_cast<const Entry*>(p);
    const std::size_t first = G::index(lo_, 0), last = G::index(hi_ - 1, 0);
    for (std::size_t k = 0; k < G::entries(0); ++k) {
      if (k >= first && k <= last) continue;
      if (F::decode(G::level(0), e[k]).kind != EntryKind::invalid) {
        mem.unmap(p, 0);
        return make_error(Errc::overlap, G::to_va(k * G::span(0)), root);
      }
    }
    if constexpr (SyncDepth > 0) {
      if (auto r = detail::release_private_erased<F>(mem, static_cast<Entry*>(p), lo_, hi_, SyncDepth); !r) {
        mem.unmap(p, 0);
        return r.error();
      }
    }
    mem.unmap(p, 0);
    remove(root);
    mem.release(root, TableRequest{G::table_bytes(0), G::table_align(0), false, 0});
    return {};
  }

  /// After a call on the reference over [va, va + size) that reported `r`: when `r` shows a
  /// shared level written, makes every registered root's entries of the shared range inside
  /// [va, va + size) equal to the reference's (only changed entries are written; with
  /// SyncDepth > 0, private tables are added or released as the reference's were). Otherwise
  /// returns at once, visiting no root.
  /// With a live policy (opts.live), new private tables are published before they are linked,
  /// valid entries that change kind go through break-before-make, and at the end the hook
  /// publishes and invalidates the range once if a valid entry changed.
  /// Errors: out_of_memory (private tables; planned for all roots before the first write),
  /// malformed_entry (a root or table the memory cannot reach, or a malformed entry), the VA
  /// errors. No partial success.
  template <TableMemory M, SyncHook S = NoSync>
  Result<SyncReport> sync(M& mem, VirtAddr va, std::uint64_t size, const Report& r, const Options& opts = {},
                          S&& hook = S{}) {
    if (!needs_sync(r)) return SyncReport{};
    auto lo = detail::check_va_range<F>(va, size);
    if (!lo) return lo.error();
    const std::uint64_t a = *lo > lo_ ? *lo : lo_;
    const std::uint64_t b = *lo + size < hi_ ? *lo + size : hi_;
    if (a >= b) return SyncReport{};
    return detail::mirror_erased<F>(ref_, roots(), MemRef(mem), lo_, hi_, a, b, SyncDepth, opts, SyncRef(hook));
  }

  /// Makes every root's whole shared range equal to the reference's (after add() of a root
  /// built elsewhere, or to repair). Errors and guarantees as sync().
  template <TableMemory M, SyncHook S = NoSync>
  Result<SyncReport> sync_all(M& mem, const Options& opts = {}, S&& hook = S{}) {
    return detail::mirror_erased<F>(ref_, roots(), MemRef(mem), lo_, hi_, lo_, hi_, SyncDepth, opts, SyncRef(hook));
  }

  /// preallocate<SyncDepth>() on the reference: after it, kernel maps in [va, va + size) never
  /// write a shared level, so they never need a sync.
  template <TableMemory M, SyncHook S = NoSync>
  Result<Report> preallocate(M& mem, VirtAddr va, std::uint64_t size, const Options& opts = {}, S&& hook = S{}) {
    return ptlib::preallocate<SyncDepth>(ref_, mem, va, size, opts, hook);
  }

 private:
  std::size_t find(PhysAddr root) const {
    for (std::size_t i = 0; i < count_; ++i)
      if (slots_[i] == root) return i;
    return count_;
  }

  Tree<F> ref_{};
  std::uint64_t lo_ = 0, hi_ = 0;  // the shared range, tree offsets
  std::span<PhysAddr> slots_{};
  std::size_t count_ = 0;
};

PTLIB_END_NAMESPACE
