// CPU helpers for an x86 kernel at CPL 0 (optional part of ptlib, inline asm, i686 and x86-64):
// CPUID features for ptlib's capabilities, control registers and IA32_EFER, turning paging on
// with the CR3 / CR4 / EFER / CR0 values ptlib computes, TLB invalidation (INVLPG, a CR3
// reload, a full flush with global pages), and a ready SyncHook for live edits. The engine never
// includes it.
//
// Sources: Intel SDM (Intel 64 and IA-32 Architectures Software Developer's Manual):
//  - vol. 2: CPUID (leaf 1 EDX.PSE [3], EDX.PAE [6], EDX.PGE [13]; leaf 7 ECX.LA57 [16];
//    leaf 80000001H EDX.NX [20], EDX.Page1GB [26], EDX.LM [29]), RDMSR/WRMSR, MOV to CRn, INVLPG.
//  - vol. 3A 2.5 (CR0, CR4), 2.2.1 (IA32_EFER = MSR C000_0080H), 4.1.2 (enabling paging: CR4
//    and CR3 before CR0.PG; IA-32e mode: EFER.LME, then CR0.PG, and EFER.LMA reads 1; CR4.LA57
//    changes only with paging off).
//  - vol. 3A 4.10.4.1: INVLPG drops the translation of one page (global too) and the paging-
//    structure caches; a MOV to CR3 drops every non-global translation; a change of CR4.PGE
//    drops every translation, global ones included. 4.10.4.3: a change from not present to
//    present needs no invalidation (a spurious page fault at most). 4.4.1: with PAE paging, a
//    MOV to CR3 loads the four PDPTEs, which the CPU uses from then on.
//  - vol. 3A "Memory Ordering in P6 and More Recent Processor Families": writes are not
//    reordered with older writes, so a table's contents reach the walker before the entry that
//    links it with plain stores (Linux's set_pte is one). INVLPG acts on this CPU only: other
//    CPUs need an IPI (a TLB shootdown), not here.
#pragma once
#if !defined(__i386__) && !defined(__x86_64__)
#error "<ptlib/cpu/x86.hpp> holds x86 instructions: include it only in x86 kernel code"
#endif
#include <cstdint>

#include <ptlib/sync.hpp>
#include <ptlib/x86_boot.hpp>

