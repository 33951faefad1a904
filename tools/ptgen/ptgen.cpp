// ptgen: builds, dumps, compares and explains page tables of every ptlib format from the command
// line (see `ptgen help` and the README's ptgen section). The commands that work on one format
// are in commands.hpp, compiled a few families at a time (commands-*.cpp); this file parses the
// command line, lists the formats and dispatches.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <elf.h>
#include <fmt/format.h>

#include <ptlib/arm64_boot.hpp>
#include <ptlib/armv7_boot.hpp>
#include <ptlib/formats.hpp>
#include <ptlib/host.hpp>
#include <ptlib/layout.hpp>
#include <ptlib/maps.hpp>
#include <ptlib/riscv_boot.hpp>
#include <ptlib/tables.hpp>
#include <ptlib/x86_boot.hpp>

#include "commands.hpp"
#include "inputs.hpp"
#include "memdump.hpp"

namespace ptgen {

// Declared in commands.hpp.
void write_file(const std::string& path, const void* data, std::size_t bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(static_cast<const char*>(data), std::streamsize(bytes));
  if (!out) fail(fmt::format("{}: cannot write", path));
}
void write_file(const std::string& path, const std::string& text) { write_file(path, text.data(), text.size()); }

/// A size for people: the largest binary unit (K, M, G, T, P, E) that divides it, when that
/// takes at most 4 digits ("2G", "3056M"); else about so many of the largest unit it reaches,
/// to two decimals ("~123.99T" for 130021120M).
std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"", "K", "M", "G", "T", "P", "E"};
  for (int u = 6; u >= 0; --u) {
    const std::uint64_t unit = std::uint64_t{1} << (10 * u);
    if (bytes % unit == 0 && bytes / unit < 10000) return fmt::format("{}{}", bytes / unit, kUnits[u]);
  }
  int u = 6;
  while (u > 0 && bytes < (std::uint64_t{1} << (10 * u))) --u;
  return fmt::format("~{:.2f}{}", double(bytes) / double(std::uint64_t{1} << (10 * u)), kUnits[u]);
}

std::string request_line(const Request& r) {
  return fmt::format("{}-{} -> {} {:>6} {:<10} {}", hex(r.va), hex(r.va + r.size), hex(r.pa), size_string(r.size),
                     to_string(r.attrs), r.what);
}

Request parse_map(const std::string& m) {
  std::vector<std::string> f;
  std::size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    const auto colon = m.find(':', start);
    if (colon == std::string::npos) fail(fmt::format("--map '{}': expected VA:PA:SIZE:ATTRS", m));
    f.push_back(m.substr(start, colon - start));
    start = colon + 1;
  }
  f.push_back(m.substr(start));
  Request r;
  r.what = "map";
  r.va = number(f[0], "the VA of --map " + m);
  r.pa = number(f[1], "the PA of --map " + m);
  r.size = number(f[2], "the size of --map " + m);
  auto at = parse_attrs(f[3]);
  if (!at) fail(fmt::format("--map '{}': malformed attributes '{}' (a triple like rwx, r-x, rw- plus u, g, dev, nc, wc)", m, f[3]));
  r.attrs = *at;
  return r;
}

std::string map_error(const Request& r, const Error& e) {
  return fmt::format("{} {}-{} -> {} ({}): {}", r.what, hex(r.va), hex(r.va + r.size), hex(r.pa), to_string(r.attrs),
                     to_string(e));
}

Options engine_options(const Args& a) {
  Options o = a.flag("page-only") ? Options::page_only() : Options{};
  o.contiguous = !a.flag("no-contig");
  o.allow_implied_exec = a.flag("allow-implied-exec");
  return o;
}

/// `banks` without the pages of `holes` (each hole widened to whole pages).
std::vector<Bank> carve(const std::vector<Bank>& banks, const std::vector<PhysRange>& holes, std::uint64_t page) {
  std::vector<Bank> out = banks;
  for (const PhysRange& h : holes) {
    const std::uint64_t lo = align_down(h.pa, page);
    const std::uint64_t hi = h.pa + h.size < h.pa ? ~std::uint64_t{0} & ~(page - 1) : align_down(h.pa + h.size + page - 1, page);
    std::vector<Bank> next;
    for (const Bank& b : out) {
      const std::uint64_t blo = b.pa.value, bhi = b.pa.value + b.size;
      if (hi <= blo || lo >= bhi) {
        next.push_back(b);
        continue;
      }
      if (lo > blo) next.push_back(Bank{PhysAddr(blo), lo - blo});
      if (hi < bhi) next.push_back(Bank{PhysAddr(hi), bhi - hi});
    }
    out = next;
  }
  return out;
}

