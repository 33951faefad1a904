// arm64 demo kernel (EL1, QEMU virt): the hooks demo/common/boot.hpp needs, for a format fixed at
// build time (-DGRANULE_KB=4|16|64 -DVA_BITS=39..52) or chosen at boot from the ID registers
// (-DSELECT=1, arch/ptlib/select.hpp; -DSELECT_EXPECT="<format>" is what the CPU must get).
// -DDEMO_TEST_NAME is the name in the verdict line. Address space: demo::Split, TTBR0_EL1 for the
// low half (phase 1's identity map, then an empty user tree) and TTBR1_EL1 for the kernel half
// (linear map of RAM, the image at the layout's image VA, the UART at the fixmap).
//
// Sources: Arm ARM DDI 0487K.a (see <ptlib/cpu/arm64.hpp> for the instructions and registers); layouts: ptlib's
// arm64::layout<48|52>() (Documentation/arch/arm64/memory.rst), demo_layout() below for smaller
// VAs; QEMU hw/arm/virt.c memory map (RAM at 0x40000000, PL011 UART0 at 0x09000000).
#include <array>
#include <cstddef>
#include <cstdint>

#include <ptlib/arm64_boot.hpp>
#include <ptlib/select.hpp>

#include "boot.hpp"
#include "downgrade.hpp"
#include "cpu.hpp"

using namespace demo::arm64;
namespace cpu = ptlib::arm64::cpu;

#ifndef DEMO_TEST_NAME
#error "DEMO_TEST_NAME (the verdict's name) is set by demo/arm64/meson.build"
#endif
#ifndef SELECT
#define SELECT 0
#endif

