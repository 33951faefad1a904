// ptgen over physical memory (memdump.hpp): the tables of a real machine, read from a QEMU
// dump-guest-memory ELF core or a raw memory image, listed without trusting them. A tree in real
// memory is not always one ptlib would build: validate() reports every entry that is malformed,
// misaligned, or points outside the dump, and the listing walker below follows each table pointer
// the hardware would follow, except one that points back to a table on its own path (a recursive
// or self-referencing entry), and stops after a bounded number of table visits (tables shared by
// many entries), so it always terminates.
#include "memdump.hpp"

#include <elf.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <unordered_set>

#include <ptlib/physmem.hpp>

namespace ptgen {
namespace {

// ---------------------------------------------------------------------------------------------
// The source: which file, which format, which root.
// ---------------------------------------------------------------------------------------------

/// Memory opened from --core/--raw (or their -b twins for diff), with the tree's root and format.
struct Source {
  std::string path;
  PhysMemory mem;
  std::string format;
  std::uint64_t root = 0;
  std::string root_from;                 ///< "--root", or "CPU n CR3 0x..."
  std::optional<X86CpuState> cpu;        ///< the x86 CPU whose registers chose format and root
};

// Intel SDM vol. 3A, 2.5 (control registers): CR0.PG is bit 31; CR4.PSE bit 4, CR4.PAE bit 5,
// CR4.LA57 bit 12. A dump's e_machine is EM_X86_64 exactly when the first CPU had
// IA32_EFER.LMA = 1 (QEMU target/i386/arch_dump.c, cpu_get_dump_info).
constexpr std::uint64_t kCr0Pg = 1ULL << 31, kCr4Pse = 1ULL << 4, kCr4Pae = 1ULL << 5, kCr4La57 = 1ULL << 12;

/// The paging mode an x86 CPU was in (SDM vol. 3A, 4.1.1 and table 4-1), or nullptr: paging off.
const char* x86_mode(unsigned machine, const X86CpuState& c) {
  if (!(c.cr0 & kCr0Pg)) return nullptr;
  if (machine == EM_X86_64) return (c.cr4 & kCr4La57) ? "x86-64-l5" : "x86-64-l4";
  return (c.cr4 & kCr4Pae) ? "x86-pae" : "x86-32";
}

/// The root table's address in CR3 (SDM vol. 3A, tables 4-3, 4-7, 4-12): bits 31:12 for 32-bit
/// paging, 31:5 for PAE, 51:12 for 4- and 5-level paging (bits 11:0 hold PCID or flags).
std::uint64_t x86_root(const std::string& mode, std::uint64_t cr3) {
  if (mode == "x86-32") return cr3 & 0xfffff000ULL;
  if (mode == "x86-pae") return cr3 & 0xffffffe0ULL;
  return cr3 & 0x000ffffffffff000ULL;
}

std::string machine_word(unsigned m) {
  switch (m) {
    case EM_X86_64: return "x86-64 (long mode)";
    case EM_386: return "i386";
    case EM_AARCH64: return "AArch64";
    case EM_ARM: return "ARM";
    case EM_RISCV: return "RISC-V";
    default: return fmt::format("machine {}", m);
  }
}

/// Opens the source of side "" (A) or "-b" (B; falls back to A's file and options).
Source open_source(const Args& a, const std::string& side) {
  auto opt = [&](const std::string& name) -> const std::string* {
    if (const std::string* v = a.value(name + side)) return v;
    return a.value(name);
  };
  Source s;
  const std::string* core = opt("core");
  const std::string* raw = opt("raw");
  if (side.empty() && a.value("core") && a.value("raw")) fail("give --core or --raw, not both");
  if (a.value("core-b")) raw = nullptr;
  if (a.value("raw-b") && side == "-b") core = nullptr;
  PhysOpen o;
  if (core) {
    s.path = *core;
    o = open_elf_core(*core);
  } else {
    s.path = *raw;
    const std::string* base = a.value("base");
    if (!base) fail(fmt::format("{}: --base PA is required with --raw (the physical address of its first byte)", s.path));
    o = open_raw(*raw, number(*base, "--base"));
  }
  if (!o) fail(o.error);
  s.mem = std::move(*o.memory);

  const std::string* format = a.value("format");
  const std::string* root = a.value("root" + side);
  if (!root && side == "-b") root = a.value("root");
  const std::string* cpu_text = opt("cpu");
  const std::vector<X86CpuState>& cpus = s.mem.x86_cpus;
  if (cpu_text && cpus.empty())
    fail(fmt::format("{}: --cpu: the dump records no CPU registers ptgen reads (x86 only): give --root", s.path));
  if (!cpus.empty()) {
    const std::uint64_t n = cpu_text ? number(*cpu_text, "--cpu") : 0;
    if (n >= cpus.size()) fail(fmt::format("{}: --cpu {}: the dump has {} CPU{} (0 to {})", s.path, n, cpus.size(),
                                           cpus.size() == 1 ? "" : "s", cpus.size() - 1));
    s.cpu = cpus[n];
    const char* mode = x86_mode(s.mem.machine, *s.cpu);
    if (!root) {
      if (!mode) fail(fmt::format("{}: CPU {} has paging off (CR0 {:#x}): no tables to read; give --root and --format", s.path, n, s.cpu->cr0));
      if (format && *format != mode)
        fail(fmt::format("--format {} disagrees with the dump: CPU {} is in {} paging (CR0 {:#x}, CR4 {:#x}, {}); give --root "
                         "to read other tables",
                         *format, n, mode, s.cpu->cr0, s.cpu->cr4, machine_word(s.mem.machine)));
      s.root = x86_root(mode, s.cpu->cr3);
      s.root_from = fmt::format("CPU {} CR3 {:#x}", n, s.cpu->cr3);
    }
    s.format = format ? *format : mode ? mode : "";
  } else if (format) {
    s.format = *format;
  }
  if (s.format.empty())
    fail(fmt::format("{}: the dump does not say which tables the CPU uses ({}): give --format and --root", s.path,
                     s.mem.machine ? machine_word(s.mem.machine) + " records no translation registers" : "a raw image"));
  if (root) {
    s.root = number(*root, "--root");
    s.root_from = "--root";
  } else if (s.root_from.empty()) {
    fail(fmt::format("{}: no root: give --root PA (the table base in satp, TTBRn or CR3)", s.path));
  }
  if (!s.mem.segment_of(s.root))
    fail(fmt::format("{}: the root {} is not in the dump (a hole, or past the end of memory)", s.path, hex(s.root)));
  return s;
}

std::string describe_source(const Source& s) {
  const auto& seg = s.mem.segments();
  return fmt::format("{}: {} segment{}, {} present, root from {}", s.path, seg.size(), seg.size() == 1 ? "" : "s",
                     size_string(s.mem.present_bytes()), s.root_from);
}

// ---------------------------------------------------------------------------------------------
// The listing walker.
// ---------------------------------------------------------------------------------------------

/// Something to report about the tree: a problem (validate(), a recursive entry, an exhausted
/// visit budget) or a note (a shared table), with its place.
struct Event {
  bool problem = true;
  std::string what;
  std::uint64_t va = 0, pa = 0;
  int level = Finding::kNoLevel;
  std::string level_name;
  std::string detail;
};

std::string event_text(const Event& e) {
  std::string s = fmt::format("{} {} at va {} pa {}", e.problem ? "problem" : "note", e.what, hex(e.va), hex(e.pa));
  if (e.level != Finding::kNoLevel) s += fmt::format(" level {} ({})", e.level, e.level_name);
  return s + ": " + e.detail;
}

std::string event_json(const Event& e) {
  return fmt::format("{{\"kind\": \"{}\", \"what\": {}, \"va\": \"{}\", \"pa\": \"{}\", \"level\": {}, \"detail\": {}}}",
                     e.problem ? "problem" : "note", json_str(e.what), hex(e.va), hex(e.pa),
                     e.level == Finding::kNoLevel ? std::string("null") : json_str(e.level_name), json_str(e.detail));
}

/// One leaf as the listing sees it (a ptlib Leaf without the format type).
struct RawLeaf {
  std::uint64_t va, pa, size;
  const char* level_name;
  Attrs attrs;
  bool contiguous;
};

/// Leaves in VA order, in a callback compiled once (not per format).
struct LeafSink {
  void* ctx;
  void (*fn)(void*, const RawLeaf&);
  void operator()(const RawLeaf& l) const { fn(ctx, l); }
};

template <class F>
class Lister {
  using G = Geometry<F>;
  using Entry = typename F::Entry;

