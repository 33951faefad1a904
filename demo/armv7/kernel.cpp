// ARMv7-A LPAE demo kernel (PL1/SVC, QEMU virt, Cortex-A15): the hooks demo/common/boot.hpp
// needs for the TTBR0/TTBR1 split of ptlib's armv7::kLayout4g4g (TTBCR.T0SZ = 0, T1SZ = 4):
// TTBR0 translates the low 3840 MiB (phase 1's identity map; the kernel's lowmem = the linear map
// of RAM from VA 0), TTBR1 the top 256 MiB (the image at 0xfd800000, the UART at the fixmap,
// vmalloc for the checks). -DDEMO_TEST_NAME is the name in the verdict line.
//
// Sources: ARM Architecture Reference Manual ARMv7-A/R (DDI 0406C): B4.1.153 TTBCR, B4.1.154/155
// TTBR0/TTBR1 (64-bit, MCRR/MRRC p15 opc1 0/1, c2), B4.1.104 MAIR0/MAIR1 (c10, c2, 0/1), B4.1.130
// SCTLR (M bit 0, C bit 2, I bit 12), B4.1.156 VBAR, B4.2.2 TLB maintenance (TLBIALL c8,c7,0;
// TLBIALLIS c8,c3,0; TLBIMVAAIS c8,c3,3: MVA[31:12], all ASIDs), B4.1.52/B4.1.96 DFSR/IFSR in the
// long-descriptor format (WnR bit 11), B4.1.52 DFAR, B4.1.87 IFAR, B4.2.4 ATS1CPR (c7, c8, 0) and
// B4.1.112 PAR (64-bit with LPAE: F bit 0, PA[39:12]), B1.8.3 exception entry (LR_abt = data
// abort + 8, prefetch abort + 4), B4.2.1 cache maintenance (DCCMVAU c7,c11,1; ICIMVAU c7,c5,1).
// Semihosting: ARM IHI 0046 (SVC 0x123456 in A32 state; SYS_EXIT_EXTENDED 0x20 takes
// {reason, subcode} on AArch32 too: QEMU 7.2 semihosting/arm-compat-semi.c exits with subcode
// for ADP_Stopped_ApplicationExit). QEMU hw/arm/virt.c: RAM 0x40000000, PL011 UART0 0x09000000.
#include <array>
#include <cstddef>
#include <cstdint>

// -fPIC with every symbol hidden: global data and functions are reached PC-relative (no GOT of
// link-time addresses), so the code runs at its load address and at the image's high VA.
#pragma GCC visibility push(hidden)

#include <ptlib/armv7_boot.hpp>
#include <ptlib/cpu/armv7.hpp>

#include "boot.hpp"
#include "downgrade.hpp"

#ifndef DEMO_TEST_NAME
#error "DEMO_TEST_NAME (the verdict's name) is set by demo/armv7/meson.build"
#endif

