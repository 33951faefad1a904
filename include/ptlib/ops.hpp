// The mutating operations of the one engine: map, unmap, protect and compact, each a visitor over
// the range walker, each planned by a dry run and committed only when it cannot fail.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "sync.hpp"
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

/// How a call treats a tree the hardware may be using.
enum class Live : std::uint8_t {
  offline,            ///< no CPU uses the tree: entries change in place, the sync hook is not called
  refuse,             ///< live: a change the format allows only via break-before-make is
                      ///< Errc::needs_break_before_make (found by the dry run: nothing changes)
  break_before_make,  ///< live: such changes go invalid entry -> publish -> invalidate -> new entry
};

/// What map() does where its range meets a leaf that is already there.
enum class Remap : std::uint8_t {
  /// Errc::overlap, whatever the leaf maps. The default.
  refuse,
  /// A leaf that already maps the requested output addresses with the requested attributes (at
  /// any size: a block covering the range counts) is kept as it is and counts as mapped; any
  /// other leaf is Errc::overlap. Early boot code that maps one device twice.
  identical,
  /// identical, and a leaf with the requested output addresses whose attributes may change
  /// without break-before-make is rewritten: Linux arm64's pgattr_change_is_safe() rule (a live
  /// entry keeps its output address and memory type; only write/exec permission may change,
  /// and global may become non-global, never the reverse; no contiguous run). Moreover the
  /// call must cover the leaf whole, it must keep its user flag, and the format must not demand
  /// break-before-make for the change (F::needs_bbm). Anything else is Errc::overlap.
  safe,
};

/// Per-call choices.
struct Options {
  /// Largest leaf the engine may use, in bytes (0 = whatever the format allows). A value below a
  /// level's size rules that level's leaves out; the smallest page is always allowed, so any
  /// value up to the page size means "smallest pages only".
  std::uint64_t max_leaf_size = 0;
  /// Where a format cannot forbid execution (x86 without NX), map a non-executable request as
  /// executable instead of failing with Errc::unsupported_attrs. Off: never a silent upgrade.
  bool allow_implied_exec = false;
  /// Mark aligned, uniform runs of leaves with the format's contiguous hint (arm64 Contiguous
  /// bit, RISC-V Svnapot when Caps::svnapot). Off for erratum workarounds.
  bool contiguous = true;
  /// unmap: release tables that become empty (and clear the entries that pointed at them).
  bool release_empty = true;
  /// Live-update policy; with a live policy every change of a valid entry is followed by a TLB
  /// invalidation through the sync hook, and new tables are published before they are linked.
  Live live = Live::offline;
  /// map() over existing leaves: refused (default), kept when identical, or changed when safe.
  Remap remap = Remap::refuse;

  /// Only smallest pages.
  static constexpr Options page_only() {
    Options o;
    o.max_leaf_size = 1;
    return o;
  }
};
using MapOptions = Options;

/// What a successful mutating call did.
struct Report {
  LevelMask modified{};           ///< levels at which entries were written
  std::size_t tables_added = 0;   ///< tables allocated and linked (new levels and splits)
  std::size_t tables_released = 0;///< tables unlinked and given back (unmap, compact)
  std::size_t leaves_changed = 0; ///< leaves written, cleared or rewritten
  /// map(): the levels (depths) at which it wrote new leaves. Shows what "largest blocks" gave:
  /// e.g. x86-64 without Caps::page1g writes 2 MiB leaves where a 1 GiB one would fit.
  LevelMask leaf_levels{};
};
using MapReport = Report;

/// The operations, as values (what plan() and apply() take).
namespace op {
struct Map {
  VirtAddr va;
  PhysAddr pa;
  std::uint64_t size;
  Attrs attrs;
};
struct Unmap {
  VirtAddr va;
  std::uint64_t size;
};
struct Protect {
  VirtAddr va;
  std::uint64_t size;
  Attrs attrs;
};
struct Compact {
  VirtAddr va;
  std::uint64_t size;
};
}  // namespace op

namespace detail {

/// Tables a map allocated before its first write (memory that may break its reserve() promise):
/// a chain through each table's first word, so nothing grows with the count. The map's walk takes
/// its new tables from here; a broken promise is then met before anything is written.
struct Prealloc {
  std::uint64_t head = 0;
  std::size_t count = 0;
  /// Adds the table at `pa`, reached at `ptr`: its first word links to the previous head.
  void push(PhysAddr pa, void* ptr) {
    __builtin_memcpy(ptr, &head, sizeof head);
    head = pa.value;
    ++count;
  }
  /// Takes the head table (count > 0), reached through `mem` at `depth`; a null `ptr` when it
  /// cannot be reached (the chain is then left as it was).
  [[gnu::always_inline]] NewTable pop(const MemRef& mem, std::size_t depth) {
    const PhysAddr pa(head);
    void* ptr = mem.map(pa, depth);
    if (ptr) {
      __builtin_memcpy(&head, ptr, sizeof head);
      --count;
    }
    return NewTable{pa, ptr};
  }
};

/// Everything the visitors share: the tree, memory, sync hook, options, and the entry writes
/// that respect the live policy. `commit == false` is the dry run: it finds every error and
/// counts the tables a call needs, and writes nothing. A run-time flag, not a template
/// parameter: each visitor and the walker are compiled once per format, not twice.
template <PagingFormat F>
struct Editor {
  using G = Geometry<F>;
  using Entry = typename F::Entry;

  const Tree<F>& tree;
  const MemRef& mem;  // references: a visitor is made per call, and copying these costs
  const SyncRef& sync;  // ~15 words per call (they outlive every Editor made from them)
  const Options& opts;
  bool commit = true;
  Report report{};
  /// Dry runs of several map pieces in VA order (map_linear, map_image): the last table each
  /// depth's create() counted, by the tree offset it covers. Pieces sorted by VA can share only
  /// the most recent table of a depth, so a create() of that same table is not counted twice.
  struct Edge {
    std::uint64_t key[32];
    std::uint32_t have = 0;
  };
  Edge* edge = nullptr;
  Prealloc* pool = nullptr;  // a map's tables, allocated before its first write (commit())
  /// Commit of unmap/protect, first pass: only the splits and unfolds (which allocate but change
  /// no translation), so a TableMemory that breaks its reserve() promise fails before any
  /// translation changed; the second pass then allocates nothing.
  bool splits_only = false;

  [[nodiscard]] bool live() const { return opts.live != Live::offline; }
  [[gnu::noinline, gnu::cold]] static Error level_error(Errc c, std::size_t depth, std::uint64_t lo, PhysAddr pa) {
    const auto L = G::level(depth);
    return Error{c, G::to_va(lo), pa, level_number<F>(L), F::level_name(L)};
  }
  static TableRequest request(std::size_t depth, bool zeroed = false) {
    return TableRequest{G::table_bytes(depth), G::table_align(depth), zeroed, depth};
  }
  /// Clears a new table at `depth` of which the caller writes entries [first, last] next: one
  /// memset of the whole table, unless the caller writes all of it. Clearing only around the
  /// written entries takes two memsets of odd sizes, which store through the cache (reading each
  /// line first), where a whole table goes as one store stream (W3: 30 -> 22-24 ms, docs/engine.md).
  static void clear_new(Entry* t, std::size_t depth, std::size_t first, std::size_t last) {
    if (first != 0 || last + 1 != G::entries(depth)) __builtin_memset(t, 0, G::table_bytes(depth));
  }
  /// Whether a leaf at `depth` is allowed by format, capabilities and options (not alignment).
  [[nodiscard]] bool leaf_allowed(std::size_t depth) const { return leaf_allowed(depth, tree.caps, opts); }
  static bool leaf_allowed(std::size_t depth, const typename F::Caps& caps, const Options& o) {
    const std::uint64_t max = o.max_leaf_size ? o.max_leaf_size : ~std::uint64_t{0};
    return F::can_leaf(G::level(depth), caps) && (G::span(depth) <= max || depth + 1 == G::kDepth);
  }
  Result<Entry> proto(std::size_t depth, const Attrs& a, bool contiguous, std::uint64_t lo) const {
    auto p = F::leaf_proto(G::level(depth), LeafSettings{a, contiguous, opts.allow_implied_exec}, tree.caps);
    if (!p) {
      Error e = level_error(p.error().code, depth, lo, Error::kNoPa);
      e.hint = p.error().hint;  // the format's word on what to do (which capability, which option)
      return e;
    }
    return p;
  }


