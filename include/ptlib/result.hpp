// Typed errors (code + virtual address + physical address + level) and a freestanding Result<T>.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

#include "addr.hpp"

PTLIB_BEGIN_NAMESPACE

/// What went wrong. Every value has a sentence in `describe()`.
enum class Errc : std::uint8_t {
  misaligned_va,       ///< va is not a multiple of the format's smallest page
  misaligned_pa,       ///< pa is not a multiple of the format's smallest page
  misaligned_size,     ///< size is not a multiple of the format's smallest page
  zero_size,           ///< size is 0
  range_wraps,         ///< va + size or pa + size wraps around 2^64
  va_out_of_range,     ///< the range leaves the format's (or this root's) VA range
  va_non_canonical,    ///< the VA is not sign-extended / crosses the canonical hole
  pa_out_of_range,     ///< the output address is wider than the format's output size
  overlap,             ///< the range meets an existing mapping (default policy refuses)
  out_of_memory,       ///< the allocator cannot give the tables the call needs
  unsupported_attrs,   ///< the format cannot express these attributes (no silent downgrade)
  unsupported_memtype, ///< the format (or its capabilities) has no such memory type
  not_mapped,          ///< nothing is mapped at the VA (translate)
  malformed_entry,     ///< an entry in the tree is not valid for its level
  misaligned_table,    ///< a table (or the root) is not aligned as its format demands
  needs_break_before_make, ///< a live entry would change in a way the format allows only via BBM
  writable_executable, ///< a mapping would be writable and executable, and the call forbids it (W^X)
  field_out_of_range,  ///< a value does not fit its register field (ASID, PCID, TxSZ, PA size)
  mode_not_supported,  ///< the CPU did not take the translation registers (ptlib/cpu/*.hpp read them back)
};

/// One sentence per error code (no trailing period).
constexpr const char* describe(Errc c) {
  switch (c) {
    case Errc::misaligned_va: return "virtual address is not aligned to the smallest page";
    case Errc::misaligned_pa: return "physical address is not aligned to the smallest page";
    case Errc::misaligned_size: return "size is not a multiple of the smallest page";
    case Errc::zero_size: return "size is zero";
    case Errc::range_wraps: return "range wraps around the end of the address space";
    case Errc::va_out_of_range: return "virtual address is outside the range this root translates";
    case Errc::va_non_canonical: return "virtual address is not canonical (not sign-extended)";
    case Errc::pa_out_of_range: return "physical address is wider than the format's output size";
    case Errc::overlap: return "range overlaps an existing mapping";
    case Errc::out_of_memory: return "the allocator cannot provide the tables needed";
    case Errc::unsupported_attrs: return "the format cannot express these permissions";
    case Errc::unsupported_memtype: return "the format cannot express this memory type";
    case Errc::not_mapped: return "nothing is mapped at this virtual address";
    case Errc::malformed_entry: return "a table entry is malformed for its level";
    case Errc::misaligned_table: return "a table is not aligned as the format requires";
    case Errc::needs_break_before_make:
      return "the change to a live entry needs break-before-make, which this call's policy refuses";
    case Errc::writable_executable: return "the mapping would be both writable and executable (W^X)";
    case Errc::field_out_of_range: return "a value does not fit its register field";
    case Errc::mode_not_supported:
      return "the CPU does not implement this translation mode (the register reads back otherwise): pick the "
             "format at run time (ptlib::with_chosen_format)";
  }
  return "unknown error";
}

