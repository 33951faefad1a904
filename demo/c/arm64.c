/* arm64 C demo kernel (EL1, QEMU virt), 4K granule, 48-bit VA, against ptlib.h only: TTBR0_EL1
 * holds the low tree (phase 1's identity map, then an empty one), TTBR1_EL1 the kernel half
 * (linear map, the image at the layout's image VA, the UART at the fixmap). Entry, vectors and
 * linker script are demo/arm64/start.S and link.ld.
 *
 * Sources: Arm ARM DDI 0487K.a: D8.16 (TLB maintenance), C5.5 (TLBI VAALE1IS: Xt[43:0] =
 * VA[55:12]; AT S1E1R), D19.2 (SCTLR_EL1 M [0], C [2], I [12]; PAR_EL1 F [0], PA [51:12];
 * ID_AA64MMFR0_EL1.PARange [3:0]; ESR_EL1 EC [31:26]: 0x25 data abort, 0x21 instruction abort
 * at the same EL, WnR [6]); semihosting SYS_EXIT (ARM IHI 0046: x0 = 0x18, x1 -> {0x20026,
 * status}, HLT #0xF000); PL011 TRM (UARTDR at offset 0); QEMU hw/arm/virt.c (RAM at 0x40000000,
 * UART0 at 0x09000000). */
#include "demo.h"

#define SYSREG(name)                                                       \
  static uint64_t read_##name(void) {                                      \
    uint64_t v;                                                            \
    __asm__ volatile("mrs %0, " #name : "=r"(v)::"memory");                \
    return v;                                                              \
  }                                                                        \
  static void write_##name(uint64_t v) { __asm__ volatile("msr " #name ", %0" ::"r"(v) : "memory"); }
SYSREG(sctlr_el1)
SYSREG(tcr_el1)
SYSREG(mair_el1)
SYSREG(ttbr0_el1)
SYSREG(ttbr1_el1)

static uint64_t read_mmfr0(void) {
  uint64_t v;
  __asm__ volatile("mrs %0, id_aa64mmfr0_el1" : "=r"(v));
  return v;
}
static void isb(void) { __asm__ volatile("isb" ::: "memory"); }

void arch_describe(demo_arch* a) {
  a->name = DEMO_NAME;
  a->formats[0] = PTLIB_ARM64_4K_48;
  a->formats[1] = PTLIB_ARM64_4K_48_TTBR1;
  a->format_count = 2;
  a->layout_format = PTLIB_ARM64_4K_48_TTBR1;
  a->caps = 0;
  a->ram_base = 0x40000000u;
  a->ram_size = (uint64_t)1024 << 20;
  a->load_pa = 0x40200000u;
  a->image_max = (uint64_t)2 << 20;
  a->devices[0].pa = 0x09000000u; /* PL011 UART0 */
  a->devices[0].size = 0x1000;
  a->device_count = 1;
  a->device_attrs = PTLIB_R | PTLIB_W | PTLIB_MEM_DEVICE;
}

void arch_putc(char c) { *(volatile uint32_t*)demo_dev[0] = (uint32_t)(unsigned char)c; }

/* The CPU's PA size (TCR_EL1.IPS must not exceed it). */
static uint32_t pa_bits(void) {
  static const uint8_t kBits[7] = {32, 36, 40, 42, 44, 48, 52};
  const uint32_t r = (uint32_t)(read_mmfr0() & 0xf);
  const uint32_t b = r < 7 ? kBits[r] : 52;
  return b < 48 ? b : 48;
}

typedef struct regs {
  uint64_t ttbr0, ttbr1, tcr, mair;
} regs;
static bool compute(const demo_space* s, regs* r) {
  ptlib_tcr_options o = {0, 0, {0, 0, 0}, {0, 0, 0}};
  ptlib_error err;
  o.pa_bits = pa_bits();
  r->mair = PTLIB_ARM64_MAIR_EL1;
  return ptlib_arm64_ttbr(&s->tree[0], 0, false, &r->ttbr0, &err) == PTLIB_OK &&
         ptlib_arm64_ttbr(&s->tree[1], 0, false, &r->ttbr1, &err) == PTLIB_OK &&
         ptlib_arm64_tcr(s->tree[0].format, s->tree[1].format, &o, &r->tcr, &err) == PTLIB_OK;
}

