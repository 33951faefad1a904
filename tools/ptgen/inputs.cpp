// Device tree (libfdt) and ELF (<elf.h>) reading for ptgen: see inputs.hpp.
#include "inputs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <elf.h>
#include <libfdt.h>

#include <fmt/format.h>

namespace ptgen {

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Failure(fmt::format("{}: read error", path));
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Device tree. Devicetree Specification v0.4: 2.3.5 (#address-cells, #size-cells: of the parent
// node, defaults 2 and 1), 2.3.6 (reg), 2.3.8 (ranges: child address, parent address, size;
// empty = identity; absent = no translation), 3.4 (memory node: device_type = "memory"),
// 3.6 (/chosen stdout-path, optionally followed by ':' and options; may be an alias).
// ---------------------------------------------------------------------------------------------
namespace {

struct Fdt {
  const void* blob;
  std::string path;

  [[noreturn]] void bad(const std::string& what) const { throw Failure(fmt::format("{}: {}", path, what)); }

  /// A property's bytes (nullptr if absent).
  const fdt32_t* prop(int node, const char* name, int& len) const {
    return static_cast<const fdt32_t*>(fdt_getprop(blob, node, name, &len));
  }
  std::string node_path(int node) const {
    char buf[512];
    return fdt_get_path(blob, node, buf, sizeof buf) == 0 ? printable(buf) : std::string("?");
  }
  /// #address-cells / #size-cells that `node` gives its children (1 or 2 here).
  unsigned cells(int node, const char* name, unsigned dflt) const {
    int len = 0;
    const fdt32_t* p = prop(node, name, len);
    if (!p) return dflt;
    if (len != 4) bad(fmt::format("{} of {} is not one cell", name, node_path(node)));
    const unsigned v = fdt32_to_cpu(*p);
    if (v > 2) bad(fmt::format("{} = {} in {}: ptgen reads at most 2 cells", name, v, node_path(node)));
    return v;
  }
  static std::uint64_t read_cells(const fdt32_t*& p, unsigned n) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v = (v << 32) | fdt32_to_cpu(*p++);
    return v;
  }
  /// The (address, size) pairs of `node`'s reg, in its parent bus's address space.
  std::vector<PhysRange> reg(int node) const {
    const int parent = fdt_parent_offset(blob, node);
    if (parent < 0) bad(fmt::format("{} has no parent", node_path(node)));
    const unsigned ac = cells(parent, "#address-cells", 2), sc = cells(parent, "#size-cells", 1);
    int len = 0;
    const fdt32_t* p = prop(node, "reg", len);
    if (!p) bad(fmt::format("{} has no reg property", node_path(node)));
    const unsigned stride = 4 * (ac + sc);
    if (stride == 0 || len % int(stride) != 0)
      bad(fmt::format("reg of {} is {} bytes, not a multiple of {} ({} address + {} size cells)", node_path(node), len,
                      stride, ac, sc));
    std::vector<PhysRange> out;
    for (int i = 0; i < len / int(stride); ++i) {
      PhysRange r;
      r.pa = read_cells(p, ac);
      r.size = read_cells(p, sc);
      out.push_back(r);
    }
    return out;
  }
  /// Translates an address of `node`'s parent bus up to the root through every `ranges`.
  std::uint64_t to_cpu(int node, std::uint64_t addr) const {
    for (int bus = fdt_parent_offset(blob, node); bus > 0; bus = fdt_parent_offset(blob, bus)) {
      int len = 0;
      const fdt32_t* p = prop(bus, "ranges", len);
      if (!p) bad(fmt::format("{} has no ranges: {} is not addressable from the CPU", node_path(bus), node_path(node)));
      if (len == 0) continue;  // identity
      const int up = fdt_parent_offset(blob, bus);
      const unsigned cac = cells(bus, "#address-cells", 2), csc = cells(bus, "#size-cells", 1);
      const unsigned pac = cells(up, "#address-cells", 2);
      const unsigned stride = 4 * (cac + pac + csc);
      if (len % int(stride) != 0) bad(fmt::format("ranges of {} is malformed", node_path(bus)));
      bool found = false;
      for (int i = 0; i < len / int(stride) && !found; ++i) {
        const std::uint64_t child = read_cells(p, cac), parent = read_cells(p, pac), size = read_cells(p, csc);
        if (addr >= child && addr - child < size) {
          addr = addr - child + parent;
          found = true;
        }
      }
      if (!found) bad(fmt::format("{:#x} of {} is outside the ranges of {}", addr, node_path(node), node_path(bus)));
    }
    return addr;
  }
  bool enabled(int node) const {
    int len = 0;
    const char* s = static_cast<const char*>(fdt_getprop(blob, node, "status", &len));
    return !s || std::string(s, strnlen(s, std::size_t(len))) == "okay" || std::string(s, strnlen(s, std::size_t(len))) == "ok";
  }
};

}  // namespace

Machine read_dtb(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path);
  Fdt fdt{bytes.data(), path};
  // fdt_check_full() checks the header, the structure block and every string reference, so the
  // reads below stay inside the blob (libfdt's answer to untrusted blobs).
  if (bytes.size() < sizeof(fdt_header)) fdt.bad(fmt::format("not a device tree blob ({} bytes)", bytes.size()));
  if (int err = fdt_check_full(bytes.data(), bytes.size()); err != 0)
    fdt.bad(fmt::format("not a valid device tree blob: {}", fdt_strerror(err)));
  Machine m;
  int len = 0;
  if (const char* model = static_cast<const char*>(fdt_getprop(bytes.data(), 0, "model", &len)))
    m.model = printable(std::string(model, strnlen(model, std::size_t(len))));
  for (int node = fdt_node_offset_by_prop_value(bytes.data(), -1, "device_type", "memory", sizeof "memory");
       node >= 0; node = fdt_node_offset_by_prop_value(bytes.data(), node, "device_type", "memory", sizeof "memory")) {
    if (!fdt.enabled(node)) continue;
    for (PhysRange r : fdt.reg(node)) {
      if (r.size == 0) continue;
      r.pa = fdt.to_cpu(node, r.pa);
      m.memory.push_back(r);
    }
  }
  if (m.memory.empty()) fdt.bad("no memory node (device_type = \"memory\") with a non-empty reg");
  std::sort(m.memory.begin(), m.memory.end(), [](const PhysRange& a, const PhysRange& b) { return a.pa < b.pa; });

