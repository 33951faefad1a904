// validate(): a read-only checker of a tree's invariants (every entry decodes, leaves and tables
// are aligned, every table is reached once and is reachable, contiguous runs are whole, and the
// tables found match the allocator's count), for tests, fuzzing and debug builds of kernels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "format.hpp"
#include "memory.hpp"
#include "result.hpp"
#include "walk.hpp"

PTLIB_BEGIN_NAMESPACE

/// What validate() found wrong. Every value has a sentence in `describe()`.
enum class Problem : std::uint8_t {
  malformed_entry,      ///< decode() says malformed at this level; or a table pointer at the last
                        ///< level; or a leaf at a level where the tree's caps allow none
  misaligned_leaf,      ///< a leaf's output address is not a multiple of its level's size
  misaligned_table,     ///< a table pointer (or the root) is not aligned to its table's alignment
  unreachable_table,    ///< the access cannot map a table pointer (or the root): not followed
  table_reached_twice,  ///< a table is linked from a second entry (or an entry links the root)
  inconsistent_run,     ///< a contiguous run (arm64 Contiguous, RISC-V Svnapot) is not whole
  empty_table,          ///< a table below the root has no present entry
  accounting_mismatch,  ///< the tables reached differ from ValidateOptions::expected_tables
  scratch_exhausted,    ///< the scratch has no room for another table: that table is not checked
  writable_executable,  ///< ValidateOptions::check_wx: a leaf is writable and executable (W^X)
  user_kernel_mapping,  ///< ValidateOptions::kernel: a user-accessible leaf meets the kernel's range
};

/// One sentence per problem (no trailing period).
constexpr const char* describe(Problem p) {
  switch (p) {
    case Problem::malformed_entry: return "an entry is malformed for its level";
    case Problem::misaligned_leaf: return "a leaf's output address is not aligned to its size";
    case Problem::misaligned_table: return "a table is not aligned as the format requires";
    case Problem::unreachable_table: return "a table pointer cannot be mapped by the table access";
    case Problem::table_reached_twice: return "a table is linked from more than one entry";
    case Problem::inconsistent_run: return "a contiguous run is not whole, uniform and aligned";
    case Problem::empty_table: return "a table below the root has no present entry";
    case Problem::accounting_mismatch: return "the tables reached differ from the tables expected";
    case Problem::scratch_exhausted: return "the scratch is too small to remember every table";
    case Problem::writable_executable: return "a leaf is both writable and executable (W^X)";
    case Problem::user_kernel_mapping: return "a user-accessible leaf maps part of the kernel's range";
  }
  return "unknown problem";
}

/// Short identifier of a problem, as spelled in the enum.
constexpr const char* name(Problem p) {
  switch (p) {
    case Problem::malformed_entry: return "malformed_entry";
    case Problem::misaligned_leaf: return "misaligned_leaf";
    case Problem::misaligned_table: return "misaligned_table";
    case Problem::unreachable_table: return "unreachable_table";
    case Problem::table_reached_twice: return "table_reached_twice";
    case Problem::inconsistent_run: return "inconsistent_run";
    case Problem::empty_table: return "empty_table";
    case Problem::accounting_mismatch: return "accounting_mismatch";
    case Problem::scratch_exhausted: return "scratch_exhausted";
    case Problem::writable_executable: return "writable_executable";
    case Problem::user_kernel_mapping: return "user_kernel_mapping";
  }
  return "unknown";
}

/// Where a problem is. For an entry's own problem (malformed_entry, misaligned_leaf,
/// inconsistent_run, writable_executable, user_kernel_mapping): the entry (a run: its first entry) — its first VA, its level, and its
/// output/table address (a run: the run's base output address). For a table's problem
/// (misaligned_table, unreachable_table, table_reached_twice, empty_table, scratch_exhausted):
/// the entry that links the table — its VA and level — and the table's PA. The root has no
/// linking entry: its problems have VA 0 of the tree and no level. accounting_mismatch has no
/// place: VA and PA 0, no level.
struct Finding {
  static constexpr std::int8_t kNoLevel = Error::kNoLevel;
  Problem what{};
  VirtAddr va{};
  PhysAddr pa{};
  std::int8_t level = kNoLevel;        ///< the manual's level number (as Error::level)
  const char* level_name = nullptr;    ///< the manual's name of that level

