// The format-generic boot of every demo kernel: phase 1 (MMU off: identity map from a static pool
// sized at compile time, MMU on), phase 2 (MMU on: the final tables built through the linear map,
// the switch to them, execution at the image's high VA) and the self-checks that prove on the
// CPU's MMU that the tables mean what ptlib says. One template, parameterised by an address
// space (Single<F> or Split<Low, High>, space.hpp) and the family's hooks (see "Hooks" below).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include <ptlib/layout.hpp>
#include <ptlib/maps.hpp>
#include <ptlib/tables.hpp>

#include "console.hpp"
#include "space.hpp"

namespace demo {

/// An MMIO device the kernel maps: [pa, pa + size).
struct Device {
  std::uint64_t pa = 0;
  std::uint64_t size = 0;
};

/// What a probed access ran into: nothing (it completed) or a page fault of this kind.
enum class Access : std::uint8_t { none, read, write, exec };

/// The outcome of a probed access: the fault kind the CPU reported and its faulting address.
struct Probe {
  Access fault = Access::none;
  std::uint64_t addr = 0;
};

/// A translation register: what ptlib computed for the tree, and what the CPU holds.
struct Reg {
  const char* name = "";
  std::uint64_t want = 0;
  std::uint64_t got = 0;
};

// The image's bounds, from the family's linker script. Every boundary is aligned to the largest
// page size the family's formats use (a section must start on a page: map_image's rule), and
// the image is linked (and loaded) at its physical address H::kLoadPa.
//   __image_start: first byte (text)    __text_end: end of text
//   __rodata_start .. __rodata_end       __data_start .. __image_end: data, bss, stack
extern "C" char __image_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __image_end[];

// Hooks H a family provides (all static):
//   static const char* name();                       format name for PASS/INFO (a literal)
//   static constexpr const ptlib::Layout& layout();  the layout of the kernel-half format
//   static constexpr std::uint64_t kRamBase, kRamSize, kLoadPa, kImageMax;
//                                                    RAM, where the image is loaded, its size bound
//   static constexpr std::array<Device, N> kDevices; MMIO to map (dev(i) follows the mapping)
//   static Caps caps();                              capabilities the tables may use
//   static Attrs device_attrs(const Caps&);          how to map a device (MemType::device where
//                                                    the format can say it)
//   template <class S> static bool activate(const S&);   load the space's registers: MMU on
//                                                    (phase 1) or switch (phase 2) + full TLB
//                                                    flush; false if the CPU refused the mode
//   template <class S> static std::size_t read_back(const S&, Reg* out);  <= 4 registers
//   struct Sync { void publish(); void invalidate(VirtAddr, std::uint64_t); };  ptlib SyncHook
//   [[noreturn]] static void continue_at(void (*fn)(), std::uintptr_t offset);
//                                                    jump to fn + offset with sp += offset
//   static void on_high();                           first thing at the high VA (trap vector)
//   static Probe try_read(std::uintptr_t va, std::uintptr_t& value);
//   static Probe try_write(std::uintptr_t va, std::uintptr_t value);
//   static Probe try_exec(std::uintptr_t va);        call va; a fault returns to the caller
//   static void write_return(std::uintptr_t va);     store a "return" instruction at va and make
//                                                    it visible to instruction fetch
//   [[noreturn]] static void exit(bool pass);        exit QEMU with the pass/fail status
// Optional hooks:
//   static const char* chosen();                     the format a run-time choice picked (INFO chosen=)
//   static void arch_checks(const Space&, const ptlib::Placement&);  more checks on the final tables
template <class Space, class H>
class Boot {
 public:
  using F = typename Space::Format;
  using G = ptlib::Geometry<F>;
  using Caps = typename Space::Caps;
  static constexpr std::uint64_t kPage = G::kPageSize;
  static constexpr std::uint64_t kScratchBytes = 4ULL << 20;  ///< RAM the checks use, below them
  static constexpr std::uint64_t kTestSpacing = 8ULL << 20;   ///< between the checks' VAs

