// The sync hook: how the engine makes table writes visible to the hardware walker and keeps TLBs
// coherent when it changes entries of a live tree. No instruction lives here: kernels implement
// the hook with their barriers and TLB invalidations (arch/<isa> cpu code); hosts record calls.
#pragma once
#include <cstdint>

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

PTLIB_END_NAMESPACE
