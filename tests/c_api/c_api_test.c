/* The C API from C (C99), over every format this build has: the README example, errors, no
 * partial success (tables and allocator unchanged after refused calls, and with an allocator
 * failing at each allocation index), the lifecycle (protect, compact, unmap), plan, validate,
 * the boot maps, the register values, preallocation and the shared kernel half, and pools sized
 * by the PTLIB_POOL_BYTES macros. Exit status 0 when every check passed. */
#include <ptlib.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;
static int checks = 0;
static const char* current = "";

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    ++checks;                                                                            \
    if (!(cond)) {                                                                       \
      ++failures;                                                                        \
      fprintf(stderr, "%s:%d: [%s] check failed: %s\n", __FILE__, __LINE__, current, #cond); \
    }                                                                                    \
  } while (0)

/* Table memory for every test: 4 MiB of uint64_t (8-byte aligned entries), PA 0x40000000. */
#define POOL_BYTES (4u << 20)
#define POOL_PA UINT64_C(0x40000000)
static uint64_t pool[POOL_BYTES / 8];
static uint64_t pool_copy[POOL_BYTES / 8];

/* ---- the README example in C ---- */
/* Sv39: a 1 GiB linear map of RAM at the start of the kernel half, one gigapage. */
static int readme_example(void) {
  ptlib_arena arena;
  ptlib_memory mem;
  ptlib_tree tree;
  ptlib_error err;
  uint64_t pa = 0;
  ptlib_leaf leaf;
  ptlib_arena_init(&arena, pool, sizeof pool, (uint64_t)(uintptr_t)pool);
  mem = ptlib_arena_memory(&arena);
  if (ptlib_tree_create(PTLIB_SV39, 0, &mem, &tree, &err) != PTLIB_OK) return 0;
  if (ptlib_map(&tree, &mem, UINT64_C(0xffffffc000000000), UINT64_C(0x80000000), UINT64_C(1) << 30,
                PTLIB_R | PTLIB_W | PTLIB_G, NULL, NULL, &err) != PTLIB_OK) {
    char text[160];
    ptlib_error_text(&err, text, sizeof text);
    fprintf(stderr, "%s\n", text);
    return 0;
  }
  if (ptlib_translate(&tree, &mem, UINT64_C(0xffffffc000001234), &pa, &leaf, &err) != PTLIB_OK) return 0;
  return pa == UINT64_C(0x80001234) && leaf.size == (UINT64_C(1) << 30) && leaf.level == 2;
}

/* ---- helpers ---- */

typedef struct leaf_digest {
  size_t count;
  uint64_t hash;
} leaf_digest;
static void digest_leaf(void* ctx, const ptlib_leaf* l) {
  leaf_digest* d = (leaf_digest*)ctx;
  ++d->count;
  d->hash = d->hash * UINT64_C(1000003) ^ l->va;
  d->hash = d->hash * UINT64_C(1000003) ^ l->pa;
  d->hash = d->hash * UINT64_C(1000003) ^ l->size;
  d->hash = d->hash * UINT64_C(1000003) ^ l->attrs;
}
static leaf_digest leaves_of(const ptlib_tree* t, const ptlib_memory* m) {
  leaf_digest d = {0, 0};
  ptlib_error err;
  ptlib_status s = ptlib_leaves(t, m, 0, 0, digest_leaf, &d, &err);
  CHECK(s == PTLIB_OK);
  return d;
}

/* Whether the tree is sound and has exactly `tables` tables. */
static int sound(const ptlib_tree* t, const ptlib_memory* m, size_t tables) {
  static uint64_t scratch[512];
  ptlib_validate_options vo;
  ptlib_validation v;
  vo.flags = PTLIB_VALIDATE_EXPECT_TABLES;
  vo.expected_tables = tables;
  if (ptlib_validate(t, m, &vo, scratch, 512, &v) != PTLIB_OK) return 0;
  return v.problems == 0 && v.tables == tables;
}

/* An allocator over an arena that gives `left` tables and then fails, with no reserve():
 * the engine cannot know in advance and must undo. */
typedef struct failing {
  ptlib_memory inner;
  size_t left;
  size_t allocations;
} failing;
static bool failing_allocate(void* ctx, size_t bytes, size_t align, bool zeroed, uint32_t depth, uint64_t* pa,
                             void** ptr) {
  failing* f = (failing*)ctx;
  if (f->left == 0) return false;
  --f->left;
  ++f->allocations;
  return f->inner.allocate(f->inner.ctx, bytes, align, zeroed, depth, pa, ptr);
}
static void failing_release(void* ctx, uint64_t pa, size_t bytes, size_t align) {
  failing* f = (failing*)ctx;
  f->inner.release(f->inner.ctx, pa, bytes, align);
}
static ptlib_memory failing_memory(failing* f) {
  ptlib_memory m = f->inner;
  m.ctx = f;
  m.allocate = failing_allocate;
  m.reserve = NULL;
  m.release = failing_release;
  return m;
}

static bool never_allocate(void* ctx, size_t bytes, size_t align, bool zeroed, uint32_t depth, uint64_t* pa,
                           void** ptr) {
  (void)ctx;
  (void)bytes;
  (void)align;
  (void)zeroed;
  (void)depth;
  (void)pa;
  (void)ptr;
  return false;
}
static bool never_reserve(void* ctx, size_t n, size_t bytes, size_t align) {
  (void)ctx;
  (void)n;
  (void)bytes;
  (void)align;
  return false;
}

/* A sync hook that records what the engine asked for. */
typedef struct recorder {
  unsigned publishes, invalidates;
  uint64_t lo, hi; /* the union of the invalidated ranges */
} recorder;
static void rec_publish(void* ctx) { ++((recorder*)ctx)->publishes; }
static void rec_invalidate(void* ctx, uint64_t va, uint64_t size) {
  recorder* r = (recorder*)ctx;
  if (!r->invalidates || va < r->lo) r->lo = va;
  if (!r->invalidates || va + size > r->hi) r->hi = va + size;
  ++r->invalidates;
}

/* The VA of tree offset `off` in the format's first range. */
static uint64_t va_at(const ptlib_format_info* i, uint64_t off) { return i->va_start + off; }

/* ---- per format ---- */

