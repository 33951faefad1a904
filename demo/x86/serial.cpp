// The console of every x86 demo kernel: COM1's transmit register (port 3F8H); QEMU's 16550
// needs no set-up to send.
#include "cpu.hpp"

void demo::arch_putc(char c) { x86demo::outb(0x3f8, std::uint8_t(c)); }
