// Freestanding console output for the demo kernels: text, hex and decimal over one arch putc,
// the one-line check printer, and the INFO / PASS / FAIL lines that demo/run_qemu.py reads.
#pragma once
#include <cstddef>
#include <cstdint>

namespace demo {

/// One byte to the serial port (each family defines it; MMIO consoles read dev(i) below).
void arch_putc(char c);
/// Whether a byte waits in the serial port's receiver (each family defines it).
bool arch_rx_ready();

/// Virtual address of MMIO device i of the family's device list. The boot sets these to the
/// physical addresses before the MMU is on and to the final mappings after the switch.
inline std::uintptr_t g_dev[8]{};
inline std::uintptr_t dev(std::size_t i) { return g_dev[i]; }

inline void puts(const char* s) {
  while (*s) arch_putc(*s++);
}
inline void put_hex(std::uint64_t v) {
  puts("0x");
  for (int i = 60; i >= 0; i -= 4) arch_putc("0123456789abcdef"[(v >> i) & 0xf]);
}
/// Decimal, machine word only (a 64-bit division would need libgcc on 32-bit targets).
inline void put_dec(std::uintptr_t v) {
  char buf[24];
  std::size_t n = 0;
  do buf[n++] = char('0' + v % 10); while ((v /= 10) != 0);
  while (n) arch_putc(buf[--n]);
}

/// Check results so far: the number failed and the first failed check (for the verdict).
inline unsigned g_failed = 0;
inline const char* g_first_failure = nullptr;

/// Prints one check line, `  ok   <what>` or `  FAIL <what>`, and counts it.
inline bool check(bool ok, const char* what) {
  puts(ok ? "  ok   " : "  FAIL ");
  puts(what);
  puts("\n");
  if (!ok && g_failed++ == 0) g_first_failure = what;
  return ok;
}
/// A check of a value against what it should be; prints both on one line.
inline bool check_eq(const char* what, std::uint64_t got, std::uint64_t want) {
  puts(got == want ? "  ok   " : "  FAIL ");
  puts(what);
  puts(" = ");
  put_hex(got);
  if (got != want) {
    puts(", expected ");
    put_hex(want);
  }
  puts("\n");
  if (got != want && g_failed++ == 0) g_first_failure = what;
  return got == want;
}

/// `INFO <format> levels=<n> tables=<n>[ chosen=<format>]`, read by run_qemu.py's summary.
inline void info(const char* format, std::uintptr_t levels, std::uintptr_t tables, const char* chosen = nullptr) {
  puts("INFO ");
  puts(format);
  puts(" levels=");
  put_dec(levels);
  puts(" tables=");
  put_dec(tables);
  if (chosen) {
    puts(" chosen=");
    puts(chosen);
  }
  puts("\n");
}

/// `PASS <format>` or `FAIL <format>: <first failed check>`; returns whether it passed.
inline bool verdict(const char* format) {
  puts(g_failed ? "FAIL " : "PASS ");
  puts(format);
  if (g_failed) {
    puts(": ");
    puts(g_first_failure);
  }
  puts("\n");
  return g_failed == 0;
}

/// A byte on the console's input asks the boot to stay up after its verdict instead of exiting
/// QEMU, with its final tables live: a test then takes a memory dump of the running guest
/// (tests/ptgen, group qemu-dump). Prints `HOLD <format>` and spins.
inline void hold_if_asked(const char* format) {
  if (!arch_rx_ready()) return;
  puts("HOLD ");
  puts(format);
  puts("\n");
  for (;;) asm volatile("" ::: "memory");
}

}  // namespace demo