 public:
  Lister(const Tree<F>& tree, PhysTables& access, std::uint64_t budget, bool allow_recursive,
         std::optional<std::uint64_t> mair, LeafSink sink, std::vector<Event>& events)
      : tree_(tree), access_(access), budget_(budget), allow_recursive_(allow_recursive), mair_(mair), sink_(sink),
        events_(events) {}

  /// Lists every leaf; returns false when the visit budget ran out (the listing is partial).
  bool run() {
    void* p = access_.map(tree_.root, 0);
    if (!p) return true;  // validate() reports the root
    path_[0] = tree_.root.value;
    seen_.insert(tree_.root.value);
    visits_ = 1;
    scan<0>(static_cast<const Entry*>(p), 0);
    return !exhausted_;
  }
  [[nodiscard]] std::uint64_t visits() const { return visits_; }

 private:
  void event(bool problem, const char* what, std::uint64_t t, std::uint64_t pa, std::size_t depth, std::string detail) {
    const auto L = G::level(depth);
    events_.push_back(Event{problem, what, G::to_va(t).value, pa, level_number<F>(L), F::level_name(L), std::move(detail)});
  }

  template <std::size_t D>
  void scan(const Entry* table, std::uint64_t base) {
    constexpr auto L = G::level(D);
    constexpr std::uint64_t span = G::span(D);
    for (std::size_t i = 0; i < std::size_t(G::entries(D)) && !exhausted_; ++i) {
      const std::uint64_t t = base + i * span;
      const Decoded e = F::decode(L, table[i]);
      if (e.kind == EntryKind::leaf && F::can_leaf(L, tree_.caps)) {
        // A Svnapot-style entry holds its run's base; entry k of the run maps base + k * span.
        const std::uint64_t in_run = e.run_log2 != 0 && e.run_log2 < 32 ? i & ((std::size_t{1} << e.run_log2) - 1) : 0;
        // What the entry means (permissions, memory type), without the per-format extension
        // (A/D, software bits, shareability, PAT index): ranges merge across the pages the CPU
        // has accessed or dirtied, as Linux's ptdump lists them. --mair: the guest's memory types.
        const Attrs at = with_guest_mair<F>(e.attrs, mair_);
        sink_(RawLeaf{G::to_va(t).value, e.addr.value + in_run * span, span, F::level_name(L), Attrs{at.perm, at.mem},
                      e.contiguous});
      } else if (e.kind == EntryKind::table) {
        if constexpr (D + 1 < G::kDepth) follow<D>(e.addr.value, t);
      }  // invalid: nothing; malformed (or a leaf where none may be): validate() reports it
    }
  }

