// Shared Catch2 test support: everything in memory.hpp, plus Catch2 printers for ptlib types and
// a leaf collector.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include <ptlib/formats.hpp>
#include <ptlib/host.hpp>

#include "fake_format.hpp"
#include "memory.hpp"

namespace test {
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
