// Live trees, failing allocators, odd arenas and the whole VA space on top of differential.hpp
// (shared by tests/differential_live.cpp and the fuzz target):
//  - TableView: what the tables say, read entry by entry with F::decode through the Arena (no
//    engine walker), with every contiguous run (arm64/ARMv7 Contiguous bit, Svnapot) checked to
//    hold valid entries of one attribute set whose addresses move in step;
//  - Tlb: a sync hook with a TLB model. Any valid leaf may be cached at any moment the hook is
//    called (a contiguous entry for its whole run); a cached translation stays until an
//    invalidate() covers it. At every publish()/invalidate() no VA may have a cached translation
//    the architecture forbids to coexist with the table's (another PA anywhere; on Arm another
//    memory type, nG or entry size; on x86 another entry size), and after a call every cached
//    translation must equal the table's;
//  - FailAt: a TableMemory over an Arena whose allocation number k fails, honestly (reserve()
//    says no) or as a liar (reserve() says yes);
//  - LiveRunner: a diff::Runner under a live policy with the Tlb as hook, probing every op with
//    an allocator failing at each allocation index first;
//  - Area: a workload window anywhere in the VA space (both halves, top and bottom), at any
//    block level, with PAs at the format's limit.
#pragma once
#include <deque>
#include <string_view>

#include "differential.hpp"

