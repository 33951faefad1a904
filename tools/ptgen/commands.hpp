// ptgen's per-format commands: layout, build, and dump, translate and diff of a ptlib image.
// They are templates over the format; run_format<F> is instantiated explicitly in
// commands-*.cpp, a few families each, so that no translation unit compiles all 18 formats'
// commands at once (issue 11: at most 60 CPU-s and 1 GiB per TU with g++ -O2 -g), and ptgen.cpp
// dispatches to them by name.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <elf.h>
#include <fmt/format.h>

#include <ptlib/layout.hpp>
#include <ptlib/maps.hpp>
#include <ptlib/tables.hpp>

#include "cli.hpp"

namespace ptgen {

// Helpers the commands share, defined once in ptgen.cpp.
void write_file(const std::string& path, const void* data, std::size_t bytes);
void write_file(const std::string& path, const std::string& text);
std::string human_size(std::uint64_t bytes);
struct Request;
std::string request_line(const Request& r);
Request parse_map(const std::string& m);
std::string map_error(const Request& r, const Error& e);
Options engine_options(const Args& a);
std::vector<Bank> carve(const std::vector<Bank>& banks, const std::vector<PhysRange>& holes, std::uint64_t page);

// ---------------------------------------------------------------------------------------------
// Families: which registers, layout and kernel-half tree go with a format.
// ---------------------------------------------------------------------------------------------

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
    fmt::print("{:<8} {}-{} {:>9}\n", r.what, hex(r.r.base.value), hex(r.r.base.value + r.r.size), human_size(r.r.size));
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

struct FreeBuffer {
  void operator()(void* p) const { std::free(p); }
};

/// Table memory for an image and the builder over it.
template <class F>
struct Image {
  std::unique_ptr<void, FreeBuffer> buffer;
  ImageBuilder<F> builder;
};

/// A piece of a map: [va, va + size) -> [pa, pa + size).
struct Piece {
  std::uint64_t va = 0, pa = 0, size = 0;
};

/// Table memory for maps of `pieces` (the exact count, ptlib::table_budget over their VAs and
/// PAs) plus `extra` tables (splits), zeroed (so alignment padding in the image is 0), for
/// physical address `base`.
template <class F>
Image<F> make_image(std::uint64_t base, const std::vector<Piece>& pieces, std::uint64_t extra,
                    const typename F::Caps& caps, const Options& opts) {
  std::vector<MapExtent> extents;
  for (const Piece& p : pieces) extents.push_back(MapExtent{VirtAddr(p.va), PhysAddr(p.pa), p.size});
  std::uint64_t tables = extra + table_budget<F>(std::span<const MapExtent>(extents), caps, opts);
  const std::uint64_t limit = std::uint64_t{1} << 32;
  const std::uint64_t bytes64 =
      tables > limit / Geometry<F>::table_bytes(Geometry<F>::kDepth > 1 ? 1 : 0) ? ~std::uint64_t{0}
                                                                                : pool_bytes<F>(std::size_t(tables));
  if (bytes64 > limit)
    fail(fmt::format("the maps could need {} tables ({}); ptgen builds images up to 4 GiB", tables,
                     bytes64 == ~std::uint64_t{0} ? std::string("more than 4 GiB") : fmt::format("{} bytes", bytes64)));
  const std::size_t bytes = std::size_t(bytes64);
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

/// A physical range left out of the linear map, and why.
struct Unmapped {
  std::string what, why;
  std::uint64_t pa = 0, size = 0;
};

/// One kernel segment as ptgen maps it (page-rounded).
struct KernelSeg {
  std::size_t index = 0;
  std::uint64_t va = 0, pa = 0, size = 0;
  Attrs attrs{};
};

/// What a --dtb build adds to the output.
struct BootPlan {
  std::vector<std::string> notes;
  std::string layout;
  std::uint64_t va_pa_offset = 0, va_kernel_pa_offset = 0, image_va = 0, load_pa = 0, image_size = 0;
  std::uint64_t lowmem_size = 0, highmem_size = 0;
  std::vector<Unmapped> unmapped;
  std::vector<KernelSeg> segments;
};


template <class K>
void report_build(const Args& a, const char* format, Image<K>& img, const std::vector<Request>& reqs,
                  const BootPlan* boot) {
  auto bytes = img.builder.bytes();
  const std::size_t tables = img.builder.memory().tables_in_use();
  const std::vector<Reg> regs = registers(img.builder.tree());
  using G = Geometry<K>;
  if (boot) {
    for (const auto& n : boot->notes) fmt::print("{}\n", n);
    for (const Unmapped& u : boot->unmapped)
      fmt::print("unmapped {} {:>6} {}: {}\n", range_text(u.pa, u.size), size_string(u.size), u.what, u.why);
  }
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
    if (boot) {
      s += fmt::format(
          "  \"layout\": {},\n  \"va_pa_offset\": \"{}\",\n  \"va_kernel_pa_offset\": \"{}\",\n  \"image_va\": \"{}\",\n"
          "  \"load_pa\": \"{}\",\n  \"image_size\": \"{:#x}\",\n  \"lowmem_size\": \"{:#x}\",\n"
          "  \"highmem_size\": \"{:#x}\",\n",
          json_str(boot->layout), hex(boot->va_pa_offset), hex(boot->va_kernel_pa_offset), hex(boot->image_va),
          hex(boot->load_pa), boot->image_size, boot->lowmem_size, boot->highmem_size);
      s += "  \"unmapped\": [";
      for (std::size_t i = 0; i < boot->unmapped.size(); ++i) {
        const Unmapped& u = boot->unmapped[i];
        s += fmt::format("{}\n    {{\"what\": {}, \"pa\": \"{}\", \"size\": \"{:#x}\", \"why\": {}}}", i ? "," : "",
                         json_str(u.what), hex(u.pa), u.size, json_str(u.why));
      }
      s += boot->unmapped.empty() ? "],\n" : "\n  ],\n";
      s += "  \"segments\": [";
      for (std::size_t i = 0; i < boot->segments.size(); ++i) {
        const KernelSeg& k = boot->segments[i];
        s += fmt::format("{}\n    {{\"index\": {}, \"va\": \"{}\", \"pa\": \"{}\", \"size\": \"{:#x}\", \"attrs\": {}}}",
                         i ? "," : "", k.index, hex(k.va), hex(k.pa), k.size, json_str(to_string(k.attrs)));
      }
      s += boot->segments.empty() ? "],\n" : "\n  ],\n";
      s += "  \"notes\": [";
      for (std::size_t i = 0; i < boot->notes.size(); ++i)
        s += fmt::format("{}\n    {}", i ? "," : "", json_str(boot->notes[i]));
      s += boot->notes.empty() ? "],\n" : "\n  ],\n";
    }
    s += "  \"maps\": [";
    for (std::size_t i = 0; i < reqs.size(); ++i)
      s += fmt::format("{}\n    {{\"what\": {}, \"va\": \"{}\", \"pa\": \"{}\", \"size\": \"{:#x}\", \"attrs\": {}}}",
                       i ? "," : "", json_str(reqs[i].what), hex(reqs[i].va), hex(reqs[i].pa), reqs[i].size,
                       json_str(to_string(reqs[i].attrs)));
    s += "\n  ]\n}\n";
    write_file(*path, s);
  }
}

template <class K>
int build_maps(const Args& a, const char* format, std::uint64_t base, const typename K::Caps& caps) {
  std::vector<Request> reqs;
  for (const auto& m : a.values.count("map") ? a.values.at("map") : std::vector<std::string>{}) reqs.push_back(parse_map(m));
  if (reqs.empty()) fail("build: nothing to map (give --map VA:PA:SIZE:ATTRS or --dtb)");
  const Options opts = engine_options(a);
  std::vector<Piece> pieces;
  for (const auto& r : reqs) pieces.push_back(Piece{r.va, r.pa, r.size});
  Image<K> img = make_image<K>(base, pieces, 0, caps, opts);
  std::vector<std::string> notes;
  for (const Request& r : reqs) {
    auto m = img.builder.map(VirtAddr(r.va), PhysAddr(r.pa), r.size, r.attrs, opts);
    if (!m) fail(map_error(r, m.error()));
    if constexpr (requires { caps.page1g; }) {
      // A whole GiB at a GiB-congruent PA that got 2 MiB leaves: say why (x86 default caps).
      constexpr std::uint64_t GiB = std::uint64_t{1} << 30;
      const std::uint64_t first = (r.va + GiB - 1) & ~(GiB - 1);
      if (!caps.page1g && opts.max_leaf_size == 0 && (r.va - r.pa) % GiB == 0 && first - r.va < r.size &&
          r.size - (first - r.va) >= GiB)
        notes.push_back(fmt::format("note   --map {}: 1 GiB pages are off (x86 Caps::page1g; pass --caps page1g "
                                    "if the CPU has them): mapped with 2 MiB pages",
                                    hex(r.va)));
    }
  }
  for (const auto& n : notes) fmt::print("{}\n", n);
  report_build(a, format, img, reqs, nullptr);
  return 0;
}

/// The permissions ptgen gives a segment, or nothing (p_flags without R, W or X: no access, so
/// not mapped). Where a format cannot express the segment's flags for a kernel (privileged,
/// global) mapping, the closest mapping that keeps every flag the segment has and adds only
/// read: execute-only (PF_X) -> r-x, write-only (PF_W) -> rw-, PF_W|PF_X -> rwx; `note` says so.
template <class K>
std::optional<Attrs> segment_attrs(const Segment& s, const Options& opts, const typename K::Caps& caps, std::string& note) {
  if (!s.r && !s.w && !s.x) {
    note = fmt::format("segment {} has p_flags {:#x} (neither PF_R, PF_W nor PF_X: no access): not mapped", s.index, s.flags);
    return std::nullopt;
  }
  Perm p = Perm::global;
  if (s.r) p = p | Perm::read;
  if (s.w) p = p | Perm::write;
  if (s.x) p = p | Perm::exec;
  Attrs want{p, MemType::normal};
  using G = Geometry<K>;
  LeafSettings ls{want, false, opts.allow_implied_exec};
  if (s.r || K::leaf_proto(G::level(G::kDepth - 1), ls, caps)) return want;
  Attrs got{p | Perm::read, MemType::normal};
  note = fmt::format("segment {} is {} (p_flags {:#x}, no PF_R): {} cannot express that for a kernel mapping, mapped {}",
                     s.index, to_string(want).substr(0, 3), s.flags, K::kName, to_string(got).substr(0, 3));
  return got;
}

/// A kernel image by segments, each where its own p_paddr says (page-rounded).
struct KernelImage {
  std::uint64_t link_va = 0;  ///< the lowest mapped segment's page
  std::uint64_t load_pa = 0;  ///< its physical page (--load moves the whole image)
  std::uint64_t va_span = 0;  ///< from link_va to the end of the highest segment
  std::uint64_t pa_lo = 0, pa_hi = 0;  ///< the physical pages the segments occupy: [pa_lo, pa_hi)
  std::vector<KernelSeg> segs;          ///< sorted by VA
  std::vector<std::string> notes;
};

template <class K>
KernelImage kernel_image(const Args& a, const Kernel& k, std::uint64_t page, const Options& opts,
                         const typename K::Caps& caps) {
  const std::string& path = a.need("kernel");
  KernelImage img;
  std::vector<Segment> segs;
  for (const Segment& s : k.segments) {
    std::string note;
    auto at = segment_attrs<K>(s, opts, caps, note);
    if (!note.empty()) img.notes.push_back(fmt::format("note   {}: {}", path, note));
    if (!at) continue;
    // ptgen maps whole pages: a segment's bytes land where the ELF says only when its physical
    // and virtual addresses sit at the same offset in their page (gABI: p_vaddr and p_offset are
    // congruent modulo the page size; p_paddr is the loader's, so check it).
    if (s.paddr % page != s.vaddr % page)
      fail(fmt::format("{}: segment {} has p_vaddr {} and p_paddr {} at different offsets in a {} page ({:#x} and "
                       "{:#x}): its bytes cannot be mapped where the ELF says; relink it with p_paddr = p_vaddr "
                       "modulo {}",
                       path, s.index, hex(s.vaddr), hex(s.paddr), size_string(page), s.vaddr % page, s.paddr % page,
                       size_string(page)));
    if (s.w && s.x && !a.flag("allow-wx"))
      fail(fmt::format("{}: segment {} at {} is writable and executable (W+X); pass --allow-wx to map it", path, s.index,
                       range_text(s.vaddr, s.memsz)));
    segs.push_back(s);
    img.segs.push_back(KernelSeg{s.index, align_down(s.vaddr, page), align_down(s.paddr, page),
                                 align_down(s.vaddr + (s.memsz - 1), page) + page - align_down(s.vaddr, page), *at});
  }
  if (img.segs.empty()) fail(fmt::format("{}: no PT_LOAD segment has permissions to map", path));
  std::vector<std::size_t> order(img.segs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return img.segs[x].va < img.segs[y].va; });
  std::vector<KernelSeg> sorted;
  for (std::size_t i : order) sorted.push_back(img.segs[i]);
  img.segs = sorted;
  img.link_va = img.segs.front().va;
  const std::uint64_t lowest_pa = std::min_element(img.segs.begin(), img.segs.end(), [](const KernelSeg& x, const KernelSeg& y) {
                                    return x.pa < y.pa;
                                  })->pa;
  // --load PA moves the whole image: every segment keeps its physical offset from the lowest.
  if (const std::string* load = a.value("load")) {
    const std::uint64_t to = number(*load, "--load");
    if (to % page) fail(fmt::format("--load {}: not a multiple of the {} page", hex(to), size_string(page)));
    for (KernelSeg& s : img.segs) s.pa = s.pa - lowest_pa + to;
  }
  img.pa_lo = ~std::uint64_t{0};
  for (std::size_t i = 0; i < img.segs.size(); ++i) {
    const KernelSeg& s = img.segs[i];
    if (i && s.va < img.segs[i - 1].va + img.segs[i - 1].size)
      fail(fmt::format("{}: segments {} and {} share the page at {}: their permissions cannot differ per page; link "
                       "the kernel with page-aligned segments",
                       path, img.segs[i - 1].index, s.index, hex(s.va)));
    for (std::size_t j = 0; j < i; ++j)
      if (s.pa < img.segs[j].pa + img.segs[j].size && img.segs[j].pa < s.pa + s.size)
        fail(fmt::format("{}: segments {} and {} overlap in physical memory ({} and {}, page-rounded p_paddr)", path,
                         img.segs[j].index, s.index, range_text(img.segs[j].pa, img.segs[j].size), range_text(s.pa, s.size)));
    img.pa_lo = std::min(img.pa_lo, s.pa);
    img.pa_hi = std::max(img.pa_hi, s.pa + s.size);
  }
  img.load_pa = img.segs.front().pa;
  img.va_span = img.segs.back().va + img.segs.back().size - img.link_va;
  return img;
}

