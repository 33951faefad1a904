// The paging-format contract (concept PagingFormat), its documented exemplar, and the geometry
// every engine derives from a format at compile time.
#pragma once
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "addr.hpp"
#include "attrs.hpp"
#include "result.hpp"

PTLIB_BEGIN_NAMESPACE

/// What an entry is, as the format's decoder reads it.
enum class EntryKind : std::uint8_t {
  invalid,    ///< not present: the hardware faults here (a zero entry is always invalid)
  table,      ///< points to a next-level table
  leaf,       ///< maps a page or block
  malformed,  ///< present but reserved/illegal for this level (e.g. RISC-V W=1,R=0)
};

/// The neutral read view of one entry (what `decode` returns).
struct Decoded {
  EntryKind kind = EntryKind::invalid;
  PhysAddr addr{};        ///< table: next table; leaf: output address of the page/block
  Attrs attrs{};          ///< leaf only
  bool contiguous = false;///< leaf only: arm64 contiguous bit / RISC-V Svnapot N bit
  /// Leaf only: `addr` is the base of a naturally aligned run of 2^run_log2 entries that all hold
  /// the same encoding (RISC-V Svnapot); the entry at position k of the run maps
  /// addr + k * (the level's size). 0 when each entry carries its own address (arm64 contiguous).
  std::uint8_t run_log2 = 0;
};

/// How a format's VA range sits in the CPU's address space.
enum class VaRule : std::uint8_t {
  low,          ///< [0, 2^va_bits): x86-32/PAE, arm64 & ARMv7 TTBR0
  high,         ///< [2^input_bits - 2^va_bits, 2^input_bits): arm64 & ARMv7 TTBR1
  sign_extend,  ///< bits above va_bits-1 copy bit va_bits-1: RISC-V Sv39+, x86-64 canonical
};

/// What a leaf should say, handed to `leaf_proto`.
struct LeafSettings {
  Attrs attrs{};
  bool contiguous = false;  ///< set the format's contiguous hint (arm64 Contiguous, Svnapot N)
  /// Formats that cannot forbid execution (x86 without NX) may then map a non-executable request
  /// as executable; otherwise they fail with Errc::unsupported_attrs.
  bool allow_implied_exec = false;
};

/// The contract every paging format satisfies. `ExampleFormat` below documents each member.
template <class F>
concept PagingFormat =
    std::is_enum_v<typename F::Level> &&
    std::same_as<std::underlying_type_t<typename F::Level>, std::int8_t> &&
    (std::same_as<typename F::Entry, std::uint32_t> || std::same_as<typename F::Entry, std::uint64_t>) &&
    std::default_initializable<typename F::Caps> && std::copyable<typename F::Caps> &&
    requires(typename F::Level l, typename F::Entry e, PhysAddr pa, const typename F::Caps& caps,
             const LeafSettings& s) {
      { F::kName } -> std::convertible_to<const char*>;
      { F::kLevels[0] } -> std::convertible_to<typename F::Level>;
      { F::kLevels.size() } -> std::convertible_to<std::size_t>;
      { F::kPageShift } -> std::convertible_to<unsigned>;
      { F::kPaBits } -> std::convertible_to<unsigned>;
      { F::kInputBits } -> std::convertible_to<unsigned>;
      { F::kVaRule } -> std::convertible_to<VaRule>;
      { F::kMinTableAlign } -> std::convertible_to<std::size_t>;
      { F::index_bits(l) } -> std::convertible_to<unsigned>;
      { F::level_name(l) } -> std::convertible_to<const char*>;
      { F::can_leaf(l, caps) } -> std::same_as<bool>;
      { F::contig_log2(l, caps) } -> std::convertible_to<unsigned>;
      { F::leaf_proto(l, s, caps) } -> std::same_as<Result<typename F::Entry>>;
      { F::leaf(l, e, pa) } -> std::same_as<typename F::Entry>;
      { F::table(l, pa) } -> std::same_as<typename F::Entry>;
      { F::decode(l, e) } -> std::same_as<Decoded>;
      { F::needs_bbm(l, e, e) } -> std::same_as<bool>;
    };