namespace diff {

/// A translation of tree offsets [lo, hi) to pa (at lo), with the size of the entry a TLB would
/// hold for it (a leaf's size, or its whole contiguous run).
struct Tr {
  std::uint64_t lo, hi, pa;
  Attrs attrs;
  std::uint64_t entry;
  bool contig = false;  // from a leaf with the contiguous hint
};

inline void push_merged(std::vector<Tr>& v, const Tr& t) {
  if (!v.empty()) {
    Tr& b = v.back();
    if (b.hi == t.lo && b.pa + (b.hi - b.lo) == t.pa && b.attrs == t.attrs && b.entry == t.entry &&
        b.contig == t.contig) {
      b.hi = t.hi;
      return;
    }
  }
  v.push_back(t);
}

/// Whether the n entries at a and b are equal. Not instrumented by the sanitizers: the
/// incremental TLB model compares every table at every publish and invalidate, where the
/// sanitizer's check of each range would cost more than the comparison (a is a table the Arena
/// maps, b its copy in a vector of n entries: both known to be whole).
template <class E>
__attribute__((no_sanitize("address", "undefined"))) bool same_entries(const E* a, const E* b, std::size_t n) {
  E diff = 0;  // no early exit: the loop vectorises
  for (std::size_t i = 0; i < n; ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

/// A range of tree offsets [lo, hi).
struct Span {
  std::uint64_t lo, hi;
};

/// Sorts `v` and merges overlapping or touching ranges.
inline void merge(std::vector<Span>& v) {
  std::sort(v.begin(), v.end(), [](const Span& a, const Span& b) { return a.lo < b.lo; });
  std::size_t n = 0;
  for (const Span& x : v) {
    if (n && x.lo <= v[n - 1].hi) v[n - 1].hi = std::max(v[n - 1].hi, x.hi);
    else v[n++] = x;
  }
  v.resize(n);
}

/// How many bytes of [lo, hi) lie in the sorted, disjoint ranges `only` (all of them if null).
inline std::uint64_t inside(std::uint64_t lo, std::uint64_t hi, const std::vector<Span>* only) {
  if (!only) return hi - lo;
  std::uint64_t n = 0;
  auto it = std::partition_point(only->begin(), only->end(), [&](const Span& x) { return x.hi <= lo; });
  for (; it != only->end() && it->lo < hi; ++it) n += std::min(hi, it->hi) - std::max(lo, it->lo);
  return n;
}

template <class F>
struct Traits {
  static constexpr std::string_view name = F::kName;
  static constexpr bool arm = name.starts_with("arm");
  static constexpr bool riscv = name.starts_with("sv");
  // Arm ARM D8.16.1 / ARMv7 B3.10.1: memory type and nG changes need break-before-make; the fake
  // format's attributes are read/write only. RISC-V lets a stale entry live until sfence.vma.
  static constexpr bool strict_mem = arm || name.starts_with("fake");  // the fake: memory type too
  static constexpr bool strict_global = arm;
  // Arm (block size, Contiguous bit) and x86 (SDM 4.10.2.3, page-size changes): a TLB must
  // never hold entries of two sizes for one VA.
  static constexpr bool strict_size = !riscv;
};

/// The tables as the hardware would read them.
template <class F>
struct TableView {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  std::vector<Tr> own;    // each valid leaf's translation (merged)
  std::vector<Tr> reach;  // what a TLB may derive: a contiguous entry translates its whole run
  std::optional<std::string> bad;
  const std::vector<Span>* only = nullptr;  // when set, only the entries overlapping these ranges

  TableView(const Tree<F>& t, const Arena& a, const std::vector<Span>* only_ = nullptr) : only(only_) {
    read(t, a, t.root, 0, 0);
  }

  void read(const Tree<F>& t, const Arena& a, PhysAddr pa, std::size_t d, std::uint64_t lo) {
    const Entry* e = static_cast<const Entry*>(a.map(pa, d));
    if (!e) {
      bad = fmt::format("a table at pa {:#x} (depth {}) outside the arena", pa.value, d);
      return;
    }
    const auto L = G::level(d);
    const std::uint64_t span = G::span(d);
    std::uint64_t run_end = 0;  // tree offset up to which the current run was checked
    // The TLB model reads the whole tree at every publish and invalidate: most entries are
    // zero, skip them without decoding where zero is invalid (every format but a broken one).
    const bool zero_invalid = F::decode(L, Entry{}).kind == EntryKind::invalid;
    auto visit = [&](std::size_t k) {
      if (zero_invalid && e[k] == Entry{}) return;
      const Decoded x = F::decode(L, e[k]);
      const std::uint64_t at = lo + k * span;
      if (x.kind == EntryKind::invalid) return;
      if (x.kind == EntryKind::malformed || (x.kind == EntryKind::table && d + 1 >= G::kDepth)) {
        bad = fmt::format("malformed entry at offset {:#x} depth {}", at, d);
        return;
      }
      if (x.kind == EntryKind::table) {
        read(t, a, x.addr, d + 1, at);
        return;
      }
      auto pa_of = [&](const Decoded& y, std::size_t j) {
        return y.addr.value + (y.run_log2 ? (j & ((std::size_t{1} << y.run_log2) - 1)) * span : 0);
      };
      const std::uint64_t pk = pa_of(x, k);
      push_merged(own, Tr{at, at + span, pk, x.attrs, span, x.contiguous});
      const unsigned c = !x.contiguous ? 0 : x.run_log2 ? x.run_log2 : F::contig_log2(L, t.caps);
      if (c == 0) {
        push_merged(reach, Tr{at, at + span, pk, x.attrs, span});
        return;
      }
      const std::size_t n = std::size_t{1} << c, first = k & ~(n - 1);
      const std::uint64_t rlo = lo + first * span, base = pk - (k - first) * span;
      if (at < run_end) return;  // this run was checked and pushed at its first valid entry
      run_end = rlo + n * span;
      for (std::size_t j = first; j < first + n; ++j) {
        const Decoded y = F::decode(L, e[j]);
        if (y.kind == EntryKind::invalid) continue;
        if (y.kind != EntryKind::leaf || !y.contiguous || y.attrs != x.attrs || y.run_log2 != x.run_log2 ||
            pa_of(y, j) != base + (j - first) * span) {
          bad = fmt::format("contiguous run at offset {:#x} (depth {}) mixes entries: #{} is {} -> {:#x} {}, #{} "
                            "{}contiguous -> {:#x} {}",
                            rlo, d, k - first, "contiguous", pk, to_string(x.attrs), j - first,
                            y.contiguous ? "" : "not ", pa_of(y, j), to_string(y.attrs));
          return;
        }
      }
      reach.push_back(Tr{rlo, rlo + n * span, base, x.attrs, n * span, true});  // one TLB entry: never merged
    };
    const std::size_t n = G::entries(d);
    if (!only) {
      for (std::size_t k = 0; k < n && !bad; ++k) visit(k);
      return;
    }
    // The entries overlapping the ranges, in order, each once.
    const std::uint64_t hi = lo + n * span;
    auto it = std::partition_point(only->begin(), only->end(), [&](const Span& x) { return x.hi <= lo; });
    for (std::size_t k = 0; it != only->end() && it->lo < hi && !bad; ++it) {
      const std::size_t end = (std::min(it->hi, hi) - lo + span - 1) / span;
      for (k = std::max<std::size_t>(k, (std::max(it->lo, lo) - lo) / span); k < end && !bad; ++k) visit(k);
    }
  }
};

/// Interval sweep over two sorted lists: calls fn(a, b, at) for each overlap (at = its start).
template <class A, class B, class Fn>
void sweep(const A& a, const B& b, Fn&& fn) {
  auto i = a.begin();
  auto j = b.begin();
  if constexpr (requires { a.upper_bound(0); }) {  // a cache: start at the first entry b reaches
    if (j == b.end()) return;
    i = a.upper_bound(j->lo);
    if (i != a.begin() && std::prev(i)->second.hi > j->lo) --i;
  }
  auto get = [](const auto& x) -> const Tr& {
    if constexpr (requires { x.second; }) return x.second;
    else return x;
  };
  while (i != a.end() && j != b.end()) {
    const Tr &x = get(*i), &y = get(*j);
    if (x.hi <= y.lo) ++i;
    else if (y.hi <= x.lo) ++j;
    else {
      if (fn(x, y, std::max(x.lo, y.lo))) return;
      if (x.hi <= y.hi) ++i;
      else ++j;
    }
  }
}

/// The sync hook with a TLB model (see the top of this file). Two kinds of cached entries: a
/// piece of a leaf's own translation (any VA of a leaf, cached from that leaf: dropped per VA by
/// invalidate()), and a whole contiguous run cached as one entry from any of its entries
/// (dropped as a whole by an invalidate() touching any VA of it).
///
/// `Incremental` gives the same verdicts for much less work (the fuzz target's mode; a template
/// argument, so that the tests that do not use it do not compile it): a copy of
/// every reachable table from the last look finds the entries that changed since (every byte is
/// compared, whatever wrote it, with or without a hook call), and only the ranges they cover, or
/// that an invalidate() dropped from the caches, are read again; elsewhere the tables and caches
/// are what the last look checked. after_call() likewise reads only the ranges that changed
/// since the last call. `cross_check` also runs the whole-tree model on copies of the caches
/// at every moment and fails where the two disagree.
template <class F, bool Incremental = false>
struct Tlb {
  using G = Geometry<F>;
  using T = Traits<F>;
  using Entry = typename F::Entry;
  using Cache = std::map<std::uint64_t, Tr>;  // by lo
  const Tree<F>* tree = nullptr;
  const Arena* arena = nullptr;
  Cache pages, runs;
  std::optional<std::string> failure;
  std::uint64_t publishes = 0, invalidates = 0;
  bool cross_check = false;  // Incremental only

  /// A table as the last look saw it, by its place in the tree (offset, depth).
  struct Copy {
    PhysAddr pa;
    std::vector<Entry> e;
    std::map<std::size_t, PhysAddr> tables;  // its table entries: index -> next table
  };
  std::map<std::pair<std::uint64_t, std::size_t>, Copy> copies;
  std::vector<Span> dropped;     // ranges invalidate() dropped from the caches since the last look
  std::vector<Span> since_call;  // ranges read again since the last after_call()

  void publish() {
    ++publishes;
    observe("publish");
  }
  void invalidate(VirtAddr va, std::uint64_t size) {
    ++invalidates;
    observe("invalidate");
    const std::uint64_t lo = G::to_tree(va);
    erase(lo, lo + size);
  }
  [[nodiscard]] std::uint64_t events() const { return publishes + invalidates; }

  void cut(std::uint64_t t) {
    auto it = pages.upper_bound(t);
    if (it == pages.begin()) return;
    --it;
    Tr& c = it->second;
    if (c.lo < t && t < c.hi) {
      Tr right = c;
      right.lo = t;
      right.pa = c.pa + (t - c.lo);
      c.hi = t;
      pages.emplace(t, right);
    }
  }
  void erase(std::uint64_t lo, std::uint64_t hi) {
    cut(lo);
    cut(hi);
    pages.erase(pages.lower_bound(lo), pages.lower_bound(hi));
    if constexpr (Incremental) dropped.push_back({lo, hi});
    auto it = runs.lower_bound(lo);
    if (it != runs.begin() && std::prev(it)->second.hi > lo) --it;
    while (it != runs.end() && it->first < hi) {
      if constexpr (Incremental) dropped.push_back({it->second.lo, it->second.hi});
      it = runs.erase(it);
    }
  }

  static std::optional<std::string> conflict(const Tr& c, const Tr& t, std::uint64_t at) {
    const std::uint64_t pc = c.pa + (at - c.lo), pt = t.pa + (at - t.lo);
    const bool bad = pc != pt || (T::strict_mem && c.attrs.mem != t.attrs.mem) ||
                     (T::strict_global && c.attrs.global() != t.attrs.global()) ||
                     (T::strict_size && (c.entry != t.entry || c.contig != t.contig));
    if (!bad) return std::nullopt;
    return fmt::format("offset {:#x}: the TLB may hold {:#x} {} (entry {:#x}{}) while the table says {:#x} {} (entry "
                       "{:#x}{})",
                       at, pc, to_string(c.attrs), c.entry, c.contig ? " contiguous" : "", pt, to_string(t.attrs),
                       t.entry, t.contig ? " contiguous" : "");
  }

  static void fill(Cache& cache, const Tr& t) {
    std::uint64_t at = t.lo;
    auto it = cache.upper_bound(at);
    if (it != cache.begin() && std::prev(it)->second.hi > at) at = std::prev(it)->second.hi;
    while (at < t.hi) {
      const bool last = it == cache.end() || it->first >= t.hi;
      const std::uint64_t end = last ? t.hi : it->first;
      if (at < end) {
        Tr piece = t;
        piece.lo = at;
        piece.hi = end;
        piece.pa = t.pa + (at - t.lo);
        cache.emplace_hint(it, at, piece);
      }
      if (last) break;
      at = std::max(at, it->second.hi);
      ++it;
    }
  }

  /// One look at the tables `v` (all of them, or the ranges it was limited to): checks the runs
  /// and the caches against them, then caches every valid translation not cached yet.
  static std::optional<std::string> look(const TableView<F>& v, const char* where, Cache& pages, Cache& runs) {
    if (v.bad) return fmt::format("at a {}: {}", where, *v.bad);
    std::optional<std::string> bad;
    auto check = [&](const Tr& c, const Tr& t, std::uint64_t at) {
      if (auto f = conflict(c, t, at)) bad = fmt::format("at a {}: {}", where, *f);
      return bool(bad);
    };
    sweep(pages, v.own, check);
    if (!bad) sweep(runs, v.reach, check);
    if (bad) return bad;
    for (const Tr& t : v.own) fill(pages, t);
    for (const Tr& t : v.reach)
      if (t.contig) fill(runs, t);
    return std::nullopt;
  }

  /// Compares the table at `pa` (depth d, offset lo) and the tables below it with their copies;
  /// adds the ranges of the entries that changed (each widened to its level's contiguous run) to
  /// `changed` and brings the copies up to date.
  void compare(PhysAddr pa, std::size_t d, std::uint64_t lo, std::vector<Span>& changed) {
    const std::size_t n = G::entries(d);
    const std::uint64_t span = G::span(d);
    const auto L = G::level(d);
    const Entry* e = static_cast<const Entry*>(arena->map(pa, d));
    if (!e) {  // the view reports it
      changed.push_back({lo, lo + n * span});
      return;
    }
    auto table_of = [&](std::size_t k, const Decoded& x, Copy& c) {
      if (x.kind == EntryKind::table && d + 1 < G::kDepth) c.tables[k] = x.addr;
    };
    auto [it, fresh] = copies.try_emplace({lo, d});
    Copy& c = it->second;
    if (fresh || c.pa != pa) {
      c.pa = pa;
      c.e.assign(e, e + n);
      c.tables.clear();
      for (std::size_t k = 0; k < n; ++k)
        if (e[k] != Entry{}) table_of(k, F::decode(L, e[k]), c);
      changed.push_back({lo, lo + n * span});
    } else {
      constexpr std::size_t kChunk = 128;
      for (std::size_t c0 = 0; c0 < n; c0 += kChunk) {
        const std::size_t m = std::min(kChunk, n - c0);
        if (same_entries(e + c0, c.e.data() + c0, m)) continue;
        for (std::size_t k = c0; k < c0 + m; ++k) {
          if (e[k] == c.e[k]) continue;
          const Decoded was = F::decode(L, c.e[k]), now = F::decode(L, e[k]);
          const unsigned r = std::max({F::contig_log2(L, tree->caps), unsigned(was.run_log2), unsigned(now.run_log2)});
          const std::size_t run = std::min<std::size_t>(n, std::size_t{1} << std::min(r, 30u)), k0 = k - k % run;
          changed.push_back({lo + k0 * span, lo + (k0 + run) * span});
          c.e[k] = e[k];
          c.tables.erase(k);
          table_of(k, now, c);
        }
      }
    }
    for (const auto& [k, next] : c.tables) compare(next, d + 1, lo + k * span, changed);
  }

  /// A moment the walker may read the tables: checks the runs and the caches against them, then
  /// caches every valid translation not cached yet.
  void observe(const char* where) {
    if (failure || !tree) return;
    if constexpr (!Incremental) {
      failure = look(TableView<F>(*tree, *arena), where, pages, runs);
    } else {
      observe_changes(where);
    }
  }
  void observe_changes(const char* where) {
    std::vector<Span> changed = std::move(dropped);
    dropped.clear();
    compare(tree->root, 0, 0, changed);
    merge(changed);
    since_call.insert(since_call.end(), changed.begin(), changed.end());
    merge(since_call);
    Cache p, r;
    std::optional<std::string> whole;
    if (cross_check) {
      p = pages, r = runs;
      whole = look(TableView<F>(*tree, *arena), where, p, r);
    }
    if (!changed.empty()) failure = look(TableView<F>(*tree, *arena, &changed), where, pages, runs);
    if (cross_check && (bool(whole) != bool(failure) || (!failure && !(same(p, pages) && same(r, runs)))))
      failure = fmt::format("at a {}: the incremental TLB model disagrees with the whole-tree one ({} / {})", where,
                            failure ? *failure : "no failure", whole ? *whole : "no failure");
  }

  /// Whether two caches hold the same translations (pieces merged where they meet).
  static bool same(const Cache& a, const Cache& b) {
    auto flat = [](const Cache& c) {
      std::vector<Tr> v;
      for (const auto& [lo, t] : c) push_merged(v, t);
      return v;
    };
    const std::vector<Tr> x = flat(a), y = flat(b);
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (x[i].lo != y[i].lo || x[i].hi != y[i].hi || x[i].pa != y[i].pa || x[i].attrs != y[i].attrs ||
          x[i].entry != y[i].entry || x[i].contig != y[i].contig)
        return false;
    return true;
  }

  /// After a call: nothing stale, every cached translation is the table's.
  std::optional<std::string> after_call() {
    observe("return");
    if (failure) return failure;
    if constexpr (!Incremental) {
      return stale(nullptr);
    } else {
      auto f = stale(&since_call);
      if (cross_check && bool(stale(nullptr)) != bool(f))
        f = "after the call the incremental TLB model disagrees with the whole-tree one";
      since_call.clear();
      return f;
    }
  }

  /// The caches against the tables in `only` (everywhere if null): a cached translation that is
  /// not the table's, or one where the table has none.
  std::optional<std::string> stale(const std::vector<Span>* only) const {
    const TableView<F> v(*tree, *arena, only);
    std::optional<std::string> bad;
    struct Pass {
      const Cache* cache;
      const std::vector<Tr>* list;
      bool entry;
    };
    for (const Pass p : {Pass{&pages, &v.own, true}, Pass{&runs, &v.own, false}, Pass{&runs, &v.reach, true}}) {
      std::uint64_t covered = 0, total = 0;
      for (const auto& [lo, c] : *p.cache) total += inside(lo, c.hi, only);
      sweep(*p.cache, *p.list, [&](const Tr& c, const Tr& t, std::uint64_t at) {
        const std::uint64_t end = std::min(c.hi, t.hi);
        covered += inside(at, end, only);
        if (c.pa + (at - c.lo) != t.pa + (at - t.lo) || c.attrs != t.attrs ||
            (p.entry && (c.entry != t.entry || c.contig != t.contig)))
          bad = fmt::format("after the call the TLB may still hold offset {:#x} -> {:#x} {} (entry {:#x}{}); the table "
                            "says {:#x} {} (entry {:#x}{})",
                            at, c.pa + (at - c.lo), to_string(c.attrs), c.entry, c.contig ? " contiguous" : "",
                            t.pa + (at - t.lo), to_string(t.attrs), t.entry, t.contig ? " contiguous" : "");
        return bool(bad);
      });
      if (bad) return bad;
      if (covered != total)
        return fmt::format("after the call the TLB may still hold {:#x} bytes of translations the table no longer has",
                           total - covered);
    }
    return std::nullopt;
  }
};

/// A TableMemory over an Arena whose allocation number `fail_at` (0-based, counted from its
/// creation) and every later one fails. Honest: reserve() says no to a reservation that reaches
/// the failing allocation; liar: reserve() asks only the Arena.
struct FailAt {
  Arena& a;
  std::size_t fail_at;
  bool liar;
  std::size_t allocations = 0, failures = 0;
  std::optional<NewTable> allocate(const TableRequest& r) {
    if (allocations >= fail_at) return ++failures, std::nullopt;
    auto t = a.allocate(r);
    if (t) ++allocations;
    return t;
  }
  bool reserve(std::size_t n, const TableRequest& r) {
    return (liar || allocations + n <= fail_at) && a.reserve(n, r);
  }
  void release(PhysAddr pa, const TableRequest& r) { a.release(pa, r); }
  void* map(PhysAddr pa, std::size_t d) { return a.map(pa, d); }
  void unmap(void* p, std::size_t d) { a.unmap(p, d); }
  /// Tables reached for free, as the Arena's: the engine allocates a map's tables before its
  /// first write (tests/correctness.cpp also covers memory without it, where a map is undone).
  [[nodiscard]] DirectWindow direct_window() const { return a.direct_window(); }
};
static_assert(TableMemory<FailAt>);

/// A workload window: at `where` in the VA space (0 bottom of the lower half, 1 top of the lower
/// half, 2 bottom of the upper half, 3 top of the upper half; the halves of a sign-extended
/// format, else the bottom and top of the whole range), with blocks at depth `d`, PAs at the
/// format's limit when `pa_top`. Ops are pushed against the window's edges one time in four.
template <class F>
struct Area : Workload<F> {
  using G = Geometry<F>;
  bool usable = true;
  std::size_t depth;
  std::uint64_t max_pages = 0;  // a bound on ops that are not whole blocks, in pages (0: none)
  int where;
  std::deque<Op> follow;  // the next ops, when the last one asked for follow-ups

  Area(std::size_t d, int where_, bool pa_top) : depth(d), where(where_) {
    Workload<F>& w = *this;
    const bool halves = F::kVaRule == VaRule::sign_extend;
    const std::uint64_t room = halves ? std::uint64_t{1} << (G::kVaBits - 1) : G::kVaMask + 1;
    const std::uint64_t half0 = halves && where >= 2 ? room : 0;
    if (!halves && where >= 2) usable = false;
    w.S = G::span(d);
    w.window = std::min<std::uint64_t>(8 * w.S, room / 2);
    if (w.window < 2 * w.S || !F::can_leaf(G::level(d), test::full_caps<F>())) usable = false;
    w.w0 = half0 + (where % 2 ? room - w.window : 0);
    if (d + 2 != G::kDepth) {
      const unsigned k = F::contig_log2(G::level(d), test::full_caps<F>());
      w.run = k ? w.S << k : w.S;
      w.fill_leaf = G::span(d + 1);
    } else {
      w.fill_leaf = 1;  // pages, on every granule: a fold needs a whole table of leaves
    }
    if (w.window > G::kPaLimit / 2) usable = false;
    if (!usable) return;
    w.pa_room = std::min<std::uint64_t>(G::kPaLimit + 1 - w.window, std::max<std::uint64_t>(std::uint64_t{1} << 34, 4 * w.window));
    if (pa_top) w.pa_base = align_down(G::kPaLimit + 1 - w.pa_room, w.S);
  }

  /// The next op. Follow-ups make the rare shapes common in short runs: a block-filling map
  /// comes after an unmap of its block (so that it lands) and before a compact of it (a fold); a
  /// compact is followed by an unmap or protect of a few pages or leaves inside its range (a
  /// split of the block it may have made; under Live::refuse a refusal on every format but
  /// RISC-V).
  Op next(std::mt19937_64& rng) {
    if (!follow.empty()) {
      const Op o = follow.front();
      follow.pop_front();
      return o;
    }
    Op o = random(rng);
    if (o.kind == Op::map && o.size == this->S && o.max_leaf && o.max_leaf == this->fill_leaf && o.lo % this->S == 0) {
      if (!F::leaf_proto(G::level(G::kDepth - 1), LeafSettings{o.attrs}, test::full_caps<F>()).ok())
        o.attrs = test::kRwxg;  // attributes the format can express: the fold must not hang on them
      Op clear = o, fold = o;
      clear.kind = Op::unmap;
      fold.kind = Op::compact;
      fold.max_leaf = 0;  // a compact with the map's page-only limit would fold nothing
      follow = {o, fold};
      return clear;
    }
    if (o.kind == Op::compact) {
      Op c = Workload<F>::next(rng);  // for its attributes and flags
      const std::uint64_t piece = this->fill_leaf > 1 ? this->fill_leaf : this->P;
      c.kind = rng() % 2 ? Op::unmap : Op::protect;
      c.size = std::min<std::uint64_t>((1 + rng() % 4) * piece, o.size);
      c.lo = o.lo + align_down(rng() % (o.size - c.size + 1), piece);
      follow = {c};
    }
    return o;
  }

  Op random(std::mt19937_64& rng) const {
    Op o = Workload<F>::next(rng);
    const std::uint64_t r = rng() % 8;
    if (r == 0) o.lo = this->w0;
    else if (r == 1) o.lo = this->w0 + this->window - o.size;
    if (r < 2) {  // keep the PA's offset inside a block like the VA's (blocks stay possible)
      o.pa = this->pa_base + align_down(o.pa - this->pa_base, this->S) + o.lo % this->S;
      if (o.pa + o.size - 1 > G::kPaLimit) o.pa = align_down(G::kPaLimit + 1 - o.size, this->S) - this->S + o.lo % this->S;
    }
    bound(o);
    return o;
  }
  /// At most 8192 leaves (one table of the 64 KiB granule) per map: the largest leaf VA and PA
  /// allow bounds the size.
  void bound(Op& o) const {
    if (max_pages && o.size % this->S != 0 && o.size > max_pages * this->P) o.size = max_pages * this->P;
    if (o.kind == Op::map) {
      std::uint64_t leaf = G::kPageSize;
      for (std::size_t d = 0; d < G::kDepth; ++d)
        if (F::can_leaf(G::level(d), test::full_caps<F>()) && (o.lo - o.pa) % G::span(d) == 0 &&
            (o.max_leaf == 0 || G::span(d) <= o.max_leaf)) {
          leaf = G::span(d);
          break;
        }
      o.size = std::min(o.size, 8192 * leaf);
    }
  }
  [[nodiscard]] std::string describe() const {
    static constexpr const char* kWhere[] = {"bottom of the lower half", "top of the lower half",
                                             "bottom of the upper half", "top of the upper half"};
    return fmt::format("window [{:#x}, +{:#x}) at the {}, blocks of {:#x}, PAs from {:#x}", this->w0, this->window,
                       kWhere[where], this->S, this->pa_base);
  }
};

/// A diff::Runner under a live policy with a Tlb as hook; probes each op with failing allocators.
template <class F, bool Incremental = false>
struct LiveRunner {
  using G = Geometry<F>;
  Runner<F> r;
  Tlb<F, Incremental> tlb;
  bool probe = false;  // before each op: fail each of its allocations, honestly and as a liar
  bool liars = true;   // probes include lying allocators
  /// When set, the probe fails only allocation #(first % allocations) of the next op, honestly
  /// (second false) or as a liar: the fuzz target lets its input choose (one probe per op keeps
  /// an input in milliseconds; the tests probe every allocation).
  std::optional<std::pair<std::size_t, bool>> probe_one;
  std::uint64_t probes = 0, liar_failures = 0, bbm_refusals = 0, ooms = 0;

  LiveRunner(std::uint64_t w0, std::uint64_t window, Live live, std::size_t arena_bytes = 64 << 20,
             std::uint64_t base = Memory::kBase, bool small = false)
      : r(w0, window, arena_bytes, base) {
    r.live = live;
    r.bbm_refusals_ok = live == Live::refuse;
    r.oom_ok = small;
    tlb.tree = &r.tree;
    tlb.arena = &r.mem.arena;
  }

  Options options(const Op& o) const {
    Options opts;
    opts.max_leaf_size = o.max_leaf;
    opts.contiguous = o.contiguous;
    opts.release_empty = o.release_empty;
    opts.live = r.live;
    return opts;
  }

  /// Whether Live::refuse may refuse `o` (judged from the tables, not from the engine): a leaf
  /// or contiguous run straddling an edge of the range must be split or unfolded (Arm, x86, the
  /// fake); a protect changing a leaf's memory type or nG needs break-before-make on Arm; a
  /// compact folds tables into blocks (Arm, x86, the fake). RISC-V never needs it.
  bool refusal_justified(const Op& o) const {
    if (Traits<F>::riscv || o.kind == Op::map) return false;
    if (o.kind == Op::compact) return true;
    const TableView<F> v(r.tree, r.mem.arena);
    const std::uint64_t hi = o.lo + o.size;
    for (const Tr& t : v.reach)
      for (std::uint64_t edge : {o.lo, hi})
        if (t.lo < edge && edge < t.hi && (edge - t.lo) % t.entry != 0) return true;
    if (o.kind == Op::protect)
      for (const Tr& t : v.own)
        if (t.lo < hi && o.lo < t.hi &&
            ((Traits<F>::strict_mem && t.attrs.mem != o.attrs.mem) ||
             (Traits<F>::strict_global && t.attrs.global() != o.attrs.global())))
          return true;
    return false;
  }

  Result<std::size_t> plan_of(const Op& o) {
    const Options opts = options(o);
    switch (o.kind) {
      case Op::map: return plan(r.tree, r.mem.arena, op::Map{G::to_va(o.lo), PhysAddr(o.pa), o.size, o.attrs}, opts);
      case Op::unmap: return plan(r.tree, r.mem.arena, op::Unmap{G::to_va(o.lo), o.size}, opts);
      case Op::protect: return plan(r.tree, r.mem.arena, op::Protect{G::to_va(o.lo), o.size, o.attrs}, opts);
      case Op::compact: return plan(r.tree, r.mem.arena, op::Compact{G::to_va(o.lo), o.size}, opts);
    }
    return make_error(Errc::zero_size);
  }

  /// Runs `o` with an allocator failing at each of its allocations; every failed call must
  /// leave everything as before (honest) or every translation and no leaked table (liar; a map
  /// is undone: as many tables in use as before).
  std::optional<std::string> probe_allocations(const Op& o) {
    const Options opts = options(o);
    const Result<std::size_t> need = plan_of(o);
    if (!need.ok() || *need == 0) return std::nullopt;
    for (std::size_t k = 0; k < *need; ++k)
      for (bool liar : {false, true}) {
        if (liar && !liars) continue;
        if (probe_one && (k != probe_one->first % *need || liar != probe_one->second)) continue;
        ++probes;
        Memory::Snapshot& before = r.before;
        r.mem.snapshot(before);
        const TableView<F> view(r.tree, r.mem.arena);
        const std::size_t in_use = r.mem.arena.tables_in_use();
        const std::uint64_t events = tlb.events();
        FailAt m{r.mem.arena, k, liar};
        const auto res = r.call(o, m, opts, tlb);
        const std::string what = fmt::format("{} allocator failing at allocation #{} of {}", liar ? "lying" : "honest", k, *need);
        if (res.ok()) return what + ": the call succeeded";
        if (res.error().code != Errc::out_of_memory) return what + ": " + to_string(res.error());
        if (tlb.failure) return what + ": " + *tlb.failure;
        // A small arena may refuse the reservation itself (before the failing allocation): an
        // honest refusal, whatever FailAt would have said.
        const bool arena_refused =
            m.failures == 0 && !r.mem.arena.reserve(*need, TableRequest{G::table_bytes(1), G::table_align(1), false, 1});
        if (!liar || arena_refused) {
          if (!r.mem.unchanged_since(before)) return what + ": the call changed the tables or the allocator";
          if (tlb.events() != events) return what + ": the call used the sync hook";
          continue;
        }
        ++liar_failures;
        if (m.failures == 0) return what + ": out_of_memory without a failed allocation";
        const TableView<F> after(r.tree, r.mem.arena);
        if (after.bad) return what + ": " + *after.bad;
        // Translations, not leaf shapes: splits and unfolds made before the failing allocation
        // stay (docs/engine.md), mapping the same pages with smaller leaves.
        auto same = [](const std::vector<Tr>& a, const std::vector<Tr>& b) {
          auto flat = [](const std::vector<Tr>& v) {
            std::vector<Tr> out;
            for (Tr t : v) {
              t.entry = 0, t.contig = false;
              push_merged(out, t);
            }
            return out;
          };
          const std::vector<Tr> x = flat(a), y = flat(b);
          if (x.size() != y.size()) return false;
          for (std::size_t i = 0; i < x.size(); ++i)
            if (x[i].lo != y[i].lo || x[i].hi != y[i].hi || x[i].pa != y[i].pa || x[i].attrs != y[i].attrs) return false;
          return true;
        };
        if (!same(view.own, after.own)) return what + ": the call changed translations";
        if (o.kind == Op::map && r.mem.arena.tables_in_use() != in_use)
          return fmt::format("{}: the map was not undone: {} tables in use, {} before", what, r.mem.arena.tables_in_use(),
                             in_use);
        if (auto f = r.check_structure()) return what + ": " + *f;
        if (r.live != Live::offline)
          if (auto f = tlb.after_call()) return what + ": " + *f;
      }
    return std::nullopt;
  }

  std::optional<std::string> step(const Op& o, std::uint64_t index, bool full = false) {
    if (probe)
      if (auto f = probe_allocations(o)) return "probe: " + *f;
    const std::uint64_t events = tlb.events();
    if (auto f = r.step(o, index, full, tlb)) return f;
    if (tlb.failure) return tlb.failure;
    if (r.last_error) {
      if (tlb.events() != events) return "a refused call used the sync hook";
      if (*r.last_error == Errc::needs_break_before_make) {
        ++bbm_refusals;
        // Judged after the call: r.step() checked that a refused call changed nothing.
        if (r.live != Live::refuse || !refusal_justified(o))
          return "needs_break_before_make, but nothing in the range needs break-before-make";
      }
      if (*r.last_error == Errc::out_of_memory) {
        // Really short: the arena cannot reserve the tables the call needs.
        ++ooms;
        const auto need = plan_of(o);
        const TableRequest req{G::table_bytes(G::kDepth - 1), G::table_align(G::kDepth - 1), false, G::kDepth - 1};
        if (!need.ok() || *need == 0 || r.mem.arena.reserve(*need, req))
          return fmt::format("out_of_memory although the arena can reserve the {} table(s) the call needs",
                             need.ok() ? *need : 0);
      }
    }
    if (r.live != Live::offline)
      if (auto f = tlb.after_call()) return f;
    return std::nullopt;
  }
};

}  // namespace diff