  [[nodiscard]] constexpr bool has_level() const { return level != kNoLevel; }
  constexpr bool operator==(const Finding& o) const {
    return what == o.what && va == o.va && pa == o.pa && level == o.level;
  }
};

/// What validate() checks beyond the structure.
struct ValidateOptions {
  /// Accept tables below the root with no present entry (an allocator that keeps them).
  bool allow_empty_tables = false;
  /// The number of tables (root included) the tree should have, e.g. Arena::tables_in_use().
  std::optional<std::size_t> expected_tables;
  /// The W^X audit (Linux's ptdump_check_wx() at boot): every leaf entry that is writable and
  /// executable is a Problem::writable_executable (x86-32 has no NX: there every writable leaf is).
  bool check_wx = false;
  /// The kernel's VA range: every user-accessible leaf entry meeting it is a
  /// Problem::user_kernel_mapping (empty: not checked). E.g. the upper half of a sign-extended
  /// format, or a 3G/1G split's [0xc0000000, 4 GiB).
  Region kernel{};
  /// Called with every problem, in the order found (tree-offset order), besides the count and
  /// Validation::first: e.g. to print every W+X leaf. Set it with report_to().
  void (*on_finding)(void* ctx, const Finding&) = nullptr;
  void* finding_ctx = nullptr;

  /// Calls `fn(const Finding&)` for every problem (fn must outlive the validate() call).
  template <class Fn>
  ValidateOptions& report_to(Fn& fn) {
    finding_ctx = &fn;
    on_finding = [](void* c, const Finding& f) { (*static_cast<Fn*>(c))(f); };
    return *this;
  }
};

/// The answer of validate().
struct Validation {
  std::size_t tables = 0;    ///< tables walked, root included
  std::size_t leaves = 0;    ///< leaf entries (each entry of a contiguous run counts)
  std::size_t problems = 0;  ///< every problem found (scratch_exhausted at most once)
  std::size_t wx_leaves = 0;           ///< check_wx: writable+executable leaf entries
  std::size_t user_kernel_leaves = 0;  ///< kernel: user-accessible leaf entries in its range
  /// Table PAs recorded in scratch[0, tables_recorded), ascending: the root and every table
  /// pointer met (unreachable ones included). Equal to the scratch size: it may have been short.
  std::size_t tables_recorded = 0;
  Finding first{};           ///< the problem with the lowest VA (ties: the first found)
  [[nodiscard]] constexpr bool ok() const { return problems == 0; }
};

namespace detail {

/// validate()'s visitor: the walker goes over every entry of every table (the whole tree), and
/// the validator checks each one, following each table pointer at most once.
template <PagingFormat F>
class Validator : public ReadVisitor<F> {
 public:
  using G = Geometry<F>;
  using Entry = typename F::Entry;

  Validator(const Tree<F>& tree, MemRef access, const ValidateOptions& opts, std::span<PhysAddr> scratch)
      : tree_(tree), access_(access), opts_(opts), scratch_(scratch) {
    for (std::size_t d = 0; d < G::kDepth; ++d) {
      const unsigned k = F::contig_log2(G::level(d), tree.caps);
      run_log2_[d] = k != 0 && k < 32 && (std::size_t{1} << k) <= G::entries(d) ? k : 0;
    }
  }

  Validation run() {
    const PhysAddr root = tree_.root;
    if (!root.aligned(G::table_align(0))) report(Problem::misaligned_table, 0, root, kRoot);
    if (remember(root, 0, kRoot) == Seen::fresh) {
      if (void* p = access_.map(root, 0)) {
        ++out_.tables;
        (void)Walker<F, Validator>{access_, *this}.walk(0, static_cast<Entry*>(p), Source::memory, Decoded{}, 0,
                                                        G::kVaMask + 1);  // fault() goes on: no error
        access_.unmap(p, 0);
      } else {
        report(Problem::unreachable_table, 0, root, kRoot);
      }
    }
    if (opts_.expected_tables && !exhausted_ && out_.tables != *opts_.expected_tables)
      report(Problem::accounting_mismatch, 0, PhysAddr{}, kRoot, false);
    out_.tables_recorded = recorded_;
    return out_;
  }

  // The walk contract (every entry is covered whole: the walk is over the whole tree).
  Result<Step> absent(const Slot<F>& s) {
    runs(s);
    return Step::done;
  }