template <class K>
int build_boot(const Args& a, const char* format, std::uint64_t base, const typename K::Caps& caps) {
  using G = Geometry<K>;
  const std::uint64_t page = G::kPageSize;
  const Layout* layout = layout_of<K>();
  if (!layout) fail(fmt::format("--dtb: ptlib ships no kernel layout for {} (arm64: 48- and 52-bit VAs only)", format));
  const std::string& dtb = a.need("dtb");
  const Machine m = read_dtb(dtb);
  const Options opts = engine_options(a);
  BootPlan plan;
  plan.layout = layout->name;
  plan.notes.push_back(fmt::format("dtb    {}{}", dtb, m.model.empty() ? "" : " (" + m.model + ")"));

  // RAM: every bank, page-aligned inwards (a partial page cannot be mapped).
  std::vector<Bank> banks;
  for (const PhysRange& r : m.memory) {
    const std::uint64_t lo = (r.pa + page - 1) & ~(page - 1), hi = align_down(r.pa + r.size, page);
    plan.notes.push_back(fmt::format("ram    {} {}", range_text(r.pa, r.size), size_string(r.size)));
    if (hi > lo) banks.push_back(Bank{PhysAddr(lo), hi - lo});
  }
  if (banks.empty()) fail(fmt::format("{}: no memory bank holds a whole {} page", dtb, size_string(page)));
  const std::uint64_t ram_base = banks.front().pa.value;
  const std::uint64_t ram_size = banks.back().pa.value + banks.back().size - ram_base;

  // Kernel image.
  KernelImage kimg;
  const bool have_kernel = a.value("kernel") != nullptr;
  std::string kpath;
  if (have_kernel) {
    kpath = a.need("kernel");
    const Kernel k = read_elf(kpath);
    if (k.machine != elf_machine<K>())
      fail(fmt::format("{}: a {} ELF, but {} is for {}", kpath, machine_name(k.machine), format, machine_name(elf_machine<K>())));
    kimg = kernel_image<K>(a, k, page, opts, caps);
    plan.notes.push_back(fmt::format("kernel {} ({}): {} PT_LOAD segments, linked at {}, {} bytes, loaded at {}", kpath,
                                     machine_name(k.machine), k.segments.size(), hex(kimg.link_va), kimg.va_span,
                                     hex(kimg.load_pa)));
    for (const auto& n : kimg.notes) plan.notes.push_back(n);
  } else {
    kimg.load_pa = kimg.pa_lo = ram_base;  // no image: place() still wants one page
    kimg.pa_hi = ram_base + page;
    kimg.va_span = page;
  }
  const bool own_image_va = !layout->image_window.empty();
  // An image in the linear map must lie in RAM as a whole ([pa_lo, pa_hi)); one in its own window
  // must fit the window (its VA span).
  const std::uint64_t place_size = own_image_va ? kimg.va_span : kimg.pa_hi - kimg.pa_lo;
  auto placed = place(*layout, PhysAddr(ram_base), ram_size, PhysAddr(kimg.pa_lo), place_size, page);
  if (!placed) {
    const Error& e = placed.error();
    if (e.code == Errc::va_out_of_range && e.va == layout->linear.base)
      fail(fmt::format("layout {}: the RAM of {} spans {} ({}, {}), more than the {} linear region at {}; {} has no "
                       "highmem: give it less RAM, or use a format with a larger linear map",
                       layout->name, dtb, size_string(ram_size), range_text(ram_base, ram_size),
                       banks.size() == 1 ? "one bank" : fmt::format("{} banks and the holes between them", banks.size()),
                       size_string(layout->linear.size), hex(layout->linear.base.value), layout->name));
    if (e.code == Errc::va_out_of_range)
      fail(fmt::format("layout {}: the kernel image spans {} of VA, more than the {} image window", layout->name,
                       size_string(kimg.va_span), size_string(layout->image_window.size)));
    if (e.code == Errc::pa_out_of_range)
      fail(fmt::format("the kernel image {} is not inside the {} of RAM the linear map holds ({}): the image lives in "
                       "the linear map on layout {}; load it there with --load PA",
                       range_text(kimg.pa_lo, kimg.pa_hi - kimg.pa_lo),
                       layout->highmem ? "lowmem" : "RAM", range_text(ram_base, std::min(ram_size, layout->linear.size)),
                       layout->name));
    fail(fmt::format("layout {}: {}", layout->name, to_string(e)));
  }
  const Placement& p = *placed;
  plan.va_pa_offset = p.va_pa_offset;
  plan.lowmem_size = p.ram_size;
  plan.highmem_size = p.highmem_size;

  // The linear map: the banks without no-map reserved regions (devicetree spec 3.5.4) and
  // without highmem.
  const std::uint64_t lowmem_end = ram_base + p.ram_size;
  std::vector<PhysRange> holes;
  for (const NoMap& n : m.no_map) {
    const bool in_ram = std::any_of(m.memory.begin(), m.memory.end(), [&](const PhysRange& r) {
      return n.range.pa < r.pa + r.size && r.pa < n.range.pa + n.range.size;
    });
    if (a.flag("map-no-map")) {
      plan.notes.push_back(fmt::format("note   {} {} is no-map: mapped anyway (--map-no-map)", n.path, range_text(n.range.pa, n.range.size)));
      continue;
    }
    holes.push_back(n.range);
    if (!in_ram) continue;
    // Whole pages: a page that holds a byte of the region is left out.
    const std::uint64_t lo = align_down(n.range.pa, page);
    const std::uint64_t last = n.range.pa + (n.range.size - 1) < n.range.pa ? ~std::uint64_t{0} : n.range.pa + (n.range.size - 1);
    const std::uint64_t hi = align_down(last, page) + page;  // 0 (2^64) for a region that reaches the top
    plan.unmapped.push_back(Unmapped{
        n.path,
        fmt::format("reserved-memory no-map{} (not mapped; --map-no-map maps it)",
                    lo == n.range.pa && hi - lo == n.range.size ? std::string()
                                                                : fmt::format(", reg {} widened to whole pages",
                                                                              range_text(n.range.pa, n.range.size))),
        lo, hi - lo});
  }
  for (const std::string& path : m.reserved_dynamic)
    plan.notes.push_back(fmt::format("note   {} is no-map without a reg (the OS places it at boot): not known here, not "
                                     "left out of the linear map",
                                     path));
  std::vector<Bank> linear = carve(banks, holes, page);
  std::vector<Bank> lowmem;
  for (const Bank& b : linear) {
    if (b.pa.value >= lowmem_end) continue;
    lowmem.push_back(Bank{b.pa, std::min(b.size, lowmem_end - b.pa.value)});
  }
  if (p.highmem_size)
    plan.unmapped.push_back(Unmapped{"highmem",
                                     fmt::format("RAM past the {} of lowmem the {} linear map holds (not mapped, as "
                                                 "Linux's highmem)",
                                                 size_string(p.ram_size), layout->name),
                                     lowmem_end, p.highmem_size});
  if (lowmem.empty()) fail(fmt::format("{}: no RAM is left for the linear map (every bank is reserved no-map)", dtb));
  auto in_lowmem = [&](std::uint64_t pa, std::uint64_t size) {
    for (const Bank& b : lowmem)
      if (pa >= b.pa.value && size <= b.size && pa - b.pa.value <= b.size - size) return true;
    return false;
  };
  auto in_bank = [&](const std::vector<Bank>& v, std::uint64_t pa, std::uint64_t size) {
    for (const Bank& b : v)
      if (pa >= b.pa.value && size <= b.size && pa - b.pa.value <= b.size - size) return true;
    return false;
  };

  // Each kernel segment must be in RAM, outside no-map regions (and for an image in the linear
  // map, in lowmem).
  for (const KernelSeg& s : kimg.segs) {
    for (const NoMap& n : m.no_map)
      if (s.pa < n.range.pa + n.range.size && n.range.pa < s.pa + s.size)
        fail(fmt::format("{}: segment {} {} overlaps the no-map reserved region {} {}; load the kernel elsewhere with "
                         "--load PA",
                         kpath, s.index, range_text(s.pa, s.size), n.path, range_text(n.range.pa, n.range.size)));
    const bool ok = own_image_va ? in_bank(banks, s.pa, s.size) : in_lowmem(s.pa, s.size);
    if (!ok)
      fail(fmt::format("{}: segment {} at {} (its p_paddr{}) is not inside one memory bank of {}{}: load the kernel "
                       "into RAM with --load PA (RAM: {})",
                       kpath, s.index, range_text(s.pa, s.size), a.value("load") ? ", moved by --load" : "", dtb,
                       own_image_va ? "" : " in lowmem", range_text(ram_base, ram_size)));
  }
  if (have_kernel) {
    plan.load_pa = kimg.load_pa;
    plan.image_size = kimg.va_span;
    plan.image_va = own_image_va ? p.image_va.value : kimg.load_pa + p.va_pa_offset;
    plan.va_kernel_pa_offset = plan.image_va - kimg.load_pa;
  }

  // The requests: linear map, image segments, console, extra --map.
  std::vector<Request> reqs;
  for (const Bank& b : lowmem) reqs.push_back({"linear map", b.pa.value + p.va_pa_offset, b.pa.value, b.size, kLinearAttrs});
  bool offsets_differ = false;
  for (KernelSeg& s : kimg.segs) {
    s.va = own_image_va ? p.image_va.value + (s.va - kimg.link_va) : s.pa + p.va_pa_offset;
    if (s.va - s.pa != plan.va_kernel_pa_offset) offsets_differ = true;
    reqs.push_back({fmt::format("kernel segment {} ({})", s.index, to_string(s.attrs).substr(0, 3)), s.va, s.pa, s.size, s.attrs});
    plan.segments.push_back(s);
  }
  if (offsets_differ)
    plan.notes.push_back("note   the kernel's segments have different va - pa offsets: each is mapped where its own "
                         "p_paddr says");
  if (m.uart) {
    const std::uint64_t lo = align_down(m.uart->pa, page), hi = (m.uart->pa + m.uart->size + page - 1) & ~(page - 1);
    if (hi - lo > layout->fixmap.size) fail(fmt::format("the console {} does not fit the fixmap", m.uart_path));
    Attrs attrs{Perm::read | Perm::write | Perm::global, MemType::device};
    if (const std::string* text = a.value("console-attrs")) {
      auto parsed = parse_attrs(*text);
      if (!parsed) fail(fmt::format("--console-attrs: malformed attributes '{}'", *text));
      attrs = *parsed;
    }
    // One physical page with two memory types (device at the fixmap, normal in the linear map)
    // is a mismatched-attribute alias: the architectures leave its behaviour unpredictable
    // (Arm ARM B2.8 "Mismatched memory attributes", RISC-V Svpbmt, x86 SDM 11.12.4). Refused.
    for (const Bank& b : lowmem)
      if (attrs.mem != kLinearAttrs.mem && lo < b.pa.value + b.size && b.pa.value < hi)
        fail(fmt::format("the console {} {} is inside RAM the linear map maps as normal memory {}: mapping it as {} "
                         "memory too would be a mismatched-attribute alias; fix the device tree, reserve it with a "
                         "no-map /reserved-memory node, or map it as normal memory (--console-attrs rw-,g)",
                         m.uart_path, range_text(lo, hi - lo), range_text(b.pa.value, b.size),
                         attrs.mem == MemType::device ? "device" : "non-cacheable"));
    reqs.push_back({fmt::format("console {}", m.uart_path), layout->fixmap.base.value, lo, hi - lo, attrs});
  } else if (!m.uart_status.empty()) {
    plan.notes.push_back(fmt::format("note   the console {} (/chosen/stdout-path) has status \"{}\": not mapped",
                                     m.uart_path, m.uart_status));
  } else {
    plan.notes.push_back("note   no /chosen/stdout-path in the device tree: no console mapped");
  }
  const std::size_t extra_from = reqs.size();
  if (a.values.count("map"))
    for (const auto& s : a.values.at("map")) reqs.push_back(parse_map(s));

  // Tables: every request counted alone, plus (an image in the linear map) the tables that
  // splitting the linear map's blocks at the segments' edges can take: mapping their ranges page
  // by page would take no more.
  std::vector<Piece> pieces;
  for (const auto& r : reqs) pieces.push_back(Piece{r.va, r.pa, r.size});
  std::uint64_t splits = 0;
  if (!own_image_va) {
    std::vector<Region> seg_regions;
    for (const KernelSeg& s : kimg.segs) seg_regions.push_back(Region{VirtAddr(s.va), s.size});
    splits = table_budget<K>(std::span<const Region>(seg_regions));
    pieces.erase(pieces.begin() + std::ptrdiff_t(lowmem.size()), pieces.begin() + std::ptrdiff_t(lowmem.size() + kimg.segs.size()));
  }
  Image<K> img = make_image<K>(base, pieces, splits, caps, opts);

  auto fail_at = [&](const Request& r, const Error& e) { fail(map_error(r, e)); };
  auto find_req = [&](std::uint64_t va) -> const Request& {
    for (const Request& r : reqs)
      if (va >= r.va && va - r.va < r.size) return r;
    return reqs.front();
  };
  Tree<K> tree = img.builder.tree();
  if (auto r = map_linear(tree, img.builder.memory(), std::span<const Bank>(lowmem), p.va_pa_offset, kLinearAttrs, opts); !r)
    fail_at(find_req(r.error().va.value), r.error());
  // Kernel segments: in their own window, runs of segments contiguous in VA and PA with the same
  // attributes are mapped as one (so they can use blocks); in the linear map, each segment's
  // pages get its permissions.
  for (std::size_t i = 0; i < kimg.segs.size();) {
    const KernelSeg& s = kimg.segs[i];
    std::uint64_t size = s.size;
    std::size_t j = i + 1;
    while (own_image_va && j < kimg.segs.size() && kimg.segs[j].va == s.va + size && kimg.segs[j].pa == s.pa + size &&
           kimg.segs[j].attrs == s.attrs)
      size += kimg.segs[j++].size;
    const Request& req = reqs[lowmem.size() + i];
    if (own_image_va) {
      if (auto r = img.builder.map(VirtAddr(s.va), PhysAddr(s.pa), size, s.attrs, opts); !r) fail_at(req, r.error());
    } else if (auto r = protect(tree, img.builder.memory(), VirtAddr(s.va), size, s.attrs, opts); !r) {
      fail_at(req, r.error());
    }
    i = j;
  }
  for (std::size_t i = lowmem.size() + kimg.segs.size(); i < reqs.size(); ++i) {
    const Request& r = reqs[i];
    if (auto m2 = img.builder.map(VirtAddr(r.va), PhysAddr(r.pa), r.size, r.attrs, opts); !m2) {
      if (i < extra_from && m2.error().code == Errc::unsupported_memtype)
        fail(map_error(r, m2.error()) + (kRiscv<K> ? " (RISC-V: --caps svpbmt, or --console-attrs rw-,g for a PMA-typed console)" : ""));
      fail_at(r, m2.error());
    }
  }
  const std::uint64_t used = img.builder.bytes().size();
  for (const KernelSeg& s : kimg.segs)
    if (base < s.pa + s.size && s.pa < base + used)
      fail(fmt::format("the tables {} overlap the kernel image (segment {} at {}): choose another --base", range_text(base, used),
                       s.index, range_text(s.pa, s.size)));
  for (const NoMap& n : m.no_map)
    if (base < n.range.pa + n.range.size && n.range.pa < base + used)
      fail(fmt::format("the tables {} overlap the no-map reserved region {} {}: choose another --base", range_text(base, used),
                       n.path, range_text(n.range.pa, n.range.size)));
  if (!in_bank(banks, base, used))
    plan.notes.push_back(fmt::format("note   the tables {} are not inside one memory bank", range_text(base, used)));
  plan.notes.push_back(fmt::format("layout {}: linear map at {} (va - pa = {}){}", layout->name, hex(layout->linear.base.value),
                                   hex(p.va_pa_offset),
                                   have_kernel ? fmt::format(", image at {} (va - pa = {})", hex(plan.image_va),
                                                             hex(plan.va_kernel_pa_offset))
                                               : std::string()));
  if (have_kernel && kimg.link_va != plan.image_va)
    plan.notes.push_back(fmt::format("note   the kernel is linked at {}, mapped at {}", hex(kimg.link_va), hex(plan.image_va)));
  report_build(a, format, img, reqs, &plan);
  return 0;
}

