// CPU helpers for an arm64 kernel at EL1 (optional part of ptlib, inline asm): load MAIR_EL1,
// TCR_EL1, TTBR0_EL1 and TTBR1_EL1 with the values ptlib computes (arm64::split_regs) and turn
// the MMU on (SCTLR_EL1.M/C/I), barriers, TLB invalidation by VA / ASID / everything, the
// CPU's own walk (AT S1E1R), and a ready SyncHook for live edits. The engine never includes it.
//
// Sources: Arm Architecture Reference Manual for A-profile architecture, DDI 0487K.a ("Arm ARM"):
//  - D8.16.1 "Using break-before-make when updating translation table entries" (D8.13.1 in
//    I.a, D8.14.1 in J.a): a change of memory type, shareability, output address or block size
//    of a live entry goes through an invalid entry and a TLB invalidation first; ptlib's engine
//    does the sequence (Live::break_before_make) and calls this hook for its barriers and TLBIs.
//  - K11.5.3 "TLB maintenance instructions and barriers": store the entry; DSB ISH so the walk
//    sees it; TLBI ...IS; DSB ISH for its completion on every PE of the Inner Shareable domain;
//    ISB on this PE. The break-before-make sequence (K11.5.3.4) adds I-cache maintenance when
//    the output address of executable memory changes: that is the caller's (ic_ialluis()).
//  - C5.5 TLBI: Xt[43:0] = VA[55:12] (the bits below the granule ignored), Xt[63:48] = ASID;
//    VAAE1IS (all ASIDs, every level: walk-cache entries too), VAE1IS (one ASID), ASIDE1IS,
//    VMALLE1IS (everything at EL1). AT S1E1R and PAR_EL1 (D19.2: F [0], PA [51:12] when F = 0).
//  - D19.2 SCTLR_EL1 (M [0], C [2], I [12]); an MSR to a translation register needs an ISB
//    before the new value is used.
// Multiprocessor: the TLBIs here are the Inner Shareable forms, broadcast to every PE of the
// domain; ISB is not broadcast.
#pragma once
#if !defined(__aarch64__)
#error "<ptlib/cpu/arm64.hpp> holds AArch64 instructions: include it only in arm64 kernel code"
#endif
#include <cstdint>

#include <ptlib/arm64_boot.hpp>
#include <ptlib/sync.hpp>

