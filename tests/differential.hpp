// Differential machinery shared by the random test and the fuzz target: an operation record,
// an independent interval model, a runner that applies operations to a tree and checks each one
// against the model and validate(), a random workload, replay and shrinking.
#pragma once
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <ptlib/formats.hpp>
#include <ptlib/host.hpp>

#include "fake_format.hpp"
#include "memory.hpp"

namespace diff {
using namespace ptlib;
using test::Memory;

struct Op {
  enum Kind { map, unmap, protect, compact } kind;
  std::uint64_t lo, size, pa;  // tree offsets; pa for map
  Attrs attrs;
  std::uint64_t max_leaf;
  bool contiguous, release_empty;
};

std::string to_string(const Op& o) {
  static constexpr const char* kNames[] = {"map", "unmap", "protect", "compact"};
  return fmt::format("{{Op::{}, {:#x}, {:#x}, {:#x}, parse_attrs(\"{}\").value(), {:#x}, {}, {}}}", kNames[o.kind], o.lo,
                     o.size, o.pa, ptlib::to_string(o.attrs), o.max_leaf, o.contiguous, o.release_empty);
}

/// The model: disjoint intervals of tree offsets with their PA and attributes; knows nothing of
/// tables or formats.
struct Model {
  struct Iv {
    std::uint64_t hi, pa;
    Attrs attrs;
  };
  std::map<std::uint64_t, Iv> m;

  bool overlaps(std::uint64_t lo, std::uint64_t hi) const {
    auto it = m.upper_bound(lo);
    if (it != m.begin() && std::prev(it)->second.hi > lo) return true;
    return it != m.end() && it->first < hi;
  }
  /// Cuts intervals at `t` so that no interval straddles it.
  void cut(std::uint64_t t) {
    auto it = m.upper_bound(t);
    if (it == m.begin()) return;
    --it;
    if (it->first < t && t < it->second.hi) {
      Iv right{it->second.hi, it->second.pa + (t - it->first), it->second.attrs};
      it->second.hi = t;
      m.emplace(t, right);
    }
  }
  void erase(std::uint64_t lo, std::uint64_t hi) {
    cut(lo);
    cut(hi);
    m.erase(m.lower_bound(lo), m.lower_bound(hi));
  }
  void protect(std::uint64_t lo, std::uint64_t hi, Attrs a) {
    cut(lo);
    cut(hi);
    for (auto it = m.lower_bound(lo); it != m.end() && it->first < hi; ++it) it->second.attrs = a;
  }
  std::optional<std::pair<std::uint64_t, Attrs>> at(std::uint64_t t) const {
    auto it = m.upper_bound(t);
    if (it == m.begin()) return std::nullopt;
    --it;
    if (t >= it->second.hi) return std::nullopt;
    return std::pair{it->second.pa + (t - it->first), it->second.attrs};
  }
};

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Applies ops to one tree and checks each against the model. step() returns a failure text.
template <class F>
struct Runner {
  using G = Geometry<F>;
  typename F::Caps caps = test::full_caps<F>();
  Memory mem;
  Tree<F> tree{};
  Model model;
  bool empties_allowed = false;
  std::uint64_t w0, window;
  // What the run exercised: successes per op kind, refusals, splits, releases, folds.
  std::uint64_t ok[4] = {}, refused = 0, splits = 0, released = 0, folds = 0;
  // The live policy of every call, and the refusals a caller accepts besides overlap and
  // unsupported attributes (differential_live.hpp judges needs_break_before_make itself): a
  // refused call must leave the tables and the allocator as they were.
  Live live = Live::offline;
  bool bbm_refusals_ok = false, oom_ok = false;
  std::optional<Errc> last_error;  // the error of the last step() whose call failed
  Memory::Snapshot before;         // step()'s, kept: its storage is reused
  // When set (the fuzz target), step() compares with the model only what the op may have
  // changed (its range, and the leaves and contiguous runs that met its edges before it), and
  // the caller calls finish() at the end.
  bool local = false;

  Runner(std::uint64_t w0_, std::uint64_t window_, std::size_t arena_bytes = 64 << 20,
         std::uint64_t base = Memory::kBase)
      : mem(arena_bytes), w0(w0_), window(window_) {
    if (base != Memory::kBase) mem.arena = Arena(mem.buf.get(), arena_bytes, PhysAddr(base));
    auto t = make_tree<F>(mem.arena, caps);
    if (!t) std::abort();  // every arena a test gives holds a root
    tree = *t;
  }

