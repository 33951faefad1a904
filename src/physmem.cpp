// Guest physical memory from a file (src/include/ptlib/physmem.hpp): the file is mapped
// read-only, every header and note is bounds-checked before it is read, and a segment is kept
// only when all of its bytes are inside the file.
#include "ptlib/physmem.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

PTLIB_BEGIN_NAMESPACE

namespace {

/// A file's bytes as mapped.
struct Mapped {
  const unsigned char* data = nullptr;
  std::size_t bytes = 0;
};

/// A T read from [off, off + sizeof T) of the file, if that lies inside it.
template <class T>
bool read_at(const Mapped& f, std::uint64_t off, T& out) {
  if (off > f.bytes || f.bytes - off < sizeof(T)) return false;
  std::memcpy(&out, f.data + off, sizeof(T));
  return true;
}

/// ELF32 and ELF64 headers read into one shape.
struct Phdr {
  std::uint32_t type = 0;
  std::uint64_t offset = 0, paddr = 0, filesz = 0;
};

template <class Ehdr, class Ph, class Sh>
bool read_headers(const Mapped& f, std::uint16_t& type, std::uint16_t& machine, std::vector<Phdr>& out,
                  std::string& why) {
  Ehdr eh;
  if (!read_at(f, 0, eh)) return why = "truncated ELF header", false;
  type = eh.e_type;
  machine = eh.e_machine;
  std::uint64_t count = eh.e_phnum;
  if (eh.e_phnum == PN_XNUM) {  // more program headers than e_phnum holds: section 0's sh_info
    Sh sh0;
    if (eh.e_shoff == 0 || !read_at(f, eh.e_shoff, sh0)) return why = "e_phnum is PN_XNUM but section header 0 is missing", false;
    count = sh0.sh_info;
  }
  if (count == 0) return why = "no program headers", false;
  if (eh.e_phentsize != sizeof(Ph)) return why = fmt::format("e_phentsize {} (expected {})", eh.e_phentsize, sizeof(Ph)), false;
  if (eh.e_phoff > f.bytes || (f.bytes - eh.e_phoff) / sizeof(Ph) < count)
    return why = fmt::format("the program header table ({} entries at offset {:#x}) runs past the end of the file", count,
                             std::uint64_t(eh.e_phoff)),
           false;
  out.reserve(std::size_t(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    Ph ph;
    std::memcpy(&ph, f.data + eh.e_phoff + i * sizeof(Ph), sizeof(Ph));
    out.push_back(Phdr{ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz});
  }
  return true;
}

/// The x86 "QEMU" notes of one PT_NOTE segment: QEMUCPUState version 1 (QEMU
/// target/i386/arch_dump.c): version (u32), size (u32), 18 general registers (u64), 10 segment
/// caches of 24 bytes, then cr[0..4] (u64) at byte 392. Note headers are Elf32_Nhdr and
/// Elf64_Nhdr alike (three 4-byte words); name and descriptor are padded to 4 bytes.
bool read_notes(const Mapped& f, const Phdr& ph, std::vector<X86CpuState>& cpus, std::string& why) {
  if (ph.offset > f.bytes || f.bytes - ph.offset < ph.filesz)
    return why = fmt::format("a PT_NOTE segment (offset {:#x}, {} bytes) runs past the end of the file", ph.offset, ph.filesz),
           false;
  std::uint64_t at = 0;
  constexpr std::uint64_t kCrOffset = 392, kStateMin = kCrOffset + 5 * 8;
  while (ph.filesz - at >= 12) {
    std::uint32_t h[3];
    std::memcpy(h, f.data + ph.offset + at, sizeof h);
    const std::uint64_t name_at = at + 12, desc_at = name_at + ((std::uint64_t(h[0]) + 3) & ~std::uint64_t{3});
    const std::uint64_t next = desc_at + ((std::uint64_t(h[1]) + 3) & ~std::uint64_t{3});
    if (next > ph.filesz)
      return why = fmt::format("a note at offset {:#x} runs past the end of its PT_NOTE segment", ph.offset + at), false;
    const unsigned char* name = f.data + ph.offset + name_at;
    const unsigned char* desc = f.data + ph.offset + desc_at;
    if (h[0] == 5 && std::memcmp(name, "QEMU", 5) == 0 && h[2] == 0) {
      if (h[1] < kStateMin) return why = fmt::format("a QEMU CPU note of {} bytes (at least {} expected)", h[1], kStateMin), false;
      std::uint32_t version, size;
      std::memcpy(&version, desc, 4);
      std::memcpy(&size, desc + 4, 4);
      if (version != 1 || size < kStateMin || size > h[1])
        return why = fmt::format("a QEMU CPU note of version {} size {} (version 1, {} to {} bytes expected)", version, size,
                                 kStateMin, h[1]),
               false;
      X86CpuState s;
      std::memcpy(&s.cr0, desc + kCrOffset, 8);
      std::memcpy(&s.cr3, desc + kCrOffset + 3 * 8, 8);
      std::memcpy(&s.cr4, desc + kCrOffset + 4 * 8, 8);
      cpus.push_back(s);
    }
    at = next;
  }
  return true;
}

/// Sorts, checks for overlap and merges segments adjacent in both PA and file offset.
bool finish_segments(std::vector<PhysSegment>& s, std::string& why) {
  std::sort(s.begin(), s.end(), [](const PhysSegment& a, const PhysSegment& b) { return a.pa < b.pa; });
  std::vector<PhysSegment> out;
  for (const PhysSegment& x : s) {
    if (!out.empty()) {
      PhysSegment& last = out.back();
      if (x.pa - last.pa < last.size)
        return why = fmt::format("segments overlap at physical address {:#x} (a dump with paging, -p? dump without it)", x.pa),
               false;
      if (last.pa + last.size == x.pa && last.offset + last.size == x.offset) {
        last.size += x.size;
        continue;
      }
    }
    out.push_back(x);
  }
  s = std::move(out);
  return true;
}

}  // namespace

bool PhysMemory::map_file(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = fmt::format("{}: cannot open: {}", path, std::strerror(errno));
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = fmt::format("{}: not a regular file", path);
  } else if (st.st_size == 0) {
    error = fmt::format("{}: empty file", path);
  } else {
    void* p = ::mmap(nullptr, std::size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) error = fmt::format("{}: cannot map: {}", path, std::strerror(errno));
    else data_ = static_cast<const unsigned char*>(p), bytes_ = std::size_t(st.st_size);
  }
  ::close(fd);
  return data_ != nullptr;
}