  /// Phase 1, called by the family's entry with the MMU off, running at the load address.
  [[noreturn]] static void run() {
    for (std::size_t i = 0; i < H::kDevices.size(); ++i) g_dev[i] = std::uintptr_t(H::kDevices[i].pa);
    puts("ptlib demo kernel: ");
    puts(H::name());
    puts("\n");
    const auto load = reinterpret_cast<std::uintptr_t>(__image_start);
    const std::uint64_t size = std::uint64_t(__image_end - __image_start);
    if (load != H::kLoadPa || size > H::kImageMax) stop("image loaded at kLoadPa and within kImageMax");
    auto placed = ptlib::place(layout(), PhysAddr(H::kRamBase), H::kRamSize, PhysAddr(load), size, kPage);
    if (!placed) stop("place the layout", placed.error());
    s_.place = *placed;
    s_.caps = H::caps();
    s_.nx = has_nx(s_.caps);
    const auto& p = s_.place;

    auto made = Space::make(pool1_, s_.caps);
    if (!made) stop("phase 1: root", made.error());
    const Space sp = *made;
    const ptlib::Attrs rwx{ptlib::Perm::read | ptlib::Perm::write | ptlib::Perm::exec | ptlib::Perm::global};
    map_or_stop(sp, pool1_, VirtAddr(load), PhysAddr(load), H::kImageMax, rwx, "phase 1: identity map of the kernel");
    for (std::size_t i = 0; i < H::kDevices.size(); ++i)
      map_or_stop(sp, pool1_, VirtAddr(H::kDevices[i].pa), PhysAddr(H::kDevices[i].pa), dev_size(i),
                  H::device_attrs(s_.caps), "phase 1: identity map of a device");
    // The linear map is in phase 1 too: phase 2 reaches its new tables through it. An image
    // inside the linear map runs from it until phase 2 splits it by section, so it is executable.
    map_or_stop(sp, pool1_, p.linear_map().base, p.ram_base, p.ram_size, kSeparateImage ? ptlib::kLinearAttrs : rwx,
                "phase 1: linear map");
    if (kSeparateImage)
      map_or_stop(sp, pool1_, p.image_va, p.load_pa, H::kImageMax, rwx, "phase 1: image window");
    s_.phase1_tables = pool1_.tables_in_use();
    puts("phase 1: ");
    put_dec(s_.phase1_tables);
    puts(" tables from a ");
    put_dec(kPool1Bytes);
    puts("-byte static pool (table_budget)\n");
    if (!H::activate(sp)) stop("phase 1: the CPU kept the translation mode");
    puts("phase 1: MMU on\n");
    H::continue_at(&phase2, std::uintptr_t(p.va_kernel_pa_offset));
  }

  /// Phase 2 for kernels whose phase 1 ran in another program (x86-64: a 32-bit loader runs
  /// run()'s phase 1 with paging off, enters long mode and hands over): at the image's VA, on
  /// tables that map it, the linear map and the devices as run() does.
  [[noreturn]] static void resume(const ptlib::Placement& p, const Caps& caps) {
    s_.place = p;
    s_.caps = caps;
    s_.nx = has_nx(caps);
    phase2();
  }

 private:
  struct State {
    ptlib::Placement place{};
    Caps caps{};
    std::size_t phase1_tables = 0;
    bool nx = true;  ///< the format can forbid execution (x86-32 cannot: SDM vol. 3A 4.3)
    std::uint64_t tables_pa = 0, scratch_pa = 0;
  };

  static constexpr const ptlib::Layout& layout() { return H::layout(); }
  /// The format a run-time choice picked, for INFO's chosen= (optional hook H::chosen()).
  static const char* chosen() {
    if constexpr (requires { H::chosen(); }) return H::chosen();
    else return nullptr;
  }
  /// Whether a read + write, no-exec leaf is expressible with these capabilities.
  static constexpr bool has_nx(const Caps& caps) {
    return F::leaf_proto(G::level(G::kDepth - 1), ptlib::LeafSettings{ptlib::kLinearAttrs}, caps).ok();
  }
  /// Engine options for every map: where the format cannot forbid execution, no-exec requests
  /// are mapped executable (explicitly: Options::allow_implied_exec).
  static ptlib::Options opts() { return ptlib::Options{.allow_implied_exec = !s_.nx}; }
  static constexpr bool kSeparateImage = !H::layout().image_window.empty();
  static constexpr std::uint64_t round(std::uint64_t n) { return (n + kPage - 1) & ~(kPage - 1); }
  static constexpr std::uint64_t dev_size(std::size_t i) { return round(H::kDevices[i].size); }
  /// Where device i is mapped in phase 2: the layout's fixmap, else its identity address.
  static constexpr std::uint64_t dev_va(std::size_t i) {
    if (layout().fixmap.empty()) return H::kDevices[i].pa;
    std::uint64_t va = layout().fixmap.base.value;
    for (std::size_t k = 0; k < i; ++k) va += dev_size(k);
    return va;
  }
  /// The checks' VAs in the vmalloc range, kTestSpacing apart.
  static constexpr VirtAddr test_va(unsigned k) { return layout().vmalloc.base + k * kTestSpacing; }