/// What to do about an error, one sentence per code (no trailing period). A format or the engine
/// may give a more precise one in Error::hint (which capability to turn on, which option to pass).
constexpr const char* remedy(Errc c) {
  switch (c) {
    case Errc::misaligned_va:
    case Errc::misaligned_pa:
    case Errc::misaligned_size: return "align the address and size to the format's smallest page (Geometry<F>::kPageSize)";
    case Errc::zero_size: return "pass a size of at least one page";
    case Errc::range_wraps: return "end the range below 2^64 (or split it)";
    case Errc::va_out_of_range: return "use a VA inside this root's range (`ptgen formats` lists each format's VA bits)";
    case Errc::va_non_canonical: return "sign-extend the VA from the format's top VA bit; a range may not cross the hole";
    case Errc::pa_out_of_range: return "use a PA below 2^(the format's PA bits), or a format with a wider output (`ptgen formats`)";
    case Errc::overlap: return "unmap the old mapping first, or pass Options::remap (identical/safe) to accept the same one";
    case Errc::out_of_memory: return "give the allocator more tables (size a pool with table_budget() or plan())";
    case Errc::unsupported_attrs: return "ask only for permissions the format has (README: attribute conventions)";
    case Errc::unsupported_memtype: return "turn on the capability the memory type needs in the tree's Caps, or use another type";
    case Errc::not_mapped: return "map the address first";
    case Errc::malformed_entry: return "the tree is damaged or not of this format: run validate() to list every bad entry";
    case Errc::misaligned_table: return "align the root and the pool to pool_align<F>()";
    case Errc::needs_break_before_make: return "pass Live::break_before_make, or unmap and map again";
    case Errc::writable_executable: return "drop write or exec from the attributes";
    case Errc::field_out_of_range: return "use a value that fits the register field";
    case Errc::mode_not_supported: return "pick the format at run time (ptlib::with_chosen_format)";
  }
  return "see the API documentation";
}

/// Short identifier of an error code, as spelled in the enum.
constexpr const char* name(Errc c) {
  switch (c) {
    case Errc::misaligned_va: return "misaligned_va";
    case Errc::misaligned_pa: return "misaligned_pa";
    case Errc::misaligned_size: return "misaligned_size";
    case Errc::zero_size: return "zero_size";
    case Errc::range_wraps: return "range_wraps";
    case Errc::va_out_of_range: return "va_out_of_range";
    case Errc::va_non_canonical: return "va_non_canonical";
    case Errc::pa_out_of_range: return "pa_out_of_range";
    case Errc::overlap: return "overlap";
    case Errc::out_of_memory: return "out_of_memory";
    case Errc::unsupported_attrs: return "unsupported_attrs";
    case Errc::unsupported_memtype: return "unsupported_memtype";
    case Errc::not_mapped: return "not_mapped";
    case Errc::malformed_entry: return "malformed_entry";
    case Errc::misaligned_table: return "misaligned_table";
    case Errc::needs_break_before_make: return "needs_break_before_make";
    case Errc::writable_executable: return "writable_executable";
    case Errc::field_out_of_range: return "field_out_of_range";
    case Errc::mode_not_supported: return "mode_not_supported";
  }
  return "unknown";
}

/// A typed error: what (`code`), where (`va`, `pa`), and at which level of the tree.
/// `level` is the level number as the format's manual numbers it (arm64 -1..3, RISC-V i of
/// VPN[i], x86 1 = PT .. 5 = PML5, ARMv7 1..3); `level_name` is the manual's name for it.
/// Both are absent (kNoLevel / nullptr) for errors found before any table was read: test
/// has_level() before printing `level`. `pa` is absent (kNoPa, has_pa() false) where no physical
/// address belongs to the error (out_of_memory, an unmap's range errors). Errc::out_of_memory
/// from map/unmap/protect/compact and make_tree says how many tables the call needed and how
/// many of them the allocator could promise (tables_needed > tables_available). `hint`, when
/// set, says what to do more precisely than remedy(code); remedy(error) picks the better one.
/// format_error() (<ptlib/error_text.hpp>, freestanding) writes all of it as one line.
struct Error {
  static constexpr std::int8_t kNoLevel = INT8_MIN;
  /// No physical address belongs to the error (no format has a page at the all-ones address).
  static constexpr PhysAddr kNoPa{~std::uint64_t{0}};
  Errc code{};
  VirtAddr va{};
  PhysAddr pa = kNoPa;
  std::int8_t level = kNoLevel;
  const char* level_name = nullptr;
  const char* hint = nullptr;           ///< what to do, when more is known than the code says
  std::uint32_t tables_needed = 0;      ///< out_of_memory: tables the call needed (0: not counted)
  std::uint32_t tables_available = 0;   ///< out_of_memory: tables the allocator could promise

