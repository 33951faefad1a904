// Tier 2: the bad-input matrix. For every format (plus a TTBR1-style high range of arm64 and
// ARMv7) and every operation (map, unmap, protect, compact, and plan of each), every error the
// API can return: the Errc, the VA (and level, where one is meaningful) the Error carries, and
// that the tables, the allocator and the sync hook are untouched by the refused call.
#include <functional>
#include <string>

#include "support.hpp"

using namespace ptlib;
using test::kRwxg;
using test::Memory;

namespace {

/// The formats: every engine format, plus ranges under VaRule::high (no named format has one).
using Formats = decltype(std::tuple_cat(std::declval<test::EngineFormats>(),
                                        std::declval<std::tuple<arm64::Vmsa<arm64::Granule::k4K, 48, VaRule::high>,
                                                                armv7::Lpae<28, VaRule::high>>>()));

enum Call : unsigned { kMap = 1, kUnmap = 2, kProtect = 4, kCompact = 8 };
constexpr unsigned kAll = kMap | kUnmap | kProtect | kCompact;
const char* call_name(Call c) {
  switch (c) {
    case kMap: return "map";
    case kUnmap: return "unmap";
    case kProtect: return "protect";
    case kCompact: return "compact";
  }
  return "?";
}

const Attrs kRxg{Perm::read | Perm::exec | Perm::global};  // differs from kRwxg: protect splits

/// A tree with, in tree offsets (S = a block just above pages, P = a page):
///   [t0, t0 + S)          one block -> pa0, kRwxg
///   [t0 + S, t0 + 2S)     a table of pages -> pa0 + S, kRwxg, no contiguous hints (foldable)
///   [t0 + 2S, t0 + 3S)    free
template <class F>
struct Fixture {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  static constexpr std::size_t d = G::kDepth - 2, last = G::kDepth - 1;
  static constexpr std::uint64_t S = G::span(d), P = G::kPageSize, t0 = 2 * S, pa0 = 4 * S;
  static VirtAddr va(std::uint64_t off) { return G::to_va(t0 + off); }

  Memory m{1 << 20};
  Tree<F> tree;

  Fixture() {
    // The last tree offset in reach: sign-extended formats keep to the lower half.
    const std::uint64_t last_t = F::kVaRule == VaRule::sign_extend ? (G::kVaMask >> 1) : G::kVaMask;
    REQUIRE(t0 + 3 * S - 1 <= last_t);
    REQUIRE(pa0 + 3 * S - 1 <= G::kPaLimit);
    auto t = make_tree<F>(m.arena, test::full_caps<F>());
    REQUIRE(t.ok());
    tree = *t;
    REQUIRE(map(tree, m.arena, va(0), PhysAddr(pa0), S, kRwxg).ok());
    Options pages = Options::page_only();
    pages.contiguous = false;
    REQUIRE(map(tree, m.arena, va(S), PhysAddr(pa0 + S), S, kRwxg, pages).ok());
  }

  /// The entry at `depth` on the path to tree offset `t` (every entry above it is a table).
  Entry& entry(std::uint64_t t, std::size_t depth) {
    auto* table = static_cast<Entry*>(m.arena.map(tree.root, 0));
    for (std::size_t k = 0; k < depth; ++k) {
      const Decoded e = F::decode(G::level(k), table[G::index(t, k)]);
      REQUIRE(e.kind == EntryKind::table);
      table = static_cast<Entry*>(m.arena.map(e.addr, k + 1));
    }
    return table[G::index(t, depth)];
  }

