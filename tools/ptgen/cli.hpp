// ptgen's command line and the helpers its commands share (ptgen.cpp, memdump.cpp): options,
// numbers, JSON strings, format families, capabilities, and the dump/diff range output.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <ptlib/arm64_boot.hpp>
#include <ptlib/armv7_boot.hpp>
#include <ptlib/formats.hpp>
#include <ptlib/host.hpp>
#include <ptlib/layout.hpp>
#include <ptlib/riscv_boot.hpp>
#include <ptlib/x86_boot.hpp>

#include "inputs.hpp"

namespace ptgen {
using namespace ptlib;

[[noreturn]] inline void fail(const std::string& msg) { throw Failure(msg); }

// ---------------------------------------------------------------------------------------------
// Command line.
// ---------------------------------------------------------------------------------------------

/// Options of one command: which take a value (repeatable ones listed in `multi`), which are flags.
struct Spec {
  std::set<std::string> values, flags, multi;
  bool positional = false;
};

struct Args {
  std::string command;
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> flags;
  std::vector<std::string> positional;

  [[nodiscard]] bool has(const std::string& name) const { return values.count(name) || flags.count(name); }
  [[nodiscard]] const std::string* value(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second.back();
  }
  [[nodiscard]] const std::string& need(const std::string& name) const {
    const std::string* v = value(name);
    if (!v) fail(fmt::format("{}: --{} is required", command, name));
    return *v;
  }
  [[nodiscard]] bool flag(const std::string& name) const { return flags.count(name) != 0; }
};

inline Args parse_args(int argc, char** argv, const std::map<std::string, Spec>& specs) {
  Args a;
  if (argc < 2) fail("no command (try: ptgen help)");
  a.command = argv[1];
  auto spec = specs.find(a.command);
  if (spec == specs.end()) fail(fmt::format("unknown command '{}' (try: ptgen help)", a.command));
  const Spec& s = spec->second;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() > 2 && arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2), val;
      const auto eq = name.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) val = name.substr(eq + 1), name = name.substr(0, eq);
      if (s.flags.count(name)) {
        if (inline_value) fail(fmt::format("{}: --{} takes no value", a.command, name));
        a.flags.insert(name);
      } else if (s.values.count(name)) {
        if (!inline_value) {
          if (i + 1 >= argc) fail(fmt::format("{}: --{} needs a value", a.command, name));
          val = argv[++i];
        }
        if (a.values.count(name) && !s.multi.count(name)) fail(fmt::format("{}: --{} given twice", a.command, name));
        a.values[name].push_back(val);
      } else {
        fail(fmt::format("{}: unknown option --{}", a.command, name));
      }
    } else if (s.positional) {
      a.positional.push_back(arg);
    } else {
      fail(fmt::format("{}: unexpected argument '{}'", a.command, arg));
    }
  }
  return a;
}

inline std::uint64_t number(const std::string& text, const std::string& what) {
  auto v = parse_number(text);
  if (!v) fail(fmt::format("malformed number '{}' for {}", text, what));
  return *v;
}

inline std::string hex(std::uint64_t v) { return fmt::format("{:#018x}", v); }

/// A string as a JSON string literal.
inline std::string json_str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", unsigned(c));
    else out += c;
  }
  return out + "\"";
}


// ---------------------------------------------------------------------------------------------
// Families: which registers, layout and kernel-half tree go with a format.
// ---------------------------------------------------------------------------------------------

template <class F>
inline constexpr bool kRiscv = std::is_same_v<typename F::Level, riscv::Level>;
template <class F>
inline constexpr bool kArm64 = arm64::regs::kIsVmsa<F>;
template <class F>
inline constexpr bool kX86 = x86::detail::kIsX86<F>;
template <class F>
inline constexpr bool kArmv7 = armv7::detail::kIsLpae<F>;

/// The TTBR1 (high-range) counterpart of an arm64 TTBR0 format; F itself for every other.
template <class F>
struct HighHalf {
  using type = F;
};
template <arm64::Granule Gr, unsigned V, unsigned O>
struct HighHalf<arm64::Vmsa<Gr, V, VaRule::low, O>> {
  using type = arm64::Vmsa<Gr, V, VaRule::high, O>;
};