  /// A dry run's create(): counts the table unless an earlier piece already counted it.
  void count_create(const Slot<F>& s) {
    if (edge) {
      const std::size_t d = s.depth + 1;
      const std::uint64_t key = align_down(s.lo, G::span(s.depth));
      if (((edge->have >> d) & 1U) && edge->key[d] == key) return;
      edge->key[d] = key;
      edge->have |= 1U << d;
    }
    ++report.tables_added;
  }

  /// The walk of the fresh table `c` failed (only when a TableMemory broke its reserve()
  /// promise): give it and every table already linked into it back.
  void discard(const Slot<F>& s, const Child& c) {
    if (commit) {
      release_children_at(s.depth + 1, c.ptr);
      give_back(mem, s.depth + 1, NewTable{c.pa, c.ptr});
      --report.tables_added;
    }
  }
  template <std::size_t D>
  void release_children(const void* ptr) {
    if constexpr (D + 1 < G::kDepth) {
      const Entry* e = static_cast<const Entry*>(ptr);
      for (std::size_t k = 0; k < G::entries(D); ++k) {
        const Decoded x = F::decode(G::level(D), e[k]);
        if (x.kind != EntryKind::table) continue;
        if (void* p = mem.map(x.addr, D + 1)) {
          release_children<D + 1>(p);
          mem.unmap(p, D + 1);
        }
        mem.release(x.addr, request(D + 1));
        --report.tables_added;
      }
    }
  }
  void release_children_at(std::size_t depth, const void* ptr) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((I == depth ? release_children<I>(ptr) : void()), ...);
    }(std::make_index_sequence<G::kDepth>{});
  }

  /// A new table for depth `depth` (below the entry at depth - 1 covering `lo`). A table the
  /// format cannot link (misaligned, or beyond its output address size) is given back:
  /// Errc::misaligned_table / pa_out_of_range; no table is ever linked at a PA it cannot encode.
  Result<NewTable> allocate_table(std::size_t depth, std::uint64_t lo) {
    if (pool && pool->count) {  // checked (aligned, linkable) when it was allocated
      const NewTable t = pool->pop(mem, depth);
      if (!t.ptr) return level_error(Errc::malformed_entry, depth - 1, lo, t.pa);
      return t;
    }
    auto t = mem.allocate(request(depth));
    if (!t) {  // a broken reserve() promise: one more table was needed, none was there
      Error e = level_error(Errc::out_of_memory, depth - 1, lo, Error::kNoPa);
      e.tables_needed = 1;
      return e;
    }
    const std::optional<Errc> why = unlinkable(depth, t->pa);
    if (!why) return *t;
    give_back(mem, depth, *t);
    return level_error(*why, depth - 1, lo, t->pa);
  }
  /// Why the format cannot link a table for `depth` at `pa` (misaligned_table, pa_out_of_range).
  static std::optional<Errc> unlinkable(std::size_t depth, PhysAddr pa) {
    if (!pa.aligned(G::table_align(depth))) return Errc::misaligned_table;
    if (pa.value + (G::table_bytes(depth) - 1) > G::kPaLimit) return Errc::pa_out_of_range;
    return std::nullopt;
  }
  /// Gives back a table the call took and will not link.
  static void give_back(const MemRef& mem, std::size_t depth, const NewTable& t) {
    mem.unmap(t.ptr, depth);
    mem.release(t.pa, request(depth));
  }

  /// Dry run: may the valid entry `old` become `next` under the live policy?
  Result<void> check_change(std::size_t depth, Entry old, Entry next, std::uint64_t lo) const {
    if (opts.live == Live::refuse && F::needs_bbm(G::level(depth), old, next))
      return level_error(Errc::needs_break_before_make, depth, lo, F::decode(G::level(depth), old).addr);
    return {};
  }
  /// Replaces valid entries p[0..n) (mapping [va, va + n * span)) by next[0..n): in place, or
  /// through break-before-make when the tree is live and the format demands it.
  template <class Next>
  void replace(std::size_t depth, Entry* p, std::size_t n, std::uint64_t lo, Next&& next) {
    const auto L = G::level(depth);
    const std::uint64_t bytes = n * G::span(depth);
    // Clearing an entry is itself the "break": only valid -> valid changes may need BBM.
    bool bbm = false;
    if (opts.live == Live::break_before_make)
      for (std::size_t k = 0; k < n && !bbm; ++k)
        bbm = F::decode(L, next(k)).kind != EntryKind::invalid && F::needs_bbm(L, p[k], next(k));
    if (bbm) {
      for (std::size_t k = 0; k < n; ++k) p[k] = 0;
      sync.publish();
      sync.invalidate(G::to_va(lo), bytes);
    }
    for (std::size_t k = 0; k < n; ++k) p[k] = next(k);
    if (live()) {
      sync.publish();
      if (!bbm) sync.invalidate(G::to_va(lo), bytes);
    }
    report.modified.set(depth);
  }

  /// The contiguous run (if any) the leaf at `s` belongs to: [first index, count) in its table.
  struct Run {
    std::size_t first, count;
    std::uint64_t lo, hi;
  };
  static Run run_of(const Slot<F>& s, unsigned k) {
    const std::size_t n = std::size_t{1} << k;
    const std::size_t first = s.index & ~(n - 1);
    const std::uint64_t lo = align_down(s.lo, G::span(s.depth) << k);
    return Run{first, n, lo, lo + (G::span(s.depth) << k)};
  }
  /// Rewrites a whole contiguous run without the hint (before part of it changes).
  Result<void> unfold(const Slot<F>& s, std::uint64_t op_lo, std::uint64_t op_hi, bool& unfolded) {
    unfolded = false;
    if (!s.entry.contiguous) return {};
    const unsigned k = F::contig_log2(G::level(s.depth), tree.caps);
    if (k == 0) return {};
    const Run r = run_of(s, k);
    if (r.lo >= op_lo && r.hi <= op_hi) return {};  // the call covers the whole run
    auto p = proto(s.depth, s.entry.attrs, false, s.lo);
    if (!p) return p.error();
    const auto L = G::level(s.depth);
    const std::uint64_t base = leaf_output(s).value - (s.index - r.first) * G::span(s.depth);
    auto next = [&](std::size_t j) { return F::leaf(L, *p, PhysAddr(base + j * G::span(s.depth))); };
    if (commit) {
      replace(s.depth, s.table + r.first, r.count, r.lo, next);
    } else {
      if (s.table) PTLIB_TRY(check_change(s.depth, s.table[s.index], next(s.index - r.first), s.lo));
    }
    unfolded = true;
    return {};
  }

  /// Splits the leaf at `s` into a table of next-level leaves with the same attributes.
  Result<Step> split(const Slot<F>& s) {
    const std::size_t d = s.depth + 1;
    if (d >= G::kDepth || !F::can_leaf(G::level(d), tree.caps))
      return level_error(Errc::malformed_entry, s.depth, s.lo, s.entry.addr);
    auto p = proto(d, s.entry.attrs, false, s.lo);
    if (!p) return p.error();
    ++report.tables_added;
    const PhysAddr block = leaf_output(s);
    if (!commit) {
      if (s.table) PTLIB_TRY(check_change(s.depth, s.table[s.index], F::table(G::level(s.depth), PhysAddr{}), s.lo));
      return Step::split;
    } else {
      auto t = allocate_table(d, s.lo);
      if (!t) return t.error();
      Entry* e = static_cast<Entry*>(t->ptr);
      const auto L = G::level(d);
      for (std::size_t k = 0; k < G::entries(d); ++k) e[k] = F::leaf(L, *p, block + k * G::span(d));
      if (live()) sync.publish();
      const Entry link = F::table(G::level(s.depth), t->pa);
      replace(s.depth, s.table + s.index, 1, align_down(s.lo, G::span(s.depth)), [&](std::size_t) { return link; });
      mem.unmap(t->ptr, d);
      return Step::descend;
    }
  }

  // Defaults for the walk contract (discard: above).
  Result<Step> absent(const Slot<F>&) { return Step::done; }
  Result<Child> create(const Slot<F>&) { return Child{}; }
  void link(const Slot<F>&, const Child&) {}
  Step table_pre(const Slot<F>&) { return Step::descend; }
  void table_post(const Slot<F>&, void*) {}
};

/// `e` at the output address `pa` (a leaf encoding that failed for the PA map() was writing).
constexpr Error at_pa(Error e, PhysAddr pa) {
  e.pa = pa;
  return e;
}

