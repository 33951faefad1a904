/* x86-64 4-level C demo kernel against ptlib.h only, in two programs as the C++ x86-64 demos:
 * this file built for i686 with -DDEMO_LOADER is the 32-bit loader (multiboot enters
 * demo/x86/start32.S with paging off; phase 1 builds the tables with the C API compiled for
 * i686 and enables IA-32e mode), and built for x86_64 it is the 64-bit part (demo/x86/start64.S:
 * self-relocation to the image window, then phase 2 and the checks with the C API compiled for
 * x86_64). The 64-bit part is a flat binary inside the loader's image (demo/x86/blob.S).
 *
 * Sources: Intel SDM vol. 2 (CPUID, RDMSR/WRMSR, MOV CRn, INVLPG), vol. 3A 2.5 (CR0.PG/WP,
 * CR4.PAE/PGE), 2.2.1 (IA32_EFER = MSR C000_0080H, LME [8], LMA [10], NXE [11]), 4.1.2 (enabling
 * paging: CR4 and CR3 before CR0.PG), 4.10.4.1 (toggling CR4.PGE flushes global entries), 6.14.1
 * and 6.11 (IDT gates), 6.15 (#PF error code: W/R [1], I/D [4]; CR2), 10.4.1 and 10.4.8 (local
 * APIC at FEE0_0000H, version register at 30H: 1XH for an integrated APIC); multiboot v1 spec 3.3
 * (flags bit 0: mem_upper in KiB from 1 MiB); QEMU isa-debug-exit (status (v << 1) | 1); System V
 * ABI relocations (R_X86_64_RELATIVE = 8: B + A). */
#include "demo.h"

typedef uintptr_t word;

/* ---- instructions ---- */

static void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static void qemu_exit(uint8_t code) {
  outb(0xf4, code);
  for (;;) __asm__ volatile("cli; hlt");
}
typedef struct cpuid_regs {
  uint32_t eax, ebx, ecx, edx;
} cpuid_regs;
static cpuid_regs cpuid(uint32_t leaf) {
  cpuid_regs r;
  __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(0));
  return r;
}
#define MSR_EFER 0xc0000080u
static uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
#define CR(n)                                                                                    \
  static word read_cr##n(void) {                                                                 \
    word v;                                                                                      \
    __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                            \
    return v;                                                                                    \
  }                                                                                              \
  static void write_cr##n(word v) { __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