namespace {

using u32 = std::uint32_t;
using u64 = std::uint64_t;
using Formats = ptlib::armv7::SplitFormats<0, 4>;  // TTBCR.T0SZ = 0, T1SZ = 4
using Low = Formats::Ttbr0;
using High = Formats::Ttbr1;
using Space = demo::Split<Low, High>;

constexpr u64 kUartPa = 0x0900'0000;

namespace cpu = ptlib::armv7::cpu;

// Fault status and address registers for the trap handler (B4.1.52 DFSR, B4.1.96 IFSR,
// B4.1.52 DFAR, B4.1.87 IFAR).
#define CP15_READ(crn, opc1, crm, opc2)                                                  \
  ({                                                                                     \
    u32 v_;                                                                              \
    asm volatile("mrc p15, " #opc1 ", %0, " #crn ", " #crm ", " #opc2 : "=r"(v_)::"memory"); \
    v_;                                                                                  \
  })

// The probe protocol with armv7_trap(): arm, access, disarm.
constinit volatile bool g_armed = false, g_hit = false, g_write = false, g_exec = false;
constinit volatile u32 g_addr = 0;

void arm() {
  g_hit = false;
  g_armed = true;
  asm volatile("" ::: "memory");
}
demo::Probe disarm() {
  asm volatile("" ::: "memory");
  g_armed = false;
  if (!g_hit) return {};
  return {g_exec ? demo::Access::exec : g_write ? demo::Access::write : demo::Access::read, g_addr};
}

struct Hooks {
  using Caps = High::Caps;
  static const char* name() { return DEMO_TEST_NAME; }
  static constexpr const ptlib::Layout& layout() { return ptlib::armv7::kLayout4g4g; }
  static constexpr u64 kRamBase = 0x4000'0000, kRamSize = u64{RAM_MB} << 20;
  static constexpr u64 kLoadPa = LOAD_PA, kImageMax = 4ULL << 20;
  static constexpr std::array<demo::Device, 1> kDevices{{{kUartPa, 0x1000}}};  // dev(0): PL011 UART0

  static Caps caps() { return {}; }
  static ptlib::Attrs device_attrs(const Caps&) { return ptlib::attrs::device_rw; }

  /// Phase 1: MMU on (cpu::enable_mmu). Phase 2 (running at the image VA, which both spaces
  /// map the same way): new TTBR0/TTBR1 + TLB flush (cpu::switch_tables).
  static bool activate(const Space& s) {
    auto r = ptlib::armv7::split_regs(s.trees);
    if (!r) return false;
    if (!(cpu::read_sctlr() & cpu::kSctlrM)) return cpu::enable_mmu(*r).ok();
    cpu::switch_tables(*r);
    return cpu::read_ttbcr() == r->ttbcr;
  }
  static std::size_t read_back(const Space& s, demo::Reg* out) {
    auto r = ptlib::armv7::split_regs(s.trees);
    const ptlib::armv7::SplitRegs w = r ? *r : ptlib::armv7::SplitRegs{};
    out[0] = {"TTBR0 (ptlib::armv7::split_regs)", w.ttbr0, cpu::read_ttbr0()};
    out[1] = {"TTBR1", w.ttbr1, cpu::read_ttbr1()};
    out[2] = {"TTBCR", w.ttbcr, cpu::read_ttbcr()};
    out[3] = {"MAIR0", w.mair0, cpu::read_mair0()};
    return 4;
  }

  using Sync = cpu::TlbSync;  // DSB ISHST; TLBIMVAAIS per page / TLBIALLIS, BPIALLIS, DSB ISH, ISB
  /// ASID 0: TTBR0's (split_regs with the default ASID, TTBCR.A1 = 0).
  static void flush_address_space() { cpu::invalidate_asid(0); }
  static void flush_page_in_address_space(std::uintptr_t va) { cpu::invalidate_va(u32(va), 0); }

  [[noreturn]] static void continue_at(void (*fn)(), std::uintptr_t offset);
  static void on_high();

  static demo::Probe try_read(std::uintptr_t va, std::uintptr_t& value) {
    u32 v = 0;
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
    asm volatile("blx %0" ::"r"(va) : "r0", "r1", "r2", "r3", "r12", "lr", "memory");
    return disarm();
  }
  /// BX LR (A1 encoding 0xe12fff1e), then DCCMVAU + ICIMVAU + BPIALL to the point of unification.
  static void write_return(std::uintptr_t va) {
    *reinterpret_cast<volatile u32*>(va) = 0xe12fff1eU;
    asm volatile(
        "mcr p15, 0, %0, c7, c11, 1\n dsb ish\n mcr p15, 0, %0, c7, c5, 1\n mcr p15, 0, %0, c7, c5, 6\n"
        " dsb ish\n isb" ::"r"(va)
        : "memory");
  }
  /// Semihosting SYS_EXIT_EXTENDED(ADP_Stopped_ApplicationExit, status).
  [[noreturn]] static void exit(bool pass) {
    volatile u32 block[2] = {0x20026, pass ? 0U : 1U};
    register u32 r0 asm("r0") = 0x20;
    register u32 r1 asm("r1") = u32(reinterpret_cast<std::uintptr_t>(&block[0]));
    asm volatile("svc 0x123456" ::"r"(r0), "r"(r1) : "memory");
    for (;;) asm volatile("wfe");
  }

  /// The CPU's own walk (ATS1CPR -> PAR) agrees with ptlib's translate() of the final tables for
  /// text, rodata, bss, the linear map and the UART.
  static void arch_checks(const Space& s, const ptlib::Placement& p) {
    const ptlib::DirectAccess access(std::uintptr_t(p.va_pa_offset));
    const u64 rodata = u64(reinterpret_cast<std::uintptr_t>(demo::__rodata_start) -
                           reinterpret_cast<std::uintptr_t>(demo::__image_start));
    const u64 probes[] = {p.image_va.value, p.image_va.value + rodata, p.image_va.value + p.image_size - 4,
                          p.linear_map().base.value, p.linear_map().base.value + p.ram_size - 4,
                          layout().fixmap.base.value};
    bool agree = true;
    for (u64 va : probes) {
      u64 hw = 0;
      auto t = s.translate(access, ptlib::VirtAddr(va));
      agree = agree && t && cpu::translate_read(u32(va), hw) && hw == t->pa.value;
    }
    demo::check(agree, "ATS1CPR (the CPU's walk) gives ptlib translate()'s PA: text, rodata, bss, linear map, UART");
    // TLB maintenance: a permission downgrade and an unmap that releases no table (scratch RAM in
    // the middle of RAM, away from the image and from Boot's tables at the top).
    demo::downgrade_check<Hooks>(s, p, kRamBase + kRamSize / 2, layout().vmalloc.base + (64ULL << 20));
  }
};

}  // namespace

extern "C" [[noreturn]] void demo_continue_at(void (*fn)(), std::uintptr_t offset);
extern "C" void armv7_set_exc_stack(std::uintptr_t sp);
extern "C" char vectors[], __exc_stack_top[];

void Hooks::continue_at(void (*fn)(), std::uintptr_t offset) { demo_continue_at(fn, offset); }
/// At the high VA: vectors and the abort/undef stack there (PC-relative addresses = VAs now).
void Hooks::on_high() {
  asm volatile("mcr p15, 0, %0, c12, c0, 0\n isb" ::"r"(reinterpret_cast<std::uintptr_t>(vectors)) : "memory");  // VBAR
  armv7_set_exc_stack(reinterpret_cast<std::uintptr_t>(__exc_stack_top));
}

void demo::arch_putc(char c) {
  *reinterpret_cast<volatile u32*>(demo::dev(0)) = u32(static_cast<unsigned char>(c));
}

/// What start.S saves: the exception kind (1 undef, 2 SVC, 3 prefetch abort, 4 data abort,
/// 6 IRQ, 7 FIQ), SPSR, LR_svc, a pad word, r0..r12 and the PC to return to.
struct TrapFrame {
  u32 kind, spsr, lr_svc, pad;
  u32 r[13];
  u32 pc;
};

/// A data abort during a probe resumes after the access; a prefetch abort at the probe's
/// return address (LR_svc, as if the called code had returned). Anything else fails the boot.
extern "C" void armv7_trap(TrapFrame* f) {
  static constinit bool failing = false;
  if (g_armed && (f->kind == 3 || f->kind == 4)) {
    const bool data = f->kind == 4;
    g_write = data && ((CP15_READ(c5, 0, c0, 0) >> 11) & 1U);  // DFSR.WnR
    g_exec = !data;
    g_addr = data ? CP15_READ(c6, 0, c0, 0) : CP15_READ(c6, 0, c0, 2);  // DFAR / IFAR
    g_hit = true;
    g_armed = false;
    f->pc = data ? f->pc + 4 : f->lr_svc;
    return;
  }
  if (failing) Hooks::exit(false);  // an exception while reporting one: stop
  failing = true;
  demo::puts("unexpected exception: kind=");
  demo::put_dec(f->kind);
  demo::puts(" DFSR=");
  demo::put_hex(CP15_READ(c5, 0, c0, 0));
  demo::puts(" DFAR=");
  demo::put_hex(CP15_READ(c6, 0, c0, 0));
  demo::puts(" IFSR=");
  demo::put_hex(CP15_READ(c5, 0, c0, 1));
  demo::puts(" IFAR=");
  demo::put_hex(CP15_READ(c6, 0, c0, 2));
  demo::puts(" PC=");
  demo::put_hex(f->pc);
  demo::puts("\n");
  demo::check(false, "no unexpected exception");
  Hooks::exit(demo::verdict(DEMO_TEST_NAME));
}

extern "C" [[noreturn]] void armv7_main() {
  demo::g_dev[0] = kUartPa;
  demo::Boot<Space, Hooks>::run();
}

#pragma GCC visibility pop