  static constexpr std::size_t kRegions = 7 + H::kDevices.size();
  static constexpr std::array<Region, kRegions> phase1_regions() {
    std::array<Region, kRegions> r{};
    r[0] = Region{VirtAddr(H::kLoadPa), H::kImageMax};
    r[1] = Region{layout().linear.base, H::kRamSize};
    if (kSeparateImage) r[2] = Region{layout().image_window.base, H::kImageMax};
    for (std::size_t i = 0; i < H::kDevices.size(); ++i) r[7 + i] = Region{VirtAddr(H::kDevices[i].pa), dev_size(i)};
    return r;
  }
  static constexpr std::array<Region, kRegions> phase2_regions() {
    std::array<Region, kRegions> r{};
    r[1] = Region{layout().linear.base, H::kRamSize};
    if (kSeparateImage) r[2] = Region{layout().image_window.base, H::kImageMax};
    for (unsigned k = 0; k < 4; ++k) r[3 + k] = Region{test_va(k), kTestSpacing / 4};  // the checks' maps
    for (std::size_t i = 0; i < H::kDevices.size(); ++i) r[7 + i] = Region{VirtAddr(dev_va(i)), dev_size(i)};
    return r;
  }
  static constexpr std::size_t kPool1Bytes = Space::pool_bytes(phase1_regions());
  /// Phase-2 table pages (top of RAM): the budget of the final maps, one page per table.
  static constexpr std::size_t kTablePages = (Space::pool_bytes(phase2_regions()) + kPage - 1) / kPage;
  using Pages = ptlib::PageBitmap<kTablePages>;
  using Mem = LinearTables<Pages>;

  static inline constinit ptlib::StaticPool<kPool1Bytes, Space::kPoolAlign> pool1_{};
  static inline constinit State s_{};
  static inline constinit std::optional<Pages> pages_{};
  static inline constinit Space final_{};
  static inline volatile std::uintptr_t alias_word_ = 0;
  alignas(16) static inline volatile std::uint32_t nx_slot_[4]{};  ///< room for a return instruction
  [[gnu::used]] static inline const std::uintptr_t ro_word_ = std::uintptr_t(0x0123456789abcdefULL);

  static void print_error(const ptlib::Error& e) {
    puts("  error ");
    puts(ptlib::name(e.code));
    puts(" va=");
    put_hex(e.va.value);
    puts(" pa=");
    put_hex(e.pa.value);
    if (e.has_level()) {  // the number: level_name points into a table of link-time addresses
      puts(" level ");
      if (e.level < 0) puts("-");
      put_dec(std::uintptr_t(e.level < 0 ? -e.level : e.level));
    }
    puts("\n");
  }
  /// A step the boot cannot go on without failed: FAIL with it and exit.
  [[noreturn]] static void stop(const char* what) {
    check(false, what);
    verdict(H::name());
    H::exit(false);
  }
  [[noreturn]] static void stop(const char* what, const ptlib::Error& e) {
    print_error(e);
    stop(what);
  }
  template <class M>
  static void map_or_stop(const Space& sp, M& mem, VirtAddr va, PhysAddr pa, std::uint64_t size, ptlib::Attrs a,
                          const char* what) {
    auto r = sp.on(va, size, [&](const auto& t) { return ptlib::map(t, mem, va, pa, size, a, opts()); });
    if (!r) stop(what, r.error());
  }