  template <std::size_t D>
  void follow(std::uint64_t pa, std::uint64_t t) {
    for (std::size_t k = 0; k <= D; ++k)
      if (path_[k] == pa) {
        event(!allow_recursive_, "recursive_entry", t, pa, D,
              fmt::format("links the {} table above it (a self-map or a loop): not followed",
                          F::level_name(G::level(k))));
        return;
      }
    void* p = access_.map(PhysAddr(pa), D + 1);
    if (!p) return;  // outside the dump: validate() reports it
    // A table met again is shared (tables under it are then met again too: one note, at the top).
    const bool again = !seen_.insert(pa).second;
    if (again && shared_depth_ > D)
      event(false, "shared_table", t, pa, D, "a table linked from more than one entry: listed at every VA it maps");
    if (visits_ >= budget_) {
      exhausted_ = true;
      event(true, "visit_budget", t, pa, D,
            fmt::format("listing stopped after {} table visits (tables shared by very many entries): raise --max-visits",
                        visits_));
      return;
    }
    ++visits_;
    path_[D + 1] = pa;
    const std::size_t outer = shared_depth_;
    if (again && shared_depth_ > D) shared_depth_ = D;
    scan<D + 1>(static_cast<const Entry*>(p), t);
    shared_depth_ = outer;
  }

