/* The C demo kernels: the same boot and checks as the C++ demos (demo/common/boot.hpp), written
 * in C99 against ptlib's C API (ptlib.h) alone. boot.c is the format-generic flow; each
 * architecture's file (riscv.c, arm64.c, x86_64.c) provides the hooks declared here, with the
 * architecture's entry code, linker script and exit device from demo/<arch>/. */
#ifndef DEMO_C_DEMO_H
#define DEMO_C_DEMO_H

#include <ptlib.h>

/* ---- console (boot.c) ---- */
void demo_puts(const char* s);
void demo_put_hex(uint64_t v);
void demo_put_dec(uintptr_t v);
/* `  ok   <what>` / `  FAIL <what>`; counts failures. Returns ok. */
bool demo_check(bool ok, const char* what);
bool demo_check_eq(const char* what, uint64_t got, uint64_t want);
/* `PASS <name>` or `FAIL <name>: <first failed check>`; returns whether it passed. */
bool demo_verdict(const char* name);
/* Virtual addresses of the devices (set to the PAs before the MMU is on, to the fixmap after). */
extern uintptr_t demo_dev[4];

/* ---- what a probed access ran into ---- */
typedef enum demo_access { DEMO_NONE, DEMO_READ, DEMO_WRITE, DEMO_EXEC } demo_access;
typedef struct demo_probe {
  demo_access fault;
  uint64_t addr;
} demo_probe;

/* The protocol between a probing access and the trap handler (boot.c): demo_arm() before the
 * access; the trap handler, when demo_armed(), records a page fault with demo_fault() (which
 * disarms) and skips the access; demo_disarm() after it says what happened. */
void demo_arm(void);
bool demo_armed(void);
void demo_fault(demo_access kind, uint64_t addr);
demo_probe demo_disarm(void);

/* A translation register: what ptlib computed, and what the CPU holds. */
typedef struct demo_reg {
  const char* name;
  uint64_t want, got;
} demo_reg;
demo_reg demo_reg_of(const char* name, uint64_t want, uint64_t got);

/* An address space: one tree (RISC-V, x86) or two by VA range (arm64 TTBR0 + TTBR1). */
typedef struct demo_space {
  ptlib_tree tree[2];
  size_t count;
} demo_space;

typedef struct demo_device {
  uint64_t pa, size;
} demo_device;

/* ---- hooks (per architecture) ---- */
typedef struct demo_arch {
  const char* name;              /* the test's name in INFO / PASS lines */
  ptlib_format formats[2];       /* the space's formats, low range first */
  size_t format_count;
  ptlib_format layout_format;    /* the kernel half's format (ptlib_layout_of) */
  uint32_t caps;
  uint64_t ram_base, ram_size, load_pa, image_max;
  demo_device devices[2];        /* dev 0: console */
  size_t device_count;
  ptlib_attrs device_attrs;
} demo_arch;
/* The architecture's constants, filled in code (not an initialised table: the kernel runs at its
 * physical address first and its virtual address later). */
void arch_describe(demo_arch* a);
void arch_putc(char c);
/* Loads the space's translation registers: MMU on (phase 1) or switch (phase 2), TLB flushed.
 * false if the CPU refused. */
bool arch_activate(const demo_space* s);
size_t arch_read_back(const demo_space* s, demo_reg* out); /* at most 4 */
void arch_publish(void* ctx);
void arch_invalidate(void* ctx, uint64_t va, uint64_t size);
void arch_continue_at(void (*fn)(void), uintptr_t offset); /* no return: fn + offset, sp + offset */
void arch_on_high(void);
demo_probe arch_try_read(uintptr_t va, uintptr_t* value);
demo_probe arch_try_write(uintptr_t va, uintptr_t value);
demo_probe arch_try_exec(uintptr_t va);
void arch_write_return(uintptr_t va);
void arch_exit(bool pass); /* no return */
/* More checks on the final tables (may do nothing). */
void arch_checks(const demo_space* s, const ptlib_memory* mem, uint64_t image_va, uint64_t image_size,
                 uint64_t va_pa_offset);

/* ---- the flow (boot.c) ---- */
void demo_boot(void); /* phase 1, MMU off, at the load address; does not return */
/* Phase 2 in a program of its own (x86-64: the 64-bit part after the 32-bit loader's phase 1),
 * loaded at load_pa and running at image_va on tables that map it, the linear map and the
 * devices as phase 1 does. Does not return. */
void demo_resume(uint64_t load_pa, uint64_t image_va);
/* A step the boot cannot go on without failed: FAIL with it (and the error) and exit. */
void demo_stop(const char* what, const ptlib_error* err);
/* The tree of `s` whose VA range holds [va, va + size) (NULL: none). */
const ptlib_tree* demo_tree_for(const demo_space* s, uint64_t va, uint64_t size);

/* Image bounds from the linker script (page-aligned). */
extern char __image_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __image_end[];

#endif