  Result<Step> leaf(const Slot<F>& s) {
    runs(s);
    present_[s.depth] = true;
    const std::size_t D = s.depth;
    const auto L = G::level(D);
    const std::uint64_t span = G::span(D), t = s.lo;
    const Decoded& e = s.entry;
    if (!F::can_leaf(L, tree_.caps)) {
      report(Problem::malformed_entry, t, e.addr, int(D));
      return Step::done;
    }
    ++out_.leaves;
    const PhysAddr out = leaf_output(s);
    if (!out.aligned(span)) report(Problem::misaligned_leaf, t, out, int(D));
    if (e.contiguous && run_log2_[D] == 0) report(Problem::inconsistent_run, t, e.addr, int(D));  // no runs here
    if (opts_.check_wx && e.attrs.write() && e.attrs.exec()) {
      ++out_.wx_leaves;
      report(Problem::writable_executable, t, out, int(D));
    }
    if (e.attrs.user() && Region{G::to_va(t), span}.overlaps(opts_.kernel)) {
      ++out_.user_kernel_leaves;
      report(Problem::user_kernel_mapping, t, out, int(D));
    }
    return Step::done;
  }

  /// A table pointer: followed (misaligned ones too) unless it is at the last level, was met
  /// before, or finds no room in the scratch.
  Step table_pre(const Slot<F>& s) {
    runs(s);
    present_[s.depth] = true;
    const std::size_t D = s.depth;
    const PhysAddr pa = s.entry.addr;
    const std::uint64_t t = s.lo;
    if (D + 1 == G::kDepth) {
      report(Problem::malformed_entry, t, pa, int(D));  // a table pointer at the last level
      return Step::done;
    }
    if (!pa.aligned(G::table_align(D + 1))) report(Problem::misaligned_table, t, pa, int(D));
    switch (remember(pa, t, int(D))) {
      case Seen::before: report(Problem::table_reached_twice, t, pa, int(D)); return Step::done;
      case Seen::no_room: return Step::done;
      case Seen::fresh: break;
    }
    present_[D + 1] = false;
    return Step::descend;
  }

  void table_post(const Slot<F>& s, void*) {
    ++out_.tables;
    if (!present_[s.depth + 1] && !opts_.allow_empty_tables)
      report(Problem::empty_table, s.lo, s.entry.addr, int(s.depth));
  }

  /// A malformed entry, or a table the access cannot map: reported; the walk goes on.
  Result<void> fault(const Slot<F>& s) {
    if (s.entry.kind == EntryKind::table) {  // table_pre() has seen the entry
      report(Problem::unreachable_table, s.lo, s.entry.addr, int(s.depth));
      return {};
    }
    runs(s);
    present_[s.depth] = true;
    report(Problem::malformed_entry, s.lo, s.entry.addr, int(s.depth));
    return {};
  }

 private:
  static constexpr int kRoot = -1;  // "depth" of the root's (absent) linking entry
  enum class Seen : std::uint8_t { fresh, before, no_room };

  void report(Problem what, std::uint64_t t, PhysAddr pa, int depth, bool located = true) {
    Finding f{what, located ? G::to_va(t) : VirtAddr{}, pa, Finding::kNoLevel, nullptr};
    if (depth >= 0) {
      const auto L = G::level(std::size_t(depth));
      f.level = level_number<F>(L);
      f.level_name = F::level_name(L);
    }
    ++out_.problems;
    if (opts_.on_finding) opts_.on_finding(opts_.finding_ctx, f);
    if (out_.problems == 1 || (located && (!first_located_ || t < first_t_))) {
      out_.first = f;
      first_located_ = located;
      first_t_ = t;
    }
  }

  /// Records `pa` in the sorted scratch: binary search, then insertion (an append when tables
  /// come in rising PA order, as an Arena hands them out to a map in VA order).
  Seen remember(PhysAddr pa, std::uint64_t t, int depth) {
    std::size_t lo = 0, hi = recorded_;
    if (recorded_ != 0 && scratch_[recorded_ - 1] < pa) lo = recorded_;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (scratch_[mid] < pa) lo = mid + 1;
      else hi = mid;
    }
    if (lo < recorded_ && scratch_[lo] == pa) return Seen::before;
    if (recorded_ == scratch_.size()) {
      if (!exhausted_) report(Problem::scratch_exhausted, t, pa, depth);
      exhausted_ = true;
      return Seen::no_room;
    }
    for (std::size_t j = recorded_; j > lo; --j) scratch_[j] = scratch_[j - 1];
    scratch_[lo] = pa;
    ++recorded_;
    return Seen::fresh;
  }

