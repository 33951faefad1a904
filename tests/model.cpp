// Tier 2 model check: random map calls on every format, compared after every call with an
// independent interval model (translate at every boundary, full leaf walk against the model).
#include <map>
#include <random>
#include <sstream>

#include "support.hpp"

using namespace ptlib;
using test::EngineFormats;
using test::Memory;

namespace {

struct Interval {
  std::uint64_t hi;  // tree offsets [lo, hi)
  std::uint64_t pa;
  Attrs attrs;
};

/// The model: disjoint intervals of tree offsets. Knows nothing about tables or formats.
struct Model {
  std::map<std::uint64_t, Interval> m;
  bool overlaps(std::uint64_t lo, std::uint64_t hi) const {
    auto it = m.upper_bound(lo);
    if (it != m.begin() && std::prev(it)->second.hi > lo) return true;
    return it != m.end() && it->first < hi;
  }
  /// The PA and attributes at tree offset t, if mapped.
  std::optional<std::pair<std::uint64_t, Attrs>> at(std::uint64_t t) const {
    auto it = m.upper_bound(t);
    if (it == m.begin()) return std::nullopt;
    --it;
    if (t >= it->second.hi) return std::nullopt;
    return std::pair{it->second.pa + (t - it->first), it->second.attrs};
  }
};

template <class F>
struct Checker {
  using G = Geometry<F>;
  const Tree<F>& tree;
  Arena& arena;
  const Model& model;
  std::uint64_t seed;
  const std::vector<std::string>& log;

  void fail(const std::string& what) const {
    std::ostringstream os;
    os << F::kName << " seed " << seed << ": " << what << "\nops (replay with this seed):\n";
    const std::size_t from = log.size() > 40 ? log.size() - 40 : 0;
    for (std::size_t i = from; i < log.size(); ++i) os << "  #" << i << " " << log[i] << "\n";
    FAIL(os.str());  // throws: the test case stops here
  }

  void translate_at(std::uint64_t t) const {
    auto want = model.at(t);
    auto got = translate(tree, arena, G::to_va(t));
    if (!want) {
      if (got.ok()) fail(fmt::format("tree offset {:#x} is mapped but the model says it is not", t));
      if (got.error().code != Errc::not_mapped) fail("translate error " + to_string(got.error()));
      return;
    }
    if (!got.ok()) fail(fmt::format("tree offset {:#x} not mapped: {}", t, to_string(got.error())));
    if (got->pa.value != want->first || got->leaf.attrs != want->second)
      fail(fmt::format("tree offset {:#x}: pa {:#x} {} but the model says {:#x} {}", t, got->pa.value,
                       to_string(got->leaf.attrs), want->first, to_string(want->second)));
  }

