// The one-line text of an Error for any environment (no libc, no heap, constexpr): what went
// wrong, where, at which level, and what to do. The host's to_string() prints the same line.
#pragma once
#include <cstddef>
#include <cstdint>

#include "result.hpp"

PTLIB_BEGIN_NAMESPACE

namespace detail {
/// Text into a caller's buffer, cut to fit, counting what the whole text needs.
struct TextOut {
  char* buf;
  std::size_t cap;
  std::size_t len = 0;
  constexpr void put(char c) {
    if (len + 1 < cap) buf[len] = c;
    ++len;
  }
  constexpr void put(const char* s) {
    while (*s) put(*s++);
  }
  constexpr void hex(std::uint64_t v) {  // 0x + 16 digits, as addresses print everywhere
    put("0x");
    for (int i = 60; i >= 0; i -= 4) put("0123456789abcdef"[(v >> i) & 0xf]);
  }
  constexpr void dec(std::int64_t v) {
    if (v < 0) put('-');
    std::uint64_t u = v < 0 ? std::uint64_t(0) - std::uint64_t(v) : std::uint64_t(v);
    char d[20]{};
    int n = 0;
    do d[n++] = char('0' + u % 10);
    while ((u /= 10) != 0);
    while (n) put(d[--n]);
  }
  constexpr std::size_t finish() {
    if (cap) buf[len < cap ? len : cap - 1] = '\0';
    return len;
  }
};
}  // namespace detail

/// Writes `e` as one line into buf[0, n) (always NUL-terminated when n > 0, cut to fit) and
/// returns the length of the whole line (as snprintf does: a result >= n means it was cut).
/// Parts that are absent are left out (no "level -128", no "pa 0x0" that means nothing):
///   out_of_memory at va 0xffffffc000000000 level 1 (VPN[1]): the allocator cannot provide the
///   tables needed (needed 3 tables, the allocator could give 1); what to do: give the allocator
///   more tables (size a pool with table_budget() or plan())
constexpr std::size_t format_error(const Error& e, char* buf, std::size_t n) {
  detail::TextOut o{buf, n};
  o.put(name(e.code));
  o.put(" at va ");
  o.hex(e.va.value);
  if (e.has_pa()) {
    o.put(" pa ");
    o.hex(e.pa.value);
  }
  if (e.has_level()) {
    o.put(" level ");
    o.dec(e.level);
    if (e.level_name) {
      o.put(" (");
      o.put(e.level_name);
      o.put(')');
    }
  }
  o.put(": ");
  o.put(describe(e.code));
  if (e.tables_needed) {
    o.put(" (needed ");
    o.dec(e.tables_needed);
    o.put(e.tables_needed == 1 ? " table" : " tables");
    o.put(", the allocator could give ");
    o.dec(e.tables_available);
    o.put(')');
  }
  o.put("; what to do: ");
  o.put(remedy(e));
  return o.finish();
}

PTLIB_END_NAMESPACE
