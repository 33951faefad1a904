// Strong address types: a physical and a virtual address cannot be mixed up by accident.
#pragma once
#include <compare>
#include <cstdint>

#include "config.hpp"

PTLIB_BEGIN_NAMESPACE

namespace detail {
/// Shared arithmetic for the two address kinds (CRTP; Tag makes them distinct types).
template <class Tag>
struct Address {
  std::uint64_t value = 0;

  constexpr Address() = default;
  explicit constexpr Address(std::uint64_t v) : value(v) {}

  /// True when the address is a multiple of `align` (a power of two).
  [[nodiscard]] constexpr bool aligned(std::uint64_t align) const { return (value & (align - 1)) == 0; }
  constexpr Address operator+(std::uint64_t off) const { return Address(value + off); }
  constexpr Address operator-(std::uint64_t off) const { return Address(value - off); }
  constexpr std::uint64_t operator-(Address other) const { return value - other.value; }
  constexpr auto operator<=>(const Address&) const = default;
};
struct PhysTag {};
struct VirtTag {};
}  // namespace detail

/// A physical (output) address.
using PhysAddr = detail::Address<detail::PhysTag>;
/// A virtual (input) address.
using VirtAddr = detail::Address<detail::VirtTag>;

static_assert(sizeof(PhysAddr) == 8 && sizeof(VirtAddr) == 8);

/// Rounds `v` down to a multiple of `align` (a power of two).
constexpr std::uint64_t align_down(std::uint64_t v, std::uint64_t align) { return v & ~(align - 1); }

/// Virtual addresses [base, base + size). `size` 0 is "no region". A region may run to the very
/// top of the 64-bit space (base + size wraps to 0), so comparisons use last() = the last byte.
struct Region {
  VirtAddr base{};
  std::uint64_t size = 0;

  [[nodiscard]] constexpr bool empty() const { return size == 0; }
  /// The last byte (precondition: not empty).
  [[nodiscard]] constexpr VirtAddr last() const { return base + (size - 1); }
  [[nodiscard]] constexpr bool contains(VirtAddr va) const { return size && va >= base && va <= last(); }
  /// Whether `r` lies inside this region (an empty `r` lies everywhere).
  [[nodiscard]] constexpr bool contains(const Region& r) const {
    return r.empty() || (size && r.base >= base && r.last() <= last());
  }
  [[nodiscard]] constexpr bool overlaps(const Region& r) const {
    return size && r.size && base <= r.last() && r.base <= last();
  }
  constexpr bool operator==(const Region&) const = default;
};


PTLIB_END_NAMESPACE