  /// Before the entries of `s` are checked: every aligned group of 2^k entries that starts among
  /// them (at levels with contiguous runs) is checked as a run (check_run).
  void runs(const Slot<F>& s) {
    const unsigned k = run_log2_[s.depth];
    if (k == 0) return;
    const std::size_t n = std::size_t{1} << k;
    for (std::size_t g = (s.index + n - 1) & ~(n - 1); g < s.index + s.count; g += n)
      check_run(s.depth, s.table + g, n, k, s.lo + (g - s.index) * G::span(s.depth));
  }

  /// The aligned group of `run` = 2^k entries at `g` (depth D, first VA `t`): if any of them is a
  /// leaf with the contiguous hint, all must be, with equal attributes, and map one naturally
  /// aligned block of run * span bytes (consecutive addresses, or one run base for Svnapot).
  void check_run(std::size_t D, const Entry* g, std::size_t run, unsigned k, std::uint64_t t) {
    const auto L = G::level(D);
    const std::uint64_t span = G::span(D);
    Decoded first{};
    std::size_t j0 = 0;
    while (j0 < run) {
      first = F::decode(L, g[j0]);
      if (first.kind == EntryKind::leaf && first.contiguous) break;
      ++j0;
    }
    if (j0 == run) return;
    const PhysAddr base = first.run_log2 != 0 ? first.addr : first.addr - j0 * span;
    bool whole = base.aligned(span << k) && (first.run_log2 == 0 || first.run_log2 == k);
    for (std::size_t j = 0; j < run && whole; ++j) {
      const Decoded e = j == j0 ? first : F::decode(L, g[j]);
      whole = e.kind == EntryKind::leaf && e.contiguous && e.attrs == first.attrs && e.run_log2 == first.run_log2 &&
              e.addr == (first.run_log2 != 0 ? base : base + j * span);
    }
    if (!whole) report(Problem::inconsistent_run, t, base, int(D));
  }

  const Tree<F>& tree_;
  MemRef access_;
  const ValidateOptions& opts_;
  std::span<PhysAddr> scratch_;
  std::size_t recorded_ = 0;
  bool exhausted_ = false;
  bool first_located_ = false;
  std::uint64_t first_t_ = 0;
  bool present_[G::kDepth] = {};    ///< per depth: the table being walked has a present entry
  unsigned run_log2_[G::kDepth] = {};  ///< per depth: log2 of its contiguous run length (0: none)
  Validation out_{};
};

/// validate() compiled once per format (the access erased).
template <PagingFormat F>
Validation validate_erased(const Tree<F>& tree, MemRef access, const ValidateOptions& opts,
                           std::span<PhysAddr> scratch) {
  return Validator<F>(tree, access, opts, scratch).run();
}

}  // namespace detail

/// Checks every entry of `tree` (read-only) and reports every problem (see Problem): counts all
/// of them and keeps the one with the lowest VA in Validation::first. It follows each table
/// pointer at most once: never one it has seen (table_reached_twice, loops included), one the
/// access cannot map (unreachable_table), or one it has no scratch room to remember
/// (scratch_exhausted, reported once; that subtree is not checked and the accounting check is
/// skipped). Misaligned tables are still followed. Entries are visited in tree-offset order,
/// which is VA order (for sign-extended formats the upper half comes last).
///
/// `scratch` must hold one PhysAddr per table (root included); on return its first
/// Validation::tables_recorded elements are the tables met, sorted. Cost: one decode per entry
/// (two at levels with contiguous runs), O(log n) comparisons per table pointer; recording a
/// table moves the recorded PAs above it (none when tables are met in rising PA order, the
/// usual case for an Arena), so O(n^2) moves at worst.
template <PagingFormat F, TableAccess A>
Validation validate(const Tree<F>& tree, A& access, const ValidateOptions& opts, std::span<PhysAddr> scratch) {
  return detail::validate_erased(tree, MemRef(access), opts, scratch);
}

PTLIB_END_NAMESPACE
