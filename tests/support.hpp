// Shared test support: the format lists, a host arena with snapshots, and per-family capability
// sets with every optional feature on.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include <ptlib/formats.hpp>
#include <ptlib/host.hpp>

#include "fake_format.hpp"

namespace test {
using namespace ptlib;

/// Every shipped format plus the level-scrambling fake.
using EngineFormats = decltype(std::tuple_cat(std::declval<AllFormats>(), std::declval<std::tuple<fake::Scrambled>>()));

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

  explicit Memory(std::size_t bytes = 4 << 20)
      : buf(static_cast<unsigned char*>(std::aligned_alloc(65536, bytes))), arena(buf.get(), bytes, PhysAddr(kBase)) {
    std::memset(buf.get(), 0xa5, bytes);  // garbage: the engine must never rely on zeroed memory
  }

  /// Everything the allocator has handed out, plus its cursor: equal snapshots mean nothing changed.
  struct Snapshot {
    std::vector<unsigned char> bytes;
    std::size_t used;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot snapshot() const {
    return {std::vector<unsigned char>(buf.get(), buf.get() + arena.used()), arena.used()};
  }
};

/// Attributes every format can express: read+write+exec, global (x86-32 has no NX).
inline constexpr Attrs kRwxg{Perm::read | Perm::write | Perm::exec | Perm::global};

/// Collects the leaves of a tree.
template <class F, class A>
std::vector<Leaf<F>> leaves(const Tree<F>& t, A& a) {
  std::vector<Leaf<F>> v;
  auto r = for_each_leaf(t, a, [&](const Leaf<F>& l) { v.push_back(l); });
  REQUIRE(r.ok());
  return v;
}
}  // namespace test

namespace Catch {
template <class Tag>
struct StringMaker<ptlib::detail::Address<Tag>> {
  static std::string convert(const ptlib::detail::Address<Tag>& a) { return fmt::format("{}", a); }
};
template <>
struct StringMaker<ptlib::Error> {
  static std::string convert(const ptlib::Error& e) { return ptlib::to_string(e); }
};
template <>
struct StringMaker<ptlib::Errc> {
  static std::string convert(ptlib::Errc e) { return ptlib::name(e); }
};
template <>
struct StringMaker<ptlib::Attrs> {
  static std::string convert(const ptlib::Attrs& a) { return ptlib::to_string(a); }
};
}  // namespace Catch
