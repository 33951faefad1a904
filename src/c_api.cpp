// The C API (include/ptlib.h): each call turns its C arguments into the C++ types, dispatches on
// the run-time format to the engine's erased entry points, and turns the answer back. Built
// twice: for the host against the engine library (PTLIB_COMPILED_ENGINE: nothing of the engine
// is instantiated here), and freestanding as one translation unit per target that instantiates
// the engine for the families PTLIB_C_FAMILIES selects (bit 1 RISC-V, 2 arm64, 4 x86, 8 ARMv7).
#include "ptlib.h"

#include <new>

// One engine instance per format for every operation kind (see ops.hpp), when not linked with
// the compiled engine.
#if !defined(PTLIB_COMPILED_ENGINE) && !defined(PTLIB_ENGINE_ALL_OPS)
#define PTLIB_ENGINE_ALL_OPS 1
#endif

#include <ptlib/arm64_boot.hpp>
#include <ptlib/armv7_boot.hpp>
#include <ptlib/formats.hpp>
#include <ptlib/maps.hpp>
#include <ptlib/riscv_boot.hpp>
#include <ptlib/share.hpp>
#include <ptlib/tables.hpp>
#include <ptlib/validate.hpp>
#include <ptlib/x86_boot.hpp>

#ifndef PTLIB_C_FAMILIES
#define PTLIB_C_FAMILIES 15
#endif
// Finer: bit n set = the format whose ptlib_format value is n is compiled in (a kernel that uses
// one format: -DPTLIB_C_FORMAT_MASK='(1ULL << PTLIB_SV39)').
#ifndef PTLIB_C_FORMAT_MASK
#define PTLIB_C_FORMAT_MASK (~0ULL)
#endif

