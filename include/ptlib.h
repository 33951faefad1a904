/* ptlib's C API: page tables for RISC-V, arm64, x86 and ARMv7 LPAE from C (C99 or later), C++,
 * or any language with a C FFI. The paging format is a run-time value; every call dispatches to
 * the engine compiled once per format. Freestanding: this header needs only <stdint.h>,
 * <stddef.h> and <stdbool.h>, and the library needs only memset and memcpy.
 *
 * Conventions (docs/c-api.md has the whole story):
 *  - Every call that can fail returns a ptlib_status (PTLIB_OK = 0) and, when `err` is not NULL,
 *    fills *err with the code, the virtual and physical address and the tree level concerned.
 *    No call aborts on bad input.
 *  - No partial success: a mutating call that fails leaves the tables and the allocator as they
 *    were (a map, unmap, protect or compact either applies whole or changes nothing).
 *  - Options pointers may be NULL (defaults). Out pointers may be NULL where documented.
 */
#ifndef PTLIB_H
#define PTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Formats. The names are those of ptlib's format list (ptlib_format_name: "sv39",
 * "arm64-4k-48", "x86-64-l4", ...). The TTBR1 variants translate the top of the 64-bit space
 * ([2^64 - 2^VA, 2^64)) with the same descriptors; their names end in "-ttbr1".
 * The values are fixed: they are the ABI. */
typedef enum ptlib_format {
  PTLIB_SV32 = 0,
  PTLIB_SV39 = 1,
  PTLIB_SV48 = 2,
  PTLIB_SV57 = 3,
  PTLIB_ARM64_4K_39 = 4,
  PTLIB_ARM64_4K_48 = 5,
  PTLIB_ARM64_4K_52 = 6,
  PTLIB_ARM64_16K_47 = 7,
  PTLIB_ARM64_16K_48 = 8,
  PTLIB_ARM64_16K_52 = 9,
  PTLIB_ARM64_64K_42 = 10,
  PTLIB_ARM64_64K_48 = 11,
  PTLIB_ARM64_64K_52 = 12,
  PTLIB_X86_32 = 13,
  PTLIB_X86_PAE = 14,
  PTLIB_X86_64_L4 = 15,
  PTLIB_X86_64_L5 = 16,
  PTLIB_ARMV7_LPAE = 17,
  PTLIB_ARM64_4K_39_TTBR1 = 18,
  PTLIB_ARM64_4K_48_TTBR1 = 19,
  PTLIB_ARM64_4K_52_TTBR1 = 20,
  PTLIB_ARM64_16K_47_TTBR1 = 21,
  PTLIB_ARM64_16K_48_TTBR1 = 22,
  PTLIB_ARM64_16K_52_TTBR1 = 23,
  PTLIB_ARM64_64K_42_TTBR1 = 24,
  PTLIB_ARM64_64K_48_TTBR1 = 25,
  PTLIB_ARM64_64K_52_TTBR1 = 26,
  PTLIB_FORMAT_COUNT = 27,
  PTLIB_FORMAT_NONE = 0x7fffffff /* "no format" (e.g. no TTBR1 tree); keeps the enum 32 bits */
} ptlib_format;

/* ---------------------------------------------------------------------------------------------
 * Status codes. 1..18 are the engine's error codes (ptlib::Errc + 1, same order); the rest are
 * the C API's own argument checks. */
typedef enum ptlib_status {
  PTLIB_OK = 0,
  PTLIB_E_MISALIGNED_VA = 1,        /* va not a multiple of the smallest page */
  PTLIB_E_MISALIGNED_PA = 2,        /* pa not a multiple of the smallest page */
  PTLIB_E_MISALIGNED_SIZE = 3,      /* size not a multiple of the smallest page */
  PTLIB_E_ZERO_SIZE = 4,            /* size is 0 (or no bank / section has bytes) */
  PTLIB_E_RANGE_WRAPS = 5,          /* va + size or pa + size wraps around 2^64 */
  PTLIB_E_VA_OUT_OF_RANGE = 6,      /* outside the VA range this tree translates */
  PTLIB_E_VA_NON_CANONICAL = 7,     /* not sign-extended / crosses the canonical hole */
  PTLIB_E_PA_OUT_OF_RANGE = 8,      /* wider than the format's output address size */
  PTLIB_E_OVERLAP = 9,              /* the range meets an existing mapping */
  PTLIB_E_OUT_OF_MEMORY = 10,       /* the allocator cannot give the tables needed */
  PTLIB_E_UNSUPPORTED_ATTRS = 11,   /* the format cannot express these permissions */
  PTLIB_E_UNSUPPORTED_MEMTYPE = 12, /* the format (or its caps) has no such memory type */
  PTLIB_E_NOT_MAPPED = 13,          /* translate: nothing is mapped at the VA */
  PTLIB_E_MALFORMED_ENTRY = 14,     /* an entry is malformed for its level, or unreachable */
  PTLIB_E_MISALIGNED_TABLE = 15,    /* a table (or the root) is misaligned for its format */
  PTLIB_E_NEEDS_BREAK_BEFORE_MAKE = 16, /* live change refused by PTLIB_LIVE_REFUSE */
  PTLIB_E_WRITABLE_EXECUTABLE = 17, /* W+X mapping refused */
  PTLIB_E_FIELD_OUT_OF_RANGE = 18,  /* a value does not fit its register field */
  PTLIB_E_UNKNOWN_FORMAT = 64,      /* not a ptlib_format, or a format this library was built without */
  PTLIB_E_WRONG_FAMILY = 65,        /* the call is for another architecture's formats */
  PTLIB_E_INVALID_ARGUMENT = 66,    /* a NULL pointer where one is required, unknown flag bits,
                                       caps of another family, an unknown operation kind */
  PTLIB_STATUS_MAX = 0x7fffffff
} ptlib_status;

/* "No level": the error happened before any table was read. */
#define PTLIB_NO_LEVEL (-128)

/* What went wrong, and where. `level` is the manual's level number (arm64 -1..3, RISC-V i of
 * VPN[i], x86 1 = PT .. 5 = PML5, ARMv7 1..3) and `level_name` the manual's name for it
 * ("VPN[2]", "L1", "PDPT"); PTLIB_NO_LEVEL and NULL when no level applies. */
typedef struct ptlib_error {
  ptlib_status code;
  int32_t level;
  uint64_t va;
  uint64_t pa;
  const char* level_name;
  /* OUT_OF_MEMORY from the mutating calls: the tables the call needed and how many of them the
   * memory could promise (tables_needed > tables_available); 0 and 0 when not counted. */
  uint32_t tables_needed;
  uint32_t tables_available;
  /* What to do, when more is known than the code says (which capability or option fixes it);
   * NULL otherwise. */
  const char* hint;
} ptlib_error;