CR(0)
CR(3)
CR(4)
static word read_cr2(void) {
  word v;
  __asm__ volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
static void invlpg(word va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

/* CPUID: 80000001H EDX.NX [20], Page1GB [26], LM [29]. */
static uint32_t ext_edx(void) { return cpuid(0x80000000u).eax >= 0x80000001u ? cpuid(0x80000001u).edx : 0; }
static uint32_t caps(void) {
  const uint32_t e = ext_edx();
  return ((e >> 26) & 1 ? PTLIB_CAP_PAGE1G : 0) | ((e >> 20) & 1 ? 0 : PTLIB_CAP_NO_NX);
}
static bool has_efer(void) { return (ext_edx() & ((1u << 20) | (1u << 29))) != 0; }

/* ---- hooks ---- */

#define RAM_SIZE ((uint64_t)126 << 20) /* QEMU -m 128M keeps its top 128 KiB; 2 MiB-aligned */
static uint64_t g_resume_pa; /* the 64-bit part: where it is loaded */

void arch_describe(demo_arch* a) {
  a->name = DEMO_NAME;
  a->formats[0] = PTLIB_X86_64_L4;
  a->format_count = 1;
  a->layout_format = PTLIB_X86_64_L4;
  a->caps = caps();
  a->ram_base = 0;
  a->ram_size = RAM_SIZE;
  a->load_pa = g_resume_pa ? g_resume_pa : 0x100000u;
  a->image_max = (uint64_t)4 << 20;
  /* x86's console is an I/O port; the device mapped is the local APIC's register page. */
  a->devices[0].pa = 0xfee00000u;
  a->devices[0].size = 0x1000;
  a->device_count = 1;
  a->device_attrs = PTLIB_R | PTLIB_W | PTLIB_G | PTLIB_MEM_DEVICE;
}

void arch_putc(char c) { outb(0x3f8, (uint8_t)c); }

static void flush_tlb_all(void) {
  const word cr4 = read_cr4();
  write_cr3(read_cr3());
  if (cr4 & (1u << 7)) {
    write_cr4(cr4 & ~(word)(1u << 7));
    write_cr4(cr4);
  }
}

bool arch_activate(const demo_space* s) {
  uint64_t cr3 = 0;
  ptlib_control_bits cr4, efer;
  ptlib_error err;
  const ptlib_tree* t = &s->tree[0];
  if (ptlib_x86_cr3(t, 0, &cr3, &err) != PTLIB_OK || ptlib_x86_cr4(t->format, t->caps, true, false, &cr4, &err) != PTLIB_OK ||
      ptlib_x86_efer(t->format, t->caps, &efer, &err) != PTLIB_OK)
    return false;
  if (!(read_cr0() & 0x80000000u)) {
    write_cr4((word)((read_cr4() & ~cr4.clear) | cr4.set));
    write_cr3((word)cr3);
    if (has_efer()) wrmsr(MSR_EFER, (rdmsr(MSR_EFER) & ~efer.clear) | efer.set);
    write_cr0((word)(read_cr0() | PTLIB_X86_CR0_BITS));
  } else {
    write_cr3((word)cr3);
    flush_tlb_all();
  }
  return (rdmsr(MSR_EFER) >> 10) & 1; /* EFER.LMA: IA-32e paging is active */
}

size_t arch_read_back(const demo_space* s, demo_reg* out) {
  uint64_t cr3 = ~(uint64_t)0;
  ptlib_control_bits cr4 = {~(uint64_t)0, 0}, efer = {0, 0};
  ptlib_error err;
  size_t n = 0;
  const ptlib_tree* t = &s->tree[0];
  ptlib_x86_cr3(t, 0, &cr3, &err);
  ptlib_x86_cr4(t->format, t->caps, true, false, &cr4, &err);
  ptlib_x86_efer(t->format, t->caps, &efer, &err);
  out[n++] = demo_reg_of("CR3 (ptlib_x86_cr3)", cr3, read_cr3());
  out[n++] = demo_reg_of("CR4 paging bits (ptlib_x86_cr4)", cr4.set, read_cr4() & (cr4.set | cr4.clear));
  if (has_efer())
    out[n++] = demo_reg_of("IA32_EFER LME/NXE (ptlib_x86_efer)", efer.set, rdmsr(MSR_EFER) & (efer.set | efer.clear));
  out[n++] = demo_reg_of("CR0 PE/WP/PG (PTLIB_X86_CR0_BITS)", PTLIB_X86_CR0_BITS, read_cr0() & PTLIB_X86_CR0_BITS);
  return n;
}

/* Table walks see plain stores (nothing to publish); INVLPG per page, a full flush for more. */
void arch_publish(void* ctx) {
  (void)ctx;
  __asm__ volatile("" ::: "memory");
}
void arch_invalidate(void* ctx, uint64_t va, uint64_t size) {
  uint64_t off;
  (void)ctx;
  if (size > 64 * 4096) {
    flush_tlb_all();
    return;
  }
  for (off = 0; off < size; off += 4096) invlpg((word)(va + off));
}

/* ---- traps and probes ---- */

typedef struct trap_frame {
#ifdef __x86_64__
  uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax, vector, error, ip, cs, flags, sp, ss;
#else
  uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax, vector, error, ip, cs, flags;
#endif
} trap_frame;

/* Where the trap handler resumes after a probe's page fault (set by the probe's asm). */
static volatile word g_resume;

void x86_trap(trap_frame* f);
void x86_trap(trap_frame* f) {
  if (f->vector == 14 && g_resume && demo_armed()) {
    demo_fault((f->error & 0x10) ? DEMO_EXEC : (f->error & 0x2) ? DEMO_WRITE : DEMO_READ, read_cr2());
    f->ip = g_resume;
    g_resume = 0;
    return;
  }
  demo_puts("  trap vector=");
  demo_put_hex(f->vector);
  demo_puts(" error=");
  demo_put_hex(f->error);
  demo_puts(" ip=");
  demo_put_hex(f->ip);
  demo_puts(" cr2=");
  demo_put_hex(read_cr2());
  demo_puts("\n");
  demo_stop("no unexpected exception", 0);
}

/* The probes arm g_resume with the address right after the access (PC-relative). */
#ifdef __x86_64__
#define ARM_RESUME "lea 1f(%%rip), %%rax\n\tmov %%rax, %[res]\n\t"
#define SCRATCH "rax"
#define SP "%%rsp"
#else
#define ARM_RESUME "call 2f\n2:\tpop %%eax\n\tadd $(1f - 2b), %%eax\n\tmov %%eax, %[res]\n\t"
#define SCRATCH "eax"
#define SP "%%esp"
#endif
demo_probe arch_try_read(uintptr_t va, uintptr_t* value) {
  word v = 0;
  demo_arm();
  __asm__ volatile(ARM_RESUME "mov (%[va]), %[v]\n1:" : [v] "+r"(v), [res] "=m"(g_resume) : [va] "r"(va)
                   : SCRATCH, "memory");
  g_resume = 0;
  *value = v;
  return demo_disarm();
}
demo_probe arch_try_write(uintptr_t va, uintptr_t value) {
  demo_arm();
  __asm__ volatile(ARM_RESUME "mov %[v], (%[va])\n1:" : [res] "=m"(g_resume) : [va] "r"(va), [v] "r"(value)
                   : SCRATCH, "memory");
  g_resume = 0;
  return demo_disarm();
}
/* Calls va; after a fetch fault the handler resumes after the call, the saved SP drops the
 * return address. */
demo_probe arch_try_exec(uintptr_t va) {
  static volatile word saved_sp;
  demo_arm();
  __asm__ volatile("mov " SP ", %[sp]\n\t" ARM_RESUME "call *%[va]\n1:\tmov %[sp], " SP
                   : [res] "=m"(g_resume), [sp] "=m"(saved_sp) : [va] "r"(va)
                   : SCRATCH, "memory");
  g_resume = 0;
  return demo_disarm();
}
/* RET (C3H); x86 keeps instruction fetch coherent with stores (SDM vol. 3A 11.6). */
void arch_write_return(uintptr_t va) { *(volatile uint8_t*)va = 0xc3; }
void arch_exit(bool pass) { qemu_exit(pass ? 0 : 1); }

/* ---- descriptor tables, at the addresses the image runs at ---- */

extern char x86_isr0[];
extern uint64_t x86_gdt[4];
#ifdef __x86_64__
typedef struct gate {
  uint16_t off0, sel;
  uint8_t ist, attr;
  uint16_t off1;
  uint32_t off2, zero;
} gate;
#define CODE_SEL 0x18
#else
typedef struct gate {
  uint16_t off0, sel;
  uint8_t zero, attr;
  uint16_t off1;
} gate;
#define CODE_SEL 0x08
#endif
struct __attribute__((packed)) descriptor_pointer {
  uint16_t limit;
  word base;
};
static gate g_idt[32];

void arch_on_high(void) {
  struct descriptor_pointer gdt, idt;
  const word code = (word)x86_isr0;
  unsigned i;
  gdt.limit = sizeof(uint64_t) * 4 - 1;
  gdt.base = (word)x86_gdt;
  __asm__ volatile("lgdt %0" ::"m"(gdt));
  for (i = 0; i < 32; ++i) {
    const word a = code + 16 * i;
    g_idt[i].off0 = (uint16_t)a;
    g_idt[i].sel = CODE_SEL;
    g_idt[i].attr = 0x8e; /* interrupt gate, present, DPL 0 */
    g_idt[i].off1 = (uint16_t)(a >> 16);
#ifdef __x86_64__
    g_idt[i].ist = 0;
    g_idt[i].off2 = (uint32_t)(a >> 32);
    g_idt[i].zero = 0;
#else
    g_idt[i].zero = 0;
#endif
  }
  idt.limit = sizeof g_idt - 1;
  idt.base = (word)g_idt;
  __asm__ volatile("lidt %0" ::"m"(idt));
}

void arch_checks(const demo_space* s, const ptlib_memory* mem, uint64_t image_va, uint64_t image_size,
                 uint64_t va_pa_offset) {
  uint64_t pa = 0;
  ptlib_leaf leaf;
  ptlib_error err;
  const uint64_t at = (uint64_t)64 << 20;
  (void)image_va;
  (void)image_size;
  /* The linear map uses 2 MiB pages (SDM Table 4-18); 126 MiB is too little for 1 GiB ones. */
  demo_check_eq("linear-map leaf size (2 MiB page)",
                ptlib_translate(&s->tree[0], mem, at + va_pa_offset, &pa, &leaf, &err) == PTLIB_OK && pa == at
                    ? leaf.size
                    : 0,
                (uint64_t)2 << 20);
  /* The device mapping reaches the local APIC: version register bits 7:4 = 1 (integrated). */
  if ((cpuid(1).edx >> 9) & 1)
    demo_check_eq("local APIC version register bits 7:4, read through the device mapping",
                  *(volatile uint32_t*)(demo_dev[0] + 0x30) & 0xf0, 0x10);
}

#ifdef DEMO_LOADER
/* ---- the 32-bit loader: phase 1, then the 64-bit part ---- */

extern char x86_blob_start[];
void x86_enter_long(uint32_t entry, uint32_t arg); /* start32.S */
static uint64_t g_blob_va; /* what start64.S reads: the VA phase 1 maps the 64-bit part at */

void arch_continue_at(void (*fn)(void), uintptr_t offset) {
  (void)fn;
  (void)offset;
  x86_enter_long((uint32_t)(uintptr_t)x86_blob_start, (uint32_t)(uintptr_t)&g_blob_va);
}

void x86_main(uint32_t magic, uint32_t info);
void x86_main(uint32_t magic, uint32_t info) {
  const uint32_t* mb = (const uint32_t*)(uintptr_t)info;
  ptlib_layout l;
  /* multiboot: magic, flags bit 0, RAM up to RAM_SIZE. */
  if (magic != 0x2badb002u || !(mb[0] & 1) || ((uint64_t)mb[2] << 10) + ((uint64_t)1 << 20) < RAM_SIZE)
    demo_stop("multiboot reports RAM up to the kernel's RAM size", 0);
  if (ptlib_layout_of(PTLIB_X86_64_L4, &l) != PTLIB_OK) demo_stop("the x86-64-l4 layout", 0);
  /* Phase 1 maps the whole loaded image at the image window: the 64-bit part follows. */
  g_blob_va = l.image_window.base + ((uintptr_t)x86_blob_start - 0x100000u);
  demo_boot();
}
#else
/* ---- the 64-bit part: relocation, then phase 2 ---- */

typedef struct rela {
  uint64_t offset, info;
  int64_t addend;
} rela;
extern const rela __rel_start[], __rel_end[];

void arch_continue_at(void (*fn)(void), uintptr_t offset) {
  (void)fn;
  (void)offset;
  demo_stop("the 64-bit part has no phase 1", 0);
}

/* Called by start64.S at the identity address: every R_X86_64_RELATIVE word for the image at
 * `target` (linked at 0). */
void x86_relocate(uint64_t running, uint64_t target);
void x86_relocate(uint64_t running, uint64_t target) {
  const rela* r;
  for (r = __rel_start; r != __rel_end; ++r) {
    if ((uint32_t)r->info != 8) {
      demo_stop("the 64-bit part has only relative relocations", 0);
      return;
    }
    *(uint64_t*)(uintptr_t)(running + r->offset) = target + (uint64_t)r->addend;
  }
}

void x86_main64(uint64_t pa, uint64_t va);
void x86_main64(uint64_t pa, uint64_t va) {
  g_resume_pa = pa;
  demo_resume(pa, va);
}
#endif