namespace {

constexpr const char* kUsage = R"(usage: ptgen COMMAND [options]
  formats [--json]                          every format: levels, VA/PA bits, leaf sizes
  layout --format F [--json]                the kernel VA layout ptlib uses for F
  build --format F --base PA [--map VA:PA:SIZE:ATTRS ...] [--page-only] [--no-contig] [--allow-implied-exec]
        [--dtb machine.dtb [--kernel kernel.elf] [--load PA] [--allow-wx] [--console-attrs ATTRS] [--map-no-map]]
        [--caps LIST] [--ttbr1] [--image out.bin] [--json out.json]
                                            tables for physical address PA, root first
  dump --format F --image in.bin --base PA [--root PA] [--caps LIST] [--ttbr1] [--build out.json] [--json]
       [--check-wx [--kernel-range VA:SIZE]] merged ranges: VA range -> PA, size, leaves, level, attributes;
                                            --check-wx: every writable+executable leaf (W^X audit) and
                                            with --kernel-range every user-accessible leaf in that
                                            range; exit 1 if any (2 on errors)
  diff --format F A.bin B.bin --base PA [--base-b PA] [--root PA] [--root-b PA] [--caps LIST] [--ttbr1]
       [--build out.json] [--json]          what two images map differently (exit 1 when they differ)
  translate --format F --image in.bin --base PA [--root PA] [--caps LIST] [--ttbr1] [--build out.json] [--json] VA...
                                            the engine's translate() on a loaded image
  dump|translate|diff --core guest.core | --raw mem.bin --base PA   [--format F] [--root PA] [--cpu N]
       [--style ptlib|linux] [--markers FILE|none] [--check-wx] [--allow-recursive] [--max-visits N]
       [--mair MAIR_EL1] [diff: --core-b FILE | --raw-b FILE | --root-b PA | --cpu-b N]
                                            tables read from physical memory: a QEMU dump-guest-memory
                                            ELF core or a raw image (x86 cores: root and format from
                                            the CPU note); problems listed, then exit 1; --check-wx:
                                            W+X ranges, exit 1 if any (2 on errors); --mair: arm64
                                            memory types as the guest's MAIR_EL1 defines them
Numbers: decimal, 0x hex, K/M/G/T suffixes (4K, 0x8000_0000, 2M). ATTRS: rwx triple (r-x, rw-, r--)
plus u (user), g (global), dev/nc/wc (memory type), e.g. rw-,g,dev. Caps (comma list, no- to clear):
svnapot svpbmt (RISC-V), page1g nx pse pat (x86). Errors: one line on stderr, exit status 1.
--dtb builds: the linear map leaves out /reserved-memory regions with no-map (--map-no-map maps
them) and, on 32-bit layouts, RAM past lowmem (highmem); a console whose status is not "okay" is
not mapped; a console inside RAM is refused unless mapped as normal memory (--console-attrs rw-,g).
Kernel segments are mapped at their own p_paddr (--load PA moves the whole image), with their
p_flags; p_flags 0: not mapped; execute-only or write-only where the format cannot say so: read
added, with a note. --allow-implied-exec: formats without NX (x86-32) map rw-/r-- as executable.
An arm64 --dtb image is a TTBR1 tree: dump it with --ttbr1, or --build out.json (its build's JSON).
)";

// ---------------------------------------------------------------------------------------------
// formats, layout.
// ---------------------------------------------------------------------------------------------

template <class F>
struct FormatInfo {
  using G = Geometry<F>;
  static std::vector<std::string> levels() {
    std::vector<std::string> out;
    for (std::size_t d = 0; d < G::kDepth; ++d) out.push_back(F::level_name(G::level(d)));
    return out;
  }
  /// Leaf sizes with the format's default capabilities, then those that need a capability, then
  /// contiguous runs (smallest first).
  static void leaves(std::vector<std::uint64_t>& plain, std::vector<std::uint64_t>& with_caps,
                     std::vector<std::uint64_t>& contig) {
    for (std::size_t d = G::kDepth; d-- > 0;) {
      const auto l = G::level(d);
      if (F::can_leaf(l, typename F::Caps{})) plain.push_back(G::span(d));
      else if (F::can_leaf(l, all_caps<F>())) with_caps.push_back(G::span(d));
      if (unsigned k = F::contig_log2(l, all_caps<F>()); k != 0) contig.push_back(G::span(d) << k);
    }
  }
};

std::string sizes(const std::vector<std::uint64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : " ") + size_string(x);
  return s;
}