  // /reserved-memory (3.5): children with no-map must not be mapped (3.5.4). Those with a reg
  // are at fixed addresses; those with only size/alloc-ranges are placed by the OS at boot.
  if (const int rsv = fdt_path_offset(bytes.data(), "/reserved-memory"); rsv >= 0) {
    int child = 0;
    fdt_for_each_subnode(child, bytes.data(), rsv) {
      if (!fdt.enabled(child) || !fdt_getprop(bytes.data(), child, "no-map", &len)) continue;
      if (!fdt_getprop(bytes.data(), child, "reg", &len)) {
        m.reserved_dynamic.push_back(fdt.node_path(child));
        continue;
      }
      for (PhysRange r : fdt.reg(child)) {
        if (r.size == 0) continue;
        r.pa = fdt.to_cpu(child, r.pa);
        m.no_map.push_back(NoMap{fdt.node_path(child), r});
      }
    }
    std::sort(m.no_map.begin(), m.no_map.end(), [](const NoMap& a, const NoMap& b) { return a.range.pa < b.range.pa; });
  }

  const int chosen = fdt_path_offset(bytes.data(), "/chosen");
  const char* out = nullptr;
  const char* prop_name = "stdout-path";
  if (chosen >= 0) {
    out = static_cast<const char*>(fdt_getprop(bytes.data(), chosen, prop_name, &len));
    if (!out) {
      prop_name = "linux,stdout-path";
      out = static_cast<const char*>(fdt_getprop(bytes.data(), chosen, prop_name, &len));
    }
  }
  if (out) {
    // A <string> property value is its bytes and one terminating NUL (2.2.4, Table 2.3).
    const std::string_view raw(out, std::size_t(len));
    if (len == 1 && raw[0] == '\0')
      fdt.bad(fmt::format("/chosen/{} is empty: it must name the console node, e.g. \"serial0:115200n8\"", prop_name));
    if (len < 2 || raw.back() != '\0' || raw.find('\0') != raw.size() - 1) {
      std::string hexbytes;
      for (std::size_t i = 0; i < raw.size() && i < 16; ++i)
        hexbytes += fmt::format("{}{:02x}", i ? " " : "", static_cast<unsigned char>(raw[i]));
      fdt.bad(fmt::format("/chosen/{} is not a string ({} bytes{}{}{}): it must name the console node, e.g. "
                          "\"serial0:115200n8\" or \"/soc/serial@10000000\"",
                          prop_name, len, len ? ": " : "", hexbytes, raw.size() > 16 ? " ..." : ""));
    }
    std::string p(out, std::size_t(len) - 1);
    p = p.substr(0, p.find(':'));  // "serial0:115200n8"
    const int node = fdt_path_offset_namelen(bytes.data(), p.data(), int(p.size()));  // resolves aliases
    if (node < 0)
      fdt.bad(fmt::format("/chosen/{} names '{}', which is not in the tree", prop_name, printable(p)));
    m.uart_path = fdt.node_path(node);
    if (!fdt.enabled(node)) {
      const char* st = static_cast<const char*>(fdt_getprop(bytes.data(), node, "status", &len));
      m.uart_status = printable(std::string(st, strnlen(st, std::size_t(len))));
      return m;
    }
    const std::vector<PhysRange> regs = fdt.reg(node);
    if (regs.empty()) fdt.bad(fmt::format("the console {} has an empty reg", m.uart_path));
    m.uart = PhysRange{fdt.to_cpu(node, regs[0].pa), regs[0].size};
  }
  return m;
}

