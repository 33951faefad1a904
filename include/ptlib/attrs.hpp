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

/// Leaf bits beyond the portable set that only one family of formats has (shareability, a
/// caller's own MAIR or PAT index, software bits, accessed/dirty policy), carried through the
/// engine untouched. Set and read it only through the family's typed extension:
/// `arm64::Ext`, `armv7::Ext`, `x86::Ext`, `riscv::Ext`, each with `with(attrs, ext)` and
/// `ext_of(attrs)` (docs/api.md). Zero means "none": the format's conventions (README) apply.
/// The family's tag sits in bits [31:28], so a format refuses another family's extension
/// (Errc::unsupported_attrs) instead of misreading it.
struct ExtBits {
  std::uint32_t value = 0;
  constexpr ExtBits() = default;
  explicit constexpr ExtBits(std::uint32_t v) : value(v) {}
  [[nodiscard]] constexpr bool empty() const { return value == 0; }
  [[nodiscard]] constexpr unsigned tag() const { return value >> 28; }
  /// Bits [shift, shift + width) of the family's fields.
  [[nodiscard]] constexpr unsigned field(unsigned shift, unsigned width) const {
    return (value >> shift) & ((1U << width) - 1);
  }
  constexpr bool operator==(const ExtBits&) const = default;
};

/// Accessed-flag policy of a leaf (x86 A, RISC-V A): what the CPU finds in a new leaf.
enum class Accessed : std::uint8_t {
  set,    ///< A = 1 (the default): no access-flag update or fault on first use
  clear,  ///< A = 0: the CPU sets it on first use (x86, RISC-V Svadu) or faults (RISC-V Svade)
};
/// Dirty-flag policy of a leaf (x86 D, RISC-V D).
enum class Dirty : std::uint8_t {
  if_writable,  ///< D = 1 on writable leaves, 0 otherwise (the default)
  clear,        ///< D = 0: the first write sets it (x86, Svadu) or faults (Svade): dirty tracking
  set,          ///< D = 1 even on a read-only leaf
};
/// Shareability of a normal-memory leaf (arm64, ARMv7 LPAE SH[1:0]).
enum class Share : std::uint8_t {
  preset,  ///< the format's convention: Inner Shareable for normal memory, none for device
  non,     ///< Non-shareable (SH = 0b00)
  outer,   ///< Outer Shareable (SH = 0b10)
  inner,   ///< Inner Shareable (SH = 0b11)
};

/// Every field a family's extension may use, unpacked (each family's Ext uses a subset; the
/// positions of the bits in an entry are the format's business).
struct ExtFields {
  Share share = Share::preset;
  std::uint8_t index = 0;  ///< a caller's MAIR/PAT index + 1; 0 = the index of Attrs::mem
  Accessed accessed = Accessed::set;
  Dirty dirty = Dirty::if_writable;
  std::uint8_t software = 0;  ///< bits the architecture leaves to software
  constexpr bool operator==(const ExtFields&) const = default;
};

/// Packs `f` under a family's tag (1..15); all defaults pack to the empty ExtBits.
constexpr ExtBits pack_ext(unsigned tag, const ExtFields& f) {
  if (f == ExtFields{}) return ExtBits{};
  return ExtBits(tag << 28 | unsigned(f.share) | (unsigned(f.index) & 0xfU) << 2 | unsigned(f.accessed) << 6 |
                 unsigned(f.dirty) << 7 | unsigned(f.software) << 9);
}
/// The fields of `e` (all defaults for the empty ExtBits).
constexpr ExtFields unpack_ext(ExtBits e) {
  return ExtFields{Share(e.field(0, 2)), std::uint8_t(e.field(2, 4)), Accessed(e.field(6, 1)), Dirty(e.field(7, 2)),
                   std::uint8_t(e.field(9, 8))};
}
/// The fields of an extension if it carries `tag`, else all defaults (each family's ext_of()).
constexpr ExtFields fields_of(ExtBits e, unsigned tag) { return e.tag() == tag ? unpack_ext(e) : ExtFields{}; }

