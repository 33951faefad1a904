// libFuzzer target: decodes its input into a format (any of test::EngineFormats, the fake
// included), a set-up (live policy, failing allocators, arena, window) and a sequence of map /
// unmap / protect / compact operations inside the window, runs them through diff::LiveRunner
// (each checked against the interval model over what it may have changed and translate,
// validate() after each op that may change the tables' structure; under a live policy a TLB
// model fed by the sync hook; with probes, one allocation of every op, chosen by the input,
// failed honestly or by a lying allocator first: tests/differential_live.cpp fails every
// allocation of every op), then validate() and the whole tree compared with the model at the end
// of the input, and traps on the first disagreement after printing the decoded operations.
//
// PTLIB_FUZZ_LIARS=0 (environment) leaves the lying allocators out of the probes;
// PTLIB_FUZZ_CROSS_CHECK=1 runs the whole-tree TLB model beside the incremental one at every
// publish, invalidate and return and fails where they disagree (several times slower);
// PTLIB_FUZZ_FULL=1 runs validate() and compares the whole tree after every op (to find the
// first op that went wrong when replaying an input that fails at its end).
//
// Cheap per input: one buffer per format (256 tables), reused; a new input refills only the
// bytes the previous one used with the 0xa5 garbage, and gets a new Arena, root, model and TLB.
// The TLB model is incremental (differential_live.hpp, Tlb<F, true>): at each publish and
// invalidate it compares every reachable table with its copy from the last look and reads again
// only the ranges whose entries changed or whose cached translations were dropped. That
// comparison costs a 64 KiB table per hook call on the 64 KiB granule, and an unmap or protect
// under a live policy calls the hook twice per leaf: an input rewrites at most kLiveLeafBudget
// leaves that way (an op that would go beyond is skipped). An input frees what it allocated
// before it returns (libFuzzer reruns an input that does not, to look for leaks).
//
// Input layout (every input decodes: reads past the end give 0, so mutations stay meaningful):
//   byte 0            format index (mod the number of formats)
//   byte 1            set-up: bits 0-1 live policy (offline, refuse, break_before_make, offline),
//                     bit 2 allocation probes, bit 3 small arena (12 tables; runs out), bit 4
//                     base PA 0x1000_1020 (not table-aligned), bits 5-6 window (bottom / top of
//                     the lower half, bottom / top of the upper half, or of the whole range)
//   byte 2            bits 0-2 block level (an index into the levels that can hold a block; 0 =
//                     just above pages), bit 3 PAs at the format's limit
//   then per op, 9 bytes (at most kMaxOps ops):
//   [0] kind (bits 0-1: map unmap protect compact), size class (bits 2-4, see size_of),
//       VA alignment (bits 5-6: none, block, contiguous run, none), bit 7: with probes, the
//       failing allocator lies
//   (with probes, the op's allocation #(byte [6] ^ byte [8]) mod its count fails)
//   [1..2] size parameter (little endian)
//   [3..4] VA: page index in the window (modulo the room left for the size)
//   [5..6] PA: block index in the format's PA room
//   [7] PA placement (bits 0-1: like the VA within a block, like the VA within a run, block
//       aligned, 1..3 pages off (bits 8-15 of the size parameter)), max leaf (bits 2-3: any, pages only, blocks just above pages,
//       any), bit 4 contiguous hints off, bits 5-6 both set: release_empty off
//   [8] attributes: < 0x80 one of the common sets below; else perm = bits 0-4, memory type =
//       bits 5-6 (normal, normal_nc, device, wc)
// tests/fuzz/make_corpus.py writes the seed corpus in this layout.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include "differential_live.hpp"

