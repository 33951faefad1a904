// Portable mapping attributes (permissions + memory type) that every format maps to its own bits.
#pragma once
#include <cstdint>

#include "config.hpp"

PTLIB_BEGIN_NAMESPACE

/// Memory type of a mapping. Formats translate these to their own encoding (MAIR index, PAT
/// index, Svpbmt, ...) and refuse a type they cannot express with Errc::unsupported_memtype.
enum class MemType : std::uint8_t {
  normal,     ///< normal memory, write-back cacheable
  normal_nc,  ///< normal memory, non-cacheable
  device,     ///< device / strongly-ordered / uncached I/O
  wc,         ///< write-combining (x86 with ptlib's PAT layout only)
  other,      ///< decode only: an encoding outside the portable set
};

/// Permission and scope flags.
enum class Perm : std::uint8_t {
  none = 0,
  read = 1U << 0,
  write = 1U << 1,
  exec = 1U << 2,
  user = 1U << 3,    ///< accessible from user mode (U/S, AP[1], RISC-V U)
  global = 1U << 4,  ///< not tagged with an address-space id (x86 G, arm nG = 0, RISC-V G)
};
constexpr Perm operator|(Perm a, Perm b) { return Perm(std::uint8_t(a) | std::uint8_t(b)); }
constexpr Perm operator&(Perm a, Perm b) { return Perm(std::uint8_t(a) & std::uint8_t(b)); }
constexpr Perm operator~(Perm a) { return Perm(~std::uint8_t(a) & 0x1f); }

/// The portable attributes of a leaf mapping.
struct Attrs {
  Perm perm = Perm::read;
  MemType mem = MemType::normal;

  [[nodiscard]] constexpr bool has(Perm p) const { return (perm & p) == p; }
  [[nodiscard]] constexpr bool read() const { return has(Perm::read); }
  [[nodiscard]] constexpr bool write() const { return has(Perm::write); }
  [[nodiscard]] constexpr bool exec() const { return has(Perm::exec); }
  [[nodiscard]] constexpr bool user() const { return has(Perm::user); }
  [[nodiscard]] constexpr bool global() const { return has(Perm::global); }
  constexpr bool operator==(const Attrs&) const = default;
};

/// Common attribute sets.
namespace attrs {
inline constexpr Attrs r{Perm::read};
inline constexpr Attrs rw{Perm::read | Perm::write};
inline constexpr Attrs rx{Perm::read | Perm::exec};
inline constexpr Attrs rwx{Perm::read | Perm::write | Perm::exec};
inline constexpr Attrs device_rw{Perm::read | Perm::write, MemType::device};
}  // namespace attrs

PTLIB_END_NAMESPACE
