// Test support without a test framework (shared by the Catch2 tests and the fuzz target): the
// format lists, a host arena with snapshots, capability sets with every feature on, and a
// recording sync hook.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <vector>

#include <ptlib/formats.hpp>

#include "fake_format.hpp"

// The fake format's engine is compiled once too (tests/fake_engine.cpp), like the named formats'.
#if defined(PTLIB_COMPILED_ENGINE) && !defined(PTLIB_FAKE_ENGINE_DEFINITION)
PTLIB_BEGIN_NAMESPACE
PTLIB_ENGINE_INSTANCES(extern, fake::Scrambled)
PTLIB_END_NAMESPACE
#endif

namespace test {
using namespace ptlib;

/// Every shipped format plus the level-scrambling fake.
#if defined(PTLIB_TEST_FEW_FORMATS)
// tests/general_path.cpp: one format per family with different shapes (3 and 4 levels, 8- and
// 32-byte roots, contiguous runs on arm64 and RISC-V), and the fake.
using EngineFormats = std::tuple<riscv::Sv39, arm64::Vmsa4k48, x86::Pae, armv7::Lpae32, fake::Scrambled>;
#else
using EngineFormats = decltype(std::tuple_cat(std::declval<AllFormats>(), std::declval<std::tuple<fake::Scrambled>>()));
#endif

/// Capabilities with every optional leaf feature on (1 GiB pages, Svpbmt, Svnapot, ...).
template <class F>
typename F::Caps full_caps() {
  typename F::Caps c{};
  if constexpr (requires { c.page1g; }) c.page1g = true;
  if constexpr (requires { c.svpbmt; }) c.svpbmt = true;
  if constexpr (requires { c.svnapot; }) c.svnapot = true;
  if constexpr (requires { c.pat; }) c.pat = true;
  if constexpr (requires { c.upper_leaves; }) c.upper_leaves = true;
  return c;
}

/// Host memory for tables: a 64 KiB-aligned buffer whose first byte is physical `base`.
struct Memory {
  static constexpr std::uint64_t kBase = 0x1000'0000;  // fits every format's PA width
  struct Free { void operator()(unsigned char* p) const { std::free(p); } };
  std::unique_ptr<unsigned char, Free> buf;
  Arena arena;

  /// `bytes` need not be a multiple of 64 KiB: the buffer is rounded up, the arena is not.
  explicit Memory(std::size_t bytes = 4 << 20, PhysAddr base = PhysAddr(kBase))
      : buf(static_cast<unsigned char*>(std::aligned_alloc(65536, (bytes + 0xffff) & ~std::size_t{0xffff}))),
        arena(buf.get(), bytes, base) {
    std::memset(buf.get(), 0xa5, bytes);  // garbage: the engine must never rely on zeroed memory
  }

  /// Everything the allocator has handed out, plus its cursor: equal snapshots mean nothing changed.
  struct Snapshot {
    std::vector<unsigned char> bytes;
    std::size_t used, live, free_head;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot snapshot() const {
    Snapshot s;
    snapshot(s);
    return s;
  }
  /// snapshot() into `s`, reusing its storage (no allocation once it is large enough).
  void snapshot(Snapshot& s) const {
    s.bytes.assign(buf.get(), buf.get() + arena.used());
    s.used = arena.used(), s.live = arena.tables_in_use(), s.free_head = arena.free_head();
  }
  /// Whether the memory is as `s` recorded it (snapshot() == s, without the copy).
  bool unchanged_since(const Snapshot& s) const {
    return s.used == arena.used() && s.live == arena.tables_in_use() && s.free_head == arena.free_head() &&
           (s.used == 0 || std::memcmp(s.bytes.data(), buf.get(), s.used) == 0);
  }
};

/// The end of the VA room a test range may use (tree offsets): sign-extended formats keep a
/// range in the lower half, the others may use the whole VA range.
template <class F>
constexpr std::uint64_t tree_limit() {
  using G = Geometry<F>;
  return F::kVaRule == VaRule::sign_extend ? (std::uint64_t{1} << (G::kVaBits - 1)) : G::kVaMask + 1;
}

/// Attributes every format can express: read+write+exec, global (x86-32 has no NX).
inline constexpr Attrs kRwxg{Perm::read | Perm::write | Perm::exec | Perm::global};

/// A sync hook that records what the engine asked for, and lets a test look at the tree at the
/// moment of each TLB invalidation.
struct Recorder {
  struct Event {
    enum Kind { publish, invalidate } kind;
    VirtAddr va;
    std::uint64_t size;
  };
  std::vector<Event> events;
  std::function<void(VirtAddr, std::uint64_t)> on_invalidate;
  void publish() { events.push_back({Event::publish, {}, 0}); }
  void invalidate(VirtAddr va, std::uint64_t size) {
    events.push_back({Event::invalidate, va, size});
    if (on_invalidate) on_invalidate(va, size);
  }
  std::size_t count(Event::Kind k) const {
    std::size_t n = 0;
    for (const auto& e : events) n += e.kind == k;
    return n;
  }
};

}  // namespace test