/// Accessed/dirty policy as bits (x86 and RISC-V A/D): A, and D for a leaf writable or not.
constexpr bool accessed_bit(const ExtFields& f) { return f.accessed == Accessed::set; }
constexpr bool dirty_bit(const ExtFields& f, bool writable) {
  return f.dirty == Dirty::set || (f.dirty == Dirty::if_writable && writable);
}
/// The policy that reads back as the bits `a`, `d` of a leaf (the inverse of the two above).
constexpr void read_ad(ExtFields& f, bool a, bool d, bool writable) {
  f.accessed = a ? Accessed::set : Accessed::clear;
  f.dirty = d == writable ? Dirty::if_writable : d ? Dirty::set : Dirty::clear;
}
/// `dirty` as read_ad() would read it back for a leaf writable or not (its canonical form).
constexpr Dirty canonical_dirty(Dirty dirty, bool writable) {
  if ((dirty == Dirty::clear && !writable) || (dirty == Dirty::set && writable)) return Dirty::if_writable;
  return dirty;
}

/// The portable attributes of a leaf mapping.
struct Attrs {
  Perm perm = Perm::read;
  MemType mem = MemType::normal;
  ExtBits ext{};  ///< family-specific bits (see ExtBits); empty for portable attributes

  [[nodiscard]] constexpr bool has(Perm p) const { return (perm & p) == p; }
  [[nodiscard]] constexpr bool read() const { return has(Perm::read); }
  [[nodiscard]] constexpr bool write() const { return has(Perm::write); }
  [[nodiscard]] constexpr bool exec() const { return has(Perm::exec); }
  [[nodiscard]] constexpr bool user() const { return has(Perm::user); }
  [[nodiscard]] constexpr bool global() const { return has(Perm::global); }
  constexpr bool operator==(const Attrs&) const = default;
};

namespace detail {
/// ptlib's shareability for a memory type on Arm (arm64 and ARMv7 LPAE): device memory
/// Non-shareable, the rest Inner Shareable.
constexpr Share arm_preset_share(MemType m) { return m == MemType::device ? Share::non : Share::inner; }
/// with() of the Arm families (arm64, ARMv7 LPAE: the same AttrIndx, SH and software fields), in
/// the one form decode() reads back: an AttrIndx of ptlib's MAIR layout becomes Attrs::mem
/// (`mem_of_index`), another makes mem MemType::other and stays explicit; a shareability equal
/// to the preset for the memory type is the preset.
template <class Ext>
constexpr Attrs arm_with(Attrs a, const Ext& e, unsigned tag, MemType (*mem_of_index)(unsigned)) {
  ExtFields f;
  if (e.attr_index != decltype(e.attr_index)::preset) {
    const unsigned i = unsigned(e.attr_index) - 1;
    a.mem = mem_of_index(i);
    if (a.mem == MemType::other) f.index = std::uint8_t(i + 1);
  }
  f.share = e.share == arm_preset_share(a.mem) ? Share::preset : e.share;
  f.software = e.software;
  a.ext = pack_ext(tag, f);
  return a;
}
/// ext_of() of the Arm families (all presets when `a` has none).
template <class Ext>
constexpr Ext arm_ext_of(const Attrs& a, unsigned tag) {
  const ExtFields f = fields_of(a.ext, tag);
  return Ext{f.share, decltype(Ext::attr_index)(f.index), f.software};
}
}  // namespace detail

/// Common attribute sets.
namespace attrs {
inline constexpr Attrs r{Perm::read};
inline constexpr Attrs rw{Perm::read | Perm::write};
inline constexpr Attrs rx{Perm::read | Perm::exec};
inline constexpr Attrs rwx{Perm::read | Perm::write | Perm::exec};
inline constexpr Attrs device_rw{Perm::read | Perm::write, MemType::device};
}  // namespace attrs

PTLIB_END_NAMESPACE