  const Tree<F>& tree_;
  PhysTables& access_;
  std::uint64_t budget_;
  bool allow_recursive_;
  std::optional<std::uint64_t> mair_;
  LeafSink sink_;
  std::vector<Event>& events_;
  std::uint64_t path_[G::kDepth]{};
  std::unordered_set<std::uint64_t> seen_;
  std::uint64_t visits_ = 0;
  std::size_t shared_depth_ = G::kDepth;  ///< depth of the shared table's link this walk is under
  bool exhausted_ = false;
};

/// What a walk of one source found.
struct Walked {
  Validation check;
  std::vector<Event> events;  ///< validate()'s problems, then the walker's, each in VA order
  std::uint64_t visits = 0;
  bool complete = true;
  [[nodiscard]] std::size_t problems() const {
    return std::size_t(std::count_if(events.begin(), events.end(), [](const Event& e) { return e.problem; }));
  }
};

/// validate() (every problem collected), then the listing walk feeding `sink`.
template <class F>
Walked walk(const Args& a, const Source& s, const Tree<F>& tree, LeafSink sink) {
  Walked w;
  PhysTables access = PhysTables::of<F>(s.mem);
  ValidateOptions vo;
  vo.allow_empty_tables = true;  // an allocator may keep empty tables: not an error for the hardware
  vo.on_finding = [](void* ctx, const Finding& f) {
    if (f.what == Problem::table_reached_twice) return;  // the walker tells shared from recursive
    std::string detail = describe(f.what);
    if (f.what == Problem::unreachable_table) detail += " (it is not wholly inside the dump: a hole, or past its end)";
    static_cast<std::vector<Event>*>(ctx)->push_back(
        Event{true, name(f.what), f.va.value, f.pa.value, f.level, f.level_name ? f.level_name : "", std::move(detail)});
  };
  vo.finding_ctx = &w.events;
  // validate() with a scratch for every table: a run that filled it is repeated with more room
  // (and its findings, scratch_exhausted among them, dropped).
  std::vector<PhysAddr> scratch(4096);
  for (;;) {
    w.check = ptlib::validate(tree, access, vo, std::span<PhysAddr>(scratch));
    if (w.check.tables_recorded < scratch.size()) break;
    w.events.clear();
    scratch.resize(2 * scratch.size());
  }
  const std::uint64_t budget = a.value("max-visits") ? number(*a.value("max-visits"), "--max-visits")
                                                     : 64 * std::uint64_t(w.check.tables) + 65536;
  Lister<F> lister(tree, access, budget, a.flag("allow-recursive"), guest_mair<F>(a), sink, w.events);
  w.complete = lister.run();
  w.visits = lister.visits();
  return w;
}

template <class F>
Tree<F> tree_of(const Args& a, const Source& s) {
  typename F::Caps caps = all_caps<F>();
  if constexpr (requires { caps.pse; })
    if (s.cpu && !a.value("caps")) caps.pse = (s.cpu->cr4 & kCr4Pse) != 0;  // 32-bit paging honours PS only then
  return Tree<F>{PhysAddr(s.root), caps_from<F>(a, caps)};
}

/// Calls fn<F>() with the source's format (and --ttbr1's high half for arm64).
template <class Fn>
int with_source_format(const Args& a, const Source& s, Fn&& fn) {
  Args named = a;
  named.values["format"] = {s.format};
  return with_named_format(named, [&]<class F>() {
    int rc = 0;
    with_range<F>(a, [&]<class R>() { rc = fn.template operator()<R>(); });
    return rc;
  });
}

// ---------------------------------------------------------------------------------------------
// Output: merged listing, Linux style, W+X.
// ---------------------------------------------------------------------------------------------

/// A named VA where Linux-style output prints `---[ NAME ]---`.
struct Marker {
  std::uint64_t va;
  std::string name;
};

/// Markers sorted by VA, those at one VA printed as one line ("vmalloc end / Kernel image end").
std::vector<Marker> sorted_markers(std::vector<Marker> in) {
  std::stable_sort(in.begin(), in.end(), [](const Marker& x, const Marker& y) { return x.va < y.va; });
  std::vector<Marker> out;
  for (Marker& m : in) {
    if (!out.empty() && out.back().va == m.va) out.back().name += " / " + m.name;
    else out.push_back(std::move(m));
  }
  return out;
}

std::vector<Marker> read_markers(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path);
  std::vector<Marker> out;
  std::string text(bytes.begin(), bytes.end());
  std::size_t line_no = 0, at = 0;
  while (at < text.size()) {
    const std::size_t nl = std::min(text.find('\n', at), text.size());
    std::string line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    const auto sp = line.find_last_of(" \t", last);
    if (sp == std::string::npos || sp < first)
      fail(fmt::format("--markers {}:{}: expected 'NAME VA', got '{}'", path, line_no, printable(line)));
    const std::string name = line.substr(first, line.find_last_not_of(" \t", sp) + 1 - first);
    const auto va = parse_number(line.substr(sp + 1, last - sp));
    if (!va) fail(fmt::format("--markers {}:{}: malformed VA '{}'", path, line_no, printable(line.substr(sp + 1, last - sp))));
    out.push_back(Marker{*va, printable(name)});
  }
  return sorted_markers(std::move(out));
}

/// The start (and, where nothing follows at once, the end) of each region of ptlib's layout.
template <class F>
std::vector<Marker> layout_markers() {
  std::vector<Marker> out;
  const Layout* l = layout_of<F>();
  if (!l) return out;
  const std::pair<const char*, Region> regions[] = {{"User", l->user},       {"Linear map", l->linear},
                                                    {"vmalloc", l->vmalloc}, {"Kernel image", l->image_window},
                                                    {"Fixmap", l->fixmap}};
  for (const auto& [name, r] : regions) {
    if (r.empty()) continue;
    out.push_back(Marker{r.base.value, name});
    out.push_back(Marker{r.base.value + r.size, fmt::format("{} end", name)});
  }
  // An end where another region starts is not a marker of its own.
  std::vector<Marker> kept;
  for (const Marker& e : out) {
    const bool is_end = e.name.ends_with(" end");
    const bool shadowed = std::any_of(out.begin(), out.end(), [&](const Marker& m) { return !m.name.ends_with(" end") && m.va == e.va; });
    if (!(is_end && shadowed) && !(is_end && e.va == 0)) kept.push_back(e);
  }
  return sorted_markers(std::move(kept));
}

/// Linux-ptdump attribute words for a range: RW/ro, x/NX, USR, GLB, CONT, memory type.
std::string linux_words(const Attrs& at, bool contiguous) {
  const char* mem = "MEM";
  switch (at.mem) {
    case MemType::normal: mem = "MEM"; break;
    case MemType::normal_nc: mem = "MEM/NC"; break;
    case MemType::device: mem = "DEV"; break;
    case MemType::wc: mem = "MEM/WC"; break;
    case MemType::other: mem = "OTHER"; break;
  }
  return fmt::format("{:<2} {:<2} {:<3} {:<3} {:<4} {}", at.write() ? "RW" : at.read() ? "ro" : "--", at.exec() ? "x" : "NX",
                     at.user() ? "USR" : "", at.global() ? "GLB" : "", contiguous ? "CONT" : "", mem);
}

/// A streaming merger of leaves into output lines. Modes:
///   merged: ptlib's dump ranges (same leaf size, attributes, run flag; VA and PA continue);
///   linux:  Linux ptdump ranges (same level, attributes, run flag; VA continues), with markers;
///   wx:     only writable+executable leaves, merged as `merged`.
class Printer {
 public:
  enum class Mode { merged, linux, wx };
  Printer(Mode m, bool json, std::vector<Marker> markers) : mode_(m), json_(json), markers_(std::move(markers)) {}
  /// Merged ranges collected into `into` instead of printed.
  explicit Printer(std::vector<DumpRange>& into) : mode_(Mode::merged), json_(false), into_(&into) {}

