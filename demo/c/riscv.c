/* RISC-V S-mode C demo kernel (QEMU virt), Sv39, against ptlib.h only: the hooks demo.h asks
 * for. Entry, trap entry and linker script are demo/riscv/start.S and link.ld.
 *
 * Sources: RISC-V priv spec 20211203: 4.1.9 (scause: 12 instruction, 13 load, 15 store/AMO page
 * fault), 4.1.11 (satp), 4.2.1 (SFENCE.VMA); QEMU hw/riscv/virt.c (UART0 ns16550 at 0x10000000,
 * sifive_test at 0x100000, RAM at 0x80000000). */
#include "demo.h"

#if __riscv_xlen == 64
#define REG_L "ld"
#define REG_S "sd"
#else
#define REG_L "lw"
#define REG_S "sw"
#endif

void arch_describe(demo_arch* a) {
  a->name = DEMO_NAME;
  a->formats[0] = PTLIB_SV39;
  a->format_count = 1;
  a->layout_format = PTLIB_SV39;
  a->caps = 0;
  a->ram_base = 0x80000000u;
  a->ram_size = (uint64_t)128 << 20;
  a->load_pa = 0x80000000u;
  a->image_max = (uint64_t)2 << 20;
  a->devices[0].pa = 0x10000000u; /* UART0: THR at +0 */
  a->devices[0].size = 0x1000;
  a->devices[1].pa = 0x100000u; /* sifive_test: exit */
  a->devices[1].size = 0x1000;
  a->device_count = 2;
  /* Without Svpbmt the PMAs make the UART I/O memory (priv 7: PBMT = PMA). */
  a->device_attrs = PTLIB_R | PTLIB_W | PTLIB_G | PTLIB_MEM_NORMAL;
}

void arch_putc(char c) { *(volatile uint8_t*)demo_dev[0] = (uint8_t)c; }

static uintptr_t read_satp(void) {
  uintptr_t v;
  __asm__ volatile("csrr %0, satp" : "=r"(v));
  return v;
}

bool arch_activate(const demo_space* s) {
  uint64_t v = 0;
  ptlib_error err;
  if (ptlib_riscv_satp(&s->tree[0], 0, &v, &err) != PTLIB_OK) return false;
  __asm__ volatile("sfence.vma zero, zero\n csrw satp, %0\n sfence.vma zero, zero" ::"r"((uintptr_t)v) : "memory");
  return read_satp() == (uintptr_t)v; /* an unsupported MODE leaves satp unchanged (priv 4.1.11) */
}

size_t arch_read_back(const demo_space* s, demo_reg* out) {
  uint64_t v = 0;
  ptlib_error err;
  if (ptlib_riscv_satp(&s->tree[0], 0, &v, &err) != PTLIB_OK) v = 0;
  out[0] = demo_reg_of("satp (ptlib_riscv_satp of the final root)", v, read_satp());
  return 1;
}

void arch_publish(void* ctx) {
  (void)ctx;
  __asm__ volatile("fence rw, rw" ::: "memory");
}
void arch_invalidate(void* ctx, uint64_t va, uint64_t size) {
  uint64_t off;
  (void)ctx;
  if (size > 64 * 4096) {
    __asm__ volatile("sfence.vma zero, zero" ::: "memory");
    return;
  }
  for (off = 0; off < size; off += 4096) __asm__ volatile("sfence.vma %0, zero" ::"r"((uintptr_t)(va + off)) : "memory");
}

void demo_continue_at(void (*fn)(void), uintptr_t offset); /* start.S */
void arch_continue_at(void (*fn)(void), uintptr_t offset) { demo_continue_at(fn, offset); }

void arch_on_high(void) {
  uintptr_t vec;
  __asm__ volatile("lla %0, trap_entry\n csrw stvec, %0" : "=r"(vec)::"memory");
}

demo_probe arch_try_read(uintptr_t va, uintptr_t* value) {
  uintptr_t v = 0;
  demo_arm();
  __asm__ volatile(REG_L " %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
  *value = v;
  return demo_disarm();
}
demo_probe arch_try_write(uintptr_t va, uintptr_t value) {
  demo_arm();
  __asm__ volatile(REG_S " %0, 0(%1)" ::"r"(value), "r"(va) : "memory");
  return demo_disarm();
}
demo_probe arch_try_exec(uintptr_t va) {
  demo_arm();
  __asm__ volatile("jalr ra, 0(%0)" ::"r"(va)
                   : "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
                     "memory");
  return demo_disarm();
}
void arch_write_return(uintptr_t va) {
  *(volatile uint16_t*)va = 0x8082; /* c.jr ra (RVC "ret") */
  __asm__ volatile("fence.i" ::: "memory");
}
void arch_exit(bool pass) {
  /* sifive_test: 0x5555 = pass (status 0), (code << 16) | 0x3333 = fail with status code. */
  *(volatile uint32_t*)demo_dev[1] = pass ? 0x5555u : (1u << 16) | 0x3333u;
  for (;;) __asm__ volatile("wfi");
}

void arch_checks(const demo_space* s, const ptlib_memory* mem, uint64_t image_va, uint64_t image_size,
                 uint64_t va_pa_offset) {
  (void)s;
  (void)mem;
  (void)image_va;
  (void)image_size;
  (void)va_pa_offset;
}

uintptr_t riscv_trap(uintptr_t cause, uintptr_t tval, uintptr_t epc, uintptr_t ra);
uintptr_t riscv_trap(uintptr_t cause, uintptr_t tval, uintptr_t epc, uintptr_t ra) {
  const bool page_fault = cause == 12 || cause == 13 || cause == 15;
  if (demo_armed() && page_fault) {
    uint16_t insn;
    demo_fault(cause == 12 ? DEMO_EXEC : cause == 13 ? DEMO_READ : DEMO_WRITE, tval);
    if (cause == 12) return ra; /* a fetch fault: back to the probe's caller */
    insn = *(const volatile uint16_t*)epc;
    return epc + ((insn & 3) == 3 ? 4 : 2); /* skip the (maybe compressed) access */
  }
  demo_puts("unexpected trap: scause=");
  demo_put_hex(cause);
  demo_puts(" stval=");
  demo_put_hex(tval);
  demo_puts(" sepc=");
  demo_put_hex(epc);
  demo_puts("\n");
  demo_stop("no unexpected trap", 0);
  return epc;
}

void kmain(void);
void kmain(void) { demo_boot(); }
