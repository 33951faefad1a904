// The x86 hooks of demo::Boot (demo/common/boot.hpp) for every x86 format: x86-32, PAE,
// 4-level and 5-level. The same struct serves the 32-bit kernels (i686), the 64-bit kernels'
// 32-bit loader (phase 1) and their 64-bit part (phase 2 and the checks); what differs between
// them is only where execution continues after phase 1 (x86_continue, one per program).
//
// Sources: Intel SDM vol. 3A 2.5 (CR0.PG/WP, CR4.PAE/PSE/PGE/LA57), 4.1.2 (enabling paging:
// CR4 and CR3 before CR0.PG; IA-32e mode: EFER.LME, then CR0.PG activates it, EFER.LMA reads
// 1), 4.10.4.1 (MOV to CR3 keeps global TLB entries; toggling CR4.PGE flushes them too; INVLPG
// also drops global entries), 6.15 (#PF error code: P [0], W/R [1], I/D [4]; CR2 = the linear
// address), 6.11 / 6.14.1 (IDT gates, 32- and 64-bit). Multiboot v1 spec 3.3 (boot
// information: flags bit 0 -> mem_lower / mem_upper in KiB).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <ptlib/x86_boot.hpp>

#include "boot.hpp"
#include "cpu.hpp"
#include "downgrade.hpp"

// From start32.S / start64.S.
extern "C" [[gnu::visibility("hidden")]] char x86_isr0[];
extern "C" [[gnu::visibility("hidden")]] std::uint64_t x86_gdt[4];

