// The 64-bit part of the x86-64 demo kernels: entered from the 32-bit loader (loader64.cpp) in
// 64-bit mode on the phase-1 tables, relocated to and running at its VA in the layout's image
// window (start64.S). It makes the same run-time choice as the loader (the CPU and the policy
// are the same; the checks compare CR4.LA57 with what ptlib computes for the choice) and
// continues with demo::Boot's phase 2: the final tables through the linear map, the switch, the
// checks.
#include <ptlib/select.hpp>

#include "hooks.hpp"
#include "reloc.hpp"

#ifndef DEMO_MAX_LEVELS
#error "DEMO_MAX_LEVELS must be defined (as for the loader)"
#endif
#ifndef DEMO_EXPECT
#error "DEMO_EXPECT (the format this boot must choose) must be defined"
#endif

extern "C" [[gnu::visibility("hidden")]] char __image_end[];

/// Called by start64.S at the identity address, before anything reads a pointer from data.
extern "C" void x86_relocate(std::uint64_t running, std::uint64_t target) {
  if (!x86demo::relocate(running, 0, target)) {
    demo::check(false, "the 64-bit part has only relative relocations");
    demo::verdict(x86demo::kName);
    x86demo::qemu_exit(1);
  }
}

#define X86DEMO_STR2(x) #x
#define X86DEMO_STR(x) X86DEMO_STR2(x)

namespace {
bool same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}
}  // namespace

extern "C" [[noreturn]] void x86_main64(std::uint64_t pa, std::uint64_t va) {
  const ptlib::X86Probe probe{ptlib::x86::cpu::features().la57, DEMO_MAX_LEVELS};
  ptlib::with_chosen_format(probe, [&]<class F>() {
    using H = x86demo::Hooks<F>;
    demo::puts(probe.la57 ? "CPUID.(EAX=7,ECX=0):ECX.LA57 = 1" : "CPUID.(EAX=7,ECX=0):ECX.LA57 = 0");
    demo::puts(", at most " X86DEMO_STR(DEMO_MAX_LEVELS) " levels\n");
    demo::check(same(F::kName, DEMO_EXPECT), "ptlib's run-time choice is " DEMO_EXPECT);
    const ptlib::Layout& l = H::layout();
    const std::uint64_t size = std::uint64_t(__image_end - __image_start);
    const ptlib::Placement p{l, ptlib::PhysAddr(H::kRamBase), H::kRamSize, ptlib::PhysAddr(pa), size,
                             l.linear.base.value - H::kRamBase, va - pa, ptlib::VirtAddr(va)};
    demo::Boot<demo::Single<F>, H>::resume(p, H::caps());
  });
  demo::check(false, "ptlib chose a format");
  demo::verdict(x86demo::kName);
  x86demo::qemu_exit(1);
}
