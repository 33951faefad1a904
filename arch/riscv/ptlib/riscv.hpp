// RISC-V paging formats: Sv32, Sv39, Sv48, Sv57, with the Svpbmt memory types and Svnapot runs.
//
// Source: The RISC-V Instruction Set Manual, Volume II: Privileged Architecture, 20211203
// ("priv"): 4.3 Sv32, 4.4 Sv39, 4.5 Sv48, 4.6 Sv57; chapter 6 "Svnapot" and chapter 7 "Svpbmt".
//
// ptlib's conventions for RISC-V (the manual leaves them to software):
//  - Leaves are written with A = 1, and D = 1 when writable, so no hardware A/D update (or
//    Svade fault) is ever needed for a mapping ptlib made.
//  - MemType::normal means PBMT = PMA (the platform's PMAs decide); normal_nc (PBMT = NC) and
//    device (PBMT = IO) need Caps::svpbmt. MemType::wc is refused: NC is Svpbmt's closest type,
//    ask for it by name.
//  - Table (non-leaf) PTEs carry only V and the PPN (priv 4.3.1: D, A, U are reserved there; G
//    would make the whole subtree global, which ptlib leaves to leaves).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include <ptlib/format.hpp>

PTLIB_BEGIN_NAMESPACE
namespace riscv {

/// Page-table levels as the manual numbers them: a PTE at level i is indexed by VPN[i].
enum class Level : std::int8_t { Vpn4 = 4, Vpn3 = 3, Vpn2 = 2, Vpn1 = 1, Vpn0 = 0 };

/// Run-time extensions the formats consult.
struct Caps {
  bool svnapot = false;  ///< Svnapot: 64 KiB NAPOT runs of level-0 PTEs (priv ch. 6)
  bool svpbmt = false;   ///< Svpbmt: PBMT memory types in bits 62:61 (priv ch. 7)
  bool operator==(const Caps&) const = default;
};

/// RISC-V leaf bits that Attrs cannot say (priv 4.3.1, 4.4.1: the PTE formats). Memory types
/// need no extension: Svpbmt has three (Table 7.1), the portable normal (PMA), normal_nc (NC)
/// and device (IO); `normal` without Svpbmt leaves the type to the PMAs of the address.
struct Ext {
  /// A (bit 6). With Svade (or without Svadu) a leaf with A = 0 raises a page fault on first
  /// access (priv 4.3.1: software then sets A); with Svadu the hardware sets it.
  Accessed accessed = Accessed::set;
  /// D (bit 7): the same for the first write.
  Dirty dirty = Dirty::if_writable;
  /// RSW, bits 9:8, reserved for supervisor software (priv 4.3.1), 0..3.
  std::uint8_t software = 0;
  constexpr bool operator==(const Ext&) const = default;
};
/// The tag of RISC-V extensions in ExtBits.
inline constexpr unsigned kExtTag = 3;

/// `a` with the RISC-V extension `e`, in the form decode() reads back (a dirty policy that the
/// write permission already implies is the default: call it on the final permissions).
constexpr Attrs with(Attrs a, const Ext& e) {
  ExtFields f;
  f.accessed = e.accessed;
  f.dirty = canonical_dirty(e.dirty, a.write());
  f.software = e.software;
  a.ext = pack_ext(kExtTag, f);
  return a;
}
/// The RISC-V extension of `a` (all defaults when it has none).
constexpr Ext ext_of(const Attrs& a) {
  const ExtFields f = fields_of(a.ext, kExtTag);
  return Ext{f.accessed, f.dirty, f.software};
}

// PTE bits, priv 4.3.1 (Sv32, Figure 4.18) and 4.4.1 (Sv39, Figure 4.21); Sv48/Sv57 identical.
namespace pte {
inline constexpr std::uint64_t V = 1U << 0;  // valid
inline constexpr std::uint64_t R = 1U << 1;  // readable
inline constexpr std::uint64_t W = 1U << 2;  // writable
inline constexpr std::uint64_t X = 1U << 3;  // executable
inline constexpr std::uint64_t U = 1U << 4;  // user-mode accessible
inline constexpr std::uint64_t G = 1U << 5;  // global mapping
inline constexpr std::uint64_t A = 1U << 6;  // accessed
inline constexpr std::uint64_t D = 1U << 7;  // dirty
inline constexpr unsigned kPpnShift = 10;    // PPN starts at bit 10 in every mode
// RV64 only: bits 60:54 reserved (4.4.1), PBMT 62:61 (ch. 7, Table 7.1), N 63 (ch. 6).
inline constexpr std::uint64_t kReserved = 0x7fULL << 54;
inline constexpr unsigned kPbmtShift = 61;
inline constexpr std::uint64_t kPbmtMask = 3ULL << kPbmtShift;
inline constexpr std::uint64_t kPbmtPma = 0, kPbmtNc = 1, kPbmtIo = 2;  // 3 is reserved
inline constexpr std::uint64_t N = 1ULL << 63;
inline constexpr unsigned kNapot64kLog2 = 4;  // ch. 6 Table 6.1: ppn[3:0] = 1000 -> 64 KiB
}  // namespace pte

namespace detail {
inline constexpr std::array kAllLevels{Level::Vpn4, Level::Vpn3, Level::Vpn2, Level::Vpn1, Level::Vpn0};

/// The RISC-V family. Rv64 selects the 8-byte PTE modes (Sv39+) over Sv32's 4-byte PTEs.
template <bool Rv64>
struct SvFamily {
  using Level = riscv::Level;
  using Entry = std::conditional_t<Rv64, std::uint64_t, std::uint32_t>;
  using Caps = riscv::Caps;

