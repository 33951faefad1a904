// x86 paging formats: 32-bit paging, PAE, and 4-level / 5-level (LA57) IA-32e paging, with memory
// types through ptlib's PAT layout.
//
// Source: Intel 64 and IA-32 Architectures Software Developer's Manual ("SDM"), vol. 3A, chapter 4
// "Paging" (table numbers as in the editions where paging is chapter 4; later editions keep the
// order under chapter 5):
//   4.3 32-bit paging:     Table 4-4 (PDE mapping a 4-MByte page), 4-5 (PDE referencing a page
//                          table), 4-6 (PTE mapping a 4-KByte page).
//   4.4 PAE paging:        Table 4-7 (CR3), 4-8 (PDPTE), 4-9 (PDE mapping a 2-MByte page), 4-10
//                          (PDE referencing a page table), 4-11 (PTE mapping a 4-KByte page).
//   4.5 4-/5-level paging: Table 4-12/4-13 (CR3), 4-14 (PML5E), 4-15 (PML4E), 4-16 (PDPTE mapping
//                          a 1-GByte page), 4-17 (PDPTE referencing a PD), 4-18 (PDE mapping a
//                          2-MByte page), 4-19 (PDE referencing a PT), 4-20 (PTE).
//   4.9.2 memory typing with the PAT, and the "Page Attribute Table (PAT)" section of the "Memory
//   Cache Control" chapter (11.12 in editions where it is chapter 11): Table 11-10 (memory type
//   encodings), 11-11 (PAT entry selected by PAT/PCD/PWT), 11-12 (PAT after reset).
//
// ptlib's conventions for x86 (the manual leaves them to software):
//  - Table (non-leaf) entries are P|RW|US: access rights are the AND over the walk (4.6), so the
//    leaf alone decides them. PAE PDPTEs are P only: their RW/US bits are reserved (Table 4-8).
//  - Leaves are written with A = 1, and D = 1 when writable (4.8), so the CPU never has to set
//    them with a locked update on first access; a read-only leaf has D = 0.
//  - Reading is always allowed on x86: a request without Perm::read is Errc::unsupported_attrs.
//    Execute-disable (XD, bit 63) exists in PAE and 4-/5-level paging with IA32_EFER.NXE = 1
//    (Caps::nx). Without it a non-executable request fails with Errc::unsupported_attrs unless
//    LeafSettings::allow_implied_exec (then the page is mapped executable).
//  - G (global) is set only in leaves. x86 has no contiguous hint (contig_log2 = 0 everywhere).
//  - Memory types use ptlib's PAT layout, the one Linux programs (kPatMsr below):
//        PAT0 WB, PAT1 WC, PAT2 UC-, PAT3 UC, PAT4 WB, PAT5 WP, PAT6 UC-, PAT7 WT.
//    ptlib writes indices 0..3 only: normal = 0 (WB), wc = 1 (PWT), normal_nc = 2 (PCD, UC-),
//    device = 3 (PCD|PWT, UC). Indices 0, 2 and 3 mean the same under the reset PAT (Table 11-12)
//    and on CPUs without a PAT (PCD/PWT alone, 4.9.1); index 1 is WT there, so MemType::wc needs
//    Caps::pat (the kernel has written kPatMsr to IA32_PAT). The PAT bit sits at bit 7 in PTEs
//    and bit 12 in 2M/4M/1G leaves; that quirk stays inside this header.
//  - x86-32 has no PSE-36: kPaBits is 32 and PDE bits 21:13 of a 4 MiB leaf are treated as
//    reserved (Table 4-4 with M = 32).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <ptlib/format.hpp>

