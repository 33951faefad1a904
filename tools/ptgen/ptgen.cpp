// ptgen: builds, dumps, compares and explains page tables of every ptlib format from the command
// line (see `ptgen help` and the README's ptgen section).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
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

#include "inputs.hpp"

namespace ptgen {
namespace {
using namespace ptlib;

constexpr const char* kUsage = R"(usage: ptgen COMMAND [options]
  formats [--json]                          every format: levels, VA/PA bits, leaf sizes
  layout --format F [--json]                the kernel VA layout ptlib uses for F
  build --format F --base PA [--map VA:PA:SIZE:ATTRS ...] [--page-only] [--no-contig]
        [--dtb machine.dtb [--kernel kernel.elf] [--load PA] [--allow-wx] [--console-attrs ATTRS]]
        [--caps LIST] [--ttbr1] [--image out.bin] [--json out.json]
                                            tables for physical address PA, root first
  dump --format F --image in.bin --base PA [--root PA] [--caps LIST] [--ttbr1] [--json]
                                            merged ranges: VA range -> PA, size, leaves, level, attributes
  diff --format F A.bin B.bin --base PA [--base-b PA] [--root PA] [--root-b PA] [--caps LIST] [--ttbr1] [--json]
                                            what two images map differently (exit 1 when they differ)
  translate --format F --image in.bin --base PA [--root PA] [--caps LIST] [--ttbr1] [--json] VA...
                                            the engine's translate() on a loaded image
Numbers: decimal, 0x hex, K/M/G/T suffixes (4K, 0x8000_0000, 2M). ATTRS: rwx triple (r-x, rw-, r--)
plus u (user), g (global), dev/nc/wc (memory type), e.g. rw-,g,dev. Caps (comma list, no- to clear):
svnapot svpbmt (RISC-V), page1g nx pse pat (x86). Errors: one line on stderr, exit status 1.
)";

[[noreturn]] void fail(const std::string& msg) { throw Failure(msg); }

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

Args parse_args(int argc, char** argv, const std::map<std::string, Spec>& specs) {
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

std::uint64_t number(const std::string& text, const std::string& what) {
  auto v = parse_number(text);
  if (!v) fail(fmt::format("malformed number '{}' for {}", text, what));
  return *v;
}

std::string hex(std::uint64_t v) { return fmt::format("{:#018x}", v); }

/// A string as a JSON string literal.
std::string json_str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", unsigned(c));
    else out += c;
  }
  return out + "\"";
}

void write_file(const std::string& path, const void* data, std::size_t bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(static_cast<const char*>(data), std::streamsize(bytes));
  if (!out) fail(fmt::format("{}: cannot write", path));
}
void write_file(const std::string& path, const std::string& text) { write_file(path, text.data(), text.size()); }

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

/// The ELF e_machine a kernel for F has.
template <class F>
unsigned elf_machine() {
  if constexpr (kRiscv<F>) return EM_RISCV;
  else if constexpr (kArm64<F>) return EM_AARCH64;
  else if constexpr (kArmv7<F>) return EM_ARM;
  else if constexpr (std::is_same_v<F, x86::Long4> || std::is_same_v<F, x86::Long5>) return EM_X86_64;
  else return EM_386;
}

struct Reg {
  std::string name;
  std::uint64_t value;
};