  /// Every leaf lies inside one model interval with the right PA and attributes, and the leaves
  /// cover exactly as many bytes as the model.
  void whole_tree() const {
    std::uint64_t covered = 0, expected = 0;
    for (const auto& [lo, iv] : model.m) expected += iv.hi - lo;
    auto r = for_each_leaf(tree, arena, [&](const Leaf<F>& l) {
      const std::uint64_t t = G::to_tree(l.va);
      auto it = model.m.upper_bound(t);
      if (it == model.m.begin()) fail(fmt::format("leaf at {:#x} outside the model", t));
      --it;
      if (t + l.size > it->second.hi) fail(fmt::format("leaf [{:#x}, +{:#x}) leaves its interval", t, l.size));
      if (l.pa.value != it->second.pa + (t - it->first) || l.attrs != it->second.attrs)
        fail(fmt::format("leaf at {:#x} maps pa {:#x}", t, l.pa.value));
      covered += l.size;
    });
    if (!r.ok()) fail("walk failed: " + to_string(r.error()));
    if (covered != expected) fail(fmt::format("leaves cover {:#x} bytes, model {:#x}", covered, expected));
  }
};

template <class F>
void run_model(std::uint64_t seed, int ops) {
  using G = Geometry<F>;
  const auto caps = test::full_caps<F>();
  const std::uint64_t page = G::kPageSize;
  // Leaf sizes the engine may use, up to 1 GiB, and a window of 8 of the largest.
  std::vector<std::uint64_t> spans;
  for (std::size_t d = 0; d < G::kDepth; ++d)
    if (F::can_leaf(G::level(d), caps) && G::span(d) <= (std::uint64_t{1} << 30)) spans.push_back(G::span(d));
  const std::uint64_t big = spans.front();
  const std::uint64_t limit = F::kVaRule == VaRule::sign_extend ? (std::uint64_t{1} << (G::kVaBits - 1)) : G::kVaMask + 1;
  const std::uint64_t window = std::min<std::uint64_t>(8 * big, limit / 2);
  const std::uint64_t w0 = limit - window;  // exercise the top of the (lower-half) range
  const std::uint64_t pa_window = std::min<std::uint64_t>(G::kPaLimit + 1 - window, std::uint64_t{1} << 34);

  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); };
  const Attrs attr_choices[] = {
      test::kRwxg, attrs::rw, attrs::rx, attrs::r, Attrs{Perm::read | Perm::write | Perm::user},
      Attrs{Perm::read | Perm::write, MemType::device}, Attrs{Perm::read, MemType::normal_nc},
      Attrs{Perm::read | Perm::write, MemType::wc}, Attrs{Perm::exec}, Attrs{Perm::read | Perm::exec | Perm::global}};

  Memory mem(96 << 20);
  auto made = make_tree<F>(mem.arena, caps);
  REQUIRE(made.ok());
  const Tree<F> tree = *made;
  Model model;
  std::vector<std::string> log;
  Checker<F> check{tree, mem.arena, model, seed, log};
  std::uint64_t mapped_ok = 0, refused = 0;

  for (int op = 0; op < ops; ++op) {
    // Size: a few pages, a block (+- pages), or up to two blocks.
    const std::uint64_t blk = spans[pick(spans.size())];
    std::uint64_t size;
    switch (pick(4)) {
      case 0: size = (1 + pick(16)) * page; break;
      case 1: size = blk; break;
      case 2: size = blk + (1 + pick(4)) * page; break;
      default: size = (1 + pick(2 * blk / page)) * page; break;
    }
    if (size > window / 2) size = window / 2;
    // VA: block-aligned half the time. PA: same alignment as the VA, or shifted by pages.
    std::uint64_t lo = w0 + pick((window - size) / page + 1) * page;
    if (pick(2)) lo = std::max(w0, align_down(lo, blk));
    std::uint64_t pa = align_down(pick(pa_window - size), blk) + (lo % blk);
    if (pick(4) == 0) pa = align_down(pa, page) + page * (1 + pick(3));
    if (pa + size - 1 > G::kPaLimit) pa = 0;
    const Attrs a = attr_choices[pick(std::size(attr_choices))];
    MapOptions opts{};
    if (pick(8) == 0 && size <= (64 << 20)) opts = MapOptions::page_only();
    else if (pick(8) == 0) opts.max_leaf_size = spans[pick(spans.size())];

    log.push_back(fmt::format("map tree {:#x} pa {:#x} size {:#x} {} max_leaf {:#x}", lo, pa, size, to_string(a),
                              opts.max_leaf_size));
    // A snapshot costs a copy of every table, so take one only where a refusal may come (the
    // model predicts overlaps; the format's own encoder predicts unsupported attributes).
    const bool overlap = model.overlaps(lo, lo + size);
    const bool attrs_ok = F::leaf_proto(G::level(G::kDepth - 1), LeafSettings{a}, caps).ok();
    const bool may_refuse = overlap || !attrs_ok;
    Memory::Snapshot before{};
    if (may_refuse) before = mem.snapshot();
    auto r = map(tree, mem.arena, G::to_va(lo), PhysAddr(pa), size, a, opts);
    if (r.ok()) {
      if (overlap) check.fail("map succeeded over an existing mapping");
      model.m[lo] = Interval{lo + size, pa, a};
      ++mapped_ok;
    } else {
      const Errc c = r.error().code;
      // Overlap with supported attributes must say overlap; unsupported attributes may be found
      // first or second (the walk meets whichever comes first in VA order).
      const bool unsupported = c == Errc::unsupported_attrs || c == Errc::unsupported_memtype;
      const bool expected = attrs_ok ? (overlap && c == Errc::overlap) : (unsupported || (overlap && c == Errc::overlap));
      if (!expected) check.fail("unexpected error " + to_string(r.error()));
      if (!may_refuse || !(mem.snapshot() == before)) check.fail("a refused map changed the tables or the allocator");
      ++refused;
    }
    for (std::uint64_t t : {lo - page, lo, lo + size - page, lo + size}) {
      if (t >= w0 && t < w0 + window) check.translate_at(t);
    }
    for (int k = 0; k < 4; ++k) check.translate_at(lo + pick(size / page) * page);
    if (op % 64 == 63) check.whole_tree();
  }
  check.whole_tree();
  // Finally every page boundary of every mapping, and the pages around it (large ones: their
  // first and last 64 pages and every 2 MiB inside).
  for (const auto& [lo, iv] : model.m) {
    const std::uint64_t n = (iv.hi - lo) / page;
    for (std::uint64_t k = 0; k <= n; ++k) {
      if (n > 128 && k > 64 && k + 64 < n && ((lo + k * page) & ((2 << 20) - 1))) continue;
      check.translate_at(lo + k * page);
    }
    if (lo > w0) check.translate_at(lo - page);
  }
  CHECK(mapped_ok > std::uint64_t(ops) / 10);
  CHECK(refused > 0);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("random maps agree with an independent interval model", "[model]", EngineFormats) {
  const std::uint64_t seed = GENERATE(1, 2, 3);
  run_model<TestType>(0x5EED0000 + seed, 600);
}
