// Every paging format ptlib ships, in one list, by name: the type list for generic code and tests,
// and run-time selection by name (tools, and kernels that pick their format at boot).
#pragma once
#include <cstddef>
#include <tuple>

#include <ptlib/arm64.hpp>
#include <ptlib/armv7.hpp>
#include <ptlib/ptlib.hpp>
#include <ptlib/riscv.hpp>
#include <ptlib/x86.hpp>

PTLIB_BEGIN_NAMESPACE

/// Every named format, in the order of the docs' format table.
using AllFormats = std::tuple<
    riscv::Sv32, riscv::Sv39, riscv::Sv48, riscv::Sv57,
    arm64::Vmsa4k39, arm64::Vmsa4k48, arm64::Vmsa4k52,
    arm64::Vmsa16k47, arm64::Vmsa16k48, arm64::Vmsa16k52,
    arm64::Vmsa64k42, arm64::Vmsa64k48, arm64::Vmsa64k52,
    x86::X86_32, x86::Pae, x86::Long4, x86::Long5,
    armv7::Lpae32>;

inline constexpr std::size_t kFormatCount = std::tuple_size_v<AllFormats>;

namespace detail {
constexpr bool name_equal(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}
template <class Fn, std::size_t... I>
constexpr bool with_format_impl(const char* name, Fn& fn, std::index_sequence<I...>) {
  bool found = false;
  ((!found && name_equal(std::tuple_element_t<I, AllFormats>::kName, name)
        ? (fn.template operator()<std::tuple_element_t<I, AllFormats>>(), found = true)
        : false),
   ...);
  return found;
}
template <std::size_t... I>
constexpr std::array<const char*, sizeof...(I)> names_impl(std::index_sequence<I...>) {
  return {std::tuple_element_t<I, AllFormats>::kName...};
}
}  // namespace detail

/// The formats' names, in AllFormats order ("sv39", "arm64-4k-48", "x86-pae", ...).
inline constexpr auto kFormatNames = detail::names_impl(std::make_index_sequence<kFormatCount>{});

/// Calls `fn.template operator()<F>()` for the format named `name`. Returns false (and calls
/// nothing) when no format has that name. Example:
///     with_format("sv48", [&]<class F>() { auto t = make_tree<F>(arena); ... });
template <class Fn>
constexpr bool with_format(const char* name, Fn&& fn) {
  return detail::with_format_impl(name, fn, std::make_index_sequence<kFormatCount>{});
}

PTLIB_END_NAMESPACE