/// Errc::out_of_memory for a call that needs `needed` tables at `va`, saying how many the memory
/// can promise: the largest k < needed that reserve(k) accepts, found by bisection (about
/// log2(needed) reserve() calls, on this error path only).
inline Error out_of_memory(const MemRef& mem, const TableRequest& r, std::size_t needed, VirtAddr va) {
  std::size_t have = 0, lacks = needed;  // reserve(have) holds, reserve(lacks) fails
  while (lacks - have > 1) {
    const std::size_t mid = have + (lacks - have) / 2;
    (mem.reserve(mid, r) ? have : lacks) = mid;
  }
  Error e = make_error(Errc::out_of_memory, va);
  constexpr std::size_t kMax = 0xffff'ffffU;
  e.tables_needed = std::uint32_t(needed < kMax ? needed : kMax);
  e.tables_available = std::uint32_t(have < kMax ? have : kMax);
  return e;
}

/// Writes the leaves e[0..n): `proto` (no contiguous hint) with the output addresses pa, pa +
/// span, ... A separate function over locals and a restrict pointer, so the loop vectorises
/// wherever it is inlined (a store through `e` could otherwise alias the caller's state). When the
/// format declares kLinearOaLimit and the run stays below it, consecutive leaves differ by a
/// constant: the loop only adds it (one vector add and store per two 8-byte entries).
template <PagingFormat F>
inline void fill_leaves(typename F::Entry* __restrict e, std::size_t n, typename F::Level L,
                        typename F::Entry proto, std::uint64_t pa, std::uint64_t span) {
#if !defined(__OPTIMIZE_SIZE__)  // -Os: the plain loop below only (~250 bytes less per format)
  using Entry = typename F::Entry;
  if constexpr (requires { F::kLinearOaLimit; }) {
    if (n > 1 && pa + n * span <= F::kLinearOaLimit) {
      Entry v = F::leaf(L, proto, PhysAddr(pa));
      const Entry step = Entry(F::leaf(L, proto, PhysAddr(pa + span)) - v);
      std::size_t i = 0;
#if defined(__GNUC__) && !defined(__clang__)
      // 16 bytes of entries per store, written as one vector (GCC's vector extensions): GCC
      // vectorises the plain loop below only at -O3 (at -O2 its cost model refuses loops that
      // need an epilogue); this takes W2b from 1.67 to 1.14 us at -O2. clang vectorises the
      // plain loop at -O2 itself, and does worse with this one.
      constexpr std::size_t kLanes = 16 / sizeof(Entry);
      using Vec [[gnu::vector_size(16)]] = Entry;
      using Store [[gnu::vector_size(16), gnu::aligned(alignof(Entry)), gnu::may_alias]] = Entry;
      Vec cur{}, inc{};
      for (std::size_t k = 0; k < kLanes; ++k) cur[k] = Entry(v + k * step), inc[k] = Entry(kLanes * step);
      // Four stores (64 bytes) per iteration: a one-store loop runs at one iteration per cycle
      // only where its few bytes of code do not straddle a 64-byte fetch boundary (AMD Zen 4:
      // W1 0.48 ms aligned, 0.72 ms straddling, by where the linker happened to put it).
      const Vec inc4 = inc + inc + inc + inc;
      Vec c1 = cur + inc, c2 = c1 + inc, c3 = c2 + inc;
      for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
        Store* p = reinterpret_cast<Store*>(e + i);
        p[0] = cur, p[1] = c1, p[2] = c2, p[3] = c3;
        cur += inc4, c1 += inc4, c2 += inc4, c3 += inc4;
      }
      for (; i + kLanes <= n; i += kLanes, cur += inc) *reinterpret_cast<Store*>(e + i) = cur;
      v = Entry(v + i * step);
#endif
      for (; i < n; ++i, v += step) e[i] = v;
      return;
    }
  }
#endif
#if !defined(__OPTIMIZE_SIZE__)
#pragma GCC unroll 4
#endif
  for (std::size_t i = 0; i < n; ++i, pa += span) e[i] = F::leaf(L, proto, PhysAddr(pa));
}

/// map: fills invalid entries with the largest leaves possible, creating tables on the way.
template <PagingFormat F>
struct MapVisitor : Editor<F> {
  using Base = Editor<F>;
  using typename Base::Entry;
  using typename Base::G;
  std::uint64_t va0;  // tree offset of the first VA
  PhysAddr pa0;
  Attrs attrs;
  // The leaf protos of this call by depth (plain, then with the contiguous hint), each computed
  // once: attributes, options and capabilities do not change during a call.
  std::array<Entry, 2 * G::kDepth> protos{};
  std::uint32_t have_proto = 0;  // bit i: protos[i] is set

  PhysAddr pa_at(std::uint64_t t) const { return pa0 + (t - va0); }

  Result<Entry> proto_at(std::size_t depth, bool contiguous, std::uint64_t lo) {
    const std::size_t i = depth + (contiguous ? G::kDepth : 0);
    if ((have_proto >> i) & 1U) return protos[i];
    auto p = this->proto(depth, attrs, contiguous, lo);
    if (p) {
      protos[i] = *p;
      have_proto |= 1U << i;
    }
    return p;
  }

  Result<Step> absent(const Slot<F>& s) {
    const std::uint64_t span = G::span(s.depth);
    if (!s.full || !this->leaf_allowed(s.depth) || !pa_at(s.lo).aligned(span)) return Step::descend;
    auto p = proto_at(s.depth, false, s.lo);
    if (!p) return at_pa(p.error(), pa_at(s.lo));
    if (this->commit) write_leaves(s, *p);
    return Step::done;
  }

  /// Writes the run's leaves; aligned groups of 2^k uniform leaves get the contiguous hint.
  void write_leaves(const Slot<F>& s, Entry plain) {
    const auto L = G::level(s.depth);
    const std::uint64_t span = G::span(s.depth);
    const unsigned k = this->opts.contiguous ? F::contig_log2(L, this->tree.caps) : 0;
    Entry contig = plain;
    if (k) {
      auto p = proto_at(s.depth, true, s.lo);
      contig = p ? *p : plain;
    }
    const std::size_t group = std::size_t{1} << k;
    const std::uint64_t group_bytes = span << k;
    Entry* e = s.table + s.index;
    std::uint64_t pa = pa_at(s.lo).value;
    const std::size_t n = s.count;
    std::size_t i = 0;
#if !defined(__OPTIMIZE_SIZE__)  // -Os: the loop below does this case too, in less code
    if (k == 0) {  // the common, hint-free case: one tight loop
      fill_leaves<F>(e, n, L, plain, pa, span);
      pa += n * span;
      i = n;
    }
#endif
    while (i < n) {
      const std::uint64_t t = s.lo + i * span;
      if ((t & (group_bytes - 1)) == 0 && (pa & (group_bytes - 1)) == 0 && n - i >= group) {
        for (std::size_t j = 0; j < group; ++j, pa += span) e[i + j] = F::leaf(L, contig, PhysAddr(pa));
        i += group;
      } else {
        e[i] = F::leaf(L, plain, PhysAddr(pa));
        pa += span;
        ++i;
      }
    }
    if (this->live()) this->sync.publish();
    this->report.modified.set(s.depth);
    this->report.leaf_levels.set(s.depth);
    this->report.leaves_changed += s.count;
  }

  Result<Child> create(const Slot<F>& s) {
    if (!this->commit) {
      this->count_create(s);
      return Child{};
    } else {
      ++this->report.tables_added;
      const std::size_t d = s.depth + 1;
      auto t = this->allocate_table(d, s.lo);
      if (!t) return t.error();
      // The walk writes every entry in [first, last] (a table it fills is not cleared first).
      this->clear_new(static_cast<Entry*>(t->ptr), d, G::index(s.lo, d), G::index(s.hi - 1, d));
      return Child{t->pa, t->ptr};
    }
  }

  void link(const Slot<F>& s, const Child& c) {
    if (this->commit) {
      if (this->live()) this->sync.publish();  // the table's contents before the pointer to it
      s.table[s.index] = F::table(G::level(s.depth), c.pa);
      if (this->live()) this->sync.publish();
      this->report.modified.set(s.depth);
      this->mem.unmap(c.ptr, s.depth + 1);
    }
  }

  Result<Step> leaf(const Slot<F>& s) {
    const std::uint64_t base = align_down(s.lo, G::span(s.depth));
    const PhysAddr there = leaf_output(s) + (s.lo - base);
    if (this->opts.remap != Remap::refuse && there == pa_at(s.lo)) {
      auto kept = remap(s);
      if (!kept) return kept.error();
      if (*kept) return Step::done;
    }
    return Base::level_error(Errc::overlap, s.depth, s.lo, there);
  }