std::string printable(std::string_view s) {
  std::string out;
  auto esc = [&](unsigned char c) { out += fmt::format("\\x{:02x}", unsigned(c)); };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      out += char(c);
      ++i;
    } else if (c < 0x80) {
      esc(c);
      ++i;
    } else {
      // UTF-8 (RFC 3629, 4): lead byte, 1-3 continuation bytes; no overlong forms, no
      // surrogates, nothing above U+10FFFF.
      const std::size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
      bool ok = n != 0 && i + n <= s.size();
      std::uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
      for (std::size_t k = 1; ok && k < n; ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        ok = (d & 0xc0) == 0x80;
        cp = (cp << 6) | (d & 0x3f);
      }
      if (ok) ok = (n == 2 || (n == 3 && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) || (n == 4 && cp >= 0x10000 && cp <= 0x10ffff));
      if (ok && cp >= 0x80 && cp < 0xa0) ok = false;  // C1 controls
      if (ok) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        esc(c);
        ++i;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ELF. System V ABI gABI 4.1 (ELF header: e_ident, e_machine, e_phoff, e_phentsize, e_phnum;
// program header: PT_LOAD, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags PF_R/PF_W/PF_X).
// ---------------------------------------------------------------------------------------------
namespace {

template <class Ehdr, class Phdr>
Kernel read_elf_as(const std::string& path, const std::vector<unsigned char>& b) {
  auto bad = [&](const std::string& what) -> Failure { return Failure(fmt::format("{}: {}", path, what)); };
  if (b.size() < sizeof(Ehdr)) throw bad("truncated ELF header");
  Ehdr eh;
  std::memcpy(&eh, b.data(), sizeof eh);
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) throw bad(fmt::format("not an executable (e_type {})", eh.e_type));
  if (eh.e_phnum == 0) throw bad("no program headers");
  if (eh.e_phentsize != sizeof(Phdr)) throw bad(fmt::format("e_phentsize {} (expected {})", eh.e_phentsize, sizeof(Phdr)));
  const std::uint64_t end = std::uint64_t(eh.e_phoff) + std::uint64_t(eh.e_phnum) * sizeof(Phdr);
  if (eh.e_phoff > b.size() || end > b.size()) throw bad("the program header table is outside the file");
  Kernel k;
  k.machine = eh.e_machine;
  k.elf64 = sizeof(Ehdr) == sizeof(Elf64_Ehdr);
  for (std::size_t i = 0; i < eh.e_phnum; ++i) {
    Phdr ph;
    std::memcpy(&ph, b.data() + eh.e_phoff + i * sizeof(Phdr), sizeof ph);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz) throw bad(fmt::format("segment {}: p_filesz > p_memsz", i));
    // The segment's last byte must be addressable in the ELF's class: below 2^32 for ELF32 (a
    // 32-bit CPU's addresses wrap to 0 there), below 2^64 for ELF64.
    const bool elf32 = sizeof(Ehdr) == sizeof(Elf32_Ehdr);
    auto wraps = [&](std::uint64_t a) {
      const std::uint64_t last = a + (std::uint64_t(ph.p_memsz) - 1);
      return last < a || (elf32 && last > 0xffff'ffffULL);
    };
    if (wraps(ph.p_vaddr))
      throw bad(fmt::format("segment {}: p_vaddr {:#x} + p_memsz {:#x} wraps past the end of the {} address space", i,
                            std::uint64_t(ph.p_vaddr), std::uint64_t(ph.p_memsz), elf32 ? "32-bit" : "64-bit"));
    if (wraps(ph.p_paddr))
      throw bad(fmt::format("segment {}: p_paddr {:#x} + p_memsz {:#x} wraps past the end of the {} address space", i,
                            std::uint64_t(ph.p_paddr), std::uint64_t(ph.p_memsz), elf32 ? "32-bit" : "64-bit"));
    k.segments.push_back(Segment{i, ph.p_vaddr, ph.p_paddr, ph.p_memsz, ph.p_filesz, (ph.p_flags & PF_R) != 0,
                                 (ph.p_flags & PF_W) != 0, (ph.p_flags & PF_X) != 0, std::uint32_t(ph.p_flags)});
  }
  if (k.segments.empty()) throw bad("no PT_LOAD segment");
  return k;
}

}  // namespace

Kernel read_elf(const std::string& path) {
  const std::vector<unsigned char> b = read_file(path);
  if (b.size() < EI_NIDENT || std::memcmp(b.data(), ELFMAG, SELFMAG) != 0)
    throw Failure(fmt::format("{}: not an ELF file", path));
  if (b[EI_DATA] != ELFDATA2LSB) throw Failure(fmt::format("{}: not a little-endian ELF", path));
  if (b[EI_CLASS] == ELFCLASS64) return read_elf_as<Elf64_Ehdr, Elf64_Phdr>(path, b);
  if (b[EI_CLASS] == ELFCLASS32) return read_elf_as<Elf32_Ehdr, Elf32_Phdr>(path, b);
  throw Failure(fmt::format("{}: unknown ELF class {}", path, b[EI_CLASS]));
}

std::string machine_name(unsigned machine) {
  switch (machine) {
    case EM_RISCV: return "RISC-V";
    case EM_AARCH64: return "AArch64";
    case EM_X86_64: return "x86-64";
    case EM_386: return "i386";
    case EM_ARM: return "ARM";
    default: return fmt::format("machine {}", machine);
  }
}

}  // namespace ptgen