namespace {
using namespace ptlib;

constexpr unsigned kRiscv = 1, kArm64 = 2, kX86 = 4, kArmv7 = 8;

// The formats this build dispatches to: X(enum value, C++ type, family).
#if PTLIB_C_FAMILIES & 1
#define PTLIB_C_RISCV(X) \
  X(PTLIB_SV32, riscv::Sv32, kRiscv) X(PTLIB_SV39, riscv::Sv39, kRiscv) X(PTLIB_SV48, riscv::Sv48, kRiscv) \
  X(PTLIB_SV57, riscv::Sv57, kRiscv)
#else
#define PTLIB_C_RISCV(X)
#endif
#if PTLIB_C_FAMILIES & 2
#define PTLIB_C_ARM64(X)                                                                                     \
  X(PTLIB_ARM64_4K_39, arm64::Vmsa4k39, kArm64) X(PTLIB_ARM64_4K_48, arm64::Vmsa4k48, kArm64)                \
  X(PTLIB_ARM64_4K_52, arm64::Vmsa4k52, kArm64) X(PTLIB_ARM64_16K_47, arm64::Vmsa16k47, kArm64)              \
  X(PTLIB_ARM64_16K_48, arm64::Vmsa16k48, kArm64) X(PTLIB_ARM64_16K_52, arm64::Vmsa16k52, kArm64)            \
  X(PTLIB_ARM64_64K_42, arm64::Vmsa64k42, kArm64) X(PTLIB_ARM64_64K_48, arm64::Vmsa64k48, kArm64)            \
  X(PTLIB_ARM64_64K_52, arm64::Vmsa64k52, kArm64)                                                            \
  X(PTLIB_ARM64_4K_39_TTBR1, arm64::Vmsa4k39Ttbr1, kArm64) X(PTLIB_ARM64_4K_48_TTBR1, arm64::Vmsa4k48Ttbr1, kArm64) \
  X(PTLIB_ARM64_4K_52_TTBR1, arm64::Vmsa4k52Ttbr1, kArm64)                                                   \
  X(PTLIB_ARM64_16K_47_TTBR1, arm64::Vmsa16k47Ttbr1, kArm64)                                                 \
  X(PTLIB_ARM64_16K_48_TTBR1, arm64::Vmsa16k48Ttbr1, kArm64)                                                 \
  X(PTLIB_ARM64_16K_52_TTBR1, arm64::Vmsa16k52Ttbr1, kArm64)                                                 \
  X(PTLIB_ARM64_64K_42_TTBR1, arm64::Vmsa64k42Ttbr1, kArm64)                                                 \
  X(PTLIB_ARM64_64K_48_TTBR1, arm64::Vmsa64k48Ttbr1, kArm64)                                                 \
  X(PTLIB_ARM64_64K_52_TTBR1, arm64::Vmsa64k52Ttbr1, kArm64)
#else
#define PTLIB_C_ARM64(X)
#endif
#if PTLIB_C_FAMILIES & 4
#define PTLIB_C_X86(X) \
  X(PTLIB_X86_32, x86::X86_32, kX86) X(PTLIB_X86_PAE, x86::Pae, kX86) X(PTLIB_X86_64_L4, x86::Long4, kX86) \
  X(PTLIB_X86_64_L5, x86::Long5, kX86)
#else
#define PTLIB_C_X86(X)
#endif
#if PTLIB_C_FAMILIES & 8
#define PTLIB_C_ARMV7(X) X(PTLIB_ARMV7_LPAE, armv7::Lpae32, kArmv7)
#else
#define PTLIB_C_ARMV7(X)
#endif
#define PTLIB_C_FORMATS(X) PTLIB_C_RISCV(X) PTLIB_C_ARM64(X) PTLIB_C_X86(X) PTLIB_C_ARMV7(X)

}  // namespace
// Each format's family (outside the anonymous namespace: an unused specialization there would
// be an unused internal variable).
namespace ptlib_c_api {
using namespace ptlib;
template <class F>
inline constexpr unsigned kFamily = 0;
#define PTLIB_C_FAMILY_OF(E, T, FAM) template <> inline constexpr unsigned kFamily<T> = FAM;
PTLIB_C_FORMATS(PTLIB_C_FAMILY_OF)
#undef PTLIB_C_FAMILY_OF
}  // namespace ptlib_c_api
namespace {
using ptlib_c_api::kFamily;

/// Calls fn.template operator()<F>() for the format `f`; PTLIB_E_UNKNOWN_FORMAT when this build
/// has no such format.
template <class Fn>
ptlib_status dispatch(ptlib_format f, Fn&& fn) {
  switch (f) {
#define PTLIB_C_CASE(E, T, FAM)                                        \
  case E:                                                              \
    if constexpr (((PTLIB_C_FORMAT_MASK) >> unsigned(E)) & 1) return fn.template operator()<T>(); \
    break;
    PTLIB_C_FORMATS(PTLIB_C_CASE)
#undef PTLIB_C_CASE
    default: break;
  }
  return PTLIB_E_UNKNOWN_FORMAT;
}

// ---- errors ------------------------------------------------------------------------------------

ptlib_status fail(ptlib_status code, ptlib_error* err, std::uint64_t va = 0, std::uint64_t pa = 0) {
  if (err) *err = ptlib_error{code, PTLIB_NO_LEVEL, va, pa, nullptr, 0, 0, nullptr};
  return code;
}
ptlib_status fail(const Error& e, ptlib_error* err) {
  const auto code = ptlib_status(unsigned(e.code) + 1);
  // The C error keeps 0 for "no physical address" (Error::kNoPa in C++).
  if (err)
    *err = ptlib_error{code,         e.level,         e.va.value,         e.has_pa() ? e.pa.value : 0,
                       e.level_name, e.tables_needed, e.tables_available, e.hint};
  return code;
}
ptlib_status ok(ptlib_error* err) {
  if (err) *err = ptlib_error{PTLIB_OK, PTLIB_NO_LEVEL, 0, 0, nullptr, 0, 0, nullptr};
  return PTLIB_OK;
}

// ---- conversions -------------------------------------------------------------------------------

constexpr std::uint32_t kPermBits = 0x1f;
constexpr std::uint32_t kMemShift = 8;

bool to_attrs(ptlib_attrs a, Attrs& out) {
  const std::uint32_t mem = (a & PTLIB_MEM_MASK) >> kMemShift;
  if ((a & ~(kPermBits | PTLIB_MEM_MASK)) || mem > std::uint32_t(MemType::wc)) return false;
  out = Attrs{Perm(a & kPermBits), MemType(mem)};
  return true;
}
ptlib_attrs from_attrs(const Attrs& a) { return std::uint32_t(a.perm) | (std::uint32_t(a.mem) << kMemShift); }

/// The capabilities of F from PTLIB_CAP_* bits; false when a bit belongs to another family.
template <class F>
bool to_caps(std::uint32_t bits, typename F::Caps& out) {
  constexpr std::uint32_t riscv_bits = PTLIB_CAP_SVNAPOT | PTLIB_CAP_SVPBMT;
  constexpr std::uint32_t x86_bits = PTLIB_CAP_PAGE1G | PTLIB_CAP_PAT | PTLIB_CAP_NO_NX | PTLIB_CAP_NO_PSE;
  out = {};
  if constexpr (kFamily<F> == kRiscv) {
    if (bits & ~riscv_bits) return false;
    out.svnapot = bits & PTLIB_CAP_SVNAPOT;
    out.svpbmt = bits & PTLIB_CAP_SVPBMT;
  } else if constexpr (kFamily<F> == kX86) {
    if (bits & ~x86_bits) return false;
    out.page1g = bits & PTLIB_CAP_PAGE1G;
    out.pat = bits & PTLIB_CAP_PAT;
    out.nx = !(bits & PTLIB_CAP_NO_NX);
    out.pse = !(bits & PTLIB_CAP_NO_PSE);
  } else {
    if (bits) return false;
  }
  return true;
}

/// `a` with the family extension `e` (C++ with(attrs, Family::Ext), which puts it in the form a
/// leaf reads back); false for a field the family does not have or a value outside its enum.
template <class F>
bool apply_ext(const ptlib_ext* e, Attrs& a) {
  if (!e) return true;
  if (std::uint32_t(e->share) > PTLIB_SHARE_INNER || e->index > 8 || std::uint32_t(e->accessed) > PTLIB_ACCESSED_CLEAR ||
      std::uint32_t(e->dirty) > PTLIB_DIRTY_SET || e->software > 0xff)
    return false;
  const auto sw = std::uint8_t(e->software);
  if (!e->share && !e->index && !e->accessed && !e->dirty && !sw) return true;
  if constexpr (kFamily<F> == kArm64) {
    if (e->accessed || e->dirty) return false;
    a = arm64::with(a, arm64::Ext{Share(e->share), arm64::AttrIndex(e->index), sw});
  } else if constexpr (kFamily<F> == kArmv7) {
    if (e->accessed || e->dirty) return false;
    a = armv7::with(a, armv7::Ext{Share(e->share), armv7::AttrIndex(e->index), sw});
  } else if constexpr (kFamily<F> == kX86) {
    if (e->share) return false;
    a = x86::with(a, x86::Ext{Accessed(e->accessed), Dirty(e->dirty), x86::PatIndex(e->index), sw});
  } else if constexpr (kFamily<F> == kRiscv) {
    if (e->share || e->index) return false;
    a = riscv::with(a, riscv::Ext{Accessed(e->accessed), Dirty(e->dirty), sw});
  } else {
    return false;
  }
  return true;
}

/// The family extension of a leaf's attributes (all zero: none).
template <class F>
ptlib_ext ext_out(const Attrs& a) {
  ptlib_ext c{};
  auto arm = [&](const auto& x) {
    c.share = ptlib_share(x.share);
    c.index = unsigned(x.attr_index);
    c.software = x.software;
  };
  if constexpr (kFamily<F> == kArm64) {
    arm(arm64::ext_of(a));
  } else if constexpr (kFamily<F> == kArmv7) {
    arm(armv7::ext_of(a));
  } else if constexpr (kFamily<F> == kX86) {
    const auto x = x86::ext_of(a);
    c.accessed = ptlib_accessed(x.accessed);
    c.dirty = ptlib_dirty(x.dirty);
    c.index = unsigned(x.pat);
    c.software = x.software;
  } else if constexpr (kFamily<F> == kRiscv) {
    const auto x = riscv::ext_of(a);
    c.accessed = ptlib_accessed(x.accessed);
    c.dirty = ptlib_dirty(x.dirty);
    c.software = x.software;
  }
  return c;
}

/// A ptlib_sync as a SyncHook.
struct CSync {
  const ptlib_sync* s = nullptr;
  void publish() {
    if (s->publish) s->publish(s->ctx);
  }
  void invalidate(VirtAddr va, std::uint64_t size) {
    if (s->invalidate) s->invalidate(s->ctx, va.value, size);
  }
};

/// A call's options: the engine's, and the sync hook (which must outlive the SyncRef).
struct CallOptions {
  Options o{};
  CSync hook{};
  const ptlib_ext* ext = nullptr;
  /// false: unknown flags or live policy.
  bool parse(const ptlib_options* c) {
    if (!c) return true;
    constexpr std::uint32_t known = PTLIB_OPT_ALLOW_IMPLIED_EXEC | PTLIB_OPT_NO_CONTIGUOUS | PTLIB_OPT_KEEP_EMPTY_TABLES;
    if ((c->flags & ~known) || std::uint32_t(c->live) > PTLIB_LIVE_BREAK_BEFORE_MAKE) return false;
    o.max_leaf_size = c->max_leaf_size;
    o.allow_implied_exec = c->flags & PTLIB_OPT_ALLOW_IMPLIED_EXEC;
    o.contiguous = !(c->flags & PTLIB_OPT_NO_CONTIGUOUS);
    o.release_empty = !(c->flags & PTLIB_OPT_KEEP_EMPTY_TABLES);
    o.live = Live(c->live);
    hook.s = c->sync;
    ext = c->ext;
    return true;
  }
  SyncRef sync() { return hook.s ? SyncRef(hook) : SyncRef(); }
};

// ---- memory ------------------------------------------------------------------------------------

/// ptlib_memory as a TableMemory whose tables are reached through map().
struct CMapped {
  const ptlib_memory* m;
  void* map(PhysAddr pa, std::size_t depth) const { return m->map(m->ctx, pa.value, std::uint32_t(depth)); }
  void unmap(void* p, std::size_t depth) const {
    if (m->unmap) m->unmap(m->ctx, p, std::uint32_t(depth));
  }
  std::optional<NewTable> allocate(const TableRequest& r) const {
    std::uint64_t pa = 0;
    void* p = nullptr;
    if (!m->allocate || !m->allocate(m->ctx, r.bytes, r.align, r.zeroed, std::uint32_t(r.depth), &pa, &p) || !p)
      return std::nullopt;
    return NewTable{PhysAddr(pa), p};
  }
  /// Without a reserve function nothing is promised: the engine undoes a call whose allocation
  /// fails half-way (it is compiled with the rollback for that).
  bool reserve(std::size_t n, const TableRequest& r) const {
    if (!m->allocate) return false;
    return m->reserve ? m->reserve(m->ctx, n, r.bytes, r.align) : true;
  }
  void release(PhysAddr pa, const TableRequest& r) const {
    if (m->release) m->release(m->ctx, pa.value, r.bytes, r.align);
  }
};
/// The same, with every table at pa + direct_offset (map == NULL).
struct CDirect : CMapped {
  [[nodiscard]] DirectWindow direct_window() const {
    return DirectWindow{m->direct_offset, m->direct_lo, m->direct_bytes};
  }
};

/// ptlib_arena's own memory (ptlib_arena_memory(), recognised by its allocate and reserve
/// functions): its reserve() is Arena's, exact, so the engine treats it as it treats an Arena in
/// C++ (no tables allocated ahead of a map's first write: the same tables at the same addresses).
struct CArena : CDirect {
  static constexpr bool kReservesExactly = true;
};
bool arena_allocate(void* c, std::size_t bytes, std::size_t align, bool zeroed, std::uint32_t depth, std::uint64_t* pa,
                    void** ptr) {
  auto t = static_cast<Arena*>(c)->allocate(TableRequest{bytes, align, zeroed, depth});
  if (!t) return false;
  *pa = t->pa.value;
  *ptr = t->ptr;
  return true;
}
bool arena_reserve(void* c, std::size_t n, std::size_t bytes, std::size_t align) {
  return static_cast<Arena*>(c)->reserve(n, TableRequest{bytes, align, false, 0});
}

/// The MemRef for `m` (which outlives it).
struct Mem {
  CMapped mapped;
  CDirect direct;
  CArena arena;
  explicit Mem(const ptlib_memory* m) : mapped{m}, direct{{m}}, arena{{{m}}} {}
  MemRef ref() {
    if (mapped.m->map) return MemRef(mapped);
    const bool own_arena = mapped.m->allocate == &arena_allocate && mapped.m->reserve == &arena_reserve;
    return own_arena ? MemRef(arena) : MemRef(direct);
  }
};

// ---- the common shape of a call ----------------------------------------------------------------

/// Checks tree and memory, and calls fn.template operator()<F>(Tree<F>, MemRef).
template <class Fn>
ptlib_status with_tree(const ptlib_tree* tree, const ptlib_memory* mem, ptlib_error* err, Fn&& fn) {
  if (!tree || !mem) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  Mem m(mem);
  const ptlib_status s = dispatch(tree->format, [&]<class F>() -> ptlib_status {
    Tree<F> t{PhysAddr(tree->root), {}};
    if (!to_caps<F>(tree->caps, t.caps)) return fail(PTLIB_E_INVALID_ARGUMENT, err);
    return fn.template operator()<F>(t, m.ref());
  });
  return s == PTLIB_E_UNKNOWN_FORMAT ? fail(s, err) : s;
}

ptlib_status report_out(const Result<Report>& r, ptlib_report* out, ptlib_error* err) {
  if (!r) return fail(r.error(), err);
  if (out) *out = ptlib_report{r->modified.bits, r->tables_added, r->tables_released, r->leaves_changed};
  return ok(err);
}

/// One operation through the engine: apply (or plan, when `tables` is not null).
ptlib_status run(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_op& op, const ptlib_options* opts,
                 ptlib_report* report, std::size_t* tables, ptlib_error* err) {
  CallOptions co;
  Attrs a{};
  if (!co.parse(opts) || std::uint32_t(op.kind) > PTLIB_OP_COMPACT) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  if ((op.kind == PTLIB_OP_MAP || op.kind == PTLIB_OP_PROTECT) && !to_attrs(op.attrs, a))
    return fail(PTLIB_E_INVALID_ARGUMENT, err, op.va, op.pa);
  return with_tree(tree, mem, err, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    Attrs fa = a;
    if ((op.kind == PTLIB_OP_MAP || op.kind == PTLIB_OP_PROTECT) && !apply_ext<F>(co.ext, fa))
      return fail(PTLIB_E_INVALID_ARGUMENT, err, op.va, op.pa);
    const detail::AnyOp any{detail::OpKind(op.kind), VirtAddr(op.va), PhysAddr(op.kind == PTLIB_OP_MAP ? op.pa : 0),
                            op.size, fa};
    if (tables) {
      auto r = detail::plan_erased<F>(t, m, detail::OpList::one(any), co.o, false);
      if (!r) return fail(r.error(), err);
      *tables = *r;
      return ok(err);
    }
    return report_out(detail::apply_erased<F, detail::kAllOps, true, detail::kOneWalk>(t, m, detail::OpList::one(any), co.o, co.sync()), report, err);
  });
}

