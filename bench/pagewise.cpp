// One page per call (W4: map, W4u: unmap, W4p: protect) and W3 next to a plain hand-written
// per-page walker in the same binary: the cost of the engine's fixed per-call work, measured as
// a ratio in the same iteration (x_plain = ptlib time / plain walker time).
#include <cstring>
#include <string>

#include <ptlib/cursor.hpp>

#include "harness.hpp"

namespace bench {
namespace {

/// The plain walker a kernel author writes in 20 lines: walk from the root, allocate missing
/// tables zeroed (bump allocation), write the entry. No checks, no errors, no live policy.
template <PagingFormat F>
struct Plain {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  unsigned char* base;
  std::size_t used = 0;
  Entry* root = nullptr;

  explicit Plain(unsigned char* b) : base(b) { root = at(alloc(G::table_bytes(0), G::table_align(0))); }
  std::uint64_t alloc(std::size_t bytes, std::size_t align) {
    const std::size_t off = (used + align - 1) & ~(align - 1);
    used = off + bytes;
    std::memset(base + off, 0, bytes);
    return kArenaBase + off;
  }
  Entry* at(std::uint64_t pa) { return reinterpret_cast<Entry*>(base + (pa - kArenaBase)); }
  /// The last-level table for tree offset t (created when `create`), or nullptr.
  Entry* leaf_table(std::uint64_t t, bool create) {
    Entry* tab = root;
    for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
      Entry& e = tab[G::index(t, d)];
      if (!e) {
        if (!create) return nullptr;
        e = F::table(G::level(d), PhysAddr(alloc(G::table_bytes(d + 1), G::table_align(d + 1))));
      }
      tab = at(F::decode(G::level(d), e).addr.value);
    }
    return tab;
  }
  void map_page(std::uint64_t t, std::uint64_t pa, Entry proto) {
    constexpr auto L = G::level(G::kDepth - 1);
    leaf_table(t, true)[G::index(t, G::kDepth - 1)] = F::leaf(L, proto, PhysAddr(pa));
  }
  void unmap_page(std::uint64_t t) {
    if (Entry* tab = leaf_table(t, false)) tab[G::index(t, G::kDepth - 1)] = 0;
  }
  void protect_page(std::uint64_t t, Entry proto) {
    constexpr auto L = G::level(G::kDepth - 1);
    if (Entry* tab = leaf_table(t, false)) {
      Entry& e = tab[G::index(t, G::kDepth - 1)];
      if (e) e = F::leaf(L, proto, F::decode(L, e).addr);
    }
  }
};

inline constexpr std::uint64_t kW4Pages = kW1Size >> 12;  // 2,097,152
inline constexpr Attrs kReadOnly{Perm::read};

/// A second pre-faulted buffer for the plain walker's tables.
inline unsigned char* plain_buffer(std::size_t bytes) {
  static unsigned char* p = nullptr;
  static std::size_t have = 0;
  if (bytes > have) {
    p = static_cast<unsigned char*>(std::aligned_alloc(1 << 21, (bytes + (1 << 21) - 1) & ~std::size_t((1 << 21) - 1)));
    for (std::size_t i = 0; i < bytes; i += 4096) p[i] = 1;
    have = bytes;
  }
  return p;
}

enum class Op { map, unmap, protect };

template <PagingFormat F>
typename F::Entry leaf_proto_of(const Attrs& a) {
  using G = Geometry<F>;
  return *F::leaf_proto(G::level(G::kDepth - 1), LeafSettings{a, false, true}, full_caps<F>());
}

/// W4 (map), W4u (unmap, tables kept) or W4p (protect rw- -> r--): kW4Pages calls in VA order over
/// W1's range, ptlib and the plain walker timed in the same iteration on their own tables.
template <PagingFormat F>
void w4(benchmark::State& st, Op op, bool cursor) {
  using G = Geometry<F>;
  const std::size_t bytes = arena_for<F>(page_map_tables<F>(kW1Va, kW1Size));
  const Buffer& b = buffer(bytes);
  unsigned char* pb = plain_buffer(bytes);
  if (!b.data || !pb) return st.SkipWithError("cannot allocate the arenas");
  const std::uint64_t t0 = G::to_tree(kW1Va);
  Options keep = page_only();
  keep.release_empty = false;
  std::vector<double> tp, tq;
  for (auto _ : st) {
    Arena a = fresh_arena(b);
    auto t = make_tree<F>(a, full_caps<F>());
    Plain<F> plain(pb);
    if (!t) return st.SkipWithError("make_tree failed");
    const auto rw = leaf_proto_of<F>(kAttrs), ro = leaf_proto_of<F>(kReadOnly);
    if (op != Op::map) {  // untimed set-up: the pages are mapped
      if (!map(*t, a, kW1Va, kW1Pa, kW1Size, kAttrs, page_only())) return st.SkipWithError("set-up failed");
      for (std::uint64_t i = 0; i < kW4Pages; ++i) plain.map_page(t0 + (i << 12), kW1Pa.value + (i << 12), rw);
    }
    bool ok = true;
    Cursor<F, Arena> cur(*t, a, keep);
    const std::uint64_t s0 = now_ns();
    for (std::uint64_t i = 0; cursor && i < kW4Pages; ++i) {
      const VirtAddr va(kW1Va.value + (i << 12));
      switch (op) {
        case Op::map: ok &= cur.map_page(va, PhysAddr(kW1Pa.value + (i << 12)), kAttrs).ok(); break;
        case Op::unmap: ok &= cur.unmap_page(va).ok(); break;
        case Op::protect: ok &= cur.protect_page(va, kReadOnly).ok(); break;
      }
    }
    for (std::uint64_t i = 0; !cursor && i < kW4Pages; ++i) {
      const VirtAddr va(kW1Va.value + (i << 12));
      switch (op) {
        case Op::map: ok &= map(*t, a, va, PhysAddr(kW1Pa.value + (i << 12)), 4096, kAttrs, page_only()).ok(); break;
        case Op::unmap: ok &= unmap(*t, a, va, 4096, keep).ok(); break;
        case Op::protect: ok &= protect(*t, a, va, 4096, kReadOnly, keep).ok(); break;
      }
    }
    benchmark::ClobberMemory();
    const std::uint64_t s1 = now_ns();
    for (std::uint64_t i = 0; i < kW4Pages; ++i) {
      const std::uint64_t v = t0 + (i << 12);
      switch (op) {
        case Op::map: plain.map_page(v, kW1Pa.value + (i << 12), rw); break;
        case Op::unmap: plain.unmap_page(v); break;
        case Op::protect: plain.protect_page(v, ro); break;
      }
    }
    benchmark::ClobberMemory();
    const std::uint64_t s2 = now_ns();
    if (!ok) return st.SkipWithError("a call failed");
    // The result is the same mapping either way: sample a few pages.
    for (std::uint64_t k = 0; k < 8; ++k) {
      const std::uint64_t i = kW4Pages * k / 8 + 5;
      auto r = translate(*t, a, VirtAddr(kW1Va.value + (i << 12)));
      if (op == Op::unmap ? r.ok() : (!r || r->pa.value != kW1Pa.value + (i << 12))) return st.SkipWithError("wrong result");
      if (op == Op::protect && r->leaf.attrs.write()) return st.SkipWithError("protect did not apply");
    }
    tp.push_back(double(s1 - s0));
    tq.push_back(double(s2 - s1));
    st.SetIterationTime(double(s1 - s0) * 1e-9);
  }
  const double mp = median(tp), mq = median(tq);
  st.counters["ns_per_call"] = mp / double(kW4Pages);
  st.counters["plain_ns_per_call"] = mq / double(kW4Pages);
  st.counters["x_plain"] = mq > 0 ? mp / mq : 0;
}

/// W3 by the plain walker (100,000 random pages in 512 GiB), next to W3 by ptlib in one iteration.
template <PagingFormat F>
void w3_plain(benchmark::State& st) {
  using G = Geometry<F>;
  const std::size_t bytes = arena_for<F>(86'000);
  const Buffer& b = buffer(bytes);
  unsigned char* pb = plain_buffer(bytes);
  if (!b.data || !pb) return st.SkipWithError("cannot allocate the arenas");
  const auto& pages = w3_pages();
  const auto rw = leaf_proto_of<F>(kAttrs);
  std::vector<double> tp, tq, tm;
  for (auto _ : st) {
    Arena a = fresh_arena(b);
    auto t = make_tree<F>(a, full_caps<F>());
    Plain<F> plain(pb);
    if (!t) return st.SkipWithError("make_tree failed");
    bool ok = true;
    const std::uint64_t s0 = now_ns();
    for (std::uint32_t i : pages) {
      const std::uint64_t off = std::uint64_t{i} << 12;
      ok &= map(*t, a, VirtAddr(kW3Window.value + off), PhysAddr(kW1Pa.value + off), 4096, kAttrs, page_only()).ok();
    }
    benchmark::ClobberMemory();
    const std::uint64_t s1 = now_ns();
    for (std::uint32_t i : pages) {
      const std::uint64_t off = std::uint64_t{i} << 12;
      plain.map_page(G::to_tree(VirtAddr(kW3Window.value + off)), kW1Pa.value + off, rw);
    }
    benchmark::ClobberMemory();
    const std::uint64_t s2 = now_ns();
    memset_tables(b, a.used());
    const std::uint64_t s3 = now_ns();
    if (!ok || plain.used + G::table_align(0) < a.used() / 2) return st.SkipWithError("a call failed");
    tp.push_back(double(s1 - s0));
    tq.push_back(double(s2 - s1));
    tm.push_back(double(s3 - s2));
    st.SetIterationTime(double(s1 - s0) * 1e-9);
  }
  const double mp = median(tp), mq = median(tq), mm = median(tm);
  st.counters["ptlib_ms"] = mp * 1e-6;
  st.counters["plain_ms"] = mq * 1e-6;
  st.counters["x_plain"] = mq > 0 ? mp / mq : 0;
  st.counters["x_memset"] = mm > 0 ? mp / mm : 0;
}

template <PagingFormat F>
void register_format() {
  // map()/unmap()/protect() of one page per call, and the same calls through a Cursor.
  for (bool cursor : {false, true}) {
    const std::string how = cursor ? "/cursor" : "";
    reg(name<F>(("W4" + how).c_str()), [=](benchmark::State& st) { w4<F>(st, Op::map, cursor); })
        ->Unit(benchmark::kMillisecond);
    reg(name<F>(("W4u" + how).c_str()), [=](benchmark::State& st) { w4<F>(st, Op::unmap, cursor); })
        ->Unit(benchmark::kMillisecond);
    reg(name<F>(("W4p" + how).c_str()), [=](benchmark::State& st) { w4<F>(st, Op::protect, cursor); })
        ->Unit(benchmark::kMillisecond);
  }
  if constexpr (fits_w3<F>())
    reg(name<F>("W3/vs_plain"), [](benchmark::State& st) { w3_plain<F>(st); })->Unit(benchmark::kMillisecond);
}

}  // namespace

void register_pagewise() {
  register_format<x86::Long4>();
  register_format<arm64::Vmsa4k48>();
  register_format<riscv::Sv39>();
}

}  // namespace bench