namespace {

using ptlib::Layout;
using ptlib::Perm;
using ptlib::Region;
using ptlib::VirtAddr;

/// Layouts: ptlib's for 48- and 52-bit VAs. For smaller VAs (39, 42, 47) the same plan scaled
/// down: the linear map in the lower half of the TTBR1 range, vmalloc above it ending 1 GiB below
/// the top with the image window as its last 2 GiB, the fixmap in the top 256 MiB.
template <unsigned VaBits>
constexpr Layout demo_layout() {
  if constexpr (VaBits == 48 || VaBits == 52) {
    return ptlib::arm64::layout<VaBits>();
  } else {
    constexpr u64 half = u64{1} << (VaBits - 1);
    constexpr u64 base = ~u64{0} - (u64{1} << VaBits) + 1;  // 2^64 - 2^VaBits
    constexpr u64 vmalloc_end = ~u64{0} - (1ULL << 30) + 1;  // 2^64 - 1 GiB
    return Layout{"arm64-demo-small",
                  Region{VirtAddr(0), u64{1} << VaBits},
                  Region{VirtAddr(base), half},
                  Region{VirtAddr(base + half), vmalloc_end - (base + half)},
                  Region{VirtAddr(vmalloc_end - ptlib::arm64::kImageWindow), ptlib::arm64::kImageWindow},
                  Region{VirtAddr(~u64{0} - (256ULL << 20) + 1), 0x0e00'0000ULL},
                  ptlib::arm64::kImageWindow,
                  false};
  }
}

/// The TTBR1 format that goes with a TTBR0 format.
template <class Low>
using HighOf = ptlib::arm64::Vmsa<Low::kGranule, ptlib::Geometry<Low>::kVaBits, ptlib::VaRule::high, Low::kPaBits>;

/// ID_AA64MMFR0_EL1.PARange (Arm ARM D19.2) in bits; TCR_EL1.IPS never exceeds it.
constinit unsigned g_pa_bits = 48;

// The probe protocol with arm64_trap(): arm, access, disarm. A data or instruction abort while
// armed is recorded; the access is skipped (a fetch returns to the probe's caller).
constinit volatile bool g_armed = false, g_hit = false;
constinit volatile u64 g_esr = 0, g_far = 0;

void arm() {
  g_hit = false;
  g_armed = true;
  asm volatile("" ::: "memory");
}
demo::Probe disarm() {
  asm volatile("" ::: "memory");
  g_armed = false;
  if (!g_hit) return {};
  const demo::Access kind = esr_ec(g_esr) == kEcInsnAbortSameEl ? demo::Access::exec
                            : esr_write(g_esr)                  ? demo::Access::write
                                                                : demo::Access::read;
  return {kind, g_far};
}

template <class Low>
struct Hooks {
  using High = HighOf<Low>;
  using Caps = ptlib::arm64::Caps;
  static constexpr Layout kLayout = demo_layout<ptlib::Geometry<Low>::kVaBits>();
  static_assert(ptlib::check_layout<Low, High>(kLayout).ok());

  static const char* name() { return DEMO_TEST_NAME; }
  static const char* chosen() { return SELECT ? Low::kName : nullptr; }
  static constexpr const Layout& layout() { return kLayout; }
  static constexpr u64 kRamBase = 0x4000'0000, kRamSize = u64{RAM_MB} << 20;
  static constexpr u64 kLoadPa = LOAD_PA, kImageMax = 16ULL << 20;  // the SELECT kernel: ~9 MiB
  static constexpr std::array<demo::Device, 1> kDevices{{{kUartPa, 0x1000}}};  // dev(0): PL011 UART0

  static Caps caps() { return {}; }
  static ptlib::Attrs device_attrs(const Caps&) { return ptlib::attrs::device_rw; }

  /// MAIR_EL1, TCR_EL1, TTBR0_EL1, TTBR1_EL1 from ptlib (IPS capped at the CPU's PA range).
  static ptlib::Result<ptlib::arm64::SplitRegs> regs(const demo::Split<Low, High>& s) {
    ptlib::arm64::TcrOptions o{};
    o.pa_bits = g_pa_bits < Low::kPaBits ? g_pa_bits : Low::kPaBits;
    return ptlib::arm64::split_regs(s.trees, 0, o);
  }
  /// Phase 1: MMU on (cpu::enable_mmu). Phase 2 (already on, running at the image VA, which
  /// both spaces map the same way): new TTBR0/TTBR1 + TLB flush (cpu::switch_tables; its
  /// comment says what hardware needs beyond QEMU).
  static bool activate(const demo::Split<Low, High>& s) {
    auto r = regs(s);
    if (!r) return false;
    if (!(cpu::read_sctlr_el1() & cpu::kSctlrM)) return cpu::enable_mmu(*r).ok();
    cpu::switch_tables(*r);
    return cpu::read_tcr_el1() == r->tcr;
  }
  static std::size_t read_back(const demo::Split<Low, High>& s, demo::Reg* out) {
    auto r = regs(s);
    const ptlib::arm64::SplitRegs w = r ? *r : ptlib::arm64::SplitRegs{};
    out[0] = {"TTBR0_EL1 (ptlib::arm64::split_regs)", w.ttbr0, cpu::read_ttbr0_el1()};
    out[1] = {"TTBR1_EL1", w.ttbr1, cpu::read_ttbr1_el1()};
    out[2] = {"TCR_EL1", w.tcr, cpu::read_tcr_el1()};
    out[3] = {"MAIR_EL1", w.mair, cpu::read_mair_el1()};
    return 4;
  }

  using Sync = cpu::TlbSync<Low>;
  /// ASID 0: TTBR0_EL1's (split_regs with the default ASID, TCR_EL1.A1 = 0).
  static void flush_address_space() { cpu::invalidate_asid(0); }
  static void flush_page_in_address_space(std::uintptr_t va) { cpu::invalidate_va(va, 0); }

  [[noreturn]] static void continue_at(void (*fn)(), std::uintptr_t offset);
  static void on_high() {
    u64 vec;
    asm volatile("adr %0, vectors\n msr vbar_el1, %0\n isb" : "=r"(vec)::"memory");
  }

  static demo::Probe try_read(std::uintptr_t va, std::uintptr_t& value) {
    u64 v = 0;
    arm();
    asm volatile("ldr %0, [%1]" : "+r"(v) : "r"(va) : "memory");
    value = v;
    return disarm();
  }
  static demo::Probe try_write(std::uintptr_t va, std::uintptr_t value) {
    arm();
    asm volatile("str %0, [%1]" ::"r"(value), "r"(va) : "memory");
    return disarm();
  }
  static demo::Probe try_exec(std::uintptr_t va) {
    arm();
    asm volatile("blr %0" ::"r"(va)
                 : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
                   "x15", "x16", "x17", "x30", "memory");
    return disarm();
  }
  /// RET (Arm ARM C6.2.254: 0xd65f03c0), then D-cache clean + I-cache invalidate to PoU.
  static void write_return(std::uintptr_t va) {
    *reinterpret_cast<volatile std::uint32_t*>(va) = 0xd65f03c0U;
    asm volatile("dc cvau, %0\n dsb ish\n ic ivau, %0\n dsb ish\n isb" ::"r"(va) : "memory");
  }
  [[noreturn]] static void exit(bool pass) { exit_qemu(pass ? 0 : 1); }

  /// The CPU's own walk (AT S1E1R) agrees with ptlib's translate() of the final tables for
  /// text, rodata, data, the linear map and the UART.
  static void arch_checks(const demo::Split<Low, High>& s, const ptlib::Placement& p) {
    const ptlib::DirectAccess access(std::uintptr_t(p.va_pa_offset));
    const u64 probes[] = {p.image_va.value, p.image_va.value + (reinterpret_cast<u64>(demo::__rodata_start) -
                                                                reinterpret_cast<u64>(demo::__image_start)),
                          p.image_va.value + p.image_size - 8, p.linear_map().base.value,
                          p.linear_map().base.value + p.ram_size - 8, kLayout.fixmap.base.value};
    bool agree = true;
    for (u64 va : probes) {
      u64 hw = 0;
      auto t = s.translate(access, VirtAddr(va));
      agree = agree && t && cpu::translate_read(va, hw) && hw == t->pa.value;
    }
    demo::check(agree, "AT S1E1R (the CPU's walk) gives ptlib translate()'s PA: text, rodata, bss, linear map, UART");
    // TLB maintenance: a permission downgrade and an unmap that releases no table (scratch RAM in
    // the middle of RAM, away from the image and from Boot's tables at the top).
    demo::downgrade_check<Hooks>(s, p, kRamBase + kRamSize / 2, layout().vmalloc.base + (64ULL << 20));
  }
};

}  // namespace

extern "C" [[noreturn]] void demo_continue_at(void (*fn)(), std::uintptr_t offset);
template <class Low>
void Hooks<Low>::continue_at(void (*fn)(), std::uintptr_t offset) {
  demo_continue_at(fn, offset);
}

void demo::arch_putc(char c) {
  *reinterpret_cast<volatile std::uint32_t*>(demo::dev(0)) = std::uint32_t(static_cast<unsigned char>(c));
}

/// The frame start.S saves: x0..x30, ELR_EL1, SPSR_EL1, ESR_EL1, FAR_EL1 (ELR is restored).
struct TrapFrame {
  u64 x[31];
  u64 elr, spsr, esr, far;
};

/// Every exception lands here. A data or instruction abort during a probe is recorded and
/// skipped (a data access resumes after the instruction, a fetch at the probe's return address
/// x30, as if the called code had returned). Anything else fails the boot.
extern "C" void arm64_trap(TrapFrame* f) {
  static constinit bool failing = false;
  const unsigned ec = esr_ec(f->esr);
  if (g_armed && (ec == kEcDataAbortSameEl || ec == kEcInsnAbortSameEl)) {
    g_esr = f->esr;
    g_far = f->far;
    g_hit = true;
    g_armed = false;
    f->elr = ec == kEcDataAbortSameEl ? f->elr + 4 : f->x[30];
    return;
  }
  if (failing) exit_qemu(1);  // an exception while reporting one: stop
  failing = true;
  demo::puts("unexpected exception: ESR_EL1=");
  demo::put_hex(f->esr);
  demo::puts(" FAR_EL1=");
  demo::put_hex(f->far);
  demo::puts(" ELR_EL1=");
  demo::put_hex(f->elr);
  demo::puts("\n");
  demo::check(false, "no unexpected exception");
  exit_qemu(demo::verdict(DEMO_TEST_NAME) ? 0 : 1);
}

namespace {
bool same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}
template <class Low>
[[noreturn]] void boot() {
  demo::Boot<demo::Split<Low, HighOf<Low>>, Hooks<Low>>::run();
}
}  // namespace