  /// Hands out every table the arena has left.
  void fill_arena() {
    while (m.arena.allocate(TableRequest{G::table_bytes(1), G::table_align(1), false, 1})) {
    }
  }
};

/// The arguments of one call (map uses all of them, protect all but pa, the others va and size).
struct Args {
  VirtAddr va{};
  PhysAddr pa{};
  std::uint64_t size = 0;
  Attrs attrs = kRwxg;
  Options opts{};
};

/// What the refusal must say: the code, the VA, the level (as a depth; none for errors found
/// before a table is read) and, where it is meaningful, the PA.
struct Expect {
  Errc code{};
  VirtAddr va{};
  std::optional<std::size_t> depth{};
  std::optional<PhysAddr> pa{};
};

struct Setup {
  Args args;
  Expect want;
};

/// One row of the matrix: a bad input, the calls it applies to, and how to make it (which may
/// change the fixture: fill the arena, corrupt an entry, move the root). nullopt: the format
/// has no such input (a VA rule without that error, an encoding that does not exist).
template <class F>
struct Case {
  std::string property;
  Errc code;
  unsigned calls;
  std::function<std::optional<Setup>(Fixture<F>&, Call)> make;
};

template <class F>
std::vector<Case<F>> cases() {
  using X = Fixture<F>;
  using G = Geometry<F>;
  constexpr std::uint64_t P = X::P, S = X::S;
  const PhysAddr free_pa(X::pa0 + 2 * S);
  // A call on [va, va + size) that is bad only in what the case says; the error at `va`.
  auto plain = [free_pa](Errc code, VirtAddr va, std::uint64_t size) {
    return Setup{Args{va, free_pa, size}, Expect{code, va}};
  };
  std::vector<Case<F>> v;
  auto add = [&](std::string property, Errc code, unsigned calls, std::function<std::optional<Setup>(X&, Call)> make) {
    v.push_back(Case<F>{std::move(property), code, calls, std::move(make)});
  };
  // One VA range error: [va, va + size) and the code it must give.
  auto va_case = [&](std::string property, Errc code, VirtAddr va, std::uint64_t size) {
    add(std::move(property), code, kAll, [=](X&, Call) { return plain(code, va, size); });
  };

  // Arguments, checked before any table is read.
  va_case("a zero size", Errc::zero_size, X::va(0), 0);
  va_case("a VA not aligned to the smallest page", Errc::misaligned_va, X::va(0) + 8, P);
  va_case("a size not a multiple of the smallest page", Errc::misaligned_size, X::va(0), P + 8);
  va_case("a VA range that wraps around 2^64", Errc::range_wraps, VirtAddr(~(P - 1)), 2 * P);
  if constexpr (F::kVaRule == VaRule::sign_extend) {
    const std::uint64_t hole = std::uint64_t{1} << (G::kVaBits - 1), upper = ~(G::kVaMask >> 1);
    va_case("a VA in the non-canonical hole", Errc::va_non_canonical, VirtAddr(hole), P);
    va_case("a VA range from the lower half into the hole", Errc::va_non_canonical, VirtAddr(hole - P), 2 * P);
    va_case("a VA range from the hole into the upper half", Errc::va_non_canonical, VirtAddr(upper - P), 2 * P);
  } else if constexpr (F::kVaRule == VaRule::low) {
    va_case("a VA range past the end of the format's range", Errc::va_out_of_range, VirtAddr(G::kVaMask + 1 - P),
            2 * P);
    va_case("a VA beyond the format's range", Errc::va_out_of_range, VirtAddr(G::kVaMask + 1), P);
  } else {
    const std::uint64_t start = G::to_va(0).value;
    va_case("a VA below the range the root translates", Errc::va_out_of_range, VirtAddr(0), P);
    va_case("a VA range from below into the range the root translates", Errc::va_out_of_range,
            VirtAddr(start - P), 2 * P);
  }
  add("a PA not aligned to the smallest page", Errc::misaligned_pa, kMap, [=](X&, Call) {
    auto s = plain(Errc::misaligned_pa, X::va(2 * S), P);
    s.args.pa = free_pa + 8;
    return s;
  });
  add("a PA range that wraps around 2^64", Errc::range_wraps, kMap, [=](X&, Call) {
    auto s = plain(Errc::range_wraps, X::va(2 * S), 2 * P);
    s.args.pa = PhysAddr(~(P - 1));
    return s;
  });
  if constexpr (F::kPaBits < 64) {
    add("a PA beyond the format's output size", Errc::pa_out_of_range, kMap, [=](X&, Call) {
      auto s = plain(Errc::pa_out_of_range, X::va(2 * S), P);
      s.args.pa = PhysAddr(G::kPaLimit + 1);
      return s;
    });
    add("a PA range past the end of the format's output size", Errc::pa_out_of_range, kMap, [=](X&, Call) {
      auto s = plain(Errc::pa_out_of_range, X::va(2 * S), 2 * P);
      s.args.pa = PhysAddr(G::kPaLimit + 1 - P);
      return s;
    });
  }

  // The tree.
  add("a root not aligned as the format requires", Errc::misaligned_table, kAll, [=](X& x, Call) {
    x.tree.root = x.tree.root + G::table_align(0) / 2;
    auto s = plain(Errc::misaligned_table, X::va(2 * S), P);
    s.want.pa = x.tree.root;
    return s;
  });
  // Overlap: the first existing leaf the range meets, with its VA, PA and level.
  add("a map from free space into a block", Errc::overlap, kMap, [=](X&, Call) {
    auto s = plain(Errc::overlap, X::va(0) - 2 * P, 3 * P);
    s.want = Expect{Errc::overlap, X::va(0), X::d, PhysAddr(X::pa0)};
    return s;
  });
  add("a map starting inside a block", Errc::overlap, kMap, [=](X&, Call) {
    auto s = plain(Errc::overlap, X::va(S - P), 2 * P);
    s.want = Expect{Errc::overlap, X::va(S - P), X::d, PhysAddr(X::pa0 + S - P)};
    return s;
  });
  add("a map over a page", Errc::overlap, kMap, [=](X&, Call) {
    auto s = plain(Errc::overlap, X::va(S + 3 * P), P);
    s.want = Expect{Errc::overlap, X::va(S + 3 * P), X::last, PhysAddr(X::pa0 + S + 3 * P)};
    return s;
  });
  // Memory: a map needing a new table, an unmap or protect needing a split; compact never
  // allocates. The reservation fails before the walk writes: no level.
  add("a call needing a table when the allocator has none left", Errc::out_of_memory, kMap | kUnmap | kProtect,
      [=](X& x, Call c) {
        x.fill_arena();
        auto s = plain(Errc::out_of_memory, c == kMap ? X::va(2 * S) : X::va(P), P);
        s.args.attrs = kRxg;
        return s;
      });
  // Attributes: refused at the level whose leaf could not express them.
  auto attrs_case = [&](std::string property, Errc code, Attrs bad) {
    add(property + " (a page)", code, kMap | kProtect, [=](X&, Call c) {
      auto s = plain(code, c == kMap ? X::va(2 * S) : X::va(P), P);  // protect: inside the block
      s.args.attrs = bad;
      s.want.depth = X::last;
      return s;
    });
    add(property + " (a whole block)", code, kProtect, [=](X&, Call) {
      auto s = plain(code, X::va(0), S);
      s.args.attrs = bad;
      s.want.depth = X::d;
      return s;
    });
  };
  attrs_case("permissions the format cannot express (write without read)", Errc::unsupported_attrs,
             Attrs{Perm::write});
  attrs_case("a memory type the format cannot express", Errc::unsupported_memtype,
             Attrs{kRwxg.perm, MemType::other});
  // Live::refuse: what the format says needs break-before-make, at the entry that would change.
  const auto L = G::level(X::d);
  const auto block = F::leaf(L, F::leaf_proto(L, LeafSettings{kRwxg}, test::full_caps<F>()).value(), PhysAddr(X::pa0));
  auto refuse = [](Setup s) {
    s.args.opts.live = Live::refuse;
    return s;
  };
  if (F::needs_bbm(L, block, F::table(L, PhysAddr(X::pa0)))) {
    add("a live split of a block", Errc::needs_break_before_make, kUnmap | kProtect, [=](X&, Call) {
      auto s = plain(Errc::needs_break_before_make, X::va(P), P);
      s.args.attrs = kRxg;
      s.want.depth = X::d;
      return refuse(s);
    });
  }
  if (auto dev = F::leaf_proto(L, LeafSettings{Attrs{kRwxg.perm, MemType::device}}, test::full_caps<F>());
      dev && F::needs_bbm(L, block, F::leaf(L, *dev, PhysAddr(X::pa0)))) {
    add("a live memory-type change of a block", Errc::needs_break_before_make, kProtect, [=](X&, Call) {
      auto s = plain(Errc::needs_break_before_make, X::va(0), S);
      s.args.attrs = Attrs{kRwxg.perm, MemType::device};
      s.want.depth = X::d;
      return refuse(s);
    });
  }
  add("a live fold of a table of pages into a block", Errc::needs_break_before_make, kCompact,
      [=](X& x, Call) -> std::optional<Setup> {
        const auto folded = F::leaf(L, F::leaf_proto(L, LeafSettings{kRwxg}, x.tree.caps).value(), PhysAddr(X::pa0 + S));
        if (!F::needs_bbm(L, x.entry(X::t0 + S, X::d), folded)) return std::nullopt;
        auto s = plain(Errc::needs_break_before_make, X::va(S), S);
        s.want.depth = X::d;
        return refuse(s);
      });
  // Malformed trees: an entry whose decode() is malformed at its level (on the path to the
  // block for the upper levels, to the pages for the last), a table pointer at the last level,
  // and a table pointer the access cannot map.
  for (std::size_t depth = 0; depth < G::kDepth; ++depth) {
    const auto Ld = G::level(depth);
    std::optional<typename F::Entry> bad;
    for (std::uint32_t low = 1; low < 4096 && !bad; ++low)
      if (F::decode(Ld, typename F::Entry(low)).kind == EntryKind::malformed) bad = typename F::Entry(low);
    if (!bad) continue;
    const std::uint64_t off = depth == X::last ? S : 0;
    add(std::string("an entry malformed at level ") + F::level_name(Ld), Errc::malformed_entry, kAll,
        [=](X& x, Call) {
          x.entry(X::t0 + off, depth) = *bad;
          auto s = plain(Errc::malformed_entry, X::va(off), P);
          s.want.depth = depth;
          return s;
        });
  }
  add("a table pointer at the last level", Errc::malformed_entry, kAll, [=](X& x, Call) -> std::optional<Setup> {
    const auto Ll = G::level(X::last);
    const auto ptr = F::table(Ll, PhysAddr(Memory::kBase));
    if (F::decode(Ll, ptr).kind != EntryKind::table) return std::nullopt;  // arm64: it is a page
    x.entry(X::t0 + S, X::last) = ptr;
    auto s = plain(Errc::malformed_entry, X::va(S), P);
    s.want.depth = X::last;
    return s;
  });
  add("a table pointer outside the memory the access reaches", Errc::malformed_entry, kAll, [=](X& x, Call) {
    const PhysAddr outside = x.m.arena.base() + x.m.arena.capacity();
    x.entry(X::t0, X::d) = F::table(L, outside);
    auto s = plain(Errc::malformed_entry, X::va(0), P);
    s.want = Expect{Errc::malformed_entry, X::va(0), X::d, outside};
    return s;
  });
  return v;
}

template <class F>
Result<Report> call(Call c, Fixture<F>& x, const Args& a, test::Recorder& rec) {
  switch (c) {
    case kMap: return map(x.tree, x.m.arena, a.va, a.pa, a.size, a.attrs, a.opts, rec);
    case kUnmap: return unmap(x.tree, x.m.arena, a.va, a.size, a.opts, rec);
    case kProtect: return protect(x.tree, x.m.arena, a.va, a.size, a.attrs, a.opts, rec);
    case kCompact: return compact(x.tree, x.m.arena, a.va, a.size, a.opts, rec);
  }
  return make_error(Errc::malformed_entry);
}

template <class F>
Result<std::size_t> plan_of(Call c, Fixture<F>& x, const Args& a) {
  switch (c) {
    case kMap: return plan(x.tree, x.m.arena, op::Map{a.va, a.pa, a.size, a.attrs}, a.opts);
    case kUnmap: return plan(x.tree, x.m.arena, op::Unmap{a.va, a.size}, a.opts);
    case kProtect: return plan(x.tree, x.m.arena, op::Protect{a.va, a.size, a.attrs}, a.opts);
    case kCompact: return plan(x.tree, x.m.arena, op::Compact{a.va, a.size}, a.opts);
  }
  return make_error(Errc::malformed_entry);
}

template <class F>
void check_error(const Error& e, const Expect& want) {
  using G = Geometry<F>;
  CHECK(e.code == want.code);
  CHECK(e.va == want.va);
  if (want.depth) {
    CHECK(e.level == level_number<F>(G::level(*want.depth)));
    CHECK(e.level_name != nullptr);
  } else {
    CHECK_FALSE(e.has_level());
  }
  if (want.pa) CHECK(e.pa == *want.pa);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("every bad input is a typed error at the right VA and level that changes nothing",
                        "[bad_input]", Formats) {
  using F = TestType;
  const auto all = cases<F>();
  const std::size_t i = GENERATE_COPY(range(std::size_t{0}, all.size()));
  const Call c = GENERATE(kMap, kUnmap, kProtect, kCompact);
  const Case<F>& k = all[i];
  if (!(k.calls & c)) return;
  Fixture<F> x;
  const auto setup = k.make(x, c);
  if (!setup) return;  // the format has no such input
  CAPTURE(F::kName, k.property, call_name(c));
  REQUIRE(setup->want.code == k.code);
  const auto before = x.m.snapshot();

  test::Recorder rec;
  const auto r = call(c, x, setup->args, rec);
  REQUIRE_FALSE(r.ok());
  check_error<F>(r.error(), setup->want);
  CHECK(x.m.snapshot() == before);
  CHECK(rec.events.empty());

  // plan() is the same dry run: the same error, except that it allocates nothing, so running out
  // of memory shows as the number of tables the call needs.
  const auto p = plan_of(c, x, setup->args);
  if (k.code == Errc::out_of_memory) {
    REQUIRE(p.ok());
    CHECK(*p >= 1);
  } else {
    REQUIRE_FALSE(p.ok());
    check_error<F>(p.error(), setup->want);
  }
  CHECK(x.m.snapshot() == before);
}

TEMPLATE_LIST_TEST_CASE("the bad-input matrix covers every error each call can return", "[bad_input]", Formats) {
  using F = TestType;
  // Which codes some row gives for each call (rows a format lacks are dropped by make()).
  for (Call c : {kMap, kUnmap, kProtect, kCompact}) {
    std::vector<Errc> seen;
    for (const auto& k : cases<F>()) {
      Fixture<F> x;
      if ((k.calls & c) && k.make(x, c)) seen.push_back(k.code);
    }
    auto has = [&](Errc e) { return std::find(seen.begin(), seen.end(), e) != seen.end(); };
    CAPTURE(F::kName, call_name(c));
    for (Errc e : {Errc::zero_size, Errc::misaligned_va, Errc::misaligned_size, Errc::range_wraps,
                   Errc::misaligned_table, Errc::malformed_entry})
      CHECK(has(e));
    CHECK((has(Errc::va_out_of_range) || has(Errc::va_non_canonical)));
    CHECK(has(Errc::misaligned_pa) == (c == kMap));
    CHECK(has(Errc::overlap) == (c == kMap));
    CHECK(has(Errc::pa_out_of_range) == (c == kMap && F::kPaBits < 64));
    CHECK(has(Errc::out_of_memory) == (c != kCompact));
    CHECK(has(Errc::unsupported_attrs) == (c == kMap || c == kProtect));
    CHECK(has(Errc::unsupported_memtype) == (c == kMap || c == kProtect));
  }
}