  /// Phase 2: at the image's high VA (phase-1 tables), build the final space through the
  /// linear map, switch to it, run the checks.
  [[noreturn]] static void phase2() {
    H::on_high();
    const auto& p = s_.place;
    const std::uint64_t ram_top = p.ram_base.value + p.ram_size;
    s_.tables_pa = ram_top - kTablePages * kPage;
    s_.scratch_pa = (s_.tables_pa - kScratchBytes) & ~(kTestSpacing / 4 - 1);  // 2 MiB aligned
    pages_.emplace(PhysAddr(s_.tables_pa), std::size_t(kPage), kTablePages);
    Mem mem(*pages_, std::uintptr_t(p.va_pa_offset));

    auto made = Space::make(mem, s_.caps);
    if (!made) stop("phase 2: root", made.error());
    final_ = *made;
    const Space& sp = final_;
    const ptlib::Bank ram[] = {{p.ram_base, p.ram_size}};
    auto lin = sp.on(p.linear_map().base, p.ram_size,
                     [&](const auto& t) { return ptlib::map_linear(t, mem, ram, p.va_pa_offset, ptlib::kLinearAttrs, opts()); });
    if (!lin) stop("phase 2: linear map of RAM", lin.error());
    const auto start = reinterpret_cast<std::uintptr_t>(__image_start);
    auto off = [&](const char* sym) { return std::uint64_t(reinterpret_cast<std::uintptr_t>(sym) - start); };
    const ptlib::Section sections[] = {
        {"text", 0, off(__text_end), ptlib::SectionKind::text},
        {"rodata", off(__rodata_start), off(__rodata_end) - off(__rodata_start), ptlib::SectionKind::rodata},
        {"data", off(__data_start), off(__image_end) - off(__data_start), ptlib::SectionKind::data},
    };
    if (kSeparateImage) {
      const ptlib::ImageOptions io{.engine = opts()};
      auto img = sp.on(p.image_va, p.image_size,
                       [&](const auto& t) { return ptlib::map_image(t, mem, p.image_va, p.load_pa, sections, io); });
      if (!img) stop("phase 2: image map", img.error());
    } else {  // the image is inside the linear map: give its sections their permissions there
      for (const ptlib::Section& s : sections) {
        const VirtAddr va = p.image_va + s.offset;
        auto r = sp.on(va, round(s.size), [&](const auto& t) {
          return ptlib::protect(t, mem, va, round(s.size), ptlib::section_attrs(s.kind), opts());
        });
        if (!r) stop("phase 2: image sections in the linear map", r.error());
      }
    }
    for (std::size_t i = 0; i < H::kDevices.size(); ++i)
      map_or_stop(sp, mem, VirtAddr(dev_va(i)), PhysAddr(H::kDevices[i].pa), dev_size(i), H::device_attrs(s_.caps),
                  "phase 2: device map");
    const std::size_t tables = pages_->pages_in_use();
    puts("phase 2: ");
    put_dec(tables);
    puts(" tables built through the linear map (DirectAccess offset ");
    put_hex(p.va_pa_offset);
    puts(")\n");
    if (!H::activate(sp)) stop("phase 2: switch to the final tables");
    for (std::size_t i = 0; i < H::kDevices.size(); ++i) g_dev[i] = std::uintptr_t(dev_va(i));
    puts("phase 2: running on the final tables\n");
    checks(mem);
    info(H::name(), G::kDepth, tables, chosen());
    const bool pass = verdict(H::name());
    hold_if_asked(H::name());
    H::exit(pass);
  }

  /// The linear-map address of RAM at `pa`, and a machine word at a VA.
  static std::uintptr_t linear(std::uint64_t pa) { return std::uintptr_t(pa + s_.place.va_pa_offset); }
  static volatile std::uintptr_t& word(std::uintptr_t va) { return *reinterpret_cast<volatile std::uintptr_t*>(va); }
  static bool faults(const Probe& pr, Access kind, std::uintptr_t va) {
    return pr.fault == kind && pr.addr == std::uint64_t(va);
  }
  static ptlib::Result<Where> where(std::uintptr_t va) {
    const ptlib::DirectAccess access(std::uintptr_t(s_.place.va_pa_offset));
    return final_.translate(access, VirtAddr(va));
  }

  /// Edits of the final tables while the CPU uses them: ptlib's live policy with the family's
  /// barrier and TLB invalidation. Errors are printed (the check that follows fails).
  struct LiveEdit {
    Mem& mem;
    ptlib::Options opts{.allow_implied_exec = !s_.nx, .live = ptlib::Live::break_before_make};
    typename H::Sync sync{};