template <class F>
ptlib_leaf to_leaf(const Leaf<F>& l) {
  return ptlib_leaf{l.va.value, l.pa.value,           l.size,      from_attrs(l.attrs), level_number<F>(l.level),
                    F::level_name(l.level), std::uint32_t(l.depth), l.contiguous, ext_out<F>(l.attrs)};
}

/// Writes `s` into buf at `n` (as far as it fits) and returns the new length.
std::size_t put(char* buf, std::size_t size, std::size_t n, const char* s) {
  for (; *s; ++s, ++n)
    if (n + 1 < size) buf[n] = *s;
  return n;
}
std::size_t put_hex(char* buf, std::size_t size, std::size_t n, std::uint64_t v) {
  char digits[19] = "0x";
  for (int i = 0; i < 16; ++i) digits[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
  digits[18] = 0;
  return put(buf, size, n, digits);
}
std::size_t put_int(char* buf, std::size_t size, std::size_t n, std::int32_t v) {
  char digits[12];
  int k = 11;
  digits[k] = 0;
  const bool neg = v < 0;
  std::uint32_t u = neg ? 0U - std::uint32_t(v) : std::uint32_t(v);
  do digits[--k] = char('0' + u % 10); while (u /= 10);
  if (neg) digits[--k] = '-';
  return put(buf, size, n, digits + k);
}

/// The register helpers accept a family's formats only.
template <class F>
constexpr bool kIsTtbr0Arm64 = kFamily<F> == kArm64 && F::kVaRule == VaRule::low;

bool to_walk(const ptlib_walk_attrs& w, arm64::WalkAttrs& out) {
  const ptlib_walk_attrs zero{0, 0, 0};
  if (w.inner == zero.inner && w.outer == zero.outer && w.share == zero.share) return out = {}, true;
  if (w.inner > 3 || w.outer > 3 || w.share == 1 || w.share > 3) return false;
  out = arm64::WalkAttrs{arm64::Cacheability(w.inner), arm64::Cacheability(w.outer), arm64::Shareability(w.share)};
  return true;
}

Layout to_layout(const ptlib_layout& c) {
  auto r = [](const ptlib_region& g) { return Region{VirtAddr(g.base), g.size}; };
  return Layout{c.name ? c.name : "", r(c.user), r(c.linear), r(c.vmalloc), r(c.image_window), r(c.fixmap),
                c.module_reach, c.user_separate, c.highmem};
}
ptlib_layout from_layout(const Layout& l) {
  auto r = [](const Region& g) { return ptlib_region{g.base.value, g.size}; };
  return ptlib_layout{l.name,        r(l.user),      r(l.linear),     r(l.vmalloc), r(l.image_window),
                      r(l.fixmap),   l.module_reach, l.user_separate, l.highmem};
}
Placement to_placement(const ptlib_placement& c) {
  return Placement{to_layout(c.layout), PhysAddr(c.ram_base), c.ram_size,       PhysAddr(c.load_pa),
                   c.image_size,        c.va_pa_offset,       c.va_kernel_pa_offset, VirtAddr(c.image_va),
                   c.highmem_size};
}

/// A register value of one family's tree: `value(tree)` gives a Result of it. WRONG_FAMILY for
/// a tree of another family.
template <unsigned Family, class Fn>
ptlib_status register_of(const ptlib_tree* tree, std::uint64_t* out, ptlib_error* err, Fn&& value) {
  if (!out) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  const ptlib_memory none = ptlib_direct_memory(0);
  return with_tree(tree, &none, err, [&]<class F>(const Tree<F>& t, MemRef) -> ptlib_status {
    if constexpr (kFamily<F> == Family) {
      auto r = value(t);
      if (!r) return fail(r.error(), err);
      *out = *r;
      return ok(err);
    } else {
      return fail(PTLIB_E_WRONG_FAMILY, err);
    }
  });
}

// ---- preallocation and shared kernels ----------------------------------------------------------

template <class F>
ptlib_prealloc_plan to_plan(const PreallocPlan<F>& p) {
  ptlib_prealloc_plan c{p.tables, p.bytes, {}};
  for (std::size_t d = 0; d < Geometry<F>::kDepth; ++d) c.by_depth[d] = p.by_depth[d];
  return c;
}

/// Calls fn.template operator()<D>() for the run-time sync depth d (a SharedKernel<F, D> needs D
/// at compile time). The C API has sync depths 0 and 1 (every kernel half in docs/sharing.md;
/// each depth is another instance of the sync code per format); INVALID_ARGUMENT for another d.
template <class F, class Fn>
ptlib_status with_depth(std::uint32_t d, Fn&& fn) {
  return [&]<std::size_t... D>(std::index_sequence<D...>) {
    ptlib_status s = PTLIB_E_INVALID_ARGUMENT;
    (void)((d == D ? (s = fn.template operator()<D>(), true) : false) || ...);
    return s;
  }(std::make_index_sequence<(Geometry<F>::kDepth > 2 ? 2 : 1)>{});
}

/// The C++ SharedKernel<F, D> over the C struct (the registry stays in the caller's array), and
/// fn(kernel, MemRef); the count goes back into *k afterwards. Every field is checked again.
template <class Fn>
ptlib_status with_kernel(const ptlib_shared_kernel* k, const ptlib_memory* mem, ptlib_error* err, Fn&& fn) {
  if (!k || (!k->roots && k->capacity) || k->count > k->capacity) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  const ptlib_memory none = ptlib_direct_memory(0);
  return with_tree(&k->reference, mem ? mem : &none, err, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    return with_depth<F>(k->sync_depth, [&]<std::size_t D>() -> ptlib_status {
      if constexpr (D + 1 < Geometry<F>::kDepth) {
        // PhysAddr is a standard-layout wrapper of one uint64_t: the caller's array holds them.
        const std::span<PhysAddr> slots(reinterpret_cast<PhysAddr*>(k->roots), k->capacity);
        auto sk = SharedKernel<F, D>::make(t, VirtAddr(k->va), k->size, slots, k->count);
        if (!sk) return fail(sk.error(), err);
        return fn(*sk, m);
      } else {
        return fail(PTLIB_E_INVALID_ARGUMENT, err);
      }
    });
  });
}

/// The calls that allocate several tables outside the engine's rollback (preallocate, new roots,
/// private tables of a sync) need a memory that promises: reserve() is what keeps them whole.
bool promises(const ptlib_memory* mem) { return !mem || !mem->allocate || mem->reserve; }

ptlib_status sync_out(const Result<SyncReport>& r, ptlib_sync_report* out, ptlib_error* err) {
  if (!r) return fail(r.error(), err);
  if (out) *out = ptlib_sync_report{r->roots, r->entries_copied, r->tables_added, r->tables_released};
  return ok(err);
}

