// The boot headers (<isa>_boot.hpp): address-space layouts checked against their formats,
// placements with their two offsets (linear map vs kernel image), a kernel's tables built from a
// placement, and known-answer values of the translation registers (satp; TTBR0/1_EL1, TCR_EL1,
// MAIR_EL1; CR3, CR4, EFER, CR0; ARMv7 LPAE TTBR0/1, TTBCR, MAIR0/1), each worked out by hand
// from the manual cited next to it.
#include <ptlib/arm64_boot.hpp>
#include <ptlib/armv7_boot.hpp>
#include <ptlib/layout.hpp>
#include <ptlib/maps.hpp>
#include <ptlib/riscv_boot.hpp>
#include <ptlib/x86_boot.hpp>

#include "support.hpp"

using namespace ptlib;
using test::Memory;

namespace {

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;

/// Whether `r` is inside F's VA range, worked out without Geometry::va_in_range: sign-extended
/// formats need both ends canonical and in the same half; TTBR0 ranges end below 2^va_bits;
/// TTBR1 ranges start at 2^input - 2^va_bits; clipped ARMv7 regions stay in [start, end).
template <class F>
bool inside(const Region& r) {
  if (r.empty()) return true;
  const unsigned va = Geometry<F>::kVaBits;
  const std::uint64_t first = r.base.value, last = r.last().value;
  if (last < first) return false;
  if constexpr (requires { F::kVaStart; }) {
    if (first < F::kVaStart || last >= F::kVaEnd) return false;
  }
  if constexpr (F::kVaRule == VaRule::sign_extend) {
    auto canonical = [&](std::uint64_t v) {
      const std::uint64_t top = v >> (va - 1);
      return top == 0 || top == (~std::uint64_t{0} >> (va - 1));
    };
    return canonical(first) && canonical(last) && (first >> 63) == (last >> 63);
  } else if constexpr (F::kVaRule == VaRule::low) {
    return last < (std::uint64_t{1} << va);
  } else {
    const std::uint64_t lo = F::kInputBits == 64 ? ~std::uint64_t{0} << va : (std::uint64_t{1} << 32) - (std::uint64_t{1} << va);
    return first >= lo && (F::kInputBits == 64 || last < (std::uint64_t{1} << 32));
  }
}

/// One layout and the formats that translate its user range, linear map and the rest.
struct LayoutCase {
  const Layout* layout;
  bool (*user_ok)(const Region&);
  bool (*linear_ok)(const Region&);
  bool (*kernel_ok)(const Region&);
  Result<void> (*check)(const Layout&);
};

template <class U, class K = U, class L = K>
LayoutCase make_case(const Layout& l) {
  return {&l, &inside<U>, &inside<L>, &inside<K>, &check_layout<U, K, L>};
}

std::vector<LayoutCase> all_layouts() {
  using namespace arm64;
  using A4lo = Vmsa<Granule::k4K, 48>;
  using A4hi = Vmsa<Granule::k4K, 48, VaRule::high>;
  using A64lo = Vmsa<Granule::k64K, 52>;
  using A64hi = Vmsa<Granule::k64K, 52, VaRule::high>;
  using A4lo52 = Vmsa<Granule::k4K, 52>;
  using A4hi52 = Vmsa<Granule::k4K, 52, VaRule::high>;
  using V3g = armv7::SplitFormats<0, 2>;
  using V4g = armv7::SplitFormats<0, 4>;
  return {make_case<riscv::Sv32>(riscv::kLayoutSv32),
          make_case<riscv::Sv39>(riscv::kLayoutSv39),
          make_case<riscv::Sv48>(riscv::kLayoutSv48),
          make_case<riscv::Sv57>(riscv::kLayoutSv57),
          make_case<A4lo, A4hi>(arm64::kLayout48),
          make_case<A64lo, A64hi>(arm64::kLayout52),
          make_case<A4lo52, A4hi52>(arm64::kLayout52),
          make_case<x86::Long4>(x86::kLayoutLong4),
          make_case<x86::Long5>(x86::kLayoutLong5),
          make_case<x86::X86_32>(x86::kLayout32),
          make_case<x86::Pae>(x86::kLayout32),
          make_case<V3g::Ttbr0, V3g::Ttbr1>(armv7::kLayout3g),
          make_case<V4g::Ttbr0, V4g::Ttbr1, V4g::Ttbr0>(armv7::kLayout4g4g)};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Layouts

TEST_CASE("every region of every layout lies inside the VA range of the format that maps it", "[layouts]") {
  for (const auto& c : all_layouts()) {
    const Layout& l = *c.layout;
    INFO(l.name);
    CHECK(c.user_ok(l.user));
    CHECK(c.linear_ok(l.linear));
    CHECK(c.kernel_ok(l.vmalloc));
    CHECK(c.kernel_ok(l.image_window));
    CHECK(c.kernel_ok(l.fixmap));
    CHECK(c.check(l).ok());
  }
}

TEST_CASE("the regions of every layout are disjoint", "[layouts]") {
  for (const auto& c : all_layouts()) {
    const Layout& l = *c.layout;
    INFO(l.name);
    const Region distinct[] = {l.linear, l.vmalloc, l.fixmap};
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t j = i + 1; j < 3; ++j) CHECK_FALSE(distinct[i].overlaps(distinct[j]));
      if (!(l.user_separate && i == 0)) CHECK_FALSE(l.user.overlaps(distinct[i]));
    }
    CHECK_FALSE(l.user.empty());
    CHECK_FALSE(l.linear.empty());
  }
}