PTLIB_BEGIN_NAMESPACE
namespace arm64::cpu {

using u64 = std::uint64_t;

#define PTLIB_CPU_SYSREG(name)                                                       \
  inline u64 read_##name() {                                                         \
    u64 v;                                                                           \
    asm volatile("mrs %0, " #name : "=r"(v)::"memory");                              \
    return v;                                                                        \
  }                                                                                  \
  inline void write_##name(u64 v) { asm volatile("msr " #name ", %0" ::"r"(v) : "memory"); }
PTLIB_CPU_SYSREG(sctlr_el1)
PTLIB_CPU_SYSREG(tcr_el1)
PTLIB_CPU_SYSREG(mair_el1)
PTLIB_CPU_SYSREG(ttbr0_el1)
PTLIB_CPU_SYSREG(ttbr1_el1)
#undef PTLIB_CPU_SYSREG
/// The ID registers ptlib::arm64_probe() decodes (arch/ptlib/select.hpp).
inline u64 read_id_aa64mmfr0_el1() {
  u64 v;
  asm volatile("mrs %0, id_aa64mmfr0_el1" : "=r"(v));
  return v;
}
inline u64 read_id_aa64mmfr2_el1() {
  u64 v;
  asm volatile("mrs %0, id_aa64mmfr2_el1" : "=r"(v));
  return v;
}

/// ID_AA64MMFR0_EL1.PARange (D19.2: 0b0000 32 bits .. 0b0110 52 bits) in bits, capped at 52:
/// TCR_EL1.IPS (TcrOptions::pa_bits) should not exceed it.
constexpr unsigned pa_range_bits(u64 id_aa64mmfr0) {
  constexpr unsigned kBits[] = {32, 36, 40, 42, 44, 48, 52};
  const unsigned r = unsigned(id_aa64mmfr0 & 0xf);
  return r < 7 ? kBits[r] : 52;
}
static_assert(pa_range_bits(0x1124) == 44 && pa_range_bits(0x5) == 48);  // Cortex-A72 TRM: 0x1124, 44 bits

inline void isb() { asm volatile("isb" ::: "memory"); }
inline void dsb_ish() { asm volatile("dsb ish" ::: "memory"); }
inline void dsb_ishst() { asm volatile("dsb ishst" ::: "memory"); }

/// SCTLR_EL1 bits: MMU, data cache, instruction cache.
inline constexpr u64 kSctlrM = 1ULL << 0, kSctlrC = 1ULL << 2, kSctlrI = 1ULL << 12;

/// TLBI operand for a VA: VA[55:12] in [43:0].
constexpr u64 tlbi_va_arg(u64 va) { return (va >> 12) & ((u64{1} << 44) - 1); }

// The TLBIs alone (no barrier): bracket them with DSB ISHST before and DSB ISH + ISB after, or
// use the complete forms below.
inline void tlbi_vaae1is(u64 va) { asm volatile("tlbi vaae1is, %0" ::"r"(tlbi_va_arg(va)) : "memory"); }
inline void tlbi_vae1is(u64 va, std::uint16_t asid) {
  asm volatile("tlbi vae1is, %0" ::"r"(tlbi_va_arg(va) | (u64{asid} << 48)) : "memory");
}
inline void tlbi_aside1is(std::uint16_t asid) { asm volatile("tlbi aside1is, %0" ::"r"(u64{asid} << 48) : "memory"); }
inline void tlbi_vmalle1is() { asm volatile("tlbi vmalle1is" ::: "memory"); }

/// Runs TLB maintenance `op` completely (K11.5.3): DSB ISHST so the walk sees the table writes
/// before it, the TLBIs, DSB ISH for their completion on every PE of the domain, ISB.
template <class Op>
void maintain(Op&& op) {
  dsb_ishst();
  op();
  dsb_ish();
  isb();
}
inline void invalidate_va(u64 va) { maintain([&] { tlbi_vaae1is(va); }); }
inline void invalidate_va(u64 va, std::uint16_t asid) { maintain([&] { tlbi_vae1is(va, asid); }); }
/// Every non-global entry of one ASID (global entries stay).
inline void invalidate_asid(std::uint16_t asid) { maintain([&] { tlbi_aside1is(asid); }); }
inline void invalidate_all() { maintain(tlbi_vmalle1is); }
/// IC IALLUIS: every instruction cache to the point of unification, Inner Shareable.
inline void ic_ialluis() { asm volatile("ic ialluis\n dsb ish\n isb" ::: "memory"); }

/// Turns the MMU on, from code running with it off (EL1): MAIR_EL1, TCR_EL1, TTBR0_EL1,
/// TTBR1_EL1, a local TLB invalidation (stale entries from before reset or an earlier boot
/// stage), then SCTLR_EL1.M, C and I. Run it from an identity-mapped page: the instruction after
/// the MSR to SCTLR_EL1 is fetched through the new tables. On hardware the tables (written with
/// the MMU off, uncached) must be cleaned/invalidated to the point of coherency first (QEMU has
/// no caches). Errors: mode_not_supported when TCR_EL1 reads back otherwise or the MMU stayed
/// off (a field the CPU does not implement).
inline Result<void> enable_mmu(const SplitRegs& r) {
  write_mair_el1(r.mair);
  write_tcr_el1(r.tcr);
  write_ttbr0_el1(r.ttbr0);
  write_ttbr1_el1(r.ttbr1);
  isb();
  asm volatile("tlbi vmalle1\n dsb nsh\n isb" ::: "memory");
  write_sctlr_el1(read_sctlr_el1() | kSctlrM | kSctlrC | kSctlrI);
  isb();
  if (read_tcr_el1() != r.tcr || !(read_sctlr_el1() & kSctlrM)) return make_error(Errc::mode_not_supported);
  return {};
}

/// With the MMU on: new TTBR0_EL1 and TTBR1_EL1 (same TCR_EL1 and MAIR_EL1), then every EL1
/// TLB entry invalidated. Run it from code both the old and the new trees map the same way.
/// Replacing a tree whose entries may differ from the new one's for the same VA (other block
/// sizes) risks a TLB conflict abort on hardware (D8.16.1): Linux replaces TTBR1_EL1 from the
/// identity map with TTBR1 walks disabled (TCR_EL1.EPD1) in between; TTBR0 alone is safe when
/// the new TTBR0 tree maps nothing the code uses.
inline void switch_tables(const SplitRegs& r) {
  dsb_ish();
  write_ttbr0_el1(r.ttbr0);
  write_ttbr1_el1(r.ttbr1);
  isb();
  invalidate_all();
}

/// The CPU's own stage-1 EL1 read translation of `va` (AT S1E1R, PAR_EL1): true and the PA, or
/// false when the walk faults.
inline bool translate_read(u64 va, u64& pa) {
  asm volatile("at s1e1r, %0" ::"r"(va) : "memory");
  isb();
  u64 par;
  asm volatile("mrs %0, par_el1" : "=r"(par)::"memory");
  if (par & 1U) return false;
  pa = (par & 0x000f'ffff'ffff'f000ULL) | (va & 0xfffU);
  return true;
}

/// ptlib's sync hook for a live tree of format F (Options::live), Inner Shareable:
///  - publish(): DSB ISHST + ISB: the entries written so far reach every walker before the
///    next write (a table's contents before its link), and this PE uses them from the next
///    instruction (Linux does the same after writing a valid kernel entry);
///  - invalidate(va, size): DSB ISHST, TLBI VAAE1IS per page of F (every ASID, every level, so
///    walk-cache entries of a released table go too), or one TLBI VMALLE1IS above kMaxPages
///    pages; then DSB ISH + ISB.
/// A TLB never caches an entry that gives a Translation fault (D8.16), so a new mapping over an
/// invalid entry needs no invalidation.
template <PagingFormat F>
struct TlbSync {
  static constexpr u64 kPage = Geometry<F>::kPageSize, kMaxPages = 64;
  void publish() {
    dsb_ishst();
    isb();
  }
  void invalidate(VirtAddr va, u64 size) {
    maintain([&] { for_each_page_or_all(va, size, kPage, kMaxPages, tlbi_vaae1is, tlbi_vmalle1is); });
  }
};

}  // namespace arm64::cpu
PTLIB_END_NAMESPACE