  /// Runs `o` on the tree through memory `m` and hook `h`.
  template <class M, class Hook>
  Result<Report> call(const Op& o, M& m, const Options& opts, Hook&& h) const {
    switch (o.kind) {
      case Op::map: return map(tree, m, G::to_va(o.lo), PhysAddr(o.pa), o.size, o.attrs, opts, h);
      case Op::unmap: return unmap(tree, m, G::to_va(o.lo), o.size, opts, h);
      case Op::protect: return protect(tree, m, G::to_va(o.lo), o.size, o.attrs, opts, h);
      case Op::compact: return compact(tree, m, G::to_va(o.lo), o.size, opts, h);
    }
    return make_error(Errc::zero_size);
  }

  std::optional<std::string> translate_at(std::uint64_t t) const {
    if (t < w0 || t >= w0 + window) return std::nullopt;
    auto want = model.at(t);
    auto got = translate(tree, mem.arena, G::to_va(t));
    if (!want) {
      if (got.ok()) return fmt::format("offset {:#x} is mapped (pa {:#x}) but the model says not", t, got->pa.value);
      if (got.error().code != Errc::not_mapped) return "translate: " + to_string(got.error());
      return std::nullopt;
    }
    if (!got.ok()) return fmt::format("offset {:#x} not mapped: {}", t, to_string(got.error()));
    if (got->pa.value != want->first || got->leaf.attrs != want->second)
      return fmt::format("offset {:#x}: pa {:#x} {} but the model says {:#x} {}", t, got->pa.value,
                         to_string(got->leaf.attrs), want->first, to_string(want->second));
    return std::nullopt;
  }

  std::optional<std::string> whole_tree() const { return compare(0, G::kVaMask + 1); }

  /// The tree offsets the leaf mapping offset `t` covers (its whole contiguous run), or [t, t + 1).
  std::pair<std::uint64_t, std::uint64_t> extent(std::uint64_t t) const {
    auto got = translate(tree, mem.arena, G::to_va(t));
    if (!got.ok()) return {t, t + 1};
    const std::uint64_t size = got->leaf.size << (got->leaf.contiguous ? F::contig_log2(got->leaf.level, caps) : 0);
    const std::uint64_t lo = align_down(G::to_tree(got->leaf.va), size);
    return {lo, lo + size};
  }

  /// Compares every leaf meeting tree offsets [lo, hi) with the model (each leaf whole), and the
  /// bytes the leaves and the model cover inside the range.
  std::optional<std::string> compare(std::uint64_t lo, std::uint64_t hi) const {
    std::uint64_t covered = 0, expected = 0;
    auto inside = [&](std::uint64_t a, std::uint64_t b) {  // bytes of [a, b) in [lo, hi)
      return std::min(b, hi) - std::min(std::max(a, lo), std::min(b, hi));
    };
    for (const auto& [a, iv] : model.m) expected += inside(a, iv.hi);
    std::optional<std::string> bad;
    auto check = [&](const Leaf<F>& l) {
      if (bad) return;
      const std::uint64_t t = G::to_tree(l.va);
      auto want = model.at(t);
      auto last = model.at(t + l.size - 1);
      if (!want || !last || want->first != l.pa.value || last->first != l.pa.value + l.size - 1 ||
          want->second != l.attrs || last->second != l.attrs)
        bad = fmt::format("leaf [{:#x}, +{:#x}) -> {:#x} {} disagrees with the model", t, l.size, l.pa.value,
                          to_string(l.attrs));
      covered += inside(t, t + l.size);
    };
    auto r = lo == 0 && hi == G::kVaMask + 1 ? for_each_leaf(tree, mem.arena, check)
                                             : for_each_leaf(tree, mem.arena, G::to_va(lo), hi - lo, check);
    if (!r.ok()) return "walk: " + to_string(r.error());
    if (bad) return bad;
    if (covered != expected) return fmt::format("leaves cover {:#x} bytes, the model {:#x}", covered, expected);
    return std::nullopt;
  }

