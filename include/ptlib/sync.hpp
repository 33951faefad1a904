// The sync hook: how the engine makes table writes visible to the hardware walker and keeps TLBs
// coherent when it changes entries of a live tree. No instruction lives here: kernels implement
// the hook with their barriers and TLB invalidations (arch/<isa> cpu code); hosts record calls.
#pragma once
#include <cstdint>
#include <type_traits>

#include "addr.hpp"

PTLIB_BEGIN_NAMESPACE

/// A sync hook.
///   publish()               -> table writes so far must be visible to the page-table walker
///                              before any later write (arm64 DSB ISHST, RISC-V fence, x86 none);
///   invalidate(va, size)    -> drop TLB entries for [va, va + size) (TLBI VA / sfence.vma /
///                              invlpg), and wait for completion.
/// Used only with a live policy (Options::live); the engine calls nothing for offline trees.
/// Exemplar: NoSync (does nothing); tests use a recorder.
template <class S>
concept SyncHook = requires(S& s, VirtAddr va, std::uint64_t size) {
  { s.publish() } -> std::same_as<void>;
  { s.invalidate(va, size) } -> std::same_as<void>;
};

/// The hook for trees no CPU is using (being built, or for another machine).
struct NoSync {
  void publish() {}
  void invalidate(VirtAddr, std::uint64_t) {}
};
static_assert(SyncHook<NoSync>);

/// For TLB sync hooks (the CPU helpers' TlbSync, <ptlib/cpu/*.hpp>): page(va) for each page of
/// [va, va + size) when that is at most `max_pages` pages of `page_size` bytes, else all() once.
template <class Page, class All>
void for_each_page_or_all(VirtAddr va, std::uint64_t size, std::uint64_t page_size, std::uint64_t max_pages, Page&& page,
                          All&& all) {
  if (size > max_pages * page_size) return all();
  for (std::uint64_t off = 0; off < size; off += page_size) page(va.value + off);
}

/// A type-erased sync hook (context + two functions), so the engine is compiled once per
/// format whatever hook a caller uses. NoSync erases to nothing.
class SyncRef {
 public:
  SyncRef() = default;
  template <SyncHook S>
  explicit SyncRef(S& s) {
    if constexpr (!std::is_same_v<std::remove_const_t<S>, NoSync>) {
      ctx_ = const_cast<void*>(static_cast<const void*>(&s));
      publish_ = [](void* c) { static_cast<std::remove_const_t<S>*>(c)->publish(); };
      invalidate_ = [](void* c, VirtAddr va, std::uint64_t n) { static_cast<std::remove_const_t<S>*>(c)->invalidate(va, n); };
    }
  }
  void publish() const {
    if (publish_) publish_(ctx_);
  }
  void invalidate(VirtAddr va, std::uint64_t size) const {
    if (invalidate_) invalidate_(ctx_, va, size);
  }

 private:
  void* ctx_ = nullptr;
  void (*publish_)(void*) = nullptr;
  void (*invalidate_)(void*, VirtAddr, std::uint64_t) = nullptr;
};

PTLIB_END_NAMESPACE