int cmd_formats(const Args& a) {
  const bool json = a.flag("json");
  std::string out = json ? "[\n" : fmt::format("{:<13} {:<36} {:>3} {:>3}  {}\n", "name", "levels (root first)", "VA", "PA", "leaves");
  bool first = true;
  for (const char* name : kFormatNames) {
    with_format(name, [&]<class F>() {
      using G = Geometry<F>;
      std::vector<std::uint64_t> plain, caps, contig;
      FormatInfo<F>::leaves(plain, caps, contig);
      const auto levels = FormatInfo<F>::levels();
      std::string lv;
      for (const auto& l : levels) lv += (lv.empty() ? "" : " ") + l;
      if (json) {
        std::string jl;
        for (const auto& l : levels) jl += (jl.empty() ? "" : ", ") + json_str(l);
        auto nums = [](const std::vector<std::uint64_t>& v) {
          std::string s;
          for (auto x : v) s += fmt::format("{}{}", s.empty() ? "" : ", ", x);
          return s;
        };
        const char* rule = F::kVaRule == VaRule::low ? "low" : F::kVaRule == VaRule::high ? "high" : "sign_extend";
        out += fmt::format(
            "{}  {{\"name\": {}, \"levels\": [{}], \"va_bits\": {}, \"pa_bits\": {}, \"va_rule\": \"{}\", "
            "\"page\": {}, \"entry_bytes\": {}, \"leaves\": [{}], \"cap_leaves\": [{}], \"contiguous\": [{}], "
            "\"caps\": [{}], \"has_layout\": {}}}",
            first ? "" : ",\n", json_str(F::kName), jl, G::kVaBits, F::kPaBits, rule, G::kPageSize,
            sizeof(typename F::Entry), nums(plain), nums(caps), nums(contig),
            [] {
              std::string s;
              typename F::Caps c{};
              for_each_cap(c, [&](const char* n, bool&) { s += (s.empty() ? "" : ", ") + json_str(n); });
              return s;
            }(),
            layout_of<F>() ? "true" : "false");
      } else {
        std::string leaves = sizes(plain);
        if (!caps.empty()) leaves += " (+" + sizes(caps) + " with caps)";
        if (!contig.empty()) leaves += " (contiguous runs " + sizes(contig) + ")";
        out += fmt::format("{:<13} {:<36} {:>3} {:>3}  {}\n", F::kName, lv, G::kVaBits, F::kPaBits, leaves);
      }
      first = false;
    });
  }
  if (json) out += "\n]\n";
  fmt::print("{}", out);
  return 0;
}

/// Where [from, to) of two images differ: the mapping of the first byte in each (none = absent).
__extension__ typedef unsigned __int128 U128;  // range ends: a range may end at 2^64

struct DiffRun {
  char kind;  // '-' only in A, '+' only in B, '~' both, mapped differently
  U128 from, to;
  const DumpRange* a;
  const DumpRange* b;
};

}  // namespace