static void test_format(ptlib_format f) {
  ptlib_format_info info;
  ptlib_arena arena;
  ptlib_memory mem;
  ptlib_tree tree;
  ptlib_error err;
  ptlib_report rep;
  ptlib_leaf leaf;
  ptlib_options pages;
  uint64_t page, block, va0, pa0, pa = 0;
  size_t planned = 0, in_use;
  const ptlib_attrs rwg = PTLIB_R | PTLIB_W | PTLIB_G;
  const bool no_nx = f == PTLIB_X86_32;
  ptlib_options opts;

  current = ptlib_format_name(f);
  CHECK(ptlib_format_info_of(f, &info) == PTLIB_OK);
  CHECK(strcmp(info.name, current) == 0);
  {
    ptlib_format back;
    CHECK(ptlib_format_from_name(current, &back) == PTLIB_OK && back == f);
  }
  page = info.page_size;
  block = page * (info.table_bytes / info.entry_bytes); /* what one last-level table maps */
  va0 = va_at(&info, 4 * block);
  pa0 = 4 * block;
  memset(&opts, 0, sizeof opts);
  if (no_nx) opts.flags = PTLIB_OPT_ALLOW_IMPLIED_EXEC;
  pages = opts;
  pages.max_leaf_size = page;

  ptlib_arena_init(&arena, pool, POOL_BYTES, POOL_PA);
  mem = ptlib_arena_memory(&arena);
  CHECK(ptlib_tree_create(f, 0, &mem, &tree, &err) == PTLIB_OK);
  CHECK(err.code == PTLIB_OK);
  CHECK(tree.format == f && tree.root == POOL_PA);
  CHECK(ptlib_arena_tables_in_use(&arena) == 1);

  /* One block: the second-to-last level's leaf. */
  {
    ptlib_op op;
    op.kind = PTLIB_OP_MAP;
    op.attrs = rwg;
    op.va = va0;
    op.pa = pa0;
    op.size = block;
    CHECK(ptlib_plan(&tree, &mem, &op, &opts, &planned, &err) == PTLIB_OK);
    CHECK(ptlib_apply(&tree, &mem, &op, &opts, &rep, &err) == PTLIB_OK);
    CHECK(rep.tables_added == planned);
    CHECK(rep.leaves_changed == 1);
    CHECK(ptlib_arena_tables_in_use(&arena) == 1 + planned);
  }
  CHECK(ptlib_translate(&tree, &mem, va0 + page + 0x123, &pa, &leaf, &err) == PTLIB_OK);
  CHECK(pa == pa0 + page + 0x123);
  CHECK(leaf.va == va0 && leaf.pa == pa0 && leaf.size == block);
  CHECK(leaf.depth + 2 == info.levels && leaf.level_name != NULL);
  CHECK((leaf.attrs & (PTLIB_R | PTLIB_W)) == (PTLIB_R | PTLIB_W) && (leaf.attrs & PTLIB_MEM_MASK) == PTLIB_MEM_NORMAL);

  /* Contiguous runs at the last level: Arm ARM D8.6.1 (ContiguousSize: 16 entries with the 4KB
   * granule, 128 with 16KB, 32 with 64KB); ARM ARM v7 B3.6.2 (LPAE Contiguous hint: 16 entries);
   * RISC-V priv ch. 6 (Svnapot: 16 PTEs, 64 KiB, only with the extension). */
  {
    uint32_t log2 = 99;
    const int a64 = (f >= PTLIB_ARM64_4K_39 && f <= PTLIB_ARM64_64K_52) || f >= PTLIB_ARM64_4K_39_TTBR1;
    const uint32_t want = a64 ? (page == 4096 ? 4 : page == 16384 ? 7 : 5) : f == PTLIB_ARMV7_LPAE ? 4 : 0;
    CHECK(ptlib_contiguous_log2(f, 0, info.levels - 1, &log2) == PTLIB_OK && log2 == want);
    if (f >= PTLIB_SV39 && f <= PTLIB_SV57)
      CHECK(ptlib_contiguous_log2(f, PTLIB_CAP_SVNAPOT, info.levels - 1, &log2) == PTLIB_OK && log2 == 4);
    CHECK(ptlib_contiguous_log2(f, 0, info.levels, &log2) == PTLIB_E_INVALID_ARGUMENT);
  }

  /* Errors, each with what and where; none changes anything. */
  in_use = ptlib_arena_tables_in_use(&arena);
  memcpy(pool_copy, pool, POOL_BYTES);
  {
    const size_t used = ptlib_arena_used(&arena);
    char text[200];
    size_t n;
    CHECK(ptlib_map(&tree, &mem, va0 + 1, pa0, page, rwg, &opts, NULL, &err) == PTLIB_E_MISALIGNED_VA);
    CHECK(err.code == PTLIB_E_MISALIGNED_VA && err.va == va0 + 1 && err.level == PTLIB_NO_LEVEL);
    CHECK(ptlib_map(&tree, &mem, va0 + 2 * block, pa0 + 1, page, rwg, &opts, NULL, &err) == PTLIB_E_MISALIGNED_PA);
    CHECK(ptlib_map(&tree, &mem, va0 + 2 * block, pa0, page + 1, rwg, &opts, NULL, &err) == PTLIB_E_MISALIGNED_SIZE);
    CHECK(ptlib_map(&tree, &mem, va0, pa0, 0, rwg, &opts, NULL, &err) == PTLIB_E_ZERO_SIZE);
    CHECK(ptlib_map(&tree, &mem, va0, (UINT64_C(1) << info.pa_bits), page, rwg, &opts, NULL, &err) ==
          PTLIB_E_PA_OUT_OF_RANGE);
    /* Overlap at the end of a range that starts in empty space: found before any write. */
    CHECK(ptlib_map(&tree, &mem, va0 - 2 * block, pa0, 2 * block + page, rwg, &opts, NULL, &err) == PTLIB_E_OVERLAP);
    CHECK(err.va == va0 && err.pa == pa0 && err.level != PTLIB_NO_LEVEL && err.level_name != NULL);
    n = ptlib_error_text(&err, text, sizeof text);
    CHECK(n == strlen(text) && strstr(text, "overlap: ") == text && strstr(text, err.level_name) != NULL);
    CHECK(ptlib_error_text(&err, text, 9) == n && strlen(text) == 8); /* cut, NUL-terminated */
    {
      /* The first VA after the first range: out of range, or not canonical. */
      const ptlib_status want = info.va_start_high ? PTLIB_E_VA_NON_CANONICAL : PTLIB_E_VA_OUT_OF_RANGE;
      if (info.va_start == 0 && info.va_bits < 64)
        CHECK(ptlib_map(&tree, &mem, info.va_last + 1, 0, page, rwg, &opts, NULL, &err) == want);
      if (info.va_start != 0)
        CHECK(ptlib_map(&tree, &mem, info.va_start - page, 0, page, rwg, &opts, NULL, &err) == PTLIB_E_VA_OUT_OF_RANGE);
    }
    CHECK(ptlib_map(&tree, &mem, va0, pa0, UINT64_MAX - page + 1, rwg, &opts, NULL, &err) == PTLIB_E_RANGE_WRAPS);
    CHECK(ptlib_map(&tree, &mem, va0 + 2 * block, pa0, page, 0x8000u, &opts, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
    CHECK(ptlib_translate(&tree, &mem, va0 + 2 * block, &pa, NULL, &err) == PTLIB_E_NOT_MAPPED);
    CHECK(err.va == va0 + 2 * block);
    {
      ptlib_tree bad = tree;
      bad.caps = 0x8000u;
      CHECK(ptlib_map(&bad, &mem, va0 + 2 * block, pa0, page, rwg, &opts, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
      bad = tree;
      bad.format = (ptlib_format)99;
      CHECK(ptlib_map(&bad, &mem, va0 + 2 * block, pa0, page, rwg, &opts, NULL, &err) == PTLIB_E_UNKNOWN_FORMAT);
      CHECK(err.code == PTLIB_E_UNKNOWN_FORMAT);
      bad = tree;
      bad.root += 8;
      CHECK(ptlib_map(&bad, &mem, va0 + 2 * block, pa0, page, rwg, &opts, NULL, &err) == PTLIB_E_MISALIGNED_TABLE);
    }
    CHECK(ptlib_map(NULL, &mem, va0, pa0, page, rwg, &opts, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
    CHECK(ptlib_map(&tree, NULL, va0, pa0, page, rwg, &opts, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
    {
      ptlib_options live = opts;
      live.live = (ptlib_live)7;
      CHECK(ptlib_map(&tree, &mem, va0 + 2 * block, pa0, page, rwg, &live, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
    }
    /* Out of memory: the same tables, an allocator with nothing left (reserve and allocate say
     * so; a one-table map asks allocate() first, docs/engine.md). */
    {
      ptlib_memory none = mem;
      none.reserve = never_reserve;
      none.allocate = never_allocate;
      CHECK(ptlib_map(&tree, &none, va0 + 64 * block, pa0, page, rwg, &opts, NULL, &err) == PTLIB_E_OUT_OF_MEMORY);
      CHECK(err.va == va0 + 64 * block);
    }
    CHECK(memcmp(pool, pool_copy, POOL_BYTES) == 0);
    CHECK(ptlib_arena_tables_in_use(&arena) == in_use && ptlib_arena_used(&arena) == used);
  }

  /* An allocator failing at each allocation index loses nothing: pages over three last-level
   * tables (general walk) and one page on a new path (one walk). */
  {
    const uint64_t sizes[2] = {3 * block, 0};
    int k;
    for (k = 0; k < 2; ++k) {
      const uint64_t size = sizes[k] ? sizes[k] : page;
      const uint64_t far = va0 + 64 * block;
      size_t fail_at;
      const leaf_digest before = leaves_of(&tree, &mem);
      for (fail_at = 0; fail_at < 64; ++fail_at) {
        failing fm;
        ptlib_memory m;
        ptlib_status s;
        fm.inner = mem;
        fm.left = fail_at;
        fm.allocations = 0;
        m = failing_memory(&fm);
        s = ptlib_map(&tree, &m, far, pa0, size, rwg, &pages, &rep, &err);
        if (s == PTLIB_OK) {
          CHECK(rep.tables_added == fm.allocations && fail_at >= fm.allocations);
          CHECK(ptlib_unmap(&tree, &mem, far, size, NULL, &rep, &err) == PTLIB_OK);
          CHECK(rep.tables_released == fm.allocations);
          break;
        }
        CHECK(s == PTLIB_E_OUT_OF_MEMORY);
        CHECK(ptlib_arena_tables_in_use(&arena) == in_use);
        {
          const leaf_digest after = leaves_of(&tree, &mem);
          CHECK(after.count == before.count && after.hash == before.hash);
        }
        CHECK(sound(&tree, &mem, in_use));
      }
      CHECK(fail_at > 0 && fail_at < 64);
    }
  }

  /* The lifecycle: pages, protect part of them, compact back into a block, unmap. */
  {
    const uint64_t va1 = va0 + 8 * block, pa1 = pa0 + 8 * block;
    const ptlib_attrs r_only = no_nx ? (PTLIB_R | PTLIB_G) : (PTLIB_R | PTLIB_G);
    leaf_digest d;
    CHECK(ptlib_map(&tree, &mem, va1, pa1, block, rwg, &pages, &rep, &err) == PTLIB_OK);
    CHECK(rep.leaves_changed == block / page || rep.leaves_changed > 0);
    CHECK(ptlib_translate(&tree, &mem, va1 + 5 * page, &pa, &leaf, &err) == PTLIB_OK);
    CHECK(pa == pa1 + 5 * page && leaf.size <= block && leaf.size >= page);
    CHECK(ptlib_protect(&tree, &mem, va1 + 4 * page, 4 * page, r_only, &opts, &rep, &err) == PTLIB_OK);
    CHECK(ptlib_translate(&tree, &mem, va1 + 5 * page, &pa, &leaf, &err) == PTLIB_OK);
    CHECK(pa == pa1 + 5 * page && (leaf.attrs & PTLIB_W) == 0);
    CHECK(ptlib_translate(&tree, &mem, va1 + 9 * page, &pa, &leaf, &err) == PTLIB_OK);
    CHECK((leaf.attrs & PTLIB_W) != 0);
    CHECK(ptlib_protect(&tree, &mem, va1 + 4 * page, 4 * page, rwg, &opts, &rep, &err) == PTLIB_OK);
    CHECK(ptlib_compact(&tree, &mem, va1, block, &opts, &rep, &err) == PTLIB_OK);
    CHECK(rep.tables_released >= 1);
    CHECK(ptlib_translate(&tree, &mem, va1 + 5 * page, &pa, &leaf, &err) == PTLIB_OK);
    CHECK(pa == pa1 + 5 * page && leaf.size == block && leaf.va == va1);
    d = leaves_of(&tree, &mem);
    CHECK(d.count == 2);
    CHECK(sound(&tree, &mem, ptlib_arena_tables_in_use(&arena)));
    CHECK(ptlib_unmap(&tree, &mem, va0, 16 * block, &opts, &rep, &err) == PTLIB_OK);
    CHECK(rep.leaves_changed == 2);
    CHECK(ptlib_arena_tables_in_use(&arena) == 1); /* every table released but the root */
    CHECK(leaves_of(&tree, &mem).count == 0);
    CHECK(ptlib_translate(&tree, &mem, va1, &pa, &leaf, &err) == PTLIB_E_NOT_MAPPED);
  }

  /* Live trees through the sync hook: every change of a valid entry is invalidated; a change
   * of memory type is break-before-make on arm64 and ARMv7 (Arm ARM D8.16.1; ARMv7 B3.10.1), so
   * PTLIB_LIVE_REFUSE refuses it and changes nothing, PTLIB_LIVE_BREAK_BEFORE_MAKE does it. */
  {
    recorder rec = {0, 0, 0, 0};
    ptlib_sync sync;
    ptlib_options live = opts;
    const uint64_t va2 = va0 + 2 * block;
    const int arm = (f >= PTLIB_ARM64_4K_39 && f <= PTLIB_ARM64_64K_52) || f >= PTLIB_ARMV7_LPAE;
    leaf_digest one = {0, 0};
    sync.ctx = &rec;
    sync.publish = rec_publish;
    sync.invalidate = rec_invalidate;
    live.sync = &sync;
    live.live = PTLIB_LIVE_REFUSE;
    CHECK(ptlib_map(&tree, &mem, va2, pa0, page, rwg, &opts, NULL, &err) == PTLIB_OK);
    CHECK(ptlib_leaves(&tree, &mem, va2, page, digest_leaf, &one, &err) == PTLIB_OK && one.count == 1);
    CHECK(ptlib_protect(&tree, &mem, va2, page, PTLIB_R | PTLIB_G, &live, NULL, &err) == PTLIB_OK);
    CHECK(rec.invalidates >= 1 && rec.lo <= va2 && rec.hi >= va2 + page);
    if (arm) {
      memcpy(pool_copy, pool, POOL_BYTES);
      rec.invalidates = rec.publishes = 0;
      CHECK(ptlib_protect(&tree, &mem, va2, page, PTLIB_R | PTLIB_G | PTLIB_MEM_DEVICE, &live, NULL, &err) ==
            PTLIB_E_NEEDS_BREAK_BEFORE_MAKE);
      CHECK(err.va == va2 && rec.invalidates == 0 && memcmp(pool, pool_copy, POOL_BYTES) == 0);
      live.live = PTLIB_LIVE_BREAK_BEFORE_MAKE;
      CHECK(ptlib_protect(&tree, &mem, va2, page, PTLIB_R | PTLIB_G | PTLIB_MEM_DEVICE, &live, NULL, &err) == PTLIB_OK);
      CHECK(rec.publishes >= 1 && rec.invalidates >= 1 && rec.lo <= va2 && rec.hi >= va2 + page);
      CHECK(ptlib_translate(&tree, &mem, va2, &pa, &leaf, &err) == PTLIB_OK &&
            (leaf.attrs & PTLIB_MEM_MASK) == PTLIB_MEM_DEVICE);
    }
    CHECK(ptlib_unmap(&tree, &mem, va2, page, &opts, NULL, &err) == PTLIB_OK);
  }

  /* validate: an expected count off by one is the one problem. */
  {
    uint64_t scratch[8];
    ptlib_validate_options vo;
    ptlib_validation v;
    vo.flags = PTLIB_VALIDATE_EXPECT_TABLES;
    vo.expected_tables = 2;
    CHECK(ptlib_validate(&tree, &mem, &vo, scratch, 8, &v) == PTLIB_OK);
    CHECK(v.problems == 1 && v.first.what == PTLIB_P_ACCOUNTING_MISMATCH && v.tables == 1);
    CHECK(v.tables_recorded == 1 && scratch[0] == tree.root);
    CHECK(strcmp(ptlib_problem_text(v.first.what), "the tables reached differ from the tables expected") == 0);
  }

  /* Boot maps: two banks linearly, an image by sections. */
  {
    ptlib_bank banks[2];
    ptlib_section sec[4];
    ptlib_image_options io;
    const uint64_t lin = va_at(&info, 32 * block), img = va_at(&info, 64 * block);
    banks[0].pa = 0;
    banks[0].size = 2 * block;
    banks[1].pa = 4 * block;
    banks[1].size = block + 3 * page;
    CHECK(ptlib_map_linear(&tree, &mem, banks, 2, lin, PTLIB_LINEAR_ATTRS, &opts, &rep, &err) == PTLIB_OK);
    CHECK(ptlib_translate(&tree, &mem, lin + 4 * block + block + 2 * page + 8, &pa, &leaf, &err) == PTLIB_OK);
    CHECK(pa == 4 * block + block + 2 * page + 8 && leaf.size == page);
    CHECK(ptlib_translate(&tree, &mem, lin + block, &pa, &leaf, &err) == PTLIB_OK);
    CHECK(pa == block && leaf.size >= block);
    /* Two banks that meet: refused whole. */
    in_use = ptlib_arena_tables_in_use(&arena);
    banks[1].pa = block;
    CHECK(ptlib_map_linear(&tree, &mem, banks, 2, lin + 128 * block, PTLIB_LINEAR_ATTRS, &opts, &rep, &err) ==
          PTLIB_E_OVERLAP);
    CHECK(ptlib_arena_tables_in_use(&arena) == in_use);
    CHECK(ptlib_translate(&tree, &mem, lin + 128 * block, &pa, NULL, &err) == PTLIB_E_NOT_MAPPED);

    sec[0].name = ".text"; sec[0].offset = 0; sec[0].size = 3 * page; sec[0].kind = PTLIB_SECTION_TEXT;
    sec[1].name = ".rodata"; sec[1].offset = 3 * page; sec[1].size = page + 5; sec[1].kind = PTLIB_SECTION_RODATA;
    sec[2].name = ".data"; sec[2].offset = 5 * page; sec[2].size = page; sec[2].kind = PTLIB_SECTION_DATA;
    sec[3].name = ".bss"; sec[3].offset = 6 * page; sec[3].size = 2 * page; sec[3].kind = PTLIB_SECTION_BSS;
    memset(&io, 0, sizeof io);
    io.engine = opts;
    CHECK(ptlib_map_image(&tree, &mem, img, pa0, sec, 4, &io, &rep, &err) == PTLIB_OK);
    CHECK(ptlib_translate(&tree, &mem, img + page, &pa, &leaf, &err) == PTLIB_OK);
    CHECK(pa == pa0 + page && (leaf.attrs & (PTLIB_W | PTLIB_X)) == PTLIB_X);
    CHECK(ptlib_translate(&tree, &mem, img + 4 * page, &pa, &leaf, &err) == PTLIB_OK);
    CHECK((leaf.attrs & PTLIB_W) == 0 && ((leaf.attrs & PTLIB_X) == 0 || no_nx));
    CHECK(ptlib_translate(&tree, &mem, img + 7 * page, &pa, &leaf, &err) == PTLIB_OK);
    CHECK(pa == pa0 + 7 * page && (leaf.attrs & PTLIB_W) && ((leaf.attrs & PTLIB_X) == 0 || no_nx));
    CHECK(ptlib_translate(&tree, &mem, img + 8 * page, &pa, &leaf, &err) == PTLIB_E_NOT_MAPPED);
    /* W+X refused unless asked. */
    sec[0].kind = PTLIB_SECTION_INIT;
    CHECK(ptlib_map_image(&tree, &mem, img + 64 * block, pa0, sec, 1, &io, &rep, &err) == PTLIB_E_WRITABLE_EXECUTABLE);
    CHECK(err.va == img + 64 * block);
    CHECK(ptlib_translate(&tree, &mem, img + 64 * block, &pa, NULL, &err) == PTLIB_E_NOT_MAPPED);
  }

  /* Register calls of other families say so. */
  {
    uint64_t v = 0;
    ptlib_control_bits cb;
    const int riscv = f <= PTLIB_SV57, x86 = f >= PTLIB_X86_32 && f <= PTLIB_X86_64_L5, v7 = f == PTLIB_ARMV7_LPAE;
    const int a64 = !riscv && !x86 && !v7;
    CHECK((ptlib_riscv_satp(&tree, 0, &v, &err) == PTLIB_OK) == riscv);
    CHECK((ptlib_x86_cr3(&tree, NULL, &v, &err) == PTLIB_OK) == x86);
    CHECK((ptlib_x86_efer(f, 0, &cb, &err) == PTLIB_OK) == x86);
    CHECK((ptlib_arm64_ttbr(&tree, 0, false, &v, &err) == PTLIB_OK) == a64);
    CHECK((ptlib_armv7_ttbr(&tree, 0, &v, &err) == PTLIB_OK) == v7);
    if (!riscv) CHECK(ptlib_riscv_satp(&tree, 0, &v, &err) == PTLIB_E_WRONG_FAMILY && err.code == PTLIB_E_WRONG_FAMILY);
  }
}

/* Register values against the manuals' field layouts. */
static void test_registers(void) {
  ptlib_tree t;
  ptlib_error err;
  uint64_t v = 0;
  current = "registers";
  if (ptlib_has_format(PTLIB_SV39)) {
    /* RISC-V priv 4.1.11: satp = MODE[63:60] (8 = Sv39, Table 4.4) | ASID[59:44] | PPN[43:0]. */
    t.format = PTLIB_SV39; t.caps = 0; t.root = UINT64_C(0x80400000);
    CHECK(ptlib_riscv_satp(&t, 7, &v, &err) == PTLIB_OK);
    CHECK(v == ((UINT64_C(8) << 60) | (UINT64_C(7) << 44) | (UINT64_C(0x80400000) >> 12)));
    CHECK(ptlib_riscv_satp(&t, 1u << 16, &v, &err) == PTLIB_E_FIELD_OUT_OF_RANGE);
    t.root += 0x800;
    CHECK(ptlib_riscv_satp(&t, 0, &v, &err) == PTLIB_E_MISALIGNED_TABLE && err.pa == t.root);
  }
  if (ptlib_has_format(PTLIB_X86_64_L4)) {
    ptlib_control_bits cb;
    ptlib_cr3_options o;
    /* Intel SDM vol. 3A 4.5: CR3 holds the PML4 address; 2.5: CR4.PAE bit 5, PGE bit 7,
     * LA57 bit 12, PCIDE bit 17; 2.2.1: EFER.LME bit 8, NXE bit 11. */
    t.format = PTLIB_X86_64_L4; t.caps = 0; t.root = UINT64_C(0x123000);
    CHECK(ptlib_x86_cr3(&t, NULL, &v, &err) == PTLIB_OK && v == UINT64_C(0x123000));
    memset(&o, 0, sizeof o);
    o.has_pcid = true; o.pcid = 5;
    CHECK(ptlib_x86_cr3(&t, &o, &v, &err) == PTLIB_OK && v == UINT64_C(0x123005));
    o.pcid = 0x1000;
    CHECK(ptlib_x86_cr3(&t, &o, &v, &err) == PTLIB_E_FIELD_OUT_OF_RANGE);
    CHECK(ptlib_x86_cr4(PTLIB_X86_64_L4, 0, true, false, &cb, &err) == PTLIB_OK);
    CHECK(cb.set == ((1u << 5) | (1u << 7)) && (cb.clear & (1u << 12)) && (cb.clear & (1u << 4)));
    CHECK(ptlib_x86_cr4(PTLIB_X86_64_L5, 0, false, false, &cb, &err) == PTLIB_OK);
    CHECK(cb.set == ((1u << 5) | (1u << 12)));
    CHECK(ptlib_x86_cr4(PTLIB_X86_PAE, 0, false, true, &cb, &err) == PTLIB_E_FIELD_OUT_OF_RANGE);
    CHECK(ptlib_x86_efer(PTLIB_X86_64_L4, 0, &cb, &err) == PTLIB_OK && cb.set == ((1u << 8) | (1u << 11)));
    CHECK(ptlib_x86_efer(PTLIB_X86_PAE, PTLIB_CAP_NO_NX, &cb, &err) == PTLIB_OK && cb.set == 0);
    CHECK(ptlib_x86_efer(PTLIB_X86_PAE, PTLIB_CAP_SVNAPOT, &cb, &err) == PTLIB_E_INVALID_ARGUMENT);
  }
  if (ptlib_has_format(PTLIB_ARM64_4K_48)) {
    ptlib_tcr_options o;
    /* Arm ARM D19.2 (TTBR0_EL1): BADDR[47:1], ASID[63:48]. TCR_EL1: T0SZ[5:0], IRGN0[9:8],
     * ORGN0[11:10], SH0[13:12], TG0[15:14] (4KB 0b00), T1SZ[21:16], IRGN1[25:24], ORGN1[27:26],
     * SH1[29:28], TG1[31:30] (4KB 0b10, 16KB 0b01, 64KB 0b11), IPS[34:32] (48 bits 0b101), AS[36],
     * EPD1[23]. */
    const uint64_t walk0 = (UINT64_C(1) << 8) | (UINT64_C(1) << 10) | (UINT64_C(3) << 12);
    const uint64_t walk1 = (UINT64_C(1) << 24) | (UINT64_C(1) << 26) | (UINT64_C(3) << 28);
    t.format = PTLIB_ARM64_4K_48; t.caps = 0; t.root = UINT64_C(0x40001000);
    CHECK(ptlib_arm64_ttbr(&t, 5, false, &v, &err) == PTLIB_OK && v == (UINT64_C(0x40001000) | (UINT64_C(5) << 48)));
    CHECK(ptlib_arm64_tcr(PTLIB_ARM64_4K_48, PTLIB_ARM64_4K_48_TTBR1, NULL, &v, &err) == PTLIB_OK);
    CHECK(v == (16 | walk0 | (UINT64_C(16) << 16) | walk1 | (UINT64_C(2) << 30) | (UINT64_C(5) << 32) | (UINT64_C(1) << 36)));
    CHECK(ptlib_arm64_tcr(PTLIB_ARM64_4K_48, PTLIB_FORMAT_NONE, NULL, &v, &err) == PTLIB_OK);
    CHECK(v == (16 | walk0 | (UINT64_C(16) << 16) | walk1 | (UINT64_C(2) << 30) | (UINT64_C(5) << 32) |
                (UINT64_C(1) << 36) | (UINT64_C(1) << 23)));
    if (ptlib_has_format(PTLIB_ARM64_64K_42_TTBR1)) {
      CHECK(ptlib_arm64_tcr(PTLIB_ARM64_4K_39, PTLIB_ARM64_64K_42_TTBR1, NULL, &v, &err) == PTLIB_OK);
      CHECK(v == (25 | walk0 | (UINT64_C(22) << 16) | walk1 | (UINT64_C(3) << 30) | (UINT64_C(5) << 32) | (UINT64_C(1) << 36)));
    }
    memset(&o, 0, sizeof o);
    o.pa_bits = 41;
    CHECK(ptlib_arm64_tcr(PTLIB_ARM64_4K_48, PTLIB_ARM64_4K_48_TTBR1, &o, &v, &err) == PTLIB_E_FIELD_OUT_OF_RANGE);
    CHECK(ptlib_arm64_tcr(PTLIB_ARM64_4K_48_TTBR1, PTLIB_ARM64_4K_48, NULL, &v, &err) == PTLIB_E_INVALID_ARGUMENT);
    CHECK(ptlib_arm64_tcr(PTLIB_ARM64_4K_48, PTLIB_ARM64_4K_52_TTBR1, NULL, &v, &err) == PTLIB_E_INVALID_ARGUMENT);
  }
  if (ptlib_has_format(PTLIB_ARMV7_LPAE)) {
    uint32_t ttbcr = 0;
    /* ARM ARM v7 B4.1.153 (TTBCR, EAE = 1): T0SZ[2:0], EPD0[7], IRGN0[9:8], ORGN0[11:10],
     * SH0[13:12], T1SZ[18:16], A1[22], EPD1[23], IRGN1[25:24], ORGN1[27:26], SH1[29:28], EAE[31].
     * B4.1.155 (TTBR, 64-bit): BADDR[39:x], ASID[55:48]. */
    CHECK(ptlib_armv7_ttbcr(PTLIB_ARMV7_LPAE, NULL, &ttbcr, &err) == PTLIB_OK);
    CHECK(ttbcr == ((1u << 31) | (1u << 8) | (1u << 10) | (3u << 12) | (1u << 23) | (1u << 24) | (1u << 26) | (3u << 28)));
    t.format = PTLIB_ARMV7_LPAE; t.caps = 0; t.root = UINT64_C(0x80000020);
    CHECK(ptlib_armv7_ttbr(&t, 3, &v, &err) == PTLIB_OK && v == (UINT64_C(0x80000020) | (UINT64_C(3) << 48)));
    CHECK(ptlib_armv7_ttbr(&t, 256, &v, &err) == PTLIB_E_FIELD_OUT_OF_RANGE);
  }
}

/* Identity map: the first candidate that reaches every bank. */
static void test_identity(void) {
  ptlib_arena arena;
  ptlib_memory mem;
  ptlib_identity id;
  ptlib_error err;
  ptlib_bank bank;
  uint64_t pa = 0;
  const ptlib_format cands[2] = {PTLIB_SV39, PTLIB_SV48};
  current = "identity";
  if (!ptlib_has_format(PTLIB_SV39)) return;
  ptlib_arena_init(&arena, pool, POOL_BYTES, POOL_PA);
  mem = ptlib_arena_memory(&arena);
  bank.pa = UINT64_C(0x80000000);
  bank.size = UINT64_C(1) << 30;
  CHECK(ptlib_map_identity(cands, 2, 0, &mem, &bank, 1, PTLIB_LINEAR_ATTRS, NULL, &id, &err) == PTLIB_OK);
  CHECK(id.index == 0 && id.tree.format == PTLIB_SV39 && id.report.leaves_changed == 1);
  CHECK(ptlib_translate(&id.tree, &mem, UINT64_C(0x80001234), &pa, NULL, &err) == PTLIB_OK && pa == UINT64_C(0x80001234));
  /* 2^40 is beyond Sv39's low half (2^38): Sv48 it is. */
  bank.pa = UINT64_C(1) << 40;
  CHECK(ptlib_map_identity(cands, 2, 0, &mem, &bank, 1, PTLIB_LINEAR_ATTRS, NULL, &id, &err) == PTLIB_OK);
  CHECK(id.index == 1 && id.tree.format == PTLIB_SV48);
  CHECK(ptlib_translate(&id.tree, &mem, (UINT64_C(1) << 40) + 8, &pa, NULL, &err) == PTLIB_OK && pa == (UINT64_C(1) << 40) + 8);
  bank.pa = UINT64_C(1) << 50;
  CHECK(ptlib_map_identity(cands, 2, 0, &mem, &bank, 1, PTLIB_LINEAR_ATTRS, NULL, &id, &err) == PTLIB_E_VA_OUT_OF_RANGE);
  CHECK(err.pa == bank.pa);
}


/* ---- preallocation and the shared kernel half ---- */

/* A memory over the arena that gives `left` tables and then fails, and says so in reserve(): the
 * allocator a kernel has, failing at each index in turn. */
static bool honest_reserve(void* ctx, size_t n, size_t bytes, size_t align) {
  failing* f = (failing*)ctx;
  return n <= f->left && f->inner.reserve(f->inner.ctx, n, bytes, align);
}
static ptlib_memory honest_memory(failing* f) {
  ptlib_memory m = failing_memory(f);
  m.reserve = honest_reserve;
  return m;
}

/* Whether the pool and the arena's counters are as saved. */
static int unchanged(const ptlib_arena* a, size_t in_use, size_t used) {
  return memcmp(pool, pool_copy, POOL_BYTES) == 0 && ptlib_arena_tables_in_use(a) == in_use &&
         ptlib_arena_used(a) == used;
}

/* One call with an honest memory over `mem` that gives `left` tables: the pool and the arena's
 * counters are saved first, for unchanged() after a refusal. */
typedef struct attempt {
  failing fm;
  size_t in_use, used;
} attempt;
static ptlib_memory begin_attempt(attempt* a, const ptlib_memory* mem, const ptlib_arena* arena, size_t left) {
  a->fm.inner = *mem;
  a->fm.left = left;
  a->fm.allocations = 0;
  memcpy(pool_copy, pool, POOL_BYTES);
  a->in_use = ptlib_arena_tables_in_use(arena);
  a->used = ptlib_arena_used(arena);
  return honest_memory(&a->fm);
}

static void test_share(ptlib_format f, uint32_t depth) {
  ptlib_format_info info;
  ptlib_arena arena;
  ptlib_memory mem;
  ptlib_tree ref, proc[2];
  ptlib_error err;
  ptlib_shared_kernel k, k0;
  uint64_t roots[3];
  ptlib_prealloc_plan cost, plan;
  ptlib_report rep;
  ptlib_sync_report sr;
  uint64_t page, root_span, span1, va, size, pva, psize, pa, kva;
  size_t in_use, used, fail_at;
  const ptlib_attrs rwg = PTLIB_R | PTLIB_W | PTLIB_G;
  ptlib_options opts;
  memset(&opts, 0, sizeof opts);
  CHECK(ptlib_format_info_of(f, &info) == PTLIB_OK);
  if (depth + 1 >= info.levels) return;
  if (f == PTLIB_X86_32) opts.flags = PTLIB_OPT_ALLOW_IMPLIED_EXEC;
  current = info.name;
  page = info.page_size;
  ptlib_arena_init(&arena, pool, POOL_BYTES, POOL_PA);
  mem = ptlib_arena_memory(&arena);
  CHECK(ptlib_tree_create(f, 0, &mem, &ref, &err) == PTLIB_OK);
  /* Spans from the geometry: the root's entries split the VA range; each table below has
   * table_bytes / entry_bytes entries. */
  root_span = (UINT64_C(1) << info.va_bits) / (info.root_bytes / info.entry_bytes);
  span1 = root_span / (info.table_bytes / info.entry_bytes);
  /* The shared range: the upper half of what the tree translates (the kernel half). */
  size = UINT64_C(1) << (info.va_bits - 1);
  va = info.va_start_high ? info.va_start_high : info.va_start + size;

  /* Refused: nothing written. */
  memset(&k, 0xab, sizeof k);
  k0 = k;
  CHECK(ptlib_shared_kernel_init(&k, &ref, va + page, size - page, depth, roots, 3, &err) == PTLIB_E_MISALIGNED_VA);
  CHECK(ptlib_shared_kernel_init(&k, &ref, va, page, depth, roots, 3, &err) == PTLIB_E_MISALIGNED_SIZE);
  CHECK(ptlib_shared_kernel_init(&k, &ref, va, size, 2, roots, 3, &err) == PTLIB_E_INVALID_ARGUMENT);
  CHECK(ptlib_shared_kernel_init(&k, &ref, va, size, depth, NULL, 3, &err) == PTLIB_E_INVALID_ARGUMENT);
  CHECK(memcmp(&k, &k0, sizeof k) == 0);
  CHECK(ptlib_shared_kernel_init(&k, &ref, va, size, depth, roots, 3, &err) == PTLIB_OK && k.count == 0);

  /* The planner: two pages across the boundary of two root entries (or, with one root entry in
   * the range, of two entries below it). */
  psize = 2 * page;
  pva = size >= 2 * root_span ? va + root_span - page : va + span1 - page;
  CHECK(ptlib_preallocation_cost(f, depth, pva, psize, &cost, &err) == PTLIB_OK);
  CHECK(cost.by_depth[0] == 0 && cost.by_depth[1] == (size >= 2 * root_span ? 2u : 1u));
  CHECK(depth == 0 || cost.by_depth[2] == 2);
  CHECK(cost.tables == cost.by_depth[1] + (depth ? cost.by_depth[2] : 0) && cost.bytes == cost.tables * info.table_bytes);
  CHECK(ptlib_preallocation_cost(f, depth, pva + 8, psize, &cost, &err) == PTLIB_E_MISALIGNED_VA);
  CHECK(ptlib_preallocation_cost(f, info.levels - 1, pva, psize, &cost, &err) == PTLIB_E_INVALID_ARGUMENT);
  CHECK(ptlib_preallocation_cost(f, depth, pva, psize, &cost, &err) == PTLIB_OK);
  CHECK(ptlib_plan_preallocate(&ref, &mem, depth, pva, psize, &plan, &err) == PTLIB_OK);
  CHECK(memcmp(&plan, &cost, sizeof plan) == 0); /* an empty tree costs what the formula says */

  /* Two process roots holding the (empty) kernel half. */
  CHECK(ptlib_shared_kernel_create_root(&k, &mem, &proc[0], &err) == PTLIB_OK && k.count == 1 && roots[0] == proc[0].root);
  CHECK(ptlib_shared_kernel_create_root(&k, &mem, &proc[1], &err) == PTLIB_OK && k.count == 2 && roots[1] == proc[1].root);

  /* A kernel map in the reference (the last page of the range) writes a shared level: the
   * roots see it after the sync. */
  kva = va + size - page;
  CHECK(ptlib_map(&ref, &mem, kva, 0x200000, page, rwg, &opts, &rep, &err) == PTLIB_OK);
  CHECK(ptlib_shared_kernel_needs_sync(&k, &rep));
  CHECK(ptlib_translate(&proc[0], &mem, kva, &pa, NULL, &err) == PTLIB_E_NOT_MAPPED);
  {
    /* With private tables to add (sync depth 1), a memory failing at each index changes nothing. */
    /* Live: the roots' new entries are published; an invalid entry made valid needs no TLB
     * invalidation (a refused sync calls neither). */
    recorder rec = {0, 0, 0, 0};
    ptlib_sync hook;
    ptlib_options live;
    memset(&live, 0, sizeof live);
    hook.ctx = &rec;
    hook.publish = rec_publish;
    hook.invalidate = rec_invalidate;
    live.live = PTLIB_LIVE_BREAK_BEFORE_MAKE;
    live.sync = &hook;
    for (fail_at = 0; fail_at < 8; ++fail_at) {
      attempt at;
      const ptlib_memory m = begin_attempt(&at, &mem, &arena, fail_at);
      const ptlib_status s = ptlib_shared_kernel_sync(&k, &m, kva, page, &rep, &live, &sr, &err);
      if (s == PTLIB_OK) break;
      CHECK(s == PTLIB_E_OUT_OF_MEMORY && depth > 0 && err.tables_needed == 2 && err.tables_available == fail_at);
      CHECK(unchanged(&arena, at.in_use, at.used) && rec.publishes == 0 && rec.invalidates == 0);
    }
    CHECK(sr.roots == 2 && sr.tables_added == 2 * depth && (depth || sr.entries_copied == 2));
    CHECK(rec.publishes >= 1 && rec.invalidates == 0);
  }
  CHECK(ptlib_translate(&proc[0], &mem, kva, &pa, NULL, &err) == PTLIB_OK && pa == 0x200000);
  CHECK(ptlib_translate(&proc[1], &mem, kva, &pa, NULL, &err) == PTLIB_OK && pa == 0x200000);
  {
    ptlib_memory m = mem;
    m.reserve = NULL;
    CHECK(ptlib_shared_kernel_sync(&k, &mem, va, page, NULL, NULL, &sr, &err) == PTLIB_E_INVALID_ARGUMENT);
    CHECK(ptlib_shared_kernel_create_root(&k, &m, &proc[0], &err) == PTLIB_E_INVALID_ARGUMENT);
    CHECK(ptlib_preallocate(&ref, &m, depth, pva, psize, NULL, &rep, &err) == PTLIB_E_INVALID_ARGUMENT);
    CHECK(!depth || ptlib_shared_kernel_sync_all(&k, &m, NULL, &sr, &err) == PTLIB_E_INVALID_ARGUMENT);
    k0 = k;
    k0.count = 4;
    CHECK(ptlib_shared_kernel_sync_all(&k0, &mem, NULL, &sr, &err) == PTLIB_E_INVALID_ARGUMENT);
  }

  /* Preallocation of the kernel half through the kernel, with a memory failing at each index:
   * OUT_OF_MEMORY with the counts and nothing changed, until it has enough. Tables the map above
   * made (when it shares an entry with this range) are not counted again: the dry run's count. */
  CHECK(ptlib_plan_preallocate(&ref, &mem, depth, pva, psize, &cost, &err) == PTLIB_OK);
  CHECK(cost.tables <= plan.tables);
  for (fail_at = 0; fail_at < 16; ++fail_at) {
    attempt at;
    const ptlib_memory m = begin_attempt(&at, &mem, &arena, fail_at);
    const ptlib_status s = ptlib_shared_kernel_preallocate(&k, &m, pva, psize, NULL, &rep, &err);
    if (s == PTLIB_OK) {
      CHECK(rep.tables_added == cost.tables && at.fm.allocations == cost.tables && fail_at == cost.tables);
      break;
    }
    CHECK(s == PTLIB_E_OUT_OF_MEMORY && err.tables_needed == cost.tables && err.tables_available == fail_at);
    {
      char text[256];
      ptlib_error_text(&err, text, sizeof text);
      CHECK(strstr(text, "the allocator could give") != NULL);
    }
    CHECK(unchanged(&arena, at.in_use, at.used));
  }
  CHECK(ptlib_plan_preallocate(&ref, &mem, depth, pva, psize, &plan, &err) == PTLIB_OK && plan.tables == 0);
  /* The preallocation wrote a shared level: one sync, and then maps in the range need none. */
  CHECK(ptlib_shared_kernel_needs_sync(&k, &rep) == (cost.tables > 0));
  CHECK(ptlib_shared_kernel_sync(&k, &mem, pva, psize, &rep, NULL, &sr, &err) == PTLIB_OK &&
        sr.roots == (cost.tables > 0 ? 2u : 0u));
  CHECK(ptlib_map(&ref, &mem, pva, 0x400000, psize, rwg, &opts, &rep, &err) == PTLIB_OK);
  CHECK(!ptlib_shared_kernel_needs_sync(&k, &rep));
  CHECK(ptlib_shared_kernel_sync(&k, &mem, pva, psize, &rep, NULL, &sr, &err) == PTLIB_OK && sr.roots == 0);
  CHECK(ptlib_translate(&proc[1], &mem, pva + page, &pa, NULL, &err) == PTLIB_OK && pa == 0x400000 + page);
  /* A block where preallocation needs a table: OVERLAP at the block, nothing changed. */
  if (depth == 0) {
    const uint64_t bs = page * (info.levels > 2 ? info.table_bytes / info.entry_bytes : 1) *
                        (info.levels > 2 ? 1 : info.table_bytes / info.entry_bytes);
    const uint64_t blk = va + size - 2 * bs;
    ptlib_leaf leaf;
    CHECK(ptlib_map(&ref, &mem, blk, bs, bs, rwg, &opts, NULL, &err) == PTLIB_OK);
    if (ptlib_translate(&ref, &mem, blk, &pa, &leaf, &err) == PTLIB_OK && leaf.depth + 2 == info.levels) {
      memcpy(pool_copy, pool, POOL_BYTES);
      in_use = ptlib_arena_tables_in_use(&arena);
      used = ptlib_arena_used(&arena);
      CHECK(ptlib_preallocate(&ref, &mem, info.levels - 2, blk, page, NULL, &rep, &err) == PTLIB_E_OVERLAP);
      CHECK(err.va == blk && err.pa == bs);
      CHECK(unchanged(&arena, in_use, used));
    }
  }

  /* The registry. */
  CHECK(ptlib_shared_kernel_remove(&k, proc[0].root) && k.count == 1 && roots[0] == proc[1].root);
  CHECK(!ptlib_shared_kernel_remove(&k, proc[0].root) && k.count == 1);
  CHECK(ptlib_shared_kernel_add(&k, proc[0].root, &err) == PTLIB_OK && k.count == 2);
  CHECK(ptlib_shared_kernel_add(&k, proc[0].root, &err) == PTLIB_OK && k.count == 2);
  CHECK(ptlib_shared_kernel_add(&k, proc[0].root + 8, &err) == PTLIB_E_MISALIGNED_TABLE && k.count == 2);
  CHECK(ptlib_shared_kernel_add(&k, ref.root, &err) == PTLIB_OK && k.count == 3);
  CHECK(ptlib_shared_kernel_add(&k, POOL_PA + 64 * info.table_bytes, &err) == PTLIB_E_OUT_OF_MEMORY && k.count == 3);
  CHECK(ptlib_shared_kernel_remove(&k, ref.root) && k.count == 2);
  CHECK(ptlib_shared_kernel_sync_all(&k, &mem, NULL, &sr, &err) == PTLIB_OK && sr.roots == 2);

  /* Releasing a root that still maps user memory is refused whole. */
  {
    const uint64_t user = info.va_start_high ? 0 : info.va_start;
    CHECK(ptlib_map(&proc[0], &mem, user, 0x200000, page, PTLIB_R | PTLIB_U, &opts, NULL, &err) == PTLIB_OK);
    memcpy(pool_copy, pool, POOL_BYTES);
    in_use = ptlib_arena_tables_in_use(&arena);
    used = ptlib_arena_used(&arena);
    CHECK(ptlib_shared_kernel_release_root(&k, &mem, proc[0].root, &err) == PTLIB_E_OVERLAP && err.va == user);
    CHECK(unchanged(&arena, in_use, used) && k.count == 2);
    CHECK(ptlib_unmap(&proc[0], &mem, user, page, NULL, NULL, &err) == PTLIB_OK);
    in_use = ptlib_arena_tables_in_use(&arena);
    CHECK(ptlib_shared_kernel_release_root(&k, &mem, proc[0].root, &err) == PTLIB_OK && k.count == 1);
    /* The root and its private tables (one per shared root entry the reference links, at depth 1). */
    CHECK(ptlib_arena_tables_in_use(&arena) < in_use);
    CHECK(roots[0] == proc[1].root);
  }
}


/* ---- pools sized by the macros ---- */

/* Sv39, 1 GiB at a 1 GiB boundary with pages only: 1 VPN[1] table and 512 VPN[0] tables (one per
 * 2 MiB entry), plus the root (priv 4.4.1: VPN[2] entries map 1 GiB, VPN[1] entries 2 MiB). A
 * constant expression: C can size an array with it. */
typedef char sv39_gigabyte_pool[PTLIB_POOL_BYTES(PTLIB_SV39, PTLIB_REGION_TABLES(PTLIB_SV39, UINT64_C(0xffffffc000000000),
                                                                                 UINT64_C(1) << 30)) == 514 * 4096 ? 1 : -1];

#define POOL_FORMATS(X)                                                                                   \
  X(PTLIB_SV32) X(PTLIB_SV39) X(PTLIB_SV48) X(PTLIB_SV57) X(PTLIB_ARM64_4K_39) X(PTLIB_ARM64_4K_48)       \
  X(PTLIB_ARM64_4K_52) X(PTLIB_ARM64_16K_47) X(PTLIB_ARM64_16K_48) X(PTLIB_ARM64_16K_52)                  \
  X(PTLIB_ARM64_64K_42) X(PTLIB_ARM64_64K_48) X(PTLIB_ARM64_64K_52) X(PTLIB_X86_32) X(PTLIB_X86_PAE)      \
  X(PTLIB_X86_64_L4) X(PTLIB_X86_64_L5) X(PTLIB_ARMV7_LPAE) X(PTLIB_ARM64_4K_39_TTBR1)                   \
  X(PTLIB_ARM64_4K_48_TTBR1) X(PTLIB_ARM64_4K_52_TTBR1) X(PTLIB_ARM64_16K_47_TTBR1)                      \
  X(PTLIB_ARM64_16K_48_TTBR1) X(PTLIB_ARM64_16K_52_TTBR1) X(PTLIB_ARM64_64K_42_TTBR1)                    \
  X(PTLIB_ARM64_64K_48_TTBR1) X(PTLIB_ARM64_64K_52_TTBR1)
typedef struct pool_macros {
  ptlib_format format;
  uint64_t (*region)(uint64_t va, uint64_t size);
  uint64_t (*anywhere)(uint64_t size);
  uint64_t (*bytes)(uint64_t tables);
  uint64_t align;
} pool_macros;
#define POOL_FNS(F)                                                                              \
  static uint64_t region_##F(uint64_t va, uint64_t size) { return PTLIB_REGION_TABLES(F, va, size); } \
  static uint64_t anywhere_##F(uint64_t size) { return PTLIB_REGION_TABLES_ANYWHERE(F, size); }   \
  static uint64_t bytes_##F(uint64_t n) { return PTLIB_POOL_BYTES(F, n); }
POOL_FORMATS(POOL_FNS)
#define POOL_ENTRY(F) {F, region_##F, anywhere_##F, bytes_##F, PTLIB_POOL_ALIGN(F)},
static const pool_macros pool_macro_list[] = {POOL_FORMATS(POOL_ENTRY)};

typedef struct region {
  uint64_t va, size;
} region;

/* Maps the regions into a new tree in an arena of exactly PTLIB_POOL_BYTES(format, tables) bytes
 * (at the pool's alignment); blocks where VA and PA allow unless pages_only. Returns the status
 * of the first call that failed (PTLIB_OK: all mapped) and the tables below the root in *used;
 * *planned sums ptlib_plan (the engine's exact count) before each map. */
static ptlib_status map_in_pool(const pool_macros* pm, const ptlib_format_info* info, const region* r, int n,
                                uint64_t tables, int pages_only, size_t* planned, size_t* used) {
  ptlib_arena arena;
  ptlib_memory mem;
  ptlib_tree tree;
  ptlib_error err;
  ptlib_options opts;
  ptlib_status s;
  const uintptr_t at = ((uintptr_t)pool + (uintptr_t)pm->align - 1) & ~((uintptr_t)pm->align - 1);
  const uint64_t bytes = pm->bytes(tables);
  int i;
  memset(&opts, 0, sizeof opts);
  opts.max_leaf_size = pages_only ? info->page_size : 0;
  if (pm->format == PTLIB_X86_32) opts.flags = PTLIB_OPT_ALLOW_IMPLIED_EXEC;
  *planned = *used = 0;
  CHECK(at + bytes <= (uintptr_t)pool + POOL_BYTES);
  ptlib_arena_init(&arena, (void*)at, (size_t)bytes, POOL_PA);
  mem = ptlib_arena_memory(&arena);
  s = ptlib_tree_create(pm->format, 0, &mem, &tree, &err);
  for (i = 0; i < n && s == PTLIB_OK; ++i) {
    /* A PA congruent to the VA modulo 1 GiB (or the VA range), so blocks can form. */
    const uint64_t pa = UINT64_C(0x40000000) + (r[i].va & ((UINT64_C(1) << (info->va_bits < 30 ? info->va_bits : 30)) - 1));
    ptlib_op op;
    size_t t = 0;
    op.kind = PTLIB_OP_MAP;
    op.attrs = PTLIB_R | PTLIB_W | PTLIB_G;
    op.va = r[i].va;
    op.pa = pa;
    op.size = r[i].size;
    CHECK(ptlib_plan(&tree, &mem, &op, &opts, &t, &err) == PTLIB_OK);
    *planned += t;
    s = ptlib_apply(&tree, &mem, &op, &opts, NULL, &err);
  }
  *used = ptlib_arena_tables_in_use(&arena) ? ptlib_arena_tables_in_use(&arena) - 1 : 0; /* not the root */
  return s;
}

static void test_pool_macros(const pool_macros* pm) {
  ptlib_format_info info;
  uint64_t page, root_span, bs, base, bound = 0;
  size_t planned, used;
  region r[3];
  int i, pages_only;
  if (!ptlib_has_format(pm->format)) return;
  CHECK(ptlib_format_info_of(pm->format, &info) == PTLIB_OK);
  current = info.name;
  page = info.page_size;
  root_span = (UINT64_C(1) << info.va_bits) / (info.root_bytes / info.entry_bytes);
  bs = info.levels > 2 ? page * (info.table_bytes / info.entry_bytes) : root_span; /* a block at depth levels - 2 */
  base = info.va_start_high ? info.va_start_high : info.va_start;
  /* One page; two pages across a block boundary; three blocks starting one page before a root
   * entry's boundary, which is also every smaller span's (the worst alignment: one table more at
   * every level below the root). */
  r[0].va = base;
  r[0].size = page;
  r[1].va = base + 4 * bs - page;
  r[1].size = 2 * page;
  r[2].va = base + root_span - page;
  r[2].size = 3 * bs;
  for (i = 0; i < 3; ++i) {
    CHECK(pm->region(r[i].va, r[i].size) <= pm->anywhere(r[i].size));
    bound += pm->region(r[i].va, r[i].size);
  }
  /* The worst alignment is what PTLIB_REGION_TABLES_ANYWHERE assumes. */
  CHECK(pm->region(r[2].va, r[2].size) == pm->anywhere(r[2].size));
  for (pages_only = 0; pages_only < 2; ++pages_only) {
    CHECK(map_in_pool(pm, &info, r, 3, bound, pages_only, &planned, &used) == PTLIB_OK);
    CHECK(planned == used && used <= bound);
  }
  /* Alone and with pages only, the count is exact: one table less runs out. */
  CHECK(map_in_pool(pm, &info, &r[2], 1, pm->region(r[2].va, r[2].size), 1, &planned, &used) == PTLIB_OK);
  CHECK(used == pm->region(r[2].va, r[2].size));
  CHECK(map_in_pool(pm, &info, &r[2], 1, pm->region(r[2].va, r[2].size) - 1, 1, &planned, &used) ==
        PTLIB_E_OUT_OF_MEMORY);
}


/* ---- the families' attribute extensions ---- */

static int is_arm64(ptlib_format f) {
  return (f >= PTLIB_ARM64_4K_39 && f <= PTLIB_ARM64_64K_52) || f >= PTLIB_ARM64_4K_39_TTBR1;
}
/* FEAT_LPA2 formats: the descriptors' SH bits hold OA[51:50] (Arm ARM D8.3.1). */
static int is_lpa2(ptlib_format f) {
  return f == PTLIB_ARM64_4K_52 || f == PTLIB_ARM64_16K_52 || f == PTLIB_ARM64_4K_52_TTBR1 ||
         f == PTLIB_ARM64_16K_52_TTBR1;
}

static void test_ext(ptlib_format f) {
  ptlib_format_info info;
  ptlib_arena arena;
  ptlib_memory mem;
  ptlib_tree tree;
  ptlib_error err;
  ptlib_options opts;
  ptlib_ext x, bad;
  ptlib_leaf leaf;
  uint64_t va, page;
  size_t in_use, used;
  const ptlib_attrs rwg = PTLIB_R | PTLIB_W | PTLIB_G;
  const int arm = is_arm64(f) || f == PTLIB_ARMV7_LPAE;
  const int x86 = f >= PTLIB_X86_32 && f <= PTLIB_X86_64_L5;
  CHECK(ptlib_format_info_of(f, &info) == PTLIB_OK);
  current = info.name;
  page = info.page_size;
  va = info.va_start + 16 * page;
  ptlib_arena_init(&arena, pool, POOL_BYTES, POOL_PA);
  mem = ptlib_arena_memory(&arena);
  CHECK(ptlib_tree_create(f, 0, &mem, &tree, &err) == PTLIB_OK);
  memset(&opts, 0, sizeof opts);
  if (f == PTLIB_X86_32) opts.flags = PTLIB_OPT_ALLOW_IMPLIED_EXEC;
  memset(&x, 0, sizeof x);
  /* What each family has (docs/api.md's table): arm64/ARMv7 shareability, a MAIR attribute of
   * the caller's (attr 5: outside ptlib's layout, so the type reads back as OTHER) and software
   * bits; x86 and RISC-V the A/D policy and software bits. */
  if (arm) {
    x.share = is_lpa2(f) ? PTLIB_SHARE_PRESET : PTLIB_SHARE_OUTER;
    x.index = 1 + 5;
    x.software = 9;
  } else {
    x.accessed = PTLIB_ACCESSED_CLEAR;
    x.dirty = PTLIB_DIRTY_CLEAR;
    x.software = x86 ? 5 : 2;
  }
  opts.ext = &x;
  CHECK(ptlib_map(&tree, &mem, va, 0x100000, page, rwg, &opts, NULL, &err) == PTLIB_OK);
  CHECK(ptlib_translate(&tree, &mem, va, NULL, &leaf, &err) == PTLIB_OK);
  CHECK(memcmp(&leaf.ext, &x, sizeof x) == 0);
  CHECK(!arm || (leaf.attrs & PTLIB_MEM_MASK) == PTLIB_MEM_OTHER);
  opts.ext = NULL;
  CHECK(ptlib_protect(&tree, &mem, va, page, rwg, &opts, NULL, &err) == PTLIB_OK);
  CHECK(ptlib_translate(&tree, &mem, va, NULL, &leaf, &err) == PTLIB_OK);
  memset(&bad, 0, sizeof bad);
  CHECK(memcmp(&leaf.ext, &bad, sizeof bad) == 0 && (leaf.attrs & PTLIB_MEM_MASK) == PTLIB_MEM_NORMAL);

  /* Refused, nothing changed: a field of another family (INVALID_ARGUMENT), a value the family's
   * field cannot hold (the format's UNSUPPORTED_ATTRS, with a hint), a value outside the enum. */
  memcpy(pool_copy, pool, POOL_BYTES);
  in_use = ptlib_arena_tables_in_use(&arena);
  used = ptlib_arena_used(&arena);
  opts.ext = &bad;
  if (arm) bad.dirty = PTLIB_DIRTY_CLEAR;
  else bad.share = PTLIB_SHARE_INNER;
  CHECK(ptlib_map(&tree, &mem, va + page, 0x100000, page, rwg, &opts, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
  CHECK(ptlib_protect(&tree, &mem, va, page, rwg, &opts, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
  memset(&bad, 0, sizeof bad);
  bad.software = arm ? 16 : x86 ? 8 : 4;
  CHECK(ptlib_map(&tree, &mem, va + page, 0x100000, page, rwg, &opts, NULL, &err) == PTLIB_E_UNSUPPORTED_ATTRS);
  CHECK(err.hint != NULL);
  {
    char text[256];
    ptlib_error_text(&err, text, sizeof text);
    CHECK(strstr(text, "; what to do: ") != NULL);
  }
  if (is_lpa2(f)) {
    memset(&bad, 0, sizeof bad);
    bad.share = PTLIB_SHARE_OUTER;
    CHECK(ptlib_map(&tree, &mem, va + page, 0x100000, page, rwg, &opts, NULL, &err) == PTLIB_E_UNSUPPORTED_ATTRS);
  }
  memset(&bad, 0, sizeof bad);
  bad.dirty = (ptlib_dirty)3;
  CHECK(ptlib_map(&tree, &mem, va + page, 0x100000, page, rwg, &opts, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
  {
    ptlib_image_options io;
    ptlib_section sec;
    memset(&io, 0, sizeof io);
    io.engine.ext = &x;
    sec.name = ".data";
    sec.offset = 0;
    sec.size = page;
    sec.kind = PTLIB_SECTION_DATA;
    CHECK(ptlib_map_image(&tree, &mem, va + page, 0x100000, &sec, 1, &io, NULL, &err) == PTLIB_E_INVALID_ARGUMENT);
  }
  CHECK(unchanged(&arena, in_use, used));
}

static void test_misc(void) {
  ptlib_format f;
  ptlib_error e;
  char text[8];
  current = "misc";
  CHECK(ptlib_format_from_name("arm64-4k-48-ttbr1", &f) == PTLIB_OK && f == PTLIB_ARM64_4K_48_TTBR1);
  CHECK(ptlib_format_from_name("sv40", &f) == PTLIB_E_UNKNOWN_FORMAT);
  CHECK(ptlib_format_name((ptlib_format)PTLIB_FORMAT_COUNT) == NULL);
  CHECK(strcmp(ptlib_status_name(PTLIB_E_OVERLAP), "overlap") == 0);
  CHECK(strcmp(ptlib_status_text(PTLIB_E_OUT_OF_MEMORY), "the allocator cannot provide the tables needed") == 0);
  CHECK(strcmp(ptlib_status_name((ptlib_status)1000), "unknown") == 0);
  memset(&e, 0, sizeof e);
  e.code = PTLIB_OK; e.level = PTLIB_NO_LEVEL; e.va = 0; e.pa = 0; e.level_name = NULL;
  CHECK(ptlib_error_text(&e, text, 0) == strlen("ok: success"));
  CHECK(ptlib_error_text(&e, text, sizeof text) == strlen("ok: success") && strcmp(text, "ok: suc") == 0);
  {
    ptlib_layout l;
    if (ptlib_has_format(PTLIB_SV39)) {
      /* vm-layout.rst (Sv39): the linear map starts at 0xffffffd600000000. */
      CHECK(ptlib_layout_of(PTLIB_SV39, &l) == PTLIB_OK && l.linear.base == UINT64_C(0xffffffd600000000));
    }
    if (ptlib_has_format(PTLIB_ARM64_4K_39)) CHECK(ptlib_layout_of(PTLIB_ARM64_4K_39, &l) == PTLIB_E_WRONG_FAMILY);
    if (ptlib_has_format(PTLIB_SV39)) {
      /* place(): the linear map puts RAM at the layout's linear base; the image runs at the
       * start of the image window (the layout's definitions). */
      ptlib_placement p;
      uint64_t v = 0;
      const uint64_t ram = UINT64_C(0x80000000), load = UINT64_C(0x80200000);
      CHECK(ptlib_layout_of(PTLIB_SV39, &l) == PTLIB_OK);
      CHECK(ptlib_place(&l, ram, UINT64_C(128) << 20, load, UINT64_C(2) << 20, 4096, &p, &e) == PTLIB_OK);
      CHECK(p.va_pa_offset == l.linear.base - ram && p.image_va == l.image_window.base &&
            p.va_kernel_pa_offset == l.image_window.base - load && p.highmem_size == 0);
      CHECK(ptlib_virt_to_phys(&p, l.image_window.base + 0x10, &v, &e) == PTLIB_OK && v == load + 0x10);
      CHECK(ptlib_virt_to_phys(&p, l.linear.base + 0x20, &v, &e) == PTLIB_OK && v == ram + 0x20);
      CHECK(ptlib_phys_to_virt(&p, ram + 5, &v, &e) == PTLIB_OK && v == l.linear.base + 5);
      CHECK(ptlib_phys_to_virt(&p, ram + (UINT64_C(128) << 20), &v, &e) == PTLIB_E_NOT_MAPPED);
      CHECK(ptlib_virt_to_phys(&p, l.vmalloc.base, &v, &e) == PTLIB_E_NOT_MAPPED && e.va == l.vmalloc.base);
      CHECK(ptlib_place(&l, ram + 8, UINT64_C(128) << 20, load, 4096, 4096, &p, &e) == PTLIB_E_MISALIGNED_PA);
      CHECK(ptlib_place(&l, ram, l.linear.size + 4096, load, 4096, 4096, &p, &e) == PTLIB_E_VA_OUT_OF_RANGE);
    }
  }
}

int main(void) {
  uint32_t f;
  int formats = 0;
  current = "readme";
  CHECK(!ptlib_has_format(PTLIB_SV39) || readme_example());
  for (f = 0; f < PTLIB_FORMAT_COUNT; ++f) {
    if (!ptlib_has_format((ptlib_format)f)) continue;
    ++formats;
    test_format((ptlib_format)f);
    test_share((ptlib_format)f, 0);
    test_share((ptlib_format)f, 1);
    test_ext((ptlib_format)f);
  }
  for (f = 0; f < sizeof pool_macro_list / sizeof pool_macro_list[0]; ++f) test_pool_macros(&pool_macro_list[f]);
  test_registers();
  test_identity();
  test_misc();
  printf("%d formats, %d checks, %d failed\n", formats, checks, failures);
  return failures ? 1 : 0;
}
