// The C API against the C++ API on the same operations (differential): for every format, the
// same random map/unmap/protect/compact sequence goes through ptlib_apply() on one arena and
// through ptlib::apply() on another over identical buffers. After each operation the status,
// error (code, VA, PA, level), report and plan must agree, the two table buffers must be equal
// byte for byte, and translate must agree at random probes. Then the boot maps and register values
// of the two APIs are compared (TCR_EL1 over every pair of arm64 TTBR0 and TTBR1 formats), and
// the pool-sizing macros of ptlib.h against the C++ budgets (table_budget over Regions and over
// MapExtents) for random regions of every format.
#include <ptlib.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include <ptlib/arm64_boot.hpp>
#include <ptlib/formats.hpp>
#include <ptlib/riscv_boot.hpp>
#include <ptlib/tables.hpp>
#include <ptlib/x86_boot.hpp>

namespace {
using namespace ptlib;

int failures = 0;
const char* current = "";
#define EXPECT(cond)                                                                        \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      if (++failures < 20) std::fprintf(stderr, "[%s] line %d: %s\n", current, __LINE__, #cond); \
    }                                                                                       \
  } while (0)

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {  // xorshift64*
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

constexpr std::size_t kBytes = 2u << 20;
constexpr std::uint64_t kBase = 0x4000'0000;

bool same_error(ptlib_status s, const ptlib_error& ce, const Error& e) {
  // The C error says 0 where the C++ one has no physical address (Error::kNoPa).
  return s == ptlib_status(unsigned(e.code) + 1) && ce.va == e.va.value && ce.pa == (e.has_pa() ? e.pa.value : 0) &&
         ce.level == e.level;
}
ptlib_attrs c_attrs(const Attrs& a) { return std::uint32_t(a.perm) | (std::uint32_t(a.mem) << 8); }

template <class F>
void run_format(ptlib_format cf, std::uint64_t seed) {
  using G = Geometry<F>;
  current = ptlib_format_name(cf);
  std::vector<std::uint64_t> a(kBytes / 8), b(kBytes / 8);
  ptlib_arena ca;
  ptlib_arena_init(&ca, a.data(), kBytes, kBase);
  const ptlib_memory cm = ptlib_arena_memory(&ca);
  Arena arena(b.data(), kBytes, PhysAddr(kBase));
  ptlib_tree ct{};
  EXPECT(ptlib_tree_create(cf, 0, &cm, &ct, nullptr) == PTLIB_OK);
  auto made = make_tree<F>(arena);
  EXPECT(made.ok() && made->root.value == ct.root);
  const Tree<F> tree = *made;

  const std::uint64_t page = G::kPageSize, block = G::span(G::kDepth - 2);
  const std::uint64_t w0 = 8 * block, window = 8 * block;
  const Attrs kAttrs[] = {Attrs{Perm::read | Perm::write | Perm::global},
                          Attrs{Perm::read | Perm::global},
                          Attrs{Perm::read | Perm::exec | Perm::global},
                          Attrs{Perm::read | Perm::write | Perm::user},
                          Attrs{Perm::read | Perm::write | Perm::global, MemType::device},
                          Attrs{Perm::read | Perm::write | Perm::global, MemType::normal_nc}};
  Rng rng{seed};
  std::size_t applied = 0;
  for (int i = 0; i < 300; ++i) {
    const unsigned kind = unsigned(rng.below(4));
    const std::uint64_t lo = w0 + page * rng.below(window / page);
    std::uint64_t size = rng.below(3) == 0 ? block * (1 + rng.below(2)) : page * (1 + rng.below(24));
    if (lo + size > w0 + window) size = w0 + window - lo;
    // PAs that keep VA and PA block-aligned together half of the time (so blocks form).
    const std::uint64_t pa = rng.below(2) ? (lo - w0) + block * (1 + rng.below(4)) : page * rng.below(1u << 12);
    const Attrs attrs = kAttrs[rng.below(6)];
    Options o;
    o.max_leaf_size = rng.below(3) == 0 ? page : 0;
    o.contiguous = rng.below(4) != 0;
    o.release_empty = rng.below(4) != 0;
    o.allow_implied_exec = rng.below(2);
    ptlib_options co{o.max_leaf_size,
                     (o.allow_implied_exec ? PTLIB_OPT_ALLOW_IMPLIED_EXEC : 0u) |
                         (o.contiguous ? 0u : PTLIB_OPT_NO_CONTIGUOUS) | (o.release_empty ? 0u : PTLIB_OPT_KEEP_EMPTY_TABLES),
                     PTLIB_LIVE_OFFLINE, nullptr, nullptr};
    const VirtAddr va = G::to_va(lo);
    const ptlib_op cop{ptlib_op_kind(kind), c_attrs(attrs), va.value, pa, size};
    // plan
    std::size_t ctables = 0;
    ptlib_error ce{};
    const ptlib_status ps = ptlib_plan(&ct, &cm, &cop, &co, &ctables, &ce);
    Result<std::size_t> pr = make_error(Errc::zero_size);
    Result<Report> r = make_error(Errc::zero_size);
    ptlib_report crep{};
    const ptlib_status s = ptlib_apply(&ct, &cm, &cop, &co, &crep, &ce);
    switch (kind) {
      case 0:
        pr = plan(tree, arena, op::Map{va, PhysAddr(pa), size, attrs}, o);
        r = apply(tree, arena, op::Map{va, PhysAddr(pa), size, attrs}, o);
        break;
      case 1:
        pr = plan(tree, arena, op::Unmap{va, size}, o);
        r = apply(tree, arena, op::Unmap{va, size}, o);
        break;
      case 2:
        pr = plan(tree, arena, op::Protect{va, size, attrs}, o);
        r = apply(tree, arena, op::Protect{va, size, attrs}, o);
        break;
      default:
        pr = plan(tree, arena, op::Compact{va, size}, o);
        r = apply(tree, arena, op::Compact{va, size}, o);
        break;
    }
    EXPECT((ps == PTLIB_OK) == pr.ok());
    if (pr.ok()) EXPECT(ctables == *pr);
    EXPECT((s == PTLIB_OK) == r.ok());
    if (r.ok() && s == PTLIB_OK) {
      ++applied;
      EXPECT(crep.modified == r->modified.bits && crep.tables_added == r->tables_added &&
             crep.tables_released == r->tables_released && crep.leaves_changed == r->leaves_changed);
    } else if (!r.ok()) {
      EXPECT(same_error(s, ce, r.error()));
    }
    EXPECT(std::memcmp(a.data(), b.data(), kBytes) == 0);
    EXPECT(ptlib_arena_used(&ca) == arena.used() && ptlib_arena_tables_in_use(&ca) == arena.tables_in_use());
    for (int p = 0; p < 8; ++p) {
      const VirtAddr probe = G::to_va(w0 + rng.below(window));
      std::uint64_t cpa = 0;
      ptlib_leaf leaf{};
      const ptlib_status ts = ptlib_translate(&ct, &cm, probe.value, &cpa, &leaf, &ce);
      auto t = translate(tree, arena, probe);
      EXPECT((ts == PTLIB_OK) == t.ok());
      if (t.ok()) {
        EXPECT(cpa == t->pa.value && leaf.va == t->leaf.va.value && leaf.size == t->leaf.size &&
               leaf.attrs == c_attrs(t->leaf.attrs) && leaf.contiguous == t->leaf.contiguous &&
               leaf.depth == t->leaf.depth);
      } else {
        EXPECT(same_error(ts, ce, t.error()));
      }
    }
  }
  EXPECT(applied > 50);  // the sequence did things, not only refusals

  // Boot maps: the linear map of two banks, then an image, through both APIs.
  const Bank banks[2] = {Bank{PhysAddr(0), 3 * block + 2 * page}, Bank{PhysAddr(8 * block), block}};
  const ptlib_bank cbanks[2] = {{0, 3 * block + 2 * page}, {8 * block, block}};
  const std::uint64_t lin = G::to_va(32 * block).value - 0;
  Options lo;
  lo.allow_implied_exec = true;
  const ptlib_options clo{0, PTLIB_OPT_ALLOW_IMPLIED_EXEC, PTLIB_LIVE_OFFLINE, nullptr, nullptr};
  ptlib_report crep{};
  ptlib_error ce{};
  const ptlib_status ls = ptlib_map_linear(&ct, &cm, cbanks, 2, lin, PTLIB_LINEAR_ATTRS, &clo, &crep, &ce);
  auto lr = map_linear(tree, arena, std::span<const Bank>(banks, 2), lin, kLinearAttrs, lo);
  EXPECT((ls == PTLIB_OK) == lr.ok() && ls == PTLIB_OK);
  if (lr.ok()) EXPECT(crep.tables_added == lr->tables_added && crep.leaves_changed == lr->leaves_changed);
  const Section secs[3] = {{".text", 0, 2 * page, SectionKind::text},
                           {".rodata", 2 * page, page, SectionKind::rodata},
                           {".data", 3 * page, 5 * page, SectionKind::data}};
  const ptlib_section csecs[3] = {{".text", 0, 2 * page, PTLIB_SECTION_TEXT},
                                  {".rodata", 2 * page, page, PTLIB_SECTION_RODATA},
                                  {".data", 3 * page, 5 * page, PTLIB_SECTION_DATA}};
  ImageOptions io;
  io.engine = lo;
  ptlib_image_options cio{};
  cio.engine = clo;
  const std::uint64_t img = G::to_va(48 * block).value;
  const ptlib_status is = ptlib_map_image(&ct, &cm, img, 2 * block, csecs, 3, &cio, &crep, &ce);
  auto ir = map_image(tree, arena, VirtAddr(img), PhysAddr(2 * block), std::span<const Section>(secs, 3), io);
  EXPECT((is == PTLIB_OK) == ir.ok() && is == PTLIB_OK);
  EXPECT(std::memcmp(a.data(), b.data(), kBytes) == 0);

  // The family's attribute extension: ptlib_options.ext against with(attrs, Family::Ext), the
  // same entries, and the leaf's ptlib_ext against ext_of().
  {
    ptlib_ext cx{};
    Attrs xa{Perm::read | Perm::write | Perm::global};
    auto same_ext = [&](const ptlib_leaf& l, const Attrs& at) {
      if constexpr (arm64::regs::kIsVmsa<F>) {
        const auto x = arm64::ext_of(at);
        return l.ext.share == ptlib_share(x.share) && l.ext.index == unsigned(x.attr_index) && l.ext.software == x.software;
      } else if constexpr (x86::detail::kIsX86<F>) {
        const auto x = x86::ext_of(at);
        return l.ext.accessed == ptlib_accessed(x.accessed) && l.ext.dirty == ptlib_dirty(x.dirty) &&
               l.ext.index == unsigned(x.pat) && l.ext.software == x.software;
      } else if constexpr (std::is_same_v<typename F::Caps, riscv::Caps>) {
        const auto x = riscv::ext_of(at);
        return l.ext.accessed == ptlib_accessed(x.accessed) && l.ext.dirty == ptlib_dirty(x.dirty) &&
               l.ext.software == x.software;
      } else {
        const auto x = armv7::ext_of(at);
        return l.ext.share == ptlib_share(x.share) && l.ext.index == unsigned(x.attr_index) && l.ext.software == x.software;
      }
    };
    if constexpr (arm64::regs::kIsVmsa<F>) {  // FEAT_LPA2 formats have no SH field in descriptors
      cx = ptlib_ext{F::kLpa2 ? PTLIB_SHARE_PRESET : PTLIB_SHARE_OUTER, 6, PTLIB_ACCESSED_SET, PTLIB_DIRTY_IF_WRITABLE, 9};
      xa = arm64::with(xa, arm64::Ext{F::kLpa2 ? Share::preset : Share::outer, arm64::AttrIndex::attr5, 9});
    } else if constexpr (x86::detail::kIsX86<F>) {
      cx = ptlib_ext{PTLIB_SHARE_PRESET, 3, PTLIB_ACCESSED_CLEAR, PTLIB_DIRTY_CLEAR, 5};
      xa = x86::with(xa, x86::Ext{Accessed::clear, Dirty::clear, x86::PatIndex::pat2, 5});
    } else if constexpr (std::is_same_v<typename F::Caps, riscv::Caps>) {
      cx = ptlib_ext{PTLIB_SHARE_PRESET, 0, PTLIB_ACCESSED_CLEAR, PTLIB_DIRTY_SET, 2};
      xa = riscv::with(xa, riscv::Ext{Accessed::clear, Dirty::set, 2});
    } else {
      cx = ptlib_ext{PTLIB_SHARE_NON, 5, PTLIB_ACCESSED_SET, PTLIB_DIRTY_IF_WRITABLE, 15};
      xa = armv7::with(xa, armv7::Ext{Share::non, armv7::AttrIndex::attr4, 15});
    }
    const ptlib_options xo{0, PTLIB_OPT_ALLOW_IMPLIED_EXEC, PTLIB_LIVE_OFFLINE, nullptr, &cx};
    const VirtAddr xva = G::to_va(64 * block);
    const ptlib_status xs =
        ptlib_map(&ct, &cm, xva.value, 4 * block, 2 * page, PTLIB_R | PTLIB_W | PTLIB_G, &xo, &crep, &ce);
    auto xr = map(tree, arena, xva, PhysAddr(4 * block), 2 * page, xa, lo);
    EXPECT(xs == PTLIB_OK && xr.ok() && !xa.ext.empty());
    EXPECT(std::memcmp(a.data(), b.data(), kBytes) == 0);
    ptlib_leaf leaf{};
    auto t = translate(tree, arena, xva);
    EXPECT(ptlib_translate(&ct, &cm, xva.value, nullptr, &leaf, &ce) == PTLIB_OK && t.ok());
    // (x86-32 reads back exec: it has no NX bit, and the map allowed implied exec.)
    if (t.ok()) EXPECT(t->leaf.attrs.ext == xa.ext && leaf.attrs == c_attrs(t->leaf.attrs) && same_ext(leaf, xa));
  }

  // Register values of this tree.
  std::uint64_t v = 0;
  if constexpr (std::is_same_v<typename F::Caps, riscv::Caps>) {
    auto want = riscv::satp(tree, 9);
    EXPECT(ptlib_riscv_satp(&ct, 9, &v, nullptr) == PTLIB_OK && want.ok() && v == *want);
  }
  if constexpr (x86::detail::kIsX86<F>) {
    auto want = x86::cr3(tree);
    EXPECT(ptlib_x86_cr3(&ct, nullptr, &v, nullptr) == PTLIB_OK && want.ok() && v == *want);
    ptlib_control_bits cb{};
    auto c4 = x86::cr4<F>(tree.caps, x86::Cr4Options{true, false});
    EXPECT(ptlib_x86_cr4(cf, 0, true, false, &cb, nullptr) == PTLIB_OK && c4.ok() && cb.set == c4->set &&
           cb.clear == c4->clear);
  }
  if constexpr (arm64::regs::kIsVmsa<F>) {
    auto want = arm64::ttbr(tree, 77, true);
    EXPECT(ptlib_arm64_ttbr(&ct, 77, true, &v, nullptr) == PTLIB_OK && want.ok() && v == *want);
  }
}

/// Every (TTBR0, TTBR1) pair of arm64 formats: ptlib_arm64_tcr against tcr_el1<Low, High>.
template <class L>
void tcr_row(ptlib_format cl) {
  auto one = [&]<class H>(ptlib_format ch) {
    for (unsigned pa_bits : {0u, 40u, 48u, 52u}) {
      ptlib_tcr_options o{};
      o.pa_bits = pa_bits;
      o.flags = PTLIB_TCR_TBI0 | PTLIB_TCR_HW_ACCESS;
      arm64::TcrOptions co{};
      co.pa_bits = pa_bits;
      co.tbi0 = true;
      co.hw_access = true;
      std::uint64_t v = 0;
      ptlib_error ce{};
      const ptlib_status s = ptlib_arm64_tcr(cl, ch, &o, &v, &ce);
      if constexpr (L::kLpa2 == H::kLpa2) {
        auto want = arm64::tcr_el1<L, H>(co);
        EXPECT((s == PTLIB_OK) == want.ok());
        if (want.ok()) EXPECT(v == *want);
        else EXPECT(same_error(s, ce, want.error()));
      } else {
        EXPECT(s == PTLIB_E_INVALID_ARGUMENT);
      }
    }
  };
  std::uint32_t k = PTLIB_ARM64_4K_39_TTBR1;
#define PTLIB_TEST_HIGH(H) one.template operator()<H>(ptlib_format(k++));
  PTLIB_FOR_EACH_TTBR1_FORMAT(PTLIB_TEST_HIGH)
#undef PTLIB_TEST_HIGH
  std::uint64_t v = 0;
  auto want = arm64::tcr_el1<L>();
  EXPECT(ptlib_arm64_tcr(cl, PTLIB_FORMAT_NONE, nullptr, &v, nullptr) == PTLIB_OK && want.ok() && v == *want);
}


/// PTLIB_REGION_TABLES of random regions against table_budget<F>: equal to the Region form (the
/// same formula, computed by the C++ Geometry), at least the MapExtent form (the exact count with
/// blocks, for a random PA) and the merged count of several regions, and at most
/// PTLIB_REGION_TABLES_ANYWHERE.
template <class F, class Region1, class Anywhere>
void pool_macros(ptlib_format cf, Region1 region_tables, Anywhere anywhere, std::uint64_t seed) {
  using G = Geometry<F>;
  current = ptlib_format_name(cf);
  Rng rng{seed};
  const std::uint64_t page = G::kPageSize;
  const std::uint64_t pages = (G::kVaMask >> 1) / page;  // the first half of the tree's range
  for (int i = 0; i < 200; ++i) {
    Region rs[3];
    std::uint64_t sum = 0;
    for (Region& r : rs) {
      const unsigned d = unsigned(rng.below(G::kDepth));
      const std::uint64_t span = G::span(d);
      // Sizes around a span, starts at or just before a boundary of a random level.
      std::uint64_t size = span * (1 + rng.below(3)) + page * rng.below(3) - (rng.below(2) ? 0 : page);
      if (size == 0) size = page;
      std::uint64_t lo = (rng.below(pages) * page) & ~(G::span(unsigned(rng.below(G::kDepth))) - 1);
      if (rng.below(2) && lo >= page) lo -= page;
      if (lo + size > (G::kVaMask >> 1)) lo = 0, size = page * (1 + rng.below(64));
      r = Region{G::to_va(lo), size};
      const std::uint64_t n = region_tables(r.base.value, size);
      EXPECT(n == table_budget<F>(std::span<const Region>(&r, 1)));
      EXPECT(n <= anywhere(size));
      const MapExtent m{r.base, PhysAddr(page * rng.below(1u << 16)), size};
      typename F::Caps caps{};
      EXPECT(n >= table_budget<F>(std::span<const MapExtent>(&m, 1), caps));
      sum += n;
    }
    EXPECT(sum >= table_budget_merged<F>(std::span<const Region>(rs, 3)));
  }
}
}  // namespace