template <class F>
int cmd_build(const Args& a) {
  const std::uint64_t base = number(a.need("base"), "--base");
  if (a.value("kernel") && !a.value("dtb")) fail("build: --kernel needs --dtb (the RAM the kernel is placed in)");
  for (const char* opt : {"console-attrs", "map-no-map"})
    if (a.has(opt) && !a.value("dtb")) fail(fmt::format("build: --{} needs --dtb", opt));
  for (const char* opt : {"load", "allow-wx"})
    if (a.has(opt) && !a.value("kernel")) fail(fmt::format("build: --{} needs --kernel", opt));
  int rc = 0;
  auto run = [&]<class K>() {
    const typename K::Caps caps = caps_from<K>(a, typename K::Caps{});
    if constexpr (kArm64<K> && K::kVaRule == VaRule::low)  // never a boot layout (below): no build_boot<K>
      rc = build_maps<K>(a, F::kName, base, caps);
    else
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

template <class F>
int cmd_dump(const Args& a) {
  const Loaded<F> l = load<F>(a, a.need("image"), "base", "root");
  const std::vector<DumpRange> ranges = ranges_of(l);
  // --check-wx: validate()'s W^X audit, one finding per writable+executable leaf entry (the
  // image already validated, so one pass with room for every table).
  // --kernel-range VA:SIZE adds the audit of user-accessible leaves in the kernel's range.
  std::vector<Finding> wx, user;
  const auto kernel_range = a.value("kernel-range");
  if (kernel_range && !a.flag("check-wx")) fail("dump: --kernel-range goes with --check-wx");
  if (a.flag("check-wx")) {
    auto collect = [&](const Finding& f) {  // (the image was validated when loaded: nothing else)
      if (f.what == Problem::writable_executable) wx.push_back(f);
      else if (f.what == Problem::user_kernel_mapping) user.push_back(f);
    };
    ValidateOptions vo;
    vo.allow_empty_tables = true;
    vo.check_wx = true;
    if (kernel_range) {
      const std::string& k = *kernel_range;
      const auto colon = k.find(':');
      if (colon == std::string::npos) fail("dump: --kernel-range wants VA:SIZE, e.g. 0xffffffc000000000:256G");
      vo.kernel = Region{VirtAddr(number(k.substr(0, colon), "--kernel-range's VA")),
                         number(k.substr(colon + 1), "--kernel-range's size")};
    }
    vo.report_to(collect);
    std::vector<PhysAddr> scratch(l.check.tables + 1);
    auto access = l.access;
    (void)ptlib::validate(l.tree, access, vo, std::span<PhysAddr>(scratch));
  }
  if (a.flag("json")) {
    std::string s = fmt::format("{{\"format\": {}, \"ttbr1\": {}, \"root\": \"{}\", \"tables\": {}, \"leaves\": {}, ",
                                json_str(F::kName), F::kVaRule == VaRule::high && kArm64<F> ? "true" : "false",
                                hex(l.tree.root.value), l.check.tables, l.check.leaves);
    if (a.flag("check-wx")) {
      s += "\"wx\": [";
      for (std::size_t i = 0; i < wx.size(); ++i) s += fmt::format("{}\"{}\"", i ? ", " : "", hex(wx[i].va.value));
      s += "], ";
      if (kernel_range) {
        s += "\"user_in_kernel\": [";
        for (std::size_t i = 0; i < user.size(); ++i) s += fmt::format("{}\"{}\"", i ? ", " : "", hex(user[i].va.value));
        s += "], ";
      }
    }
    s += "\"ranges\": [";
    for (std::size_t i = 0; i < ranges.size(); ++i) s += (i ? ",\n  " : "\n  ") + range_json(ranges[i]);
    fmt::print("{}\n]}}\n", s);
    return wx.empty() && user.empty() ? 0 : 1;  // --check-wx: a finding is exit status 1, as for memory dumps
  }
  if (a.flag("check-wx")) {
    fmt::print("# W^X: {} writable+executable leaf entr{}\n", wx.size(), wx.size() == 1 ? "y" : "ies");
    for (const Finding& f : wx) fmt::print("# W+X  {}\n", to_string(f));
    if (kernel_range) {
      fmt::print("# user-accessible leaf entr{} in the kernel's range: {}\n", user.size() == 1 ? "y" : "ies", user.size());
      for (const Finding& f : user) fmt::print("# USER {}\n", to_string(f));
    }
  }
  fmt::print("# {}{} root {}: {} tables, {} leaves, {} ranges\n", F::kName, F::kVaRule == VaRule::high ? " TTBR1" : "",
             hex(l.tree.root.value), l.check.tables, l.check.leaves, ranges.size());
  if constexpr (kArm64<F> && F::kVaRule == VaRule::low)
    fmt::print("# TTBR0 addresses (from 0); an image built with --dtb or --ttbr1 is a TTBR1 tree: dump it with --ttbr1 "
               "or --build its.json\n");
  for (const DumpRange& r : ranges) fmt::print("{}\n", format_range(r));
  return wx.empty() && user.empty() ? 0 : 1;
}

template <class F>
int cmd_translate(const Args& a) {
  const Loaded<F> l = load<F>(a, a.need("image"), "base", "root");
  auto access = l.access;
  return print_translations(a, l.tree, access, [](const Error&) { return ""; });
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
/// The commands that take --format, for format F (with --ttbr1: its TTBR1 counterpart).
template <class F>
int run_format(const Args& a) {
  if (a.command == "layout") return cmd_layout<F>(a);
  if (a.command == "build") return cmd_build<F>(a);
  int rc = 0;
  with_range<F>(a, [&]<class R>() {
    if (a.command == "dump") rc = cmd_dump<R>(a);
    else if (a.command == "translate") rc = cmd_translate<R>(a);
    else rc = cmd_diff<R>(a);
  });
  return rc;
}

// Compiled in commands-*.cpp (every named format: a missing one fails to link).
#define PTGEN_EXTERN_COMMANDS(F) extern template int run_format<F>(const Args&);
PTLIB_FOR_EACH_FORMAT(PTGEN_EXTERN_COMMANDS)
#undef PTGEN_EXTERN_COMMANDS

}  // namespace ptgen
