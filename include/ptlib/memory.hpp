// Table memory: the narrow concepts through which the engine allocates and reaches tables, plus
// two ready implementations (a bump arena over a caller's buffer, and direct pa+offset access).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

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
///                         write, so a call either applies fully or changes nothing (a call that
///                         needs one table allocates it without asking: a refused allocate()
///                         must change nothing, as reserve() does);
///   release(pa, req)   -> the table at `pa` (allocated with the same bytes/align) is free again.
///                         Called for tables a call left empty, and for a table a call took
///                         and gives back unused (one its format cannot link, or the others
///                         when the memory broke its reserve() promise).
/// Exemplar: Arena below.
template <class M>
concept TableMemory = TableAccess<M> && requires(M& m, const TableRequest& r, std::size_t n, PhysAddr pa) {
  { m.allocate(r) } -> std::same_as<std::optional<NewTable>>;
  { m.reserve(n, r) } -> std::same_as<bool>;
  { m.release(pa, r) } -> std::same_as<void>;
};

/// Memory that reaches every table at `pa + offset` for pa in [lo, lo + bytes): the engine then
/// computes table pointers itself instead of calling map()/unmap().
struct DirectWindow {
  std::uintptr_t offset = 0;
  std::uint64_t lo = 0;
  std::uint64_t bytes = ~std::uint64_t{0};
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
  [[nodiscard]] DirectWindow direct_window() const { return DirectWindow{offset_, 0, ~std::uint64_t{0}}; }

 private:
  std::uintptr_t offset_;
};

/// A bump allocator over a caller-provided buffer whose first byte has physical address `base`,
/// with free lists for released tables. Physical address = base + offset into the buffer. Works
/// freestanding (no heap): a static array in a kernel, a host buffer in tests and tools, a table
/// image for another machine.
///
/// Alignment is of the *physical* address: a table asked with `align` lands at a PA that is a
/// multiple of it, whatever `base` is (a buffer at PA 0x1020 gives a 4 KiB table PA 0x2000).
/// Released tables go to one free list per (bytes, align) kind, threaded through their own first
/// bytes, and are handed out again before the bump cursor moves. allocate(), reserve() and
/// release() take constant time whatever the history.
class Arena {
 public:
  constexpr Arena(void* buffer, std::size_t bytes, PhysAddr base)
      : buf_(static_cast<unsigned char*>(buffer)), size_(bytes), base_(base) {}
  /// reserve() is exact: the engine needs no rollback for this memory.
  static constexpr bool kReservesExactly = true;

  std::optional<NewTable> allocate(const TableRequest& r) {
    if (FreeList* f = find(r); f && f->count) {
      const std::size_t off = f->head;
      f->head = word(off);
      --f->count;
      return hand_out(off, r);
    }
    const std::size_t start = bump_start(r);
    if (start > size_ || size_ - start < r.bytes) return std::nullopt;
    used_ = start + r.bytes;
    return hand_out(start, r);
  }
  [[nodiscard]] bool reserve(std::size_t n, const TableRequest& r) const {
    const FreeList* f = find(r);
    const std::size_t have = f ? f->count : 0;
    if (n <= have) return true;
    n -= have;
    const std::size_t start = bump_start(r);
    const std::size_t stride = align_up(r.bytes, r.align);
    if (start > size_) return false;
    const std::size_t room = size_ - start;
    return room >= r.bytes && (room - r.bytes) / stride >= n - 1;
  }
  void release(PhysAddr pa, const TableRequest& r) {
    const std::size_t off = std::size_t(pa - base_);
    --live_;
    FreeList* f = find(r);
    if (!f) {
      for (FreeList& g : lists_)
        if (g.count == 0) {
          g = FreeList{r.bytes, r.align, kNone, 0};
          f = &g;
          break;
        }
    }
    if (!f) return;  // more kinds of table than lists: the table is not reused (never happens
                     // with one format; formats have at most two table sizes)
    set_word(off, f->head);
    f->head = off;
    ++f->count;
  }
  void* map(PhysAddr pa, std::size_t /*depth*/) const {
    if (pa < base_ || pa - base_ >= size_) return nullptr;
    return buf_ + (pa - base_);
  }
  void unmap(void* /*p*/, std::size_t /*depth*/) const {}
  /// Every table is reached at buf + (pa - base): the engine may skip the calls.
  [[nodiscard]] DirectWindow direct_window() const {
    return DirectWindow{std::uintptr_t(buf_) - std::uintptr_t(base_.value), base_.value, size_};
  }

