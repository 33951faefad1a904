// Tier 2: the boot-time maps on the one engine (maps.hpp): the linear map of RAM banks, the
// kernel image by sections, the identity map that adds a level when RAM is out of reach, and
// split address spaces (arm64 TTBR0/TTBR1, ARMv7 LPAE with a T0SZ/T1SZ split).
#include <ptlib/arm64_boot.hpp>
#include <ptlib/armv7_boot.hpp>
#include <ptlib/maps.hpp>

#include "support.hpp"

using namespace ptlib;
using test::EngineFormats;
using test::Memory;

namespace {

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;

/// A setting for the generic map tests: S is the size of the leaves one level above pages,
/// t0 a block-aligned tree offset with room for 8 blocks, pa0 block-aligned PA.
template <class F>
struct Setting {
  using G = Geometry<F>;
  static constexpr std::size_t d = G::kDepth - 2;
  static constexpr std::uint64_t S = G::span(d), P = G::kPageSize;
  static constexpr std::uint64_t t0 = 2 * S, pa0 = 4 * S;
  static constexpr bool fits() {
    return 10 * S <= test::tree_limit<F>() && pa0 + 8 * S - 1 <= G::kPaLimit && S / P <= 8192;
  }
  static VirtAddr va(std::uint64_t off) { return G::to_va(t0 + off); }
  /// va = pa + offset puts pa0 at t0.
  static std::uint64_t offset() { return va(0).value - pa0; }

  Memory m{32 << 20};
  Tree<F> tree;
  Options opts;
  Setting() {
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    tree = *t;
    opts.allow_implied_exec = true;  // x86-32 cannot forbid execution
  }
  Translation<F> at(std::uint64_t off) {
    auto r = translate(tree, m.arena, va(off));
    REQUIRE(r.ok());
    return *r;
  }
  bool mapped(std::uint64_t off) { return translate(tree, m.arena, va(off)).ok(); }
  void check_valid() {
    auto v = validate(tree, m.arena, ValidateOptions{false, m.arena.tables_in_use()});
    CHECK(v.ok());
  }
};

/// Host memory for only a few tables: an Arena over the first `bytes` of a test::Memory buffer
/// (whose size stays a multiple of its 64 KiB alignment, as aligned_alloc wants).
struct SmallMemory {
  Memory big;
  Arena arena;
  explicit SmallMemory(std::size_t bytes)
      : big((bytes + 65535) & ~std::size_t{65535}), arena(big.buf.get(), bytes, PhysAddr(Memory::kBase)) {}
  Memory::Snapshot snapshot() const {
    return {std::vector<unsigned char>(big.buf.get(), big.buf.get() + arena.used()), arena.used(),
            arena.tables_in_use(), arena.free_head()};
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Linear map

TEMPLATE_LIST_TEST_CASE("a linear map puts every bank at pa + offset with the largest leaves", "[maps][linear]",
                        EngineFormats) {
  using F = TestType;
  using St = Setting<F>;
  if constexpr (St::fits()) {
    St s;
    const auto S = St::S, P = St::P, pa0 = St::pa0;
    const Bank banks[] = {{PhysAddr(pa0), S + 2 * P}, {PhysAddr(pa0 + 4 * S), 2 * S}};
    auto r = map_linear(s.tree, s.m.arena, std::span<const Bank>(banks), St::offset(), kLinearAttrs, s.opts);
    REQUIRE(r.ok());
    CHECK(r->leaves_changed == 1 + 2 + 2);  // bank 0: one block and two pages; bank 1: two blocks
    auto first = s.at(0);
    CHECK(first.pa == PhysAddr(pa0));
    CHECK(first.leaf.size == S);
    CHECK(first.leaf.attrs.write());
    auto tail = s.at(S + P + 8);
    CHECK(tail.pa == PhysAddr(pa0 + S + P + 8));
    CHECK(tail.leaf.size == P);
    CHECK_FALSE(s.mapped(S + 2 * P));  // between the banks
    auto second = s.at(5 * S + 3 * P);
    CHECK(second.pa == PhysAddr(pa0 + 5 * S + 3 * P));
    CHECK(second.leaf.size == S);
    s.check_valid();
  }
}

TEMPLATE_LIST_TEST_CASE("a linear map with one bad bank maps none of them and leaves memory as it was",
                        "[maps][linear]", EngineFormats) {
  using F = TestType;
  using St = Setting<F>;
  if constexpr (St::fits()) {
    St s;
    const auto S = St::S, P = St::P, pa0 = St::pa0;
    const auto before = s.m.snapshot();
    SECTION("a misaligned bank") {
      const Bank banks[] = {{PhysAddr(pa0), S}, {PhysAddr(pa0 + 2 * S + 8), P}};
      auto r = map_linear(s.tree, s.m.arena, std::span<const Bank>(banks), St::offset(), kLinearAttrs, s.opts);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::misaligned_va);  // va = pa + offset is as misaligned
      CHECK(r.error().pa == PhysAddr(pa0 + 2 * S + 8));
    }
    SECTION("two banks that overlap") {
      const Bank banks[] = {{PhysAddr(pa0), 2 * S}, {PhysAddr(pa0 + S), P}};
      auto r = map_linear(s.tree, s.m.arena, std::span<const Bank>(banks), St::offset(), kLinearAttrs, s.opts);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::overlap);
      CHECK(r.error().pa == PhysAddr(pa0 + S));
      CHECK(r.error().va == St::va(S));
    }
    SECTION("no bank with bytes") {
      const Bank banks[] = {{PhysAddr(pa0), 0}};
      auto r = map_linear(s.tree, s.m.arena, std::span<const Bank>(banks), St::offset(), kLinearAttrs, s.opts);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::zero_size);
    }
    CHECK(s.m.snapshot() == before);
    CHECK_FALSE(s.mapped(0));
  }
}

