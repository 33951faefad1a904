// RISC-V S-mode demo kernel (QEMU virt): the hooks demo/common/boot.hpp needs, for the format
// chosen at build time (-DDEMO_FORMAT=Sv39|Sv48|Sv57|Sv32, -DDEMO_NAME="<test name>",
// -DDEMO_SVNAPOT / -DDEMO_SVPBMT for the boot with those extensions).
//
// Sources: RISC-V priv spec 20211203: 4.1.1 (sstatus), 4.1.9 (scause codes: 12 instruction,
// 13 load, 15 store/AMO page fault), 4.1.11 (satp), 4.2.1 (SFENCE.VMA); QEMU hw/riscv/virt.c
// memory map (UART0 ns16550 at 0x10000000, sifive_test at 0x100000, RAM at 0x80000000).
#include <array>
#include <cstdint>

#include <ptlib/cpu/riscv.hpp>
#include <ptlib/riscv_boot.hpp>

#include "boot.hpp"
#include "downgrade.hpp"

namespace {

using F = ptlib::riscv::DEMO_FORMAT;
using Caps = ptlib::riscv::Caps;
using ptlib::Perm;

#if __riscv_xlen == 64
#define REG_L "ld"
#define REG_S "sd"
#else
#define REG_L "lw"
#define REG_S "sw"
#endif

// The probe protocol with riscv_trap(): arm, access, disarm. A page fault while armed is
// recorded and the access skipped (or, for a fetch, the probe returns to its caller).
volatile bool g_armed = false, g_hit = false;
volatile std::uintptr_t g_cause = 0, g_tval = 0;

void arm() {
  g_hit = false;
  g_armed = true;
  asm volatile("" ::: "memory");
}
demo::Probe disarm() {
  asm volatile("" ::: "memory");
  g_armed = false;
  if (!g_hit) return {};
  const demo::Access kind = g_cause == 12 ? demo::Access::exec : g_cause == 13 ? demo::Access::read : demo::Access::write;
  return {kind, g_tval};
}

struct Hooks {
  static const char* name() { return DEMO_NAME; }
  static constexpr const ptlib::Layout& layout() { return ptlib::riscv::layout<F>(); }
  static constexpr std::uint64_t kRamBase = 0x8000'0000, kRamSize = 128ULL << 20;
  static constexpr std::uint64_t kLoadPa = 0x8000'0000, kImageMax = 2ULL << 20;
  // dev(0): UART0 (ns16550, THR at +0), dev(1): sifive_test (exit).
  static constexpr std::array<demo::Device, 2> kDevices{{{0x1000'0000, 0x1000}, {0x10'0000, 0x1000}}};

  static Caps caps() {
    Caps c;
#ifdef DEMO_SVNAPOT
    c.svnapot = true;
#endif
#ifdef DEMO_SVPBMT
    c.svpbmt = true;
#endif
    return c;
  }
  // Without Svpbmt the PMAs make the UART I/O memory (PBMT = PMA, priv 7); with it, PBMT = IO.
  static ptlib::Attrs device_attrs(const Caps& c) {
    return {Perm::read | Perm::write | Perm::global, c.svpbmt ? ptlib::MemType::device : ptlib::MemType::normal};
  }

  /// satp through ptlib/cpu/riscv.hpp (SFENCE.VMA around the write; an unsupported MODE leaves
  /// satp unchanged, priv 4.1.11, and activate() says mode_not_supported).
  template <class S>
  static bool activate(const S& s) {
    return ptlib::riscv::cpu::activate(s.tree).ok();
  }
  template <class S>
  static std::size_t read_back(const S& s, demo::Reg* out) {
    auto v = ptlib::riscv::satp(s.tree);
    out[0] = {"satp (ptlib::riscv::satp of the final root)", v ? std::uint64_t(*v) : 0, ptlib::riscv::cpu::read_satp()};
    return 1;
  }