  /// Applies `o` and checks it; `full` compares the whole tree with the model afterwards (also
  /// done every 64 ops and after every split).
  template <class Hook = NoSync>
  std::optional<std::string> step(const Op& o, std::uint64_t index, bool full = false, Hook&& hook = Hook{}) {
    Options opts;
    opts.live = live;
    opts.max_leaf_size = o.max_leaf;
    opts.contiguous = o.contiguous;
    opts.release_empty = o.release_empty;
    const std::uint64_t hi = o.lo + o.size;
    const bool attrs_ok = F::leaf_proto(G::level(G::kDepth - 1), LeafSettings{o.attrs}, caps).ok();
    const bool overlap = model.overlaps(o.lo, hi);
    const bool may_refuse = (o.kind == Op::map && (overlap || !attrs_ok)) || (o.kind == Op::protect && !attrs_ok) ||
                            bbm_refusals_ok || oom_ok;
    if (may_refuse) mem.snapshot(before);
    // What the op may change: its range and the leaves (their contiguous runs) meeting its edges.
    const std::uint64_t from = local ? std::max(std::min(o.lo, extent(o.lo).first), w0) : 0;
    const std::uint64_t to = local ? std::min(std::max(hi, extent(hi - 1).second), w0 + window) : 0;
    const std::size_t tables_before = mem.arena.tables_in_use();
    Result<Report> r = call(o, mem.arena, opts, hook);
    last_error.reset();
    if (r.ok()) {
      ++ok[o.kind];
      if (o.kind != Op::map) splits += r->tables_added;
      if (o.kind == Op::unmap) released += r->tables_released;
      if (o.kind == Op::compact) folds += r->tables_released;
      switch (o.kind) {
        case Op::map:
          if (overlap || !attrs_ok) return "map succeeded though it overlaps or its attributes are unsupported";
          model.m[o.lo] = Model::Iv{hi, o.pa, o.attrs};
          break;
        case Op::unmap:
          model.erase(o.lo, hi);
          if (!o.release_empty) empties_allowed = true;
          break;
        case Op::protect:
          if (!attrs_ok && overlap) return "protect succeeded with unsupported attributes over mappings";
          model.protect(o.lo, hi, o.attrs);
          break;
        case Op::compact: break;
      }
    } else {
      const Errc c = r.error().code;
      const bool unsupported = c == Errc::unsupported_attrs || c == Errc::unsupported_memtype;
      last_error = c;
      const bool expected = (o.kind == Op::map ? ((overlap && c == Errc::overlap) || (!attrs_ok && unsupported))
                                               : (o.kind == Op::protect && !attrs_ok && unsupported)) ||
                            (bbm_refusals_ok && c == Errc::needs_break_before_make) ||
                            (oom_ok && c == Errc::out_of_memory);
      if (!expected) return "unexpected error " + to_string(r.error());
      if (!may_refuse || !mem.unchanged_since(before)) return "a refused call changed the tables or the allocator";
      ++refused;
    }
    for (std::uint64_t t : {o.lo - G::kPageSize, o.lo, hi - G::kPageSize, hi})
      if (auto f = translate_at(t)) return f;
    for (std::uint64_t k = 0; k < 4; ++k)
      if (auto f = translate_at(o.lo + (mix(index * 8 + k) % (o.size / G::kPageSize)) * G::kPageSize)) return f;
    // With `local`, validate() only where the op may have changed the tables' structure: an
    // unmap (a table it empties must go), an op after which the allocator holds another number
    // of tables.
    if (!local || o.kind == Op::unmap || mem.arena.tables_in_use() != tables_before)
      if (auto f = check_structure()) return f;
    if (local) return compare(from, to);
    const bool split = r.ok() && o.kind != Op::map && r->tables_added > 0;
    if (full || split || index % 64 == 63) return whole_tree();
    return std::nullopt;
  }

  /// validate() against what the runner knows: whether empty tables may stay, the allocator's count.
  std::optional<std::string> check_structure() const {
    ValidateOptions vo;
    vo.allow_empty_tables = empties_allowed;
    vo.expected_tables = mem.arena.tables_in_use();
    const Validation v = validate(tree, mem.arena, vo);
    if (!v.ok()) return fmt::format("validate: {} problem(s), first: {}", v.problems, to_string(v.first));
    return std::nullopt;
  }