TEMPLATE_LIST_TEST_CASE("a linear map meeting an existing mapping changes nothing", "[maps][linear]", EngineFormats) {
  using F = TestType;
  using St = Setting<F>;
  if constexpr (St::fits()) {
    St s;
    const auto S = St::S, P = St::P, pa0 = St::pa0;
    REQUIRE(map(s.tree, s.m.arena, St::va(4 * S + P), PhysAddr(pa0 + 4 * S + P), P, kLinearAttrs, s.opts).ok());
    const auto before = s.m.snapshot();
    const Bank banks[] = {{PhysAddr(pa0), S}, {PhysAddr(pa0 + 4 * S), S}};
    auto r = map_linear(s.tree, s.m.arena, std::span<const Bank>(banks), St::offset(), kLinearAttrs, s.opts);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::overlap);
    CHECK(s.m.snapshot() == before);
    CHECK_FALSE(s.mapped(0));  // the first bank was not mapped either
  }
}

TEMPLATE_LIST_TEST_CASE("a linear map that does not fit in memory changes nothing", "[maps][linear]", EngineFormats) {
  using F = TestType;
  using G = Geometry<F>;
  using St = Setting<F>;
  if constexpr (St::fits()) {
    // Room for the root and exactly one more table; two pages in distant blocks need two.
    const std::size_t root_room = (G::table_bytes(0) + G::table_align(1) - 1) & ~(G::table_align(1) - 1);
    SmallMemory m{root_room + G::table_bytes(1)};
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    Options o;
    o.allow_implied_exec = true;
    const auto S = St::S, P = St::P, pa0 = St::pa0;
    const Bank banks[] = {{PhysAddr(pa0), P}, {PhysAddr(pa0 + 4 * S), P}};
    const auto before = m.snapshot();
    auto r = map_linear(*t, m.arena, std::span<const Bank>(banks), St::offset(), kLinearAttrs, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::out_of_memory);
    CHECK(m.snapshot() == before);
  }
}

namespace {
/// An allocator that promises everything in reserve() and then runs dry after `budget` tables.
struct LyingMemory {
  Arena& arena;
  std::size_t budget;
  void* map(PhysAddr pa, std::size_t depth) { return arena.map(pa, depth); }
  void unmap(void* p, std::size_t depth) { arena.unmap(p, depth); }
  bool reserve(std::size_t, const TableRequest&) { return true; }
  std::optional<NewTable> allocate(const TableRequest& r) {
    if (budget == 0) return std::nullopt;
    --budget;
    return arena.allocate(r);
  }
  void release(PhysAddr pa, const TableRequest& r) { arena.release(pa, r); }
};
static_assert(TableMemory<LyingMemory>);
}  // namespace

