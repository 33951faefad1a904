// The 32-bit x86 demo kernels: x86-32 (2-level paging, 4 MiB PSE pages) and PAE, one ELF per
// format (-DDEMO_FORMAT=X86_32|Pae). Multiboot enters start32.S with paging off; demo::Boot
// builds the phase-1 tables there, turns paging on, and continues at the image's high VA,
// 0xC0000000 + PA (ptlib's 32-bit layout keeps the image in the linear map), where phase 2
// builds the final tables through the linear map and runs the checks.
//
// The image is linked -pie at its load address 1 MiB: code is PC-relative; before the move,
// x86_continue() relocates the pointers held in data (reloc.hpp) for the high VA.
#include "hooks.hpp"
#include "reloc.hpp"

#ifndef DEMO_FORMAT
#error "DEMO_FORMAT (X86_32 or Pae) must be defined"
#endif
using Format = ptlib::x86::DEMO_FORMAT;
using H = x86demo::Hooks<Format>;
using Boot = demo::Boot<demo::Single<Format>, H>;

extern "C" [[noreturn]] void x86_jump(std::uint32_t target, std::uint32_t sp_offset);

[[noreturn]] void x86demo::x86_continue(void (*fn)(), std::uintptr_t offset) {
  const auto here = reinterpret_cast<std::uintptr_t>(__image_start);
  if (!relocate(here, std::uintptr_t(H::kLoadPa), here + offset)) {
    demo::check(false, "the image has only relative relocations");
    demo::verdict(kName);
    qemu_exit(1);
  }
  x86_jump(reinterpret_cast<std::uintptr_t>(fn) + offset, offset);
}

extern "C" [[noreturn]] void x86_main(std::uint32_t magic, std::uint32_t info) {
  if (!x86demo::ram_ok(magic, info)) {
    demo::check(false, "multiboot reports RAM up to kRamSize");
    demo::verdict(x86demo::kName);
    x86demo::qemu_exit(1);
  }
  Boot::run();
}