  /// The checks step() leaves out with `local` set: validate() and the whole tree.
  std::optional<std::string> finish() const {
    if (auto f = check_structure()) return f;
    return whole_tree();
  }
};

template <class F>
struct Workload {
  using G = Geometry<F>;
  static constexpr std::size_t d = G::kDepth - 2;  // blocks just above pages
  std::uint64_t S = G::span(d), P = G::kPageSize, run = 0;
  std::uint64_t limit = test::tree_limit<F>();
  std::uint64_t window = std::min<std::uint64_t>(8 * S, limit / 2);
  std::uint64_t w0 = limit - window;
  std::uint64_t pa_room = std::min<std::uint64_t>(G::kPaLimit + 1 - window, std::uint64_t{1} << 34);
  std::uint64_t pa_base = 0;                                  // PAs land in [pa_base, pa_base + pa_room)
  std::uint64_t fill_leaf = S <= (64 << 20) ? 1 : 0;          // the leaf size of block-filling maps

  Workload() {
    const unsigned k = F::contig_log2(G::level(G::kDepth - 1), test::full_caps<F>());
    run = P << (k ? k : 4);
  }

  Op next(std::mt19937_64& rng) const {
    auto pick = [&](std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); };
    static const Attrs kAttrs[] = {test::kRwxg, attrs::rw, attrs::rx, attrs::r,
                                   Attrs{Perm::read | Perm::write | Perm::user}, attrs::device_rw,
                                   Attrs{Perm::read, MemType::normal_nc}, Attrs{Perm::read | Perm::write, MemType::wc},
                                   Attrs{Perm::exec}, Attrs{Perm::read | Perm::exec | Perm::global}};
    Op o{};
    const std::uint64_t r = pick(16);
    o.kind = r < 7 ? Op::map : r < 11 ? Op::unmap : r < 14 ? Op::protect : Op::compact;
    switch (pick(5)) {
      case 0: o.size = (1 + pick(16)) * P; break;
      case 1: o.size = S; break;
      case 2: o.size = S + (1 + pick(4)) * P; break;
      case 3: o.size = run * (1 + pick(3)); break;
      default: o.size = (1 + pick(2 * S / P)) * P; break;
    }
    o.size = std::min(o.size, window / 2);
    o.lo = w0 + pick((window - o.size) / P + 1) * P;
    const std::uint64_t align = pick(2) ? S : run;
    if (pick(2) && o.lo - w0 >= o.lo % align) o.lo -= o.lo % align;
    o.pa = pa_base + align_down(pick(pa_room - o.size), S) + (o.lo % S);
    if (pick(4) == 0) o.pa = align_down(o.pa, P) + P * (1 + pick(3));
    if (o.pa + o.size - 1 > G::kPaLimit) o.pa = 0;
    o.attrs = kAttrs[pick(std::size(kAttrs))];
    o.max_leaf = pick(8) == 0 && o.size <= (64 << 20) ? 1 : 0;
    // Some maps fill a whole block with pages, and compacts aim at whole blocks, so that folds
    // (and the splits of folded blocks) happen often.
    if ((o.kind == Op::map && pick(4) == 0) || o.kind == Op::compact) {
      o.size = (o.kind == Op::map ? 1 : 1 + pick(2)) * S;
      o.lo = w0 + align_down(pick(window - o.size + 1), S);
      o.pa = align_down(o.pa, S);
      if (o.kind == Op::map && fill_leaf) o.max_leaf = fill_leaf;
    }
    o.contiguous = pick(4) != 0;
    o.release_empty = pick(16) != 0;
    return o;
  }
};

/// Replays `ops` from an empty tree; returns the first failure.
template <class F>
std::optional<std::string> replay(const std::vector<Op>& ops) {
  const Workload<F> w;
  Runner<F> r(w.w0, w.window);
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (auto f = r.step(ops[i], i, true)) return fmt::format("op #{}: {}", i, *f);
  return std::nullopt;
}

/// Greedy shrinking: drops chunks of ops while the replay still fails.
template <class F>
std::vector<Op> shrink(std::vector<Op> ops) {
  int budget = 400;
  for (std::size_t chunk = ops.size() / 2; chunk >= 1 && budget > 0; chunk /= 2) {
    for (std::size_t at = 0; at + chunk <= ops.size() && budget > 0;) {
      std::vector<Op> fewer(ops.begin(), ops.begin() + std::ptrdiff_t(at));
      fewer.insert(fewer.end(), ops.begin() + std::ptrdiff_t(at + chunk), ops.end());
      --budget;
      if (replay<F>(fewer)) ops = std::move(fewer);
      else at += chunk;
    }
  }
  return ops;
}

}  // namespace diff