TEST_CASE("a linear map whose allocator breaks its reserve() promise unmaps the banks it mapped", "[maps][linear]") {
  using F = riscv::Sv39;
  Memory m;
  auto t = make_tree<F>(m.arena);
  REQUIRE(t.ok());
  // Each 4 KiB bank in its own gigabyte needs two tables; the allocator gives the first bank's.
  LyingMemory lying{m.arena, 2};
  const Bank banks[] = {{PhysAddr(0x8000'0000), 4 * KiB}, {PhysAddr(0xc000'0000), 4 * KiB}};
  auto r = map_linear(*t, lying, std::span<const Bank>(banks), 0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::out_of_memory);
  CHECK(translate(*t, m.arena, VirtAddr(0x8000'0000)).error().code == Errc::not_mapped);
  CHECK(test::leaves(*t, m.arena).empty());
  CHECK(m.arena.tables_in_use() == 1);  // the first bank's tables were released again
  CHECK(validate(*t, m.arena, ValidateOptions{false, 1}).ok());
}

TEST_CASE("a linear map of RAM banks uses gigapages and megapages where alignment allows", "[maps][linear]") {
  using F = riscv::Sv39;
  Memory m;
  auto t = make_tree<F>(m.arena);
  REQUIRE(t.ok());
  // Two banks as a board might report them: 3 GiB + 2 MiB at 0x8000_0000, and 4 MiB + 4 KiB higher.
  const Bank banks[] = {{PhysAddr(0x8000'0000), 3 * GiB + 2 * MiB}, {PhysAddr(0x2'0000'0000), 4 * MiB + 4 * KiB}};
  const std::uint64_t offset = 0xffff'ffd6'0000'0000ULL - 0x8000'0000;  // Sv39 linear base <- RAM base
  auto r = map_linear(*t, m.arena, std::span<const Bank>(banks), offset);
  REQUIRE(r.ok());
  std::vector<std::uint64_t> sizes;
  for (const auto& l : test::leaves(*t, m.arena)) sizes.push_back(l.size);
  // 3 x 1 GiB + 1 x 2 MiB, then 2 x 2 MiB + 1 x 4 KiB.
  CHECK(sizes == std::vector<std::uint64_t>{GiB, GiB, GiB, 2 * MiB, 2 * MiB, 2 * MiB, 4 * KiB});
  CHECK(r->leaves_changed == 7);
  auto x = translate(*t, m.arena, VirtAddr(0x2'0000'0123 + offset));
  REQUIRE(x.ok());
  CHECK(x->pa == PhysAddr(0x2'0000'0123));
  CHECK(x->leaf.attrs == kLinearAttrs);
}

// ---------------------------------------------------------------------------------------------
// Kernel image

namespace {
/// A small image: text, rodata, data and bss, each a whole number of pages but bss.
template <class F>
std::vector<Section> small_image() {
  constexpr std::uint64_t P = Geometry<F>::kPageSize;
  return {{".text", 0, 3 * P, SectionKind::text},
          {".rodata", 3 * P, 2 * P, SectionKind::rodata},
          {".data", 5 * P, P, SectionKind::data},
          {".bss", 6 * P, P + 100, SectionKind::bss}};
}
}  // namespace

TEMPLATE_LIST_TEST_CASE("an image map gives text r-x, rodata r--, data and bss rw-", "[maps][image]", EngineFormats) {
  using F = TestType;
  using St = Setting<F>;
  if constexpr (St::fits()) {
    St s;
    const auto P = St::P;
    const auto secs = small_image<F>();
    ImageOptions o;
    o.engine = s.opts;
    const PhysAddr load(St::pa0 + 3 * St::S);
    auto r = map_image(s.tree, s.m.arena, St::va(0), load, std::span<const Section>(secs), o);
    REQUIRE(r.ok());
    auto text = s.at(P + 4);
    CHECK(text.pa == load + (P + 4));
    CHECK(text.leaf.attrs.exec());
    CHECK_FALSE(text.leaf.attrs.write());
    CHECK(text.leaf.attrs.global());
    auto ro = s.at(4 * P);
    CHECK(ro.pa == load + 4 * P);
    CHECK_FALSE(ro.leaf.attrs.write());
    if constexpr (!std::is_same_v<F, x86::X86_32>) CHECK_FALSE(ro.leaf.attrs.exec());
    for (std::uint64_t off : {5 * P, 6 * P, 7 * P + 4}) {  // data, bss, bss's rounded tail
      auto d = s.at(off);
      CHECK(d.pa == load + off);
      CHECK(d.leaf.attrs.write());
      if constexpr (!std::is_same_v<F, x86::X86_32>) CHECK_FALSE(d.leaf.attrs.exec());
    }
    CHECK_FALSE(s.mapped(8 * P));
    s.check_valid();
  }
}

TEMPLATE_LIST_TEST_CASE("an image map refuses a writable and executable section unless allowed", "[maps][image]",
                        EngineFormats) {
  using F = TestType;
  using St = Setting<F>;
  if constexpr (St::fits()) {
    St s;
    const auto P = St::P;
    auto secs = small_image<F>();
    secs.push_back({".init", 8 * P, 2 * P, SectionKind::init});
    ImageOptions o;
    o.engine = s.opts;
    const PhysAddr load(St::pa0);
    const auto before = s.m.snapshot();
    auto r = map_image(s.tree, s.m.arena, St::va(0), load, std::span<const Section>(secs), o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::writable_executable);
    CHECK(r.error().va == St::va(8 * P));
    CHECK(r.error().pa == load + 8 * P);
    CHECK(s.m.snapshot() == before);  // not even .text was mapped
    o.allow_write_exec = true;
    REQUIRE(map_image(s.tree, s.m.arena, St::va(0), load, std::span<const Section>(secs), o).ok());
    auto init = s.at(9 * P);
    CHECK(init.leaf.attrs.write());
    CHECK(init.leaf.attrs.exec());
  }
}

TEMPLATE_LIST_TEST_CASE("an image map with a bad section maps nothing", "[maps][image]", EngineFormats) {
  using F = TestType;
  using St = Setting<F>;
  if constexpr (St::fits()) {
    St s;
    const auto P = St::P;
    auto secs = small_image<F>();
    ImageOptions o;
    o.engine = s.opts;
    const auto before = s.m.snapshot();
    SECTION("a section offset not on a page") {
      secs[2].offset += 8;
      auto r = map_image(s.tree, s.m.arena, St::va(0), PhysAddr(St::pa0), std::span<const Section>(secs), o);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::misaligned_va);
      CHECK(r.error().va == St::va(5 * P + 8));
    }
    SECTION("two sections on the same page") {
      secs[1].offset = 2 * P;
      auto r = map_image(s.tree, s.m.arena, St::va(0), PhysAddr(St::pa0), std::span<const Section>(secs), o);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::overlap);
      CHECK(r.error().va == St::va(2 * P));
    }
    CHECK(s.m.snapshot() == before);
  }
}

TEST_CASE("an image map merges adjacent data and bss so they can use a block", "[maps][image]") {
  using F = riscv::Sv39;
  Memory m;
  auto t = make_tree<F>(m.arena);
  REQUIRE(t.ok());
  const VirtAddr image(0xffff'ffd5'8000'0000ULL);  // the Sv39 layout's image window
  const PhysAddr load(0x8020'0000);
  const Section secs[] = {{".text", 0, 2 * MiB, SectionKind::text},
                          {".rodata", 2 * MiB, 2 * MiB, SectionKind::rodata},
                          {".data", 4 * MiB, 1 * MiB, SectionKind::data},
                          {".bss", 5 * MiB, 1 * MiB, SectionKind::bss},
                          {".empty", 6 * MiB, 0, SectionKind::text}};
  auto r = map_image(*t, m.arena, image, load, std::span<const Section>(secs));
  REQUIRE(r.ok());
  // text, rodata, and data+bss: three 2 MiB megapages (load is 2 MiB aligned).
  const auto ls = test::leaves(*t, m.arena);
  REQUIRE(ls.size() == 3);
  CHECK(ls[2].va == image + 4 * MiB);
  CHECK(ls[2].size == 2 * MiB);
  CHECK(ls[2].attrs == section_attrs(SectionKind::data));
  CHECK(r->leaves_changed == 3);
}

// ---------------------------------------------------------------------------------------------
// Identity map

namespace {
using Arm64Candidates = std::tuple<arm64::Vmsa4k39, arm64::Vmsa4k48, arm64::Vmsa4k52>;
using RiscvCandidates = std::tuple<riscv::Sv39, riscv::Sv48, riscv::Sv57>;

/// Every bank translates to itself through the identity map's tree.
template <class Formats>
void check_identity(const IdentityMap<Formats>& id, Memory& m, std::span<const Bank> banks) {
  id.visit([&](const auto& tree) {
    for (const Bank& b : banks)
      for (std::uint64_t off : {std::uint64_t{0}, b.size / 2, b.size - 8}) {
        auto x = translate(tree, m.arena, VirtAddr(b.pa.value + off));
        REQUIRE(x.ok());
        CHECK(x->pa == b.pa + off);
      }
    CHECK(validate(tree, m.arena, ValidateOptions{false, m.arena.tables_in_use()}).ok());
  });
}
}  // namespace

TEST_CASE("an identity map of RAM above 512 GiB on a 39-bit arm64 configuration adds a level", "[maps][identity]") {
  Memory m;
  // RAM at 512 GiB: beyond the 39-bit VA range of a TTBR0 with T0SZ = 25; the idmap takes one
  // more level (Pingfan Liu, "arm64: use __create_pgd_mapping() to implement idmap and unify codes" (RFC, linux-arm-kernel, April 2021)).
  const Bank banks[] = {{PhysAddr(0x8000'0000), 2 * MiB}, {PhysAddr(512 * GiB), 1 * GiB + 4 * KiB}};
  auto id = map_identity<Arm64Candidates>(m.arena, std::span<const Bank>(banks));
  REQUIRE(id.ok());
  CHECK(id->index == 1);
  CHECK(std::string(id->format) == "arm64-4k-48");
  CHECK(id->levels == 4);
  CHECK(id->va_bits == 48);
  CHECK(id->root_entries == 512);
  CHECK(id->root == std::get<1>(id->trees).root);
  check_identity(*id, m, banks);
}

TEST_CASE("an identity map of low RAM keeps the kernel's own 39-bit format", "[maps][identity]") {
  Memory m;
  const Bank banks[] = {{PhysAddr(0x4000'0000), 1 * GiB}};
  auto id = map_identity<Arm64Candidates>(m.arena, std::span<const Bank>(banks));
  REQUIRE(id.ok());
  CHECK(std::string(id->format) == "arm64-4k-39");
  CHECK(id->levels == 3);
  CHECK(id->report.leaves_changed == 1);  // one 1 GiB block
  check_identity(*id, m, banks);
}

TEST_CASE("an identity map adds a level with just enough VA bits for the RAM", "[maps][identity]") {
  // Linux's idmap takes T0SZ from the highest PA: with RAM at 1 TiB, T0SZ = 22 (42-bit VA) is
  // enough: 4 levels with an 8-entry L0 root.
  using Candidates = std::tuple<arm64::Vmsa4k39, arm64::Vmsa<arm64::Granule::k4K, 42>, arm64::Vmsa4k48>;
  Memory m;
  const Bank banks[] = {{PhysAddr(1024 * GiB), 4 * MiB}};
  auto id = map_identity<Candidates>(m.arena, std::span<const Bank>(banks));
  REQUIRE(id.ok());
  CHECK(std::string(id->format) == "arm64-4k-42");
  CHECK(id->levels == 4);
  CHECK(id->root_entries == 8);
  check_identity(*id, m, banks);
}

TEST_CASE("an identity map can widen the root instead of adding a level", "[maps][identity]") {
  // A 36-bit configuration (T0SZ = 28: 3 levels, 64-entry L1 root) with RAM at 128 GiB: T0SZ = 25
  // keeps 3 levels and widens the root to 512 entries.
  using Candidates = std::tuple<arm64::Vmsa<arm64::Granule::k4K, 36>, arm64::Vmsa4k39, arm64::Vmsa4k48>;
  Memory m;
  const Bank banks[] = {{PhysAddr(128 * GiB), 2 * MiB}};
  auto id = map_identity<Candidates>(m.arena, std::span<const Bank>(banks));
  REQUIRE(id.ok());
  CHECK(std::string(id->format) == "arm64-4k-39");
  CHECK(id->levels == 3);
  CHECK(id->root_entries == 512);
  check_identity(*id, m, banks);
  const Bank low[] = {{PhysAddr(32 * GiB), 2 * MiB}};
  auto narrow = map_identity<Candidates>(m.arena, std::span<const Bank>(low));
  REQUIRE(narrow.ok());
  CHECK(std::string(narrow->format) == "arm64-4k-36");
  CHECK(narrow->root_entries == 64);
}

TEST_CASE("a RISC-V identity map moves to Sv48 when RAM is above Sv39's lower half", "[maps][identity]") {
  Memory m;
  SECTION("RAM at 256 GiB") {
    const Bank banks[] = {{PhysAddr(256 * GiB), 2 * MiB}};
    auto id = map_identity<RiscvCandidates>(m.arena, std::span<const Bank>(banks));
    REQUIRE(id.ok());
    CHECK(std::string(id->format) == "sv48");
    CHECK(id->levels == 4);
    check_identity(*id, m, banks);
  }
  SECTION("RAM at 2 GiB") {
    const Bank banks[] = {{PhysAddr(2 * GiB), 2 * MiB}};
    auto id = map_identity<RiscvCandidates>(m.arena, std::span<const Bank>(banks));
    REQUIRE(id.ok());
    CHECK(std::string(id->format) == "sv39");
    CHECK(id->levels == 3);
    check_identity(*id, m, banks);
  }
  SECTION("RAM at 128 TiB needs Sv57") {
    const Bank banks[] = {{PhysAddr(128ULL << 40), 2 * MiB}};
    auto id = map_identity<RiscvCandidates>(m.arena, std::span<const Bank>(banks));
    REQUIRE(id.ok());
    CHECK(std::string(id->format) == "sv57");
    CHECK(id->levels == 5);
    check_identity(*id, m, banks);
  }
}

TEST_CASE("an identity map that cannot be built allocates nothing", "[maps][identity]") {
  Memory m;
  const auto before = m.snapshot();
  SECTION("no candidate reaches the RAM") {
    const Bank banks[] = {{PhysAddr(0x8000'0000), 2 * MiB}, {PhysAddr(1024 * GiB), 2 * MiB}};
    auto id = map_identity<std::tuple<riscv::Sv39>>(m.arena, std::span<const Bank>(banks));
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code == Errc::va_out_of_range);
    CHECK(id.error().pa == PhysAddr(1024 * GiB));
  }
  SECTION("a misaligned bank") {
    const Bank banks[] = {{PhysAddr(0x8000'0000), 2 * MiB}, {PhysAddr(0x9000'0800), 4 * KiB}};
    auto id = map_identity<Arm64Candidates>(m.arena, std::span<const Bank>(banks));
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code == Errc::misaligned_va);
    CHECK(id.error().pa == PhysAddr(0x9000'0800));
  }
  SECTION("overlapping banks") {
    const Bank banks[] = {{PhysAddr(0x8000'0000), 4 * MiB}, {PhysAddr(0x8020'0000), 4 * KiB}};
    auto id = map_identity<Arm64Candidates>(m.arena, std::span<const Bank>(banks));
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code == Errc::overlap);
  }
  CHECK(m.snapshot() == before);
}

TEST_CASE("an identity map that does not fit in memory allocates nothing", "[maps][identity]") {
  SmallMemory m{3 * 4096};  // root + 2 tables; a 4 KiB page at 512 GiB under arm64-4k-48 needs root + 3
  const auto before = m.snapshot();
  const Bank banks[] = {{PhysAddr(512 * GiB), 4 * KiB}};
  auto id = map_identity<Arm64Candidates>(m.arena, std::span<const Bank>(banks));
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().code == Errc::out_of_memory);
  CHECK(m.snapshot() == before);
  SmallMemory big{4 * 4096};
  auto ok = map_identity<Arm64Candidates>(big.arena, std::span<const Bank>(banks));
  REQUIRE(ok.ok());
  CHECK(big.arena.tables_in_use() == 4);
}

TEST_CASE("an identity map uses each candidate's capabilities", "[maps][identity]") {
  using Candidates = std::tuple<x86::Long4, x86::Long5>;
  Memory m;
  const Bank banks[] = {{PhysAddr(1 * GiB), 1 * GiB}};
  auto caps = []<class F>() {
    typename F::Caps c{};
    c.page1g = true;
    return c;
  };
  auto id = map_identity<Candidates>(m.arena, std::span<const Bank>(banks), kLinearAttrs, {}, caps);
  REQUIRE(id.ok());
  CHECK(std::string(id->format) == "x86-64-l4");
  CHECK(id->report.leaves_changed == 1);  // one 1 GiB page, with Caps::page1g
}

// ---------------------------------------------------------------------------------------------
// Split address spaces

TEST_CASE("an arm64 split space maps each range through its own root", "[maps][split]") {
  using S = arm64::Split<arm64::Granule::k4K, 48>;
  Memory m;
  auto s = make_split<S::LowFormat, S::HighFormat>(m.arena);
  REQUIRE(s.ok());
  const VirtAddr user(0x0000'7fff'0000'0000ULL), kernel(0xffff'0000'4000'0000ULL);
  REQUIRE(map(*s, m.arena, user, PhysAddr(0x8000'0000), 2 * MiB, attrs::rw).ok());
  REQUIRE(map(*s, m.arena, kernel, PhysAddr(0x4000'0000), 1 * GiB, kLinearAttrs).ok());
  auto u = translate(*s, m.arena, user + 16);
  REQUIRE(u.ok());
  CHECK(u->side == 0);
  CHECK(u->pa == PhysAddr(0x8000'0010));
  auto k = translate(*s, m.arena, kernel + 16);
  REQUIRE(k.ok());
  CHECK(k->side == 1);
  CHECK(k->leaf_size == GiB);
  // The low root holds only the user mapping, the high root only the kernel's.
  CHECK(test::leaves(s->low, m.arena).size() == 1);
  CHECK(test::leaves(s->high, m.arena).size() == 1);
  const auto before = m.snapshot();
  auto hole = map(*s, m.arena, VirtAddr(0x0001'0000'0000'0000ULL), PhysAddr(0), 4 * KiB, attrs::rw);
  REQUIRE_FALSE(hole.ok());
  CHECK(hole.error().code == Errc::va_out_of_range);
  CHECK(m.snapshot() == before);
  REQUIRE(unmap(*s, m.arena, kernel, 1 * GiB).ok());
  CHECK(translate(*s, m.arena, kernel).error().code == Errc::not_mapped);
}

TEST_CASE("the TTBR0 tree of an ARMv7 3840/256 MiB split refuses VAs at or above 0xF000_0000",
          "[maps][split][armv7]") {
  // TTBCR.T0SZ = 0, T1SZ = 4 (the 3840/256 MiB split of Arnd Bergmann, "Re: ARM: static kernel in vmalloc space" (LKML, 14 May 2020);
  // ARM ARM v7 B3.6.4): TTBR0 translates
  // [0, 0xF000_0000) although its 4-entry first-level table spans 4 GiB.
  using Fs = armv7::SplitFormats<0, 4>;
  static_assert(Fs::kTtbr0End == 0xf000'0000ULL && Fs::kTtbr1Start == 0xf000'0000ULL);
  static_assert(Geometry<Fs::Ttbr0>::entries(0) == 4);
  static_assert(Geometry<Fs::Ttbr1>::kVaBits == 28);
  CHECK(std::string(Fs::Ttbr0::kName) == "armv7-lpae-t1sz4-ttbr0");
  Memory m;
  auto s = make_split<Fs::Ttbr0, Fs::Ttbr1>(m.arena);
  REQUIRE(s.ok());
  const auto before = m.snapshot();
  // Directly on the TTBR0 tree: the engine's own VA check refuses the TTBR1 region.
  for (auto [va, size] : {std::pair{0xf000'0000ULL, 4 * KiB}, std::pair{0xeff0'0000ULL, 2 * MiB},
                          std::pair{0xffe0'0000ULL, 2 * MiB}}) {
    auto r = map(s->low, m.arena, VirtAddr(va), PhysAddr(0x8000'0000), size, kLinearAttrs);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::va_out_of_range);
    if (va >= 0xf000'0000ULL) CHECK(translate(s->low, m.arena, VirtAddr(va)).error().code == Errc::va_out_of_range);
  }
  CHECK(m.snapshot() == before);
  // A plain Lpae32 tree (no split) would take it: the refusal comes from the split type.
  CHECK(plan(Tree<armv7::Lpae32>{s->low.root}, m.arena, op::Map{VirtAddr(0xf000'0000), PhysAddr(0), 4 * KiB,
                                                                 kLinearAttrs}).ok());
  // Lowmem up to the split: the last 768 MiB use 2 MiB blocks, never the 1 GiB block that
  // would cover TTBR1's region.
  REQUIRE(map(s->low, m.arena, VirtAddr(0xc000'0000), PhysAddr(0x4000'0000), 768 * MiB, kLinearAttrs).ok());
  auto x = translate(s->low, m.arena, VirtAddr(0xefff'f000));
  REQUIRE(x.ok());
  CHECK(x->leaf.size == 2 * MiB);
  CHECK(x->pa == PhysAddr(0x6fff'f000));
  // Through the split space, 0xF000_0000 and up go to TTBR1.
  REQUIRE(map(*s, m.arena, VirtAddr(0xf000'0000), PhysAddr(0x9000'0000), 2 * MiB, kLinearAttrs).ok());
  auto y = translate(*s, m.arena, VirtAddr(0xf000'1000));
  REQUIRE(y.ok());
  CHECK(y->side == 1);
  CHECK(y->pa == PhysAddr(0x9000'1000));
  auto across = map(*s, m.arena, VirtAddr(0xeff0'0000), PhysAddr(0), 2 * MiB, kLinearAttrs);
  REQUIRE_FALSE(across.ok());
  CHECK(across.error().code == Errc::va_out_of_range);
}

TEST_CASE("an ARMv7 split with T1SZ = 0 narrows the TTBR1 tree instead", "[maps][split][armv7]") {
  // T0SZ = 2, T1SZ = 0 (Linux's 1G/3G note: "0x40000000: T0SZ = 2, T1SZ = 0"): TTBR0 covers
  // [0, 1 GiB), TTBR1 [1 GiB, 4 GiB) with a walk that starts at 0.
  using Fs = armv7::SplitFormats<2, 0>;
  static_assert(Fs::kTtbr1Start == 0x4000'0000ULL);
  Memory m;
  auto s = make_split<Fs::Ttbr0, Fs::Ttbr1>(m.arena);
  REQUIRE(s.ok());
  auto below = map(s->high, m.arena, VirtAddr(0x3fe0'0000), PhysAddr(0), 2 * MiB, kLinearAttrs);
  REQUIRE_FALSE(below.ok());
  CHECK(below.error().code == Errc::va_out_of_range);
  REQUIRE(map(s->high, m.arena, VirtAddr(0x4000'0000), PhysAddr(0x8000'0000), 1 * GiB, kLinearAttrs).ok());
  REQUIRE(map(*s, m.arena, VirtAddr(0x1000), PhysAddr(0x1000), 4 * KiB, attrs::rw).ok());
  CHECK(translate(*s, m.arena, VirtAddr(0x1000))->side == 0);
  CHECK(translate(*s, m.arena, VirtAddr(0x4000'0000))->leaf_size == GiB);
}

TEST_CASE("an ARMv7 split with both sizes set leaves a hole that neither root maps", "[maps][split][armv7]") {
  using Fs = armv7::SplitFormats<2, 2>;  // TTBR0 [0, 1 GiB), TTBR1 [3 GiB, 4 GiB)
  Memory m;
  auto s = make_split<Fs::Ttbr0, Fs::Ttbr1>(m.arena);
  REQUIRE(s.ok());
  auto r = map(*s, m.arena, VirtAddr(0x8000'0000), PhysAddr(0), 2 * MiB, kLinearAttrs);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::va_out_of_range);
  REQUIRE(map(*s, m.arena, VirtAddr(0xc000'0000), PhysAddr(0), 2 * MiB, kLinearAttrs).ok());
  REQUIRE(map(*s, m.arena, VirtAddr(0x3fe0'0000), PhysAddr(0), 2 * MiB, kLinearAttrs).ok());
}