  /// Options::remap over a leaf that already maps the requested output addresses: true when it
  /// is identical (kept) or safely rewritten (Remap::safe), false when it conflicts.
  Result<bool> remap(const Slot<F>& s) {
    const auto L = G::level(s.depth);
    auto p = this->proto(s.depth, attrs, false, s.lo);
    if (!p) return at_pa(p.error(), pa_at(s.lo));
    const Entry next = F::leaf(L, *p, leaf_output(s));
    const Attrs want = F::decode(L, next).attrs, have = s.entry.attrs;
    if (want == have) return true;
    const bool safe = this->opts.remap == Remap::safe && s.full && !s.entry.contiguous && want.mem == have.mem &&
                      want.user() == have.user() && (have.global() || !want.global()) &&
                      !F::needs_bbm(L, s.table[s.index], next);
    if (!safe) return false;
    if (this->commit) this->replace(s.depth, s.table + s.index, 1, s.lo, [&](std::size_t) { return next; });
    ++this->report.leaves_changed;
    return true;
  }
};

/// unmap: clears leaves, splits blocks that straddle the range's edges, releases emptied tables.
template <PagingFormat F>
struct UnmapVisitor : Editor<F> {
  using Base = Editor<F>;
  using typename Base::Entry;
  using typename Base::G;
  std::uint64_t lo, hi;  // the call's range (tree offsets)

  Result<Step> leaf(const Slot<F>& s) {
    bool unfolded = false;
    PTLIB_TRY(this->unfold(s, lo, hi, unfolded));
    if (!s.full) return this->split(s);
    if (this->splits_only) return Step::done;
    if (this->commit) {
      this->replace(s.depth, s.table + s.index, 1, s.lo, [](std::size_t) { return Entry{0}; });
    }
    ++this->report.leaves_changed;
    return Step::done;
  }

  void table_post(const Slot<F>& s, void* table) {
    if (this->commit) {
      if (!this->opts.release_empty || this->splits_only) return;
      const std::size_t d = s.depth + 1;
      const auto L = G::level(d);
      const Entry* e = static_cast<const Entry*>(table);
      for (std::size_t k = 0; k < G::entries(d); ++k)
        if (F::decode(L, e[k]).kind != EntryKind::invalid) return;
      const std::uint64_t base = align_down(s.lo, G::span(s.depth));
      this->replace(s.depth, s.table + s.index, 1, base, [](std::size_t) { return Entry{0}; });
      this->mem.release(s.entry.addr, Base::request(d));
      ++this->report.tables_released;
    }
  }
};

/// protect: rewrites the attributes of every leaf in the range, splitting at the edges.
template <PagingFormat F>
struct ProtectVisitor : Editor<F> {
  using Base = Editor<F>;
  using typename Base::Entry;
  using typename Base::G;
  std::uint64_t lo, hi;
  Attrs attrs;

  Result<Step> leaf(const Slot<F>& s) {
    if (s.entry.attrs == attrs) return Step::done;  // a no-op writes nothing: no unfold, no split
    bool unfolded = false;
    PTLIB_TRY(this->unfold(s, lo, hi, unfolded));
    if (!s.full) return this->split(s);
    if (this->splits_only) return Step::done;
    const bool contiguous = s.entry.contiguous && !unfolded;
    auto p = this->proto(s.depth, attrs, contiguous, s.lo);
    if (!p) return p.error();
    const auto L = G::level(s.depth);
    if (const unsigned k = contiguous ? F::contig_log2(L, this->tree.caps) : 0) {
      // A whole contiguous run changes as one (Arm ARM: the entries of a run must agree): with
      // break-before-make the whole run is cleared, invalidated, then rewritten. Its first
      // entry does it; the others then already hold their new value.
      const auto r = Base::run_of(s, k);
      if (s.index != r.first) return Step::done;
      const std::uint64_t base = leaf_output(s).value;
      auto next = [&](std::size_t j) { return F::leaf(L, *p, PhysAddr(base + j * G::span(s.depth))); };
      if (this->commit) {
        this->replace(s.depth, s.table + r.first, r.count, r.lo, next);
      } else {
        if (s.table) PTLIB_TRY(this->check_change(s.depth, s.table[s.index], next(0), s.lo));
      }
      this->report.leaves_changed += r.count;
      return Step::done;
    }
    const Entry next = F::leaf(L, *p, leaf_output(s));
    if (this->commit) {
      if (s.table[s.index] == next) return Step::done;
      this->replace(s.depth, s.table + s.index, 1, s.lo, [&](std::size_t) { return next; });
    } else {
      if (s.table && !unfolded) {
        if (s.table[s.index] == next) return Step::done;
        PTLIB_TRY(this->check_change(s.depth, s.table[s.index], next, s.lo));
      }
    }
    ++this->report.leaves_changed;
    return Step::done;
  }
};

/// compact: folds a table whose entries are uniform leaves continuing one another's output
/// addresses back into one block, and releases the table (post-order, so folds cascade up).
template <PagingFormat F>
struct CompactVisitor : Editor<F> {
  using Base = Editor<F>;
  using typename Base::Entry;
  using typename Base::G;

  Result<Step> leaf(const Slot<F>&) { return Step::done; }

  /// The block that could replace the table under `s`, if its entries allow one.
  std::optional<Entry> foldable(const Slot<F>& s, const void* table) const {
    const std::size_t d = s.depth + 1;
    if (!s.full || !this->leaf_allowed(s.depth)) return std::nullopt;
    const auto L = G::level(d);
    const Entry* e = static_cast<const Entry*>(table);
    const Decoded first = F::decode(L, e[0]);
    if (first.kind != EntryKind::leaf || !first.addr.aligned(G::span(s.depth))) return std::nullopt;
    for (std::size_t k = 0; k < G::entries(d); ++k) {
      const Decoded x = F::decode(L, e[k]);
      const Slot<F> sk{d, nullptr, k, 1, s.lo + k * G::span(d), s.lo + (k + 1) * G::span(d), true, x};
      if (x.kind != EntryKind::leaf || !(x.attrs == first.attrs) || leaf_output(sk) != first.addr + k * G::span(d))
        return std::nullopt;
    }
    auto p = this->proto(s.depth, first.attrs, false, s.lo);
    if (!p) return std::nullopt;  // attributes a block cannot express: leave the table
    return F::leaf(G::level(s.depth), *p, first.addr);
  }

  void table_post(const Slot<F>& s, void* table) {
    const auto block = foldable(s, table);
    if (!block) return;
    if (this->commit) {
      this->replace(s.depth, s.table + s.index, 1, s.lo, [&](std::size_t) { return *block; });
      this->mem.release(s.entry.addr, Base::request(s.depth + 1));
      ++this->report.tables_released;
    } else if (!error) {
      auto r = this->check_change(s.depth, s.table[s.index], *block, s.lo);
      if (!r) error = r.error();
    }
  }
  std::optional<Error> error;  // dry run: table_post cannot return one, so keep the first
};

/// Checks the arguments of a range call (and, for a map, of its physical range) in one pass;
/// returns the tree offset of `va`.
template <PagingFormat F, bool HasPa>
Result<std::uint64_t> check_args(VirtAddr va, PhysAddr pa, std::uint64_t size) {
  using G = Geometry<F>;
  if (size == 0) return make_error(Errc::zero_size, va, pa);
  if (!va.aligned(G::kPageSize)) return make_error(Errc::misaligned_va, va, pa);
  if (HasPa && !pa.aligned(G::kPageSize)) return make_error(Errc::misaligned_pa, va, pa);
  if (size & (G::kPageSize - 1)) return make_error(Errc::misaligned_size, va, pa);
  if (va.value + (size - 1) < va.value || (HasPa && pa.value + (size - 1) < pa.value))
    return make_error(Errc::range_wraps, va, pa);
  Errc why{};
  if (!G::va_in_range(va.value, size, why)) return make_error(why, va, pa);
  if (HasPa && pa.value + (size - 1) > G::kPaLimit) return make_error(Errc::pa_out_of_range, va, pa);
  return G::to_tree(va);
}

/// Checks the arguments every range call shares; returns the tree offset of `va`.
template <PagingFormat F>
Result<std::uint64_t> check_va_range(VirtAddr va, std::uint64_t size) {
  return check_args<F, false>(va, Error::kNoPa, size);
}

/// check_va_range() plus the physical range of a map.
template <PagingFormat F>
Result<std::uint64_t> check_range(VirtAddr va, PhysAddr pa, std::uint64_t size) {
  return check_args<F, true>(va, pa, size);
}