Report from_report(const ptlib_report& r) {
  Report c{};
  c.modified.bits = r.modified;
  c.tables_added = r.tables_added;
  c.tables_released = r.tables_released;
  c.leaves_changed = r.leaves_changed;
  return c;
}

}  // namespace

extern "C" {

// ---- errors ------------------------------------------------------------------------------------

const char* ptlib_status_text(ptlib_status code) {
  switch (code) {
    case PTLIB_OK: return "success";
    case PTLIB_E_UNKNOWN_FORMAT: return "not a format this library was built with";
    case PTLIB_E_WRONG_FAMILY: return "the call does not apply to this architecture's formats";
    case PTLIB_E_INVALID_ARGUMENT: return "an argument is invalid (a null pointer, unknown flags, or caps of another family)";
    default: break;
  }
  if (code >= 1 && code <= PTLIB_E_FIELD_OUT_OF_RANGE) return describe(Errc(code - 1));
  return "unknown status code";
}

const char* ptlib_status_name(ptlib_status code) {
  switch (code) {
    case PTLIB_OK: return "ok";
    case PTLIB_E_UNKNOWN_FORMAT: return "unknown_format";
    case PTLIB_E_WRONG_FAMILY: return "wrong_family";
    case PTLIB_E_INVALID_ARGUMENT: return "invalid_argument";
    default: break;
  }
  if (code >= 1 && code <= PTLIB_E_FIELD_OUT_OF_RANGE) return name(Errc(code - 1));
  return "unknown";
}

std::size_t ptlib_error_text(const ptlib_error* err, char* buf, std::size_t size) {
  std::size_t n = 0;
  if (!err) {
    n = put(buf, size, n, "no error given");
  } else {
    n = put(buf, size, n, ptlib_status_name(err->code));
    n = put(buf, size, n, ": ");
    n = put(buf, size, n, ptlib_status_text(err->code));
    if (err->code != PTLIB_OK) {
      n = put(buf, size, n, " (va ");
      n = put_hex(buf, size, n, err->va);
      n = put(buf, size, n, ", pa ");
      n = put_hex(buf, size, n, err->pa);
      if (err->level != PTLIB_NO_LEVEL) {
        n = put(buf, size, n, ", level ");
        n = put_int(buf, size, n, err->level);
        if (err->level_name) {
          n = put(buf, size, n, " ");
          n = put(buf, size, n, err->level_name);
        }
      }
      n = put(buf, size, n, ")");
      if (err->tables_needed) {
        n = put(buf, size, n, " (needed ");
        n = put_int(buf, size, n, std::int32_t(err->tables_needed < 0x7fffffffU ? err->tables_needed : 0x7fffffffU));
        n = put(buf, size, n, err->tables_needed == 1 ? " table" : " tables");
        n = put(buf, size, n, ", the allocator could give ");
        n = put_int(buf, size, n, std::int32_t(err->tables_available < 0x7fffffffU ? err->tables_available : 0x7fffffffU));
        n = put(buf, size, n, ")");
      }
      if (err->hint) {
        n = put(buf, size, n, "; what to do: ");
        n = put(buf, size, n, err->hint);
      }
    }
  }
  if (size) buf[n < size ? n : size - 1] = 0;
  return n;
}

// ---- formats -----------------------------------------------------------------------------------

bool ptlib_has_format(ptlib_format format) {
  return dispatch(format, []<class F>() { return PTLIB_OK; }) == PTLIB_OK;
}

const char* ptlib_format_name(ptlib_format format) {
  // Every format's name, whether or not this build has it (a switch, not a table of pointers:
  // code that runs away from its link address computes these addresses PC-relative).
  switch (format) {
    case PTLIB_SV32: return "sv32";
    case PTLIB_SV39: return "sv39";
    case PTLIB_SV48: return "sv48";
    case PTLIB_SV57: return "sv57";
    case PTLIB_ARM64_4K_39: return "arm64-4k-39";
    case PTLIB_ARM64_4K_48: return "arm64-4k-48";
    case PTLIB_ARM64_4K_52: return "arm64-4k-52";
    case PTLIB_ARM64_16K_47: return "arm64-16k-47";
    case PTLIB_ARM64_16K_48: return "arm64-16k-48";
    case PTLIB_ARM64_16K_52: return "arm64-16k-52";
    case PTLIB_ARM64_64K_42: return "arm64-64k-42";
    case PTLIB_ARM64_64K_48: return "arm64-64k-48";
    case PTLIB_ARM64_64K_52: return "arm64-64k-52";
    case PTLIB_X86_32: return "x86-32";
    case PTLIB_X86_PAE: return "x86-pae";
    case PTLIB_X86_64_L4: return "x86-64-l4";
    case PTLIB_X86_64_L5: return "x86-64-l5";
    case PTLIB_ARMV7_LPAE: return "armv7-lpae";
    case PTLIB_ARM64_4K_39_TTBR1: return "arm64-4k-39-ttbr1";
    case PTLIB_ARM64_4K_48_TTBR1: return "arm64-4k-48-ttbr1";
    case PTLIB_ARM64_4K_52_TTBR1: return "arm64-4k-52-ttbr1";
    case PTLIB_ARM64_16K_47_TTBR1: return "arm64-16k-47-ttbr1";
    case PTLIB_ARM64_16K_48_TTBR1: return "arm64-16k-48-ttbr1";
    case PTLIB_ARM64_16K_52_TTBR1: return "arm64-16k-52-ttbr1";
    case PTLIB_ARM64_64K_42_TTBR1: return "arm64-64k-42-ttbr1";
    case PTLIB_ARM64_64K_48_TTBR1: return "arm64-64k-48-ttbr1";
    case PTLIB_ARM64_64K_52_TTBR1: return "arm64-64k-52-ttbr1";
    default: return nullptr;
  }
}

ptlib_status ptlib_format_from_name(const char* name, ptlib_format* out) {
  if (!name || !out) return PTLIB_E_INVALID_ARGUMENT;
  for (std::uint32_t f = 0; f < PTLIB_FORMAT_COUNT; ++f)
    if (detail::name_equal(ptlib_format_name(ptlib_format(f)), name)) return *out = ptlib_format(f), PTLIB_OK;
  return PTLIB_E_UNKNOWN_FORMAT;
}

ptlib_status ptlib_format_info_of(ptlib_format format, ptlib_format_info* out) {
  if (!out) return PTLIB_E_INVALID_ARGUMENT;
  return dispatch(format, [&]<class F>() {
    using G = Geometry<F>;
    ptlib_format_info i{};
    i.name = ptlib_format_name(format);
    i.levels = std::uint32_t(G::kDepth);
    i.va_bits = G::kVaBits;
    i.pa_bits = F::kPaBits;
    i.entry_bytes = sizeof(typename F::Entry);
    i.page_size = G::kPageSize;
    if constexpr (F::kVaRule == VaRule::sign_extend) {
      i.va_start = 0;
      i.va_last = G::kVaMask >> 1;
      i.va_start_high = G::to_va(std::uint64_t{1} << (G::kVaBits - 1)).value;
    } else {
      i.va_start = G::to_va(0).value;
      i.va_last = G::to_va(G::kVaMask).value;
    }
    i.root_bytes = G::table_bytes(0);
    i.root_align = G::table_align(0);
    i.table_bytes = G::table_bytes(G::kDepth > 1 ? 1 : 0);
    i.table_align = G::table_align(G::kDepth > 1 ? 1 : 0);
    *out = i;
    return PTLIB_OK;
  });
}

ptlib_status ptlib_contiguous_log2(ptlib_format format, std::uint32_t caps, std::uint32_t depth, std::uint32_t* out) {
  if (!out) return PTLIB_E_INVALID_ARGUMENT;
  return dispatch(format, [&]<class F>() {
    using G = Geometry<F>;
    typename F::Caps c{};
    if (!to_caps<F>(caps, c) || depth >= G::kDepth) return PTLIB_E_INVALID_ARGUMENT;
    *out = F::contig_log2(G::level(depth), c);
    return PTLIB_OK;
  });
}

// ---- memory ------------------------------------------------------------------------------------

ptlib_memory ptlib_direct_memory(std::uintptr_t offset) {
  ptlib_memory m{};
  m.direct_offset = offset;
  m.direct_lo = 0;
  m.direct_bytes = ~std::uint64_t{0};
  return m;
}

static_assert(sizeof(Arena) <= sizeof(ptlib_arena) && alignof(Arena) <= alignof(ptlib_arena),
              "ptlib_arena must hold a ptlib::Arena");
static Arena& arena_of(void* a) { return *static_cast<Arena*>(a); }

void ptlib_arena_init(ptlib_arena* arena, void* buffer, std::size_t bytes, std::uint64_t base_pa) {
  if (arena) new (arena->opaque) Arena(buffer, bytes, PhysAddr(base_pa));
}

ptlib_memory ptlib_arena_memory(ptlib_arena* arena) {
  ptlib_memory m{};
  if (!arena) return m;
  const DirectWindow w = arena_of(arena->opaque).direct_window();
  m.ctx = arena->opaque;
  // Function pointers set in code (not read from a table in memory): see MemRef.
  m.allocate = &arena_allocate;
  m.reserve = &arena_reserve;
  m.release = [](void* c, std::uint64_t pa, std::size_t bytes, std::size_t align) {
    arena_of(c).release(PhysAddr(pa), TableRequest{bytes, align, false, 0});
  };
  m.direct_offset = w.offset;
  m.direct_lo = w.lo;
  m.direct_bytes = w.bytes;
  return m;
}

std::size_t ptlib_arena_tables_in_use(const ptlib_arena* arena) {
  return arena ? arena_of(const_cast<std::uint64_t*>(arena->opaque)).tables_in_use() : 0;
}
std::size_t ptlib_arena_used(const ptlib_arena* arena) {
  return arena ? arena_of(const_cast<std::uint64_t*>(arena->opaque)).used() : 0;
}

// ---- trees and operations ----------------------------------------------------------------------

ptlib_status ptlib_tree_create(ptlib_format format, std::uint32_t caps, const ptlib_memory* mem, ptlib_tree* out,
                               ptlib_error* err) {
  if (!mem || !out) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  Mem m(mem);
  const ptlib_status s = dispatch(format, [&]<class F>() -> ptlib_status {
    using G = Geometry<F>;
    typename F::Caps c{};
    if (!to_caps<F>(caps, c)) return fail(PTLIB_E_INVALID_ARGUMENT, err);
    MemRef ref = m.ref();
    const TableRequest req{G::table_bytes(0), G::table_align(0), true, 0};
    auto t = ref.allocate(req);
    if (!t) return fail(PTLIB_E_OUT_OF_MEMORY, err);
    ref.unmap(t->ptr, 0);
    const bool aligned = t->pa.aligned(req.align);
    if (!aligned || t->pa.value + (req.bytes - 1) > G::kPaLimit) {
      ref.release(t->pa, req);
      return fail(aligned ? PTLIB_E_PA_OUT_OF_RANGE : PTLIB_E_MISALIGNED_TABLE, err, 0, t->pa.value);
    }
    *out = ptlib_tree{format, caps, t->pa.value};
    return ok(err);
  });
  return s == PTLIB_E_UNKNOWN_FORMAT ? fail(s, err) : s;
}

ptlib_status ptlib_apply(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_op* op,
                         const ptlib_options* opts, ptlib_report* report, ptlib_error* err) {
  if (!op) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return run(tree, mem, *op, opts, report, nullptr, err);
}

ptlib_status ptlib_plan(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_op* op,
                        const ptlib_options* opts, std::size_t* tables, ptlib_error* err) {
  if (!op || !tables) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return run(tree, mem, *op, opts, nullptr, tables, err);
}

ptlib_status ptlib_map(const ptlib_tree* tree, const ptlib_memory* mem, std::uint64_t va, std::uint64_t pa,
                       std::uint64_t size, ptlib_attrs attrs, const ptlib_options* opts, ptlib_report* report,
                       ptlib_error* err) {
  return run(tree, mem, ptlib_op{PTLIB_OP_MAP, attrs, va, pa, size}, opts, report, nullptr, err);
}

ptlib_status ptlib_unmap(const ptlib_tree* tree, const ptlib_memory* mem, std::uint64_t va, std::uint64_t size,
                         const ptlib_options* opts, ptlib_report* report, ptlib_error* err) {
  return run(tree, mem, ptlib_op{PTLIB_OP_UNMAP, 0, va, 0, size}, opts, report, nullptr, err);
}

ptlib_status ptlib_protect(const ptlib_tree* tree, const ptlib_memory* mem, std::uint64_t va, std::uint64_t size,
                           ptlib_attrs attrs, const ptlib_options* opts, ptlib_report* report, ptlib_error* err) {
  return run(tree, mem, ptlib_op{PTLIB_OP_PROTECT, attrs, va, 0, size}, opts, report, nullptr, err);
}

ptlib_status ptlib_compact(const ptlib_tree* tree, const ptlib_memory* mem, std::uint64_t va, std::uint64_t size,
                           const ptlib_options* opts, ptlib_report* report, ptlib_error* err) {
  return run(tree, mem, ptlib_op{PTLIB_OP_COMPACT, 0, va, 0, size}, opts, report, nullptr, err);
}

ptlib_status ptlib_translate(const ptlib_tree* tree, const ptlib_memory* mem, std::uint64_t va, std::uint64_t* pa,
                             ptlib_leaf* leaf, ptlib_error* err) {
  return with_tree(tree, mem, err, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    auto r = detail::translate_erased(t, m, VirtAddr(va));
    if (!r) return fail(r.error(), err);
    if (pa) *pa = r->pa.value;
    if (leaf) *leaf = to_leaf(r->leaf);
    return ok(err);
  });
}