static void tlb_flush_all(void) { __asm__ volatile("dsb ishst; tlbi vmalle1is; dsb ish; isb" ::: "memory"); }

bool arch_activate(const demo_space* s) {
  regs r;
  if (!compute(s, &r)) return false;
  if (!(read_sctlr_el1() & 1u)) {
    write_mair_el1(r.mair);
    write_tcr_el1(r.tcr);
    write_ttbr0_el1(r.ttbr0);
    write_ttbr1_el1(r.ttbr1);
    isb();
    __asm__ volatile("dsb ish; tlbi vmalle1; dsb ish; isb" ::: "memory");
    write_sctlr_el1(read_sctlr_el1() | 1u | (1u << 2) | (1u << 12));
    isb();
  } else {
    __asm__ volatile("dsb ish" ::: "memory");
    write_ttbr0_el1(r.ttbr0);
    write_ttbr1_el1(r.ttbr1);
    isb();
    tlb_flush_all();
  }
  return (read_sctlr_el1() & 1u) && read_tcr_el1() == r.tcr;
}

size_t arch_read_back(const demo_space* s, demo_reg* out) {
  regs r = {0, 0, 0, 0};
  if (!compute(s, &r)) r.ttbr0 = r.ttbr1 = r.tcr = r.mair = 0;
  out[0] = demo_reg_of("TTBR0_EL1 (ptlib_arm64_ttbr)", r.ttbr0, read_ttbr0_el1());
  out[1] = demo_reg_of("TTBR1_EL1", r.ttbr1, read_ttbr1_el1());
  out[2] = demo_reg_of("TCR_EL1 (ptlib_arm64_tcr)", r.tcr, read_tcr_el1());
  out[3] = demo_reg_of("MAIR_EL1 (PTLIB_ARM64_MAIR_EL1)", r.mair, read_mair_el1());
  return 4;
}

/* The sync hook: DSB ISHST; TLBI VAALE1IS per 4 KiB page (all ASIDs, last level), or one TLBI
 * VMALLE1IS for larger ranges (released tables, splits: walk caches too); DSB ISH; ISB. */
void arch_publish(void* ctx) {
  (void)ctx;
  __asm__ volatile("dsb ishst" ::: "memory");
}
void arch_invalidate(void* ctx, uint64_t va, uint64_t size) {
  const uint64_t pages = (size + 4095) >> 12;
  uint64_t i;
  (void)ctx;
  __asm__ volatile("dsb ishst" ::: "memory");
  if (pages > 64) {
    __asm__ volatile("tlbi vmalle1is" ::: "memory");
  } else {
    for (i = 0; i < pages; ++i) {
      const uint64_t arg = ((va + (i << 12)) >> 12) & ((UINT64_C(1) << 44) - 1);
      __asm__ volatile("tlbi vaale1is, %0" ::"r"(arg) : "memory");
    }
  }
  __asm__ volatile("dsb ish; isb" ::: "memory");
}

void demo_continue_at(void (*fn)(void), uintptr_t offset); /* start.S */
void arch_continue_at(void (*fn)(void), uintptr_t offset) { demo_continue_at(fn, offset); }

void arch_on_high(void) {
  uint64_t vec;
  __asm__ volatile("adr %0, vectors\n msr vbar_el1, %0\n isb" : "=r"(vec)::"memory");
}

demo_probe arch_try_read(uintptr_t va, uintptr_t* value) {
  uint64_t v = 0;
  demo_arm();
  __asm__ volatile("ldr %0, [%1]" : "+r"(v) : "r"(va) : "memory");
  *value = (uintptr_t)v;
  return demo_disarm();
}
demo_probe arch_try_write(uintptr_t va, uintptr_t value) {
  demo_arm();
  __asm__ volatile("str %0, [%1]" ::"r"(value), "r"(va) : "memory");
  return demo_disarm();
}
demo_probe arch_try_exec(uintptr_t va) {
  demo_arm();
  __asm__ volatile("blr %0" ::"r"(va)
                   : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
                     "x15", "x16", "x17", "x30", "memory");
  return demo_disarm();
}
/* RET (Arm ARM C6.2: 0xd65f03c0), then D-cache clean and I-cache invalidate to the PoU. */
void arch_write_return(uintptr_t va) {
  *(volatile uint32_t*)va = 0xd65f03c0u;
  __asm__ volatile("dc cvau, %0\n dsb ish\n ic ivau, %0\n dsb ish\n isb" ::"r"(va) : "memory");
}