int main() {
  std::uint32_t k = 0;
  // The C enum's order is AllFormats' order, then the TTBR1 list's.
  for (const char* n : kFormatNames) {
    current = "names";
    EXPECT(std::strcmp(ptlib_format_name(ptlib_format(k++)), n) == 0);
  }
  k = 0;
  std::uint64_t seed = 0x9e3779b97f4a7c15ULL;
#define PTLIB_TEST_FORMAT(F) run_format<F>(ptlib_format(k++), seed += 0x1234567);
  PTLIB_FOR_EACH_FORMAT(PTLIB_TEST_FORMAT)
  PTLIB_FOR_EACH_TTBR1_FORMAT(PTLIB_TEST_FORMAT)
#undef PTLIB_TEST_FORMAT
  current = "tcr";
  k = PTLIB_ARM64_4K_39;
#define PTLIB_TEST_ROW(L) tcr_row<L>(ptlib_format(k++));
  PTLIB_TEST_ROW(arm64::Vmsa4k39) PTLIB_TEST_ROW(arm64::Vmsa4k48) PTLIB_TEST_ROW(arm64::Vmsa4k52)
  PTLIB_TEST_ROW(arm64::Vmsa16k47) PTLIB_TEST_ROW(arm64::Vmsa16k48) PTLIB_TEST_ROW(arm64::Vmsa16k52)
  PTLIB_TEST_ROW(arm64::Vmsa64k42) PTLIB_TEST_ROW(arm64::Vmsa64k48) PTLIB_TEST_ROW(arm64::Vmsa64k52)
#undef PTLIB_TEST_ROW
  seed = 0x51ed2701u;
#define PTLIB_TEST_POOL(E, T)                                                                                    \
  pool_macros<T>(                                                                                              \
      E, [](std::uint64_t va, std::uint64_t size) -> std::uint64_t { return PTLIB_REGION_TABLES(E, va, size); }, \
      [](std::uint64_t size) -> std::uint64_t { return PTLIB_REGION_TABLES_ANYWHERE(E, size); }, seed += 77);
  PTLIB_TEST_POOL(PTLIB_SV32, riscv::Sv32) PTLIB_TEST_POOL(PTLIB_SV39, riscv::Sv39)
  PTLIB_TEST_POOL(PTLIB_SV48, riscv::Sv48) PTLIB_TEST_POOL(PTLIB_SV57, riscv::Sv57)
  PTLIB_TEST_POOL(PTLIB_ARM64_4K_39, arm64::Vmsa4k39) PTLIB_TEST_POOL(PTLIB_ARM64_4K_48, arm64::Vmsa4k48)
  PTLIB_TEST_POOL(PTLIB_ARM64_4K_52, arm64::Vmsa4k52) PTLIB_TEST_POOL(PTLIB_ARM64_16K_47, arm64::Vmsa16k47)
  PTLIB_TEST_POOL(PTLIB_ARM64_16K_48, arm64::Vmsa16k48) PTLIB_TEST_POOL(PTLIB_ARM64_16K_52, arm64::Vmsa16k52)
  PTLIB_TEST_POOL(PTLIB_ARM64_64K_42, arm64::Vmsa64k42) PTLIB_TEST_POOL(PTLIB_ARM64_64K_48, arm64::Vmsa64k48)
  PTLIB_TEST_POOL(PTLIB_ARM64_64K_52, arm64::Vmsa64k52) PTLIB_TEST_POOL(PTLIB_X86_32, x86::X86_32)
  PTLIB_TEST_POOL(PTLIB_X86_PAE, x86::Pae) PTLIB_TEST_POOL(PTLIB_X86_64_L4, x86::Long4)
  PTLIB_TEST_POOL(PTLIB_X86_64_L5, x86::Long5) PTLIB_TEST_POOL(PTLIB_ARMV7_LPAE, armv7::Lpae32)
  PTLIB_TEST_POOL(PTLIB_ARM64_4K_39_TTBR1, arm64::Vmsa4k39Ttbr1)
  PTLIB_TEST_POOL(PTLIB_ARM64_4K_48_TTBR1, arm64::Vmsa4k48Ttbr1)
  PTLIB_TEST_POOL(PTLIB_ARM64_4K_52_TTBR1, arm64::Vmsa4k52Ttbr1)
  PTLIB_TEST_POOL(PTLIB_ARM64_16K_47_TTBR1, arm64::Vmsa16k47Ttbr1)
  PTLIB_TEST_POOL(PTLIB_ARM64_16K_48_TTBR1, arm64::Vmsa16k48Ttbr1)
  PTLIB_TEST_POOL(PTLIB_ARM64_16K_52_TTBR1, arm64::Vmsa16k52Ttbr1)
  PTLIB_TEST_POOL(PTLIB_ARM64_64K_42_TTBR1, arm64::Vmsa64k42Ttbr1)
  PTLIB_TEST_POOL(PTLIB_ARM64_64K_48_TTBR1, arm64::Vmsa64k48Ttbr1)
  PTLIB_TEST_POOL(PTLIB_ARM64_64K_52_TTBR1, arm64::Vmsa64k52Ttbr1)
#undef PTLIB_TEST_POOL
  std::printf("%d failures\n", failures);
  return failures ? 1 : 0;
}