/* One sentence for a status code (no trailing period); never NULL. */
const char* ptlib_status_text(ptlib_status code);
/* The code's identifier as in the C++ API ("overlap", "out_of_memory", ...); never NULL. */
const char* ptlib_status_name(ptlib_status code);
/* Writes one line describing *err into buf (at most `size` bytes, NUL-terminated when size > 0):
 * "overlap: range overlaps an existing mapping (va 0x..., pa 0x..., level 2 VPN[2])", then
 * for OUT_OF_MEMORY with counts " (needed 3 tables, the allocator could give 1)" and, when the
 * error has a hint, "; what to do: <hint>".
 * Returns the length of the whole line (as snprintf: a return >= size means it was cut). */
size_t ptlib_error_text(const ptlib_error* err, char* buf, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Format facts. */
typedef struct ptlib_format_info {
  const char* name;       /* "sv39", "arm64-4k-48-ttbr1", ... */
  uint32_t levels;        /* lookup levels */
  uint32_t va_bits;       /* VA bits translated */
  uint32_t pa_bits;       /* output address bits */
  uint32_t entry_bytes;   /* bytes per entry (4 or 8) */
  uint64_t page_size;     /* smallest page */
  uint64_t va_start;      /* first VA the format translates (0, or the high half's first VA) */
  uint64_t va_last;       /* last VA of the first (or only) range */
  uint64_t va_start_high; /* sign-extended formats: first VA of the upper half (else 0) */
  size_t root_bytes, root_align;   /* the root table */
  size_t table_bytes, table_align; /* every other table */
} ptlib_format_info;

/* Whether this build of the library has `format` (a build may select families or formats:
 * docs/c-api.md, PTLIB_C_FAMILIES and PTLIB_C_FORMAT_MASK). */
bool ptlib_has_format(ptlib_format format);
/* The format's name, or NULL for an unknown format. */
const char* ptlib_format_name(ptlib_format format);
/* The format with this name (PTLIB_E_UNKNOWN_FORMAT when none). */
ptlib_status ptlib_format_from_name(const char* name, ptlib_format* out);
ptlib_status ptlib_format_info_of(ptlib_format format, ptlib_format_info* out);
/* log2 of the entries in a contiguous run at `depth` (0 = root) with these capabilities (arm64
 * Contiguous bit, RISC-V Svnapot with PTLIB_CAP_SVNAPOT); 0: no runs at that level.
 * INVALID_ARGUMENT for a depth beyond the format's levels or caps of another family. */
ptlib_status ptlib_contiguous_log2(ptlib_format format, uint32_t caps, uint32_t depth, uint32_t* out);

/* ---------------------------------------------------------------------------------------------
 * Attributes: permission bits | one memory type. */
typedef uint32_t ptlib_attrs;
#define PTLIB_R 0x01u      /* read */
#define PTLIB_W 0x02u      /* write */
#define PTLIB_X 0x04u      /* execute */
#define PTLIB_U 0x08u      /* user accessible */
#define PTLIB_G 0x10u      /* global (no address-space id) */
#define PTLIB_MEM_NORMAL 0x000u    /* normal memory, write-back */
#define PTLIB_MEM_NC 0x100u        /* normal memory, non-cacheable */
#define PTLIB_MEM_DEVICE 0x200u    /* device memory */
#define PTLIB_MEM_WC 0x300u        /* write-combining (x86 with PTLIB_CAP_PAT) */
#define PTLIB_MEM_OTHER 0x400u     /* decode only: an encoding outside the portable set */
#define PTLIB_MEM_MASK 0x700u
/* The linear map's attributes: read, write, global, normal memory, no execute. */
#define PTLIB_LINEAR_ATTRS (PTLIB_R | PTLIB_W | PTLIB_G)

/* What a family's leaves have beyond ptlib_attrs (the C++ Attrs::ext, through arm64::Ext,
 * armv7::Ext, x86::Ext, riscv::Ext; docs/api.md). All zero: none, the format's conventions. Each
 * field belongs to some families; a non-zero field the tree's family does not have is
 * INVALID_ARGUMENT (as caps of another family), a value the family's field cannot hold is the
 * format's UNSUPPORTED_ATTRS with a hint (err.hint). Given through ptlib_options.ext. */
typedef enum ptlib_share {
  PTLIB_SHARE_PRESET = 0, /* the convention: Inner Shareable normal memory, Non-shareable device */
  PTLIB_SHARE_NON = 1,    /* SH = 0b00 (arm64 D8.5, ARMv7 B3.6.2) */
  PTLIB_SHARE_OUTER = 2,  /* SH = 0b10 */
  PTLIB_SHARE_INNER = 3,  /* SH = 0b11 */
  PTLIB_SHARE_MAX = 0x7fffffff
} ptlib_share;
typedef enum ptlib_accessed {
  PTLIB_ACCESSED_SET = 0,   /* A = 1 (the default) */
  PTLIB_ACCESSED_CLEAR = 1, /* A = 0: the CPU sets it on first use, or faults (RISC-V Svade) */
  PTLIB_ACCESSED_MAX = 0x7fffffff
} ptlib_accessed;
typedef enum ptlib_dirty {
  PTLIB_DIRTY_IF_WRITABLE = 0, /* D = 1 on writable leaves (the default) */
  PTLIB_DIRTY_CLEAR = 1,       /* D = 0: the first write sets it, or faults (dirty tracking) */
  PTLIB_DIRTY_SET = 2,         /* D = 1 even on a read-only leaf */
  PTLIB_DIRTY_MAX = 0x7fffffff
} ptlib_dirty;
typedef struct ptlib_ext {
  ptlib_share share;       /* arm64, ARMv7 LPAE: SH[1:0] (not with FEAT_LPA2) */
  uint32_t index;          /* arm64, ARMv7: 1 + the MAIR attribute (AttrIndx, 0..7); x86: 1 + the PAT
                              index (PAT/PCD/PWT, 0..7); 0: the index of the memory type */
  ptlib_accessed accessed; /* x86, RISC-V: A */
  ptlib_dirty dirty;       /* x86, RISC-V: D */
  uint32_t software;       /* bits for software: arm64/ARMv7 [58:55] 0..15, x86 11:9 0..7, RISC-V RSW 0..3 */
} ptlib_ext;

/* CPU capabilities (ptlib_tree.caps). 0 is the C++ API's default for every family. */
#define PTLIB_CAP_SVNAPOT 0x01u /* RISC-V Svnapot: 64 KiB contiguous runs */
#define PTLIB_CAP_SVPBMT 0x02u  /* RISC-V Svpbmt: NC and device memory types */
#define PTLIB_CAP_PAGE1G 0x10u  /* x86 1 GiB pages (4-/5-level) */
#define PTLIB_CAP_PAT 0x20u     /* x86: IA32_PAT holds ptlib's layout (PTLIB_MEM_WC) */
#define PTLIB_CAP_NO_NX 0x40u   /* x86: EFER.NXE is 0 (no execute-disable bit) */
#define PTLIB_CAP_NO_PSE 0x80u  /* x86 32-bit paging: CR4.PSE is 0 (no 4 MiB pages) */

/* A tree: its format, its root table's physical address and the CPU's capabilities. */
typedef struct ptlib_tree {
  ptlib_format format;
  uint32_t caps;
  uint64_t root;
} ptlib_tree;

/* ---------------------------------------------------------------------------------------------
 * Table memory: how the engine gets, reaches and gives back tables.
 *  allocate(ctx, bytes, align, zeroed, depth, &pa, &ptr): a table of `bytes` at a PA that is a
 *      multiple of `align`, every byte 0 when `zeroed` (otherwise the engine writes every entry
 *      itself); *ptr is where the engine writes it now. false: out of memory, and nothing
 *      changed (the engine may try an allocation before any reservation).
 *  reserve(ctx, n, bytes, align): true when the next n such allocations will succeed. The
 *      engine reserves exactly what a call needs of more than one table before its first write
 *      (a call needing one table allocates it first, and asks only if that fails). May be NULL: then the
 *      engine assumes nothing and, if an allocation fails half-way, undoes what the call did.
 *  release(ctx, pa, bytes, align): a table the engine no longer uses. May be NULL (leak).
 *  map(ctx, pa, depth): a pointer to the table at `pa` (NULL if it cannot be reached). NULL
 *      function: tables are at pa + direct_offset for pa in [direct_lo, direct_lo + direct_bytes).
 *  unmap(ctx, ptr, depth): the engine is done with a pointer from map() or allocate(). May be NULL.
 * allocate and release may be NULL for read-only use (translate, leaves, validate). */
typedef struct ptlib_memory {
  void* ctx;
  bool (*allocate)(void* ctx, size_t bytes, size_t align, bool zeroed, uint32_t depth, uint64_t* pa, void** ptr);
  bool (*reserve)(void* ctx, size_t n, size_t bytes, size_t align);
  void (*release)(void* ctx, uint64_t pa, size_t bytes, size_t align);
  void* (*map)(void* ctx, uint64_t pa, uint32_t depth);
  void (*unmap)(void* ctx, void* ptr, uint32_t depth);
  uintptr_t direct_offset;
  uint64_t direct_lo;
  uint64_t direct_bytes;
} ptlib_memory;

/* Tables reached at pa + offset (identity before the MMU is on: offset 0; a linear map after).
 * No allocator: fill in allocate/reserve/release for one. */
ptlib_memory ptlib_direct_memory(uintptr_t offset);

/* A bump allocator over a caller's buffer whose first byte has physical address base_pa, with
 * free lists for released tables (ptlib::Arena). Works without a heap. The storage is opaque. */
typedef struct ptlib_arena {
  uint64_t opaque[24];
} ptlib_arena;
void ptlib_arena_init(ptlib_arena* arena, void* buffer, size_t bytes, uint64_t base_pa);
/* The arena as table memory (exact reserve, direct access at buffer - base_pa). */
ptlib_memory ptlib_arena_memory(ptlib_arena* arena);
size_t ptlib_arena_tables_in_use(const ptlib_arena* arena); /* allocated and not released */
size_t ptlib_arena_used(const ptlib_arena* arena);          /* bytes the bump cursor handed out */

/* The sync hook of a live tree: publish() makes table writes visible to the walker (arm64 DSB
 * ISHST, RISC-V fence); invalidate(va, size) drops TLB entries of [va, va + size) and waits.
 * Used only with a live policy. Either function may be NULL (nothing to do). */
typedef struct ptlib_sync {
  void* ctx;
  void (*publish)(void* ctx);
  void (*invalidate)(void* ctx, uint64_t va, uint64_t size);
} ptlib_sync;

/* ---------------------------------------------------------------------------------------------
 * Options of the mutating calls. A NULL options pointer means all defaults (all zero). */
#define PTLIB_OPT_ALLOW_IMPLIED_EXEC 0x1u /* formats without NX: map non-exec as exec */
#define PTLIB_OPT_NO_CONTIGUOUS 0x2u      /* no contiguous hints (arm64 Contiguous, Svnapot) */
#define PTLIB_OPT_KEEP_EMPTY_TABLES 0x4u  /* unmap: keep tables that become empty */
typedef enum ptlib_live {
  PTLIB_LIVE_OFFLINE = 0,           /* no CPU uses the tree: the sync hook is not called */
  PTLIB_LIVE_REFUSE = 1,            /* live: changes needing break-before-make are refused */
  PTLIB_LIVE_BREAK_BEFORE_MAKE = 2, /* live: such changes go invalid -> publish -> invalidate -> new */
  PTLIB_LIVE_MAX = 0x7fffffff
} ptlib_live;
typedef struct ptlib_options {
  uint64_t max_leaf_size;   /* largest leaf in bytes; 0 = any; <= page size = pages only */
  uint32_t flags;           /* PTLIB_OPT_* */
  ptlib_live live;
  const ptlib_sync* sync;   /* the hook for live policies (NULL: none) */
  const ptlib_ext* ext;     /* the family's attributes added to `attrs` of map, protect, ptlib_op
                               and the boot maps (NULL: none; not for ptlib_map_image) */
} ptlib_options;

/* What a successful mutating call did. `modified` bit d = entries were written at depth d
 * (0 = root): bit 0 set means a root entry changed (kernel halves shared across roots). */
typedef struct ptlib_report {
  uint32_t modified;
  size_t tables_added;
  size_t tables_released;
  size_t leaves_changed;
} ptlib_report;

/* ---------------------------------------------------------------------------------------------
 * Trees and operations. Every out pointer (report, err) may be NULL. */

/* Allocates a zeroed root for `format` and fills *out. Errors: UNKNOWN_FORMAT, INVALID_ARGUMENT
 * (caps of another family), OUT_OF_MEMORY, MISALIGNED_TABLE / PA_OUT_OF_RANGE (the allocator
 * gave a root the format cannot use; it is released again). */
ptlib_status ptlib_tree_create(ptlib_format format, uint32_t caps, const ptlib_memory* mem, ptlib_tree* out,
                               ptlib_error* err);

/* Maps [va, va + size) to [pa, pa + size) with the largest leaves that format, caps, options
 * and alignment allow. Errors: those of the engine's map (docs/c-api.md). */
ptlib_status ptlib_map(const ptlib_tree* tree, const ptlib_memory* mem, uint64_t va, uint64_t pa, uint64_t size,
                       ptlib_attrs attrs, const ptlib_options* opts, ptlib_report* report, ptlib_error* err);
/* Unmaps [va, va + size) (holes are fine; blocks across an edge are split). */
ptlib_status ptlib_unmap(const ptlib_tree* tree, const ptlib_memory* mem, uint64_t va, uint64_t size,
                         const ptlib_options* opts, ptlib_report* report, ptlib_error* err);
/* Gives every leaf in [va, va + size) the attributes `attrs` (holes are left alone). */
ptlib_status ptlib_protect(const ptlib_tree* tree, const ptlib_memory* mem, uint64_t va, uint64_t size,
                           ptlib_attrs attrs, const ptlib_options* opts, ptlib_report* report, ptlib_error* err);
/* Folds tables of uniform, continuous leaves in [va, va + size) back into blocks. */
ptlib_status ptlib_compact(const ptlib_tree* tree, const ptlib_memory* mem, uint64_t va, uint64_t size,
                           const ptlib_options* opts, ptlib_report* report, ptlib_error* err);

/* An operation as a value (for ptlib_plan and ptlib_apply). */
typedef enum ptlib_op_kind {
  PTLIB_OP_MAP = 0,
  PTLIB_OP_UNMAP = 1,
  PTLIB_OP_PROTECT = 2,
  PTLIB_OP_COMPACT = 3,
  PTLIB_OP_MAX = 0x7fffffff
} ptlib_op_kind;
typedef struct ptlib_op {
  ptlib_op_kind kind;
  ptlib_attrs attrs; /* map, protect */
  uint64_t va;
  uint64_t pa;       /* map */
  uint64_t size;
} ptlib_op;
/* How many tables *op would allocate (exactly what ptlib_apply allocates), or its error.
 * Changes nothing. */
ptlib_status ptlib_plan(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_op* op,
                        const ptlib_options* opts, size_t* tables, ptlib_error* err);
ptlib_status ptlib_apply(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_op* op,
                         const ptlib_options* opts, ptlib_report* report, ptlib_error* err);

/* A leaf: the VA range it maps, where to, and how. */
typedef struct ptlib_leaf {
  uint64_t va;        /* first VA */
  uint64_t pa;        /* output address of the first byte */
  uint64_t size;      /* bytes mapped by this entry */
  ptlib_attrs attrs;  /* permissions | memory type (PTLIB_MEM_OTHER: outside the portable set) */
  int32_t level;      /* the manual's level number */
  const char* level_name;
  uint32_t depth;     /* 0 = root */
  bool contiguous;    /* part of a contiguous run (arm64 Contiguous bit, Svnapot) */
  ptlib_ext ext;      /* the family's attributes beyond `attrs`, as a map would give them (an
                         index of ptlib's layout reads back as `attrs`' memory type) */
} ptlib_leaf;

/* Where `va` goes: *pa (may be NULL) and the leaf (may be NULL). Errors: NOT_MAPPED, the VA
 * range errors, MALFORMED_ENTRY. */
ptlib_status ptlib_translate(const ptlib_tree* tree, const ptlib_memory* mem, uint64_t va, uint64_t* pa,
                             ptlib_leaf* leaf, ptlib_error* err);

/* Calls fn(ctx, leaf) for every leaf meeting [va, va + size), in VA order (a leaf only partly
 * inside is reported whole). size 0 = the whole tree (for sign-extended formats the low half
 * first). */
typedef void (*ptlib_leaf_fn)(void* ctx, const ptlib_leaf* leaf);
ptlib_status ptlib_leaves(const ptlib_tree* tree, const ptlib_memory* mem, uint64_t va, uint64_t size,
                          ptlib_leaf_fn fn, void* ctx, ptlib_error* err);

/* ---------------------------------------------------------------------------------------------
 * Validation (read-only): every problem of every entry. */
typedef enum ptlib_problem {
  PTLIB_P_MALFORMED_ENTRY = 0,
  PTLIB_P_MISALIGNED_LEAF = 1,
  PTLIB_P_MISALIGNED_TABLE = 2,
  PTLIB_P_UNREACHABLE_TABLE = 3,
  PTLIB_P_TABLE_REACHED_TWICE = 4,
  PTLIB_P_INCONSISTENT_RUN = 5,
  PTLIB_P_EMPTY_TABLE = 6,
  PTLIB_P_ACCOUNTING_MISMATCH = 7,
  PTLIB_P_SCRATCH_EXHAUSTED = 8,
  PTLIB_P_MAX = 0x7fffffff
} ptlib_problem;
typedef struct ptlib_finding {
  ptlib_problem what;
  int32_t level;
  uint64_t va;
  uint64_t pa;
  const char* level_name;
} ptlib_finding;
#define PTLIB_VALIDATE_ALLOW_EMPTY_TABLES 0x1u
#define PTLIB_VALIDATE_EXPECT_TABLES 0x2u /* check that the tree has expected_tables tables */
typedef struct ptlib_validate_options {
  uint32_t flags;
  size_t expected_tables; /* root included, e.g. ptlib_arena_tables_in_use() */
} ptlib_validate_options;
typedef struct ptlib_validation {
  size_t tables;          /* tables walked, root included */
  size_t leaves;
  size_t problems;        /* 0: the tree is sound */
  size_t tables_recorded; /* table PAs in scratch[0, tables_recorded), ascending */
  ptlib_finding first;    /* the problem with the lowest VA */
} ptlib_validation;
/* scratch: one uint64_t per table (root included). Errors (the call itself): UNKNOWN_FORMAT,
 * INVALID_ARGUMENT. The tree's problems are in *out. */
ptlib_status ptlib_validate(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_validate_options* opts,
                            uint64_t* scratch, size_t scratch_count, ptlib_validation* out);
const char* ptlib_problem_text(ptlib_problem what);

/* ---------------------------------------------------------------------------------------------
 * Preallocation and the kernel half shared by many roots (docs/sharing.md, docs/c-api.md). */

/* The most levels a format has (Sv57, x86-64-l5, arm64-4k-52). */
#define PTLIB_MAX_LEVELS 5

/* What a preallocation costs: the tables it allocates in total, by the depth they sit at
 * (by_depth[0], the root, is always 0; depths past the format's levels are 0), and their bytes. */
typedef struct ptlib_prealloc_plan {
  size_t tables;
  uint64_t bytes;
  size_t by_depth[PTLIB_MAX_LEVELS];
} ptlib_prealloc_plan;

/* The tables ptlib_preallocate(depth) takes for [va, va + size) in an EMPTY tree of `format`: at
 * each depth d = 1 .. depth + 1, one table per entry of depth d - 1 that meets the range.
 * Allocates and reads nothing. Errors: UNKNOWN_FORMAT, INVALID_ARGUMENT (depth + 1 not below
 * the format's levels, NULL out), the VA errors of ptlib_unmap. */
ptlib_status ptlib_preallocation_cost(ptlib_format format, uint32_t depth, uint64_t va, uint64_t size,
                                      ptlib_prealloc_plan* out, ptlib_error* err);
/* The same for the tree as it is (tables already there cost nothing): a dry run. */
ptlib_status ptlib_plan_preallocate(const ptlib_tree* tree, const ptlib_memory* mem, uint32_t depth, uint64_t va,
                                    uint64_t size, ptlib_prealloc_plan* out, ptlib_error* err);
/* Makes every entry at depths 0 .. depth that meets [va, va + size) point to a table, allocating
 * the missing ones (empty: validate with PTLIB_VALIDATE_ALLOW_EMPTY_TABLES). Afterwards a map,
 * protect or unmap with PTLIB_OPT_KEEP_EMPTY_TABLES inside the range writes no entry at depth
 * <= depth, so roots sharing those entries never need a sync (Linux's
 * preallocate_vmalloc_pages()). Errors: as ptlib_preallocation_cost, OVERLAP (a leaf at depth <=
 * depth meets the range), OUT_OF_MEMORY (with the counts), MALFORMED_ENTRY. No partial success. */
ptlib_status ptlib_preallocate(const ptlib_tree* tree, const ptlib_memory* mem, uint32_t depth, uint64_t va,
                               uint64_t size, const ptlib_options* opts, ptlib_report* report, ptlib_error* err);

/* The kernel half shared by many roots (C++ ptlib::SharedKernel): a reference tree where kernel
 * mappings are made, a range of whole root entries [va, va + size) that every root shares, the
 * sync depth (the depth whose entries every root holds copies of: 0 copies root entries, as on
 * x86-64 and RISC-V; 1 gives each root private tables at depth 1, as x86 PAE needs), and a
 * registry of roots in the caller's array roots[0, capacity), of which roots[0, count) are
 * registered. Fill it with ptlib_shared_kernel_init and change it only through the calls below
 * (each checks it again: a damaged struct is INVALID_ARGUMENT or a VA error, never a crash).
 * The registry is not locked: callers serialise the calls (Linux's pgd_lock). */
typedef struct ptlib_shared_kernel {
  ptlib_tree reference;
  uint64_t va;
  uint64_t size;
  uint32_t sync_depth;
  uint64_t* roots;
  size_t count;
  size_t capacity;
} ptlib_shared_kernel;

/* What a sync did. */
typedef struct ptlib_sync_report {
  size_t roots;           /* roots visited (0 when the report shows no shared level written) */
  size_t entries_copied;  /* entries written into roots */
  size_t tables_added;    /* private tables allocated in roots (sync depth > 0) */
  size_t tables_released; /* private tables released from roots (sync depth > 0) */
} ptlib_sync_report;

/* Errors: UNKNOWN_FORMAT, INVALID_ARGUMENT (NULL k or reference, NULL roots with a capacity,
 * a sync_depth other than 0 or 1, or 1 on a two-level format, caps of another family),
 * MISALIGNED_VA / MISALIGNED_SIZE (the range is not whole root entries), the VA errors,
 * MISALIGNED_TABLE (the reference root). *k is written only on success, with count 0. */
ptlib_status ptlib_shared_kernel_init(ptlib_shared_kernel* k, const ptlib_tree* reference, uint64_t va,
                                      uint64_t size, uint32_t sync_depth, uint64_t* roots, size_t capacity,
                                      ptlib_error* err);
/* Registers an existing root (it should hold the kernel half already: ptlib_shared_kernel_sync_all
 * after). Twice is a no-op. OUT_OF_MEMORY: the array is full; MISALIGNED_TABLE. */
ptlib_status ptlib_shared_kernel_add(ptlib_shared_kernel* k, uint64_t root, ptlib_error* err);
/* Unregisters a root (the last one moves into its place; its tables are left alone). false: it
 * was not registered (or k is not valid). */
bool ptlib_shared_kernel_remove(ptlib_shared_kernel* k, uint64_t root);
/* Whether a call that reported *r wrote a shared level (a depth <= sync_depth): only then does
 * ptlib_shared_kernel_sync visit the roots (Linux's ARCH_PAGE_TABLE_SYNC_MASK). */
bool ptlib_shared_kernel_needs_sync(const ptlib_shared_kernel* k, const ptlib_report* r);
/* A new root that holds the kernel half (the shared entries copied; with sync depth > 0, private
 * copies of the levels above it), registered. OUT_OF_MEMORY (tables, or the array is full).
 * No partial success. */
ptlib_status ptlib_shared_kernel_create_root(ptlib_shared_kernel* k, const ptlib_memory* mem, ptlib_tree* out,
                                             ptlib_error* err);
/* Unregisters `root` and releases its private tables and the root table. OVERLAP: the root still
 * maps something outside the shared range (unmap the user half first; the error has its VA);
 * MALFORMED_ENTRY: unreachable. No partial success. */
ptlib_status ptlib_shared_kernel_release_root(ptlib_shared_kernel* k, const ptlib_memory* mem, uint64_t root,
                                              ptlib_error* err);
/* After a call on the reference over [va, va + size) that reported *r: if *r shows a shared level
 * written, makes every registered root's shared entries in that range equal to the reference's
 * (only changed entries are written); otherwise returns at once. Unmap in the shared range with
 * PTLIB_OPT_KEEP_EMPTY_TABLES (a released shared table is still referenced by the roots until the
 * sync). Live policies: new private tables are published before they are linked, kind changes go
 * through break-before-make, and the hook publishes and invalidates the range once at the end.
 * Errors: OUT_OF_MEMORY (private tables, counted for all roots before the first write),
 * MALFORMED_ENTRY, the VA errors. No partial success. */
ptlib_status ptlib_shared_kernel_sync(const ptlib_shared_kernel* k, const ptlib_memory* mem, uint64_t va,
                                      uint64_t size, const ptlib_report* r, const ptlib_options* opts,
                                      ptlib_sync_report* out, ptlib_error* err);
/* Makes every root's whole shared range equal to the reference's (after ptlib_shared_kernel_add
 * of a root built elsewhere, or to repair). As ptlib_shared_kernel_sync. */
ptlib_status ptlib_shared_kernel_sync_all(const ptlib_shared_kernel* k, const ptlib_memory* mem,
                                          const ptlib_options* opts, ptlib_sync_report* out, ptlib_error* err);
/* ptlib_preallocate(reference, sync_depth, ...): kernel maps in the range never need a sync. */
ptlib_status ptlib_shared_kernel_preallocate(const ptlib_shared_kernel* k, const ptlib_memory* mem, uint64_t va,
                                             uint64_t size, const ptlib_options* opts, ptlib_report* report,
                                             ptlib_error* err);

/* ---------------------------------------------------------------------------------------------
 * Sizing a pool at compile time (C has no constexpr planner; docs/c-api.md, docs/tables.md 2).
 * PTLIB_REGION_TABLES(format, va, size): the tables below the root that mapping [va, va + size)
 * (page-aligned, size > 0, inside the format's range) into an empty tree can allocate: at each
 * depth d = 1 .. levels - 1, one table per entry of depth d - 1 the range touches, i.e.
 * ((va + size - 1) >> s) - (va >> s) + 1 with s the shift of that entry's span. Assumes no block
 * leaves, so it is exact for page-only maps and an upper bound otherwise (C++ table_budget over
 * Regions). Sum it over the regions: a table two regions share is then counted twice (an upper
 * bound still). PTLIB_REGION_TABLES_ANYWHERE(format, size): the same at the worst alignment of
 * va, for a region whose VA is not known yet. PTLIB_POOL_BYTES(format, tables): the bytes of an
 * arena with the root and `tables` tables as ptlib_arena lays them out (the root at offset 0,
 * padded to the table size); the buffer must start at a multiple of PTLIB_POOL_ALIGN(format)
 * (add PTLIB_POOL_ALIGN(format) - 1 bytes when it cannot be aligned). `format` is the enum
 * constant's name, e.g.:
 *   #define KTABLES (PTLIB_REGION_TABLES(PTLIB_SV39, 0x80200000u, 2u << 20) + \
 *                    PTLIB_REGION_TABLES(PTLIB_SV39, 0xffffffc000000000u, 1u << 30))
 *   static uint64_t pool[PTLIB_POOL_BYTES(PTLIB_SV39, KTABLES) / 8]  (aligned to 4096)
 * Geometry per format: levels, page shift, index bits per level below the root, root bytes,
 * table bytes; every line is checked against the C++ Geometry in src/c_api.cpp. */
#define PTLIB_SV32_GEOMETRY 2, 12, 10, 4096, 4096
#define PTLIB_SV39_GEOMETRY 3, 12, 9, 4096, 4096
#define PTLIB_SV48_GEOMETRY 4, 12, 9, 4096, 4096
#define PTLIB_SV57_GEOMETRY 5, 12, 9, 4096, 4096
#define PTLIB_ARM64_4K_39_GEOMETRY 3, 12, 9, 4096, 4096
#define PTLIB_ARM64_4K_48_GEOMETRY 4, 12, 9, 4096, 4096
#define PTLIB_ARM64_4K_52_GEOMETRY 5, 12, 9, 128, 4096
#define PTLIB_ARM64_16K_47_GEOMETRY 3, 14, 11, 16384, 16384
#define PTLIB_ARM64_16K_48_GEOMETRY 4, 14, 11, 16, 16384
#define PTLIB_ARM64_16K_52_GEOMETRY 4, 14, 11, 256, 16384
#define PTLIB_ARM64_64K_42_GEOMETRY 2, 16, 13, 65536, 65536
#define PTLIB_ARM64_64K_48_GEOMETRY 3, 16, 13, 512, 65536
#define PTLIB_ARM64_64K_52_GEOMETRY 3, 16, 13, 8192, 65536
#define PTLIB_X86_32_GEOMETRY 2, 12, 10, 4096, 4096
#define PTLIB_X86_PAE_GEOMETRY 3, 12, 9, 32, 4096
#define PTLIB_X86_64_L4_GEOMETRY 4, 12, 9, 4096, 4096
#define PTLIB_X86_64_L5_GEOMETRY 5, 12, 9, 4096, 4096
#define PTLIB_ARMV7_LPAE_GEOMETRY 3, 12, 9, 32, 4096
#define PTLIB_ARM64_4K_39_TTBR1_GEOMETRY PTLIB_ARM64_4K_39_GEOMETRY
#define PTLIB_ARM64_4K_48_TTBR1_GEOMETRY PTLIB_ARM64_4K_48_GEOMETRY
#define PTLIB_ARM64_4K_52_TTBR1_GEOMETRY PTLIB_ARM64_4K_52_GEOMETRY
#define PTLIB_ARM64_16K_47_TTBR1_GEOMETRY PTLIB_ARM64_16K_47_GEOMETRY
#define PTLIB_ARM64_16K_48_TTBR1_GEOMETRY PTLIB_ARM64_16K_48_GEOMETRY
#define PTLIB_ARM64_16K_52_TTBR1_GEOMETRY PTLIB_ARM64_16K_52_GEOMETRY
#define PTLIB_ARM64_64K_42_TTBR1_GEOMETRY PTLIB_ARM64_64K_42_GEOMETRY
#define PTLIB_ARM64_64K_48_TTBR1_GEOMETRY PTLIB_ARM64_64K_48_GEOMETRY
#define PTLIB_ARM64_64K_52_TTBR1_GEOMETRY PTLIB_ARM64_64K_52_GEOMETRY

#define PTLIB_REGION_TABLES(format, va, size) PTLIB_GEOM_CALL_(PTLIB_REGION_TABLES_, (format##_GEOMETRY, va, size))
#define PTLIB_REGION_TABLES_ANYWHERE(format, size) PTLIB_GEOM_CALL_(PTLIB_ANYWHERE_, (format##_GEOMETRY, size))
#define PTLIB_POOL_BYTES(format, tables) PTLIB_GEOM_CALL_(PTLIB_POOL_BYTES_, (format##_GEOMETRY, tables))
#define PTLIB_POOL_ALIGN(format) PTLIB_GEOM_CALL_(PTLIB_POOL_ALIGN_, (format##_GEOMETRY))
/* (The implementation: the argument list, geometry expanded, is applied to the macro m.) */
#define PTLIB_GEOM_CALL_(m, args) PTLIB_GEOM_APPLY_(m, args)
#define PTLIB_GEOM_APPLY_(m, args) m args
/* The shift of the span of an entry whose tables sit k levels above the leaf level (0 when the
 * format has no such depth, so no shift reaches 64). */
#define PTLIB_SHIFT_(L, P, B, k) ((k) < (L) ? (P) + (B) * (k) : 0)
#define PTLIB_TOUCHED_(L, P, B, k, va, size)                                                              \
  ((k) < (L) ? ((((uint64_t)(va) + (uint64_t)(size) - 1) >> PTLIB_SHIFT_(L, P, B, k)) -                   \
                ((uint64_t)(va) >> PTLIB_SHIFT_(L, P, B, k)) + 1)                                         \
             : 0)
#define PTLIB_REGION_TABLES_(L, P, B, R, T, va, size)                                                      \
  (PTLIB_TOUCHED_(L, P, B, 1, va, size) + PTLIB_TOUCHED_(L, P, B, 2, va, size) +                          \
   PTLIB_TOUCHED_(L, P, B, 3, va, size) + PTLIB_TOUCHED_(L, P, B, 4, va, size))
/* Worst alignment: va at the last page of an entry's span. */
#define PTLIB_SPREAD_(L, P, B, k, size)                                                                   \
  ((k) < (L) ? ((((uint64_t)(size) + ((uint64_t)1 << PTLIB_SHIFT_(L, P, B, k)) - ((uint64_t)1 << (P)) - 1) >> \
                 PTLIB_SHIFT_(L, P, B, k)) + 1)                                                           \
             : 0)
#define PTLIB_ANYWHERE_(L, P, B, R, T, size)                                                              \
  (PTLIB_SPREAD_(L, P, B, 1, size) + PTLIB_SPREAD_(L, P, B, 2, size) + PTLIB_SPREAD_(L, P, B, 3, size) +  \
   PTLIB_SPREAD_(L, P, B, 4, size))
#define PTLIB_POOL_BYTES_(L, P, B, R, T, tables) (((uint64_t)(R) + (T) - 1) / (T) * (T) + (uint64_t)(tables) * (T))
#define PTLIB_POOL_ALIGN_(L, P, B, R, T) (T)

/* ---------------------------------------------------------------------------------------------
 * Boot maps. All-or-nothing: every piece is checked and all are planned as one before the
 * first write. */
typedef struct ptlib_bank {
  uint64_t pa;
  uint64_t size;
} ptlib_bank;
/* Each bank at va = pa + offset (modulo 2^64) with the largest blocks. */
ptlib_status ptlib_map_linear(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_bank* banks,
                              size_t count, uint64_t offset, ptlib_attrs attrs, const ptlib_options* opts,
                              ptlib_report* report, ptlib_error* err);

typedef enum ptlib_section_kind {
  PTLIB_SECTION_TEXT = 0,   /* r-x */
  PTLIB_SECTION_RODATA = 1, /* r-- */
  PTLIB_SECTION_DATA = 2,   /* rw- */
  PTLIB_SECTION_BSS = 3,    /* rw- */
  PTLIB_SECTION_INIT = 4,   /* rwx: refused unless PTLIB_IMAGE_ALLOW_WRITE_EXEC */
  PTLIB_SECTION_MAX = 0x7fffffff
} ptlib_section_kind;
typedef struct ptlib_section {
  const char* name;
  uint64_t offset; /* from the image start; a multiple of the page size */
  uint64_t size;   /* rounded up to the page size */
  ptlib_section_kind kind;
} ptlib_section;
#define PTLIB_IMAGE_ALLOW_WRITE_EXEC 0x1u
#define PTLIB_IMAGE_NOT_GLOBAL 0x2u
/* The most sections ptlib_map_image takes in one call (the call copies them on its stack). */
#define PTLIB_MAX_SECTIONS 16
typedef struct ptlib_image_options {
  uint32_t flags;          /* PTLIB_IMAGE_* */
  ptlib_attrs mem;         /* memory type (PTLIB_MEM_*) */
  ptlib_options engine;
} ptlib_image_options;
/* The image loaded at load_pa, at image_va: section by section, va = image_va + offset. */
ptlib_status ptlib_map_image(const ptlib_tree* tree, const ptlib_memory* mem, uint64_t image_va, uint64_t load_pa,
                             const ptlib_section* sections, size_t count, const ptlib_image_options* opts,
                             ptlib_report* report, ptlib_error* err);

/* Identity map (va = pa) of the banks with the first of `candidates` (smallest first) whose VA
 * range and output size reach every bank; allocates the root. *out gets the tree and the
 * position of the chosen candidate. Errors: VA_OUT_OF_RANGE (no candidate reaches the banks),
 * those of ptlib_map_linear. */
/* The most banks ptlib_map_identity takes in one call (copied on its stack; ptlib_map_linear
 * has no limit). */
#define PTLIB_MAX_BANKS 64
typedef struct ptlib_identity {
  ptlib_tree tree;
  size_t index; /* position in candidates */
  ptlib_report report;
} ptlib_identity;
ptlib_status ptlib_map_identity(const ptlib_format* candidates, size_t candidate_count, uint32_t caps,
                                const ptlib_memory* mem, const ptlib_bank* banks, size_t count, ptlib_attrs attrs,
                                const ptlib_options* opts, ptlib_identity* out, ptlib_error* err);

/* ---------------------------------------------------------------------------------------------
 * Layouts (the kernel address-space layouts of ptlib's <family>_boot.hpp; size 0 = no region). */
typedef struct ptlib_region {
  uint64_t base;
  uint64_t size;
} ptlib_region;
typedef struct ptlib_layout {
  const char* name;
  ptlib_region user, linear, vmalloc, image_window, fixmap;
  uint64_t module_reach;
  bool user_separate;
  bool highmem;
} ptlib_layout;
/* The layout for a format (arm64: the 48- and 52-bit layouts, for the TTBR1 formats of those
 * sizes and their TTBR0 partners; ARMv7 LPAE: the 3G/1G layout). Errors: UNKNOWN_FORMAT,
 * WRONG_FAMILY (a format without a layout). */
ptlib_status ptlib_layout_of(ptlib_format format, ptlib_layout* out);

/* A layout placed on a machine (ptlib::place): RAM [ram_base, ram_base + ram_size) and the image
 * loaded at [load_pa, load_pa + image_size). The linear map is va = pa + va_pa_offset; the image
 * runs at image_va = load_pa + va_kernel_pa_offset (the start of the image window, or inside the
 * linear map for layouts without one). With layout.highmem, RAM past the linear region is
 * highmem_size bytes not mapped (ram_size is then the lowmem). */
typedef struct ptlib_placement {
  ptlib_layout layout;
  uint64_t ram_base, ram_size, load_pa, image_size;
  uint64_t va_pa_offset, va_kernel_pa_offset, image_va, highmem_size;
} ptlib_placement;
/* Errors: ZERO_SIZE, MISALIGNED_PA (ram_base or load_pa not a multiple of `page`),
 * VA_OUT_OF_RANGE (RAM larger than the linear region without highmem, or the image larger than
 * its window), PA_OUT_OF_RANGE (an image in the linear map outside RAM or lowmem). */
ptlib_status ptlib_place(const ptlib_layout* layout, uint64_t ram_base, uint64_t ram_size, uint64_t load_pa,
                         uint64_t image_size, uint64_t page, ptlib_placement* out, ptlib_error* err);
/* __pa(): a linear-map or image address. NOT_MAPPED when neither range holds va. */
ptlib_status ptlib_virt_to_phys(const ptlib_placement* p, uint64_t va, uint64_t* pa, ptlib_error* err);
/* __va(): the linear-map address of RAM at pa. NOT_MAPPED when pa is not in (lowmem) RAM. */
ptlib_status ptlib_phys_to_virt(const ptlib_placement* p, uint64_t pa, uint64_t* va, ptlib_error* err);

/* ---------------------------------------------------------------------------------------------
 * Register values. Errors: WRONG_FAMILY for a tree of another architecture, and those listed. */

/* RISC-V satp (priv 4.1.11): MODE | ASID | PPN. MISALIGNED_TABLE, PA_OUT_OF_RANGE,
 * FIELD_OUT_OF_RANGE (ASID wider than 9 bits on Sv32, 16 otherwise). Sv32: a 32-bit value. */
ptlib_status ptlib_riscv_satp(const ptlib_tree* tree, uint32_t asid, uint64_t* out, ptlib_error* err);

/* arm64: MAIR_EL1 for ptlib's attribute indexes (Attr0 0xFF WB, Attr1 0x44 NC, Attr2 0x04 Device-nGnRE). */
#define PTLIB_ARM64_MAIR_EL1 UINT64_C(0x00000000000444ff)
/* TTBR0_EL1 / TTBR1_EL1 for a tree: BADDR, ASID [63:48], CnP. */
ptlib_status ptlib_arm64_ttbr(const ptlib_tree* tree, uint32_t asid, bool cnp, uint64_t* out, ptlib_error* err);
/* Walk attributes (TCR_EL1.IRGNn/ORGNn: 0 NC, 1 WB-WA, 2 WT, 3 WB-noWA; SHn: 0 non, 2 outer,
 * 3 inner). */
typedef struct ptlib_walk_attrs {
  uint8_t inner, outer, share;
} ptlib_walk_attrs;
#define PTLIB_TCR_ASID8 0x01u        /* AS = 0: 8-bit ASIDs (default: 16-bit) */
#define PTLIB_TCR_ASID_IN_TTBR1 0x02u
#define PTLIB_TCR_DISABLE_TTBR0 0x04u
#define PTLIB_TCR_DISABLE_TTBR1 0x08u
#define PTLIB_TCR_TBI0 0x10u
#define PTLIB_TCR_TBI1 0x20u
#define PTLIB_TCR_HW_ACCESS 0x40u
#define PTLIB_TCR_HW_DIRTY 0x80u
typedef struct ptlib_tcr_options {
  uint32_t flags;            /* PTLIB_TCR_* */
  uint32_t pa_bits;          /* IPS: 32..52, 0 = the formats' output size */
  ptlib_walk_attrs walk0, walk1; /* all zero = WB-WA inner shareable (the default) */
} ptlib_tcr_options;
/* TCR_EL1 for a TTBR0 format `low` and a TTBR1 format `high` (PTLIB_FORMAT_NONE: TTBR0 only,
 * EPD1 set). PA_OUT_OF_RANGE, FIELD_OUT_OF_RANGE (no IPS encoding), UNSUPPORTED_ATTRS (FEAT_LPA2
 * with a walk not inner shareable), INVALID_ARGUMENT (low not TTBR0, high not TTBR1, or their
 * granules' descriptor formats differ, or a walk attribute out of range). */
ptlib_status ptlib_arm64_tcr(ptlib_format low, ptlib_format high, const ptlib_tcr_options* opts, uint64_t* out,
                             ptlib_error* err);

/* x86 (Intel SDM vol. 3A 2.5, 4.5). */
#define PTLIB_X86_CR0_BITS UINT64_C(0x80010001) /* PE | WP | PG */
typedef struct ptlib_cr3_options {
  bool pwt, pcd;
  bool has_pcid;
  uint16_t pcid;
  bool no_flush;
} ptlib_cr3_options;
/* CR3 for a tree. MISALIGNED_TABLE, PA_OUT_OF_RANGE, FIELD_OUT_OF_RANGE. */
ptlib_status ptlib_x86_cr3(const ptlib_tree* tree, const ptlib_cr3_options* opts, uint64_t* out, ptlib_error* err);
/* Bits to set and clear: new = (old & ~clear) | set. */
typedef struct ptlib_control_bits {
  uint64_t set, clear;
} ptlib_control_bits;
/* CR4 paging bits (PSE, PAE, LA57, PGE if `pge`, PCIDE if `pcide`). FIELD_OUT_OF_RANGE (PCIDE
 * outside 4-/5-level paging). */
ptlib_status ptlib_x86_cr4(ptlib_format format, uint32_t caps, bool pge, bool pcide, ptlib_control_bits* out,
                           ptlib_error* err);
/* IA32_EFER bits (LME for 4-/5-level, NXE unless PTLIB_CAP_NO_NX or 32-bit paging). */
ptlib_status ptlib_x86_efer(ptlib_format format, uint32_t caps, ptlib_control_bits* out, ptlib_error* err);

/* ARMv7 LPAE (ARM ARM v7 B4.1.153-155). */
#define PTLIB_ARMV7_MAIR0 UINT32_C(0x000444ff)
#define PTLIB_ARMV7_MAIR1 UINT32_C(0x00000000)
/* TTBR0/TTBR1 (64-bit): BADDR, ASID [55:48]. MISALIGNED_TABLE, PA_OUT_OF_RANGE, FIELD_OUT_OF_RANGE. */
ptlib_status ptlib_armv7_ttbr(const ptlib_tree* tree, uint32_t asid, uint64_t* out, ptlib_error* err);
/* TTBCR (EAE = 1) for a tree of PTLIB_ARMV7_LPAE in TTBR0 (T0SZ = T1SZ = 0, TTBR1 walks off).
 * flags: PTLIB_TCR_ASID_IN_TTBR1, PTLIB_TCR_DISABLE_TTBR0; walk0/walk1 as for arm64. */
ptlib_status ptlib_armv7_ttbcr(ptlib_format low, const ptlib_tcr_options* opts, uint32_t* out, ptlib_error* err);

#ifdef __cplusplus
}
#endif

#endif /* PTLIB_H */