TEST_CASE("the image window is the last module_reach bytes of vmalloc, 2 GiB on 64-bit layouts", "[layouts]") {
  for (const auto& c : all_layouts()) {
    const Layout& l = *c.layout;
    INFO(l.name);
    if (l.image_window.empty()) {
      CHECK(l.module_reach == 0);
      continue;
    }
    CHECK(l.vmalloc.contains(l.image_window));
    CHECK(l.image_window.last() == l.vmalloc.last());
    CHECK(l.image_window.size == l.module_reach);
    CHECK(l.image_window.base.value + 2 * GiB >= l.vmalloc.last().value + 1);  // within 2 GiB of the end
    if (l.user.last().value >= (std::uint64_t{1} << 32)) CHECK(l.module_reach == 2 * GiB);
  }
  CHECK(riscv::kLayoutSv39.image_window.base == VirtAddr(0xffff'ffd5'8000'0000ULL));
  CHECK(armv7::kLayout4g4g.module_reach == 32 * MiB);
}

TEST_CASE("check_layout reports a region outside the format's range, and overlaps", "[layouts]") {
  Layout l = riscv::kLayoutSv39;
  l.fixmap.base = VirtAddr(0x0000'8000'0000'0000ULL);  // non-canonical for Sv39
  auto r = check_layout<riscv::Sv39>(l);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::va_non_canonical);
  CHECK(r.error().va == l.fixmap.base);
  l = riscv::kLayoutSv39;
  l.fixmap = Region{l.vmalloc.base + 4096, 4096};
  r = check_layout<riscv::Sv39>(l);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::overlap);
  l = riscv::kLayoutSv39;
  l.image_window.base = l.image_window.base - 4096;  // no longer ends where vmalloc ends
  CHECK(check_layout<riscv::Sv39>(l).error().code == Errc::misaligned_va);
  // The 4G/4G layout's lowmem is in TTBR0: checking it against the TTBR1 format fails.
  using V4g = armv7::SplitFormats<0, 4>;
  CHECK(check_layout<V4g::Ttbr0, V4g::Ttbr1>(armv7::kLayout4g4g).error().code == Errc::va_out_of_range);
}

// ---------------------------------------------------------------------------------------------
// Placement: va_pa_offset and va_kernel_pa_offset

TEST_CASE("a placement picks the linear offset for the linear map and the image offset for the image",
          "[layouts][placement]") {
  // 8 GiB of RAM at 0x8000_0000, a 30 MiB image loaded 2 MiB in (setup_vm() of
  // Alexandre Ghiti's patch "riscv: Move kernel mapping outside of linear mapping" (linux-riscv, 2020; in Linux since 5.13)).
  auto p = place(riscv::kLayoutSv39, PhysAddr(0x8000'0000), 8 * GiB, PhysAddr(0x8020'0000), 30 * MiB);
  REQUIRE(p.ok());
  CHECK(p->va_pa_offset == 0xffff'ffd6'0000'0000ULL - 0x8000'0000);
  CHECK(p->image_va == VirtAddr(0xffff'ffd5'8000'0000ULL));
  CHECK(p->va_kernel_pa_offset == 0xffff'ffd5'8000'0000ULL - 0x8020'0000);
  CHECK(p->va_kernel_pa_offset != p->va_pa_offset);
  // The same physical byte, through either map.
  const PhysAddr pa(0x8020'1234);
  auto lin = p->phys_to_virt(pa);
  auto img = p->image_virt(pa);
  REQUIRE(lin.ok());
  REQUIRE(img.ok());
  CHECK(*lin == VirtAddr(0xffff'ffd6'0020'1234ULL));
  CHECK(*img == VirtAddr(0xffff'ffd5'8000'1234ULL));
  CHECK(*p->virt_to_phys(*lin) == pa);
  CHECK(*p->virt_to_phys(*img) == pa);
  // Round trips over RAM and over the image.
  for (std::uint64_t off = 0; off < 8 * GiB; off += 97 * MiB + 4096) {
    const PhysAddr x(0x8000'0000 + off);
    CHECK(*p->virt_to_phys(*p->phys_to_virt(x)) == x);
  }
  for (std::uint64_t off = 0; off < 30 * MiB; off += 3 * MiB + 8) {
    const PhysAddr x(0x8020'0000 + off);
    CHECK(*p->virt_to_phys(*p->image_virt(x)) == x);
  }
  // Outside both: past the image, past RAM, in vmalloc.
  CHECK(p->virt_to_phys(p->image_va + 30 * MiB).error().code == Errc::not_mapped);
  CHECK(p->virt_to_phys(VirtAddr(0xffff'ffd6'0000'0000ULL + 8 * GiB)).error().code == Errc::not_mapped);
  CHECK(p->virt_to_phys(riscv::kLayoutSv39.vmalloc.base).error().code == Errc::not_mapped);
  CHECK(p->phys_to_virt(PhysAddr(0x7fff'f000)).error().code == Errc::not_mapped);
}

TEST_CASE("modules fit after the image and stay within 2 GiB of every image byte", "[layouts][placement]") {
  for (const Layout* l : {&riscv::kLayoutSv48, &arm64::kLayout48, &x86::kLayoutLong5, &armv7::kLayout4g4g}) {
    INFO(l->name);
    const std::uint64_t image = 24 * MiB + 100;
    auto p = place(*l, PhysAddr(0x8000'0000), 512 * MiB, PhysAddr(0x8100'0000), image);
    REQUIRE(p.ok());
    const Region mod = p->modules();
    REQUIRE_FALSE(mod.empty());
    CHECK(mod.base.value >= p->image_va.value + image);
    CHECK(mod.base.aligned(4096));
    CHECK(mod.last() == l->image_window.last());
    // The farthest pair: the image's first byte and the modules' last byte.
    CHECK(mod.last().value - p->image_va.value < l->module_reach);
  }
}

TEST_CASE("a layout with the image in the linear map uses one offset for both", "[layouts][placement]") {
  for (const Layout* l : {&riscv::kLayoutSv32, &x86::kLayout32, &armv7::kLayout3g}) {
    INFO(l->name);
    auto p = place(*l, PhysAddr(0x4000'0000), 512 * MiB, PhysAddr(0x4010'0000), 8 * MiB);
    REQUIRE(p.ok());
    CHECK(p->va_kernel_pa_offset == p->va_pa_offset);
    CHECK(p->image_va == l->linear.base + 0x10'0000);
    CHECK(p->modules().empty());
    CHECK(*p->virt_to_phys(p->image_va + 5) == PhysAddr(0x4010'0005));
  }
}

TEST_CASE("32-bit ARM with more RAM than lowmem: the lowmem window is the linear map, the rest is highmem",
          "[layouts][placement][highmem]") {
  // Linux's 3G/1G split on ARM: lowmem ends at 0xf0000000 (VMALLOC_END - 240 MiB of vmalloc -
  // 8 MiB gap), so at most 768 MiB of RAM is in the linear map; the rest is highmem, not mapped.
  const Layout& l = armv7::kLayout3g;
  REQUIRE(l.highmem);
  const std::uint64_t ram = 2 * GiB;
  auto p = place(l, PhysAddr(0x8000'0000), ram, PhysAddr(0x8000'8000), 8 * MiB);
  REQUIRE(p.ok());
  CHECK(p->ram_size == l.linear.size);
  CHECK(p->ram_size + p->highmem_size == ram);
  CHECK(l.linear.base.value + l.linear.size == 0xf000'0000);
  // The last lowmem byte translates; the first highmem byte has no linear address.
  CHECK(*p->phys_to_virt(PhysAddr(0x8000'0000 + p->ram_size - 1)) == VirtAddr(0xefff'ffff));
  CHECK_FALSE(p->phys_to_virt(PhysAddr(0x8000'0000 + p->ram_size)).ok());
  // A layout without highmem still refuses RAM larger than its linear map.
  auto big = place(riscv::kLayoutSv39, PhysAddr(0x8000'0000), 129 * GiB, PhysAddr(0x8020'0000), MiB);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == Errc::va_out_of_range);
}

TEST_CASE("a placement refuses RAM or an image that does not fit its layout", "[layouts][placement]") {
  auto big = place(riscv::kLayoutSv39, PhysAddr(0x8000'0000), 129 * GiB, PhysAddr(0x8020'0000), MiB);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == Errc::va_out_of_range);
  auto huge = place(riscv::kLayoutSv39, PhysAddr(0x8000'0000), GiB, PhysAddr(0x8020'0000), 2 * GiB + 4096);
  CHECK(huge.error().code == Errc::va_out_of_range);
  auto outside = place(x86::kLayout32, PhysAddr(0), 256 * MiB, PhysAddr(0x2000'0000), MiB);
  CHECK(outside.error().code == Errc::pa_out_of_range);
  auto odd = place(riscv::kLayoutSv39, PhysAddr(0x8000'0000), GiB, PhysAddr(0x8020'0800), MiB);
  CHECK(odd.error().code == Errc::misaligned_pa);
  CHECK(place(riscv::kLayoutSv39, PhysAddr(0x8000'0000), 0, PhysAddr(0x8020'0000), MiB).error().code == Errc::zero_size);
}

TEST_CASE("tables built from a placement translate every address as virt_to_phys says", "[layouts][placement]") {
  // setup_vm_final() of the RISC-V kernel-mapping patch on ptlib: the linear map of every bank (rw, no exec), then the
  // image (text r-x, rodata r--, data rw-) at its own address in the vmalloc range.
  using F = riscv::Sv48;
  const Layout& l = riscv::layout<F>();
  auto p = place(l, PhysAddr(0x8000'0000), 4 * GiB, PhysAddr(0x8020'0000), 8 * MiB);
  REQUIRE(p.ok());
  Memory m;
  auto t = make_tree<F>(m.arena);
  REQUIRE(t.ok());
  const Bank banks[] = {{PhysAddr(0x8000'0000), 2 * GiB}, {PhysAddr(0x1'0000'0000), 2 * GiB}};
  REQUIRE(map_linear(*t, m.arena, std::span<const Bank>(banks), p->va_pa_offset).ok());
  const Section secs[] = {{".text", 0, 4 * MiB, SectionKind::text},
                          {".rodata", 4 * MiB, 2 * MiB, SectionKind::rodata},
                          {".data", 6 * MiB, 2 * MiB, SectionKind::data}};
  REQUIRE(map_image(*t, m.arena, p->image_va, p->load_pa, std::span<const Section>(secs)).ok());
  for (std::uint64_t off : {std::uint64_t{0}, std::uint64_t{0x1234}, 2 * MiB + 8, 5 * MiB, 8 * MiB - 8}) {
    const VirtAddr va = p->image_va + off;
    auto x = translate(*t, m.arena, va);
    REQUIRE(x.ok());
    CHECK(x->pa == *p->virt_to_phys(va));
  }
  for (std::uint64_t pa : {0x8000'0000ULL, 0x8020'0000ULL, 0xffff'f000ULL, 0x1'2345'6000ULL}) {
    const VirtAddr va = *p->phys_to_virt(PhysAddr(pa));
    auto x = translate(*t, m.arena, va);
    REQUIRE(x.ok());
    CHECK(x->pa == PhysAddr(pa));
    CHECK(x->leaf.size == GiB);  // the image is not in the linear map, which keeps its gigapages
    CHECK_FALSE(x->leaf.attrs.exec());
  }
  CHECK(translate(*t, m.arena, p->image_va)->leaf.attrs.exec());
}

// ---------------------------------------------------------------------------------------------
// RISC-V satp (priv 4.1.11: RV64 MODE [63:60], ASID [59:44], PPN [43:0]; RV32 MODE [31],
// ASID [30:22], PPN [21:0]; Table 4.4: Sv32 = 1, Sv39 = 8, Sv48 = 9, Sv57 = 10)

TEST_CASE("satp holds MODE, ASID and the root's PPN", "[regs][riscv]") {
  // Sv39, root 0x8020_0000, ASID 0: MODE 8 << 60 | PPN 0x80200.
  CHECK(*riscv::satp(Tree<riscv::Sv39>{PhysAddr(0x8020'0000)}) == 0x8000'0000'0008'0200ULL);
  // Sv48, root 0x8040_0000, ASID 5: 9 << 60 | 5 << 44 | 0x80400.
  CHECK(*riscv::satp(Tree<riscv::Sv48>{PhysAddr(0x8040'0000)}, 5) == 0x9000'5000'0008'0400ULL);
  // Sv57, root 0x1000, ASID 0xffff: 10 << 60 | 0xffff << 44 | 1.
  CHECK(*riscv::satp(Tree<riscv::Sv57>{PhysAddr(0x1000)}, 0xffff) == 0xafff'f000'0000'0001ULL);
  // Sv32, root 0x8000_1000, ASID 1: 1 << 31 | 1 << 22 | 0x80001, a 32-bit value.
  const std::uint32_t s32 = *riscv::satp(Tree<riscv::Sv32>{PhysAddr(0x8000'1000)}, 1);
  CHECK(s32 == 0x8048'0001U);
  // Sv32 reaches a 34-bit root (PPN 22 bits).
  CHECK(*riscv::satp(Tree<riscv::Sv32>{PhysAddr(0x3'ffff'f000)}) == 0x803f'ffffU);
}

TEST_CASE("satp refuses a misaligned root, a root beyond the PPN and a too-wide ASID", "[regs][riscv]") {
  CHECK(riscv::satp(Tree<riscv::Sv39>{PhysAddr(0x8020'0800)}).error().code == Errc::misaligned_table);
  CHECK(riscv::satp(Tree<riscv::Sv32>{PhysAddr(0x4'0000'0000)}).error().code == Errc::pa_out_of_range);
  CHECK(riscv::satp(Tree<riscv::Sv39>{PhysAddr(1ULL << 56)}).error().code == Errc::pa_out_of_range);
  CHECK(riscv::satp(Tree<riscv::Sv39>{PhysAddr(0x8000'0000)}, 0x1'0000).error().code == Errc::field_out_of_range);
  CHECK(riscv::satp(Tree<riscv::Sv32>{PhysAddr(0x8000'0000)}, 0x200).error().code == Errc::field_out_of_range);
  CHECK(riscv::satp(Tree<riscv::Sv32>{PhysAddr(0x8000'0000)}, 0x1ff).ok());
}

// ---------------------------------------------------------------------------------------------
// arm64 (Arm ARM DDI 0487K.a D19.2: TTBRn_EL1, TCR_EL1, MAIR_EL1)

TEST_CASE("TTBRn_EL1 holds the root, the ASID, and BADDR[51:48] in bits [5:2] with 52-bit PAs", "[regs][arm64]") {
  using namespace arm64;
  // 48-bit PA: BADDR[47:1] = the root; ASID 0x12 in [63:48].
  CHECK(*ttbr(Tree<Vmsa4k48>{PhysAddr(0x4000'0000)}, 0x12) == 0x0012'0000'4000'0000ULL);
  CHECK(*ttbr(Tree<Vmsa4k48>{PhysAddr(0x4000'0000)}, 0, true) == 0x4000'0001ULL);  // CnP
  // FEAT_LPA, 64KB granule: root 0x000a_0000_4001_0000 -> bits [5:2] = 0xa, i.e. 0x28.
  CHECK(*ttbr(Tree<Vmsa64k52>{PhysAddr(0x000a'0000'4001'0000ULL)}) == 0x0000'0000'4001'0028ULL);
  // FEAT_LPA2, 4KB granule: the 16-entry L-1 root (128 bytes) at 0x0003_0000_8000_0080.
  CHECK(*ttbr(Tree<Vmsa4k52>{PhysAddr(0x0003'0000'8000'0080ULL)}, 7) == 0x0007'0000'8000'008cULL);
  CHECK(ttbr(Tree<Vmsa4k52>{PhysAddr(0x8000'0040)}).error().code == Errc::misaligned_table);
  CHECK(ttbr(Tree<Vmsa4k48>{PhysAddr(1ULL << 48)}).error().code == Errc::pa_out_of_range);
  CHECK(ttbr(Tree<Vmsa4k48>{PhysAddr(0x4000'0000)}, 0x1'0000).error().code == Errc::field_out_of_range);
}

TEST_CASE("TCR_EL1 for a 4KB 48-bit split space", "[regs][arm64]") {
  using namespace arm64;
  using S = Split<Granule::k4K, 48>;
  // T0SZ = T1SZ = 16; IRGNn = ORGNn = 0b01 (WBWA); SHn = 0b11; TG0 = 0b00 (4KB), TG1 = 0b10 (4KB);
  // IPS = 0b101 (48 bits); AS = 1:
  //   0x10 | 1 << 8 | 1 << 10 | 3 << 12                      = 0x0000_3510
  //   0x10 << 16 | 1 << 24 | 1 << 26 | 3 << 28 | 2 << 30     = 0xb510_0000
  //   5 << 32 | 1 << 36                                      = 0x15_0000_0000
  CHECK(*tcr_el1<S::LowFormat, S::HighFormat>() == 0x0000'0015'b510'3510ULL);
  // TTBR0 only: EPD1 (bit 23) set, T1SZ/TG1 copied from TTBR0's format.
  CHECK(*tcr_el1<Vmsa4k48>() == 0x0000'0015'b590'3510ULL);
  // 39-bit VA (T0SZ = T1SZ = 25 = 0x19).
  CHECK(*tcr_el1<Vmsa4k39, Vmsa<Granule::k4K, 39, VaRule::high>>() == 0x0000'0015'b519'3519ULL);
  // 8-bit ASIDs from TTBR1, 40-bit IPS (0b010): AS = 0, A1 = 1 (bit 22).
  TcrOptions o;
  o.asid16 = false;
  o.asid_in_ttbr1 = true;
  o.pa_bits = 40;
  CHECK(*tcr_el1<S::LowFormat, S::HighFormat>(o) == 0x0000'0002'b550'3510ULL);
}

TEST_CASE("TCR_EL1 for 16KB, 64KB-LPA and 4KB-LPA2 granules", "[regs][arm64]") {
  using namespace arm64;
  // 16KB, 48 bits: TG0 = 0b10 (<< 14 = 0x8000), TG1 = 0b01 (<< 30).
  using S16 = Split<Granule::k16K, 48>;
  CHECK(*tcr_el1<S16::LowFormat, S16::HighFormat>() == 0x0000'0015'7510'b510ULL);
  // 64KB, 52 bits (FEAT_LVA + FEAT_LPA): TxSZ = 12, TG0 = 0b01, TG1 = 0b11, IPS = 0b110, DS = 0.
  using S64 = Split<Granule::k64K, 52>;
  CHECK(*tcr_el1<S64::LowFormat, S64::HighFormat>() == 0x0000'0016'f50c'750cULL);
  // 4KB, 52 bits (FEAT_LPA2): TxSZ = 12, IPS = 0b110, DS = 1 (bit 59).
  using S4 = Split<Granule::k4K, 52>;
  CHECK(*tcr_el1<S4::LowFormat, S4::HighFormat>() == 0x0800'0016'b50c'350cULL);
}

TEST_CASE("TCR_EL1 refuses what its formats cannot take", "[regs][arm64]") {
  using namespace arm64;
  using S = Split<Granule::k4K, 48>;
  TcrOptions o;
  o.pa_bits = 52;  // beyond the 48-bit output of the formats
  CHECK(tcr_el1<S::LowFormat, S::HighFormat>(o).error().code == Errc::pa_out_of_range);
  o.pa_bits = 45;  // no IPS encoding
  CHECK(tcr_el1<S::LowFormat, S::HighFormat>(o).error().code == Errc::field_out_of_range);
  using S4 = Split<Granule::k4K, 52>;
  TcrOptions outer;
  outer.walk1.share = Shareability::outer;  // with DS = 1, SH1 is the blocks' shareability too
  CHECK(tcr_el1<S4::LowFormat, S4::HighFormat>(outer).error().code == Errc::unsupported_attrs);
  CHECK(tcr_el1<S::LowFormat, S::HighFormat>(outer).ok());
}

TEST_CASE("the arm64 registers of a split space", "[regs][arm64]") {
  using namespace arm64;
  using S = Split<Granule::k4K, 48>;
  Memory m;
  auto s = make_split<S::LowFormat, S::HighFormat>(m.arena);
  REQUIRE(s.ok());
  auto r = split_regs(*s, 3);
  REQUIRE(r.ok());
  CHECK(r->ttbr0 == (s->low.root.value | 3ULL << 48));
  CHECK(r->ttbr1 == s->high.root.value);
  CHECK(r->tcr == 0x0000'0015'b510'3510ULL);
  // MAIR_EL1: Attr0 = 0xff (Normal WB), Attr1 = 0x44 (Normal NC), Attr2 = 0x04 (Device-nGnRE).
  CHECK(r->mair == 0x0000'0000'0004'44ffULL);
  TcrOptions narrow;
  narrow.asid16 = false;
  CHECK(split_regs(*s, 0x100, narrow).error().code == Errc::field_out_of_range);
}

// ---------------------------------------------------------------------------------------------
// x86 (SDM vol. 3A: Tables 4-3, 4-7, 4-12, 4-13 for CR3; 2.5 for CR0/CR4; 2.2.1 for EFER)

TEST_CASE("CR3 holds the root with PWT/PCD, or a PCID", "[regs][x86]") {
  using namespace x86;
  CHECK(*cr3(Tree<Long4>{PhysAddr(0x1000'0000)}) == 0x1000'0000ULL);
  Cr3Options pcd;
  pcd.pcd = true;
  CHECK(*cr3(Tree<Long4>{PhysAddr(0x1000'0000)}, pcd) == 0x1000'0010ULL);  // PCD = bit 4
  Cr3Options pwt;
  pwt.pwt = true;
  CHECK(*cr3(Tree<X86_32>{PhysAddr(0x0040'0000)}, pwt) == 0x0040'0008ULL);  // PWT = bit 3
  Cr3Options pcid;
  pcid.pcid = 0x123;
  CHECK(*cr3(Tree<Long5>{PhysAddr(0x1000'0000)}, pcid) == 0x1000'0123ULL);
  pcid.no_flush = true;
  CHECK(*cr3(Tree<Long4>{PhysAddr(0x1000'0000)}, pcid) == 0x8000'0000'1000'0123ULL);
  // PAE: a 32-byte aligned PDPT below 4 GiB, bits [31:5].
  CHECK(*cr3(Tree<Pae>{PhysAddr(0x0123'4560)}) == 0x0123'4560ULL);
}

TEST_CASE("CR3 refuses misaligned or unreachable roots and bad PCIDs", "[regs][x86]") {
  using namespace x86;
  CHECK(cr3(Tree<Long4>{PhysAddr(0x1000'0800)}).error().code == Errc::misaligned_table);
  CHECK(cr3(Tree<Pae>{PhysAddr(0x0123'4550)}).error().code == Errc::misaligned_table);
  CHECK(cr3(Tree<Pae>{PhysAddr(0x1'0000'0000)}).error().code == Errc::pa_out_of_range);
  CHECK(cr3(Tree<X86_32>{PhysAddr(0x1'0000'0000)}).error().code == Errc::pa_out_of_range);
  Cr3Options wide;
  wide.pcid = 0x1000;
  CHECK(cr3(Tree<Long4>{PhysAddr(0x1000)}, wide).error().code == Errc::field_out_of_range);
  Cr3Options legacy;
  legacy.pcid = 1;
  CHECK(cr3(Tree<Pae>{PhysAddr(0x1000)}, legacy).error().code == Errc::field_out_of_range);
  Cr3Options noflush;
  noflush.no_flush = true;
  CHECK(cr3(Tree<Long4>{PhysAddr(0x1000)}, noflush).error().code == Errc::field_out_of_range);
}

TEST_CASE("CR4, EFER and CR0 bits select the paging mode", "[regs][x86]") {
  using namespace x86;
  // PAE = bit 5, PGE = bit 7, LA57 = bit 12: 0x10a0; clear PSE (bit 4) and PCIDE (bit 17).
  CHECK(*cr4<Long5>() == ControlBits{0x10a0, 0x20010});
  Cr4Options pcid;
  pcid.pcide = true;
  CHECK(cr4<Long4>({}, pcid)->set == 0x200a0);
  Caps pse;
  pse.pse = true;
  CHECK(cr4<X86_32>(pse)->set == 0x90);  // PSE | PGE
  CHECK(cr4<Pae>()->set == 0xa0);
  CHECK(cr4<Pae>()->clear == 0x21010);  // PSE | LA57 | PCIDE
  CHECK(cr4<X86_32>({}, pcid).error().code == Errc::field_out_of_range);
  // IA32_EFER: LME = bit 8, NXE = bit 11.
  CHECK(efer<Long4>() == ControlBits{0x900, 0});
  CHECK(efer<Pae>() == ControlBits{0x800, 0x100});
  CHECK(efer<X86_32>() == ControlBits{0, 0x900});
  Caps no_nx;
  no_nx.nx = false;
  CHECK(efer<Long4>(no_nx).set == 0x100);
  CHECK(kCr0.set == 0x8001'0001ULL);  // PG | WP | PE
  CHECK(cr4<Long4>()->apply(0xffff'ffff) == ((0xffff'ffffULL & ~0x21010ULL) | 0xa0));
}

// ---------------------------------------------------------------------------------------------
// ARMv7 LPAE (ARM ARM v7 B4.1.153 TTBCR, B4.1.154/155 TTBR0/TTBR1, B4.1.104 MAIR0/MAIR1)

TEST_CASE("TTBCR for the 3840/256 MiB and 3G/1G splits", "[regs][armv7]") {
  using namespace armv7;
  using S4 = SplitFormats<0, 4>;
  // EAE (bit 31) | T1SZ 4 << 16 | SH1 3 << 28 | ORGN1 1 << 26 | IRGN1 1 << 24 | SH0 3 << 12 |
  // ORGN0 1 << 10 | IRGN0 1 << 8 = 0x8000_0000 + 0x3500_0000 + 0x0004_0000 + 0x3500.
  CHECK(ttbcr<S4::Ttbr0, S4::Ttbr1>() == 0xb504'3500U);
  // Linux's VMSPLIT_3G with LPAE: T0SZ = 0, T1SZ = 2.
  using S2 = SplitFormats<0, 2>;
  CHECK(ttbcr<S2::Ttbr0, S2::Ttbr1>() == 0xb502'3500U);
  // T0SZ = 2, T1SZ = 0.
  using S20 = SplitFormats<2, 0>;
  CHECK(ttbcr<S20::Ttbr0, S20::Ttbr1>() == 0xb500'3502U);
  // TTBR0 only (Lpae32): EPD1 (bit 23).
  CHECK(ttbcr<Lpae32>() == 0xb580'3500U);
  TtbcrOptions nc;
  nc.walk0 = WalkAttrs{Cacheability::non_cacheable, Cacheability::non_cacheable, Shareability::non};
  nc.asid_in_ttbr1 = true;
  CHECK(ttbcr<S4::Ttbr0, S4::Ttbr1>(nc) == 0xb544'0000U);
}

TEST_CASE("ARMv7 TTBRs hold BADDR[39:x] and the ASID in [55:48]", "[regs][armv7]") {
  using namespace armv7;
  using S4 = SplitFormats<0, 4>;
  // TTBR0 with T0SZ = 0: x = 5 (a 32-byte aligned, 4-entry first-level table).
  CHECK(*ttbr(Tree<S4::Ttbr0>{PhysAddr(0x8000'0020)}, 0x42) == 0x0042'0000'8000'0020ULL);
  // TTBR1 with T1SZ = 4: lookup starts at the second level, x = 14 - 4 = 10 (1 KiB).
  CHECK(*ttbr(Tree<S4::Ttbr1>{PhysAddr(0xff'8000'0400ULL)}) == 0x0000'00ff'8000'0400ULL);
  CHECK(ttbr(Tree<S4::Ttbr1>{PhysAddr(0x8000'0200)}).error().code == Errc::misaligned_table);
  CHECK(ttbr(Tree<S4::Ttbr0>{PhysAddr(0x100'0000'0000ULL)}).error().code == Errc::pa_out_of_range);
  CHECK(ttbr(Tree<S4::Ttbr0>{PhysAddr(0x8000'0000)}, 0x100).error().code == Errc::field_out_of_range);
}

TEST_CASE("the ARMv7 registers of a 3840/256 MiB split space", "[regs][armv7]") {
  using namespace armv7;
  Memory m;
  auto s = make_split<SplitFormats<0, 4>::Ttbr0, SplitFormats<0, 4>::Ttbr1>(m.arena);
  REQUIRE(s.ok());
  auto r = split_regs(*s, 9);
  REQUIRE(r.ok());
  CHECK(r->ttbr0 == (s->low.root.value | 9ULL << 48));
  CHECK(r->ttbr1 == s->high.root.value);
  CHECK(r->ttbcr == 0xb504'3500U);
  // MAIR0: Attr0 0xff, Attr1 0x44, Attr2 0x04 (B4.1.104).
  CHECK(r->mair0 == 0x0004'44ffU);
  CHECK(r->mair1 == 0U);
}