static void exit_qemu(int code) {
  volatile uint64_t block[2];
  register uint64_t x0 __asm__("x0") = 0x18;
  register uint64_t x1 __asm__("x1");
  block[0] = 0x20026;
  block[1] = (uint64_t)code;
  x1 = (uint64_t)(uintptr_t)&block[0];
  __asm__ volatile("hlt #0xf000" ::"r"(x0), "r"(x1) : "memory");
  for (;;) __asm__ volatile("wfe");
}
void arch_exit(bool pass) { exit_qemu(pass ? 0 : 1); }

/* The CPU's own walk (AT S1E1R) against ptlib_translate() of the final tables: text, rodata,
 * the image's last word, the linear map's first and last words, the UART. */
void arch_checks(const demo_space* s, const ptlib_memory* mem, uint64_t image_va, uint64_t image_size,
                 uint64_t va_pa_offset) {
  ptlib_layout l;
  uint64_t probes[6];
  bool agree = true;
  size_t i;
  const uint64_t ram_base = 0x40000000u, ram_size = (uint64_t)1024 << 20;
  ptlib_layout_of(PTLIB_ARM64_4K_48_TTBR1, &l);
  probes[0] = image_va;
  probes[1] = image_va + (uint64_t)(__rodata_start - __image_start);
  probes[2] = image_va + image_size - 8;
  probes[3] = ram_base + va_pa_offset;
  probes[4] = ram_base + va_pa_offset + ram_size - 8;
  probes[5] = l.fixmap.base;
  for (i = 0; i < 6; ++i) {
    uint64_t pa = 0, par;
    ptlib_error err;
    const ptlib_tree* t = demo_tree_for(s, probes[i], 8);
    __asm__ volatile("at s1e1r, %0" ::"r"(probes[i]) : "memory");
    isb();
    __asm__ volatile("mrs %0, par_el1" : "=r"(par)::"memory");
    agree = agree && t && ptlib_translate(t, mem, probes[i], &pa, 0, &err) == PTLIB_OK && !(par & 1u) &&
            ((par & UINT64_C(0x000ffffffffff000)) | (probes[i] & 0xfff)) == pa;
  }
  demo_check(agree, "AT S1E1R (the CPU's walk) gives ptlib_translate()'s PA: text, rodata, bss, linear map, UART");
}

/* The frame start.S saves: x0..x30, ELR_EL1, SPSR_EL1, ESR_EL1, FAR_EL1 (ELR is restored). */
typedef struct trap_frame {
  uint64_t x[31];
  uint64_t elr, spsr, esr, far;
} trap_frame;

void arm64_trap(trap_frame* f);
void arm64_trap(trap_frame* f) {
  static bool failing;
  const unsigned ec = (unsigned)(f->esr >> 26) & 0x3f;
  if (demo_armed() && (ec == 0x25 || ec == 0x21)) {
    demo_fault(ec == 0x21 ? DEMO_EXEC : ((f->esr >> 6) & 1u) ? DEMO_WRITE : DEMO_READ, f->far);
    f->elr = ec == 0x25 ? f->elr + 4 : f->x[30];
    return;
  }
  if (failing) exit_qemu(1); /* an exception while reporting one */
  failing = true;
  demo_puts("unexpected exception: ESR_EL1=");
  demo_put_hex(f->esr);
  demo_puts(" FAR_EL1=");
  demo_put_hex(f->far);
  demo_puts(" ELR_EL1=");
  demo_put_hex(f->elr);
  demo_puts("\n");
  demo_stop("no unexpected exception", 0);
}

void arm64_main(void);
void arm64_main(void) { demo_boot(); }