/// An operation as a run-time value: what the engine's compiled entry points take.
enum class OpKind : std::uint8_t { map, unmap, protect, compact };
/// A set of operation kinds (bit k = OpKind k): the kinds an instance of the engine handles.
/// The compiled library handles all; a header-only kernel instantiates only the kinds it calls,
/// so a kernel that only maps carries no unmap/protect/compact code. PTLIB_ENGINE_ALL_OPS gives a
/// header-only build the compiled library's choice (one instance per format handling every kind,
/// with the rollback), for code that offers every operation at run time (the C API built
/// freestanding, src/c_api.cpp): a second, map-only instance for the boot maps would only add size.
inline constexpr unsigned kAllOps = 0xf;
constexpr unsigned op_bit(OpKind k) { return 1U << unsigned(k); }
#if defined(PTLIB_COMPILED_ENGINE) || defined(PTLIB_ENGINE_ALL_OPS)
constexpr unsigned ops_for(OpKind) { return kAllOps; }
template <class M>
inline constexpr bool kUndo = true;
#else
constexpr unsigned ops_for(OpKind k) { return op_bit(k); }
/// Whether calls through M need the rollback of a broken reserve() promise: not for memory that
/// declares `static constexpr bool kReservesExactly = true` (Arena, StaticPool, ImageBuilder:
/// their reserve() is exact), so a kernel using them carries no rollback code.
template <class M>
inline constexpr bool kUndo = !requires { requires M::kReservesExactly; };
#endif
/// Whether one-table calls take the one-walk paths (PTLIB_ONE_WALK, config.hpp); a template
/// argument of apply_one/apply_erased, so builds that differ in it use different instances.
#if defined(PTLIB_COMPILED_ENGINE)
inline constexpr bool kOneWalk = true;
#else
inline constexpr bool kOneWalk = PTLIB_ONE_WALK != 0;
#endif
struct AnyOp {
  OpKind kind{};
  VirtAddr va{};
  PhysAddr pa{};
  std::uint64_t size = 0;
  Attrs attrs{};
};
constexpr AnyOp any_op(const op::Map& o) { return {OpKind::map, o.va, o.pa, o.size, o.attrs}; }
constexpr AnyOp any_op(const op::Unmap& o) { return {OpKind::unmap, o.va, PhysAddr{}, o.size, Attrs{}}; }
constexpr AnyOp any_op(const op::Protect& o) { return {OpKind::protect, o.va, PhysAddr{}, o.size, o.attrs}; }
constexpr AnyOp any_op(const op::Compact& o) { return {OpKind::compact, o.va, PhysAddr{}, o.size, Attrs{}}; }

/// Operations read through a function: one op, or the pieces of a boot map computed on demand.
/// `batch`: the pieces of one all-or-nothing map (map_linear, map_image, map_identity).
struct OpList {
  const void* ctx = nullptr;
  AnyOp (*at)(const void*, std::size_t) = nullptr;
  std::size_t count = 0;
  bool batch = false;
  AnyOp operator[](std::size_t i) const { return at(ctx, i); }
  static OpList one(const AnyOp& o) {
    return {&o, [](const void* c, std::size_t) { return *static_cast<const AnyOp*>(c); }, 1, false};
  }
  template <class Fn>
  static OpList pieces(const Fn& fn, std::size_t n) {
    return {&fn, [](const void* c, std::size_t i) { return any_op((*static_cast<const Fn*>(c))(i)); }, n, true};
  }
};

template <PagingFormat F>
constexpr TableRequest table_request() {
  using G = Geometry<F>;
  return TableRequest{G::table_bytes(1), G::table_align(1), false, 1};
}

/// The argument checks of `o`; kinds outside Mask are never passed (the map-only instance of a
/// kernel that only maps carries no VA-only checks).
template <PagingFormat F, unsigned Mask = kAllOps>
Result<std::uint64_t> check_op(const AnyOp& o) {
  if (Mask == op_bit(OpKind::map) || o.kind == OpKind::map) return check_range<F>(o.va, o.pa, o.size);
  return check_va_range<F>(o.va, o.size);
}

/// Calls fn(visitor) with the visitor of `o` (dry run or commit); kinds outside Mask are not
/// compiled in (the public calls never pass one).
template <PagingFormat F, unsigned Mask, class Fn>
auto with_visitor(const Editor<F>& e, const AnyOp& o, std::uint64_t lo, Fn&& fn)
    -> decltype(fn(std::declval<MapVisitor<F>&>())) {
  if constexpr ((Mask & op_bit(OpKind::map)) != 0) {
    if (o.kind == OpKind::map) {
      MapVisitor<F> v{e, lo, o.pa, o.attrs};
      return fn(v);
    }
  }
  if constexpr ((Mask & op_bit(OpKind::unmap)) != 0) {
    if (o.kind == OpKind::unmap) {
      UnmapVisitor<F> v{e, lo, lo + o.size};
      return fn(v);
    }
  }
  if constexpr ((Mask & op_bit(OpKind::protect)) != 0) {
    if (o.kind == OpKind::protect) {
      ProtectVisitor<F> v{e, lo, lo + o.size, o.attrs};
      return fn(v);
    }
  }
  if constexpr ((Mask & op_bit(OpKind::compact)) != 0) {
    if (o.kind == OpKind::compact) {
      CompactVisitor<F> v{e, {}};
      return fn(v);
    }
  }
  return make_error(Errc::unsupported_attrs, o.va);  // not reached
}

/// The dry run of `o`: every error it would meet, and the tables it would add. `edge` dedupes
/// tables shared with earlier pieces of a batch; `fresh_root` plans against a root not yet made.
template <PagingFormat F, unsigned Mask = kAllOps>
Result<std::size_t> dry_run(const Tree<F>& tree, const MemRef& mem, const AnyOp& o, const Options& opts,
                            typename Editor<F>::Edge* edge = nullptr, bool fresh_root = false) {
  using G = Geometry<F>;
  static_assert(G::uniform_tables(), "tables below the root must all have one size");
  auto lo = check_op<F, Mask>(o);
  if (!lo) return lo.error();
  if (!fresh_root && !tree.root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, o.va, tree.root);
  const SyncRef none{};
  Editor<F> e{tree, mem, none, opts, false};
  e.edge = edge;
  return with_visitor<F, Mask>(e, o, *lo, [&](auto& v) -> Result<std::size_t> {
    PTLIB_TRY(walk_range(tree, mem, *lo, *lo + o.size, v, fresh_root));
    if constexpr (requires { v.error; }) {
      if (v.error) return *v.error;
    }
    return v.report.tables_added;
  });
}

/// Removes what a map of [o.va, o.va + o.size) wrote (its leaves, and the tables it left empty):
/// the rollback after a TableMemory broke its reserve() promise.
template <PagingFormat F>
void undo_map(const Tree<F>& tree, const MemRef& mem, const AnyOp& o, const Options& opts, const SyncRef& sync) {
  using G = Geometry<F>;
  const std::uint64_t lo = G::to_tree(o.va);
  Options release = opts;
  release.release_empty = true;
  UnmapVisitor<F> undo{Editor<F>{tree, mem, sync, release}, lo, lo + o.size};
  (void)walk_range(tree, mem, lo, lo + o.size, undo);
}

/// Gives back the tables left in `pool`.
template <PagingFormat F>
void release_pool(const MemRef& mem, Prealloc& pool) {
  while (pool.count) {
    const NewTable t = pool.pop(mem, 1);
    if (!t.ptr) return;  // cannot happen for tables this memory handed out and mapped before
    Editor<F>::give_back(mem, 1, t);
  }
}

/// Allocates the `n` tables a map needs before its first write (into `pool`), so that a memory
/// that breaks its reserve() promise fails the call while nothing is written; on failure gives
/// back those it took. Every table is checked as Editor::allocate_table() checks it.
template <PagingFormat F>
Result<void> fill_pool(const MemRef& mem, std::size_t n, VirtAddr va, Prealloc& pool) {
  while (pool.count < n) {
    auto t = mem.allocate(table_request<F>());
    std::optional<Error> bad;
    if (!t) {
      bad = make_error(Errc::out_of_memory, va);  // a broken reserve() promise
      bad->tables_needed = std::uint32_t(n < 0xffff'ffffU ? n : 0xffff'ffffU);
      bad->tables_available = std::uint32_t(pool.count);
    } else if (const auto why = Editor<F>::unlinkable(1, t->pa)) {
      bad = make_error(*why, va, t->pa);
      Editor<F>::give_back(mem, 1, *t);
    }
    if (bad) {
      release_pool<F>(mem, pool);
      return *bad;
    }
    pool.push(t->pa, t->ptr);
    mem.unmap(t->ptr, 1);
  }
  return {};
}

