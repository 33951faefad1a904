// The x86 instructions the demo kernels need around ptlib: port I/O for the serial console and
// QEMU's isa-debug-exit, CPUID, MSRs, control registers and INVLPG. Builds for i686 (the
// 32-bit kernels and the 64-bit kernels' loader) and x86-64 (their phase 2): registers are
// machine words, EFER goes through RDMSR/WRMSR as two halves.
//
// Sources: Intel SDM vol. 2 (CPUID, RDMSR/WRMSR, MOV to/from CRn, INVLPG, OUT), vol. 3A 2.5
// (control registers) and 2.2.1 (IA32_EFER = MSR C000_0080H); QEMU's isa-debug-exit device
// (exit status = (value << 1) | 1; docs/freestanding.md, section 7).
#pragma once
#include <cstdint>

#include "console.hpp"

namespace x86demo {

using word = std::uintptr_t;

inline void outb(std::uint16_t port, std::uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline std::uint8_t inb(std::uint16_t port) {
  std::uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

/// QEMU exit through isa-debug-exit at port 0xf4: status (code << 1) | 1, so code 0 -> 1 (pass).
[[noreturn]] inline void qemu_exit(std::uint8_t code) {
  outb(0xf4, code);
  for (;;) asm volatile("cli; hlt");
}

struct CpuidRegs {
  std::uint32_t eax, ebx, ecx, edx;
};
inline CpuidRegs cpuid(std::uint32_t leaf, std::uint32_t sub = 0) {
  CpuidRegs r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
  return r;
}

/// What the boot reads from CPUID (SDM vol. 2, CPUID): leaf 1 EDX.PSE[3], EDX.PAE[6];
/// leaf 80000001H EDX.NX[20], EDX.Page1GB[26], EDX.LM[29]; leaf 7 ECX.LA57[16].
struct CpuFeatures {
  bool pse = false, pae = false, nx = false, page1g = false, lm = false, la57 = false;
};
inline CpuFeatures cpu_features() {
  CpuFeatures f;
  const CpuidRegs l0 = cpuid(0), l1 = cpuid(1);
  f.pse = (l1.edx >> 3) & 1;
  f.pae = (l1.edx >> 6) & 1;
  if (l0.eax >= 7) f.la57 = (cpuid(7, 0).ecx >> 16) & 1;
  if (cpuid(0x8000'0000).eax >= 0x8000'0001) {
    const CpuidRegs e1 = cpuid(0x8000'0001);
    f.nx = (e1.edx >> 20) & 1;
    f.page1g = (e1.edx >> 26) & 1;
    f.lm = (e1.edx >> 29) & 1;
  }
  return f;
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

#define X86DEMO_CR(n)                                                                    \
  inline word read_cr##n() {                                                             \
    word v;                                                                              \
    asm volatile("mov %%cr" #n ", %0" : "=r"(v));                                        \
    return v;                                                                            \
  }                                                                                      \
  inline void write_cr##n(word v) { asm volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
X86DEMO_CR(0)
X86DEMO_CR(2)
X86DEMO_CR(3)
X86DEMO_CR(4)
#undef X86DEMO_CR

inline void invlpg(word va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }

}  // namespace x86demo