/// A coded exemplar of the contract, for documentation: a 2-level, 32-bit format with 4 KiB
/// pages and 4 MiB blocks whose entries are `address | 1 (valid) | 2 (leaf) | 4 (write)`.
/// Real formats live under arch/ and end with `static_assert(ptlib::PagingFormat<...>)`.
struct ExampleFormat {
  /// The levels, named as the manual names them. The underlying value is the manual's level
  /// number (what errors report); the engine never does arithmetic on it.
  enum class Level : std::int8_t { directory = 1, table = 0 };
  /// The raw entry: std::uint32_t or std::uint64_t.
  using Entry = std::uint32_t;
  /// Run-time CPU capabilities this format consults (x86 1 GiB pages, RISC-V Svpbmt, ...).
  struct Caps {
    bool large_pages = true;
    bool operator==(const Caps&) const = default;
  };
  /// The short name used by the format list, tools, tests and docs.
  static constexpr const char* kName = "example";
  /// The levels from the root down; a paging *mode* is a slice of its family's list.
  static constexpr std::array kLevels{Level::directory, Level::table};
  /// log2 of the smallest page.
  static constexpr unsigned kPageShift = 12;
  /// Output-address width; a wider PA is Errc::pa_out_of_range.
  static constexpr unsigned kPaBits = 32;
  /// Width of the CPU's virtual addresses (32 or 64); used by VaRule::high.
  static constexpr unsigned kInputBits = 32;
  /// Where the translated range sits (see VaRule).
  static constexpr VaRule kVaRule = VaRule::low;
  /// Smallest alignment of any table; a table is aligned to max(its size, this).
  static constexpr std::size_t kMinTableAlign = 4096;
  // Optional: `static constexpr std::uint64_t kVaStart, kVaEnd;` narrow the translated range to
  // [kVaStart, kVaEnd) when the region is smaller than the walk (armv7::LpaeClipped).
  /// log2 of the number of entries of a table at level `l`.
  static constexpr unsigned index_bits(Level) { return 10; }
  /// The manual's name of a level, for errors and dumps.
  static constexpr const char* level_name(Level l) { return l == Level::directory ? "PD" : "PT"; }
  /// Whether an entry at `l` may map a page/block (given the CPU's capabilities).
  static constexpr bool can_leaf(Level l, const Caps& c) { return l == Level::table || c.large_pages; }
  /// log2 of the entries in a contiguous run at `l`, 0 if the format has none there.
  static constexpr unsigned contig_log2(Level, const Caps&) { return 0; }
  /// Every bit of a leaf at `l` except the output address; the single place where leaf bits are
  /// encoded. Fails (never downgrades) when the format cannot express `s`.
  static constexpr Result<Entry> leaf_proto(Level, const LeafSettings& s, const Caps&) {
    if (!s.attrs.read() || s.attrs.exec() || s.attrs.user() || s.attrs.global() || !s.attrs.ext.empty())
      return make_error(Errc::unsupported_attrs);  // a format without an extension refuses one
    if (s.attrs.mem != MemType::normal) return make_error(Errc::unsupported_memtype);
    return Entry(3U | (s.attrs.write() ? 4U : 0U));
  }
  /// A leaf: `proto` from leaf_proto plus the output address (aligned to the level's size).
  static constexpr Entry leaf(Level, Entry proto, PhysAddr pa) { return proto | Entry(pa.value); }
  /// Optional: below this output address a leaf's address bits are the address moved as one
  /// field, so for a proto without the contiguous hint, leaves of equally spaced addresses differ
  /// by a constant: leaf(l, p, a + k * s) == leaf(l, p, a) + k * (leaf(l, p, a + s) - leaf(l, p, a))
  /// for aligned a and a + k * s below the limit. The engine then fills runs of leaves by adding.
  static constexpr std::uint64_t kLinearOaLimit = std::uint64_t{1} << 32;
  /// A table descriptor pointing at the next-level table at `pa`.
  static constexpr Entry table(Level, PhysAddr pa) { return Entry(pa.value) | 1U; }
  /// Whether replacing the valid entry `old` by the valid entry `next` at `l` in a tree the
  /// hardware is using must go through break-before-make (invalid entry + TLB invalidation in
  /// between), because the architecture forbids the direct change (arm64: output address,
  /// memory type, block <-> table, contiguous hint, ...). Permission-only changes usually need
  /// only a TLB invalidation afterwards.
  static constexpr bool needs_bbm(Level, Entry old, Entry next) { return (old ^ next) & ~0xeU; }
  /// Reads an entry back (the neutral read API).
  static constexpr Decoded decode(Level, Entry e) {
    if (!(e & 1U)) return {};
    if (!(e & 2U)) return {EntryKind::table, PhysAddr(e & ~0xfffU)};
    return {EntryKind::leaf, PhysAddr(e & ~0xfffU), Attrs{(e & 4U) ? Perm::read | Perm::write : Perm::read}};
  }
};
static_assert(PagingFormat<ExampleFormat>);

/// Geometry derived at compile time from a format: depth d = 0 is the root.
template <PagingFormat F>
struct Geometry {
  using Entry = typename F::Entry;
  using Level = typename F::Level;
  static constexpr std::size_t kDepth = F::kLevels.size();

  /// Index bits and shift per depth, in tables: the walker takes the depth at run time.
  static constexpr std::array<unsigned, kDepth> kBits = [] {
    std::array<unsigned, kDepth> b{};
    for (std::size_t d = 0; d < kDepth; ++d) b[d] = F::index_bits(F::kLevels[d]);
    return b;
  }();
  static constexpr std::array<unsigned, kDepth> kShifts = [] {
    std::array<unsigned, kDepth> s{};
    unsigned at = F::kPageShift;
    for (std::size_t d = kDepth; d-- > 0;) {
      s[d] = at;
      at += F::index_bits(F::kLevels[d]);
    }
    return s;
  }();