namespace x86demo {

/// Where execution continues after phase 1: the 32-bit kernels move to the high VA; the
/// 64-bit kernels' loader jumps into the 64-bit part. Defined once per program.
[[noreturn]] void x86_continue(void (*fn)(), std::uintptr_t offset);

/// The test name (PASS/INFO line), from the build.
#ifndef DEMO_NAME
#error "DEMO_NAME (the test name) must be defined"
#endif
inline constexpr const char* kName = DEMO_NAME;

/// The selectors of x86_gdt.
inline constexpr std::uint16_t kCode32 = 0x08, kCode64 = 0x18;

// ---- traps and probes --------------------------------------------------------------------

struct TrapFrame {
#ifdef __x86_64__
  std::uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax, vector, error, ip, cs, flags, sp, ss;
#else
  std::uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax, vector, error, ip, cs, flags;
#endif
};

/// Armed by a probe: where the trap handler resumes after a page fault (0: not armed), and
/// what the fault was.
inline volatile word g_resume = 0;
inline volatile word g_fault_error = 0, g_fault_addr = 0;
inline volatile bool g_faulted = false;

/// Records a page fault while a probe is armed; any other trap ends the boot with FAIL.
inline void on_trap(TrapFrame* f) {
  if (f->vector == 14 && g_resume) {
    g_faulted = true;
    g_fault_error = f->error;
    g_fault_addr = read_cr2();
    f->ip = g_resume;
    g_resume = 0;
    return;
  }
  demo::puts("  trap vector=");
  demo::put_hex(f->vector);
  demo::puts(" error=");
  demo::put_hex(f->error);
  demo::puts(" ip=");
  demo::put_hex(f->ip);
  demo::puts(" cr2=");
  demo::put_hex(read_cr2());
  demo::puts("\n");
  demo::check(false, "no unexpected exception");
  demo::verdict(kName);
  qemu_exit(1);
}

inline demo::Probe probe_result() {
  if (!g_faulted) return {};
  const word e = g_fault_error;
  const demo::Access kind = (e & 0x10) ? demo::Access::exec : (e & 0x2) ? demo::Access::write : demo::Access::read;
  return {kind, std::uint64_t(g_fault_addr)};
}

// The probes arm g_resume with the address right after the access (a label computed
// PC-relatively: the image runs at two addresses).
#ifdef __x86_64__
#define X86DEMO_ARM "lea 1f(%%rip), %%rax\n\tmov %%rax, %[res]\n\t"
#define X86DEMO_SCRATCH "rax"
#define X86DEMO_SP "%%rsp"
#else
#define X86DEMO_ARM "call 2f\n2:\tpop %%eax\n\tadd $(1f - 2b), %%eax\n\tmov %%eax, %[res]\n\t"
#define X86DEMO_SCRATCH "eax"
#define X86DEMO_SP "%%esp"
#endif

inline demo::Probe try_read(word va, word& value) {
  g_faulted = false;
  word v = 0;
  asm volatile(X86DEMO_ARM "mov (%[va]), %[v]\n1:" : [v] "+r"(v), [res] "=m"(g_resume) : [va] "r"(va)
               : X86DEMO_SCRATCH, "memory");
  g_resume = 0;
  value = v;
  return probe_result();
}
inline demo::Probe try_write(word va, word value) {
  g_faulted = false;
  asm volatile(X86DEMO_ARM "mov %[v], (%[va])\n1:" : [res] "=m"(g_resume) : [va] "r"(va), [v] "r"(value)
               : X86DEMO_SCRATCH, "memory");
  g_resume = 0;
  return probe_result();
}
/// Calls va. If the fetch faults, the handler resumes after the call with the return address
/// still pushed; the saved stack pointer drops it.
inline demo::Probe try_exec(word va) {
  g_faulted = false;
  static volatile word saved_sp;
  asm volatile("mov " X86DEMO_SP ", %[sp]\n\t" X86DEMO_ARM "call *%[va]\n1:\tmov %[sp], " X86DEMO_SP
               : [res] "=m"(g_resume), [sp] "=m"(saved_sp) : [va] "r"(va)
               : X86DEMO_SCRATCH, "memory");
  g_resume = 0;
  return probe_result();
}
#undef X86DEMO_ARM
#undef X86DEMO_SCRATCH
#undef X86DEMO_SP

// ---- descriptor tables -------------------------------------------------------------------

#ifdef __x86_64__
struct Gate {
  std::uint16_t off0, sel;
  std::uint8_t ist, attr;
  std::uint16_t off1;
  std::uint32_t off2, zero;
};
#else
struct Gate {
  std::uint16_t off0, sel;
  std::uint8_t zero, attr;
  std::uint16_t off1;
};
#endif
struct [[gnu::packed]] DescriptorPointer {
  std::uint16_t limit;
  word base;
};
inline constinit Gate g_idt[32]{};

/// Loads the GDT and an IDT of interrupt gates (type 0xE, present, DPL 0) at the addresses the
/// image runs at now, so that both stay reachable once only the high VA is mapped.
inline void load_descriptor_tables() {
  const DescriptorPointer gdt{sizeof x86_gdt - 1, reinterpret_cast<word>(x86_gdt)};
  asm volatile("lgdt %0" ::"m"(gdt));
  const word code = reinterpret_cast<word>(x86_isr0);
#ifdef __x86_64__
  for (unsigned i = 0; i < 32; ++i) {
    const std::uint64_t a = code + 16 * i;
    g_idt[i] = Gate{std::uint16_t(a), kCode64, 0, 0x8e, std::uint16_t(a >> 16), std::uint32_t(a >> 32), 0};
  }
#else
  for (unsigned i = 0; i < 32; ++i) {
    const std::uint32_t a = code + 16 * i;
    g_idt[i] = Gate{std::uint16_t(a), kCode32, 0, 0x8e, std::uint16_t(a >> 16)};
  }
#endif
  const DescriptorPointer idt{sizeof g_idt - 1, reinterpret_cast<word>(g_idt)};
  asm volatile("lidt %0" ::"m"(idt));
}

// ---- the hooks ---------------------------------------------------------------------------

/// RAM the kernels assume: 126 MiB from 0 (QEMU `-m 128M` reserves its top 128 KiB for ACPI;
/// 126 MiB keeps the linear map 2 MiB-aligned). The boot checks multiboot's memory information.
inline constexpr std::uint64_t kRamSize = 126ULL << 20;

template <ptlib::PagingFormat F>
struct Hooks {
  using Caps = typename F::Caps;
  static const char* name() { return kName; }
  static constexpr const ptlib::Layout& layout() { return ptlib::x86::layout<F>(); }
  static constexpr std::uint64_t kRamBase = 0, kRamSize = x86demo::kRamSize;
  static constexpr std::uint64_t kLoadPa = 0x10'0000, kImageMax = 4ULL << 20;
  /// x86's console is an I/O port, not memory. The device the demo maps instead is the local
  /// APIC's register page (SDM vol. 3A 10.4.1: default base FEE0_0000H).
  static constexpr std::array<demo::Device, 1> kDevices{{{0xfee0'0000ULL, 0x1000}}};

  static Caps caps() { return cpu::caps(cpu::features()); }
  static ptlib::Attrs device_attrs(const Caps&) {
    return ptlib::Attrs{ptlib::Perm::read | ptlib::Perm::write | ptlib::Perm::global, ptlib::MemType::device};
  }

  /// Paging off (phase 1): cpu::enable_paging (CR4, CR3, EFER, then CR0.PG|WP; for 4-/5-level
  /// paging this enters IA-32e mode, compatibility submode: the 32-bit loader keeps running).
  /// Paging on (phase 2): cpu::switch_tables (CR3, then a full flush: the phase-1 leaves are
  /// global).
  template <class S>
  static bool activate(const S& s) {
    if (!(cpu::read_cr0() & ptlib::x86::cr::kCr0Pg)) return cpu::enable_paging(s.tree).ok();
    return cpu::switch_tables(s.tree).ok();
  }

  /// CR3 whole; CR4, EFER and CR0 in the bits ptlib decides (want = ptlib's set bits).
  template <class S>
  static std::size_t read_back(const S& s, demo::Reg* out) {
    const auto cr3 = ptlib::x86::cr3(s.tree);
    const auto cr4 = ptlib::x86::cr4<F>(s.tree.caps);
    const ptlib::x86::ControlBits efer = ptlib::x86::efer<F>(s.tree.caps), cr0 = ptlib::x86::kCr0;
    std::size_t n = 0;
    out[n++] = {"CR3", cr3 ? *cr3 : ~0ULL, cpu::read_cr3()};
    out[n++] = {"CR4 paging bits", cr4 ? cr4->set : ~0ULL, cpu::read_cr4() & (cr4 ? cr4->set | cr4->clear : 0)};
    if (cpu::has_efer(cpu::features()))
      out[n++] = {"IA32_EFER LME/NXE", efer.set, cpu::rdmsr(cpu::kMsrEfer) & (efer.set | efer.clear)};
    out[n++] = {"CR0 PE/WP/PG", cr0.set, cpu::read_cr0() & (cr0.set | cr0.clear)};
    return n;
  }

  using Sync = cpu::TlbSync;  // INVLPG per page, a full flush (CR3 + CR4.PGE) for large ranges
  /// No PCIDs: a CR3 reload drops every non-global entry; INVLPG one page.
  static void flush_address_space() { cpu::flush_non_global(); }
  static void flush_page_in_address_space(std::uintptr_t va) { cpu::invlpg(va); }

  [[noreturn]] static void continue_at(void (*fn)(), std::uintptr_t offset) { x86_continue(fn, offset); }
  static void on_high() { load_descriptor_tables(); }
  static demo::Probe try_read(std::uintptr_t va, std::uintptr_t& v) { return x86demo::try_read(va, v); }
  static demo::Probe try_write(std::uintptr_t va, std::uintptr_t v) { return x86demo::try_write(va, v); }
  static demo::Probe try_exec(std::uintptr_t va) { return x86demo::try_exec(va); }
  /// RET (C3H); x86 keeps instruction fetch coherent with stores (SDM vol. 3A 11.6).
  static void write_return(std::uintptr_t va) { *reinterpret_cast<volatile std::uint8_t*>(va) = 0xc3; }
  [[noreturn]] static void exit(bool pass) { qemu_exit(pass ? 0 : 1); }

  /// The 64-bit kernels choose 4- or 5-level paging at run time (INFO chosen=).
  static const char* chosen()
    requires(std::is_same_v<F, ptlib::x86::Long4> || std::is_same_v<F, ptlib::x86::Long5>)
  {
    return F::kName;
  }

  /// x86's own checks on the final tables (demo::Boot calls them after its own).
  template <class S>
  static void arch_checks(const S& s, const ptlib::Placement& p) {
    const ptlib::DirectAccess linear(std::uintptr_t(p.va_pa_offset));
    // The linear map uses the format's large pages: 4 MiB PDEs in 32-bit paging with CR4.PSE
    // (SDM Table 4-4), 2 MiB PDEs otherwise (Tables 4-9, 4-18); 126 MiB of RAM is too little
    // for a 1 GiB page.
    const bool legacy32 = std::is_same_v<F, ptlib::x86::X86_32>;
    const std::uint64_t want = legacy32 ? (s.tree.caps.pse ? 4ULL << 20 : 4096) : 2ULL << 20;
    const std::uint64_t pa = 64ULL << 20;
    auto t = ptlib::translate(s.tree, linear, p.linear_map().base + pa);
    demo::check_eq(legacy32 ? "linear-map leaf size (4 MiB PSE page)" : "linear-map leaf size (2 MiB page)",
                   t && t->pa.value == pa ? t->leaf.size : 0, want);

    // The device mapping reaches the local APIC: its version register (offset 30H) reads 1XH,
    // "integrated APIC" (SDM vol. 3A 10.4.8), through the uncached fixmap page.
    if ((cpu::cpuid(1).edx >> 9) & 1) {
      const std::uint32_t v = *reinterpret_cast<volatile std::uint32_t*>(demo::dev(0) + 0x30);
      demo::check_eq("local APIC version register bits 7:4, read through the device mapping", v & 0xf0, 0x10);
    }

    // The TLB maintenance (Sync: INVLPG) shows in a permission downgrade and in an unmap that
    // releases no table (demo/common/downgrade.hpp): RAM from the image's .bss, at a VA past
    // the common checks' ones (vmalloc + k * 8 MiB, k < 4). Without execute-disable (x86-32,
    // or PAE without NX) every map is explicitly executable.
    const auto scratch = reinterpret_cast<std::uintptr_t>(g_scratch);
    const ptlib::Options live{.allow_implied_exec = legacy32 || !s.tree.caps.nx,
                              .live = ptlib::Live::break_before_make};
    demo::downgrade_check<Hooks>(s, p, p.load_pa.value + (scratch - p.image_va.value),
                                 p.layout.vmalloc.base + (32ULL << 20), live);
  }

 private:
  /// Free RAM for downgrade_check: two pages to map and eight for their tables.
  alignas(4096) static inline constinit std::uint8_t g_scratch[10 * 4096]{};
};

/// The multiboot memory information (spec 3.3): mem_lower KiB from 0, mem_upper KiB from 1 MiB.
/// The kernels need RAM up to kRamSize; false if the boot loader reports less.
inline bool ram_ok(std::uint32_t magic, word info_pa) {
  if (magic != 0x2bad'b002) return false;
  const auto* info = reinterpret_cast<const std::uint32_t*>(info_pa);
  if (!(info[0] & 1)) return false;
  return (std::uint64_t{info[2]} << 10) + (1ULL << 20) >= kRamSize;
}

}  // namespace x86demo

/// The trap entry of start32.S / start64.S.
extern "C" [[gnu::used]] inline void x86_trap(x86demo::TrapFrame* f) { x86demo::on_trap(f); }