    template <class Op>
    ptlib::Result<ptlib::Report> run(VirtAddr va, std::uint64_t size, Op&& op) {
      auto r = final_.on(va, size, op);
      if (!r) print_error(r.error());
      return r;
    }
    ptlib::Result<ptlib::Report> map(VirtAddr va, PhysAddr pa, std::uint64_t size, ptlib::Attrs a) {
      auto r = run(va, size, [&](const auto& t) { return ptlib::map(t, mem, va, pa, size, a, opts, sync); });
      // ptlib invalidates the entries it changes; this one was invalid, and a hart may cache a
      // not-present translation (RISC-V priv 4.2.1; Svvptc lifts that): invalidate it too.
      sync.invalidate(va, size);
      return r;
    }
    ptlib::Result<ptlib::Report> protect(VirtAddr va, std::uint64_t size, ptlib::Attrs a) {
      return run(va, size, [&](const auto& t) { return ptlib::protect(t, mem, va, size, a, opts, sync); });
    }
    ptlib::Result<ptlib::Report> unmap(VirtAddr va, std::uint64_t size) {
      return run(va, size, [&](const auto& t) { return ptlib::unmap(t, mem, va, size, opts, sync); });
    }
  };

  static constexpr ptlib::Attrs kRo{ptlib::Perm::read | ptlib::Perm::global};
  static constexpr ptlib::Attrs kRw{ptlib::Perm::read | ptlib::Perm::write | ptlib::Perm::global};

  static void checks(Mem& mem) {
    const auto& p = s_.place;

    // Execution continues at the image's VA (the final tables have no identity map).
    const auto here = reinterpret_cast<std::uintptr_t>(&phase2);
    check(p.image().contains(VirtAddr(here)), "code runs at the image's VA in the final tables");

    // Alias: the image VA and the linear map reach the same RAM.
    const auto img = reinterpret_cast<std::uintptr_t>(&alias_word_);
    const std::uint64_t img_pa = p.load_pa.value + (img - p.image_va.value);
    auto t = where(img);
    check_eq("ptlib translate(image VA of a data word)", t ? t->pa.value : 0, img_pa);
    alias_word_ = std::uintptr_t(0x1122334455667788ULL);
    check(word(linear(img_pa)) == std::uintptr_t(0x1122334455667788ULL),
          "a write through the image VA reads back through the linear-map alias");
    word(linear(img_pa)) = std::uintptr_t(0xcafef00dd00dfeedULL);
    check(alias_word_ == std::uintptr_t(0xcafef00dd00dfeedULL),
          "a write through the linear-map alias reads back through the image VA");

    // Read-only data and text.
    const auto ro = reinterpret_cast<std::uintptr_t>(&ro_word_);
    check(faults(H::try_write(ro, 1), Access::write, ro) && ro_word_ == std::uintptr_t(0x0123456789abcdefULL),
          "a write to rodata faults (write fault at its VA)");
    const auto text = reinterpret_cast<std::uintptr_t>(__image_start) + 64;
    std::uintptr_t text_word = 0;
    (void)H::try_read(text, text_word);  // store back what is there: harmless if it went through
    check(faults(H::try_write(text, text_word), Access::write, text), "a write to text faults");

    // No-exec: a return instruction in the image's data, and in linearly mapped RAM.
    if (s_.nx) {
      const auto data = reinterpret_cast<std::uintptr_t>(&nx_slot_);
      H::write_return(data);
      check(faults(H::try_exec(data), Access::exec, data), "executing from the image's data faults");
      const std::uintptr_t nx = linear(s_.scratch_pa + 2 * kPage);
      H::write_return(nx);
      check(faults(H::try_exec(nx), Access::exec, nx), "executing from the no-exec linear map faults");
    } else {
      const VirtAddr va = test_va(3);
      auto r = final_.on(va, kPage, [&](const auto& t) {
        return ptlib::plan(t, mem, ptlib::op::Map{va, PhysAddr(s_.scratch_pa), kPage, kRw});
      });
      check(!r && r.error().code == ptlib::Errc::unsupported_attrs,
            "no execute-disable in this format: ptlib refuses a no-exec map unless allow_implied_exec");
    }

    // Unmapped.
    const auto hole = std::uintptr_t(test_va(3).value);
    auto no = where(hole);
    std::uintptr_t v = 0;
    check(!no && no.error().code == ptlib::Errc::not_mapped && faults(H::try_read(hole, v), Access::read, hole),
          "a read of an unmapped VA faults (ptlib: not_mapped)");

    LiveEdit live{mem};
    runtime_checks(live);
    contiguous_check(live);
    nc_check(live);

    // Devices: the console prints through its phase-2 mapping (these lines); ptlib agrees.
    for (std::size_t i = 0; i < H::kDevices.size(); ++i) {
      auto d = where(std::uintptr_t(dev_va(i)));
      check(d && d->pa.value == H::kDevices[i].pa && d->attrs.mem == H::device_attrs(s_.caps).mem,
            "device mapped at its fixmap VA with the device memory type");
    }

    // The translation registers hold what ptlib computed.
    Reg regs[4];
    const std::size_t n = H::read_back(final_, regs);
    for (std::size_t i = 0; i < n; ++i) check_eq(regs[i].name, regs[i].got, regs[i].want);

    // The family's own checks (optional hook), e.g. the CPU's address-translation instruction
    // against ptlib's translate() of the final tables.
    if constexpr (requires { H::arch_checks(final_, p); }) H::arch_checks(final_, p);
  }