PTLIB_BEGIN_NAMESPACE
namespace x86 {

/// Paging-structure levels by the manual's names; the value is the level number (PT = 1 holds
/// 4 KiB pages). All four modes use this one list: a mode is its last 2..5 entries.
enum class Level : std::int8_t { Pml5 = 5, Pml4 = 4, Pdpt = 3, Pd = 2, Pt = 1 };

/// Run-time CPU state the formats consult.
struct Caps {
  bool page1g = false;  ///< CPUID.80000001H:EDX.Page1GB[26]: 1 GiB leaves at the PDPT (4-/5-level, 4.1.4)
  bool nx = true;       ///< IA32_EFER.NXE = 1: bit 63 is XD in PAE and 4-/5-level paging (4.1.3)
  bool pse = true;      ///< CR4.PSE = 1: 4 MiB leaves at the PD in 32-bit paging (4.3); PAE and
                        ///< 4-/5-level paging always have 2 MiB leaves
  bool pat = false;     ///< IA32_PAT holds kPatMsr (the kernel wrote it): MemType::wc is available
  bool operator==(const Caps&) const = default;
};

// Entry bits. Bits 0..8 sit at the same place in every mode and every level where they exist:
// SDM Tables 4-4..4-6 (32-bit), 4-8..4-11 (PAE), 4-14..4-20 (4-/5-level).
namespace pte {
inline constexpr std::uint64_t P = 1U << 0;    // present
inline constexpr std::uint64_t RW = 1U << 1;   // read/write (0: writes not allowed)
inline constexpr std::uint64_t US = 1U << 2;   // user/supervisor (1: user-mode accesses allowed)
inline constexpr std::uint64_t PWT = 1U << 3;  // page-level write-through (PAT index bit 0)
inline constexpr std::uint64_t PCD = 1U << 4;  // page-level cache disable (PAT index bit 1)
inline constexpr std::uint64_t A = 1U << 5;    // accessed
inline constexpr std::uint64_t D = 1U << 6;    // dirty (leaves only)
inline constexpr std::uint64_t PS = 1U << 7;   // page size (PD/PDPT: 1 = this entry is a leaf)
inline constexpr std::uint64_t G = 1U << 8;    // global (leaves only, with CR4.PGE = 1)
inline constexpr std::uint64_t kPatSmall = 1U << 7;   // PAT index bit 2 in a PTE (Tables 4-6, 4-11, 4-20)
inline constexpr std::uint64_t kPatLarge = 1U << 12;  // PAT index bit 2 in a 4M/2M/1G leaf (Tables 4-4, 4-9, 4-16, 4-18)
inline constexpr std::uint64_t XD = 1ULL << 63;       // execute-disable, PAE and 4-/5-level with NXE = 1
// Address fields: 32-bit paging bits 31:12 (Tables 4-5, 4-6); PAE and 4-/5-level bits (M-1):12
// with MAXPHYADDR M <= 52 (Tables 4-8..4-11, 4-14..4-20).
inline constexpr std::uint64_t kAddr32 = 0xffff'f000ULL;
inline constexpr std::uint64_t kAddr64 = 0x000f'ffff'ffff'f000ULL;
// PAE PDPTE, Table 4-8: bits 2:1, 8:5 and 63:M are reserved (M = 52 here); 11:9 are ignored.
// ptlib writes none of them. Reading, it accepts bit 5 (A): QEMU's walker sets it in PAE
// PDPTEs on every first use (target/i386/tcg/sysemu/excp_helper.c, mmu_translate, PAE level 3:
// ptw_setl(..., PG_ACCESSED_MASK)), so a live tree would otherwise read back as malformed
// (found by the x86-pae demo kernel, demo/x86).
inline constexpr std::uint64_t kPdpteReserved = 0xfff0'0000'0000'01e6ULL;
inline constexpr std::uint64_t kPdpteAccessed = 1U << 5;
}  // namespace pte

/// IA32_PAT memory-type encodings (Table 11-10).
namespace pat {
inline constexpr std::uint8_t kUc = 0x00, kWc = 0x01, kWt = 0x04, kWp = 0x05, kWb = 0x06, kUcMinus = 0x07;
/// ptlib's PAT layout (= Linux's), entry i = PATi.
inline constexpr std::array<std::uint8_t, 8> kLayout{kWb, kWc, kUcMinus, kUc, kWb, kWp, kUcMinus, kWt};
}  // namespace pat

/// The IA32_PAT (MSR 277H) value for ptlib's layout: byte i holds PATi's type (11.12.2).
inline constexpr std::uint64_t kPatMsr = [] {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < pat::kLayout.size(); ++i) v |= std::uint64_t{pat::kLayout[i]} << (8 * i);
  return v;
}();
static_assert(kPatMsr == 0x0407'0506'0007'0106ULL);

/// A PAT entry for a leaf (PAT index = PAT*4 + PCD*2 + PWT, SDM vol 3 11.12.3); `preset` = the
/// index of Attrs::mem in ptlib's layout (0 normal, 1 wc, 2 normal_nc, 3 device).
enum class PatIndex : std::uint8_t { preset, pat0, pat1, pat2, pat3, pat4, pat5, pat6, pat7 };

/// x86 leaf bits that Attrs cannot say (SDM vol 3 Tables 4-4 .. 4-20, the leaf entry formats):
struct Ext {
  Accessed accessed = Accessed::set;    ///< A, bit 5 (4.8: the CPU sets it on first use)
  Dirty dirty = Dirty::if_writable;     ///< D, bit 6 (4.8: the CPU sets it on first write)
  PatIndex pat = PatIndex::preset;      ///< PAT (bit 7 of a PTE, bit 12 of a large leaf), PCD, PWT
  std::uint8_t software = 0;            ///< bits 11:9, ignored by the CPU in every mode, 0..7
  constexpr bool operator==(const Ext&) const = default;
};
/// The tag of x86 extensions in ExtBits.
inline constexpr unsigned kExtTag = 2;

namespace detail {
inline constexpr std::array kAllLevels{Level::Pml5, Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt};

/// What a PAT index (PAT*4 + PCD*2 + PWT) means under kPatMsr.
inline constexpr std::array<MemType, 8> kMemOfPat{MemType::normal, MemType::wc,        MemType::normal_nc,
                                                  MemType::device, MemType::normal,    MemType::other,
                                                  MemType::normal_nc, MemType::other};
}  // namespace detail

/// `a` with the x86 extension `e`, in the form decode() reads back: PAT indices 0..3 become
/// Attrs::mem (ptlib's layout), 4..7 stay explicit (mem as kPatMsr reads them); a dirty policy
/// that the leaf's write permission already implies is the default (call it on the final perms).
constexpr Attrs with(Attrs a, const Ext& e) {
  ExtFields f;
  if (e.pat != PatIndex::preset) {
    const unsigned i = unsigned(e.pat) - 1;
    a.mem = detail::kMemOfPat[i];
    if (i >= 4) f.index = std::uint8_t(i + 1);
  }
  f.accessed = e.accessed;
  f.dirty = canonical_dirty(e.dirty, a.write());
  f.software = e.software;
  a.ext = pack_ext(kExtTag, f);
  return a;
}
/// The x86 extension of `a` (all defaults when it has none).
constexpr Ext ext_of(const Attrs& a) {
  const ExtFields f = fields_of(a.ext, kExtTag);
  return Ext{f.accessed, f.dirty, PatIndex(f.index), f.software};
}

namespace detail {

/// Which x86 paging scheme: 32-bit (4-byte entries), PAE, or IA-32e (4- and 5-level).
enum class Kind : std::uint8_t { legacy32, pae, ia32e };

/// The x86 family: everything but the name and the level list.
template <Kind K>
struct Family {
  using Level = x86::Level;
  using Caps = x86::Caps;
  using Entry = std::conditional_t<K == Kind::legacy32, std::uint32_t, std::uint64_t>;

  static constexpr unsigned kPageShift = 12;
  // 32-bit paging without PSE-36: 32-bit PA (4.3); PAE and 4-/5-level: MAXPHYADDR <= 52 (4.1.4).
  static constexpr unsigned kPaBits = K == Kind::legacy32 ? 32 : 52;
  static constexpr unsigned kInputBits = K == Kind::ia32e ? 64 : 32;
  // 4-/5-level: linear addresses must be canonical (sign-extended from bit 47 / 56, 4.5).
  static constexpr VaRule kVaRule = K == Kind::ia32e ? VaRule::sign_extend : VaRule::low;
  // PAE: CR3 holds a 32-byte aligned PDPT (Table 4-7); every other table is a 4 KiB page.
  static constexpr std::size_t kMinTableAlign = K == Kind::pae ? 32 : 4096;

  // 32-bit paging: 1024 4-byte entries per table (4.3). PAE: 4 PDPTEs (4.4.1), else 512 8-byte
  // entries (4.4.2); 4-/5-level: 512 8-byte entries everywhere (4.5).
  static constexpr unsigned index_bits(Level l) {
    if constexpr (K == Kind::legacy32) return 10;
    else return K == Kind::pae && l == Level::Pdpt ? 2 : 9;
  }
  static constexpr const char* level_name(Level l) {
    constexpr const char* names[] = {"PT", "PD", "PDPT", "PML4", "PML5"};
    return names[int(l) - 1];
  }
  // 4 KiB pages at the PT; 4 MiB at the 32-bit PD with CR4.PSE (Table 4-4); 2 MiB at the PAE and
  // IA-32e PD (Tables 4-9, 4-18); 1 GiB at the IA-32e PDPT with Page1GB (Table 4-16). Never at a
  // PML4/PML5 (bit 7 reserved, Tables 4-14, 4-15) or a PAE PDPTE (Table 4-8).
  static constexpr bool can_leaf(Level l, const Caps& c) {
    switch (l) {
      case Level::Pt: return true;
      case Level::Pd: return K != Kind::legacy32 || c.pse;
      case Level::Pdpt: return K == Kind::ia32e && c.page1g;
      default: return false;
    }
  }
  static constexpr unsigned contig_log2(Level, const Caps&) { return 0; }

  /// Every leaf bit but the address. Errors: unsupported_attrs (no read, contiguous, no leaf at
  /// `l` under `c`, or no-exec without XD and without allow_implied_exec); unsupported_memtype
  /// (wc without Caps::pat, MemType::other).
  static constexpr Result<Entry> leaf_proto(Level l, const LeafSettings& s, const Caps& c) {
    const Attrs& a = s.attrs;
    if (!can_leaf(l, c) || !a.read() || s.contiguous) return make_error(Errc::unsupported_attrs);
    const bool xd = has_xd(c);
    if (!a.exec() && !xd && !s.allow_implied_exec)
      return with_hint(make_error(Errc::unsupported_attrs),
                       K == Kind::legacy32
                           ? "x86-32 paging has no NX bit: ask for exec, pass Options::allow_implied_exec (ptgen "
                             "--allow-implied-exec), or use x86-pae"
                           : "without Caps::nx (EFER.NXE) pages cannot forbid exec: set Caps::nx (ptgen --caps "
                             "nx), ask for exec, or pass Options::allow_implied_exec (ptgen --allow-implied-exec)");
    // PAT entry = PAT*4 + PCD*2 + PWT (Table 11-11). ptlib uses entries 0..3 only, so it never
    // sets the PAT bit itself (bit 7 of a PTE, bit 12 of a large leaf); decode reads all eight.
    if (!a.ext.empty() && a.ext.tag() != kExtTag)
      return with_hint(make_error(Errc::unsupported_attrs), "the attribute extension is another family's: use x86::Ext");
    const ExtFields x = unpack_ext(a.ext);
    if (x.software > 7) return with_hint(make_error(Errc::unsupported_attrs), "x86::Ext::software is 3 bits (11:9): 0..7");
    std::uint64_t e = pte::P | (accessed_bit(x) ? pte::A : 0) | (dirty_bit(x, a.write()) ? pte::D : 0);
    e |= std::uint64_t{x.software} << 9;  // bits 11:9: ignored by the CPU (Tables 4-4 .. 4-20)
    if (x.index) {  // the caller's PAT entry 4..7 (with() keeps 0..3 as memory types)
      const unsigned i = x.index - 1U;
      e |= ((i & 4) ? (l == Level::Pt ? pte::kPatSmall : pte::kPatLarge) : 0) | ((i & 2) ? pte::PCD : 0) |
           ((i & 1) ? pte::PWT : 0);
    } else switch (a.mem) {
      case MemType::normal: break;                                 // PAT0: WB
      case MemType::wc:                                            // PAT1: WC with kPatMsr only
        if (!c.pat)
          return with_hint(make_error(Errc::unsupported_memtype),
                           "wc needs the PAT MSR to hold x86::kPatMsr: write it at boot and set Caps::pat (ptgen "
                           "--caps pat)");
        e |= pte::PWT;
        break;
      case MemType::normal_nc: e |= pte::PCD; break;               // PAT2: UC-
      case MemType::device: e |= pte::PCD | pte::PWT; break;       // PAT3: UC
      default:
        return with_hint(make_error(Errc::unsupported_memtype),
                         "MemType::other needs a PAT entry: choose one with x86::Ext::pat");
    }
    if (a.write()) e |= pte::RW;
    if (a.user()) e |= pte::US;
    if (a.global()) e |= pte::G;
    if (l != Level::Pt) e |= pte::PS;
    if (!a.exec() && xd) e |= pte::XD;
    return Entry(e);
  }

  /// `proto` plus `pa` (precondition: aligned to the level's page size, below 2^kPaBits).
  /// Precondition (the engine's): `pa` is aligned to the level's page size, so bit 12 (the PAT
  /// bit of large leaves) is clear.
  static constexpr Entry leaf(Level, Entry proto, PhysAddr pa) { return proto | Entry(pa.value & kAddr); }
  /// Leaves are linear in their address below this (ExampleFormat::kLinearOaLimit): the address
  /// field is bits (kPaBits-1):12 in place (Tables 4-4..4-20).
  static constexpr std::uint64_t kLinearOaLimit = std::uint64_t{1} << kPaBits;

  /// P|RW|US plus the next table's address; a PAE PDPTE is address|P (Table 4-8).
  static constexpr Entry table(Level l, PhysAddr pa) {
    const std::uint64_t flags = K == Kind::pae && l == Level::Pdpt ? pte::P : pte::P | pte::RW | pte::US;
    return Entry(flags | (pa.value & kAddr));
  }

  /// Reads an entry. P = 0: invalid. PS = 1 at a PD (any mode) or an IA-32e PDPT: a leaf, read
  /// without consulting Caps (a 32-bit PDE with PS = 1 is read as a 4 MiB page even though
  /// CR4.PSE = 0 would make the CPU ignore PS). Malformed: PS = 1 in a PML4E/PML5E, reserved
  /// bits in a PAE PDPTE, reserved address bits in a large leaf. Memory types assume kPatMsr is
  /// in IA32_PAT (PAT1 reads as wc); XD is read as "not executable" whatever IA32_EFER.NXE says.
  /// SDM vol. 3A 4.10.2.3/4.10.4: a TLB may hold entries of both sizes for an address while a
  /// page-size change (leaf <-> table, PS flips) is in flight, with undefined results on some
  /// CPUs (AMD erratum 383); ptlib therefore breaks before it makes such a change. Other
  /// changes are made in place, followed by INVLPG.
  static constexpr bool needs_bbm(Level l, Entry old, Entry next) {
    return decode(l, old).kind != decode(l, next).kind;
  }

  static constexpr Decoded decode(Level l, Entry raw) {
    const std::uint64_t e = raw;
    if (!(e & pte::P)) return {};  // P = 0: not present, every other bit ignored (4.3, 4.4.2, 4.5)
    const Decoded bad{EntryKind::malformed, PhysAddr(e & kAddr)};
    if (K == Kind::pae && l == Level::Pdpt) {
      if (e & pte::kPdpteReserved & ~pte::kPdpteAccessed) return bad;
      return {EntryKind::table, PhysAddr(e & kAddr)};
    }
    const bool large = l != Level::Pt && (e & pte::PS);
    if (l != Level::Pt && !large) return {EntryKind::table, PhysAddr(e & kAddr)};
    // PS = 1 where no leaf can be: PML4E/PML5E bit 7 is reserved (Tables 4-14, 4-15).
    if (large && !(l == Level::Pd || (K == Kind::ia32e && l == Level::Pdpt))) return bad;
    // A large leaf's address bits between bit 13 and its size are reserved (Tables 4-4, 4-9,
    // 4-16, 4-18); bit 12 is its PAT bit.
    const std::uint64_t low = kAddr & (page_size(l) - 1);
    if (large && (e & low & ~pte::kPatLarge)) return bad;
    Decoded d{EntryKind::leaf, PhysAddr(e & kAddr & ~low)};
    Perm p = Perm::read;
    if (e & pte::RW) p = p | Perm::write;
    if (e & pte::US) p = p | Perm::user;
    if (e & pte::G) p = p | Perm::global;
    if (!(K != Kind::legacy32 && (e & pte::XD))) p = p | Perm::exec;
    const unsigned index = ((e & (large ? pte::kPatLarge : pte::kPatSmall)) ? 4U : 0U) |
                           ((e & pte::PCD) ? 2U : 0U) | ((e & pte::PWT) ? 1U : 0U);
    ExtFields f;
    if (index >= 4) f.index = std::uint8_t(index + 1);
    read_ad(f, (e & pte::A) != 0, (e & pte::D) != 0, (e & pte::RW) != 0);
    f.software = std::uint8_t((e >> 9) & 7);
    d.attrs = Attrs{p, kMemOfPat[index], pack_ext(kExtTag, f)};
    return d;
  }

 private:
  static constexpr std::uint64_t kAddr = K == Kind::legacy32 ? pte::kAddr32 : pte::kAddr64;
  static constexpr bool has_xd(const Caps& c) { return K != Kind::legacy32 && c.nx; }
  // Bytes a leaf at `l` maps: 4 KiB at the PT, times the table size per level above it.
  static constexpr std::uint64_t page_size(Level l) {
    return std::uint64_t{1} << (kPageShift + index_bits(Level::Pt) * unsigned(int(l) - 1));
  }
};

/// A mode: the last N levels of the family, under a name.
template <Kind K, std::size_t N, const char* Name>
struct Mode : Family<K> {
  static constexpr const char* kName = Name;
  static constexpr auto kLevels = ptlib::last_levels<N>(kAllLevels);
};

inline constexpr char kX86_32[] = "x86-32";
inline constexpr char kPae[] = "x86-pae";
inline constexpr char kLong4[] = "x86-64-l4";
inline constexpr char kLong5[] = "x86-64-l5";
}  // namespace detail

using X86_32 = detail::Mode<detail::Kind::legacy32, 2, detail::kX86_32>;  ///< PD/PT, 4-byte entries, 4 MiB PSE pages
using Pae = detail::Mode<detail::Kind::pae, 3, detail::kPae>;             ///< 4-entry PDPT, PD, PT; 2 MiB pages
using Long4 = detail::Mode<detail::Kind::ia32e, 4, detail::kLong4>;       ///< PML4..PT, 48-bit canonical VA
using Long5 = detail::Mode<detail::Kind::ia32e, 5, detail::kLong5>;       ///< PML5..PT (LA57), 57-bit canonical VA

static_assert(PagingFormat<X86_32>);
static_assert(PagingFormat<Pae>);
static_assert(PagingFormat<Long4>);
static_assert(PagingFormat<Long5>);

}  // namespace x86
PTLIB_END_NAMESPACE