  [[nodiscard]] constexpr bool has_level() const { return level != kNoLevel; }
  [[nodiscard]] constexpr bool has_pa() const { return pa != kNoPa; }
  /// Same code, addresses and level (hint and table counts are explanations, not identity).
  constexpr bool operator==(const Error& o) const {
    return code == o.code && va == o.va && pa == o.pa && level == o.level;
  }
};

/// Either a value or an Error; the freestanding stand-in for std::expected (C++23).
namespace detail {
/// Where a Result keeps its value and its error: in one union when the value is trivial (every
/// engine result), side by side otherwise (host-side results holding a std::vector).
template <class T, bool Trivial = std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>>
struct ResultStorage {
  constexpr explicit ResultStorage(T v) : value_(std::move(v)) {}
  constexpr explicit ResultStorage(Error e) : error_(e) {}
  T value_{};
  Error error_{};
};
template <class T>
struct ResultStorage<T, true> {
  constexpr explicit ResultStorage(T v) : value_(v) {}
  constexpr explicit ResultStorage(Error e) : error_(e) {}
  union {
    T value_;
    Error error_;
  };
};
}  // namespace detail

/// Result<void> carries no value. Reading value() of an error is a precondition violation;
/// error() of a success is a default Error. A trivial value and the error share their storage,
/// so a Result costs what its value (or its error) costs to write, not both (the engine returns
/// one from every step of a call).
template <class T>
class [[nodiscard]] Result {
 public:
  constexpr Result(T v) : ok_(true), s_(std::move(v)) {}  // NOLINT: implicit by design
  constexpr Result(Error e) : ok_(false), s_(e) {}          // NOLINT
  constexpr explicit operator bool() const { return ok_; }
  [[nodiscard]] constexpr bool ok() const { return ok_; }
  constexpr const T& value() const { return s_.value_; }
  constexpr T& value() { return s_.value_; }
  constexpr const T& operator*() const { return s_.value_; }
  constexpr const T* operator->() const { return &s_.value_; }
  constexpr T& operator*() { return s_.value_; }
  constexpr T* operator->() { return &s_.value_; }
  [[nodiscard]] constexpr const Error& error() const { return ok_ ? kNoError : s_.error_; }

 private:
  static constexpr Error kNoError{};
  bool ok_;
  detail::ResultStorage<T> s_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  constexpr Result() : ok_(true) {}
  constexpr Result(Error e) : ok_(false), error_(e) {}  // NOLINT
  constexpr explicit operator bool() const { return ok_; }
  [[nodiscard]] constexpr bool ok() const { return ok_; }
  [[nodiscard]] constexpr const Error& error() const { return ok_ ? kNoError : error_; }

 private:
  static constexpr Error kNoError{};
  bool ok_;
  union {
    Error error_;
  };
};

/// Builds an Error with no level (and no PA unless given).
constexpr Error make_error(Errc c, VirtAddr va = VirtAddr{}, PhysAddr pa = Error::kNoPa) {
  return Error{c, va, pa, Error::kNoLevel, nullptr};
}
/// The same error with a hint (what to do).
constexpr Error with_hint(Error e, const char* hint) {
  e.hint = hint;
  return e;
}
/// What to do about `e`: its hint, or the code's remedy.
constexpr const char* remedy(const Error& e) { return e.hint ? e.hint : remedy(e.code); }

PTLIB_END_NAMESPACE

/// Returns the error of a Result-valued expression from the enclosing function.
#define PTLIB_TRY(expr)                           \
  do {                                            \
    if (auto ptlib_try_r_ = (expr); !ptlib_try_r_) \
      return ptlib_try_r_.error();                \
  } while (0)
