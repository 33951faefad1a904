// ptgen's machine inputs: RAM banks and the console UART read from a flattened device tree
// (libfdt), and the loadable segments of a kernel ELF (<elf.h>). Plain data, no format types.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ptgen {

/// A bad input or argument: one line for the user (ptgen prints "ptgen: <what>" and exits 1).
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A physical range [pa, pa + size).
struct PhysRange {
  std::uint64_t pa = 0;
  std::uint64_t size = 0;
};

/// A /reserved-memory child with `no-map` (Devicetree Specification v0.4, 3.5.4): the OS must
/// not create a virtual mapping of it (firmware, a secure monitor, OP-TEE).
struct NoMap {
  std::string path;  ///< the node's path (printable, see printable())
  PhysRange range;
};

/// What a device tree says about the machine. Strings taken from the tree are printable()
/// (escaped), so they can be echoed.
struct Machine {
  std::string model;                ///< /model, if any
  std::vector<PhysRange> memory;    ///< every reg range of every enabled memory node, sorted by PA
  std::vector<NoMap> no_map;        ///< every reg range of every enabled no-map reserved region, sorted
  std::vector<std::string> reserved_dynamic;  ///< no-map regions without reg (placed by the OS): paths
  std::optional<PhysRange> uart;    ///< the first reg range of /chosen/stdout-path's node, if enabled
  std::string uart_path;            ///< that node's path (also set when it is disabled)
  std::string uart_status;          ///< its status property when it is not "okay" ("disabled", ...)
};

/// Reads a device tree blob. Throws Failure (not a DTB, truncated, no memory node, a reg or
/// ranges property ptgen cannot translate: more than 2 address or size cells, a stdout-path that
/// is not a string or names no node).
Machine read_dtb(const std::string& path);

/// `s` with every byte that is not printable ASCII or part of a well-formed UTF-8 sequence
/// (controls, DEL, stray continuation bytes, overlong or truncated sequences) written as \xNN,
/// and a backslash as \\: safe to echo to a terminal or put in JSON.
std::string printable(std::string_view s);

/// One PT_LOAD segment of a kernel ELF.
struct Segment {
  std::size_t index = 0;   ///< its position in the program header table
  std::uint64_t vaddr = 0, paddr = 0, memsz = 0, filesz = 0;
  bool r = false, w = false, x = false;  ///< PF_R, PF_W, PF_X
  std::uint32_t flags = 0;               ///< p_flags as written
};

/// What ptgen needs of a kernel ELF.
struct Kernel {
  unsigned machine = 0;            ///< e_machine (EM_RISCV, EM_AARCH64, ...)
  bool elf64 = false;
  std::vector<Segment> segments;   ///< PT_LOAD segments with p_memsz > 0, in file order
};

/// Reads a little-endian ELF32/ELF64 executable. Throws Failure (not an ELF, big-endian, a
/// program header table outside the file, no PT_LOAD segment, a segment whose virtual or physical
/// range wraps past the end of the class's address space: 2^32 for ELF32, 2^64 for ELF64).
Kernel read_elf(const std::string& path);

/// The e_machine name ("RISC-V", "AArch64", "x86-64", "i386", "ARM") or "machine N".
std::string machine_name(unsigned machine);

/// The whole file, or Failure with the reason.
std::vector<unsigned char> read_file(const std::string& path);

}  // namespace ptgen
