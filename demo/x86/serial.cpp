// The console of every x86 demo kernel: COM1's transmit register (port 3F8H); QEMU's 16550
// needs no set-up to send.
#include "cpu.hpp"

void demo::arch_putc(char c) { x86demo::outb(0x3f8, std::uint8_t(c)); }
// COM1's line status register (0x3f8 + 5), bit 0 data ready.
bool demo::arch_rx_ready() { return x86demo::inb(0x3fd) & 1; }