ptlib_status ptlib_leaves(const ptlib_tree* tree, const ptlib_memory* mem, std::uint64_t va, std::uint64_t size,
                          ptlib_leaf_fn fn, void* ctx, ptlib_error* err) {
  if (!fn) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return with_tree(tree, mem, err, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    using G = Geometry<F>;
    std::uint64_t lo = 0, hi = G::kVaMask + 1;
    if (size) {
      if (va + (size - 1) < va) return fail(PTLIB_E_RANGE_WRAPS, err, va);
      Errc why{};
      if (!G::va_in_range(va, size, why)) return fail(make_error(why, VirtAddr(va)), err);
      lo = G::to_tree(VirtAddr(va));
      hi = lo + size;
    }
    auto each = [&](const Leaf<F>& l) {
      const ptlib_leaf c = to_leaf(l);
      fn(ctx, &c);
    };
    auto r = detail::leaves_erased(t, m, lo, hi, detail::LeafFn<F>::of(each));
    return r ? ok(err) : fail(r.error(), err);
  });
}

// ---- validation --------------------------------------------------------------------------------

const char* ptlib_problem_text(ptlib_problem what) {
  return std::uint32_t(what) <= PTLIB_P_SCRATCH_EXHAUSTED ? describe(Problem(what)) : "unknown problem";
}

ptlib_status ptlib_validate(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_validate_options* opts,
                            std::uint64_t* scratch, std::size_t scratch_count, ptlib_validation* out) {
  static_assert(sizeof(PhysAddr) == sizeof(std::uint64_t) && alignof(PhysAddr) == alignof(std::uint64_t));
  if (!out || (!scratch && scratch_count)) return PTLIB_E_INVALID_ARGUMENT;
  ValidateOptions vo{};
  if (opts) {
    if (opts->flags & ~(PTLIB_VALIDATE_ALLOW_EMPTY_TABLES | PTLIB_VALIDATE_EXPECT_TABLES)) return PTLIB_E_INVALID_ARGUMENT;
    vo.allow_empty_tables = opts->flags & PTLIB_VALIDATE_ALLOW_EMPTY_TABLES;
    if (opts->flags & PTLIB_VALIDATE_EXPECT_TABLES) vo.expected_tables = opts->expected_tables;
  }
  return with_tree(tree, mem, nullptr, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    // PhysAddr is a standard-layout wrapper of one uint64_t: the caller's array holds them.
    const Validation v = detail::validate_erased(t, m, vo, std::span<PhysAddr>(reinterpret_cast<PhysAddr*>(scratch), scratch_count));
    *out = ptlib_validation{v.tables, v.leaves, v.problems, v.tables_recorded,
                            ptlib_finding{ptlib_problem(v.first.what), v.first.level, v.first.va.value,
                                          v.first.pa.value, v.first.level_name}};
    return PTLIB_OK;
  });
}

// ---- preallocation and shared kernels ----------------------------------------------------------

ptlib_status ptlib_preallocation_cost(ptlib_format format, std::uint32_t depth, std::uint64_t va, std::uint64_t size,
                                      ptlib_prealloc_plan* out, ptlib_error* err) {
  if (!out) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  const ptlib_status s = dispatch(format, [&]<class F>() -> ptlib_status {
    if (std::size_t(depth) + 1 >= Geometry<F>::kDepth) return fail(PTLIB_E_INVALID_ARGUMENT, err);
    auto p = detail::preallocation_cost_at<F>(VirtAddr(va), size, depth);
    if (!p) return fail(p.error(), err);
    *out = to_plan(*p);
    return ok(err);
  });
  return s == PTLIB_E_UNKNOWN_FORMAT ? fail(s, err) : s;
}