/// Calls fn<F>() or, with --ttbr1, fn<the TTBR1 counterpart of F>() (arm64 only).
template <class F, class Fn>
void with_range(const Args& a, Fn&& fn) {
  if (!a.flag("ttbr1")) return fn.template operator()<F>();
  if constexpr (kArm64<F>) fn.template operator()<typename HighHalf<F>::type>();
  else fail(fmt::format("--ttbr1: {} is not an arm64 format", F::kName));
}

/// The kernel layout ptlib ships for F, or nullptr.
template <class F>
const Layout* layout_of() {
  using G = Geometry<F>;
  if constexpr (kRiscv<F>) return &riscv::layout<F>();
  else if constexpr (kX86<F>) return &x86::layout<F>();
  else if constexpr (kArm64<F>) {
    if constexpr (G::kVaBits == 48 || G::kVaBits == 52) return &arm64::layout<G::kVaBits>();
    else return nullptr;
  } else if constexpr (kArmv7<F>) {
    return &armv7::kLayout3g;  // one Lpae<32> tree (T0SZ = T1SZ = 0: TTBR0 translates all 4 GiB)
  } else {
    return nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// Capabilities.
// ---------------------------------------------------------------------------------------------

/// Calls fn(name, member) for every capability flag F::Caps has.
template <class C, class Fn>
void for_each_cap(C& c, Fn&& fn) {
  if constexpr (requires { c.svnapot; }) fn("svnapot", c.svnapot);
  if constexpr (requires { c.svpbmt; }) fn("svpbmt", c.svpbmt);
  if constexpr (requires { c.page1g; }) fn("page1g", c.page1g);
  if constexpr (requires { c.nx; }) fn("nx", c.nx);
  if constexpr (requires { c.pse; }) fn("pse", c.pse);
  if constexpr (requires { c.pat; }) fn("pat", c.pat);
}

/// Every optional feature on: what any CPU of the family may have written (readers' default).
template <class F>
typename F::Caps all_caps() {
  typename F::Caps c{};
  for_each_cap(c, [](const char*, bool& v) { v = true; });
  return c;
}

/// `base` with the comma list of --caps applied ("svpbmt,no-nx").
template <class F>
typename F::Caps caps_from(const Args& a, typename F::Caps base) {
  const std::string* list = a.value("caps");
  if (!list) return base;
  std::string_view s = *list;
  while (!s.empty()) {
    const auto comma = s.find(',');
    std::string_view tok = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    if (tok.empty()) continue;
    const bool on = tok.substr(0, 3) != "no-";
    if (!on) tok.remove_prefix(3);
    bool found = false;
    std::string known;
    for_each_cap(base, [&](const char* name, bool& v) {
      known += known.empty() ? name : fmt::format(", {}", name);
      if (tok == name) v = on, found = true;
    });
    if (!found)
      fail(fmt::format("--caps: {} has no capability '{}' ({})", F::kName, tok, known.empty() ? "it has none" : "it has: " + known));
  }
  return base;
}


template <class Fn>
int with_named_format(const Args& a, Fn&& fn) {
  const std::string& name = a.need("format");
  int rc = 0;
  if (!with_format(name.c_str(), [&]<class F>() { rc = fn.template operator()<F>(); })) {
    std::string all;
    for (const char* n : kFormatNames) all += (all.empty() ? "" : " ") + std::string(n);
    fail(fmt::format("unknown format '{}' (formats: {})", name, all));
  }
  return rc;
}

inline std::string range_text(std::uint64_t a, std::uint64_t size) { return fmt::format("[{}, {})", hex(a), hex(a + size)); }

inline std::string range_json(const DumpRange& r) {
  return fmt::format(
      "{{\"va\": \"{}\", \"pa\": \"{}\", \"size\": \"{:#x}\", \"leaf_size\": \"{:#x}\", \"count\": {}, \"level\": {}, "
      "\"attrs\": {}, \"contiguous\": {}}}",
      hex(r.va.value), hex(r.pa.value), r.size, r.leaf_size, r.count, json_str(r.level_name), json_str(to_string(r.attrs)),
      r.contiguous ? "true" : "false");
}

/// --mair VALUE (arm64 tables read from memory): the memory type of a leaf as the guest's
/// MAIR_EL1 defines it rather than as ptlib's layout does (arm64::kMair). A MAIR Attr<n> byte
/// (Arm ARM D19.2, MAIR_EL1): 0b0000ddxx Device (any kind: device); else Normal with the outer
/// cacheability in [7:4] and the inner in [3:0]: both Non-cacheable (0b0100): normal_nc; both
/// Write-Back (0b01RW with RW != 0, 0b11RW), or 0xF0 (FEAT_MTE2 Tagged Normal Write-Back): normal;
/// anything else (Write-Through, mixed): other.
inline MemType mem_of_mair_attr(std::uint8_t attr) {
  const unsigned outer = attr >> 4, inner = attr & 0xF;
  auto wb = [](unsigned c) { return (c & 0xC) == 0xC || ((c & 0xC) == 0x4 && (c & 3) != 0); };
  if (outer == 0) return MemType::device;
  if (outer == 0x4 && inner == 0x4) return MemType::normal_nc;
  if (attr == 0xF0 || (wb(outer) && wb(inner))) return MemType::normal;
  return MemType::other;
}

/// `at` with its memory type read from `mair` (the AttrIndx ptlib decoded: its layout's index of
/// the memory type for 0..2, the extension's index for the others).
template <class F>
Attrs with_guest_mair(Attrs at, std::optional<std::uint64_t> mair) {
  if constexpr (kArm64<F>) {
    if (!mair) return at;
    const unsigned ext = unsigned(arm64::ext_of(at).attr_index);
    const unsigned idx = at.mem == MemType::normal      ? 0
                         : at.mem == MemType::normal_nc ? 1
                         : at.mem == MemType::device    ? 2
                         : ext != 0                     ? ext - 1
                                                        : 8;
    if (idx < 8) at.mem = mem_of_mair_attr(std::uint8_t(*mair >> (8 * idx)));
  }
  return at;
}

/// --mair's value, refused for formats other than arm64's.
template <class F>
std::optional<std::uint64_t> guest_mair(const Args& a) {
  const std::string* v = a.value("mair");
  if (!v) return std::nullopt;
  if (!kArm64<F>) fail(fmt::format("--mair: {} tables have no MAIR (arm64 formats only)", F::kName));
  return number(*v, "--mair");
}

/// translate: every positional VA through the engine's translate() on `tree`, printed as text
/// or --json; `note(error)` adds words to an error's text line.
template <class F, class A, class Note>
int print_translations(const Args& a, const Tree<F>& tree, A& access, Note&& note) {
  if (a.positional.empty()) fail("translate: no VA given");
  const auto mair = guest_mair<F>(a);
  std::string json;
  for (const std::string& text : a.positional) {
    const std::uint64_t va = number(text, "a VA");
    auto t = translate(tree, access, VirtAddr(va));
    if (t) t->leaf.attrs = with_guest_mair<F>(t->leaf.attrs, mair);
    if (a.flag("json")) {
      json += json.empty() ? "[\n  " : ",\n  ";
      if (t)
        json += fmt::format("{{\"va\": \"{}\", \"pa\": \"{}\", \"leaf_size\": \"{:#x}\", \"level\": {}, \"attrs\": {}}}",
                            hex(va), hex(t->pa.value), t->leaf.size, json_str(F::level_name(t->leaf.level)),
                            json_str(to_string(t->leaf.attrs)));
      else
        json += fmt::format("{{\"va\": \"{}\", \"error\": {}}}", hex(va), json_str(name(t.error().code)));
    } else if (t) {
      fmt::print("{} -> {} {} {} {}\n", hex(va), hex(t->pa.value), size_string(t->leaf.size), F::level_name(t->leaf.level),
                 to_string(t->leaf.attrs));
    } else {
      fmt::print("{}: {}{}\n", hex(va), to_string(t.error()), note(t.error()));
    }
  }
  if (a.flag("json")) fmt::print("{}\n]\n", json);
  return 0;
}

/// What two range lists map differently, printed (text or --json); returns 0 when the same, 1
/// when they differ (ptgen.cpp).
int cmd_diff_ranges(const Args& a, const char* format, const std::vector<DumpRange>& ra, const std::vector<DumpRange>& rb);

}  // namespace ptgen