/// Writes `o`, checked and reserved by a dry run. Fails only when the TableMemory breaks its
/// reserve() promise (or hands out a table its format cannot link): the tables the walk made
/// but did not link are released, and a map is undone (its leaves and new tables removed).
template <PagingFormat F, unsigned Mask = kAllOps, bool Undo = true>
Result<Report> commit(const Tree<F>& tree, const MemRef& mem, const AnyOp& o, const Options& opts, const SyncRef& sync,
                      std::size_t tables = 0, Prealloc* pool = nullptr) {
  using G = Geometry<F>;
  const std::uint64_t lo = G::to_tree(o.va);
  Editor<F> e{tree, mem, sync, opts};
  e.pool = pool;
  std::size_t split_tables = 0;
  if constexpr (Undo) {
    if (tables && (o.kind == OpKind::unmap || o.kind == OpKind::protect)) {
      // Splits first: if the memory breaks its promise, no translation has changed yet.
      Editor<F> first{tree, mem, sync, opts};
      first.splits_only = true;
      auto r = with_visitor<F, Mask>(first, o, lo, [&](auto& v) -> Result<Report> {
        PTLIB_TRY(walk_range(tree, mem, lo, lo + o.size, v));
        return v.report;
      });
      if (!r) return r.error();
      split_tables = r->tables_added;
      e.report.modified = r->modified;
    }
  }
  return with_visitor<F, Mask>(e, o, lo, [&](auto& v) -> Result<Report> {
    auto w = walk_range(tree, mem, lo, lo + o.size, v);
    if (!w) {
      const std::uint64_t stop = G::to_tree(w.error().va);
      if constexpr (Undo)
        if (o.kind == OpKind::map && stop > lo && stop < lo + o.size) undo_map(tree, mem, AnyOp{OpKind::unmap, o.va, PhysAddr{}, stop - lo, Attrs{}}, opts, sync);
      return w.error();
    }
    v.report.tables_added += split_tables;
    return v.report;
  });
}

/// Adds the counts of `r` to `total`.
inline void merge(Report& total, const Report& r) {
  total.modified.bits |= r.modified.bits;
  total.leaf_levels.bits |= r.leaf_levels.bits;
  total.tables_added += r.tables_added;
  total.tables_released += r.tables_released;
  total.leaves_changed += r.leaves_changed;
}

/// plan() of one op, or of a batch of map pieces planned as one: pieces checked in list order,
/// checked against one another, then dry-run in VA order so that a table two pieces share is
/// counted once (exact, not the sum of the pieces' plans).
template <PagingFormat F, unsigned Mask = kAllOps>
Result<std::size_t> plan_erased(const Tree<F>& tree, const MemRef& mem, OpList ops, const Options& opts, bool fresh_root) {
  using G = Geometry<F>;
  if (!ops.batch) return dry_run<F, Mask>(tree, mem, ops[0], opts, nullptr, fresh_root);
  std::size_t nonempty = 0;
  for (std::size_t i = 0; i < ops.count; ++i) {
    const AnyOp o = ops[i];
    if (o.size == 0) continue;
    ++nonempty;
    auto lo = check_op<F, Mask>(o);
    if (!lo) return lo.error();
  }
  if (nonempty == 0) return make_error(Errc::zero_size);
  for (std::size_t j = 1; j < ops.count; ++j) {
    const AnyOp b = ops[j];
    if (b.size == 0) continue;
    for (std::size_t i = 0; i < j; ++i) {
      const AnyOp a = ops[i];
      if (a.size && a.va.value <= b.va.value + (b.size - 1) && b.va.value <= a.va.value + (a.size - 1))
        return make_error(Errc::overlap, b.va, b.pa);
    }
  }
  typename Editor<F>::Edge edge{};
  std::size_t tables = 0;
  std::uint64_t prev = 0;
  for (std::size_t step = 0; step < nonempty; ++step) {
    std::size_t pick = ops.count;
    std::uint64_t best = 0;
    for (std::size_t i = 0; i < ops.count; ++i) {
      const AnyOp o = ops[i];
      const std::uint64_t t = G::to_tree(o.va);
      if (o.size && (step == 0 || t > prev) && (pick == ops.count || t < best)) pick = i, best = t;
    }
    prev = best;
    auto n = dry_run<F, Mask>(tree, mem, ops[pick], opts, &edge, fresh_root);
    if (!n) return n.error();
    tables += *n;
  }
  return tables;
}

/// One-table maps in one walk: a map whose leaves all land in one table, whose path holds only
/// tables (or nothing yet), and whose target entries are all invalid. The descent, the scan of
/// the target entries, the leaf encoding and the allocation of every missing table come before
/// the first write. Anything else -- every error included -- is left to the general walk, which
/// finds and reports it exactly: then this returns false having written nothing, and the
/// allocator holds what it held (tables taken are given back; more than one is reserved first).
/// On true, `rep` is the call's report.
template <PagingFormat F>
PTLIB_HOT bool fast_map(const Tree<F>& tree, const MemRef& mem, const AnyOp& o, std::uint64_t lo, const Options& opts,
                        const SyncRef& sync, Report& rep) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  constexpr std::size_t N = G::kDepth;
  const std::uint64_t hi = lo + o.size;
  // The leaves' depth: one page is a last-level leaf; a larger range takes the shallowest
  // allowed level that va, pa and size are all aligned to.
  std::size_t t = N - 1;
  if (o.size != G::kPageSize) {
    const std::uint64_t bits = lo | o.pa.value | o.size;
    for (std::size_t d = 0; d + 1 < N; ++d)
      if (Editor<F>::leaf_allowed(d, tree.caps, opts) && (bits & (G::span(d) - 1)) == 0) {
        t = d;
        break;
      }
    if (t > 0 && (lo >> G::shift(t - 1)) != ((hi - 1) >> G::shift(t - 1))) return false;
  }
  Entry* tab[N];
  tab[0] = static_cast<Entry*>(mem.map(tree.root, 0));
  if (!tab[0]) return false;
  std::size_t d = 0;  // the deepest existing table on the path
  bool ok = true;
#pragma GCC unroll 8
  for (std::size_t k = 0; k < t; ++k) {
    const Decoded e = F::decode(G::level(k), tab[k][G::index(lo, k)]);
    if (e.kind == EntryKind::invalid) break;
    ok = e.kind == EntryKind::table && (tab[k + 1] = static_cast<Entry*>(mem.map(e.addr, k + 1))) != nullptr;
    if (!ok) break;
    d = k + 1;
  }
  const std::size_t i0 = G::index(lo, t);
  const std::size_t n = std::size_t((hi - lo) >> G::shift(t));
  const auto Lt = G::level(t);
  const bool zero_invalid = F::decode(Lt, Entry{}).kind == EntryKind::invalid;
  if (ok && d == t)  // every target entry must be invalid (most read 0)
    for (std::size_t k = 0; k < n && ok; ++k)
      ok = (zero_invalid && tab[t][i0 + k] == Entry{}) || F::decode(Lt, tab[t][i0 + k]).kind == EntryKind::invalid;
  const auto proto = F::leaf_proto(Lt, LeafSettings{o.attrs, false, opts.allow_implied_exec}, tree.caps);
  ok = ok && proto.ok();
  // The missing tables (depths d+1 .. t), before anything is written.
  NewTable fresh[N];
  const std::size_t missing = t - d;
  std::size_t got = d;  // fresh[d+1 .. got] are ours
  if (ok && missing) {
    ok = missing == 1 || mem.reserve(missing, table_request<F>());
    for (std::size_t k = d + 1; ok && k <= t; ++k) {
      const auto r = mem.allocate(Editor<F>::request(k));
      ok = r.has_value();
      if (ok && Editor<F>::unlinkable(k, r->pa)) {
        Editor<F>::give_back(mem, k, *r);  // a table the format cannot link: the general walk says so
        ok = false;
      }
      if (!ok) break;
      fresh[k] = *r;
      got = k;
      tab[k] = static_cast<Entry*>(r->ptr);
      if (k < t)  // the link below writes one entry
        Editor<F>::clear_new(tab[k], k, G::index(lo, k), G::index(lo, k));
      else
        Editor<F>::clear_new(tab[k], k, i0, i0 + n - 1);
    }
  }
  if (!ok) {
    for (std::size_t k = d + 1; k <= got; ++k) Editor<F>::give_back(mem, k, fresh[k]);
    for (std::size_t k = d + 1; k-- > 0;) mem.unmap(tab[k], k);
    return false;
  }
  // The writes: the leaves, then the new tables linked bottom-up (a table once it is filled).
  const bool live = opts.live != Live::offline;
  if (n > 1 && opts.contiguous && F::contig_log2(Lt, tree.caps)) {
    MapVisitor<F> v{Editor<F>{tree, mem, sync, opts}, lo, o.pa, o.attrs};
    v.write_leaves(Slot<F>{t, tab[t], i0, n, lo, hi, true, {}}, *proto);
  } else {
    fill_leaves<F>(tab[t] + i0, n, Lt, *proto, o.pa.value, G::span(t));
    if (live) sync.publish();
  }
  rep.modified.set(t);
  rep.leaf_levels.set(t);
  rep.leaves_changed = n;
  rep.tables_added = missing;
  for (std::size_t k = t; k > d; --k) {
    if (live) sync.publish();  // the table's contents before the pointer to it
    tab[k - 1][G::index(lo, k - 1)] = F::table(G::level(k - 1), fresh[k].pa);
    if (live) sync.publish();
    rep.modified.set(k - 1);
    mem.unmap(fresh[k].ptr, k);
  }
  if (!mem.direct())
    for (std::size_t k = d + 1; k-- > 0;) mem.unmap(tab[k], k);
  return true;
}