ptlib_status ptlib_plan_preallocate(const ptlib_tree* tree, const ptlib_memory* mem, std::uint32_t depth,
                                    std::uint64_t va, std::uint64_t size, ptlib_prealloc_plan* out, ptlib_error* err) {
  if (!out) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return with_tree(tree, mem, err, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    if (std::size_t(depth) + 1 >= Geometry<F>::kDepth) return fail(PTLIB_E_INVALID_ARGUMENT, err);
    auto p = detail::plan_preallocate_at(t, m, VirtAddr(va), size, depth);
    if (!p) return fail(p.error(), err);
    *out = to_plan(*p);
    return ok(err);
  });
}

ptlib_status ptlib_preallocate(const ptlib_tree* tree, const ptlib_memory* mem, std::uint32_t depth, std::uint64_t va,
                               std::uint64_t size, const ptlib_options* opts, ptlib_report* report, ptlib_error* err) {
  CallOptions co;
  if (!co.parse(opts) || !promises(mem)) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return with_tree(tree, mem, err, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    if (std::size_t(depth) + 1 >= Geometry<F>::kDepth) return fail(PTLIB_E_INVALID_ARGUMENT, err);
    return report_out(detail::preallocate_erased<F>(t, m, VirtAddr(va), size, co.o, co.sync(), depth), report, err);
  });
}

ptlib_status ptlib_shared_kernel_init(ptlib_shared_kernel* k, const ptlib_tree* reference, std::uint64_t va,
                                      std::uint64_t size, std::uint32_t sync_depth, std::uint64_t* roots,
                                      std::size_t capacity, ptlib_error* err) {
  if (!k || !reference) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  const ptlib_shared_kernel c{*reference, va, size, sync_depth, roots, 0, capacity};
  const ptlib_status s = with_kernel(&c, nullptr, err, [&](auto&, MemRef) { return ok(err); });
  if (s == PTLIB_OK) *k = c;
  return s;
}

ptlib_status ptlib_shared_kernel_add(ptlib_shared_kernel* k, std::uint64_t root, ptlib_error* err) {
  return with_kernel(k, nullptr, err, [&](auto& sk, MemRef) {
    auto r = sk.add(PhysAddr(root));
    if (!r) return fail(r.error(), err);
    k->count = sk.count();
    return ok(err);
  });
}

bool ptlib_shared_kernel_remove(ptlib_shared_kernel* k, std::uint64_t root) {
  bool removed = false;
  (void)with_kernel(k, nullptr, nullptr, [&](auto& sk, MemRef) {
    removed = sk.remove(PhysAddr(root));
    k->count = sk.count();
    return PTLIB_OK;
  });
  return removed;
}

bool ptlib_shared_kernel_needs_sync(const ptlib_shared_kernel* k, const ptlib_report* r) {
  // SharedKernel::kSyncMask: depths 0 .. sync_depth (the depth is checked by the calls).
  return k && r && k->sync_depth < 32 && (r->modified & ((2ULL << k->sync_depth) - 1)) != 0;
}

ptlib_status ptlib_shared_kernel_create_root(ptlib_shared_kernel* k, const ptlib_memory* mem, ptlib_tree* out,
                                             ptlib_error* err) {
  if (!mem || !out || !promises(mem)) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return with_kernel(k, mem, err, [&](auto& sk, MemRef m) {
    auto t = sk.create_root(m);
    if (!t) return fail(t.error(), err);
    k->count = sk.count();
    *out = ptlib_tree{k->reference.format, k->reference.caps, t->root.value};
    return ok(err);
  });
}

ptlib_status ptlib_shared_kernel_release_root(ptlib_shared_kernel* k, const ptlib_memory* mem, std::uint64_t root,
                                              ptlib_error* err) {
  if (!mem) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return with_kernel(k, mem, err, [&](auto& sk, MemRef m) {
    auto r = sk.release_root_erased(m, PhysAddr(root));
    if (!r) return fail(r.error(), err);
    k->count = sk.count();
    return ok(err);
  });
}

ptlib_status ptlib_shared_kernel_sync(const ptlib_shared_kernel* k, const ptlib_memory* mem, std::uint64_t va,
                                      std::uint64_t size, const ptlib_report* r, const ptlib_options* opts,
                                      ptlib_sync_report* out, ptlib_error* err) {
  CallOptions co;
  if (!mem || !r || !co.parse(opts) || (k && k->sync_depth && !promises(mem))) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return with_kernel(k, mem, err, [&](auto& sk, MemRef m) {
    return sync_out(sk.sync(m, VirtAddr(va), size, from_report(*r), co.o, co.sync()), out, err);
  });
}

ptlib_status ptlib_shared_kernel_sync_all(const ptlib_shared_kernel* k, const ptlib_memory* mem,
                                          const ptlib_options* opts, ptlib_sync_report* out, ptlib_error* err) {
  CallOptions co;
  if (!mem || !co.parse(opts) || (k && k->sync_depth && !promises(mem))) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  return with_kernel(k, mem, err, [&](auto& sk, MemRef m) { return sync_out(sk.sync_all(m, co.o, co.sync()), out, err); });
}

ptlib_status ptlib_shared_kernel_preallocate(const ptlib_shared_kernel* k, const ptlib_memory* mem, std::uint64_t va,
                                             std::uint64_t size, const ptlib_options* opts, ptlib_report* report,
                                             ptlib_error* err) {
  if (!k) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  // preallocate<SyncDepth>() on the reference, after the kernel's own checks.
  const ptlib_status s = with_kernel(k, nullptr, err, [&](auto&, MemRef) { return PTLIB_OK; });
  if (s != PTLIB_OK) return s;
  return ptlib_preallocate(&k->reference, mem, k->sync_depth, va, size, opts, report, err);
}

// ---- boot maps ---------------------------------------------------------------------------------

ptlib_status ptlib_map_linear(const ptlib_tree* tree, const ptlib_memory* mem, const ptlib_bank* banks,
                              std::size_t count, std::uint64_t offset, ptlib_attrs attrs, const ptlib_options* opts,
                              ptlib_report* report, ptlib_error* err) {
  CallOptions co;
  Attrs a{};
  if ((!banks && count) || !co.parse(opts) || !to_attrs(attrs, a)) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  if (count == 0) return fail(PTLIB_E_ZERO_SIZE, err);
  // map_linear()'s batch, over the C banks.
  return with_tree(tree, mem, err, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    Attrs fa = a;
    if (!apply_ext<F>(co.ext, fa)) return fail(PTLIB_E_INVALID_ARGUMENT, err);
    auto at = [&](std::size_t i) {
      return op::Map{VirtAddr(banks[i].pa + offset), PhysAddr(banks[i].pa), banks[i].size, fa};
    };
    return report_out(detail::apply_erased<F, detail::kAllOps, true, detail::kOneWalk>(t, m, detail::OpList::pieces(at, count), co.o, co.sync()), report, err);
  });
}

ptlib_status ptlib_map_image(const ptlib_tree* tree, const ptlib_memory* mem, std::uint64_t image_va,
                             std::uint64_t load_pa, const ptlib_section* sections, std::size_t count,
                             const ptlib_image_options* opts, ptlib_report* report, ptlib_error* err) {
  ImageOptions io{};
  CallOptions co;
  if ((!sections && count) || count > PTLIB_MAX_SECTIONS) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  if (opts) {
    Attrs mt{};
    if ((opts->flags & ~(PTLIB_IMAGE_ALLOW_WRITE_EXEC | PTLIB_IMAGE_NOT_GLOBAL)) || (opts->mem & ~PTLIB_MEM_MASK) ||
        !to_attrs(opts->mem, mt) || !co.parse(&opts->engine) || co.ext)
      return fail(PTLIB_E_INVALID_ARGUMENT, err);
    io.allow_write_exec = opts->flags & PTLIB_IMAGE_ALLOW_WRITE_EXEC;
    io.global = !(opts->flags & PTLIB_IMAGE_NOT_GLOBAL);
    io.mem = mt.mem;
    io.engine = co.o;
  }
  Section s[PTLIB_MAX_SECTIONS];
  for (std::size_t i = 0; i < count; ++i) {
    if (std::uint32_t(sections[i].kind) > PTLIB_SECTION_INIT) return fail(PTLIB_E_INVALID_ARGUMENT, err);
    s[i] = Section{sections[i].name ? sections[i].name : "", sections[i].offset, sections[i].size,
                   SectionKind(sections[i].kind)};
  }
  return with_tree(tree, mem, err, [&]<class F>(const Tree<F>& t, MemRef m) -> ptlib_status {
    return report_out(map_image(t, m, VirtAddr(image_va), PhysAddr(load_pa), std::span<const Section>(s, count), io, co.sync()),
                      report, err);
  });
}

