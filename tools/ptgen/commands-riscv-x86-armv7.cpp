// ptgen's per-format commands (commands.hpp), compiled here for
// the RISC-V, x86 and ARMv7 LPAE formats.
#include "commands.hpp"

namespace ptgen {
template int run_format<riscv::Sv32>(const Args&);
template int run_format<riscv::Sv39>(const Args&);
template int run_format<riscv::Sv48>(const Args&);
template int run_format<riscv::Sv57>(const Args&);
template int run_format<x86::X86_32>(const Args&);
template int run_format<x86::Pae>(const Args&);
template int run_format<x86::Long4>(const Args&);
template int run_format<x86::Long5>(const Args&);
template int run_format<armv7::Lpae32>(const Args&);
}  // namespace ptgen
