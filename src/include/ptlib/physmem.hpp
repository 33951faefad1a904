// Guest physical memory read from a file (host only): a QEMU `dump-guest-memory` ELF core or a raw
// memory image, as a read-only map from physical address to bytes with its holes, and a
// TableAccess over it so the engine's read-only walks (translate, validate, leaf listing) read
// page tables straight out of the dump.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ptlib/ptlib.hpp>

PTLIB_BEGIN_NAMESPACE

/// One present piece of physical memory: [pa, pa + size) is stored at `offset` in the file.
struct PhysSegment {
  std::uint64_t pa = 0;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;
};

/// What an x86 guest's dump records about one CPU (the "QEMU" note, QEMUCPUState version 1,
/// QEMU target/i386/arch_dump.c): the control registers that select the page tables.
struct X86CpuState {
  std::uint64_t cr0 = 0, cr3 = 0, cr4 = 0;
};

struct PhysOpen;

/// Read-only physical memory backed by a file (mapped, not copied). Movable, not copyable.
class PhysMemory {
 public:
  PhysMemory() = default;  ///< no memory (every address a hole)
  PhysMemory(PhysMemory&&) noexcept;
  PhysMemory& operator=(PhysMemory&&) noexcept;
  ~PhysMemory();

  /// The bytes [pa, pa + bytes) when every one of them is in one present segment; else nullptr.
  /// Never reads outside the file.
  [[nodiscard]] const unsigned char* at(std::uint64_t pa, std::uint64_t bytes) const;
  /// The segment holding `pa`, or nullptr when `pa` is in a hole.
  [[nodiscard]] const PhysSegment* segment_of(std::uint64_t pa) const;
  /// Present memory, sorted by PA, disjoint; segments adjacent in both PA and file are merged.
  [[nodiscard]] const std::vector<PhysSegment>& segments() const { return segments_; }
  /// Bytes present (the sum of the segments' sizes).
  [[nodiscard]] std::uint64_t present_bytes() const;

  /// ELF cores: e_machine (EM_X86_64, EM_386, EM_AARCH64, EM_ARM, EM_RISCV), else 0.
  unsigned machine = 0;
  bool elf64 = false;
  /// The x86 CPUs the dump describes, in note order (CPU 0 first); empty for other machines.
  std::vector<X86CpuState> x86_cpus;

 private:
  friend PhysOpen open_elf_core(const std::string& path);
  friend PhysOpen open_raw(const std::string& path, std::uint64_t base);
  /// Maps `path` read-only (unmapped by the destructor); false with `error` set on failure.
  bool map_file(const std::string& path, std::string& error);
  const unsigned char* data_ = nullptr;  // the mapped file
  std::size_t bytes_ = 0;
  std::vector<PhysSegment> segments_;
};

/// The answer of open_*(): the memory, or one line saying what is wrong with the file.
struct PhysOpen {
  std::optional<PhysMemory> memory;
  std::string error;
  explicit operator bool() const { return memory.has_value(); }
};

/// Reads a little-endian ELF32/ELF64 core as QEMU's `dump-guest-memory` writes it (without -z,
/// -l, -s: those write kdump-compressed files): every PT_LOAD segment with p_filesz > 0 is
/// physical memory at p_paddr (the part past p_filesz of a segment is a hole); notes named "QEMU"
/// (n_type 0) give x86_cpus. Fails (PhysOpen::error) on: not an ELF file, not a core (ET_CORE),
/// big-endian, headers, segments or notes outside the file or malformed, segments that overlap in
/// physical address space (a dump with paging, -p: dump without it), no PT_LOAD segment.
PhysOpen open_elf_core(const std::string& path);

/// A raw physical memory file (QEMU `pmemsave`, a RAM image): byte i is physical address
/// base + i. Fails on an empty file or one that runs past 2^64.
PhysOpen open_raw(const std::string& path, std::uint64_t base);

/// A read-only TableAccess over PhysMemory for tables of a format: map(pa, depth) gives the
/// table at `pa` when all of it is present in one segment and `pa` is aligned to the format's
/// entry size; else nullptr (validate: unreachable_table; the walker: malformed_entry). Tables
/// that are not aligned for the host in the file are copied to a buffer per depth (one table per
/// depth is mapped at a time, as the walker and validate() do). Never allocates tables.
class PhysTables {
 public:
  template <PagingFormat F>
  static PhysTables of(const PhysMemory& m) {
    using G = Geometry<F>;
    PhysTables t(m, sizeof(typename F::Entry));
    for (std::size_t d = 0; d < G::kDepth && d < kMaxDepth; ++d) t.bytes_[d] = G::table_bytes(d);
    return t;
  }
  void* map(PhysAddr pa, std::size_t depth) const;
  void unmap(void* /*p*/, std::size_t /*depth*/) const {}

 private:
  static constexpr std::size_t kMaxDepth = 8;
  PhysTables(const PhysMemory& m, std::size_t entry) : m_(&m), entry_(entry) {}
  const PhysMemory* m_;
  std::size_t entry_;
  std::size_t bytes_[kMaxDepth]{};
  mutable std::vector<std::uint64_t> copy_[kMaxDepth];
};

PTLIB_END_NAMESPACE