  using Sync = ptlib::riscv::cpu::TlbSync;  // FENCE W,W; SFENCE.VMA per page / all
  /// ASID 0: satp's (ptlib::riscv::cpu::activate(tree) with the default ASID).
  static void flush_address_space() { ptlib::riscv::cpu::sfence_vma_asid(0); }
  static void flush_page_in_address_space(std::uintptr_t va) { ptlib::riscv::cpu::sfence_vma(va, 0); }

  [[noreturn]] static void continue_at(void (*fn)(), std::uintptr_t offset);
  static void on_high() {
    std::uintptr_t vec;
    asm volatile("lla %0, trap_entry\n csrw stvec, %0" : "=r"(vec) :: "memory");
  }

  static demo::Probe try_read(std::uintptr_t va, std::uintptr_t& value) {
    std::uintptr_t v = 0;
    arm();
    asm volatile(REG_L " %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
    value = v;
    return disarm();
  }
  static demo::Probe try_write(std::uintptr_t va, std::uintptr_t value) {
    arm();
    asm volatile(REG_S " %0, 0(%1)" ::"r"(value), "r"(va) : "memory");
    return disarm();
  }
  static demo::Probe try_exec(std::uintptr_t va) {
    arm();
    asm volatile("jalr ra, 0(%0)" ::"r"(va)
                 : "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
                   "memory");
    return disarm();
  }
  static void write_return(std::uintptr_t va) {
    *reinterpret_cast<volatile std::uint16_t*>(va) = 0x8082;  // c.jr ra (RVC, "ret")
    asm volatile("fence.i" ::: "memory");
  }
  /// TLB maintenance (Sync: SFENCE.VMA per page): a permission downgrade and an unmap that
  /// releases no table (demo/common/downgrade.hpp), on scratch RAM in the middle of RAM (away
  /// from the image and from Boot's tables at the top) at a vmalloc VA past the common checks'.
  template <class S>
  static void arch_checks(const S& s, const ptlib::Placement& p) {
    demo::downgrade_check<Hooks>(s, p, kRamBase + kRamSize / 2, layout().vmalloc.base + (64ULL << 20));
  }
  [[noreturn]] static void exit(bool pass) {
    // sifive_test: 0x5555 = pass (status 0), (code << 16) | 0x3333 = fail with status `code`.
    *reinterpret_cast<volatile std::uint32_t*>(demo::dev(1)) = pass ? 0x5555 : (1U << 16) | 0x3333;
    for (;;) asm volatile("wfi");
  }
};

extern "C" [[noreturn]] void demo_continue_at(void (*fn)(), std::uintptr_t offset);
void Hooks::continue_at(void (*fn)(), std::uintptr_t offset) { demo_continue_at(fn, offset); }

using Boot = demo::Boot<demo::Single<F>, Hooks>;

}  // namespace

void demo::arch_putc(char c) { *reinterpret_cast<volatile std::uint8_t*>(demo::dev(0)) = std::uint8_t(c); }

extern "C" std::uintptr_t riscv_trap(std::uintptr_t cause, std::uintptr_t tval, std::uintptr_t epc, std::uintptr_t ra) {
  const bool page_fault = cause == 12 || cause == 13 || cause == 15;
  if (g_armed && page_fault) {
    g_cause = cause;
    g_tval = tval;
    g_hit = true;
    g_armed = false;
    if (cause == 12) return ra;  // a fetch fault: return to the probe's caller
    const auto insn = *reinterpret_cast<const volatile std::uint16_t*>(epc);
    return epc + ((insn & 3) == 3 ? 4 : 2);  // skip the (maybe compressed) access
  }
  demo::puts("unexpected trap: scause=");
  demo::put_hex(cause);
  demo::puts(" stval=");
  demo::put_hex(tval);
  demo::puts(" sepc=");
  demo::put_hex(epc);
  demo::puts("\n");
  demo::check(false, "no unexpected trap");
  Hooks::exit(demo::verdict(Hooks::name()));
}

extern "C" [[noreturn]] void kmain() { Boot::run(); }