PhysMemory::PhysMemory(PhysMemory&& o) noexcept
    : machine(o.machine), elf64(o.elf64), x86_cpus(std::move(o.x86_cpus)), data_(o.data_), bytes_(o.bytes_),
      segments_(std::move(o.segments_)) {
  o.data_ = nullptr;
  o.bytes_ = 0;
}
PhysMemory& PhysMemory::operator=(PhysMemory&& o) noexcept {
  if (this != &o) {
    this->~PhysMemory();
    new (this) PhysMemory(std::move(o));
  }
  return *this;
}
PhysMemory::~PhysMemory() {
  if (data_) ::munmap(const_cast<unsigned char*>(data_), bytes_);
}

const PhysSegment* PhysMemory::segment_of(std::uint64_t pa) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), pa,
                             [](std::uint64_t v, const PhysSegment& s) { return v < s.pa; });
  if (it == segments_.begin()) return nullptr;
  --it;
  return pa - it->pa < it->size ? &*it : nullptr;
}

const unsigned char* PhysMemory::at(std::uint64_t pa, std::uint64_t bytes) const {
  const PhysSegment* s = segment_of(pa);
  if (!s || s->size - (pa - s->pa) < bytes) return nullptr;
  return data_ + s->offset + (pa - s->pa);
}