  static constexpr Level level(std::size_t d) { return F::kLevels[d]; }
  static constexpr unsigned bits(std::size_t d) { return kBits[d]; }
  /// log2 of the bytes one entry at depth d maps.
  static constexpr unsigned shift(std::size_t d) { return kShifts[d]; }
  static constexpr std::uint64_t span(std::size_t d) { return std::uint64_t{1} << shift(d); }
  static constexpr std::uint64_t entries(std::size_t d) { return std::uint64_t{1} << bits(d); }
  static constexpr std::size_t table_bytes(std::size_t d) { return std::size_t(entries(d)) * sizeof(Entry); }
  static constexpr std::size_t table_align(std::size_t d) {
    return table_bytes(d) > F::kMinTableAlign ? table_bytes(d) : F::kMinTableAlign;
  }
  static constexpr std::uint64_t kPageSize = std::uint64_t{1} << F::kPageShift;
  /// Every table below the root has the same size (the engine reserves tables by that size).
  static constexpr bool uniform_tables() {
    for (std::size_t d = 1; d < kDepth; ++d)
      if (table_bytes(d) != table_bytes(1)) return false;
    return true;
  }
  static constexpr unsigned kVaBits = shift(0) + bits(0);
  static constexpr std::uint64_t kVaMask = kVaBits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << kVaBits) - 1;
  static constexpr std::uint64_t kPaLimit = F::kPaBits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << F::kPaBits) - 1;

  /// Index of the entry covering tree offset `t` in a table at depth d.
  static constexpr std::size_t index(std::uint64_t t, std::size_t d) {
    return std::size_t((t >> shift(d)) & (entries(d) - 1));
  }
  /// The tree offset (low kVaBits bits) of a VA.
  static constexpr std::uint64_t to_tree(VirtAddr va) { return va.value & kVaMask; }
  /// The F::kInputBits low bits set (a shift by 64 is undefined, so 64 bits are special).
  static constexpr std::uint64_t input_mask() {
    if constexpr (F::kInputBits >= 64) return ~std::uint64_t{0};
    else return (std::uint64_t{1} << F::kInputBits) - 1;
  }
  /// The VA of a tree offset, as the format's VA rule places it.
  static constexpr VirtAddr to_va(std::uint64_t t) {
    if constexpr (F::kVaRule == VaRule::sign_extend) {
      if (kVaBits < 64 && ((t >> (kVaBits - 1)) & 1)) return VirtAddr(t | ~kVaMask);
      return VirtAddr(t);
    } else if constexpr (F::kVaRule == VaRule::high) {
      constexpr std::uint64_t in_mask = input_mask();
      return VirtAddr((t | ~kVaMask) & in_mask);
    } else {
      return VirtAddr(t);
    }
  }
  /// Whether [va, va + size) (size > 0, not wrapping) is inside the format's VA range.
  /// Returns the error code to report, or nothing.
  static constexpr bool va_in_range(std::uint64_t va, std::uint64_t size, Errc& why) {
    const std::uint64_t last = va + (size - 1);
    if constexpr (F::kVaRule == VaRule::low) {
      if (last > kVaMask) return why = Errc::va_out_of_range, false;
    } else if constexpr (F::kVaRule == VaRule::high) {
      constexpr std::uint64_t in_mask = input_mask();
      const std::uint64_t lo = (~kVaMask) & in_mask;
      if (va < lo || last > in_mask) return why = Errc::va_out_of_range, false;
    } else {
      auto canonical = [](std::uint64_t v) { return to_va(v & kVaMask).value == v; };
      if (!canonical(va) || !canonical(last)) return why = Errc::va_non_canonical, false;
      if (((va ^ last) >> (kVaBits - 1)) & 1) return why = Errc::va_non_canonical, false;
    }
    if constexpr (requires { F::kVaStart; F::kVaEnd; }) {
      // A region narrower than its walk (ARMv7 LPAE TTBR0 with T0SZ = 0 and T1SZ > 0, B3.6.4):
      // a leaf outside [kVaStart, kVaEnd) would shadow the other root's region.
      if (va < F::kVaStart || last > F::kVaEnd - 1) return why = Errc::va_out_of_range, false;
    }
    return true;
  }
};

/// A paging mode's level list: the last N levels of its family's list (Sv39 = the last 3 of
/// Sv57's 5 levels; x86 4-level = the last 4 of PML5..PT).
template <std::size_t N, class L, std::size_t M>
constexpr std::array<L, N> last_levels(const std::array<L, M>& family) {
  static_assert(N >= 1 && N <= M);
  std::array<L, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = family[M - N + i];
  return out;
}

/// The format's level number as its manual numbers it (what Error::level carries).
template <PagingFormat F>
constexpr std::int8_t level_number(typename F::Level l) { return static_cast<std::int8_t>(l); }

PTLIB_END_NAMESPACE