  static constexpr unsigned kPageShift = 12;
  // Sv32: 34-bit PA (4.3.1); Sv39/48/57: 56-bit PA (4.4.1, 4.5.1, 4.6.1).
  static constexpr unsigned kPaBits = Rv64 ? 56 : 34;
  static constexpr unsigned kInputBits = Rv64 ? 64 : 32;
  // Sv39+: VA bits 63..N must equal bit N-1 (4.4.1); Sv32 translates every 32-bit VA.
  static constexpr VaRule kVaRule = Rv64 ? VaRule::sign_extend : VaRule::low;
  static constexpr std::size_t kMinTableAlign = 4096;  // satp.PPN and PTE.PPN name 4 KiB pages

  // Sv32: 1024 4-byte PTEs per table (4.3.1); Sv39+: 512 8-byte PTEs (4.4.1).
  static constexpr unsigned index_bits(Level) { return Rv64 ? 9 : 10; }
  static constexpr const char* level_name(Level l) {
    constexpr const char* names[] = {"VPN[0]", "VPN[1]", "VPN[2]", "VPN[3]", "VPN[4]"};
    return names[int(l)];
  }
  // "Any level of PTE may be a leaf PTE" (4.3.1): megapages, gigapages, terapages, petapages.
  static constexpr bool can_leaf(Level, const Caps&) { return true; }
  // Svnapot defines only the 64 KiB size, for level-0 PTEs (ch. 6, Table 6.1).
  static constexpr unsigned contig_log2(Level l, const Caps& c) {
    return Rv64 && c.svnapot && l == Level::Vpn0 ? pte::kNapot64kLog2 : 0;
  }