/// unmap/protect inside one last-level table whose path is all tables: one walk. Leaves to the
/// general walk (returns false, nothing written) whatever it must decide or report: blocks or
/// contiguous runs to split or unfold, malformed entries, a leaf table that unmap would leave
/// empty (to be released), attributes the format cannot encode, a change Live::refuse refuses.
/// On true, `rep` is the call's report.
template <PagingFormat F>
PTLIB_HOT bool fast_leaf_table(const Tree<F>& tree, const MemRef& mem, const AnyOp& o, std::uint64_t lo,
                               const Options& opts, const SyncRef& sync, Report& rep) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  constexpr std::size_t N = G::kDepth;
  if constexpr (N < 2) {
    return false;
  } else {
    const std::uint64_t hi = lo + o.size;
    if ((lo >> G::shift(N - 2)) != ((hi - 1) >> G::shift(N - 2))) return false;
    Entry* tab[N] = {};
    std::size_t d = 0;
    auto finish = [&](bool handled) {
      for (std::size_t k = d + 1; k-- > 0;)
        if (tab[k]) mem.unmap(tab[k], k);
      return handled;
    };
    tab[0] = static_cast<Entry*>(mem.map(tree.root, 0));
    if (!tab[0]) return false;
#pragma GCC unroll 8
    for (; d + 1 < N; ++d) {
      const Decoded e = F::decode(G::level(d), tab[d][G::index(lo, d)]);
      if (e.kind != EntryKind::table) return finish(false);
      tab[d + 1] = static_cast<Entry*>(mem.map(e.addr, d + 1));
      if (!tab[d + 1]) return finish(false);
    }
    constexpr std::size_t t = N - 1;
    const auto L = G::level(t);
    Entry* T = tab[t];
    const std::size_t i0 = G::index(lo, t);
    const std::size_t n = std::size_t((hi - lo) >> G::shift(t));
    Editor<F> ed{tree, mem, sync, opts};
    const bool unmapping = o.kind == OpKind::unmap;
    bool have_proto = false;
    Entry proto{};
    std::size_t changes = 0;
    std::size_t last = 0;  // the last entry to change, and its new value
    Entry last_next{};
    // Pass 1: every reason to leave the call to the general walk, before any write.
    for (std::size_t k = 0; k < n; ++k) {
      const Decoded e = F::decode(L, T[i0 + k]);
      if (e.kind == EntryKind::invalid) continue;
      if (e.kind != EntryKind::leaf || e.contiguous) return finish(false);
      Entry next{};
      if (!unmapping) {
        if (e.attrs == o.attrs) continue;  // nothing to change: write nothing
        if (!have_proto) {
          auto p = F::leaf_proto(L, LeafSettings{o.attrs, false, opts.allow_implied_exec}, tree.caps);
          if (!p) return finish(false);
          proto = *p;
          have_proto = true;
        }
        next = F::leaf(L, proto, e.addr);
        if (next == T[i0 + k]) continue;
        if (opts.live == Live::refuse && F::needs_bbm(L, T[i0 + k], next)) return finish(false);
      }
      ++changes;
      last = k;
      last_next = next;
    }
    if (unmapping && opts.release_empty) {
      // The general walk releases a leaf table left empty; here only non-empty ones stay. The
      // scan goes outwards from the range, alternating sides, and stops at the first mapped
      // entry: one-page unmaps in either VA order find a neighbour in a step or two, not 512.
      bool keeps = false;
      for (std::size_t below = i0, above = i0 + n; !keeps && (below > 0 || above < G::entries(t));) {
        if (below > 0 && F::decode(L, T[--below]).kind != EntryKind::invalid) keeps = true;
        if (!keeps && above < G::entries(t) && F::decode(L, T[above++]).kind != EntryKind::invalid) keeps = true;
      }
      if (!keeps) return finish(false);
    }
    // Pass 2: the writes (one change, the one-page call: as pass 1 found it).
    if (changes == 1) {
      ed.replace(t, T + i0 + last, 1, lo + last * G::span(t), [&](std::size_t) { return last_next; });
      ++ed.report.leaves_changed;
    }
    for (std::size_t k = 0; k < n && changes > 1; ++k) {
      const Decoded e = F::decode(L, T[i0 + k]);
      if (e.kind == EntryKind::invalid) continue;
      const std::uint64_t at = lo + k * G::span(t);
      Entry next = 0;
      if (!unmapping) {
        if (e.attrs == o.attrs) continue;
        next = F::leaf(L, proto, e.addr);
        if (next == T[i0 + k]) continue;
      }
      ed.replace(t, T + i0 + k, 1, at, [&](std::size_t) { return next; });
      ++ed.report.leaves_changed;
    }
    // Field by field: a whole-struct copy right after the writes above reads ed.report with
    // 16-byte loads over 8-byte stores still in flight (a store-forwarding stall: +3 ns a call).
    rep.modified = ed.report.modified;
    rep.leaves_changed = ed.report.leaves_changed;
    return finish(true);
  }
}

/// The general walk of one op whose arguments are checked: a dry run (errors, exact table count),
/// a reservation, and the commit walk. When optimising for size it is inlined into apply_one(),
/// its one caller (no second frame); otherwise it is a call of its own, so that apply_one()'s
/// one-walk path keeps a small frame (inlined, it cost a one-page map ~20 instructions).
#if defined(__OPTIMIZE_SIZE__)
#define PTLIB_GENERAL_WALK [[gnu::always_inline]] inline
#else
#define PTLIB_GENERAL_WALK [[gnu::noinline]]
#endif
template <PagingFormat F, unsigned Mask, bool Undo>
PTLIB_GENERAL_WALK Result<Report> apply_general(const Tree<F>& tree, const MemRef& mem, const AnyOp& o, const Options& opts,
                             const SyncRef& sync) {
  auto tables = dry_run<F, Mask>(tree, mem, o, opts);
  if (!tables) return tables.error();
  if (*tables && !mem.reserve(*tables, table_request<F>())) return out_of_memory(mem, table_request<F>(), *tables, o.va);
  if constexpr (Undo && (Mask & op_bit(OpKind::map)) != 0) {
    // Every table before the first write, so a broken promise leaves nothing to undo; where
    // reaching a table is free (a fixmap window would pay a second remap per table) and the
    // memory may break its promise (the compiled engine meets exact memories too: W1 through
    // an Arena took 0.57-0.91 ms with the chain, 0.45-0.50 ms without).
    if (o.kind == OpKind::map && *tables && mem.direct() && !mem.exact()) {
      Prealloc pool;
      PTLIB_TRY(fill_pool<F>(mem, *tables, o.va, pool));
      auto r = commit<F, Mask, Undo>(tree, mem, o, opts, sync, *tables, &pool);
      release_pool<F>(mem, pool);  // none left when the dry run's count is exact (it is)
      return r;
    }
  }
  return commit<F, Mask, Undo>(tree, mem, o, opts, sync, *tables);
}
#undef PTLIB_GENERAL_WALK

