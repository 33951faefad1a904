// Table memory: the narrow concepts through which the engine allocates and reaches tables, plus
// two ready implementations (a bump arena over a caller's buffer, and direct pa+offset access).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "addr.hpp"

PTLIB_BEGIN_NAMESPACE

/// What the engine asks of an allocator for one table.
struct TableRequest {
  std::size_t bytes = 0;  ///< table size (a format's root may be smaller than its other tables)
  std::size_t align = 0;  ///< required alignment of the physical address (power of two)
  bool zeroed = false;    ///< true: every byte must read 0; false: the engine writes every entry itself
  std::size_t depth = 0;  ///< depth of the table in the tree (0 = root); fixmap-style access uses it
};

/// A freshly allocated table: its physical address and a pointer through which to fill it.
/// The pointer is released with the access's unmap(ptr, depth) like any mapped table.
struct NewTable {
  PhysAddr pa{};
  void* ptr = nullptr;
};

/// Reaching tables from their physical address.
///   map(pa, depth)   -> a pointer to the table at `pa` (nullptr if `pa` is not reachable, which
///                       the walker reports as Errc::malformed_entry);
///   unmap(p, depth)  -> the engine is done with `p` (a no-op for direct access; a fixmap
///                       window may reuse its slot).
/// Exemplar: DirectAccess below.
template <class A>
concept TableAccess = requires(A& a, PhysAddr pa, std::size_t depth, void* p) {
  { a.map(pa, depth) } -> std::same_as<void*>;
  { a.unmap(p, depth) } -> std::same_as<void>;
};

/// Allocating and releasing tables (plus reaching them).
///   allocate(req)      -> a table of req.bytes at a req.align-aligned PA, zeroed if asked;
///                         std::nullopt when out of memory;
///   reserve(n, req)    -> true when the next n allocate(req) calls are certain to succeed. The
///                         engine reserves exactly what a mutating call needs before its first
///                         write, so a call either applies fully or changes nothing;
///   release(pa, req)   -> the table at `pa` (allocated with the same bytes/align) is free again.
///                         Called only by calls that have already succeeded.
/// Exemplar: Arena below.
template <class M>
concept TableMemory = TableAccess<M> && requires(M& m, const TableRequest& r, std::size_t n, PhysAddr pa) {
  { m.allocate(r) } -> std::same_as<std::optional<NewTable>>;
  { m.reserve(n, r) } -> std::same_as<bool>;
  { m.release(pa, r) } -> std::same_as<void>;
};

/// Tables reached at a fixed offset from their physical address: identity (offset 0) before the
/// MMU is on, or a linear map after. Not an allocator.
class DirectAccess {
 public:
  constexpr explicit DirectAccess(std::uintptr_t offset = 0) : offset_(offset) {}
  void* map(PhysAddr pa, std::size_t /*depth*/) const {
    return reinterpret_cast<void*>(std::uintptr_t(pa.value) + offset_);
  }
  void unmap(void* /*p*/, std::size_t /*depth*/) const {}

 private:
  std::uintptr_t offset_;
};

/// A bump allocator over a caller-provided buffer whose first byte has physical address `base`,
/// with a free list for released tables. Physical address = base + offset into the buffer. Works
/// freestanding (no heap): a static array in a kernel, a host buffer in tests and tools, a table
/// image for another machine.
///
/// Released tables are kept on a free list threaded through their own first bytes and handed
/// out again (first fit on size and alignment) before the bump cursor moves.
class Arena {
 public:
  constexpr Arena(void* buffer, std::size_t bytes, PhysAddr base)
      : buf_(static_cast<unsigned char*>(buffer)), size_(bytes), base_(base) {}

  std::optional<NewTable> allocate(const TableRequest& r) {
    // First fit from the free list.
    for (std::size_t prev = kNone, off = free_; off != kNone; prev = off, off = word(off, 0)) {
      if (fits(off, r)) {
        if (prev == kNone) free_ = word(off, 0);
        else set_word(prev, 0, word(off, 0));
        return hand_out(off, r);
      }
    }
    const std::size_t start = align_up(used_, r.align);
    if (start > size_ || size_ - start < r.bytes) return std::nullopt;
    used_ = start + r.bytes;
    return hand_out(start, r);
  }
  [[nodiscard]] bool reserve(std::size_t n, const TableRequest& r) const {
    for (std::size_t off = free_; off != kNone && n; off = word(off, 0))
      if (fits(off, r)) --n;
    if (n == 0) return true;
    const std::size_t start = align_up(used_, r.align);
    const std::size_t stride = align_up(r.bytes, r.align);
    if (start > size_) return false;
    const std::size_t room = size_ - start;
    return room >= r.bytes && (room - r.bytes) / stride >= n - 1;
  }
  void release(PhysAddr pa, const TableRequest& r) {
    const std::size_t off = std::size_t(pa - base_);
    set_word(off, 0, free_);
    set_word(off, 1, r.bytes);
    free_ = off;
    --live_;
  }
  void* map(PhysAddr pa, std::size_t /*depth*/) const {
    if (pa < base_ || pa - base_ >= size_) return nullptr;
    return buf_ + (pa - base_);
  }
  void unmap(void* /*p*/, std::size_t /*depth*/) const {}

  /// Bytes the bump cursor has handed out so far (including alignment padding and tables now
  /// on the free list).
  [[nodiscard]] std::size_t used() const { return used_; }
  /// Tables allocated and not released.
  [[nodiscard]] std::size_t tables_in_use() const { return live_; }
  [[nodiscard]] std::size_t capacity() const { return size_; }
  [[nodiscard]] PhysAddr base() const { return base_; }
  [[nodiscard]] const unsigned char* data() const { return buf_; }
  /// Head of the free list (an offset, or ~0): with used() and the buffer bytes, the whole
  /// allocator state.
  [[nodiscard]] std::size_t free_head() const { return free_; }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};
  static constexpr std::size_t align_up(std::size_t v, std::size_t a) { return (v + a - 1) & ~(a - 1); }
  // A free table's first word links to the next free table, its second word holds its size
  // (every table is at least two words: the smallest root, PAE's, is 32 bytes).
  std::size_t word(std::size_t off, std::size_t i) const {
    std::size_t v;
    __builtin_memcpy(&v, buf_ + off + i * sizeof v, sizeof v);
    return v;
  }
  void set_word(std::size_t off, std::size_t i, std::size_t v) const { __builtin_memcpy(buf_ + off + i * sizeof v, &v, sizeof v); }
  bool fits(std::size_t off, const TableRequest& r) const {
    return word(off, 1) == r.bytes && ((base_.value + off) & (r.align - 1)) == 0;
  }
  NewTable hand_out(std::size_t off, const TableRequest& r) {
    ++live_;
    if (r.zeroed) __builtin_memset(buf_ + off, 0, r.bytes);
    return NewTable{base_ + off, buf_ + off};
  }

  unsigned char* buf_;
  std::size_t size_;
  PhysAddr base_;
  std::size_t used_ = 0;
  std::size_t live_ = 0;
  std::size_t free_ = kNone;
};

PTLIB_END_NAMESPACE