  static constexpr Result<Entry> leaf_proto(Level l, const LeafSettings& s, const Caps& c) {
    const Attrs& a = s.attrs;
    // R/W/X encodings, priv Table 4.5: W without R is reserved; all clear means "table".
    if (a.write() && !a.read())
      return with_hint(make_error(Errc::unsupported_attrs), "RISC-V has no write-only pages (W without R is reserved): add read");
    if (!a.read() && !a.exec())
      return with_hint(make_error(Errc::unsupported_attrs), "a RISC-V leaf needs read or exec (R = W = X = 0 means a table)");
    if (!a.ext.empty() && a.ext.tag() != kExtTag)
      return with_hint(make_error(Errc::unsupported_attrs), "the attribute extension is another family's: use riscv::Ext");
    const ExtFields x = unpack_ext(a.ext);
    if (x.software > 3) return with_hint(make_error(Errc::unsupported_attrs), "riscv::Ext::software is 2 bits (RSW): 0..3");
    std::uint64_t e = pte::V | (accessed_bit(x) ? pte::A : 0) | (dirty_bit(x, a.write()) ? pte::D : 0);
    e |= std::uint64_t{x.software} << 8;  // RSW, bits 9:8 (priv 4.3.1)
    if (a.read()) e |= pte::R;
    if (a.write()) e |= pte::W;
    if (a.exec()) e |= pte::X;
    if (a.user()) e |= pte::U;
    if (a.global()) e |= pte::G;
    switch (a.mem) {
      case MemType::normal: break;
      case MemType::normal_nc:
      case MemType::device:
        if (!Rv64) return with_hint(make_error(Errc::unsupported_memtype), "Sv32 has no memory types (no Svpbmt): use normal");
        if (!c.svpbmt)
          return with_hint(make_error(Errc::unsupported_memtype),
                           "device and normal_nc need Svpbmt: set Caps::svpbmt in make_tree's caps (ptgen --caps "
                           "svpbmt; the CPU must implement Svpbmt, with menvcfg.PBMTE = 1), or map normal and rely "
                           "on the PMAs");
        e |= (a.mem == MemType::device ? pte::kPbmtIo : pte::kPbmtNc) << pte::kPbmtShift;
        break;
      default: return make_error(Errc::unsupported_memtype);
    }
    if (s.contiguous) {
      if (contig_log2(l, c) == 0) return make_error(Errc::unsupported_attrs);
      e |= pte::N;
    }
    return Entry(e);
  }

  static constexpr Entry ppn_field(PhysAddr pa) { return Entry((pa.value >> kPageShift) << pte::kPpnShift); }

  static constexpr Entry leaf(Level, Entry proto, PhysAddr pa) {
    if constexpr (Rv64) {
      // A NAPOT PTE holds the run's PPN with ppn[3:0] = 1000 (ch. 6, Table 6.1); every PTE of the
      // run is identical.
      if (proto & pte::N) {
        const std::uint64_t ppn = ((pa.value >> kPageShift) & ~0xfULL) | 0x8;
        return proto | (ppn << pte::kPpnShift);
      }
    }
    return proto | ppn_field(pa);
  }
  /// Leaves are linear in their address below this (ExampleFormat::kLinearOaLimit): the PPN is
  /// the address shifted as a whole (ppn_field); NAPOT protos are excluded by the contract.
  static constexpr std::uint64_t kLinearOaLimit = std::uint64_t{1} << kPaBits;

  // Non-leaf PTE: V = 1, R = W = X = 0 (priv Table 4.5), PPN of the next table.
  static constexpr Entry table(Level, PhysAddr pa) { return Entry(pte::V) | ppn_field(pa); }

  // priv 4.2.1 (SFENCE.VMA): a PTE may be rewritten in place and the change made visible with
  // SFENCE.VMA afterwards; RISC-V has no break-before-make rule.
  static constexpr bool needs_bbm(Level, Entry, Entry) { return false; }