int cmd_diff_ranges(const Args& a, const char* format, const std::vector<DumpRange>& ra, const std::vector<DumpRange>& rb) {
  using U = U128;
  auto end = [](const DumpRange& r) { return U(r.va.value) + r.size; };
  std::vector<DiffRun> runs;
  std::size_t i = 0, j = 0;
  U cur = 0;
  auto pa_at = [](const DumpRange& r, U va) { return r.pa.value + std::uint64_t(va - r.va.value); };
  while (i < ra.size() || j < rb.size()) {
    while (i < ra.size() && end(ra[i]) <= cur) ++i;
    while (j < rb.size() && end(rb[j]) <= cur) ++j;
    if (i == ra.size() && j == rb.size()) break;
    const DumpRange* x = i < ra.size() && ra[i].va.value <= cur ? &ra[i] : nullptr;
    const DumpRange* y = j < rb.size() && rb[j].va.value <= cur ? &rb[j] : nullptr;
    if (!x && !y) {  // jump to the next range start
      U next = ~U{0};
      if (i < ra.size()) next = std::min(next, U(ra[i].va.value));
      if (j < rb.size()) next = std::min(next, U(rb[j].va.value));
      cur = next;
      continue;
    }
    U next = ~U{0};
    if (x) next = std::min(next, end(*x));
    else if (i < ra.size()) next = std::min(next, U(ra[i].va.value));
    if (y) next = std::min(next, end(*y));
    else if (j < rb.size()) next = std::min(next, U(rb[j].va.value));
    const bool same = x && y && pa_at(*x, cur) == pa_at(*y, cur) && x->attrs == y->attrs;
    if (!same) {
      const char kind = x && y ? '~' : x ? '-' : '+';
      DiffRun* last = runs.empty() ? nullptr : &runs.back();
      const bool continues = last && last->kind == kind && last->to == cur &&
                             (!x || (last->a && pa_at(*last->a, last->from) + std::uint64_t(cur - last->from) == pa_at(*x, cur) &&
                                     last->a->attrs == x->attrs)) &&
                             (!y || (last->b && pa_at(*last->b, last->from) + std::uint64_t(cur - last->from) == pa_at(*y, cur) &&
                                     last->b->attrs == y->attrs));
      if (continues) last->to = next;
      else runs.push_back(DiffRun{kind, cur, next, x, y});
    }
    cur = next;
  }
  auto side = [&](const DumpRange* r, U from) {
    return r ? fmt::format("{} {}", hex(pa_at(*r, from)), to_string(r->attrs)) : std::string("unmapped");
  };
  if (a.flag("json")) {
    std::string s = fmt::format("{{\"format\": {}, \"same\": {}, \"differences\": [", json_str(format), runs.empty() ? "true" : "false");
    for (std::size_t k = 0; k < runs.size(); ++k) {
      const DiffRun& d = runs[k];
      auto js = [&](const DumpRange* r) {
        return r ? fmt::format("{{\"pa\": \"{}\", \"attrs\": {}}}", hex(pa_at(*r, d.from)), json_str(to_string(r->attrs)))
                 : std::string("null");
      };
      s += fmt::format("{}\n  {{\"kind\": \"{}\", \"va\": \"{}\", \"size\": \"{:#x}\", \"a\": {}, \"b\": {}}}", k ? "," : "",
                       d.kind, hex(std::uint64_t(d.from)), std::uint64_t(d.to - d.from), js(d.a), js(d.b));
    }
    fmt::print("{}\n]}}\n", s);
  } else {
    for (const DiffRun& d : runs)
      fmt::print("{} {}-{} {:>6}  A: {:<28} B: {}\n", d.kind, hex(std::uint64_t(d.from)), hex(std::uint64_t(d.to)),
                 size_string(std::uint64_t(d.to - d.from)), side(d.a, d.from), side(d.b, d.from));
    if (runs.empty()) fmt::print("same mappings\n");
  }
  return runs.empty() ? 0 : 1;
}

namespace {

// ---------------------------------------------------------------------------------------------

/// The value of "key" in the JSON `build --json` writes: a string's contents, or a bare word
/// (true, false, a number). Empty when absent.
std::string build_json_value(const std::string& text, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const auto at = text.find(k);
  if (at == std::string::npos) return {};
  std::size_t i = at + k.size();
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size() && text[i] == '"') {
    const auto close = text.find('"', i + 1);
    return close == std::string::npos ? std::string() : text.substr(i + 1, close - i - 1);
  }
  std::size_t j = i;
  while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
  return text.substr(i, j - i);
}

