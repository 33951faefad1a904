// Host-side helpers (not freestanding): {fmt} formatters for addresses, errors and attributes,
// parsing of attribute strings and numbers, and a readable dump of a tree with merged ranges.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <ptlib/ptlib.hpp>

PTLIB_BEGIN_NAMESPACE

/// "rwx" triple plus flags: u (user), g (global), and the memory type unless normal
/// (nc, dev, wc, other). Examples: "r-x g", "rw- u", "rw- dev".
std::string to_string(const Attrs& a);
/// Parses the to_string syntax: a triple "rwx"/"r-x"/"rw-"/"r--"/"--x", then optional flags
/// separated by spaces or commas or glued on: u, g, dev, nc, wc. Example: "rw-,dev" or "rwxug".
/// Returns std::nullopt on anything else.
std::optional<Attrs> parse_attrs(std::string_view s);
/// Parses "4096", "0x1000", "4K", "2M", "1G", "1T" (binary suffixes, optionally with "iB" or "B").
std::optional<std::uint64_t> parse_number(std::string_view s);
/// Size with the largest binary unit that divides it exactly: "4K", "2M", "1G", "12345".
std::string size_string(std::uint64_t bytes);
/// One line: "<code> at va 0x.. pa 0x.. level N (NAME): <sentence>".
std::string to_string(const Error& e);

/// One merged run of leaves in a dump.
struct DumpRange {
  VirtAddr va{};
  PhysAddr pa{};
  std::uint64_t size = 0;       ///< total bytes
  std::uint64_t leaf_size = 0;  ///< bytes per leaf
  std::uint64_t count = 0;      ///< leaves merged
  const char* level_name = "";
  Attrs attrs{};
  bool contiguous = false;
  bool operator==(const DumpRange&) const = default;
};

/// Leaves of a tree merged into ranges: consecutive leaves merge when they sit at the same level
/// with the same attributes and continue both the VA and the PA.
template <PagingFormat F, TableAccess A>
Result<std::vector<DumpRange>> dump_ranges(const Tree<F>& tree, A& access) {
  std::vector<DumpRange> out;
  auto r = for_each_leaf(tree, access, [&](const Leaf<F>& l) {
    if (!out.empty()) {
      DumpRange& b = out.back();
      if (b.leaf_size == l.size && b.attrs == l.attrs && b.contiguous == l.contiguous &&
          b.va + b.size == l.va && b.pa + b.size == l.pa) {
        b.size += l.size;
        ++b.count;
        return;
      }
    }
    out.push_back(DumpRange{l.va, l.pa, l.size, l.size, 1, F::level_name(l.level), l.attrs, l.contiguous});
  });
  if (!r) return r.error();
  return out;
}

/// One line per merged range, like Linux's kernel page-table dump:
///   0x0000000040000000-0x0000000080000000 -> 0x0000000080000000  1G   1 x 1G VPN[2]  rw- g
std::string format_range(const DumpRange& r);

/// The whole tree as text (one format_range line each); on a malformed tree, the error line.
template <PagingFormat F, TableAccess A>
std::string dump(const Tree<F>& tree, A& access) {
  auto ranges = dump_ranges(tree, access);
  if (!ranges) return "error: " + to_string(ranges.error()) + "\n";
  std::string s;
  for (const auto& r : *ranges) s += format_range(r) + "\n";
  return s;
}

/// validate() with a scratch it sizes itself (grown and the check re-run until every table fits).
template <PagingFormat F, TableAccess A>
Validation validate(const Tree<F>& tree, A& access, const ValidateOptions& opts = {}) {
  std::vector<PhysAddr> scratch(opts.expected_tables.value_or(0) + 64);
  for (;;) {
    const Validation v = validate(tree, access, opts, std::span<PhysAddr>(scratch));
    if (v.tables_recorded < scratch.size()) return v;
    scratch.resize(2 * scratch.size());
  }
}

/// One line: "<problem> at va 0x.. pa 0x.. level N (NAME): <sentence>".
inline std::string to_string(const Finding& f) {
  std::string s = fmt::format("{} at va {:#018x} pa {:#018x}", name(f.what), f.va.value, f.pa.value);
  if (f.has_level()) s += fmt::format(" level {} ({})", int(f.level), f.level_name ? f.level_name : "?");
  return s + ": " + describe(f.what);
}

PTLIB_END_NAMESPACE

template <class Tag>
struct fmt::formatter<ptlib::detail::Address<Tag>> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const ptlib::detail::Address<Tag>& a, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "{:#018x}", a.value);
  }
};
template <>
struct fmt::formatter<ptlib::Error> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const ptlib::Error& e, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "{}", ptlib::to_string(e));
  }
};
template <>
struct fmt::formatter<ptlib::Attrs> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const ptlib::Attrs& a, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "{}", ptlib::to_string(a));
  }
};

#if PTLIB_HEADER_ONLY
#  define PTLIB_HOST_FUNC inline
#  include "host-inl.hpp"
#endif
