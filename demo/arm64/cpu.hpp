// The arm64 instructions the demo kernel needs around ptlib: system registers, turning the MMU
// on, TLB maintenance (as a ptlib sync hook), the hardware walk (AT S1E1R), the PL011 UART and
// the semihosting exit. Everything here is EL1 on QEMU's virt board.
//
// Sources: Arm ARM DDI 0487K.a: D8.16 (TLB maintenance: "DSB ISHST" before TLBI so the walker
// sees the new entry, "TLBI VAALE1IS" then "DSB ISH; ISB"), C5.5 (TLBI <op>, Xt: Xt[43:0] =
// VA[55:12]; AT S1E1R), D19.2 PAR_EL1 (F [0], PA [51:12] when F = 0), D19.2 SCTLR_EL1
// (M [0], C [2], I [12]), ESR_EL1 (EC [31:26]: 0x25 data abort, 0x21 instruction abort, taken
// without a change of EL; WnR [6]).
// Semihosting for AArch32 and AArch64 (ARM IHI 0046, "SYS_EXIT (0x18)": on AArch64 x1 points
// at {reason, subcode}; reason ADP_Stopped_ApplicationExit 0x20026 exits with status subcode;
// the trap is HLT #0xF000). PL011 TRM (DDI 0183): UARTDR at offset 0.
#pragma once
#include <cstdint>

#include <ptlib/ptlib.hpp>

#define DEMO_MRS(reg)                                  \
  ({                                                   \
    std::uint64_t v_;                                  \
    asm volatile("mrs %0, " #reg : "=r"(v_)::"memory"); \
    v_;                                                \
  })
#define DEMO_MSR(reg, v) asm volatile("msr " #reg ", %0" ::"r"(std::uint64_t(v)) : "memory")

namespace demo::arm64 {

using u64 = std::uint64_t;

inline constexpr u64 kUartPa = 0x0900'0000;  // virt: PL011 UART0

/// Semihosting SYS_EXIT with a status (needs QEMU's -semihosting).
[[noreturn]] inline void exit_qemu(int code) {
  volatile u64 block[2] = {0x20026, u64(code)};
  register u64 x0 asm("x0") = 0x18;
  register u64 x1 asm("x1") = reinterpret_cast<u64>(&block[0]);
  asm volatile("hlt #0xf000" ::"r"(x0), "r"(x1) : "memory");
  for (;;) asm volatile("wfe");
}

inline void isb() { asm volatile("isb" ::: "memory"); }
inline void dsb_ish() { asm volatile("dsb ish" ::: "memory"); }

/// Drops every EL1 TLB entry of this CPU's inner-shareable domain and waits.
inline void tlb_flush_all() { asm volatile("dsb ishst; tlbi vmalle1is; dsb ish; isb" ::: "memory"); }

/// ptlib's sync hook for a live tree: publish = DSB ISHST (table writes visible to the walker),
/// invalidate = TLBI VAALE1IS per page (all ASIDs, last level: enough for the leaves ptlib
/// changes in place), then DSB ISH + ISB. Larger ranges (a released table, a split block: at
/// least 2 MiB with any granule) use one TLBI VMALLE1IS, which also drops walk caches.
template <unsigned PageShift>
struct TlbSync {
  void publish() { asm volatile("dsb ishst" ::: "memory"); }
  void invalidate(ptlib::VirtAddr va, u64 size) {
    asm volatile("dsb ishst" ::: "memory");
    const u64 pages = (size + (u64{1} << PageShift) - 1) >> PageShift;
    if (pages > 64) {
      asm volatile("tlbi vmalle1is" ::: "memory");
    } else {
      for (u64 i = 0; i < pages; ++i) {
        const u64 arg = ((va.value + (i << PageShift)) >> 12) & ((u64{1} << 44) - 1);
        asm volatile("tlbi vaale1is, %0" ::"r"(arg) : "memory");
      }
    }
    asm volatile("dsb ish; isb" ::: "memory");
  }
};

/// TTBRx, TCR and MAIR as ptlib computed them; the MMU goes on with SCTLR_EL1.M/C/I.
inline void mmu_on(u64 mair, u64 tcr, u64 ttbr0, u64 ttbr1) {
  DEMO_MSR(mair_el1, mair);
  DEMO_MSR(tcr_el1, tcr);
  DEMO_MSR(ttbr0_el1, ttbr0);
  DEMO_MSR(ttbr1_el1, ttbr1);
  isb();
  asm volatile("dsb ish; tlbi vmalle1; dsb ish; isb" ::: "memory");
  DEMO_MSR(sctlr_el1, DEMO_MRS(sctlr_el1) | 1U | (1U << 2) | (1U << 12));
  isb();
}

/// The hardware's stage-1 EL1 read translation of `va` (AT S1E1R): true and the PA, or false
/// when the walk faults.
inline bool hw_translate(u64 va, u64& pa) {
  asm volatile("at s1e1r, %0" ::"r"(va) : "memory");
  isb();
  const u64 par = DEMO_MRS(par_el1);
  if (par & 1U) return false;
  pa = (par & 0x000f'ffff'ffff'f000ULL) | (va & 0xfffU);
  return true;
}

/// ESR_EL1 decoding.
inline constexpr u64 kEcDataAbortSameEl = 0x25, kEcInsnAbortSameEl = 0x21;
inline constexpr unsigned esr_ec(u64 esr) { return unsigned(esr >> 26) & 0x3f; }
inline constexpr bool esr_write(u64 esr) { return (esr >> 6) & 1U; }

}  // namespace demo::arm64