std::uint64_t PhysMemory::present_bytes() const {
  std::uint64_t n = 0;
  for (const PhysSegment& s : segments_) n += s.size;
  return n;
}

PhysOpen open_elf_core(const std::string& path) {
  PhysOpen r;
  PhysMemory m;
  if (!m.map_file(path, r.error)) return r;
  const Mapped f{m.data_, m.bytes_};
  auto bad = [&](const std::string& why) {
    r.error = fmt::format("{}: {}", path, why);
    return std::move(r);
  };
  unsigned char ident[EI_NIDENT];
  if (!read_at(f, 0, ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0)
    return bad(f.bytes >= 8 && std::memcmp(f.data, "KDUMP   ", 8) == 0
                   ? "a kdump-compressed dump (dump-guest-memory -z/-l/-s): write an ELF dump (no format option)"
                   : "not an ELF file (a raw memory image? use --raw FILE --base PA)");
  if (ident[EI_DATA] != ELFDATA2LSB) return bad("not a little-endian ELF file");
  if (ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64) return bad("unknown ELF class");
  m.elf64 = ident[EI_CLASS] == ELFCLASS64;
  std::uint16_t type = 0, machine = 0;
  std::vector<Phdr> ph;
  std::string why;
  const bool ok = m.elf64 ? read_headers<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr>(f, type, machine, ph, why)
                          : read_headers<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr>(f, type, machine, ph, why);
  if (!ok) return bad(why);
  if (type != ET_CORE) return bad(fmt::format("ELF type {} is not a core dump (ET_CORE): a kernel image, not a dump?", type));
  m.machine = machine;
  for (std::size_t i = 0; i < ph.size(); ++i) {
    const Phdr& p = ph[i];
    if (p.type == PT_NOTE) {
      if (!read_notes(f, p, m.x86_cpus, why)) return bad(why);
    } else if (p.type == PT_LOAD && p.filesz != 0) {
      if (p.offset > f.bytes || f.bytes - p.offset < p.filesz)
        return bad(fmt::format("PT_LOAD segment {} (offset {:#x}, {:#x} bytes) runs past the end of the file ({} bytes): "
                               "truncated dump",
                               i, p.offset, p.filesz, f.bytes));
      if (p.paddr + (p.filesz - 1) < p.paddr) return bad(fmt::format("PT_LOAD segment {} wraps past 2^64", i));
      m.segments_.push_back(PhysSegment{p.paddr, p.filesz, p.offset});
    }
  }
  if (m.segments_.empty()) return bad("no PT_LOAD segment with bytes in the file: no memory in the dump");
  if (!finish_segments(m.segments_, why)) return bad(why);
  r.memory.emplace(std::move(m));
  return r;
}

PhysOpen open_raw(const std::string& path, std::uint64_t base) {
  PhysOpen r;
  PhysMemory m;
  if (!m.map_file(path, r.error)) return r;
  if (base + (m.bytes_ - 1) < base) {
    r.error = fmt::format("{}: {} bytes at base {:#x} run past 2^64", path, m.bytes_, base);
    return r;
  }
  m.segments_.push_back(PhysSegment{base, m.bytes_, 0});
  r.memory.emplace(std::move(m));
  return r;
}

void* PhysTables::map(PhysAddr pa, std::size_t depth) const {
  if (depth >= kMaxDepth || bytes_[depth] == 0 || pa.value % entry_ != 0) return nullptr;
  const unsigned char* p = m_->at(pa.value, bytes_[depth]);
  if (!p) return nullptr;
  if (reinterpret_cast<std::uintptr_t>(p) % alignof(std::uint64_t) == 0) return const_cast<unsigned char*>(p);
  std::vector<std::uint64_t>& c = copy_[depth];  // not aligned for the host in the file: copy
  c.resize((bytes_[depth] + 7) / 8);
  std::memcpy(c.data(), p, bytes_[depth]);
  return c.data();
}

PTLIB_END_NAMESPACE
