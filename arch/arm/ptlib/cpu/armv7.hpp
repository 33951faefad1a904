// CPU helpers for an ARMv7-A LPAE kernel at PL1 (optional part of ptlib, inline asm, ARM or
// Thumb-2): load MAIR0/MAIR1, TTBCR and the 64-bit TTBR0/TTBR1 with the values ptlib computes
// (armv7::split_regs) and turn the MMU on (SCTLR.M/C/I), barriers, TLB invalidation by VA /
// ASID / everything, the CPU's own walk (ATS1CPR), and a ready SyncHook for live edits. The
// engine never includes it.
//
// Sources: ARM Architecture Reference Manual ARMv7-A and ARMv7-R edition (DDI 0406C):
//  - B3.10 "TLB maintenance requirements": break-before-make for changes of the output
//    address, memory type or block size of a live entry (ptlib's engine runs the sequence under
//    Live::break_before_make and calls this hook); B2.2.7 "Branch predictors": branch predictor
//    maintenance (BPIALLIS) after a change of a VA to PA mapping.
//  - B4.2.2 TLB maintenance operations: TLBIALLIS (c8, c3, 0), TLBIMVAIS (c8, c3, 1:
//    MVA[31:12] | ASID[7:0]), TLBIASIDIS (c8, c3, 2), TLBIMVAAIS (c8, c3, 3: MVA[31:12], every
//    ASID), TLBIALL (c8, c7, 0, this PE); B4.2.1 BPIALLIS (c7, c1, 6), ICIALLUIS (c7, c1, 0).
//  - B4.1.153 TTBCR (c2, c0, 2), B4.1.154 / B4.1.155 TTBR0 / TTBR1 (64-bit: MCRR p15, 0 / 1,
//    c2), B4.1.104 MAIR0 / MAIR1 (c10, c2, 0 / 1), B4.1.130 SCTLR (c1, c0, 0: M [0], C [2],
//    I [12]); B4.2.4 ATS1CPR (c7, c8, 0) and B4.1.112 PAR (64-bit with LPAE: F [0], PA [39:12]).
//  - The barrier sequence as in the Arm ARM's litmus tests (DDI 0487K.a K11.5.3, AArch32): store
//    the entry; DSB; TLBI...IS; BPIALLIS; DSB; ISB.
#pragma once
#if !defined(__arm__)
#error "<ptlib/cpu/armv7.hpp> holds ARMv7 instructions: include it only in ARMv7 kernel code"
#endif
#include <cstdint>

#include <ptlib/armv7_boot.hpp>
#include <ptlib/sync.hpp>