ptlib_status ptlib_map_identity(const ptlib_format* candidates, std::size_t candidate_count, std::uint32_t caps,
                                const ptlib_memory* mem, const ptlib_bank* banks, std::size_t count,
                                ptlib_attrs attrs, const ptlib_options* opts, ptlib_identity* out,
                                ptlib_error* err) {
  CallOptions co;
  Attrs a{};
  if (!mem || !out || (!candidates && candidate_count) || (!banks && count) || count > PTLIB_MAX_BANKS ||
      !co.parse(opts) || !to_attrs(attrs, a))
    return fail(PTLIB_E_INVALID_ARGUMENT, err);
  Bank b[PTLIB_MAX_BANKS];
  for (std::size_t i = 0; i < count; ++i) b[i] = Bank{PhysAddr(banks[i].pa), banks[i].size};
  const std::span<const Bank> span(b, count);
  const Bank top = detail::top_bank(span);
  if (top.size == 0) return fail(PTLIB_E_ZERO_SIZE, err);
  Mem m(mem);
  for (std::size_t i = 0; i < candidate_count; ++i) {
    bool reached = false;
    const ptlib_status s = dispatch(candidates[i], [&]<class F>() -> ptlib_status {
      typename F::Caps c{};
      if (!to_caps<F>(caps, c)) return fail(PTLIB_E_INVALID_ARGUMENT, err);
      if (!detail::reaches<F>(span)) return PTLIB_OK;
      reached = true;
      Attrs fa = a;
      if (!apply_ext<F>(co.ext, fa)) return fail(PTLIB_E_INVALID_ARGUMENT, err);
      MemRef ref = m.ref();
      auto caps_fn = [&]<class>() { return c; };
      auto r = map_identity<std::tuple<F>>(ref, span, fa, co.o, caps_fn);
      if (!r) return fail(r.error(), err);
      out->tree = ptlib_tree{candidates[i], caps, r->root.value};
      out->index = i;
      out->report = ptlib_report{r->report.modified.bits, r->report.tables_added, r->report.tables_released,
                                 r->report.leaves_changed};
      return ok(err);
    });
    if (s == PTLIB_E_UNKNOWN_FORMAT) return fail(s, err);
    if (s != PTLIB_OK || reached) return s;
  }
  return fail(PTLIB_E_VA_OUT_OF_RANGE, err, top.pa.value, top.pa.value);
}

// ---- layouts -----------------------------------------------------------------------------------

ptlib_status ptlib_layout_of(ptlib_format format, ptlib_layout* out) {
  if (!out) return PTLIB_E_INVALID_ARGUMENT;
  const Layout* l = nullptr;
  const ptlib_status s = dispatch(format, [&]<class F>() -> ptlib_status {
    if constexpr (kFamily<F> == kRiscv) l = &riscv::layout<F>();
    else if constexpr (kFamily<F> == kX86) l = &x86::layout<F>();
    else if constexpr (kFamily<F> == kArmv7) l = &armv7::kLayout3g;
    else if constexpr (kFamily<F> == kArm64) {
      if constexpr (Geometry<F>::kVaBits == 48) l = &arm64::kLayout48;
      else if constexpr (Geometry<F>::kVaBits == 52) l = &arm64::kLayout52;
    }
    return l ? PTLIB_OK : PTLIB_E_WRONG_FAMILY;
  });
  if (s != PTLIB_OK) return s;
  *out = from_layout(*l);
  return PTLIB_OK;
}

ptlib_status ptlib_place(const ptlib_layout* layout, std::uint64_t ram_base, std::uint64_t ram_size,
                         std::uint64_t load_pa, std::uint64_t image_size, std::uint64_t page, ptlib_placement* out,
                         ptlib_error* err) {
  if (!layout || !out || !page || (page & (page - 1))) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  auto p = place(to_layout(*layout), PhysAddr(ram_base), ram_size, PhysAddr(load_pa), image_size, page);
  if (!p) return fail(p.error(), err);
  *out = ptlib_placement{*layout,          p->ram_base.value, p->ram_size,          p->load_pa.value,
                         p->image_size,    p->va_pa_offset,   p->va_kernel_pa_offset, p->image_va.value,
                         p->highmem_size};
  out->layout = from_layout(p->layout);
  out->layout.name = layout->name;
  return ok(err);
}

ptlib_status ptlib_virt_to_phys(const ptlib_placement* p, std::uint64_t va, std::uint64_t* pa, ptlib_error* err) {
  if (!p || !pa) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  auto r = to_placement(*p).virt_to_phys(VirtAddr(va));
  if (!r) return fail(r.error(), err);
  *pa = r->value;
  return ok(err);
}

ptlib_status ptlib_phys_to_virt(const ptlib_placement* p, std::uint64_t pa, std::uint64_t* va, ptlib_error* err) {
  if (!p || !va) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  auto r = to_placement(*p).phys_to_virt(PhysAddr(pa));
  if (!r) return fail(r.error(), err);
  *va = r->value;
  return ok(err);
}

// ---- registers ---------------------------------------------------------------------------------

ptlib_status ptlib_riscv_satp(const ptlib_tree* tree, std::uint32_t asid, std::uint64_t* out, ptlib_error* err) {
  return register_of<kRiscv>(tree, out, err, [&](const auto& t) { return riscv::satp(t, asid); });
}

ptlib_status ptlib_arm64_ttbr(const ptlib_tree* tree, std::uint32_t asid, bool cnp, std::uint64_t* out,
                              ptlib_error* err) {
  return register_of<kArm64>(tree, out, err, [&](const auto& t) { return arm64::ttbr(t, asid, cnp); });
}

ptlib_status ptlib_arm64_tcr(ptlib_format low, ptlib_format high, const ptlib_tcr_options* opts, std::uint64_t* out,
                             ptlib_error* err) {
  if (!out) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  arm64::TcrOptions o{};
  if (opts) {
    constexpr std::uint32_t known = PTLIB_TCR_ASID8 | PTLIB_TCR_ASID_IN_TTBR1 | PTLIB_TCR_DISABLE_TTBR0 |
                                    PTLIB_TCR_DISABLE_TTBR1 | PTLIB_TCR_TBI0 | PTLIB_TCR_TBI1 | PTLIB_TCR_HW_ACCESS |
                                    PTLIB_TCR_HW_DIRTY;
    if ((opts->flags & ~known) || !to_walk(opts->walk0, o.walk0) || !to_walk(opts->walk1, o.walk1))
      return fail(PTLIB_E_INVALID_ARGUMENT, err);
    o.pa_bits = opts->pa_bits;
    o.asid16 = !(opts->flags & PTLIB_TCR_ASID8);
    o.asid_in_ttbr1 = opts->flags & PTLIB_TCR_ASID_IN_TTBR1;
    o.disable_ttbr0 = opts->flags & PTLIB_TCR_DISABLE_TTBR0;
    o.disable_ttbr1 = opts->flags & PTLIB_TCR_DISABLE_TTBR1;
    o.tbi0 = opts->flags & PTLIB_TCR_TBI0;
    o.tbi1 = opts->flags & PTLIB_TCR_TBI1;
    o.hw_access = opts->flags & PTLIB_TCR_HW_ACCESS;
    o.hw_dirty = opts->flags & PTLIB_TCR_HW_DIRTY;
  }
  auto done = [&](const Result<std::uint64_t>& r) {
    if (!r) return fail(r.error(), err);
    *out = *r;
    return ok(err);
  };
  // The TTBR1 half: its T1SZ, TG1 and descriptor format, read from the format once (not a
  // tcr_el1 instance per pair of formats).
  struct High {
    bool any = false;
    bool lpa2 = false;
    unsigned pa_bits = 0;
    std::uint64_t fields = 0;  // T1SZ | TG1
  } h;
  if (high != PTLIB_FORMAT_NONE) {
    const ptlib_status s = dispatch(high, [&]<class H>() -> ptlib_status {
      if constexpr (kFamily<H> == kArm64) {
        if constexpr (H::kVaRule == VaRule::high) {
          h = High{true, H::kLpa2, H::kPaBits,
                   (std::uint64_t{H::kTxSz} << arm64::regs::kT1szShift) |
                       (arm64::regs::tg1(H::kGranule) << arm64::regs::kTg1Shift)};
          return PTLIB_OK;
        }
        return PTLIB_E_INVALID_ARGUMENT;
      }
      return PTLIB_E_WRONG_FAMILY;
    });
    if (s != PTLIB_OK) return fail(s, err);
  }
  const ptlib_status s = dispatch(low, [&]<class L>() -> ptlib_status {
    if constexpr (kIsTtbr0Arm64<L>) {
      if (!h.any) return done(arm64::tcr_el1<L>(o));
      if (h.lpa2 != L::kLpa2) return fail(PTLIB_E_INVALID_ARGUMENT, err);
      // tcr_el1<L, L's TTBR1 twin>: the same descriptor format and IPS rule; then the TTBR1
      // fields (T1SZ, TG1) of the real high format, and IPS limited by both output sizes.
      using Twin = arm64::Vmsa<L::kGranule, 64 - L::kTxSz, VaRule::high, L::kPaBits>;
      if (o.pa_bits > h.pa_bits) return fail(PTLIB_E_PA_OUT_OF_RANGE, err);
      if (!o.pa_bits && h.pa_bits < L::kPaBits) o.pa_bits = h.pa_bits;
      auto r = arm64::tcr_el1<L, Twin>(o);
      if (!r) return done(r);
      constexpr std::uint64_t t1_mask = (std::uint64_t{0x3f} << arm64::regs::kT1szShift) |
                                        (std::uint64_t{3} << arm64::regs::kTg1Shift);
      return done((*r & ~t1_mask) | h.fields);
    } else if constexpr (kFamily<L> == kArm64) {
      return fail(PTLIB_E_INVALID_ARGUMENT, err);
    } else {
      return fail(PTLIB_E_WRONG_FAMILY, err);
    }
  });
  return s == PTLIB_E_UNKNOWN_FORMAT ? fail(s, err) : s;
}