/// apply() of one op, compiled once per format (see the extern declarations in formats.hpp):
/// one walk where every error can be found before the first write (the one-walk paths above);
/// otherwise the general walk. Apart from apply_erased() so that a kernel calling map() alone
/// carries no code for batches. With the one-walk paths it returns one `Result` object that they
/// fill in place (an optional result copied out cost ~20 instructions per call). Not PTLIB_HOT:
/// with the one-walk paths inlined into it a one-page map ran ~20 fewer instructions but W2 took
/// ~10 ns longer (118 -> 129 ns, x86-64-l4) and W3 no less.
template <PagingFormat F, unsigned Mask = kAllOps, bool Undo = true, bool OneWalk = true>
Result<Report> apply_one(const Tree<F>& tree, const MemRef& mem, const AnyOp& o, const Options& opts, const SyncRef& sync) {
  using G = Geometry<F>;
  if constexpr (!OneWalk) {
    auto lo = check_op<F, Mask>(o);
    if (!lo) return lo.error();
    if (!tree.root.aligned(G::table_align(0))) return make_error(Errc::misaligned_table, o.va, tree.root);
    return apply_general<F, Mask, Undo>(tree, mem, o, opts, sync);
  } else {
    constexpr bool kMaps = (Mask & op_bit(OpKind::map)) != 0;
    constexpr bool kEdits = (Mask & (op_bit(OpKind::unmap) | op_bit(OpKind::protect))) != 0;
    Result<Report> out{Report{}};
    auto lo = check_op<F, Mask>(o);
    if (!lo) {
      out = lo.error();
    } else if (!tree.root.aligned(G::table_align(0))) {
      out = make_error(Errc::misaligned_table, o.va, tree.root);
    } else if (!(kMaps && o.kind == OpKind::map && fast_map(tree, mem, o, *lo, opts, sync, *out)) &&
               !(kEdits && (o.kind == OpKind::unmap || o.kind == OpKind::protect) &&
                 fast_leaf_table(tree, mem, o, *lo, opts, sync, *out))) {
      out = apply_general<F, Mask, Undo>(tree, mem, o, opts, sync);
    }
    return out;
  }
}

/// apply() of one op (apply_one) or of a batch of map pieces planned as one (plan_erased), then
/// reserved and committed piece by piece.
template <PagingFormat F, unsigned Mask = kAllOps, bool Undo = true, bool OneWalk = true>
Result<Report> apply_erased(const Tree<F>& tree, const MemRef& mem, OpList ops, const Options& opts, const SyncRef& sync) {
  if (!ops.batch) return apply_one<F, Mask, Undo, OneWalk>(tree, mem, ops[0], opts, sync);
  auto tables = plan_erased<F, Mask>(tree, mem, ops, opts, false);
  if (!tables) return tables.error();
  std::size_t first = 0;
  while (ops[first].size == 0) ++first;
  if (*tables && !mem.reserve(*tables, table_request<F>()))
    return out_of_memory(mem, table_request<F>(), *tables, ops[first].va);
  Prealloc pool;  // every piece's tables before the first write (memory that may break promises)
  if constexpr (Undo)
    if (mem.direct() && !mem.exact()) PTLIB_TRY(fill_pool<F>(mem, *tables, ops[first].va, pool));
  Report total{};
  for (std::size_t i = 0; i < ops.count; ++i) {
    const AnyOp o = ops[i];
    if (o.size == 0) continue;
    auto r = commit<F, Mask, Undo>(tree, mem, o, opts, sync, 0, &pool);
    if (!r) {  // not reached while the plan's count is exact: undo the pieces done
      if constexpr (Undo) {
        for (std::size_t k = 0; k < i; ++k) {
          const AnyOp done = ops[k];
          if (done.size) undo_map(tree, mem, done, opts, sync);
        }
        release_pool<F>(mem, pool);
      }
      return r.error();
    }
    merge(total, *r);
  }
  if constexpr (Undo) release_pool<F>(mem, pool);
  return total;
}

}  // namespace detail

/// How many tables `o` (op::Map, op::Unmap, op::Protect, op::Compact) would allocate, or the
/// error it would fail with; changes nothing. apply() allocates exactly this many.
template <PagingFormat F, TableMemory M, class Op>
Result<std::size_t> plan(const Tree<F>& tree, M& mem, const Op& o, const Options& opts = {}) {
  constexpr detail::OpKind kind = detail::any_op(Op{}).kind;
  const detail::AnyOp a = detail::any_op(o);
  return detail::plan_erased<F, detail::ops_for(kind)>(tree, MemRef(mem), detail::OpList::one(a), opts, false);
}

/// Applies one operation to the tree: map, unmap, protect or compact (see the wrappers below).
/// No partial success: every error is found before the first write (by the one-walk checks of
/// a one-table call, or by a dry run that also counts the tables needed); the tables are
/// reserved before the first write. On any error the tables and the allocator are as before.
template <PagingFormat F, TableMemory M, class Op, SyncHook S = NoSync>
Result<Report> apply(const Tree<F>& tree, M& mem, const Op& o, const Options& opts = {}, S&& sync = S{}) {
  constexpr detail::OpKind kind = detail::any_op(Op{}).kind;
  const detail::AnyOp a = detail::any_op(o);
  return detail::apply_one<F, detail::ops_for(kind), detail::kUndo<M>, detail::kOneWalk>(tree, MemRef(mem), a, opts, SyncRef(sync));
}

/// Maps [va, va + size) to [pa, pa + size) with `attrs`.
///
/// At each step the engine uses the largest leaf that the format allows at that level, the
/// tree's capabilities allow, `opts.max_leaf_size` allows, and the alignment of VA, PA and the
/// remaining size allows; aligned uniform groups get the contiguous hint (opts.contiguous). It
/// walks the range once per chunk (never from the root per page). Where an existing table
/// covers a block-sized chunk, the engine maps inside that table.
///
/// Errors: Errc::zero_size, misaligned_va / misaligned_pa / misaligned_size (smallest page),
/// range_wraps, va_out_of_range / va_non_canonical, pa_out_of_range, overlap (an existing leaf
/// meets the range; reported with its VA, its PA and level), unsupported_attrs /
/// unsupported_memtype (with the level whose leaf could not express them), out_of_memory,
/// malformed_entry, misaligned_table (the root). No partial success (see apply()).
template <PagingFormat F, TableMemory M, SyncHook S = NoSync>
Result<Report> map(const Tree<F>& tree, M& mem, VirtAddr va, PhysAddr pa, std::uint64_t size, Attrs attrs,
                   const Options& opts = {}, S&& sync = S{}) {
  return apply(tree, mem, op::Map{va, pa, size, attrs}, opts, sync);
}

/// Unmaps [va, va + size): clears leaves; a block or contiguous run that straddles an edge is
/// split / unfolded first (the part outside keeps its mapping and attributes); tables left
/// empty are released (opts.release_empty). Holes are fine. Errors: the VA errors of map(),
/// out_of_memory (splits), needs_break_before_make (Live::refuse), malformed_entry.
template <PagingFormat F, TableMemory M, SyncHook S = NoSync>
Result<Report> unmap(const Tree<F>& tree, M& mem, VirtAddr va, std::uint64_t size, const Options& opts = {},
                     S&& sync = S{}) {
  return apply(tree, mem, op::Unmap{va, size}, opts, sync);
}

/// Gives every leaf in [va, va + size) the attributes `attrs` (holes are left alone), splitting
/// blocks and unfolding runs that straddle an edge. Report::leaves_changed counts the leaves
/// rewritten. Errors: as unmap(), plus unsupported_attrs / unsupported_memtype.
template <PagingFormat F, TableMemory M, SyncHook S = NoSync>
Result<Report> protect(const Tree<F>& tree, M& mem, VirtAddr va, std::uint64_t size, Attrs attrs,
                       const Options& opts = {}, S&& sync = S{}) {
  return apply(tree, mem, op::Protect{va, size, attrs}, opts, sync);
}

/// Folds tables inside [va, va + size) whose entries are leaves with equal attributes and
/// continuous, block-aligned output addresses back into one block each (cascading upwards), and
/// releases them. Errors: the VA errors, needs_break_before_make (Live::refuse).
template <PagingFormat F, TableMemory M, SyncHook S = NoSync>
Result<Report> compact(const Tree<F>& tree, M& mem, VirtAddr va, std::uint64_t size, const Options& opts = {},
                       S&& sync = S{}) {
  return apply(tree, mem, op::Compact{va, size}, opts, sync);
}

/// Allocates a zeroed root table for a format.
template <PagingFormat F, TableMemory M>
Result<Tree<F>> make_tree(M& mem, const typename F::Caps& caps = {}) {
  using G = Geometry<F>;
  auto t = mem.allocate(TableRequest{G::table_bytes(0), G::table_align(0), true, 0});
  if (!t) {
    Error e = make_error(Errc::out_of_memory);
    e.tables_needed = 1;  // the root
    return e;
  }
  mem.unmap(t->ptr, 0);
  return Tree<F>{t->pa, caps};
}

PTLIB_END_NAMESPACE