/// --build FILE (dump, translate, diff): the format, base, root and TTBR range of an image from
/// the JSON its `build --json` wrote. Options given as well must agree with it.
void apply_build_json(Args& a) {
  const std::string& path = *a.value("build");
  const std::vector<unsigned char> bytes = read_file(path);
  const std::string text(bytes.begin(), bytes.end());
  const std::string format = build_json_value(text, "format"), base = build_json_value(text, "base"),
                    root = build_json_value(text, "root"), ttbr1 = build_json_value(text, "ttbr1");
  if (format.empty() || base.empty() || (ttbr1 != "true" && ttbr1 != "false"))
    fail(fmt::format("--build {}: not the JSON of ptgen build --json (no \"format\", \"base\" or \"ttbr1\")", path));
  auto take = [&](const char* opt, const std::string& v, bool numeric) {
    if (const std::string* given = a.value(opt)) {
      const bool same = numeric ? number(*given, std::string("--") + opt) == number(v, path) : *given == v;
      if (!same) fail(fmt::format("--{} {} disagrees with --build {} ({})", opt, *given, path, v));
      return;
    }
    a.values[opt] = {v};
  };
  take("format", format, false);
  take("base", base, true);
  if (!root.empty() && a.command != "diff") take("root", root, true);
  if (ttbr1 == "true") a.flags.insert("ttbr1");
  else if (a.flag("ttbr1"))
    fail(fmt::format("--ttbr1 disagrees with --build {}: that image is a TTBR0 (or single-range) tree", path));
}

int run(int argc, char** argv) {
  const std::set<std::string> reader{"format", "base", "root", "caps"};
  auto with = [](std::set<std::string> s, std::initializer_list<const char*> more) {
    for (const char* m : more) s.insert(m);
    return s;
  };
  auto memory = [](std::set<std::string> s) {  // --core/--raw and the options that go with them
    for (const char* m : kMemoryValues) s.insert(m);
    return s;
  };
  auto memory_flags = [](std::set<std::string> s) {
    for (const char* m : kMemoryFlags) s.insert(m);
    return s;
  };
  const std::map<std::string, Spec> specs{
      {"help", Spec{}},
      {"formats", Spec{{}, {"json"}, {}, false}},
      {"layout", Spec{{"format"}, {"json"}, {}, false}},
      {"build", Spec{{"format", "base", "map", "image", "json", "dtb", "kernel", "load", "caps", "console-attrs"},
                     {"page-only", "no-contig", "allow-wx", "ttbr1", "map-no-map", "allow-implied-exec"},
                     {"map"},
                     false}},
      {"dump", Spec{memory(with(reader, {"image", "build", "kernel-range"})), memory_flags({"json", "ttbr1"}), {}, false}},
      {"translate", Spec{memory(with(reader, {"image", "build"})), memory_flags({"json", "ttbr1"}), {}, true}},
      {"diff", Spec{memory(with(reader, {"base-b", "root-b", "build"})), memory_flags({"json", "ttbr1"}), {}, true}},
  };
  if (argc >= 2 && (std::string_view(argv[1]) == "help" || std::string_view(argv[1]) == "--help")) {
    fmt::print("{}", kUsage);
    return 0;
  }
  Args a = parse_args(argc, argv, specs);
  if (a.value("build")) apply_build_json(a);
  if (a.command == "formats") return cmd_formats(a);
  if (reads_memory(a)) {
    if (a.value("image") || a.value("build")) fail(fmt::format("{}: --core/--raw read physical memory; --image/--build read a ptlib image: give one", a.command));
    if (a.value("kernel-range")) fail(fmt::format("{}: --kernel-range audits an image (--image); not yet with --core/--raw", a.command));
    if (a.command == "dump") return cmd_dump_memory(a);
    if (a.command == "translate") return cmd_translate_memory(a);
    if (a.command == "diff") return cmd_diff_memory(a);
  }
  for (const char* m : kMemoryValues)
    if (a.value(m)) fail(fmt::format("{}: --{} goes with --core or --raw", a.command, m));
  for (const char* m : kMemoryFlags)  // (dump --check-wx also audits an image)
    if (a.flag(m) && !(a.command == "dump" && std::string_view(m) == "check-wx"))
      fail(fmt::format("{}: --{} goes with --core or --raw", a.command, m));
  return with_named_format(a, [&]<class F>() { return run_format<F>(a); });
}

}  // namespace
}  // namespace ptgen

int main(int argc, char** argv) {
  try {
    return ptgen::run(argc, argv);
  } catch (const ptgen::Failure& e) {
    std::fflush(stdout);
    fmt::print(stderr, "ptgen: {}\n", e.what());
    // Commands that answer a question with their exit status (diff: differ; --check-wx: W+X
    // found) report errors with 2.
    bool checking = argc >= 2 && std::string_view(argv[1]) == "diff";
    for (int i = 2; i < argc; ++i) checking = checking || std::string_view(argv[i]) == "--check-wx";
    return checking ? 2 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "ptgen: {}\n", e.what());
    return 1;
  }
}
