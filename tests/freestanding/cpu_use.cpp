// Instantiates every CPU helper of the target's architecture (<ptlib/cpu/*.hpp>), so the suite
// 'freestanding' assembles all their instructions for that target (a header compiled alone
// instantiates no template and assembles nothing). Built to an object, then check_object.sh.
#include <cstdint>

#include <ptlib/ptlib.hpp>
#if defined(__riscv)
#include <ptlib/cpu/riscv.hpp>
#elif defined(__aarch64__)
#include <ptlib/cpu/arm64.hpp>
#elif defined(__arm__)
#include <ptlib/cpu/armv7.hpp>
#else
#include <ptlib/cpu/x86.hpp>
#endif

using namespace ptlib;

// Each function uses every helper once; the results go to a volatile sink.
volatile std::uint64_t sink;

#if defined(__riscv)
#if __riscv_xlen == 64
using F = riscv::Sv39;
#else
using F = riscv::Sv32;
#endif
void use(const Tree<F>& t) {
  namespace c = riscv::cpu;
  sink = c::activate(t, 1).ok();
  c::write_satp(c::read_satp());
  c::sfence_vma_all();
  c::sfence_vma(0x1000);
  c::sfence_vma_asid(3);
  c::sfence_vma(0x1000, 3);
  c::fence_w_w();
  c::TlbSync s;
  s.publish();
  s.invalidate(VirtAddr(0x1000), 0x3000);
  s.invalidate(VirtAddr(0), 2ULL << 20);
}
#elif defined(__aarch64__)
using Low = arm64::Vmsa4k48;
using High = arm64::Vmsa<arm64::Granule::k4K, 48, VaRule::high>;
void use(const SplitSpace<Low, High>& sp) {
  namespace c = arm64::cpu;
  auto r = arm64::split_regs(sp);
  if (!r) return;
  sink = c::enable_mmu(*r).ok();
  c::switch_tables(*r);
  sink = c::read_sctlr_el1() ^ c::read_tcr_el1() ^ c::read_mair_el1() ^ c::read_ttbr0_el1() ^ c::read_ttbr1_el1() ^
         c::read_id_aa64mmfr0_el1() ^ c::read_id_aa64mmfr2_el1();
  c::invalidate_va(0x1000);
  c::invalidate_va(0x1000, 7);
  c::invalidate_asid(7);
  c::invalidate_all();
  c::ic_ialluis();
  std::uint64_t pa = 0;
  sink = c::translate_read(0x1000, pa) ? pa : 0;
  c::TlbSync<Low> s;
  s.publish();
  s.invalidate(VirtAddr(0x1000), 0x3000);
  s.invalidate(VirtAddr(0), 2ULL << 20);
  static_assert(SyncHook<c::TlbSync<Low>>);
}
#elif defined(__arm__)
using Space = armv7::Split<0, 4>;
void use(const Space& sp) {
  namespace c = armv7::cpu;
  auto r = armv7::split_regs(sp);
  if (!r) return;
  sink = c::enable_mmu(*r).ok();
  c::switch_tables(*r);
  sink = c::read_sctlr() ^ c::read_ttbcr() ^ c::read_mair0() ^ c::read_mair1() ^ c::read_ttbr0() ^ c::read_ttbr1();
  c::invalidate_va(0x1000);
  c::invalidate_va(0x1000, 7);
  c::invalidate_asid(7);
  c::invalidate_all();
  c::icialluis();
  std::uint64_t pa = 0;
  sink = c::translate_read(0x1000, pa) ? pa : 0;
  c::TlbSync s;
  s.publish();
  s.invalidate(VirtAddr(0x1000), 0x3000);
}
#else
#ifdef __x86_64__
using F = x86::Long4;
#else
using F = x86::Pae;
#endif
void use(const Tree<F>& t) {
  namespace c = x86::cpu;
  const c::Features f = c::features();
  sink = c::caps(f).nx + c::has_efer(f) + c::cpuid(7).ecx;
  sink = c::enable_paging(t).ok();
  sink = c::switch_tables(t).ok();
  sink = c::read_cr0() ^ c::read_cr2() ^ c::read_cr4() ^ c::rdmsr(c::kMsrEfer);
  c::wrmsr(c::kMsrEfer, sink);
  c::invlpg(0x1000);
  c::flush_non_global();
  c::flush_all();
  c::TlbSync s;
  s.publish();
  s.invalidate(VirtAddr(0x1000), 0x3000);
}
#endif