PTLIB_BEGIN_NAMESPACE
namespace armv7::cpu {

using u32 = std::uint32_t;
using u64 = std::uint64_t;

#define PTLIB_CPU_CP15(name, crn, opc1, crm, opc2)                                                  \
  inline u32 read_##name() {                                                                       \
    u32 v;                                                                                         \
    asm volatile("mrc p15, " #opc1 ", %0, " #crn ", " #crm ", " #opc2 : "=r"(v)::"memory");        \
    return v;                                                                                      \
  }                                                                                                \
  inline void write_##name(u32 v) {                                                                \
    asm volatile("mcr p15, " #opc1 ", %0, " #crn ", " #crm ", " #opc2 ::"r"(v) : "memory");        \
  }
PTLIB_CPU_CP15(sctlr, c1, 0, c0, 0)
PTLIB_CPU_CP15(ttbcr, c2, 0, c0, 2)
PTLIB_CPU_CP15(mair0, c10, 0, c2, 0)
PTLIB_CPU_CP15(mair1, c10, 0, c2, 1)
#undef PTLIB_CPU_CP15

inline u64 read_ttbr0() {
  u64 v;
  asm volatile("mrrc p15, 0, %Q0, %R0, c2" : "=r"(v)::"memory");
  return v;
}
inline u64 read_ttbr1() {
  u64 v;
  asm volatile("mrrc p15, 1, %Q0, %R0, c2" : "=r"(v)::"memory");
  return v;
}
inline void write_ttbr0(u64 v) { asm volatile("mcrr p15, 0, %Q0, %R0, c2" ::"r"(v) : "memory"); }
inline void write_ttbr1(u64 v) { asm volatile("mcrr p15, 1, %Q0, %R0, c2" ::"r"(v) : "memory"); }

inline void isb() { asm volatile("isb" ::: "memory"); }
inline void dsb_ish() { asm volatile("dsb ish" ::: "memory"); }
inline void dsb_ishst() { asm volatile("dsb ishst" ::: "memory"); }

/// SCTLR bits: MMU, data cache, instruction cache.
inline constexpr u32 kSctlrM = 1U << 0, kSctlrC = 1U << 2, kSctlrI = 1U << 12;

// The TLB and branch-predictor operations alone (no barrier).
inline void tlbimvaais(u32 va) { asm volatile("mcr p15, 0, %0, c8, c3, 3" ::"r"(va & ~0xfffU) : "memory"); }
inline void tlbimvais(u32 va, std::uint8_t asid) {
  asm volatile("mcr p15, 0, %0, c8, c3, 1" ::"r"((va & ~0xfffU) | asid) : "memory");
}
inline void tlbiasidis(std::uint8_t asid) { asm volatile("mcr p15, 0, %0, c8, c3, 2" ::"r"(u32{asid}) : "memory"); }
inline void tlbiallis() { asm volatile("mcr p15, 0, %0, c8, c3, 0" ::"r"(0) : "memory"); }
inline void bpiallis() { asm volatile("mcr p15, 0, %0, c7, c1, 6" ::"r"(0) : "memory"); }

/// Runs TLB maintenance `op` completely: DSB ISHST so the walk sees the table writes before it,
/// the TLB operations, BPIALLIS, DSB ISH for their completion on every PE of the domain, ISB.
template <class Op>
void maintain(Op&& op) {
  dsb_ishst();
  op();
  bpiallis();
  dsb_ish();
  isb();
}
inline void invalidate_va(u32 va) { maintain([&] { tlbimvaais(va); }); }
inline void invalidate_va(u32 va, std::uint8_t asid) { maintain([&] { tlbimvais(va, asid); }); }
/// Every non-global entry of one ASID (global entries stay).
inline void invalidate_asid(std::uint8_t asid) { maintain([&] { tlbiasidis(asid); }); }
inline void invalidate_all() { maintain(tlbiallis); }
/// ICIALLUIS: every instruction cache to the point of unification, Inner Shareable.
inline void icialluis() { asm volatile("mcr p15, 0, %0, c7, c1, 0\n dsb ish\n isb" ::"r"(0) : "memory"); }

/// Turns the MMU on from code running with it off (PL1): MAIR0, MAIR1, TTBCR (EAE = 1: the
/// long-descriptor format), TTBR0, TTBR1, a local TLB invalidation (TLBIALL), then SCTLR.M, C
/// and I. Run it from an identity-mapped page. On hardware, clean the tables to the point of
/// coherency first (QEMU has no caches). Errors: mode_not_supported when TTBCR reads back
/// otherwise (no LPAE) or the MMU stayed off.
inline Result<void> enable_mmu(const SplitRegs& r) {
  write_mair0(r.mair0);
  write_mair1(r.mair1);
  write_ttbcr(r.ttbcr);
  write_ttbr0(r.ttbr0);
  write_ttbr1(r.ttbr1);
  isb();
  asm volatile("mcr p15, 0, %0, c8, c7, 0\n dsb\n isb" ::"r"(0) : "memory");  // TLBIALL
  write_sctlr(read_sctlr() | kSctlrM | kSctlrC | kSctlrI);
  isb();
  if (read_ttbcr() != r.ttbcr || !(read_sctlr() & kSctlrM)) return make_error(Errc::mode_not_supported);
  return {};
}

/// With the MMU on: new TTBR0 and TTBR1 (same TTBCR and MAIRs), then every TLB entry
/// invalidated. Run it from code both the old and the new trees map the same way (the TLB
/// conflict caveat of ptlib/cpu/arm64.hpp's switch_tables() holds here too).
inline void switch_tables(const SplitRegs& r) {
  dsb_ish();
  write_ttbr0(r.ttbr0);
  write_ttbr1(r.ttbr1);
  isb();
  invalidate_all();
}

/// The CPU's own stage-1 PL1 read translation of `va` (ATS1CPR, 64-bit PAR): true and the PA,
/// or false when the walk faults.
inline bool translate_read(u32 va, u64& pa) {
  u64 par;
  asm volatile("mcr p15, 0, %1, c7, c8, 0\n isb\n mrrc p15, 0, %Q0, %R0, c7" : "=r"(par) : "r"(va) : "memory");
  if (par & 1U) return false;
  pa = (par & 0xff'ffff'f000ULL) | (va & 0xfffU);
  return true;
}

/// ptlib's sync hook for a live LPAE tree (Options::live), Inner Shareable:
///  - publish(): DSB ISHST + ISB (entries reach the walkers before the next write);
///  - invalidate(va, size): DSB ISHST, TLBIMVAAIS per 4 KiB page (every ASID), or one TLBIALLIS
///    above kMaxPages pages, then BPIALLIS, DSB ISH, ISB.
/// A TLB never holds an entry that gives a Translation fault, so a new mapping over an invalid
/// entry needs no invalidation.
struct TlbSync {
  static constexpr u64 kPage = 4096, kMaxPages = 64;
  void publish() {
    dsb_ishst();
    isb();
  }
  void invalidate(VirtAddr va, u64 size) {
    maintain([&] { for_each_page_or_all(va, size, kPage, kMaxPages, [](u64 a) { tlbimvaais(u32(a)); }, tlbiallis); });
  }
};
static_assert(SyncHook<TlbSync>);

}  // namespace armv7::cpu
PTLIB_END_NAMESPACE
