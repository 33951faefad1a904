// What the arm64 demo kernel needs beyond ptlib's CPU helpers (<ptlib/cpu/arm64.hpp>: system
// registers, MMU on, TLB maintenance, AT S1E1R): the PL011 UART address, the semihosting exit
// and the ESR_EL1 decoding of its trap handler. EL1 on QEMU's virt board.
//
// Sources: Arm ARM DDI 0487K.a D19.2 ESR_EL1 (EC [31:26]: 0x25 data abort, 0x21 instruction
// abort, taken without a change of EL; WnR [6]).
// Semihosting for AArch32 and AArch64 (ARM IHI 0046, "SYS_EXIT (0x18)": on AArch64 x1 points
// at {reason, subcode}; reason ADP_Stopped_ApplicationExit 0x20026 exits with status subcode;
// the trap is HLT #0xF000). PL011 TRM (DDI 0183): UARTDR at offset 0.
#pragma once
#include <cstdint>

#include <ptlib/cpu/arm64.hpp>

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

/// ESR_EL1 decoding.
inline constexpr u64 kEcDataAbortSameEl = 0x25, kEcInsnAbortSameEl = 0x21;
inline constexpr unsigned esr_ec(u64 esr) { return unsigned(esr >> 26) & 0x3f; }
inline constexpr bool esr_write(u64 esr) { return (esr >> 6) & 1U; }

}  // namespace demo::arm64