/// The registers that turn `tree` on; the first is the one that holds the root.
template <class F>
std::vector<Reg> registers(const Tree<F>& tree) {
  std::vector<Reg> r;
  auto take = [&](const char* name, auto res) {
    if (!res) fail(fmt::format("{}: {}", name, to_string(res.error())));
    r.push_back({name, std::uint64_t(*res)});
  };
  if constexpr (kRiscv<F>) {
    take("satp", riscv::satp(tree));
  } else if constexpr (kX86<F>) {
    take("cr3", x86::cr3(tree));
    auto cr4 = x86::cr4<F>(tree.caps);
    if (!cr4) fail(fmt::format("cr4: {}", to_string(cr4.error())));
    r.push_back({"cr4_set", cr4->set});
    r.push_back({"efer_set", x86::efer<F>(tree.caps).set});
    r.push_back({"cr0_set", x86::kCr0.set});
  } else if constexpr (kArm64<F>) {
    if constexpr (F::kVaRule == VaRule::low) {
      take("ttbr0_el1", arm64::ttbr(tree));
      take("tcr_el1", arm64::tcr_el1<F>());
    } else {
      using Low = arm64::Vmsa<F::kGranule, Geometry<F>::kVaBits, VaRule::low, F::kPaBits>;
      take("ttbr1_el1", arm64::ttbr(tree));
      take("tcr_el1", arm64::tcr_el1<Low, F>());
    }
    r.push_back({"mair_el1", arm64::kMairEl1});
  } else if constexpr (kArmv7<F>) {
    take("ttbr0", armv7::ttbr(tree));
    r.push_back({"ttbcr", armv7::ttbcr<F>()});
    r.push_back({"mair0", armv7::kMair0});
    r.push_back({"mair1", armv7::kMair1});
  }
  return r;
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

template <class F>
int cmd_layout(const Args& a) {
  const Layout* l = layout_of<F>();
  if (!l) fail(fmt::format("layout: ptlib ships no kernel layout for {} (arm64: 48- and 52-bit VAs only)", F::kName));
  struct Row {
    const char* what;
    Region r;
  };
  const Row rows[] = {{"user", l->user}, {"linear", l->linear}, {"vmalloc", l->vmalloc},
                      {"image", l->image_window}, {"fixmap", l->fixmap}};
  if (a.flag("json")) {
    std::string s = fmt::format("{{\"format\": {}, \"layout\": {}, \"module_reach\": {}, \"regions\": [", json_str(F::kName),
                                json_str(l->name), l->module_reach);
    bool first = true;
    for (const Row& r : rows) {
      if (r.r.empty()) continue;
      s += fmt::format("{}{{\"what\": \"{}\", \"start\": \"{}\", \"size\": \"{:#x}\"}}", first ? "" : ", ", r.what,
                       hex(r.r.base.value), r.r.size);
      first = false;
    }
    fmt::print("{}]}}\n", s);
    return 0;
  }
  fmt::print("# {} layout '{}'{}\n", F::kName, l->name, kArm64<F> ? " (user: TTBR0, the rest: TTBR1)" : "");
  for (const Row& r : rows) {
    if (r.r.empty()) {
      if (std::string_view(r.what) == "image") fmt::print("{:<8} in the linear map\n", r.what);
      continue;
    }
    fmt::print("{:<8} {}-{} {:>6}\n", r.what, hex(r.r.base.value), hex(r.r.base.value + r.r.size), size_string(r.r.size));
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// build.
// ---------------------------------------------------------------------------------------------

/// One requested mapping.
struct Request {
  std::string what;
  std::uint64_t va = 0, pa = 0, size = 0;
  Attrs attrs{};
};

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

struct FreeBuffer {
  void operator()(void* p) const { std::free(p); }
};

/// Table memory for an image and the builder over it.
template <class F>
struct Image {
  std::unique_ptr<void, FreeBuffer> buffer;
  ImageBuilder<F> builder;
};

/// Tables big enough for mapping `regions` page by page (an upper bound: blocks only save
/// tables), zeroed (so alignment padding in the image is 0), for physical address `base`.
template <class F>
Image<F> make_image(std::uint64_t base, const std::vector<Region>& regions, const typename F::Caps& caps) {
  const std::size_t tables = table_budget_merged<F>(std::span<const Region>(regions));
  const std::size_t bytes = pool_bytes<F>(tables);
  if (bytes > (std::size_t{1} << 32))
    fail(fmt::format("the maps could need {} tables ({} bytes); ptgen builds images up to 4 GiB", tables, bytes));
  Image<F> img{std::unique_ptr<void, FreeBuffer>(std::calloc(bytes, 1)), {}};
  if (!img.buffer) fail(fmt::format("cannot allocate {} bytes", bytes));
  auto b = ImageBuilder<F>::create(img.buffer.get(), bytes, PhysAddr(base), caps);
  if (!b) {
    if (b.error().code == Errc::misaligned_table)
      fail(fmt::format("--base {}: tables of {} must be {}-aligned", hex(base), F::kName, size_string(pool_align<F>())));
    fail(fmt::format("--base {}: {}", hex(base), to_string(b.error())));
  }
  img.builder = *b;
  return img;
}

std::string map_error(const Request& r, const Error& e) {
  return fmt::format("{} {}-{} -> {} ({}): {}", r.what, hex(r.va), hex(r.va + r.size), hex(r.pa), to_string(r.attrs),
                     to_string(e));
}

/// What a --dtb build adds to the output.
struct BootPlan {
  std::vector<std::string> notes;
  std::string layout;
  std::uint64_t va_pa_offset = 0, va_kernel_pa_offset = 0, image_va = 0, load_pa = 0, image_size = 0;
};

template <class K>
void report_build(const Args& a, const char* format, Image<K>& img, const std::vector<Request>& reqs,
                  const BootPlan* boot) {
  auto bytes = img.builder.bytes();
  const std::size_t tables = img.builder.memory().tables_in_use();
  const std::vector<Reg> regs = registers(img.builder.tree());
  using G = Geometry<K>;
  if (boot)
    for (const auto& n : boot->notes) fmt::print("{}\n", n);
  for (const Request& r : reqs) fmt::print("map    {}\n", request_line(r));
  fmt::print("format {} ({} levels, {}-bit VA{}, {}-bit PA)\n", format, G::kDepth, G::kVaBits,
             K::kVaRule == VaRule::high ? " TTBR1" : "", K::kPaBits);
  fmt::print("tables {} ({} bytes) at {}-{}\n", tables, bytes.size(), hex(img.builder.root().value),
             hex(img.builder.root().value + bytes.size()));
  fmt::print("root   {}\n", hex(img.builder.root().value));
  for (const Reg& r : regs) fmt::print("{:<10} {}\n", r.name, hex(r.value));
  if (const std::string* path = a.value("image")) write_file(*path, bytes.data(), bytes.size());
  if (const std::string* path = a.value("json")) {
    std::string s = fmt::format("{{\n  \"format\": {},\n  \"ttbr1\": {},\n  \"base\": \"{}\",\n  \"root\": \"{}\",\n",
                                json_str(format), K::kVaRule == VaRule::high ? "true" : "false",
                                hex(img.builder.root().value), hex(img.builder.root().value));
    s += fmt::format("  \"bytes\": {},\n  \"tables\": {},\n", bytes.size(), tables);
    s += fmt::format("  \"register\": {{\"name\": {}, \"value\": \"{}\"}},\n  \"registers\": {{", json_str(regs[0].name),
                     hex(regs[0].value));
    for (std::size_t i = 0; i < regs.size(); ++i)
      s += fmt::format("{}{}: \"{}\"", i ? ", " : "", json_str(regs[i].name), hex(regs[i].value));
    s += "},\n";
    if (boot)
      s += fmt::format(
          "  \"layout\": {},\n  \"va_pa_offset\": \"{}\",\n  \"va_kernel_pa_offset\": \"{}\",\n  \"image_va\": \"{}\",\n"
          "  \"load_pa\": \"{}\",\n  \"image_size\": \"{:#x}\",\n",
          json_str(boot->layout), hex(boot->va_pa_offset), hex(boot->va_kernel_pa_offset), hex(boot->image_va),
          hex(boot->load_pa), boot->image_size);
    s += "  \"maps\": [";
    for (std::size_t i = 0; i < reqs.size(); ++i)
      s += fmt::format("{}\n    {{\"what\": {}, \"va\": \"{}\", \"pa\": \"{}\", \"size\": \"{:#x}\", \"attrs\": {}}}",
                       i ? "," : "", json_str(reqs[i].what), hex(reqs[i].va), hex(reqs[i].pa), reqs[i].size,
                       json_str(to_string(reqs[i].attrs)));
    s += "\n  ]\n}\n";
    write_file(*path, s);
  }
}

Options engine_options(const Args& a) {
  Options o = a.flag("page-only") ? Options::page_only() : Options{};
  o.contiguous = !a.flag("no-contig");
  return o;
}

template <class K>
int build_maps(const Args& a, const char* format, std::uint64_t base, const typename K::Caps& caps) {
  std::vector<Request> reqs;
  for (const auto& m : a.values.count("map") ? a.values.at("map") : std::vector<std::string>{}) reqs.push_back(parse_map(m));
  if (reqs.empty()) fail("build: nothing to map (give --map VA:PA:SIZE:ATTRS or --dtb)");
  std::vector<Region> regions;
  for (const auto& r : reqs) regions.push_back(Region{VirtAddr(r.va), r.size});
  Image<K> img = make_image<K>(base, regions, caps);
  const Options opts = engine_options(a);
  for (const Request& r : reqs)
    if (auto m = img.builder.map(VirtAddr(r.va), PhysAddr(r.pa), r.size, r.attrs, opts); !m) fail(map_error(r, m.error()));
  report_build(a, format, img, reqs, nullptr);
  return 0;
}

std::string range_text(std::uint64_t a, std::uint64_t size) { return fmt::format("[{}, {})", hex(a), hex(a + size)); }

/// A kernel image by segments: offsets from the lowest segment's page, as map_image() takes them.
struct KernelImage {
  std::uint64_t link_va = 0, load_pa = 0, size = 0;
  std::vector<Section> sections;
  std::vector<std::string> names;  // backing store for Section::name
};

template <class K>
KernelImage kernel_image(const Args& a, const Kernel& k, std::uint64_t page) {
  KernelImage img;
  const Segment& first = *std::min_element(k.segments.begin(), k.segments.end(),
                                           [](const Segment& x, const Segment& y) { return x.vaddr < y.vaddr; });
  img.link_va = align_down(first.vaddr, page);
  const std::string* load = a.value("load");
  img.load_pa = load ? number(*load, "--load") : align_down(first.paddr, page);
  if (img.load_pa % page) fail(fmt::format("--load {}: not a multiple of the {} page", hex(img.load_pa), size_string(page)));
  std::vector<Segment> segs = k.segments;
  std::sort(segs.begin(), segs.end(), [](const Segment& x, const Segment& y) { return x.vaddr < y.vaddr; });
  img.names.reserve(segs.size());
  std::uint64_t prev_end = 0;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const Segment& s = segs[i];
    const std::uint64_t lo = align_down(s.vaddr, page) - img.link_va;
    const std::uint64_t hi = ((s.vaddr + s.memsz + page - 1) & ~(page - 1)) - img.link_va;
    const char* perm = s.w && s.x ? "rwx" : s.x ? "r-x" : s.w ? "rw-" : "r--";
    img.names.push_back(fmt::format("segment {} ({})", s.index, perm));
    if (s.w && s.x && !a.flag("allow-wx"))
      fail(fmt::format("{}: segment {} at {} is writable and executable (W+X); pass --allow-wx to map it",
                       a.need("kernel"), s.index, range_text(s.vaddr, s.memsz)));
    if (i && lo < prev_end)
      fail(fmt::format("{}: segments {} and {} share the page at {}: their permissions cannot differ per page; link "
                       "the kernel with page-aligned segments",
                       a.need("kernel"), segs[i - 1].index, s.index, hex(img.link_va + lo)));
    const SectionKind kind = s.w && s.x ? SectionKind::init : s.x ? SectionKind::text : s.w ? SectionKind::data : SectionKind::rodata;
    img.sections.push_back(Section{img.names.back().c_str(), lo, hi - lo, kind});
    prev_end = hi;
  }
  img.size = prev_end;
  return img;
}

template <class K>
int build_boot(const Args& a, const char* format, std::uint64_t base, const typename K::Caps& caps) {
  using G = Geometry<K>;
  const std::uint64_t page = G::kPageSize;
  const Layout* layout = layout_of<K>();
  if (!layout) fail(fmt::format("--dtb: ptlib ships no kernel layout for {} (arm64: 48- and 52-bit VAs only)", format));
  const Machine m = read_dtb(a.need("dtb"));
  BootPlan plan;
  plan.layout = layout->name;
  plan.notes.push_back(fmt::format("dtb    {}{}", a.need("dtb"), m.model.empty() ? "" : " (" + m.model + ")"));

  // RAM: every bank, page-aligned inwards (a partial page cannot be mapped).
  std::vector<Bank> banks;
  for (const PhysRange& r : m.memory) {
    const std::uint64_t lo = (r.pa + page - 1) & ~(page - 1), hi = align_down(r.pa + r.size, page);
    plan.notes.push_back(fmt::format("ram    {} {}", range_text(r.pa, r.size), size_string(r.size)));
    if (hi > lo) banks.push_back(Bank{PhysAddr(lo), hi - lo});
  }
  if (banks.empty()) fail(fmt::format("{}: no memory bank holds a whole {} page", a.need("dtb"), size_string(page)));
  const std::uint64_t ram_base = banks.front().pa.value;
  const std::uint64_t ram_size = banks.back().pa.value + banks.back().size - ram_base;
  auto in_ram = [&](std::uint64_t pa, std::uint64_t size) {
    for (const Bank& b : banks)
      if (pa >= b.pa.value && size <= b.size && pa - b.pa.value <= b.size - size) return true;
    return false;
  };

  // Kernel image.
  KernelImage kimg;
  const bool have_kernel = a.value("kernel") != nullptr;
  if (have_kernel) {
    const Kernel k = read_elf(a.need("kernel"));
    if (k.machine != elf_machine<K>())
      fail(fmt::format("{}: a {} ELF, but {} is for {}", a.need("kernel"), machine_name(k.machine), format,
                       machine_name(elf_machine<K>())));
    kimg = kernel_image<K>(a, k, page);
    plan.notes.push_back(fmt::format("kernel {} ({}): {} PT_LOAD segments, linked at {}, {} bytes, loaded at {}",
                                     a.need("kernel"), machine_name(k.machine), k.segments.size(), hex(kimg.link_va),
                                     kimg.size, hex(kimg.load_pa)));
    if (!in_ram(kimg.load_pa, kimg.size))
      fail(fmt::format("the kernel image {} is not inside one memory bank of {}", range_text(kimg.load_pa, kimg.size),
                       a.need("dtb")));
  } else {
    kimg.load_pa = ram_base;  // no image: place() still wants one page
    kimg.size = page;
  }
  auto placed = place(*layout, PhysAddr(ram_base), ram_size, PhysAddr(kimg.load_pa), kimg.size, page);
  if (!placed) fail(fmt::format("layout {}: {}", layout->name, to_string(placed.error())));
  const Placement& p = *placed;
  plan.va_pa_offset = p.va_pa_offset;
  plan.va_kernel_pa_offset = have_kernel ? p.va_kernel_pa_offset : 0;
  plan.image_va = have_kernel ? p.image_va.value : 0;
  plan.load_pa = have_kernel ? kimg.load_pa : 0;
  plan.image_size = have_kernel ? kimg.size : 0;

  // The requests: linear map, image sections, console, extra --map.
  std::vector<Request> reqs;
  for (const Bank& b : banks) reqs.push_back({"linear map", b.pa.value + p.va_pa_offset, b.pa.value, b.size, kLinearAttrs});
  const bool own_image_va = !layout->image_window.empty();
  for (const Section& s : kimg.sections)
    reqs.push_back({fmt::format("kernel {}", s.name), p.image_va.value + s.offset, kimg.load_pa + s.offset, s.size,
                    section_attrs(s.kind)});
  if (m.uart) {
    const std::uint64_t lo = align_down(m.uart->pa, page), hi = (m.uart->pa + m.uart->size + page - 1) & ~(page - 1);
    if (hi - lo > layout->fixmap.size) fail(fmt::format("the console {} does not fit the fixmap", m.uart_path));
    Attrs attrs{Perm::read | Perm::write | Perm::global, MemType::device};
    if (const std::string* text = a.value("console-attrs")) {
      auto parsed = parse_attrs(*text);
      if (!parsed) fail(fmt::format("--console-attrs: malformed attributes '{}'", *text));
      attrs = *parsed;
    }
    reqs.push_back({fmt::format("console {}", m.uart_path), layout->fixmap.base.value, lo, hi - lo, attrs});
  } else {
    plan.notes.push_back("note   no /chosen/stdout-path in the device tree: no console mapped");
  }
  const std::size_t extra_from = reqs.size();
  if (a.values.count("map"))
    for (const auto& s : a.values.at("map")) reqs.push_back(parse_map(s));

  // Tables: the image must not overwrite the kernel, and should sit in RAM.
  std::vector<Region> regions;
  for (const auto& r : reqs) regions.push_back(Region{VirtAddr(r.va), r.size});
  Image<K> img = make_image<K>(base, regions, caps);

  const Options opts = engine_options(a);
  auto fail_at = [&](const Request& r, const Error& e) { fail(map_error(r, e)); };
  auto find_req = [&](std::uint64_t va) -> const Request& {
    for (const Request& r : reqs)
      if (va >= r.va && va - r.va < r.size) return r;
    return reqs.front();
  };
  Tree<K> tree = img.builder.tree();
  if (auto r = map_linear(tree, img.builder.memory(), std::span<const Bank>(banks), p.va_pa_offset, kLinearAttrs, opts); !r)
    fail_at(find_req(r.error().va.value), r.error());
  if (!kimg.sections.empty()) {
    ImageOptions io;
    io.allow_write_exec = a.flag("allow-wx");
    io.engine = opts;
    if (own_image_va) {
      if (auto r = map_image(tree, img.builder.memory(), p.image_va, PhysAddr(kimg.load_pa),
                             std::span<const Section>(kimg.sections), io);
          !r)
        fail_at(find_req(r.error().va.value), r.error());
    } else {
      // The image lives in the linear map: give its pages their sections' permissions.
      for (const Section& s : kimg.sections)
        if (auto r = protect(tree, img.builder.memory(), p.image_va + s.offset, s.size, section_attrs(s.kind), opts); !r)
          fail_at(find_req(r.error().va.value), r.error());
    }
  }
  for (std::size_t i = banks.size() + kimg.sections.size(); i < reqs.size(); ++i) {
    const Request& r = reqs[i];
    if (auto m2 = img.builder.map(VirtAddr(r.va), PhysAddr(r.pa), r.size, r.attrs, opts); !m2) {
      if (i < extra_from && m2.error().code == Errc::unsupported_memtype)
        fail(map_error(r, m2.error()) + (kRiscv<K> ? " (RISC-V: --caps svpbmt, or --console-attrs rw-,g for a PMA-typed console)" : ""));
      fail(map_error(r, m2.error()));
    }
  }
  const std::uint64_t used = img.builder.bytes().size();
  if (have_kernel && base < kimg.load_pa + kimg.size && kimg.load_pa < base + used)
    fail(fmt::format("the tables {} overlap the kernel image {}: choose another --base", range_text(base, used),
                     range_text(kimg.load_pa, kimg.size)));
  if (!in_ram(base, used))
    plan.notes.push_back(fmt::format("note   the tables {} are not inside one memory bank", range_text(base, used)));
  plan.notes.push_back(fmt::format("layout {}: linear map at {} (va - pa = {}){}", layout->name, hex(layout->linear.base.value),
                                   hex(p.va_pa_offset),
                                   have_kernel ? fmt::format(", image at {} (va - pa = {})", hex(p.image_va.value),
                                                             hex(p.va_kernel_pa_offset))
                                               : std::string()));
  if (have_kernel && kimg.link_va != p.image_va.value)
    plan.notes.push_back(fmt::format("note   the kernel is linked at {}, mapped at the layout's image VA {}", hex(kimg.link_va),
                                     hex(p.image_va.value)));
  report_build(a, format, img, reqs, &plan);
  return 0;
}

template <class F>
int cmd_build(const Args& a) {
  const std::uint64_t base = number(a.need("base"), "--base");
  if (a.value("kernel") && !a.value("dtb")) fail("build: --kernel needs --dtb (the RAM the kernel is placed in)");
  if (a.has("console-attrs") && !a.value("dtb")) fail("build: --console-attrs needs --dtb");
  for (const char* opt : {"load", "allow-wx"})
    if (a.has(opt) && !a.value("kernel")) fail(fmt::format("build: --{} needs --kernel", opt));
  int rc = 0;
  auto run = [&]<class K>() {
    const typename K::Caps caps = caps_from<K>(a, typename K::Caps{});
    rc = a.value("dtb") ? build_boot<K>(a, F::kName, base, caps) : build_maps<K>(a, F::kName, base, caps);
  };
  // A boot layout's kernel addresses are in arm64's TTBR1 range.
  if (a.value("dtb") && kArm64<F>) run.template operator()<typename HighHalf<F>::type>();
  else with_range<F>(a, run);
  return rc;
}

// ---------------------------------------------------------------------------------------------
// Reading images: dump, diff, translate.
// ---------------------------------------------------------------------------------------------

/// Tables reached inside a loaded image: a table must lie wholly inside it, at an address
/// aligned for its entries; anything else is "cannot be mapped" (validate: unreachable_table).
template <class F>
struct ImageAccess {
  const unsigned char* data;
  std::size_t size;
  PhysAddr base;
  void* map(PhysAddr pa, std::size_t depth) const {
    if (pa < base || depth >= Geometry<F>::kDepth) return nullptr;
    const std::uint64_t off = pa - base, bytes = Geometry<F>::table_bytes(depth);
    if (off > size || size - off < bytes || off % sizeof(typename F::Entry)) return nullptr;
    return const_cast<unsigned char*>(data + off);
  }
  void unmap(void*, std::size_t) const {}
};

/// A table image loaded from a file and checked with validate().
template <class F>
struct Loaded {
  std::string path;
  std::vector<std::uint64_t> storage;  // 8-byte aligned copy of the file
  std::size_t bytes = 0;
  Tree<F> tree{};
  ImageAccess<F> access{nullptr, 0, PhysAddr{}};
  Validation check{};
};

template <class F>
Loaded<F> load(const Args& a, const std::string& path, const char* base_opt, const char* root_opt) {
  using G = Geometry<F>;
  Loaded<F> l;
  l.path = path;
  const std::vector<unsigned char> file = read_file(path);
  l.bytes = file.size();
  l.storage.resize((file.size() + 7) / 8);
  if (!file.empty()) std::memcpy(l.storage.data(), file.data(), file.size());
  const std::uint64_t base = number(a.need(base_opt), std::string("--") + base_opt);
  const std::string* root_text = a.value(root_opt);
  const std::uint64_t root = root_text ? number(*root_text, std::string("--") + root_opt) : base;
  if (root < base || root - base >= file.size())
    fail(fmt::format("{}: the root {} is outside the image {} ({} bytes)", path, hex(root), range_text(base, file.size()),
                     file.size()));
  if (file.size() - (root - base) < G::table_bytes(0))
    fail(fmt::format("{}: truncated image: the root at {} needs {} bytes, the image has {} from there", path, hex(root),
                     G::table_bytes(0), file.size() - (root - base)));
  l.tree = Tree<F>{PhysAddr(root), caps_from<F>(a, all_caps<F>())};
  l.access = ImageAccess<F>{reinterpret_cast<const unsigned char*>(l.storage.data()), file.size(), PhysAddr(base)};
  ValidateOptions vo;
  vo.allow_empty_tables = true;  // an allocator may keep empty tables: not an error for the hardware
  l.check = ptlib::validate(l.tree, l.access, vo);
  if (!l.check.ok()) {
    const Finding& f = l.check.first;
    std::string where = to_string(f);
    if (f.what == Problem::unreachable_table)
      where += fmt::format(" (the image holds {}: truncated, or a pointer outside the image)", range_text(base, file.size()));
    if (f.what == Problem::table_reached_twice) where += " (a loop, or two entries sharing one table)";
    fail(fmt::format("{}: corrupt tables: {} problem{}; first: {}", path, l.check.problems,
                     l.check.problems == 1 ? "" : "s", where));
  }
  return l;
}

template <class F>
std::vector<DumpRange> ranges_of(const Loaded<F>& l) {
  auto access = l.access;
  auto r = dump_ranges(l.tree, access);
  if (!r) fail(fmt::format("{}: {}", l.path, to_string(r.error())));
  return *r;
}

std::string range_json(const DumpRange& r) {
  return fmt::format(
      "{{\"va\": \"{}\", \"pa\": \"{}\", \"size\": \"{:#x}\", \"leaf_size\": \"{:#x}\", \"count\": {}, \"level\": {}, "
      "\"attrs\": {}, \"contiguous\": {}}}",
      hex(r.va.value), hex(r.pa.value), r.size, r.leaf_size, r.count, json_str(r.level_name), json_str(to_string(r.attrs)),
      r.contiguous ? "true" : "false");
}

template <class F>
int cmd_dump(const Args& a) {
  const Loaded<F> l = load<F>(a, a.need("image"), "base", "root");
  const std::vector<DumpRange> ranges = ranges_of(l);
  if (a.flag("json")) {
    std::string s = fmt::format("{{\"format\": {}, \"root\": \"{}\", \"tables\": {}, \"leaves\": {}, \"ranges\": [",
                                json_str(F::kName), hex(l.tree.root.value), l.check.tables, l.check.leaves);
    for (std::size_t i = 0; i < ranges.size(); ++i) s += (i ? ",\n  " : "\n  ") + range_json(ranges[i]);
    fmt::print("{}\n]}}\n", s);
    return 0;
  }
  fmt::print("# {}{} root {}: {} tables, {} leaves, {} ranges\n", F::kName, F::kVaRule == VaRule::high ? " TTBR1" : "",
             hex(l.tree.root.value), l.check.tables, l.check.leaves, ranges.size());
  for (const DumpRange& r : ranges) fmt::print("{}\n", format_range(r));
  return 0;
}

template <class F>
int cmd_translate(const Args& a) {
  const Loaded<F> l = load<F>(a, a.need("image"), "base", "root");
  if (a.positional.empty()) fail("translate: no VA given");
  auto access = l.access;
  std::string json;
  for (const std::string& text : a.positional) {
    const std::uint64_t va = number(text, "a VA");
    auto t = translate(l.tree, access, VirtAddr(va));
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
      fmt::print("{}: {}\n", hex(va), to_string(t.error()));
    }
  }
  if (a.flag("json")) fmt::print("{}\n]\n", json);
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

template <class F>
int cmd_diff(const Args& a) {
  if (a.positional.size() != 2) fail("diff: give two images: ptgen diff --format F A.bin B.bin --base PA");
  const Loaded<F> la = load<F>(a, a.positional[0], "base", "root");
  Args b = a;  // B uses --base-b / --root-b when given
  if (const std::string* v = a.value("base-b")) b.values["base"] = {*v};
  if (const std::string* v = a.value("root-b")) b.values["root"] = {*v};
  else if (a.value("base-b")) b.values.erase("root");
  const Loaded<F> lb = load<F>(b, a.positional[1], "base", "root");
  return cmd_diff_ranges(a, F::kName, ranges_of(la), ranges_of(lb));
}

// ---------------------------------------------------------------------------------------------

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

int run(int argc, char** argv) {
  const std::set<std::string> reader{"format", "base", "root", "caps"};
  auto with = [](std::set<std::string> s, std::initializer_list<const char*> more) {
    for (const char* m : more) s.insert(m);
    return s;
  };
  const std::map<std::string, Spec> specs{
      {"help", Spec{}},
      {"formats", Spec{{}, {"json"}, {}, false}},
      {"layout", Spec{{"format"}, {"json"}, {}, false}},
      {"build", Spec{{"format", "base", "map", "image", "json", "dtb", "kernel", "load", "caps", "console-attrs"},
                     {"page-only", "no-contig", "allow-wx", "ttbr1"},
                     {"map"},
                     false}},
      {"dump", Spec{with(reader, {"image"}), {"json", "ttbr1"}, {}, false}},
      {"translate", Spec{with(reader, {"image"}), {"json", "ttbr1"}, {}, true}},
      {"diff", Spec{with(reader, {"base-b", "root-b"}), {"json", "ttbr1"}, {}, true}},
  };
  if (argc >= 2 && (std::string_view(argv[1]) == "help" || std::string_view(argv[1]) == "--help")) {
    fmt::print("{}", kUsage);
    return 0;
  }
  const Args a = parse_args(argc, argv, specs);
  if (a.command == "formats") return cmd_formats(a);
  return with_named_format(a, [&]<class F>() {
    if (a.command == "layout") return cmd_layout<F>(a);
    if (a.command == "build") return cmd_build<F>(a);
    int rc = 0;
    with_range<F>(a, [&]<class R>() {
      if (a.command == "dump") rc = cmd_dump<R>(a);
      else if (a.command == "translate") rc = cmd_translate<R>(a);
      else rc = cmd_diff<R>(a);
    });
    return rc;
  });
}

}  // namespace
}  // namespace ptgen

int main(int argc, char** argv) {
  try {
    return ptgen::run(argc, argv);
  } catch (const ptgen::Failure& e) {
    std::fflush(stdout);
    fmt::print(stderr, "ptgen: {}\n", e.what());
    return argc >= 2 && std::string_view(argv[1]) == "diff" ? 2 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "ptgen: {}\n", e.what());
    return 1;
  }
}
