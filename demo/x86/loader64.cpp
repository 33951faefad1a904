// The 32-bit loader of the x86-64 demo kernels (x86-64-l4, x86-64-l5 and the boot without
// LA57). x86-64 code cannot run with paging off, so phase 1 is 32-bit code: multiboot enters
// start32.S in protected mode with paging off, this file probes CPUID and picks 4- or 5-level
// paging with ptlib's run-time choice (arch/ptlib/select.hpp), and demo::Boot::run() builds the
// phase-1 tables of the chosen format with ptlib compiled for i686, then the hooks enable
// IA-32e mode (CR4.LA57 can only change while paging is off: SDM vol. 3A 4.1.1, so the choice
// is made here). x86_continue() then enters 64-bit mode and jumps to the 64-bit part
// (kernel64.cpp), which the phase-1 tables map at the layout's image window.
#include <ptlib/select.hpp>

#include "hooks.hpp"

#ifndef DEMO_MAX_LEVELS
#error "DEMO_MAX_LEVELS (4: never 5-level, as Linux's no5lvl; 5: 5-level when the CPU has LA57)"
#endif

extern "C" [[gnu::visibility("hidden")]] char x86_blob_start[];
extern "C" [[noreturn]] void x86_enter_long(std::uint32_t entry, std::uint32_t arg);

namespace {
/// What start64.S reads: the VA at which the phase-1 tables map the 64-bit part.
constinit std::uint64_t g_blob_va = 0;
}  // namespace

[[noreturn]] void x86demo::x86_continue(void (*)(), std::uintptr_t) {
  x86_enter_long(reinterpret_cast<std::uint32_t>(x86_blob_start), reinterpret_cast<std::uint32_t>(&g_blob_va));
}

extern "C" [[noreturn]] void x86_main(std::uint32_t magic, std::uint32_t info) {
  if (!x86demo::ram_ok(magic, info)) {
    demo::check(false, "multiboot reports RAM up to kRamSize");
    demo::verdict(x86demo::kName);
    x86demo::qemu_exit(1);
  }
  const ptlib::X86Probe probe{ptlib::x86::cpu::features().la57, DEMO_MAX_LEVELS};
  ptlib::with_chosen_format(probe, []<class F>() {
    using H = x86demo::Hooks<F>;
    // Phase 1 maps the whole loaded image at the image window: the 64-bit part follows.
    g_blob_va = H::layout().image_window.base.value + (reinterpret_cast<std::uintptr_t>(x86_blob_start) - H::kLoadPa);
    demo::Boot<demo::Single<F>, H>::run();
  });
  demo::check(false, "ptlib chose a format");
  demo::verdict(x86demo::kName);
  x86demo::qemu_exit(1);
}