  /// map(), protect() and unmap() on the live tree: each access that worked faults after the
  /// change, and the reverse.
  static void runtime_checks(LiveEdit& live) {
    const VirtAddr va = test_va(0);
    const PhysAddr pa(s_.scratch_pa);
    const auto u = std::uintptr_t(va.value);
    word(linear(pa.value)) = std::uintptr_t(0x5555aaaa5555aaaaULL);
    const bool mapped = bool(live.map(va, pa, kPage, kRo));
    std::uintptr_t v = 0;
    const Probe rd = H::try_read(u, v);
    check(mapped && rd.fault == Access::none && v == std::uintptr_t(0x5555aaaa5555aaaaULL),
          "runtime map(): the new read-only page reads what the linear alias wrote");
    check(faults(H::try_write(u, 1), Access::write, u), "a write to the new read-only page faults");

    const bool rw = bool(live.protect(va, kPage, kRw));
    const Probe wr = H::try_write(u, std::uintptr_t(0x600dULL));
    check(rw && wr.fault == Access::none && word(linear(pa.value)) == std::uintptr_t(0x600dULL),
          "runtime protect() read-write + TLB invalidation: the write that faulted now works");

    const bool gone = bool(live.unmap(va, kPage));
    check(gone && faults(H::try_read(u, v), Access::read, u),
          "runtime unmap() + TLB invalidation: the read that worked now faults");
  }

  /// A contiguous run (arm64 contiguous bit, RISC-V Svnapot) where the format and caps have one.
  static void contiguous_check(LiveEdit& live) {
    const unsigned run_log2 = Space::run_log2(s_.caps);
    if (run_log2 == 0) return;
    const std::uint64_t bytes = kPage << run_log2;
    const VirtAddr va = test_va(1);
    const PhysAddr pa(s_.scratch_pa + kTestSpacing / 4);  // 2 MiB aligned: any run fits
    const bool mapped = bool(live.map(va, pa, bytes, kRw));
    const std::uint64_t off = bytes - 3 * kPage + 8;  // inside the run's third-last page
    auto t = where(std::uintptr_t(va.value + off));
    check(mapped && t && t->contiguous && t->pa.value == pa.value + off,
          "ptlib maps an aligned run as one contiguous (Svnapot / contiguous-bit) run");
    word(linear(pa.value + off)) = std::uintptr_t(0xabcdef0123ULL);
    std::uintptr_t v = 0;
    const Probe rd = H::try_read(std::uintptr_t(va.value + off), v);
    check(rd.fault == Access::none && v == std::uintptr_t(0xabcdef0123ULL),
          "the CPU translates inside the contiguous run to the right page");
  }

  /// A non-cacheable mapping of RAM, where the format (and caps) can express one.
  static void nc_check(LiveEdit& live) {
    const VirtAddr va = test_va(2);
    const PhysAddr pa(s_.scratch_pa + kPage);
    const ptlib::Attrs nc{kRw.perm, ptlib::MemType::normal_nc};
    ptlib::Result<std::size_t> can = final_.on(va, kPage, [&](const auto& t) {
      return ptlib::plan(t, live.mem, ptlib::op::Map{va, pa, kPage, nc});
    });
    if (!can && can.error().code == ptlib::Errc::unsupported_memtype) return;  // no such type here
    const bool mapped = bool(live.map(va, pa, kPage, nc));
    const Probe wr = H::try_write(std::uintptr_t(va.value), std::uintptr_t(0x4e43ULL));
    check(mapped && wr.fault == Access::none && word(linear(pa.value)) == std::uintptr_t(0x4e43ULL),
          "a write through a non-cacheable mapping reads back through the linear map");
  }
};

}  // namespace demo
