// Self-relocation of a demo kernel image linked as a static PIE (ld.lld -pie): code is
// PC-relative, but data that holds pointers (the GOT, tables of string pointers, the exception
// table...) holds link-time addresses, listed in .rel.dyn (i386) / .rela.dyn (x86-64) as
// R_386_RELATIVE / R_X86_64_RELATIVE entries. Before the image moves to its high VA every such
// word is rewritten for the new address, so nothing keeps pointing at the identity alias that
// the final tables no longer map.
//
// Source: System V ABI i386 supplement (R_386_RELATIVE = 8: B + A, the addend stored in place)
// and AMD64 psABI 4.4 (R_X86_64_RELATIVE = 8: B + A, the addend in the Rela entry).
#pragma once
#include <cstdint>

namespace x86demo {

#ifdef __x86_64__
struct Rel {
  std::uint64_t offset, info;
  std::int64_t addend;
  std::uint32_t type() const { return std::uint32_t(info); }  // ELF64_R_TYPE
};
#else
struct Rel {
  std::uint32_t offset, info;
  std::uint32_t type() const { return info & 0xff; }  // ELF32_R_TYPE
};
#endif
inline constexpr std::uint32_t kRelRelative = 8;

}  // namespace x86demo

// From the linker script; hidden so that the compiler reaches them PC-relative.
extern "C" [[gnu::visibility("hidden")]] const x86demo::Rel __rel_start[], __rel_end[];
extern "C" [[gnu::visibility("hidden")]] char __image_start[];

namespace x86demo {

/// Rewrites every relative relocation of the image, which runs (and is writable) at `running`,
/// for the image's first byte to be at `target`. The image was linked at __image_start's link
/// address `linked`. Returns false (changing nothing more) at a relocation of another type.
inline bool relocate(std::uintptr_t running, std::uintptr_t linked, std::uint64_t target) {
  for (const Rel* r = __rel_start; r != __rel_end; ++r) {
    if (r->type() != kRelRelative) return false;
    const std::uintptr_t at = running + (r->offset - linked);
#ifdef __x86_64__
    *reinterpret_cast<std::uint64_t*>(at) = target + std::uint64_t(r->addend);
#else
    auto* w = reinterpret_cast<std::uint32_t*>(at);
    *w = std::uint32_t(*w - linked + target);  // in place: the link-time address
#endif
  }
  return true;
}

}  // namespace x86demo