  void leaf(const RawLeaf& l) {
    ++leaves_;
    if (mode_ == Mode::wx) {
      if (!(l.attrs.write() && l.attrs.exec())) return;
      wx_pages_ += l.size;
    }
    if (mode_ == Mode::linux) {
      if (cur_ && next_marker_ < markers_.size() && l.va >= markers_[next_marker_].va) flush();
      while (next_marker_ < markers_.size() && markers_[next_marker_].va <= l.va) print_marker(markers_[next_marker_++]);
    }
    if (cur_) {
      DumpRange& b = *cur_;
      const bool same = b.attrs == l.attrs && b.contiguous == l.contiguous && b.va.value + b.size == l.va &&
                        (mode_ == Mode::linux ? std::string_view(b.level_name) == l.level_name
                                              : b.leaf_size == l.size && b.pa.value + b.size == l.pa);
      if (same) {
        b.size += l.size;
        ++b.count;
        return;
      }
      flush();
    }
    cur_ = DumpRange{VirtAddr(l.va), PhysAddr(l.pa), l.size, l.size, 1, l.level_name, l.attrs, l.contiguous};
  }
  void finish() {
    if (cur_) flush();
    if (mode_ == Mode::linux)
      while (next_marker_ < markers_.size()) print_marker(markers_[next_marker_++]);
  }
  [[nodiscard]] std::uint64_t ranges() const { return ranges_; }
  [[nodiscard]] std::uint64_t leaves() const { return leaves_; }
  [[nodiscard]] std::uint64_t wx_pages_bytes() const { return wx_pages_; }

