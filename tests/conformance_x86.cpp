// Tier 1: the x86 paging formats (x86-32, x86-pae, x86-64-l4, x86-64-l5) against the Intel SDM
// vol. 3A chapter 4 (tables numbered as in the editions where paging is chapter 4) and the PAT
// section of the "Memory Cache Control" chapter (Tables 11-10..11-12).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <tuple>

#include <catch2/catch.hpp>

#include <ptlib/ptlib.hpp>
#include <ptlib/x86.hpp>

#include "support.hpp"

using namespace ptlib;
using x86::Caps;
using x86::Ext;
using x86::PatIndex;
using L = x86::Level;
using x86::Long4;
using x86::Long5;
using x86::Pae;
using x86::X86_32;

namespace {

using AllModes = std::tuple<X86_32, Pae, Long4, Long5>;

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;

/// All 16 combinations of the x86 capabilities, numbered by their bits.
Caps caps_from(unsigned bits) {
  Caps c;
  c.page1g = bits & 1U;
  c.nx = bits & 2U;
  c.pse = bits & 4U;
  c.pat = bits & 8U;
  return c;
}

/// The test's own reading of the SDM: where a leaf may be (independent of the header).
template <class F>
bool sdm_can_leaf(L l, const Caps& c) {
  switch (l) {
    case L::Pt: return true;                                        // Tables 4-6, 4-11, 4-20
    case L::Pd: return std::is_same_v<F, X86_32> ? c.pse : true;    // Tables 4-4, 4-9, 4-18
    case L::Pdpt: return !std::is_same_v<F, Pae> && c.page1g;       // Table 4-16 (PAE: 4-8)
    default: return false;                                          // Tables 4-14, 4-15
  }
}

/// Whether the mode can forbid execution (XD, bit 63: PAE and IA-32e with IA32_EFER.NXE).
template <class F>
bool sdm_has_xd(const Caps& c) {
  return !std::is_same_v<F, X86_32> && c.nx;
}

/// Bytes a leaf at `l` maps, per the SDM (4.3: 4 MiB PDEs; 4.4/4.5: 2 MiB PDEs, 1 GiB PDPTEs).
template <class F>
std::uint64_t leaf_size(L l) {
  switch (l) {
    case L::Pt: return 4 * KiB;
    case L::Pd: return std::is_same_v<F, X86_32> ? 4 * MiB : 2 * MiB;
    default: return GiB;
  }
}

template <class F>
std::uint64_t pa_limit() {
  return std::is_same_v<F, X86_32> ? 0xffff'ffffULL : 0x000f'ffff'ffff'ffffULL;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Properties over every mode and level.

TEMPLATE_LIST_TEST_CASE("a zero entry is not present at any level", "[x86]", AllModes) {
  using F = TestType;
  for (L l : F::kLevels) {
    CAPTURE(F::level_name(l));
    CHECK(F::decode(l, 0).kind == EntryKind::invalid);
  }
}

TEMPLATE_LIST_TEST_CASE("an entry with P = 0 is not present whatever its other bits (SDM 4.3, 4.4.2, 4.5)",
                        "[x86]", AllModes) {
  using F = TestType;
  using E = typename F::Entry;
  for (L l : F::kLevels) {
    CAPTURE(F::level_name(l));
    CHECK(F::decode(l, E(~E{1})).kind == EntryKind::invalid);
    CHECK(F::decode(l, E(0x80 | 0x2 | 0x4)).kind == EntryKind::invalid);
  }
}

TEMPLATE_LIST_TEST_CASE("table descriptors round-trip through decode at every non-leaf level", "[x86]", AllModes) {
  using F = TestType;
  using G = Geometry<F>;
  for (std::size_t d = 0; d + 1 < G::kDepth; ++d) {
    const L l = G::level(d);
    CAPTURE(F::level_name(l));
    for (std::uint64_t pa : {std::uint64_t{0x1000}, std::uint64_t{0x7654'3000}, std::uint64_t{pa_limit<F>() & ~0xfffULL}}) {
      CAPTURE(pa);
      const Decoded e = F::decode(l, F::table(l, PhysAddr(pa)));
      CHECK(e.kind == EntryKind::table);
      CHECK(e.addr == PhysAddr(pa));
    }
  }
}

TEMPLATE_LIST_TEST_CASE("leaves exist only where the SDM allows them, per CPU capability", "[x86]", AllModes) {
  using F = TestType;
  const unsigned bits = GENERATE(range(0U, 16U));
  const Caps c = caps_from(bits);
  CAPTURE(bits);
  for (L l : F::kLevels) {
    CAPTURE(F::level_name(l));
    CHECK(F::can_leaf(l, c) == sdm_can_leaf<F>(l, c));
    CHECK(F::contig_log2(l, c) == 0);  // x86 has no contiguous hint
  }
  CHECK(F::can_leaf(F::kLevels.back(), c));  // 4 KiB pages always
}

TEMPLATE_LIST_TEST_CASE("leaf bits round-trip through decode, and inexpressible requests fail with the right code",
                        "[x86]", AllModes) {
  using F = TestType;
  const unsigned bits = GENERATE(range(0U, 16U));
  const Caps c = caps_from(bits);
  CAPTURE(bits);
  std::size_t ok = 0, refused = 0;
  for (L l : F::kLevels) {
    const std::uint64_t size = leaf_size<F>(l);
    for (unsigned perm = 0; perm < 32; ++perm) {
      for (unsigned mem = 0; mem <= unsigned(MemType::other); ++mem) {
        for (bool implied : {false, true}) {
          for (bool contig : {false, true}) {
            const Attrs a{Perm(perm), MemType(mem)};
            const LeafSettings s{a, contig, implied};
            // The expected outcome, from the SDM and ptlib's documented conventions.
            Errc want{};
            bool want_ok = true;
            if (!sdm_can_leaf<F>(l, c) || !a.read() || contig ||
                (!a.exec() && !sdm_has_xd<F>(c) && !implied)) {
              want = Errc::unsupported_attrs, want_ok = false;
            } else if (a.mem == MemType::other || (a.mem == MemType::wc && !c.pat)) {
              want = Errc::unsupported_memtype, want_ok = false;
            }
            const auto p = F::leaf_proto(l, s, c);
            if (p.ok() != want_ok || (!p.ok() && p.error().code != want)) {
              CAPTURE(F::level_name(l), a, implied, contig);
              CHECK(p.ok() == want_ok);
              if (!p.ok()) CHECK(p.error().code == want);
              continue;
            }
            if (!p.ok()) {
              ++refused;
              continue;
            }
            ++ok;
            Attrs back = a;
            if (!sdm_has_xd<F>(c)) back.perm = back.perm | Perm::exec;  // implied exec
            // Lowest and highest aligned output addresses of the level.
            for (std::uint64_t pa : {size, std::uint64_t{pa_limit<F>() & ~(size - 1)}}) {
              const Decoded d = F::decode(l, F::leaf(l, *p, PhysAddr(pa)));
              if (d.kind != EntryKind::leaf || d.addr != PhysAddr(pa) || !(d.attrs == back) || d.contiguous) {
                CAPTURE(F::level_name(l), a, pa, d.attrs, back);
                CHECK(d.kind == EntryKind::leaf);
                CHECK(d.addr == PhysAddr(pa));
                CHECK(d.attrs == back);
                CHECK_FALSE(d.contiguous);
              }
            }
          }
        }
      }
    }
  }
  CHECK(ok > 0);
  CHECK(refused > 0);
}

TEMPLATE_LIST_TEST_CASE("every PAT index decodes to ptlib's PAT layout, with the PAT bit at 7 in PTEs and 12 in "
                        "large leaves (Table 11-11)",
                        "[x86]", AllModes) {
  using F = TestType;
  using E = typename F::Entry;
  // PAT0 WB, PAT1 WC, PAT2 UC-, PAT3 UC, PAT4 WB, PAT5 WP, PAT6 UC-, PAT7 WT.
  constexpr MemType kWant[8] = {MemType::normal, MemType::wc,        MemType::normal_nc, MemType::device,
                                MemType::normal, MemType::other,     MemType::normal_nc, MemType::other};
  const unsigned index = GENERATE(range(0U, 8U));
  CAPTURE(index);
  for (L l : {L::Pt, L::Pd}) {
    const bool large = l == L::Pd;
    const std::uint64_t pat_bit = large ? 0x1000 : 0x80;
    const std::uint64_t ps = large ? 0x80 : 0;
    const std::uint64_t pa = large ? 0x0040'0000 : 0x5000;  // aligned for 4 MiB and 2 MiB leaves
    E e = E(pa | 0x1 | ps | ((index & 1) ? 0x8 : 0) | ((index & 2) ? 0x10 : 0) | ((index & 4) ? pat_bit : 0));
    const Decoded d = F::decode(l, e);
    CAPTURE(F::level_name(l));
    REQUIRE(d.kind == EntryKind::leaf);
    CHECK(d.attrs.mem == kWant[index]);
    CHECK(d.addr == PhysAddr(pa));
  }
}

// ---------------------------------------------------------------------------------------------
// Geometry and VA rules.

TEST_CASE("geometry matches the SDM: 32-bit paging has two levels of 1024 entries (SDM 4.3)", "[x86]") {
  using G = Geometry<X86_32>;
  CHECK(sizeof(X86_32::Entry) == 4);
  CHECK(G::kDepth == 2);
  CHECK(G::kVaBits == 32);
  CHECK(G::entries(0) == 1024);
  CHECK(G::entries(1) == 1024);
  CHECK(G::span(0) == 0x40'0000);  // a PDE controls 4 MiB
  CHECK(G::span(1) == 0x1000);
  CHECK(G::table_bytes(0) == 4096);
  CHECK(G::table_bytes(1) == 4096);
  CHECK(G::kPaLimit == 0xffff'ffffULL);
  CHECK(std::string(X86_32::kName) == "x86-32");
  CHECK(X86_32::level_name(L::Pd) == std::string("PD"));
  CHECK(X86_32::level_name(L::Pt) == std::string("PT"));
}

TEST_CASE("geometry matches the SDM: PAE has a 4-entry, 32-byte, 32-byte aligned PDPT (SDM 4.4, Table 4-7)",
          "[x86]") {
  using G = Geometry<Pae>;
  CHECK(sizeof(Pae::Entry) == 8);
  CHECK(G::kDepth == 3);
  CHECK(G::kVaBits == 32);
  CHECK(G::entries(0) == 4);
  CHECK(G::entries(1) == 512);
  CHECK(G::entries(2) == 512);
  CHECK(G::span(0) == 0x4000'0000);  // a PDPTE controls 1 GiB
  CHECK(G::span(1) == 0x20'0000);    // a PDE controls 2 MiB
  CHECK(G::span(2) == 0x1000);
  CHECK(G::table_bytes(0) == 32);
  CHECK(G::table_align(0) == 32);
  CHECK(G::table_bytes(1) == 4096);
  CHECK(G::table_align(1) == 4096);
  CHECK(G::kPaLimit == 0x000f'ffff'ffff'ffffULL);
  CHECK(std::string(Pae::kName) == "x86-pae");
  CHECK(Pae::level_name(L::Pdpt) == std::string("PDPT"));
}

TEST_CASE("geometry matches the SDM: 4-level paging translates 48 bits through 512-entry tables (SDM 4.5)",
          "[x86]") {
  using G = Geometry<Long4>;
  CHECK(G::kDepth == 4);
  CHECK(G::kVaBits == 48);
  for (std::size_t d = 0; d < 4; ++d) {
    CHECK(G::entries(d) == 512);
    CHECK(G::table_bytes(d) == 4096);
  }
  CHECK(G::span(0) == 0x80'0000'0000ULL);  // 512 GiB per PML4E
  CHECK(G::span(1) == 0x4000'0000);        // 1 GiB per PDPTE
  CHECK(G::span(2) == 0x20'0000);
  CHECK(G::span(3) == 0x1000);
  CHECK(G::kPaLimit == 0x000f'ffff'ffff'ffffULL);
  CHECK(std::string(Long4::kName) == "x86-64-l4");
  CHECK(Long4::level_name(L::Pml4) == std::string("PML4"));
}

TEST_CASE("geometry matches the SDM: 5-level paging adds the PML5 and translates 57 bits (SDM 4.5)", "[x86]") {
  using G = Geometry<Long5>;
  CHECK(G::kDepth == 5);
  CHECK(G::kVaBits == 57);
  CHECK(G::level(0) == L::Pml5);
  CHECK(G::entries(0) == 512);
  CHECK(G::table_bytes(0) == 4096);
  CHECK(G::span(0) == 0x1'0000'0000'0000ULL);  // 256 TiB per PML5E
  CHECK(G::span(1) == 0x80'0000'0000ULL);
  CHECK(G::span(4) == 0x1000);
  CHECK(std::string(Long5::kName) == "x86-64-l5");
  CHECK(Long5::level_name(L::Pml5) == std::string("PML5"));
}

TEST_CASE("x86-32 and PAE translate exactly the 32-bit linear address space", "[x86]") {
  const auto check = []<class F>() {
    using G = Geometry<F>;
    Errc why{};
    CHECK(G::va_in_range(0, 0x1'0000'0000ULL, why));
    CHECK(G::va_in_range(0xffff'f000, 0x1000, why));
    why = {};
    CHECK_FALSE(G::va_in_range(0xffff'f000, 0x2000, why));
    CHECK(why == Errc::va_out_of_range);
    why = {};
    CHECK_FALSE(G::va_in_range(0x1'0000'0000ULL, 0x1000, why));
    CHECK(why == Errc::va_out_of_range);
  };
  check.operator()<X86_32>();
  check.operator()<Pae>();
}

TEST_CASE("4-level paging needs canonical 48-bit addresses (bits 63:47 equal, SDM 4.5)", "[x86]") {
  using G = Geometry<Long4>;
  Errc why{};
  CHECK(G::va_in_range(0x0000'7fff'ffff'f000ULL, 0x1000, why));
  CHECK(G::va_in_range(0xffff'8000'0000'0000ULL, 0x1000, why));
  CHECK(G::va_in_range(0xffff'ffff'ffff'f000ULL, 0x1000, why));
  for (std::uint64_t va : {0x0000'8000'0000'0000ULL, 0xffff'7fff'ffff'f000ULL, 0x00ff'0000'0000'0000ULL}) {
    CAPTURE(va);
    why = {};
    CHECK_FALSE(G::va_in_range(va, 0x1000, why));
    CHECK(why == Errc::va_non_canonical);
  }
  why = {};
  CHECK_FALSE(G::va_in_range(0x0000'7fff'ffff'f000ULL, 0x2000, why));  // runs into the hole
  CHECK(why == Errc::va_non_canonical);
}

TEST_CASE("5-level paging needs canonical 57-bit addresses (bits 63:56 equal, SDM 4.5)", "[x86]") {
  using G = Geometry<Long5>;
  Errc why{};
  CHECK(G::va_in_range(0x0000'8000'0000'0000ULL, 0x1000, why));  // not canonical for 4-level
  CHECK(G::va_in_range(0x00ff'ffff'ffff'f000ULL, 0x1000, why));
  CHECK(G::va_in_range(0xff00'0000'0000'0000ULL, 0x1000, why));
  for (std::uint64_t va : {0x0100'0000'0000'0000ULL, 0xfeff'ffff'ffff'f000ULL, 0x7fff'8000'0000'0000ULL}) {
    CAPTURE(va);
    why = {};
    CHECK_FALSE(G::va_in_range(va, 0x1000, why));
    CHECK(why == Errc::va_non_canonical);
  }
}

// ---------------------------------------------------------------------------------------------
// Known-answer vectors, worked out by hand from the SDM tables (bit 0 P, 1 RW, 2 US, 3 PWT,
// 4 PCD, 5 A, 6 D, 7 PS/PAT, 8 G, 12 PAT of large leaves, 63 XD).

namespace {
const LeafSettings kRwx{Attrs{Perm::read | Perm::write | Perm::exec}};
/// The portable part of decoded attributes (what other writers' bits beyond it are is x86::Ext's).
Attrs portable(Attrs a) { return Attrs{a.perm, a.mem}; }
}

TEST_CASE("known answers: 32-bit paging entries (Tables 4-4, 4-5, 4-6)", "[x86][kat]") {
  const Caps c{};
  // Table 4-5: a PDE referencing a page table at 0x00123000, P|RW|US.
  CHECK(X86_32::table(L::Pd, PhysAddr(0x0012'3000)) == 0x0012'3007U);
  // Table 4-6: a 4 KiB rwx PTE at 0x12345000: P|RW|A|D = 0x63.
  CHECK(X86_32::leaf(L::Pt, *X86_32::leaf_proto(L::Pt, kRwx, c), PhysAddr(0x1234'5000)) == 0x1234'5063U);
  // Table 4-4: a 4 MiB read-only, executable, global PDE at 0x00c00000: P|A|PS|G = 0x1a1.
  const LeafSettings rxg{Attrs{Perm::read | Perm::exec | Perm::global}};
  CHECK(X86_32::leaf(L::Pd, *X86_32::leaf_proto(L::Pd, rxg, c), PhysAddr(0x00c0'0000)) == 0x00c0'01a1U);
  // Table 4-4 with PCD|PWT (PAT3, UC): a 4 MiB device PDE at 0xfec00000: P|RW|PWT|PCD|A|D|PS = 0xfb.
  const LeafSettings dev{Attrs{Perm::read | Perm::write | Perm::exec, MemType::device}};
  CHECK(X86_32::leaf(L::Pd, *X86_32::leaf_proto(L::Pd, dev, c), PhysAddr(0xfec0'0000)) == 0xfec0'00fbU);
  // Table 4-6: a user rwx PTE: P|RW|US|A|D = 0x67.
  const LeafSettings user{Attrs{Perm::read | Perm::write | Perm::exec | Perm::user}};
  CHECK(X86_32::leaf(L::Pt, *X86_32::leaf_proto(L::Pt, user, c), PhysAddr(0x1000)) == 0x0000'1067U);

  // Decoding: bit 31 is an address bit in 32-bit paging (no XD): 0x80000001 is a r-x PTE at 2 GiB.
  const Decoded hi = X86_32::decode(L::Pt, 0x8000'0001U);
  CHECK(hi.kind == EntryKind::leaf);
  CHECK(hi.addr == PhysAddr(0x8000'0000));
  CHECK(portable(hi.attrs) == Attrs{Perm::read | Perm::exec});
  CHECK(x86::ext_of(hi.attrs) == Ext{Accessed::clear});  // A (bit 5) = 0; D = 0 on a read-only page is the default
  // Table 4-5: PS = 0 is a table; Table 4-4: PS = 1 is a 4 MiB page (read even with CR4.PSE = 0).
  CHECK(X86_32::decode(L::Pd, 0x0012'3007U).kind == EntryKind::table);
  const Decoded big = X86_32::decode(L::Pd, 0x0040'1083U);  // PAT bit 12 set: PAT4 = WB
  CHECK(big.kind == EntryKind::leaf);
  CHECK(big.addr == PhysAddr(0x0040'0000));
  CHECK(portable(big.attrs) == Attrs{Perm::read | Perm::write | Perm::exec, MemType::normal});
  CHECK(x86::ext_of(big.attrs) == Ext{Accessed::clear, Dirty::clear, PatIndex::pat4});  // writable, D = 0
  // Table 4-4, M = 32 (no PSE-36): bits 21:13 are reserved.
  CHECK(X86_32::decode(L::Pd, 0x0040'2083U).kind == EntryKind::malformed);
  CHECK(X86_32::decode(L::Pd, 0x0060'0083U).kind == EntryKind::malformed);
}

TEST_CASE("known answers: PAE entries (Tables 4-8..4-11)", "[x86][kat]") {
  const Caps c{};  // NXE on
  // Table 4-8: a PDPTE holds only P, PWT, PCD and the address: PD at 0x5000 -> 0x5001.
  CHECK(Pae::table(L::Pdpt, PhysAddr(0x5000)) == 0x5001ULL);
  // Table 4-10: a PDE referencing a page table at 0x7000: P|RW|US.
  CHECK(Pae::table(L::Pd, PhysAddr(0x7000)) == 0x7007ULL);
  // Table 4-9: a 2 MiB rw, non-executable PDE above 4 GiB at 0x1_0020_0000: XD|P|RW|A|D|PS.
  const LeafSettings rw{attrs::rw};
  CHECK(Pae::leaf(L::Pd, *Pae::leaf_proto(L::Pd, rw, c), PhysAddr(0x1'0020'0000ULL)) == 0x8000'0001'0020'00e3ULL);
  // Table 4-11: a read-only user PTE at 0xabcde000: XD|P|US|A.
  const LeafSettings ru{Attrs{Perm::read | Perm::user}};
  CHECK(Pae::leaf(L::Pt, *Pae::leaf_proto(L::Pt, ru, c), PhysAddr(0xabcd'e000)) == 0x8000'0000'abcd'e025ULL);

  // Decoding PDPTEs: PWT/PCD are allowed, bits 2:1, 8:5 and 63:52 are reserved (Table 4-8).
  CHECK(Pae::decode(L::Pdpt, 0x5019ULL).kind == EntryKind::table);
  CHECK(Pae::decode(L::Pdpt, 0x5019ULL).addr == PhysAddr(0x5000));
  CHECK(Pae::decode(L::Pdpt, 0xe01ULL).kind == EntryKind::table);  // 11:9 ignored
  // Bit 5 (A) is reserved too, but QEMU's walker sets it (see kPdpteAccessed): read as a table.
  CHECK(Pae::decode(L::Pdpt, 0x5021ULL).kind == EntryKind::table);
  CHECK(Pae::decode(L::Pdpt, 0x5021ULL).addr == PhysAddr(0x5000));
  for (std::uint64_t e : {0x5003ULL, 0x5005ULL, 0x5041ULL, 0x5081ULL, 0x5101ULL,
                          0x8000'0000'0000'5001ULL, 0x0010'0000'0000'5001ULL}) {
    CAPTURE(e);
    CHECK(Pae::decode(L::Pdpt, e).kind == EntryKind::malformed);
  }
  // Table 4-9: bits 20:13 of a 2 MiB PDE are reserved.
  CHECK(Pae::decode(L::Pd, 0x0020'20e3ULL).kind == EntryKind::malformed);
  CHECK(Pae::decode(L::Pd, 0x0020'00e3ULL).kind == EntryKind::leaf);
}

TEST_CASE("known answers: 4-level and 5-level entries (Tables 4-14..4-20)", "[x86][kat]") {
  Caps c{};
  c.page1g = true;
  c.pat = true;
  // Tables 4-14, 4-15, 4-17, 4-19: table entries are P|RW|US.
  CHECK(Long5::table(L::Pml5, PhysAddr(0x2000)) == 0x2007ULL);
  CHECK(Long4::table(L::Pml4, PhysAddr(0x1000)) == 0x1007ULL);
  CHECK(Long4::table(L::Pdpt, PhysAddr(0x000f'ffff'ffff'f000ULL)) == 0x000f'ffff'ffff'f007ULL);
  CHECK(Long4::table(L::Pd, PhysAddr(0x3000)) == 0x3007ULL);
  // Table 4-16: a 1 GiB rw global non-executable PDPTE at 1 GiB: XD|P|RW|A|D|PS|G.
  const LeafSettings rwg{Attrs{Perm::read | Perm::write | Perm::global}};
  CHECK(Long4::leaf(L::Pdpt, *Long4::leaf_proto(L::Pdpt, rwg, c), PhysAddr(0x4000'0000)) ==
        0x8000'0000'4000'01e3ULL);
  // Table 4-18: a 2 MiB rwx PDE at 16 GiB: P|RW|A|D|PS.
  CHECK(Long4::leaf(L::Pd, *Long4::leaf_proto(L::Pd, kRwx, c), PhysAddr(0x4'0000'0000ULL)) == 0x4'0000'00e3ULL);
  // Table 4-20 + Table 11-11: a write-combining rw PTE (PAT1: PWT) at 0xfd000000: XD|P|RW|PWT|A|D.
  const LeafSettings wc{Attrs{Perm::read | Perm::write, MemType::wc}};
  CHECK(Long5::leaf(L::Pt, *Long5::leaf_proto(L::Pt, wc, c), PhysAddr(0xfd00'0000)) == 0x8000'0000'fd00'006bULL);
  // normal_nc is PAT2 (PCD, UC-), device PAT3 (PCD|PWT, UC); the same in 2 MiB PDEs.
  const LeafSettings nc{Attrs{Perm::read | Perm::write, MemType::normal_nc}};
  const LeafSettings dev{Attrs{Perm::read | Perm::write, MemType::device}};
  CHECK(Long4::leaf(L::Pt, *Long4::leaf_proto(L::Pt, nc, c), PhysAddr(0x1000)) == 0x8000'0000'0000'1073ULL);
  CHECK(Long4::leaf(L::Pd, *Long4::leaf_proto(L::Pd, dev, c), PhysAddr(0x20'0000)) == 0x8000'0000'0020'00fbULL);
  // A user read-only executable PTE: P|US|A.
  const LeafSettings rxu{Attrs{Perm::read | Perm::exec | Perm::user}};
  CHECK(Long4::leaf(L::Pt, *Long4::leaf_proto(L::Pt, rxu, c), PhysAddr(0x9000)) == 0x9025ULL);

  // Decoding. PS = 1 in a PML4E/PML5E is reserved (Tables 4-14, 4-15).
  CHECK(Long4::decode(L::Pml4, 0x1087ULL).kind == EntryKind::malformed);
  CHECK(Long5::decode(L::Pml5, 0x2083ULL).kind == EntryKind::malformed);
  CHECK(Long5::decode(L::Pml4, 0x1087ULL).kind == EntryKind::malformed);
  // XD in a table entry is legal (it restricts the subtree): still a table.
  const Decoded t = Long4::decode(L::Pml4, 0x8000'0000'0000'1007ULL);
  CHECK(t.kind == EntryKind::table);
  CHECK(t.addr == PhysAddr(0x1000));
  // Table 4-16: PS = 1 in a PDPTE is a 1 GiB page (decoding does not depend on Caps).
  const Decoded g = Long4::decode(L::Pdpt, 0x4000'0083ULL);
  CHECK(g.kind == EntryKind::leaf);
  CHECK(g.addr == PhysAddr(0x4000'0000));
  CHECK(portable(g.attrs) == attrs::rwx);
  CHECK(x86::ext_of(g.attrs) == Ext{Accessed::clear, Dirty::clear});
  // Table 4-16: bits 29:13 of a 1 GiB PDPTE are reserved; Table 4-18: bits 20:13 of a 2 MiB PDE.
  CHECK(Long4::decode(L::Pdpt, 0x6000'0083ULL).kind == EntryKind::malformed);
  CHECK(Long4::decode(L::Pdpt, 0x4000'2083ULL).kind == EntryKind::malformed);
  CHECK(Long4::decode(L::Pd, 0x0030'0083ULL).kind == EntryKind::malformed);
  // Table 4-18: PAT bit 12 + PCD = PAT6 (UC-) in a 2 MiB PDE; bit 12 is not an address bit here.
  const Decoded pd = Long4::decode(L::Pd, 0x0020'1091ULL);
  CHECK(pd.kind == EntryKind::leaf);
  CHECK(pd.addr == PhysAddr(0x20'0000));
  CHECK(portable(pd.attrs) == Attrs{Perm::read | Perm::exec, MemType::normal_nc});
  CHECK(x86::ext_of(pd.attrs).pat == PatIndex::pat6);
  // Table 4-20: bit 7 is the PTE's PAT bit, not PS: PAT|PWT = PAT5 (WP) reads as MemType::other.
  const Decoded pt = Long4::decode(L::Pt, 0x3000'00a9ULL);
  CHECK(pt.kind == EntryKind::leaf);
  CHECK(pt.addr == PhysAddr(0x3000'0000));
  CHECK(portable(pt.attrs) == Attrs{Perm::read | Perm::exec, MemType::other});
  CHECK(x86::ext_of(pt.attrs) == Ext{Accessed::set, Dirty::if_writable, PatIndex::pat5});  // A = 1
  // Bits 11:9 and 62:52 are ignored (available to software); the address is bits 51:12.
  const Decoded sw = Long4::decode(L::Pt, 0x7ff0'0000'0000'1e01ULL);
  CHECK(sw.kind == EntryKind::leaf);
  CHECK(sw.addr == PhysAddr(0x1000));
  CHECK(portable(sw.attrs) == attrs::rx);
  CHECK(x86::ext_of(sw.attrs) == Ext{Accessed::clear, Dirty::if_writable, PatIndex::preset, 0b111});  // bits 11:9
  const Decoded xd = Long4::decode(L::Pt, 0x8000'0000'0000'1167ULL);  // XD|G|D|A|US|RW|P
  CHECK(xd.attrs == Attrs{Perm::read | Perm::write | Perm::user | Perm::global});
}

TEST_CASE("known answer: kPatMsr is ptlib's PAT layout WB WC UC- UC WB WP UC- WT (Table 11-10)", "[x86][kat]") {
  // Bytes PAT7..PAT0: WT 04, UC- 07, WP 05, WB 06, UC 00, UC- 07, WC 01, WB 06.
  CHECK(x86::kPatMsr == 0x0407'0506'0007'0106ULL);
}

// ---------------------------------------------------------------------------------------------
// Unsupported requests, by name.

TEST_CASE("requests the x86 formats cannot express fail with a typed error", "[x86]") {
  const Caps c{};
  const auto code = [](const auto& r) { return r.ok() ? Errc{} : r.error().code; };
  // Reading cannot be forbidden: write-only, exec-only and no-access leaves are refused.
  for (Perm p : {Perm::write, Perm::exec, Perm::none, Perm::write | Perm::exec}) {
    CHECK(code(Long4::leaf_proto(L::Pt, LeafSettings{Attrs{p}}, c)) == Errc::unsupported_attrs);
    CHECK(code(X86_32::leaf_proto(L::Pt, LeafSettings{Attrs{p}}, c)) == Errc::unsupported_attrs);
  }
  // No contiguous hint on x86.
  CHECK(code(Long4::leaf_proto(L::Pt, LeafSettings{attrs::rwx, true}, c)) == Errc::unsupported_attrs);
  // 32-bit paging has no XD: a non-executable leaf is refused unless exec may be implied.
  CHECK(code(X86_32::leaf_proto(L::Pt, LeafSettings{attrs::rw}, c)) == Errc::unsupported_attrs);
  const auto implied = X86_32::leaf_proto(L::Pt, LeafSettings{attrs::rw, false, true}, c);
  REQUIRE(implied.ok());
  CHECK(*implied == 0x63U);  // P|RW|A|D, as an rwx page
  // PAE / long mode with IA32_EFER.NXE = 0: the same.
  Caps nonx{};
  nonx.nx = false;
  CHECK(code(Pae::leaf_proto(L::Pd, LeafSettings{attrs::r}, nonx)) == Errc::unsupported_attrs);
  const auto pae_implied = Pae::leaf_proto(L::Pd, LeafSettings{attrs::r, false, true}, nonx);
  REQUIRE(pae_implied.ok());
  CHECK(*pae_implied == 0xa1ULL);  // P|A|PS, no XD (bit 63 is reserved with NXE = 0)
  // Write-combining needs the PAT programmed with kPatMsr.
  const LeafSettings wc{Attrs{Perm::read | Perm::write | Perm::exec, MemType::wc}};
  CHECK(code(Long4::leaf_proto(L::Pt, wc, c)) == Errc::unsupported_memtype);
  CHECK(code(X86_32::leaf_proto(L::Pd, wc, c)) == Errc::unsupported_memtype);
  Caps pat{};
  pat.pat = true;
  CHECK(*X86_32::leaf_proto(L::Pd, wc, pat) == 0xebU);  // P|RW|PWT|A|D|PS (PAT1)
  // MemType::other is decode-only.
  CHECK(code(Pae::leaf_proto(L::Pt, LeafSettings{Attrs{Perm::read | Perm::exec, MemType::other}}, c)) ==
        Errc::unsupported_memtype);
  // No leaf where the level cannot hold one.
  CHECK(code(Long4::leaf_proto(L::Pml4, kRwx, c)) == Errc::unsupported_attrs);
  CHECK(code(Long5::leaf_proto(L::Pml5, kRwx, c)) == Errc::unsupported_attrs);
  CHECK(code(Long4::leaf_proto(L::Pdpt, kRwx, c)) == Errc::unsupported_attrs);  // no Page1GB
  CHECK(code(Pae::leaf_proto(L::Pdpt, kRwx, c)) == Errc::unsupported_attrs);
  Caps nopse{};
  nopse.pse = false;
  CHECK(code(X86_32::leaf_proto(L::Pd, kRwx, nopse)) == Errc::unsupported_attrs);
}

// ---------------------------------------------------------------------------------------------
// Engine smoke tests: one tree per mode, largest leaf plus 4 KiB pages.

namespace {

template <class F>
struct Smoke {
  Caps caps;
  std::uint64_t va, pa, big;  // `big`: the largest leaf size the mode's caps allow
  L big_level;
  Attrs attrs;
  MapOptions opts{};
};

template <class F>
void smoke(const Smoke<F>& s) {
  alignas(4096) static unsigned char buf[64 * 1024];
  std::memset(buf, 0xa5, sizeof buf);
  Arena arena(buf, sizeof buf, PhysAddr(0x10'0000));
  auto tree = make_tree<F>(arena, s.caps);
  REQUIRE(tree.ok());
  const std::uint64_t size = s.big + 2 * 4096;
  auto r = map(*tree, arena, VirtAddr(s.va), PhysAddr(s.pa), size, s.attrs, s.opts);
  REQUIRE(r.ok());
  CHECK(r->tables_added == Geometry<F>::kDepth - 1);

  Attrs want = s.attrs;
  if (s.opts.allow_implied_exec && !sdm_has_xd<F>(s.caps)) want.perm = want.perm | Perm::exec;
  struct Probe {
    std::uint64_t off;
    L level;
    std::uint64_t leaf;
  };
  for (const Probe& p : {Probe{0x1234, s.big_level, s.big}, Probe{s.big - 8, s.big_level, s.big},
                         Probe{s.big + 0x10, L::Pt, 4096}, Probe{s.big + 0x1fff, L::Pt, 4096}}) {
    CAPTURE(p.off);
    auto t = translate(*tree, arena, VirtAddr(s.va + p.off));
    REQUIRE(t.ok());
    CHECK(t->pa == PhysAddr(s.pa + p.off));
    CHECK(t->leaf.level == p.level);
    CHECK(t->leaf.size == p.leaf);
    CHECK(t->leaf.attrs == want);
  }
  auto miss = translate(*tree, arena, VirtAddr(s.va + size));
  REQUIRE_FALSE(miss.ok());
  CHECK(miss.error().code == Errc::not_mapped);
  auto again = map(*tree, arena, VirtAddr(s.va + s.big), PhysAddr(s.pa), 4096, s.attrs, s.opts);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::overlap);

  // The root entry above the 4 KiB pages is a table descriptor: P|RW|US, or P alone for a PAE
  // PDPTE (Table 4-8). The root is the arena's first allocation.
  const auto root = reinterpret_cast<const typename F::Entry*>(arena.data());
  const auto idx = Geometry<F>::index(Geometry<F>::to_tree(VirtAddr(s.va + s.big)), 0);
  const std::uint64_t low = std::uint64_t(root[idx]) & 0xfff;
  CHECK(low == (std::is_same_v<F, Pae> ? 0x001U : 0x007U));
}

}  // namespace

TEST_CASE("engine smoke: x86-32 maps a 4 MiB PSE page and 4 KiB pages", "[x86][engine]") {
  smoke<X86_32>({Caps{}, 0x00c0'0000, 0x0100'0000, 4 * MiB, L::Pd, attrs::rwx});
  // A read/write request maps as rwx only when the caller allows implied exec.
  smoke<X86_32>({Caps{}, 0x8000'0000, 0xc000'0000, 4 * MiB, L::Pd, attrs::rw, MapOptions{0, true}});
  alignas(4096) static unsigned char buf[16 * 1024];
  Arena arena(buf, sizeof buf, PhysAddr(0x10'0000));
  auto tree = make_tree<X86_32>(arena);
  REQUIRE(tree.ok());
  auto r = map(*tree, arena, VirtAddr(0x40'0000), PhysAddr(0x40'0000), 4 * MiB, attrs::rw);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::unsupported_attrs);
  CHECK(r.error().level == 2);  // the PD, whose 4 MiB leaf could not say it
}

TEST_CASE("engine smoke: PAE maps a 2 MiB page above 4 GiB through a 32-byte PDPT", "[x86][engine]") {
  smoke<Pae>({Caps{}, 0x4000'0000, 0x1'0000'0000ULL, 2 * MiB, L::Pd, Attrs{Perm::read | Perm::write | Perm::global}});
}

TEST_CASE("engine smoke: 4-level paging maps a 1 GiB page in the kernel half", "[x86][engine]") {
  Caps c{};
  c.page1g = true;
  smoke<Long4>({c, 0xffff'8000'4000'0000ULL, 0x8000'0000, GiB, L::Pdpt, attrs::rw});
  // Without Page1GB the same range uses 2 MiB pages.
  smoke<Long4>({Caps{}, 0x0000'0000'4020'0000ULL, 0x8020'0000, 2 * MiB, L::Pd, attrs::rx});
}

TEST_CASE("engine smoke: 5-level paging maps a 1 GiB page above the 48-bit range", "[x86][engine]") {
  Caps c{};
  c.page1g = true;
  c.pat = true;
  smoke<Long5>({c, 0xff00'0000'4000'0000ULL, 0x1'4000'0000ULL, GiB, L::Pdpt,
                Attrs{Perm::read | Perm::write, MemType::wc}});
  smoke<Long5>({c, 0x0000'8000'0000'0000ULL, 0x4000'0000, GiB, L::Pdpt, Attrs{Perm::read | Perm::user}});
}