  /// Bytes the bump cursor has handed out so far (including alignment padding and tables now
  /// on the free lists).
  [[nodiscard]] std::size_t used() const { return used_; }
  /// Tables allocated and not released.
  [[nodiscard]] std::size_t tables_in_use() const { return live_; }
  [[nodiscard]] std::size_t capacity() const { return size_; }
  [[nodiscard]] PhysAddr base() const { return base_; }
  [[nodiscard]] const unsigned char* data() const { return buf_; }
  /// A digest of the free lists (heads and counts): with used() and the buffer bytes, the whole
  /// allocator state (equal digests and bytes mean the same free lists).
  [[nodiscard]] std::size_t free_head() const {
    std::size_t h = 0;
    for (const FreeList& f : lists_) h = h * 1000003u + f.head * 31u + f.count + f.bytes;
    return h;
  }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};
  struct FreeList {
    std::size_t bytes = 0, align = 0, head = kNone, count = 0;
  };
  static constexpr std::size_t align_up(std::size_t v, std::size_t a) { return (v + a - 1) & ~(a - 1); }
  /// The offset of the next bump allocation for `r`: the PA base + offset is `r.align`-aligned.
  [[nodiscard]] std::size_t bump_start(const TableRequest& r) const {
    const std::uint64_t pa = base_.value + used_;
    const std::uint64_t aligned = (pa + (r.align - 1)) & ~std::uint64_t(r.align - 1);
    return std::size_t(aligned - base_.value);
  }
  FreeList* find(const TableRequest& r) {
    for (FreeList& f : lists_)
      if (f.count && f.bytes == r.bytes && f.align == r.align) return &f;
    return nullptr;
  }
  const FreeList* find(const TableRequest& r) const { return const_cast<Arena*>(this)->find(r); }
  // A free table's first word links to the next free table of its list.
  std::size_t word(std::size_t off) const {
    std::size_t v;
    __builtin_memcpy(&v, buf_ + off, sizeof v);
    return v;
  }
  void set_word(std::size_t off, std::size_t v) const { __builtin_memcpy(buf_ + off, &v, sizeof v); }
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
  FreeList lists_[4]{};
};

/// A type-erased TableAccess / TableMemory: a context pointer and five functions, so the engine
/// is compiled once per format, not once per allocator. Memory that reaches every table at a
/// fixed offset (direct_window()) is reached without a call.
///
/// The function pointers are taken in the constructor (in code), not read from a table in
/// memory: a kernel that runs at an address other than its link address (linked at its
/// physical address, running at its virtual one, as the demo kernels do) gets addresses where
/// the code now runs on targets whose code addresses are PC-relative (RISC-V medany, AArch64,
/// x86-64; see docs/freestanding.md for 32-bit Arm).
class MemRef {
 public:
  template <TableAccess A>
    requires(!std::is_same_v<std::remove_const_t<A>, MemRef>)
  explicit MemRef(A& a) : ctx_(const_cast<void*>(static_cast<const void*>(&a))) {
    using T = std::remove_const_t<A>;
    if constexpr (requires { a.direct_window(); }) {
      const DirectWindow w = a.direct_window();
      direct_ = true;
      offset_ = w.offset;
      lo_ = w.lo;
      bytes_ = w.bytes;
    } else {
      map_ = [](void* c, PhysAddr pa, std::size_t d) -> void* { return static_cast<T*>(c)->map(pa, d); };
      unmap_ = [](void* c, void* p, std::size_t d) { static_cast<T*>(c)->unmap(p, d); };
    }
    if constexpr (requires { requires T::kReservesExactly; }) exact_ = true;
    if constexpr (TableMemory<T>) {
      allocate_ = [](void* c, const TableRequest& r) -> std::optional<NewTable> { return static_cast<T*>(c)->allocate(r); };
      reserve_ = [](void* c, std::size_t n, const TableRequest& r) -> bool { return static_cast<T*>(c)->reserve(n, r); };
      release_ = [](void* c, PhysAddr pa, const TableRequest& r) { static_cast<T*>(c)->release(pa, r); };
    }
  }

  void* map(PhysAddr pa, std::size_t depth) const {
    if (direct_) return pa.value - lo_ < bytes_ ? reinterpret_cast<void*>(std::uintptr_t(pa.value) + offset_) : nullptr;
    return map_(ctx_, pa, depth);
  }
  void unmap(void* p, std::size_t depth) const {
    if (!direct_) unmap_(ctx_, p, depth);
  }
  std::optional<NewTable> allocate(const TableRequest& r) const {
    return allocate_ ? allocate_(ctx_, r) : std::nullopt;
  }
  bool reserve(std::size_t n, const TableRequest& r) const { return reserve_ && reserve_(ctx_, n, r); }
  /// Whether every table is reached at a fixed offset (direct_window()): map/unmap cost nothing.
  [[nodiscard]] bool direct() const { return direct_; }
  /// Whether reserve() is exact (`kReservesExactly`: the memory never breaks its promise).
  [[nodiscard]] bool exact() const { return exact_; }
  void release(PhysAddr pa, const TableRequest& r) const {
    if (release_) release_(ctx_, pa, r);
  }

 private:
  void* ctx_;
  void* (*map_)(void*, PhysAddr, std::size_t) = nullptr;
  void (*unmap_)(void*, void*, std::size_t) = nullptr;
  std::optional<NewTable> (*allocate_)(void*, const TableRequest&) = nullptr;
  bool (*reserve_)(void*, std::size_t, const TableRequest&) = nullptr;
  void (*release_)(void*, PhysAddr, const TableRequest&) = nullptr;
  bool direct_ = false;
  bool exact_ = false;
  std::uintptr_t offset_ = 0;
  std::uint64_t lo_ = 0, bytes_ = 0;
};

PTLIB_END_NAMESPACE
