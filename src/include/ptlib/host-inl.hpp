// Out-of-line definitions of host.hpp (compiled once in src/host.cpp, or inline under
// PTLIB_HEADER_ONLY).
#pragma once
#include <cctype>

#include "host.hpp"

#ifndef PTLIB_HOST_FUNC
#  define PTLIB_HOST_FUNC
#endif

PTLIB_BEGIN_NAMESPACE

PTLIB_HOST_FUNC std::string to_string(const Attrs& a) {
  std::string s;
  s += a.read() ? 'r' : '-';
  s += a.write() ? 'w' : '-';
  s += a.exec() ? 'x' : '-';
  std::string flags;
  if (a.user()) flags += 'u';
  if (a.global()) flags += 'g';
  switch (a.mem) {
    case MemType::normal: break;
    case MemType::normal_nc: flags += flags.empty() ? "nc" : ",nc"; break;
    case MemType::device: flags += flags.empty() ? "dev" : ",dev"; break;
    case MemType::wc: flags += flags.empty() ? "wc" : ",wc"; break;
    case MemType::other: flags += flags.empty() ? "other" : ",other"; break;
  }
  // A family's extension (arm64::Ext, x86::Ext, ...): its packed bits, for logs and dumps.
  if (!a.ext.empty()) flags += fmt::format("{}ext:{:#x}", flags.empty() ? "" : ",", a.ext.value);
  return flags.empty() ? s : s + " " + flags;
}

PTLIB_HOST_FUNC std::optional<Attrs> parse_attrs(std::string_view s) {
  if (s.size() < 3) return std::nullopt;
  Attrs a{Perm::none, MemType::normal};
  const char* triple = "rwx";
  for (int i = 0; i < 3; ++i) {
    if (s[i] == triple[i]) a.perm = a.perm | Perm(1U << i);
    else if (s[i] != '-') return std::nullopt;
  }
  s.remove_prefix(3);
  bool mem_set = false;
  while (!s.empty()) {
    if (s[0] == ' ' || s[0] == ',') { s.remove_prefix(1); continue; }
    auto take = [&](std::string_view w) {
      if (s.substr(0, w.size()) != w) return false;
      s.remove_prefix(w.size());
      return true;
    };
    auto set_mem = [&](MemType m) {
      if (mem_set) return false;
      a.mem = m;
      return mem_set = true;
    };
    if (take("dev")) { if (!set_mem(MemType::device)) return std::nullopt; }
    else if (take("nc")) { if (!set_mem(MemType::normal_nc)) return std::nullopt; }
    else if (take("wc")) { if (!set_mem(MemType::wc)) return std::nullopt; }
    else if (take("u")) a.perm = a.perm | Perm::user;
    else if (take("g")) a.perm = a.perm | Perm::global;
    else return std::nullopt;
  }
  return a;
}

PTLIB_HOST_FUNC std::optional<std::uint64_t> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  unsigned base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  unsigned shift = 0;
  for (std::string_view suffix : {"iB", "B"}) {
    if (s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix) {
      s.remove_suffix(suffix.size());
      break;
    }
  }
  if (!s.empty() && base == 10) {
    switch (s.back()) {
      case 'K': case 'k': shift = 10; break;
      case 'M': case 'm': shift = 20; break;
      case 'G': case 'g': shift = 30; break;
      case 'T': case 't': shift = 40; break;
      default: break;
    }
    if (shift) s.remove_suffix(1);
  } else if (!s.empty() && base == 16) {
    switch (s.back()) {  // hex digits exclude K/M/G/T, so a suffix is unambiguous
      case 'K': case 'M': case 'G': case 'T':
        shift = s.back() == 'K' ? 10 : s.back() == 'M' ? 20 : s.back() == 'G' ? 30 : 40;
        s.remove_suffix(1);
        break;
      default: break;
    }
  }
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    unsigned d;
    if (c >= '0' && c <= '9') d = unsigned(c - '0');
    else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c))) d = unsigned(std::tolower(c) - 'a' + 10);
    else if (c == '_' || c == '\'') continue;
    else return std::nullopt;
    if (v > (~std::uint64_t{0} - d) / base) return std::nullopt;
    v = v * base + d;
  }
  if (shift && v > (~std::uint64_t{0} >> shift)) return std::nullopt;
  return v << shift;
}

PTLIB_HOST_FUNC std::string size_string(std::uint64_t bytes) {
  static constexpr struct { unsigned shift; char unit; } units[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (const auto& u : units)
    if (bytes && bytes % (std::uint64_t{1} << u.shift) == 0) return fmt::format("{}{}", bytes >> u.shift, u.unit);
  return fmt::format("{}", bytes);
}

PTLIB_HOST_FUNC std::string to_string(const Error& e) {
  std::string s(format_error(e, nullptr, 0), '\0');
  format_error(e, s.data(), s.size() + 1);  // writes the terminating NUL into s's own
  return s;
}

PTLIB_HOST_FUNC std::string format_range(const DumpRange& r) {
  return fmt::format("{:#018x}-{:#018x} -> {:#018x} {:>5} {:>6} x {:<4} {:<7} {}{}", r.va.value,
                     r.va.value + r.size, r.pa.value, size_string(r.size), r.count, size_string(r.leaf_size),
                     r.level_name, to_string(r.attrs), r.contiguous ? " contig" : "");
}

PTLIB_END_NAMESPACE