ptlib_status ptlib_x86_cr3(const ptlib_tree* tree, const ptlib_cr3_options* opts, std::uint64_t* out,
                           ptlib_error* err) {
  x86::Cr3Options o{};
  if (opts) {
    o.pwt = opts->pwt;
    o.pcd = opts->pcd;
    if (opts->has_pcid) o.pcid = opts->pcid;
    o.no_flush = opts->no_flush;
  }
  return register_of<kX86>(tree, out, err, [&](const auto& t) { return x86::cr3(t, o); });
}

ptlib_status ptlib_x86_cr4(ptlib_format format, std::uint32_t caps, bool pge, bool pcide, ptlib_control_bits* out,
                           ptlib_error* err) {
  if (!out) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  const ptlib_tree t{format, caps, 0};
  const ptlib_memory none = ptlib_direct_memory(0);
  return with_tree(&t, &none, err, [&]<class F>(const Tree<F>& tree, MemRef) -> ptlib_status {
    if constexpr (kFamily<F> == kX86) {
      auto r = x86::cr4<F>(tree.caps, x86::Cr4Options{pge, pcide});
      if (!r) return fail(r.error(), err);
      *out = ptlib_control_bits{r->set, r->clear};
      return ok(err);
    } else {
      return fail(PTLIB_E_WRONG_FAMILY, err);
    }
  });
}

ptlib_status ptlib_x86_efer(ptlib_format format, std::uint32_t caps, ptlib_control_bits* out, ptlib_error* err) {
  if (!out) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  const ptlib_tree t{format, caps, 0};
  const ptlib_memory none = ptlib_direct_memory(0);
  return with_tree(&t, &none, err, [&]<class F>(const Tree<F>& tree, MemRef) -> ptlib_status {
    if constexpr (kFamily<F> == kX86) {
      const auto r = x86::efer<F>(tree.caps);
      *out = ptlib_control_bits{r.set, r.clear};
      return ok(err);
    } else {
      return fail(PTLIB_E_WRONG_FAMILY, err);
    }
  });
}

ptlib_status ptlib_armv7_ttbr(const ptlib_tree* tree, std::uint32_t asid, std::uint64_t* out, ptlib_error* err) {
  return register_of<kArmv7>(tree, out, err, [&](const auto& t) { return armv7::ttbr(t, asid); });
}

ptlib_status ptlib_armv7_ttbcr(ptlib_format low, const ptlib_tcr_options* opts, std::uint32_t* out, ptlib_error* err) {
  if (!out) return fail(PTLIB_E_INVALID_ARGUMENT, err);
  armv7::TtbcrOptions o{};
  if (opts) {
    arm64::WalkAttrs w0{}, w1{};
    if ((opts->flags & ~(PTLIB_TCR_ASID_IN_TTBR1 | PTLIB_TCR_DISABLE_TTBR0)) || opts->pa_bits ||
        !to_walk(opts->walk0, w0) || !to_walk(opts->walk1, w1))
      return fail(PTLIB_E_INVALID_ARGUMENT, err);
    auto v7 = [](const arm64::WalkAttrs& w) {
      return armv7::WalkAttrs{armv7::Cacheability(w.inner), armv7::Cacheability(w.outer), armv7::Shareability(w.share)};
    };
    o.walk0 = v7(w0);
    o.walk1 = v7(w1);
    o.asid_in_ttbr1 = opts->flags & PTLIB_TCR_ASID_IN_TTBR1;
    o.disable_ttbr0 = opts->flags & PTLIB_TCR_DISABLE_TTBR0;
  }
  const ptlib_status s = dispatch(low, [&]<class F>() -> ptlib_status {
    if constexpr (kFamily<F> == kArmv7) {
      *out = armv7::ttbcr<F>(o);
      return ok(err);
    } else {
      return fail(PTLIB_E_WRONG_FAMILY, err);
    }
  });
  return s == PTLIB_E_UNKNOWN_FORMAT ? fail(s, err) : s;
}

}  // extern "C"

// The header's constants are the C++ API's.
static_assert(PTLIB_ARM64_MAIR_EL1 == ptlib::arm64::kMairEl1);
static_assert(PTLIB_ARMV7_MAIR0 == ptlib::armv7::kMair0 && PTLIB_ARMV7_MAIR1 == ptlib::armv7::kMair1);
static_assert(PTLIB_X86_CR0_BITS == ptlib::x86::kCr0.set);
static_assert(PTLIB_E_FIELD_OUT_OF_RANGE == unsigned(ptlib::Errc::field_out_of_range) + 1);
static_assert(PTLIB_P_SCRATCH_EXHAUSTED == unsigned(ptlib::Problem::scratch_exhausted));
static_assert(PTLIB_R == unsigned(ptlib::Perm::read) && PTLIB_W == unsigned(ptlib::Perm::write) &&
              PTLIB_X == unsigned(ptlib::Perm::exec) && PTLIB_U == unsigned(ptlib::Perm::user) &&
              PTLIB_G == unsigned(ptlib::Perm::global));
static_assert(PTLIB_MEM_WC >> 8 == unsigned(ptlib::MemType::wc) && PTLIB_MEM_OTHER >> 8 == unsigned(ptlib::MemType::other));
static_assert(PTLIB_OP_COMPACT == unsigned(ptlib::detail::OpKind::compact) &&
              PTLIB_OP_MAP == unsigned(ptlib::detail::OpKind::map));
static_assert(PTLIB_SECTION_INIT == unsigned(ptlib::SectionKind::init));
static_assert(PTLIB_LIVE_BREAK_BEFORE_MAKE == unsigned(ptlib::Live::break_before_make));

// The pool-sizing macros' geometry is each format's (ptlib.h: levels, page shift, index bits below
// the root, root bytes, table bytes), and PTLIB_POOL_BYTES / PTLIB_POOL_ALIGN are pool_bytes() /
// pool_align().
namespace ptlib_c_api {
template <class F>
constexpr bool geometry_is(unsigned levels, unsigned page_shift, unsigned bits, std::size_t root, std::size_t table) {
  using G = ptlib::Geometry<F>;
  bool ok = G::kDepth == levels && G::kDepth <= PTLIB_MAX_LEVELS && G::kPageSize == std::uint64_t{1} << page_shift &&
            G::table_bytes(0) == root;
  for (std::size_t d = 1; d < G::kDepth; ++d)
    ok = ok && G::table_bytes(d) == table && G::table_align(d) == table && G::shift(d) == page_shift + bits * (G::kDepth - 1 - d);
  return ok && ptlib::pool_align<F>() == table;
}
#define PTLIB_C_CHECK_GEOMETRY(E, T, FAM)                                                           \
  static_assert(geometry_is<T>(E##_GEOMETRY), #E "_GEOMETRY");                                      \
  static_assert(PTLIB_POOL_BYTES(E, 3) == ptlib::pool_bytes<T>(3) && PTLIB_POOL_ALIGN(E) == ptlib::pool_align<T>());
PTLIB_C_FORMATS(PTLIB_C_CHECK_GEOMETRY)
#undef PTLIB_C_CHECK_GEOMETRY
}  // namespace ptlib_c_api
static_assert(PTLIB_SHARE_INNER == unsigned(ptlib::Share::inner) && PTLIB_ACCESSED_CLEAR == unsigned(ptlib::Accessed::clear) &&
              PTLIB_DIRTY_SET == unsigned(ptlib::Dirty::set) && unsigned(ptlib::x86::PatIndex::pat7) == 8 &&
              unsigned(ptlib::arm64::AttrIndex::attr7) == 8 && unsigned(ptlib::armv7::AttrIndex::attr7) == 8);