 private:
  void print_marker(const Marker& m) {
    if (!json_) fmt::print("---[ {} ]---\n", m.name);
  }
  void flush() {
    const DumpRange& r = *cur_;
    if (into_) {
      into_->push_back(r);
      cur_.reset();
      return;
    }
    const char* sep = ranges_++ ? ",\n  " : "\n  ";
    if (json_) fmt::print("{}{}", sep, range_json(r));
    else if (mode_ == Mode::linux)
      fmt::print("{}-{} {:>9} {:<7} {}\n", hex(r.va.value), hex(r.va.value + r.size), size_string(r.size), r.level_name,
                 linux_words(r.attrs, r.contiguous));
    else if (mode_ == Mode::wx) fmt::print("W+X {}\n", format_range(r));
    else fmt::print("{}\n", format_range(r));
    cur_.reset();
  }

  Mode mode_;
  bool json_;
  std::vector<Marker> markers_;
  std::vector<DumpRange>* into_ = nullptr;
  std::size_t next_marker_ = 0;
  std::optional<DumpRange> cur_;
  std::uint64_t ranges_ = 0, leaves_ = 0, wx_pages_ = 0;
};

/// The events after the listing; then, with problems, the one error line (Failure).
void report_events(const Source& s, const Walked& w, bool json) {
  if (json) {
    std::string out;
    for (std::size_t i = 0; i < w.events.size(); ++i) out += (i ? ",\n  " : "\n  ") + event_json(w.events[i]);
    fmt::print("\n], \"events\": [{}\n], \"tables\": {}, \"visits\": {}, \"problems\": {}}}\n", out, w.check.tables, w.visits,
               w.problems());
  } else {
    for (const Event& e : w.events) fmt::print("# {}\n", event_text(e));
  }
  std::fflush(stdout);
  if (const std::size_t n = w.problems(); n != 0) {
    const Event& first = *std::find_if(w.events.begin(), w.events.end(), [](const Event& e) { return e.problem; });
    fail(fmt::format("{}: {} problem{} in the tables (listed above); first: {}", s.path, n, n == 1 ? "" : "s",
                     event_text(first)));
  }
}

template <class F>
int dump_source(const Args& a, const Source& s) {
  const bool json = a.flag("json"), wx = a.flag("check-wx");
  const std::string style = a.value("style") ? *a.value("style") : "ptlib";
  if (style != "ptlib" && style != "linux") fail(fmt::format("--style {}: expected ptlib or linux", style));
  if (wx && style == "linux") fail("--check-wx lists W+X ranges in ptlib's style: leave out --style linux");
  std::vector<Marker> markers;
  const std::string* mk = a.value("markers");
  if (mk && style != "linux") fail("--markers: only with --style linux");
  if (style == "linux") markers = !mk ? layout_markers<F>() : *mk == "none" ? std::vector<Marker>{} : read_markers(*mk);
  const Tree<F> tree = tree_of<F>(a, s);
  Printer out(wx ? Printer::Mode::wx : style == "linux" ? Printer::Mode::linux : Printer::Mode::merged, json, markers);
  const char* range = F::kVaRule == VaRule::high && kArm64<F> ? " TTBR1" : "";
  if (json)
    fmt::print("{{\"format\": {}, \"ttbr1\": {}, \"root\": \"{}\", \"source\": {}, \"style\": \"{}\", \"ranges\": [",
               json_str(F::kName), *range ? "true" : "false", hex(s.root), json_str(describe_source(s)),
               wx ? "wx" : style);
  else
    fmt::print("# {}{} root {} ({})\n", F::kName, range, hex(s.root), describe_source(s));
  auto sink = [](void* c, const RawLeaf& l) { static_cast<Printer*>(c)->leaf(l); };
  const Walked w = walk<F>(a, s, tree, LeafSink{&out, sink});
  out.finish();
  if (!json) {
    fmt::print("# {} tables, {} leaves, {} {}\n", w.check.tables, out.leaves(), out.ranges(), wx ? "W+X ranges" : "ranges");
    if (wx)
      fmt::print("# checked W+X: {}\n", out.ranges() ? fmt::format("FAILED, {} W+X pages ({} bytes)",
                                                                     out.wx_pages_bytes() / Geometry<F>::span(Geometry<F>::kDepth - 1),
                                                                     out.wx_pages_bytes())
                                                     : std::string("passed, no W+X pages"));
  }
  report_events(s, w, json);
  if (!w.complete) fail(fmt::format("{}: the listing is incomplete (visit budget)", s.path));
  return wx && out.ranges() ? 1 : 0;
}

}  // namespace

