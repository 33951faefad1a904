// CPU helpers for a RISC-V S-mode kernel (optional part of ptlib, inline asm, RV32 and RV64):
// write satp with the value ptlib computes, SFENCE.VMA by address / ASID / everything, and a
// ready SyncHook for live edits. The engine never includes this header.
//
// Sources: The RISC-V Instruction Set Manual, Volume II: Privileged Architecture, 20211203
// ("priv"):
//  - 4.1.11 satp: a write with a MODE the hart does not implement has no effect (satp keeps its
//    old value), so reading satp back tells whether the mode took; ASIDLEN may be smaller than
//    the field (the unimplemented ASID bits read 0).
//  - 4.2.1 SFENCE.VMA: the walker's implicit reads are not ordered with the hart's own stores;
//    SFENCE.VMA orders the stores before later implicit references of this hart and drops cached
//    translations. rs1 = x0, rs2 = x0: every level, every address space. rs1 = va, rs2 = x0: the
//    leaf entries for va, every address space. rs1 = x0, rs2 = asid: every level for that ASID,
//    global mappings excepted. rs1 = va, rs2 = asid: the leaf entries for va in that ASID, global
//    mappings excepted. "If software modifies a non-leaf PTE, it should execute SFENCE.VMA with
//    rs1 = x0". Without the Svvptc extension, a store that makes an entry valid need not reach
//    this hart's walker before an SFENCE.VMA either, so a new mapping is fenced too. SFENCE.VMA
//    acts on this hart only: other harts are reached through an IPI or the SBI RFENCE extension
//    (sbi_remote_sfence_vma), not here.
//  - 4.1.11, note on writing satp: it orders nothing between table updates and later
//    translations; an SFENCE.VMA may be needed after, or in some cases before, the write. The
//    helpers fence on both sides.
#pragma once
#if !defined(__riscv)
#error "<ptlib/cpu/riscv.hpp> holds RISC-V instructions: include it only in RISC-V kernel code"
#endif
#include <cstdint>

#include <ptlib/riscv_boot.hpp>
#include <ptlib/sync.hpp>

PTLIB_BEGIN_NAMESPACE
namespace riscv::cpu {

using reg = std::uintptr_t;  ///< an XLEN-wide CSR value

inline reg read_satp() {
  reg v;
  asm volatile("csrr %0, satp" : "=r"(v)::"memory");
  return v;
}
/// Writes satp as it is, with no fence (see activate()).
inline void write_satp(reg v) { asm volatile("csrw satp, %0" ::"r"(v) : "memory"); }

/// SFENCE.VMA x0, x0: every cached translation of this hart, every level and address space.
inline void sfence_vma_all() { asm volatile("sfence.vma zero, zero" ::: "memory"); }
/// SFENCE.VMA va, x0: the leaf translations of `va`, every address space.
inline void sfence_vma(reg va) { asm volatile("sfence.vma %0, zero" ::"r"(va) : "memory"); }
/// SFENCE.VMA x0, asid: every level, for one ASID; global mappings are kept.
inline void sfence_vma_asid(reg asid) { asm volatile("sfence.vma zero, %0" ::"r"(asid) : "memory"); }
/// SFENCE.VMA va, asid: the leaf translations of `va` in one ASID; global mappings are kept.
inline void sfence_vma(reg va, reg asid) { asm volatile("sfence.vma %0, %1" ::"r"(va), "r"(asid) : "memory"); }
/// FENCE W, W: this hart's earlier stores before its later stores, for every other observer (the
/// table's contents before the entry that links it; Linux's smp_wmb() in pmd_install()).
inline void fence_w_w() { asm volatile("fence w, w" ::: "memory"); }

/// Turns translation on (or switches it) to `tree` with address-space id `asid`: satp from
/// ptlib::riscv::satp(), written between two SFENCE.VMA x0, x0, then read back.
/// Returns the value written. Errors: those of riscv::satp() (nothing is written), and
/// mode_not_supported when satp reads back with another MODE or root (the hart does not
/// implement the format: satp keeps its old value, priv 4.1.11).
/// Call it from code mapped at the same VA before and after (an identity map, or the same
/// kernel half in both trees).
template <PagingFormat F>
Result<reg> activate(const Tree<F>& tree, std::uint32_t asid = 0) {
  static_assert(sizeof(SatpValue<F>) == sizeof(reg), "Sv32 needs an RV32 hart, Sv39/48/57 an RV64 hart");
  auto v = satp(tree, asid);
  if (!v) return v.error();
  const reg want = reg(*v);
  sfence_vma_all();
  write_satp(want);
  sfence_vma_all();
  // MODE and PPN must read back as written; the ASID field may hold fewer bits (ASIDLEN).
  constexpr reg asid_field = reg(sizeof(reg) == 4 ? 0x1ffULL << 22 : 0xffffULL << 44);
  if ((read_satp() & ~asid_field) != (want & ~asid_field))
    return make_error(Errc::mode_not_supported, VirtAddr{}, tree.root);
  return want;
}

/// ptlib's sync hook for a tree this hart translates through (Options::live):
///  - publish(): FENCE W, W, so other harts' walkers see a table's contents before the entry
///    that links it; this hart's own walker is ordered by the SFENCE.VMA of invalidate().
///  - invalidate(va, size): SFENCE.VMA va per 4 KiB page (leaf entries, every ASID), or one
///    SFENCE.VMA x0, x0 above kMaxPages pages. ptlib changes a non-leaf entry (a table linked
///    into a block's place, a table released) only with the range of a whole table: at least
///    2 MiB (4 MiB on Sv32), over kMaxPages, so those always get the full fence that priv 4.2.1
///    asks for non-leaf changes.
/// ptlib calls invalidate() for every valid entry it changes. A new mapping over an invalid
/// entry is not invalidated by the engine: call invalidate(va, size) after a live map() on harts
/// without Svvptc. This hart only: other harts need a remote fence (IPI, SBI RFENCE).
struct TlbSync {
  static constexpr std::uint64_t kPage = 4096, kMaxPages = 64;
  static_assert(kMaxPages * kPage < (2ULL << 20), "a non-leaf change must always take the full fence");
  void publish() { fence_w_w(); }
  void invalidate(VirtAddr va, std::uint64_t size) {
    for_each_page_or_all(va, size, kPage, kMaxPages, [](std::uint64_t a) { sfence_vma(reg(a)); }, sfence_vma_all);
  }
};
static_assert(SyncHook<TlbSync>);

}  // namespace riscv::cpu
PTLIB_END_NAMESPACE