extern "C" [[noreturn]] void arm64_main() {
  demo::g_dev[0] = kUartPa;
  const u64 mmfr0 = cpu::read_id_aa64mmfr0_el1(), mmfr2 = cpu::read_id_aa64mmfr2_el1();
  g_pa_bits = cpu::pa_range_bits(mmfr0);
  demo::puts("ID_AA64MMFR0_EL1=");
  demo::put_hex(mmfr0);
  demo::puts(" ID_AA64MMFR2_EL1=");
  demo::put_hex(mmfr2);
  demo::puts("\n");
  const ptlib::Arm64Probe probe = ptlib::arm64_probe(mmfr0, mmfr2);
#if SELECT
  // One kernel for every CPU: ptlib picks the format from the ID registers.
  const char* chosen = ptlib::chosen_format(probe);
  demo::puts("chosen format: ");
  demo::puts(chosen ? chosen : "(none)");
  demo::puts("\n");
  if (demo::check(chosen && same(chosen, SELECT_EXPECT), "ptlib's choice from ID_AA64MMFR0/2_EL1 is " SELECT_EXPECT))
    ptlib::with_chosen_format(probe, [&]<class F>() { boot<F>(); });
#else
  using Low = ptlib::arm64::Vmsa<GRANULE_KB == 4    ? ptlib::arm64::Granule::k4K
                                 : GRANULE_KB == 16 ? ptlib::arm64::Granule::k16K
                                                    : ptlib::arm64::Granule::k64K,
                                 VA_BITS>;
  // The kernel's format is the test's, and the CPU implements it (ID_AA64MMFR0/2_EL1).
  const bool cpu = Low::kGranule == ptlib::arm64::Granule::k4K    ? probe.gran4k && (!Low::kLpa2 || probe.lpa2_4k)
                   : Low::kGranule == ptlib::arm64::Granule::k16K ? probe.gran16k && (!Low::kLpa2 || probe.lpa2_16k)
                                                                  : probe.gran64k && (VA_BITS < 52 || (probe.lva && probe.lpa));
  if (demo::check(same(Low::kName, DEMO_TEST_NAME) && cpu, "the test's format, implemented by the CPU (ID_AA64MMFR0/2_EL1)")) boot<Low>();
#endif
  // Only a failed check gets here, before the boot: its text is still reachable (the verdict
  // prints it; after the switch to the high VA, a pointer taken here would not be).
  exit_qemu(demo::verdict(DEMO_TEST_NAME) ? 0 : 1);
}
