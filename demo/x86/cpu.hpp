// What the x86 demo kernels need beyond ptlib's CPU helpers (<ptlib/cpu/x86.hpp>: CPUID,
// control registers, MSRs, paging on, TLB maintenance): port I/O for the serial console and
// QEMU's isa-debug-exit. Builds for i686 (the 32-bit kernels and the 64-bit kernels' loader)
// and x86-64 (their phase 2).
//
// Sources: Intel SDM vol. 2 (OUT); QEMU's isa-debug-exit device (exit status =
// (value << 1) | 1; docs/freestanding.md, section 7).
#pragma once
#include <cstdint>

#include <ptlib/cpu/x86.hpp>

#include "console.hpp"

namespace x86demo {

using word = std::uintptr_t;

inline void outb(std::uint16_t port, std::uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }

/// QEMU exit through isa-debug-exit at port 0xf4: status (code << 1) | 1, so code 0 -> 1 (pass).
[[noreturn]] inline void qemu_exit(std::uint8_t code) {
  outb(0xf4, code);
  for (;;) asm volatile("cli; hlt");
}

// Control registers, MSRs, CPUID, TLB maintenance and paging on: ptlib's CPU helpers.
namespace cpu = ptlib::x86::cpu;
using cpu::read_cr2;

}  // namespace x86demo