PTLIB_BEGIN_NAMESPACE
namespace x86::cpu {

using word = std::uintptr_t;  ///< a control register: 32 bits on i686, 64 on x86-64

struct CpuidRegs {
  std::uint32_t eax, ebx, ecx, edx;
};
inline CpuidRegs cpuid(std::uint32_t leaf, std::uint32_t sub = 0) {
  CpuidRegs r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
  return r;
}

/// The paging features CPUID reports.
struct Features {
  bool pse = false, pae = false, pge = false, nx = false, page1g = false, lm = false, la57 = false;
};
inline Features features() {
  Features f;
  const CpuidRegs l0 = cpuid(0), l1 = cpuid(1);
  f.pse = (l1.edx >> 3) & 1;
  f.pae = (l1.edx >> 6) & 1;
  f.pge = (l1.edx >> 13) & 1;
  if (l0.eax >= 7) f.la57 = (cpuid(7, 0).ecx >> 16) & 1;
  if (cpuid(0x8000'0000).eax >= 0x8000'0001) {
    const CpuidRegs e1 = cpuid(0x8000'0001);
    f.nx = (e1.edx >> 20) & 1;
    f.page1g = (e1.edx >> 26) & 1;
    f.lm = (e1.edx >> 29) & 1;
  }
  return f;
}
/// ptlib's capabilities for what the CPU has (Caps::pat stays the kernel's: it means IA32_PAT
/// holds x86::kPatMsr).
inline Caps caps(const Features& f) {
  Caps c;
  c.nx = f.nx;
  c.pse = f.pse;
  c.page1g = f.page1g;
  return c;
}

inline constexpr std::uint32_t kMsrEfer = 0xc000'0080;
inline std::uint64_t rdmsr(std::uint32_t msr) {
  std::uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (std::uint64_t{hi} << 32) | lo;
}
inline void wrmsr(std::uint32_t msr, std::uint64_t v) {
  asm volatile("wrmsr" ::"c"(msr), "a"(std::uint32_t(v)), "d"(std::uint32_t(v >> 32)) : "memory");
}
/// IA32_EFER exists when CPUID reports NX or LM (SDM vol. 4, IA32_EFER).
inline bool has_efer(const Features& f) { return f.nx || f.lm; }

#define PTLIB_CPU_CR(n)                                                                    \
  inline word read_cr##n() {                                                               \
    word v;                                                                                \
    asm volatile("mov %%cr" #n ", %0" : "=r"(v)::"memory");                                \
    return v;                                                                              \
  }                                                                                        \
  inline void write_cr##n(word v) { asm volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
PTLIB_CPU_CR(0)
PTLIB_CPU_CR(2)
PTLIB_CPU_CR(3)
PTLIB_CPU_CR(4)
#undef PTLIB_CPU_CR

/// INVLPG: the translation of the page holding `va`, global or not, on this CPU.
inline void invlpg(word va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }
/// A MOV to CR3 of its own value: every non-global translation (and, under PAE, the PDPTEs
/// are loaded again).
inline void flush_non_global() { write_cr3(read_cr3()); }
/// Every translation, global ones included: CR3 reloaded, then CR4.PGE cleared and set again.
inline void flush_all() {
  write_cr3(read_cr3());
  const word cr4 = read_cr4();
  if (cr4 & cr::kCr4Pge) {
    write_cr4(cr4 & ~word(cr::kCr4Pge));
    write_cr4(cr4);
  }
}

namespace detail {
/// The register values of F's mode for `tree`, and the CPU's features, for enable_paging() and
/// switch_tables(). Errors: those of cr3() and cr4(); mode_not_supported when the CPU lacks NX
/// (Caps::nx) or PGE (Cr4Options::pge).
struct ModeRegs {
  std::uint64_t cr3 = 0;
  ControlBits cr4{}, efer{};
  Features cpu{};
};
template <PagingFormat F>
Result<ModeRegs> mode_regs(const Tree<F>& tree, const Cr3Options& o3, const Cr4Options& o4) {
  auto c3 = cr3(tree, o3);
  if (!c3) return c3.error();
  auto c4 = cr4<F>(tree.caps, o4);
  if (!c4) return c4.error();
  const ModeRegs m{*c3, *c4, efer<F>(tree.caps), features()};
  if (((m.efer.set & cr::kEferNxe) && !m.cpu.nx) || ((m.cr4.set & cr::kCr4Pge) && !m.cpu.pge))
    return make_error(Errc::mode_not_supported, VirtAddr{}, tree.root);
  return m;
}
}  // namespace detail

/// Turns paging on, from code running with it off (32-bit protected mode): CR4 (PSE / PAE /
/// LA57 / PGE as ptlib computes for F and `caps`), CR3 = the root, IA32_EFER (LME for 4-/5-level,
/// NXE with Caps::nx) when the CPU has it, then CR0.PG|WP|PE. For 4-/5-level paging the CPU is
/// then in IA-32e mode, compatibility submode: the caller far-jumps to a 64-bit code segment.
/// Run it from identity-mapped code. Errors: those of x86::cr3() and x86::cr4() (nothing is
/// written), and mode_not_supported when the CPU lacks what F needs (PAE, LM, LA57, NX for
/// Caps::nx, PGE) or paging / IA-32e mode did not come on.
template <PagingFormat F>
Result<void> enable_paging(const Tree<F>& tree, const Cr3Options& o3 = {}, const Cr4Options& o4 = {}) {
  auto m = detail::mode_regs(tree, o3, o4);
  if (!m) return m.error();
  const bool lm = m->efer.set & cr::kEferLme;
  if (((m->cr4.set & cr::kCr4Pae) && !m->cpu.pae) || (lm && !m->cpu.lm) || ((m->cr4.set & cr::kCr4La57) && !m->cpu.la57))
    return make_error(Errc::mode_not_supported, VirtAddr{}, tree.root);
  write_cr4(word(m->cr4.apply(read_cr4())));
  write_cr3(word(m->cr3));
  if (has_efer(m->cpu)) wrmsr(kMsrEfer, m->efer.apply(rdmsr(kMsrEfer)));
  write_cr0(word(kCr0.apply(read_cr0())));
  const bool on = lm ? ((rdmsr(kMsrEfer) >> 10) & 1) : (read_cr0() & cr::kCr0Pg) != 0;  // EFER.LMA
  if (!on) return make_error(Errc::mode_not_supported, VirtAddr{}, tree.root);
  return {};
}

/// With paging on, in F's paging mode (set up by enable_paging() or by the boot code): the
/// IA32_EFER bits for F (NXE before any XD entry is used), the CR4 bits (PGE), CR0.WP, CR3 =
/// `tree`'s root, then every translation dropped, global ones included (flush_all()): the old
/// tree's global entries would survive a MOV to CR3.
/// Errors: those of x86::cr3() and x86::cr4(), and mode_not_supported when the CPU is in
/// another paging mode (CR4.PAE or CR4.LA57 differ: they cannot change while paging is on) or
/// lacks NX for Caps::nx or PGE. Nothing is written on error.
template <PagingFormat F>
Result<void> switch_tables(const Tree<F>& tree, const Cr3Options& o3 = {}, const Cr4Options& o4 = {}) {
  auto m = detail::mode_regs(tree, o3, o4);
  if (!m) return m.error();
  const word mode_bits = word(cr::kCr4Pae | cr::kCr4La57), now = read_cr4();
  if ((word(m->cr4.apply(now)) & mode_bits) != (now & mode_bits))
    return make_error(Errc::mode_not_supported, VirtAddr{}, tree.root);
  if (has_efer(m->cpu)) wrmsr(kMsrEfer, m->efer.apply(rdmsr(kMsrEfer)));
  write_cr4(word(m->cr4.apply(now)));
  write_cr0(word(kCr0.apply(read_cr0())));
  write_cr3(word(m->cr3));
  flush_all();
  return {};
}

/// ptlib's sync hook for a live tree (Options::live), this CPU:
///  - publish(): a compiler barrier (stores become visible in program order);
///  - invalidate(va, size): INVLPG per 4 KiB page, or flush_all() above kMaxPages pages. A
///    changed PAE PDPTE comes with its whole 1 GiB, over kMaxPages: the CR3 reload then loads
///    the PDPTEs again (SDM 4.4.1).
struct TlbSync {
  static constexpr std::uint64_t kPage = 4096, kMaxPages = 64;
  void publish() { asm volatile("" ::: "memory"); }
  void invalidate(VirtAddr va, std::uint64_t size) {
    for_each_page_or_all(va, size, kPage, kMaxPages, [](std::uint64_t a) { invlpg(word(a)); }, flush_all);
  }
};
static_assert(SyncHook<TlbSync>);

}  // namespace x86::cpu
PTLIB_END_NAMESPACE