int cmd_dump_memory(const Args& a) {
  const Source s = open_source(a, "");
  return with_source_format(a, s, [&]<class F>() { return dump_source<F>(a, s); });
}

int cmd_translate_memory(const Args& a) {
  const Source s = open_source(a, "");
  return with_source_format(a, s, [&]<class F>() {
    PhysTables access = PhysTables::of<F>(s.mem);
    return print_translations(a, tree_of<F>(a, s), access, [&](const Error& e) {
      const bool hole = e.code == Errc::malformed_entry && !s.mem.segment_of(e.pa.value);
      return hole ? " (the table is not in the dump)" : "";
    });
  });
}

int cmd_diff_memory(const Args& a) {
  if (!a.positional.empty()) fail("diff: with --core/--raw, give the second source as --core-b/--raw-b (or only --root-b, --cpu-b)");
  const Source sa = open_source(a, ""), sb = open_source(a, "-b");
  if (sa.format != sb.format) fail(fmt::format("diff: A is {} tables, B is {}: compare tables of one format", sa.format, sb.format));
  return with_source_format(a, sa, [&]<class F>() {
    auto collect = [&](const Source& s) {
      std::vector<DumpRange> out;
      Printer into(out);
      auto sink = [](void* c, const RawLeaf& l) { static_cast<Printer*>(c)->leaf(l); };
      const Walked w = walk<F>(a, s, tree_of<F>(a, s), LeafSink{&into, sink});
      into.finish();
      if (w.problems() || !w.complete)
        fail(fmt::format("{}: {} problem{} in the tables (ptgen dump lists them)", s.path, w.problems(), w.problems() == 1 ? "" : "s"));
      return out;
    };
    return cmd_diff_ranges(a, F::kName, collect(sa), collect(sb));
  });
}

}  // namespace ptgen