  static constexpr Decoded decode(Level l, Entry raw) {
    const std::uint64_t e = raw;
    if (!(e & pte::V)) return {};
    const Decoded bad{EntryKind::malformed};
    std::uint64_t ppn = (e >> pte::kPpnShift) & (Rv64 ? ((1ULL << 44) - 1) : ((1ULL << 22) - 1));
    if constexpr (Rv64) {
      if (e & pte::kReserved) return bad;
    }
    const std::uint64_t rwx = e & (pte::R | pte::W | pte::X);
    if (rwx == 0) {
      // Pointer to the next level: illegal at level 0; D/A/U (4.3.1) and PBMT/N must be clear.
      if (l == Level::Vpn0) return bad;
      if (e & (pte::D | pte::A | pte::U)) return bad;
      if constexpr (Rv64) {
        if (e & (pte::kPbmtMask | pte::N)) return bad;
      }
      return {EntryKind::table, PhysAddr(ppn << kPageShift)};
    }
    if ((e & pte::W) && !(e & pte::R)) return bad;  // reserved, Table 4.5
    Decoded d{EntryKind::leaf};
    Perm p = Perm::none;
    if (e & pte::R) p = p | Perm::read;
    if (e & pte::W) p = p | Perm::write;
    if (e & pte::X) p = p | Perm::exec;
    if (e & pte::U) p = p | Perm::user;
    if (e & pte::G) p = p | Perm::global;
    d.attrs.perm = p;
    ExtFields f;
    read_ad(f, (e & pte::A) != 0, (e & pte::D) != 0, (e & pte::W) != 0);
    f.software = std::uint8_t((e >> 8) & 3);
    d.attrs.ext = pack_ext(kExtTag, f);
    if constexpr (Rv64) {
      switch ((e & pte::kPbmtMask) >> pte::kPbmtShift) {
        case pte::kPbmtPma: d.attrs.mem = MemType::normal; break;
        case pte::kPbmtNc: d.attrs.mem = MemType::normal_nc; break;
        case pte::kPbmtIo: d.attrs.mem = MemType::device; break;
        default: return bad;  // PBMT = 3 is reserved (Table 7.1)
      }
      if (e & pte::N) {
        if (l != Level::Vpn0 || (ppn & 0xf) != 0x8) return bad;  // only 64 KiB at level 0
        d.contiguous = true;
        d.run_log2 = pte::kNapot64kLog2;
        ppn &= ~0xfULL;
      }
    }
    // A superpage's low PPN fields must be zero, else "misaligned superpage" (4.3.2 step 6).
    const unsigned low_bits = unsigned(int(l)) * index_bits(l);
    if (ppn & ((1ULL << low_bits) - 1)) return bad;
    d.addr = PhysAddr(ppn << kPageShift);
    return d;
  }
};

/// A mode: the last `N` levels of the family.
template <bool Rv64, std::size_t N, const char* Name>
struct Sv : SvFamily<Rv64> {
  static constexpr const char* kName = Name;
  static constexpr auto kLevels = last_levels<N>(kAllLevels);
};

inline constexpr char kSv32[] = "sv32";
inline constexpr char kSv39[] = "sv39";
inline constexpr char kSv48[] = "sv48";
inline constexpr char kSv57[] = "sv57";
}  // namespace detail

using Sv32 = detail::Sv<false, 2, detail::kSv32>;  ///< 2 levels, 4-byte PTEs, 4 MiB megapages
using Sv39 = detail::Sv<true, 3, detail::kSv39>;   ///< 3 levels, 39-bit VA
using Sv48 = detail::Sv<true, 4, detail::kSv48>;   ///< 4 levels, 48-bit VA
using Sv57 = detail::Sv<true, 5, detail::kSv57>;   ///< 5 levels, 57-bit VA

static_assert(PagingFormat<Sv32>);
static_assert(PagingFormat<Sv39>);
static_assert(PagingFormat<Sv48>);
static_assert(PagingFormat<Sv57>);

/// satp.MODE values (priv 4.1.11, Table 4.4).
inline constexpr unsigned kSatpModeSv32 = 1, kSatpModeSv39 = 8, kSatpModeSv48 = 9, kSatpModeSv57 = 10;

}  // namespace riscv
PTLIB_END_NAMESPACE