namespace {
using namespace ptlib;
using diff::Op;

constexpr std::size_t kMaxOps = 48;
constexpr std::size_t kLiveLeafBudget = 256;

/// Whether environment variable `name` starts with `value`.
bool env_is(const char* name, char value) {
  const char* v = std::getenv(name);
  return v && v[0] == value;
}

/// The input, read a byte at a time; past its end every byte reads as 0.
struct Bytes {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::uint16_t u16() {
    const std::uint16_t lo = u8();
    return std::uint16_t(lo | (std::uint16_t(u8()) << 8));
  }
};

const Attrs kCommon[] = {test::kRwxg,
                         attrs::rw,
                         attrs::rx,
                         attrs::r,
                         Attrs{Perm::read | Perm::write | Perm::user},
                         attrs::device_rw,
                         Attrs{Perm::read, MemType::normal_nc},
                         Attrs{Perm::read | Perm::write, MemType::wc},
                         Attrs{Perm::exec},
                         Attrs{Perm::read | Perm::exec | Perm::global},
                         Attrs{Perm::write}};

/// One operation from 9 bytes, clamped into the workload's window and PA room.
/// Which allocation of the op the probe fails, and whether the allocator lies (layout above).
struct ProbePick {
  std::size_t index = 0;
  bool liar = false;
};

template <class F>
Op decode_op(Bytes& in, const diff::Area<F>& w, ProbePick& pick) {
  const std::uint64_t P = w.P, S = w.S, run = w.run;
  const std::uint8_t b0 = in.u8();
  const std::uint16_t sz = in.u16(), va = in.u16(), pa = in.u16();
  const std::uint8_t b7 = in.u8(), b8 = in.u8();
  pick = ProbePick{std::size_t((pa >> 8) ^ b8), (b0 & 0x80) != 0};
  Op o{};
  o.kind = Op::Kind(b0 & 3);
  switch ((b0 >> 2) & 7) {
    case 0: o.size = (1 + sz % 16) * P; break;
    case 1: o.size = S; break;
    case 2: o.size = S + (1 + sz % 4) * P; break;
    case 3: o.size = S - (1 + sz % 4) * P; break;
    case 4: o.size = run * (1 + sz % 4); break;
    case 5: o.size = S * (1 + sz % 4); break;
    case 6: o.size = (1 + sz % (2 * S / P)) * P; break;
    default: o.size = (1 + sz % (w.window / P)) * P; break;
  }
  o.size = std::max(P, std::min(o.size, w.window / 2));
  o.lo = w.w0 + (va % ((w.window - o.size) / P + 1)) * P;
  const std::uint64_t align = ((b0 >> 5) & 3) == 1 ? S : ((b0 >> 5) & 3) == 2 ? run : P;
  if (o.lo - w.w0 >= o.lo % align) o.lo -= o.lo % align;
  o.pa = w.pa_base + align_down((std::uint64_t{pa} * S) % (w.pa_room - o.size), S);
  switch (b7 & 3) {
    case 0: o.pa += o.lo % S; break;
    case 1: o.pa += o.lo % run; break;
    case 2: break;
    default: o.pa += P * (1 + (sz >> 8) % 3); break;
  }
  if (o.pa + o.size - 1 > Geometry<F>::kPaLimit) o.pa = 0;
  switch ((b7 >> 2) & 3) {
    case 1: o.max_leaf = o.size <= 2 * S ? 1 : 0; break;  // page-only maps stay small
    case 2: o.max_leaf = S; break;
    default: o.max_leaf = 0; break;
  }
  o.contiguous = !(b7 & 0x10);
  o.release_empty = (b7 & 0x60) != 0x60;
  if (b8 < 0x80) o.attrs = kCommon[b8 % std::size(kCommon)];
  else o.attrs = Attrs{Perm(b8 & 0x1f), MemType((b8 >> 5) & 3)};
  w.bound(o);
  return o;
}

/// The block levels a window may use: just above pages, then every other level with blocks.
template <class F>
std::size_t block_depth(unsigned pick) {
  using G = Geometry<F>;
  std::size_t depths[G::kDepth] = {G::kDepth - 2}, n = 1;
  for (std::size_t d = 0; d + 2 < G::kDepth; ++d)
    if (F::can_leaf(G::level(d), test::full_caps<F>())) depths[n++] = d;
  return depths[pick % n];
}

/// The valid leaves of the tree at `pa` (depth d, tree offset `base`) overlapping tree offsets
/// [lo, hi), counted up to `cap`: what an unmap or protect of that range rewrites one by one
/// under a live policy, each with a publish and an invalidate (a contiguous run: its entries).
template <class F>
std::size_t leaves_in(const Arena& a, PhysAddr pa, std::size_t d, std::uint64_t base, std::uint64_t lo,
                      std::uint64_t hi, std::size_t cap) {
  using G = Geometry<F>;
  using Entry = typename F::Entry;
  const Entry* e = static_cast<const Entry*>(a.map(pa, d));
  if (!e) return 0;
  const std::uint64_t span = G::span(d);
  const std::size_t k0 = lo > base ? (lo - base) / span : 0;
  const std::size_t k1 = std::min<std::uint64_t>(G::entries(d), (hi - base + span - 1) / span);
  std::size_t n = 0;
  for (std::size_t k = k0; k < k1 && n <= cap; ++k) {
    if (e[k] == Entry{}) continue;
    const Decoded x = F::decode(G::level(d), e[k]);
    if (x.kind == EntryKind::leaf) ++n;
    else if (x.kind == EntryKind::table && d + 1 < G::kDepth)
      n += leaves_in<F>(a, x.addr, d + 1, base + k * span, lo, hi, cap - n);
  }
  return n;
}

/// A runner per format, made once with a buffer of 256 tables and put back into the state of a
/// new one before each input: the bytes the last input used refilled with the 0xa5 garbage, an
/// Arena of the size and base PA the input asks for, a new root, an empty model, TLB and counters.
template <class F>
diff::LiveRunner<F, true>& fresh_runner(const diff::Area<F>& w, Live live, bool small, bool odd) {
  using G = Geometry<F>;
  static constexpr std::size_t kBytes = (256 * G::table_bytes(G::kDepth - 1) + 0x10000 + 0xffff) & ~std::size_t{0xffff};
  static diff::LiveRunner<F, true>* r = nullptr;  // never freed: lives as long as the fuzzing process
  if (!r) r = new diff::LiveRunner<F, true>(w.w0, w.window, live, kBytes);
  test::Memory& m = r->r.mem;
  std::memset(m.buf.get(), 0xa5, std::min(kBytes, m.arena.used() + 0x10000));
  const std::size_t bytes = small ? (G::table_bytes(0) + 12 * G::table_bytes(G::kDepth - 1) + 0x1ffff) & ~std::size_t{0xffff}
                                  : kBytes;
  m.arena = Arena(m.buf.get(), bytes, PhysAddr(odd ? 0x1000'1020 : test::Memory::kBase));
  auto t = make_tree<F>(m.arena, r->r.caps);
  if (!t) __builtin_trap();
  diff::Runner<F>& x = r->r;
  x.tree = *t;
  x.model = diff::Model{};
  x.empties_allowed = false;
  std::fill(std::begin(x.ok), std::end(x.ok), 0);
  x.refused = x.splits = x.released = x.folds = 0;
  x.w0 = w.w0;
  x.window = w.window;
  x.live = live;
  x.bbm_refusals_ok = live == Live::refuse;
  x.oom_ok = true;  // every arena here is finite: out_of_memory must change nothing
  x.last_error.reset();
  static const bool every_op = env_is("PTLIB_FUZZ_FULL", '1');
  x.local = !every_op;
  static const bool cross_check = env_is("PTLIB_FUZZ_CROSS_CHECK", '1');
  r->tlb = diff::Tlb<F, true>{};
  r->tlb.tree = &x.tree;
  r->tlb.arena = &m.arena;
  r->tlb.cross_check = cross_check;
  r->probes = r->liar_failures = r->bbm_refusals = r->ooms = 0;
  return *r;
}

template <class F>
void run(Bytes in) {
  const std::uint8_t setup = in.u8(), level = in.u8();
  const Live live = (setup & 3) == 1 ? Live::refuse : (setup & 3) == 2 ? Live::break_before_make : Live::offline;
  diff::Area<F> w(block_depth<F>(level & 7), (setup >> 5) & 3, (level & 8) != 0);
  if (!w.usable) w = diff::Area<F>(Geometry<F>::kDepth - 2, 1, (level & 8) != 0);
  if (!w.usable) __builtin_trap();
  // Under a live policy every publish() compares every table with its copy, probes repeat each
  // op: ops that are not whole blocks stay below 64 pages there.
  if (live != Live::offline || (setup & 4)) w.max_pages = 64;
  diff::LiveRunner<F, true>& r = fresh_runner<F>(w, live, (setup & 8) != 0, (setup & 16) != 0);
  r.probe = (setup & 4) != 0;
  static const bool liars = !env_is("PTLIB_FUZZ_LIARS", '0');
  r.liars = liars;
  std::vector<Op> ops;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "%s set-up %#x %#x (%s) %s\nops:\n", F::kName, setup, level, w.describe().c_str(),
                 what.c_str());
    for (const auto& o : ops) std::fprintf(stderr, "  %s,\n", diff::to_string(o).c_str());
    __builtin_trap();
  };
  std::size_t budget = kLiveLeafBudget;
  while (in.n > 0 && ops.size() < kMaxOps) {
    ProbePick pick;
    const Op o = decode_op<F>(in, w, pick);
    // Under a live policy an unmap or protect rewrites each leaf of its range through the TLB
    // model: an input spends at most kLiveLeafBudget such leaves; an op over more is skipped.
    if (live != Live::offline && (o.kind == Op::unmap || o.kind == Op::protect)) {
      const std::size_t n = leaves_in<F>(r.r.mem.arena, r.r.tree.root, 0, 0, o.lo, o.lo + o.size, budget);
      if (n > budget) continue;
      budget -= n;
    }
    ops.push_back(o);
    r.probe_one = std::pair{pick.index, pick.liar && liars};
    if (auto f = r.step(ops.back(), ops.size() - 1, /*full=*/!r.r.local))
      fail(fmt::format("op #{}: {}", ops.size() - 1, *f));
  }
  if (auto f = r.r.finish()) fail("at the end: " + *f);
  // Free what this input allocated (model, caches, table copies): libFuzzer runs an input
  // again and looks for leaks whenever it ends with more allocations than frees.
  r.r.model = diff::Model{};
  r.tlb = diff::Tlb<F, true>{};
}

template <std::size_t... I>
void dispatch(std::size_t which, Bytes in, std::index_sequence<I...>) {
  ((which == I ? run<std::tuple_element_t<I, test::EngineFormats>>(in) : void()), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  constexpr std::size_t kFormats = std::tuple_size_v<test::EngineFormats>;
  dispatch(data[0] % kFormats, Bytes{data + 1, size - 1}, std::make_index_sequence<kFormats>{});
  return 0;
}
