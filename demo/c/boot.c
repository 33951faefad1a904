/* The format-generic boot of the C demo kernels, against ptlib.h only: phase 1 (MMU off:
 * identity map of the kernel and devices, the linear map, the image window, from a static
 * arena; MMU on), phase 2 (at the image's high VA: the final tables built through the linear
 * map, the switch, the checks). The same flow and checks as demo/common/boot.hpp. */
#include "demo.h"

/* ---- console ---- */

uintptr_t demo_dev[4];
static unsigned g_failed;
static const char* g_first_failure;

void demo_puts(const char* s) {
  while (*s) arch_putc(*s++);
}
void demo_put_hex(uint64_t v) {
  int i;
  demo_puts("0x");
  for (i = 60; i >= 0; i -= 4) arch_putc("0123456789abcdef"[(v >> i) & 0xf]);
}
void demo_put_dec(uintptr_t v) {
  char buf[24];
  size_t n = 0;
  do buf[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  while (n) arch_putc(buf[--n]);
}
bool demo_check(bool ok, const char* what) {
  demo_puts(ok ? "  ok   " : "  FAIL ");
  demo_puts(what);
  demo_puts("\n");
  if (!ok && g_failed++ == 0) g_first_failure = what;
  return ok;
}
bool demo_check_eq(const char* what, uint64_t got, uint64_t want) {
  demo_puts(got == want ? "  ok   " : "  FAIL ");
  demo_puts(what);
  demo_puts(" = ");
  demo_put_hex(got);
  if (got != want) {
    demo_puts(", expected ");
    demo_put_hex(want);
  }
  demo_puts("\n");
  if (got != want && g_failed++ == 0) g_first_failure = what;
  return got == want;
}
bool demo_verdict(const char* name) {
  demo_puts(g_failed ? "FAIL " : "PASS ");
  demo_puts(name);
  if (g_failed) {
    demo_puts(": ");
    demo_puts(g_first_failure);
  }
  demo_puts("\n");
  return g_failed == 0;
}

/* ---- probes ---- */

static volatile bool g_armed, g_hit;
static volatile demo_access g_kind;
static volatile uint64_t g_addr;

void demo_arm(void) {
  g_hit = false;
  g_armed = true;
  __asm__ volatile("" ::: "memory");
}
bool demo_armed(void) { return g_armed; }
void demo_fault(demo_access kind, uint64_t addr) {
  g_kind = kind;
  g_addr = addr;
  g_hit = true;
  g_armed = false;
}
demo_probe demo_disarm(void) {
  demo_probe p = {DEMO_NONE, 0};
  __asm__ volatile("" ::: "memory");
  g_armed = false;
  if (g_hit) {
    p.fault = g_kind;
    p.addr = g_addr;
  }
  return p;
}
demo_reg demo_reg_of(const char* name, uint64_t want, uint64_t got) {
  demo_reg r;
  r.name = name;
  r.want = want;
  r.got = got;
  return r;
}

/* ---- state ---- */

#define KIB(n) ((uint64_t)(n) << 10)
#define MIB(n) ((uint64_t)(n) << 20)
#define SCRATCH_BYTES MIB(4) /* RAM the checks use, below the phase-2 tables */
#define TEST_SPACING MIB(8)  /* between the checks' VAs */
/* Phase 1's tables. The C++ demos size this pool at compile time (table_budget); C has no
 * constexpr planner, so it is a fixed budget, checked: phase 1 prints the tables it used and
 * stops with out_of_memory if they do not fit. */
#define POOL1_PAGES 24
/* Phase 2's tables: pages at the top of RAM, reached through the linear map. */
#define TABLE_PAGES 32

static demo_arch g_arch;
static ptlib_layout g_layout;
static uint64_t g_page;
static uint64_t g_va_pa_offset, g_image_va, g_image_size, g_kernel_offset;
static bool g_separate_image, g_nx = true;
static demo_space g_final;
#ifndef DEMO_PHASE2_ONLY
static uint64_t __attribute__((aligned(4096))) g_pool1[POOL1_PAGES * 4096 / 8];
static ptlib_arena g_arena1;
#endif
static bool g_resumed; /* demo_resume(): the image's PA and VA are given */
static uint64_t g_resume_pa, g_resume_va;
static volatile uintptr_t g_alias_word;
static volatile uint32_t __attribute__((aligned(16))) g_nx_slot[4];
static const uintptr_t g_ro_word = (uintptr_t)0x0123456789abcdefULL;

/* The phase-2 page allocator: a bitmap of TABLE_PAGES pages at g_tables_pa. */
static uint64_t g_tables_pa, g_scratch_pa;
static uint32_t g_used;

static void print_error(const ptlib_error* e) {
  demo_puts("  error ");
  demo_puts(ptlib_status_name(e->code));
  demo_puts(" va=");
  demo_put_hex(e->va);
  demo_puts(" pa=");
  demo_put_hex(e->pa);
  if (e->level != PTLIB_NO_LEVEL) {
    demo_puts(" level ");
    if (e->level < 0) demo_puts("-");
    demo_put_dec((uintptr_t)(e->level < 0 ? -e->level : e->level));
    if (e->level_name) {
      demo_puts(" ");
      demo_puts(e->level_name);
    }
  }
  demo_puts("\n");
}

void demo_stop(const char* what, const ptlib_error* err) {
  if (!g_arch.name) arch_describe(&g_arch);
  if (err) print_error(err);
  demo_check(false, what);
  demo_verdict(g_arch.name);
  arch_exit(false);
}

const ptlib_tree* demo_tree_for(const demo_space* s, uint64_t va, uint64_t size) {
  size_t i;
  const uint64_t last = va + (size ? size - 1 : 0);
  for (i = 0; i < s->count; ++i) {
    ptlib_format_info fi;
    if (ptlib_format_info_of(s->tree[i].format, &fi) != PTLIB_OK) continue;
    if (va >= fi.va_start && last <= fi.va_last && last >= va) return &s->tree[i];
    if (fi.va_start_high && va >= fi.va_start_high && last >= va) return &s->tree[i];
  }
  return 0;
}

static ptlib_options engine_options(void) {
  ptlib_options o = {0, 0, PTLIB_LIVE_OFFLINE, 0, 0};
  if (!g_nx) o.flags = PTLIB_OPT_ALLOW_IMPLIED_EXEC;
  return o;
}

static void map_or_stop(const demo_space* s, const ptlib_memory* mem, uint64_t va, uint64_t pa, uint64_t size,
                        ptlib_attrs attrs, const char* what) {
  ptlib_error err;
  const ptlib_options o = engine_options();
  const ptlib_tree* t = demo_tree_for(s, va, size);
  if (!t) demo_stop(what, 0);
  if (ptlib_map(t, mem, va, pa, size, attrs, &o, 0, &err) != PTLIB_OK) demo_stop(what, &err);
}

static void make_space(demo_space* s, const ptlib_memory* mem, const char* what) {
  size_t i;
  ptlib_error err;
  s->count = g_arch.format_count;
  for (i = 0; i < s->count; ++i)
    if (ptlib_tree_create(g_arch.formats[i], g_arch.caps, mem, &s->tree[i], &err) != PTLIB_OK) demo_stop(what, &err);
}

static uint64_t round_page(uint64_t n) { return (n + g_page - 1) & ~(g_page - 1); }
static uint64_t dev_va(size_t i) {
  uint64_t va;
  size_t k;
  if (!g_layout.fixmap.size) return g_arch.devices[i].pa;
  va = g_layout.fixmap.base;
  for (k = 0; k < i; ++k) va += round_page(g_arch.devices[k].size);
  return va;
}
static uint64_t test_va(unsigned k) { return g_layout.vmalloc.base + k * TEST_SPACING; }

/* Constants and placement (ptlib_place): the layout's linear map holds RAM at va = pa +
 * g_va_pa_offset; the image runs at its window (or, without one, inside the linear map). */
static void describe(void) {
  ptlib_format_info fi;
  ptlib_placement pl;
  ptlib_error err;
  arch_describe(&g_arch);
  if (ptlib_layout_of(g_arch.layout_format, &g_layout) != PTLIB_OK) demo_stop("the layout of the format", 0);
  if (ptlib_format_info_of(g_arch.layout_format, &fi) != PTLIB_OK) demo_stop("the format's facts", 0);
  g_page = fi.page_size;
  g_separate_image = g_layout.image_window.size != 0;
  if (g_resumed) g_arch.load_pa = g_resume_pa;
  g_image_size = round_page((uint64_t)(__image_end - __image_start));
  if (ptlib_place(&g_layout, g_arch.ram_base, g_arch.ram_size, g_arch.load_pa, g_image_size, g_page, &pl, &err) !=
      PTLIB_OK)
    demo_stop("place the layout", &err);
  g_va_pa_offset = pl.va_pa_offset;
  g_image_va = g_resumed ? g_resume_va : pl.image_va; /* resumed: where phase 1 mapped this program */
  g_kernel_offset = g_image_va - g_arch.load_pa;
}

static void phase2(void);

void demo_resume(uint64_t load_pa, uint64_t image_va) {
  g_resumed = true;
  g_resume_pa = load_pa;
  g_resume_va = image_va;
  phase2();
}

#ifndef DEMO_PHASE2_ONLY
void demo_boot(void) {
  size_t i;
  demo_space sp;
  ptlib_memory mem;
  const ptlib_attrs rwx = PTLIB_R | PTLIB_W | PTLIB_X | PTLIB_G;
  uint64_t load;
  describe();
  for (i = 0; i < g_arch.device_count; ++i) demo_dev[i] = (uintptr_t)g_arch.devices[i].pa;
  demo_puts("ptlib C demo kernel: ");
  demo_puts(g_arch.name);
  demo_puts("\n");
  load = (uint64_t)(uintptr_t)__image_start;
  if (load != g_arch.load_pa || g_image_size > g_arch.image_max) demo_stop("image loaded at load_pa, within image_max", 0);

  ptlib_arena_init(&g_arena1, g_pool1, sizeof g_pool1, (uint64_t)(uintptr_t)g_pool1);
  mem = ptlib_arena_memory(&g_arena1);
  make_space(&sp, &mem, "phase 1: roots");
  map_or_stop(&sp, &mem, load, load, g_arch.image_max, rwx, "phase 1: identity map of the kernel");
  for (i = 0; i < g_arch.device_count; ++i)
    map_or_stop(&sp, &mem, g_arch.devices[i].pa, g_arch.devices[i].pa, round_page(g_arch.devices[i].size),
                g_arch.device_attrs, "phase 1: identity map of a device");
  /* phase 2 reaches its new tables through the linear map; an image inside it runs from it. */
  map_or_stop(&sp, &mem, g_layout.linear.base, g_arch.ram_base, g_arch.ram_size,
              g_separate_image ? PTLIB_LINEAR_ATTRS : rwx, "phase 1: linear map");
  if (g_separate_image) map_or_stop(&sp, &mem, g_image_va, load, g_arch.image_max, rwx, "phase 1: image window");
  demo_puts("phase 1: ");
  demo_put_dec(ptlib_arena_tables_in_use(&g_arena1));
  demo_puts(" tables from a ");
  demo_put_dec(sizeof g_pool1);
  demo_puts("-byte static arena\n");
  if (!arch_activate(&sp)) demo_stop("phase 1: the CPU kept the translation mode", 0);
  demo_puts("phase 1: MMU on\n");
  arch_continue_at(phase2, (uintptr_t)g_kernel_offset);
}
#endif

/* ---- phase 2: table pages from the top of RAM, through the linear map ---- */

static bool pages_allocate(void* ctx, size_t bytes, size_t align, bool zeroed, uint32_t depth, uint64_t* pa,
                           void** ptr) {
  uint32_t i;
  (void)ctx;
  (void)depth;
  if (bytes > g_page || align > g_page) return false;
  for (i = 0; i < TABLE_PAGES; ++i) {
    if (g_used & (1u << i)) continue;
    g_used |= 1u << i;
    *pa = g_tables_pa + i * g_page;
    *ptr = (void*)(uintptr_t)(*pa + g_va_pa_offset);
    if (zeroed) {
      volatile uint64_t* w = (volatile uint64_t*)*ptr;
      size_t k;
      for (k = 0; k < bytes / 8; ++k) w[k] = 0;
    }
    return true;
  }
  return false;
}
static unsigned pages_free(void) {
  unsigned n = 0, i;
  for (i = 0; i < TABLE_PAGES; ++i) n += !(g_used & (1u << i));
  return n;
}
static bool pages_reserve(void* ctx, size_t n, size_t bytes, size_t align) {
  (void)ctx;
  return bytes <= g_page && align <= g_page && n <= pages_free();
}
static void pages_release(void* ctx, uint64_t pa, size_t bytes, size_t align) {
  uint32_t i = 0;
  (void)ctx;
  (void)bytes;
  (void)align;
  while (i < TABLE_PAGES && g_tables_pa + (uint64_t)i * g_page != pa) ++i; /* no 64-bit division on i686 */
  if (i < TABLE_PAGES) g_used &= ~(1u << i);
}
/* The final tables' memory: set in code, at the address phase 2 runs at. */
static ptlib_memory final_memory(void) {
  ptlib_memory m = ptlib_direct_memory((uintptr_t)g_va_pa_offset);
  m.allocate = pages_allocate;
  m.reserve = pages_reserve;
  m.release = pages_release;
  return m;
}

static uintptr_t linear(uint64_t pa) { return (uintptr_t)(pa + g_va_pa_offset); }
static volatile uintptr_t* word(uintptr_t va) { return (volatile uintptr_t*)va; }
static bool faults(demo_probe p, demo_access kind, uintptr_t va) { return p.fault == kind && p.addr == (uint64_t)va; }

/* translate() on the final space. */
static ptlib_status where(const ptlib_memory* mem, uintptr_t va, uint64_t* pa, ptlib_leaf* leaf) {
  ptlib_error err;
  const ptlib_tree* t = demo_tree_for(&g_final, va, 1);
  if (!t) return PTLIB_E_VA_OUT_OF_RANGE;
  return ptlib_translate(t, mem, va, pa, leaf, &err);
}

/* Live edits of the final tables: break-before-make through the architecture's sync hook. */
typedef enum edit_kind { EDIT_MAP, EDIT_PROTECT, EDIT_UNMAP } edit_kind;
static bool live_edit(const ptlib_memory* mem, edit_kind k, uint64_t va, uint64_t pa, uint64_t size, ptlib_attrs a) {
  ptlib_sync sync;
  ptlib_options o = engine_options();
  ptlib_error err;
  ptlib_status s;
  const ptlib_tree* t = demo_tree_for(&g_final, va, size);
  sync.ctx = 0;
  sync.publish = arch_publish;
  sync.invalidate = arch_invalidate;
  o.live = PTLIB_LIVE_BREAK_BEFORE_MAKE;
  o.sync = &sync;
  if (!t) return false;
  s = k == EDIT_MAP ? ptlib_map(t, mem, va, pa, size, a, &o, 0, &err)
      : k == EDIT_PROTECT ? ptlib_protect(t, mem, va, size, a, &o, 0, &err)
                          : ptlib_unmap(t, mem, va, size, &o, 0, &err);
  /* A new entry replaced an invalid one, which a CPU may have cached as not present (RISC-V
   * priv 4.2.1): invalidate it too. */
  if (k == EDIT_MAP) arch_invalidate(0, va, size);
  if (s != PTLIB_OK) print_error(&err);
  return s == PTLIB_OK;
}

static void checks(const ptlib_memory* mem);

static void phase2(void) {
  size_t i, tables;
  ptlib_memory mem;
  ptlib_error err;
  ptlib_bank ram;
  ptlib_section sections[3];
  ptlib_options o;
  const uint64_t start = (uint64_t)(uintptr_t)__image_start;
  const ptlib_tree* t;
  arch_on_high();
  describe(); /* again: every address in g_arch is now the high one */
  g_tables_pa = g_arch.ram_base + g_arch.ram_size - TABLE_PAGES * g_page;
  g_scratch_pa = (g_tables_pa - SCRATCH_BYTES) & ~(MIB(2) - 1);
  mem = final_memory();
  mem.direct_lo = g_tables_pa;
  mem.direct_bytes = TABLE_PAGES * g_page;
  make_space(&g_final, &mem, "phase 2: roots");
  {
    /* Whether the format can forbid execution (x86-32 cannot): plan a no-exec page. */
    size_t tables;
    ptlib_op op;
    op.kind = PTLIB_OP_MAP;
    op.attrs = PTLIB_LINEAR_ATTRS;
    op.va = test_va(3);
    op.pa = g_scratch_pa;
    op.size = g_page;
    t = demo_tree_for(&g_final, op.va, op.size);
    g_nx = !t || ptlib_plan(t, &mem, &op, 0, &tables, &err) != PTLIB_E_UNSUPPORTED_ATTRS;
  }
  o = engine_options();
  ram.pa = g_arch.ram_base;
  ram.size = g_arch.ram_size;
  t = demo_tree_for(&g_final, g_layout.linear.base, g_arch.ram_size);
  if (!t || ptlib_map_linear(t, &mem, &ram, 1, g_va_pa_offset, PTLIB_LINEAR_ATTRS, &o, 0, &err) != PTLIB_OK)
    demo_stop("phase 2: linear map of RAM", t ? &err : 0);
  sections[0].name = "text";
  sections[0].offset = 0;
  sections[0].size = (uint64_t)(uintptr_t)__text_end - start;
  sections[0].kind = PTLIB_SECTION_TEXT;
  sections[1].name = "rodata";
  sections[1].offset = (uint64_t)(uintptr_t)__rodata_start - start;
  sections[1].size = (uint64_t)(uintptr_t)__rodata_end - (uint64_t)(uintptr_t)__rodata_start;
  sections[1].kind = PTLIB_SECTION_RODATA;
  sections[2].name = "data";
  sections[2].offset = (uint64_t)(uintptr_t)__data_start - start;
  sections[2].size = (uint64_t)(uintptr_t)__image_end - (uint64_t)(uintptr_t)__data_start;
  sections[2].kind = PTLIB_SECTION_DATA;
  if (g_separate_image) {
    ptlib_image_options io;
    io.flags = 0;
    io.mem = PTLIB_MEM_NORMAL;
    io.engine = o;
    t = demo_tree_for(&g_final, g_image_va, g_image_size);
    if (!t || ptlib_map_image(t, &mem, g_image_va, g_arch.load_pa, sections, 3, &io, 0, &err) != PTLIB_OK)
      demo_stop("phase 2: image map", t ? &err : 0);
  } else { /* the image is inside the linear map: give its sections their permissions there */
    static const ptlib_attrs kinds[3] = {PTLIB_R | PTLIB_X | PTLIB_G, PTLIB_R | PTLIB_G, PTLIB_R | PTLIB_W | PTLIB_G};
    for (i = 0; i < 3; ++i) {
      const uint64_t va = g_image_va + sections[i].offset, size = round_page(sections[i].size);
      t = demo_tree_for(&g_final, va, size);
      if (!t || ptlib_protect(t, &mem, va, size, kinds[i], &o, 0, &err) != PTLIB_OK)
        demo_stop("phase 2: image sections in the linear map", t ? &err : 0);
    }
  }
  for (i = 0; i < g_arch.device_count; ++i)
    map_or_stop(&g_final, &mem, dev_va(i), g_arch.devices[i].pa, round_page(g_arch.devices[i].size),
                g_arch.device_attrs, "phase 2: device map");
  tables = TABLE_PAGES - pages_free();
  demo_puts("phase 2: ");
  demo_put_dec(tables);
  demo_puts(" tables built through the linear map (direct offset ");
  demo_put_hex(g_va_pa_offset);
  demo_puts(")\n");
  if (!arch_activate(&g_final)) demo_stop("phase 2: switch to the final tables", 0);
  for (i = 0; i < g_arch.device_count; ++i) demo_dev[i] = (uintptr_t)dev_va(i);
  demo_puts("phase 2: running on the final tables\n");
  checks(&mem);
  {
    ptlib_format_info fi;
    ptlib_format_info_of(g_arch.layout_format, &fi);
    demo_puts("INFO ");
    demo_puts(g_arch.name);
    demo_puts(" levels=");
    demo_put_dec(fi.levels);
    demo_puts(" tables=");
    demo_put_dec(tables);
    demo_puts("\n");
  }
  arch_exit(demo_verdict(g_arch.name));
}

static void runtime_checks(const ptlib_memory* mem) {
  const uint64_t va = test_va(0), pa = g_scratch_pa;
  const uintptr_t u = (uintptr_t)va;
  const ptlib_attrs ro = PTLIB_R | PTLIB_G, rw = PTLIB_R | PTLIB_W | PTLIB_G;
  uintptr_t v = 0;
  bool mapped, ok;
  demo_probe p;
  *word(linear(pa)) = (uintptr_t)0x5555aaaa5555aaaaULL;
  mapped = live_edit(mem, EDIT_MAP, va, pa, g_page, ro);
  p = arch_try_read(u, &v);
  demo_check(mapped && p.fault == DEMO_NONE && v == (uintptr_t)0x5555aaaa5555aaaaULL,
             "runtime map(): the new read-only page reads what the linear alias wrote");
  demo_check(faults(arch_try_write(u, 1), DEMO_WRITE, u), "a write to the new read-only page faults");
  ok = live_edit(mem, EDIT_PROTECT, va, 0, g_page, rw);
  p = arch_try_write(u, (uintptr_t)0x600dULL);
  demo_check(ok && p.fault == DEMO_NONE && *word(linear(pa)) == (uintptr_t)0x600dULL,
             "runtime protect() read-write + TLB invalidation: the write that faulted now works");
  ok = live_edit(mem, EDIT_UNMAP, va, 0, g_page, 0);
  demo_check(ok && faults(arch_try_read(u, &v), DEMO_READ, u),
             "runtime unmap() + TLB invalidation: the read that worked now faults");
}

static void contiguous_check(const ptlib_memory* mem) {
  ptlib_format_info fi;
  uint32_t run_log2 = 0;
  uint64_t bytes, off, tpa = 0;
  const uint64_t va = test_va(1), pa = g_scratch_pa + TEST_SPACING / 4; /* 2 MiB aligned */
  ptlib_leaf leaf;
  uintptr_t v = 0;
  demo_probe p;
  bool mapped;
  ptlib_format_info_of(g_arch.layout_format, &fi);
  if (ptlib_contiguous_log2(g_arch.layout_format, g_arch.caps, fi.levels - 1, &run_log2) != PTLIB_OK || !run_log2)
    return;
  bytes = g_page << run_log2;
  mapped = live_edit(mem, EDIT_MAP, va, pa, bytes, PTLIB_R | PTLIB_W | PTLIB_G);
  off = bytes - 3 * g_page + 8; /* inside the run's third-last page */
  demo_check(mapped && where(mem, (uintptr_t)(va + off), &tpa, &leaf) == PTLIB_OK && leaf.contiguous &&
                 tpa == pa + off,
             "ptlib maps an aligned run as one contiguous (Svnapot / contiguous-bit) run");
  *word(linear(pa + off)) = (uintptr_t)0xabcdef0123ULL;
  p = arch_try_read((uintptr_t)(va + off), &v);
  demo_check(p.fault == DEMO_NONE && v == (uintptr_t)0xabcdef0123ULL,
             "the CPU translates inside the contiguous run to the right page");
}

static void nc_check(const ptlib_memory* mem) {
  const uint64_t va = test_va(2), pa = g_scratch_pa + g_page;
  const ptlib_attrs nc = PTLIB_R | PTLIB_W | PTLIB_G | PTLIB_MEM_NC;
  size_t tables;
  ptlib_op op;
  ptlib_error err;
  demo_probe p;
  bool mapped;
  const ptlib_tree* t = demo_tree_for(&g_final, va, g_page);
  op.kind = PTLIB_OP_MAP;
  op.attrs = nc;
  op.va = va;
  op.pa = pa;
  op.size = g_page;
  if (t && ptlib_plan(t, mem, &op, 0, &tables, &err) == PTLIB_E_UNSUPPORTED_MEMTYPE) return; /* no such type */
  mapped = live_edit(mem, EDIT_MAP, va, pa, g_page, nc);
  p = arch_try_write((uintptr_t)va, (uintptr_t)0x4e43ULL);
  demo_check(mapped && p.fault == DEMO_NONE && *word(linear(pa)) == (uintptr_t)0x4e43ULL,
             "a write through a non-cacheable mapping reads back through the linear map");
}

static void checks(const ptlib_memory* mem) {
  const uintptr_t here = (uintptr_t)phase2;
  const uintptr_t img = (uintptr_t)&g_alias_word;
  const uint64_t img_pa = g_arch.load_pa + (img - g_image_va);
  const uintptr_t ro = (uintptr_t)&g_ro_word;
  const uintptr_t text = (uintptr_t)__image_start + 64;
  const uintptr_t hole = (uintptr_t)test_va(3);
  uintptr_t text_word = 0, v = 0;
  uint64_t pa = 0;
  ptlib_leaf leaf;
  demo_reg regs[4];
  size_t i, n;

  demo_check(here >= g_image_va && here < g_image_va + g_image_size,
             "code runs at the image's VA in the final tables");
  demo_check_eq("ptlib_translate(image VA of a data word)", where(mem, img, &pa, &leaf) == PTLIB_OK ? pa : 0, img_pa);
  g_alias_word = (uintptr_t)0x1122334455667788ULL;
  demo_check(*word(linear(img_pa)) == (uintptr_t)0x1122334455667788ULL,
             "a write through the image VA reads back through the linear-map alias");
  *word(linear(img_pa)) = (uintptr_t)0xcafef00dd00dfeedULL;
  demo_check(g_alias_word == (uintptr_t)0xcafef00dd00dfeedULL,
             "a write through the linear-map alias reads back through the image VA");

  demo_check(faults(arch_try_write(ro, 1), DEMO_WRITE, ro) && g_ro_word == (uintptr_t)0x0123456789abcdefULL,
             "a write to rodata faults (write fault at its VA)");
  (void)arch_try_read(text, &text_word);
  demo_check(faults(arch_try_write(text, text_word), DEMO_WRITE, text), "a write to text faults");

  if (g_nx) {
    const uintptr_t data = (uintptr_t)&g_nx_slot[0];
    const uintptr_t nx = linear(g_scratch_pa + 2 * g_page);
    arch_write_return(data);
    demo_check(faults(arch_try_exec(data), DEMO_EXEC, data), "executing from the image's data faults");
    arch_write_return(nx);
    demo_check(faults(arch_try_exec(nx), DEMO_EXEC, nx), "executing from the no-exec linear map faults");
  }

  demo_check(where(mem, hole, &pa, &leaf) == PTLIB_E_NOT_MAPPED && faults(arch_try_read(hole, &v), DEMO_READ, hole),
             "a read of an unmapped VA faults (ptlib: not_mapped)");

  runtime_checks(mem);
  contiguous_check(mem);
  nc_check(mem);

  for (i = 0; i < g_arch.device_count; ++i) {
    const bool ok = where(mem, (uintptr_t)dev_va(i), &pa, &leaf) == PTLIB_OK;
    demo_check(ok && pa == g_arch.devices[i].pa &&
                   (leaf.attrs & PTLIB_MEM_MASK) == (g_arch.device_attrs & PTLIB_MEM_MASK),
               "device mapped at its fixmap VA with the device memory type");
  }

  n = arch_read_back(&g_final, regs);
  for (i = 0; i < n; ++i) demo_check_eq(regs[i].name, regs[i].got, regs[i].want);

  arch_checks(&g_final, mem, g_image_va, g_image_size, g_va_pa_offset);
}
