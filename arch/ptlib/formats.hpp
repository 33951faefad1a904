// Every paging format ptlib ships, in one list, by name: the type list for generic code and tests,
// and run-time selection by name (tools, and kernels that pick their format at boot).
#pragma once
#include <cstddef>
#include <tuple>

#include <ptlib/arm64.hpp>
#include <ptlib/clone.hpp>
#include <ptlib/armv7.hpp>
#include <ptlib/ptlib.hpp>
#include <ptlib/riscv.hpp>
#include <ptlib/share.hpp>
#include <ptlib/x86.hpp>

PTLIB_BEGIN_NAMESPACE

/// Every named format, in the order of the docs' format table.
using AllFormats = std::tuple<
    riscv::Sv32, riscv::Sv39, riscv::Sv48, riscv::Sv57,
    arm64::Vmsa4k39, arm64::Vmsa4k48, arm64::Vmsa4k52,
    arm64::Vmsa16k47, arm64::Vmsa16k48, arm64::Vmsa16k52,
    arm64::Vmsa64k42, arm64::Vmsa64k48, arm64::Vmsa64k52,
    x86::X86_32, x86::Pae, x86::Long4, x86::Long5,
    armv7::Lpae32>;

/// The named formats as a macro list (for explicit instantiation).
#define PTLIB_FOR_EACH_FORMAT(X)                                                                 \
  X(riscv::Sv32) X(riscv::Sv39) X(riscv::Sv48) X(riscv::Sv57)                                    \
  X(arm64::Vmsa4k39) X(arm64::Vmsa4k48) X(arm64::Vmsa4k52)                                       \
  X(arm64::Vmsa16k47) X(arm64::Vmsa16k48) X(arm64::Vmsa16k52)                                    \
  X(arm64::Vmsa64k42) X(arm64::Vmsa64k48) X(arm64::Vmsa64k52)                                    \
  X(x86::X86_32) X(x86::Pae) X(x86::Long4) X(x86::Long5) X(armv7::Lpae32)

/// The engine's compiled entry points for format F: `extern` (declared here, defined in the
/// compiled library libptlib_engine, src/engine_*.cpp) or empty (defined there).
#define PTLIB_ENGINE_INSTANCES(EXTERN, F)                                                         \
  EXTERN template Result<Report> detail::apply_erased<F>(const Tree<F>&, const MemRef&, detail::OpList,    \
                                                         const Options&, const SyncRef&);         \
  EXTERN template Result<Report> detail::apply_one<F>(const Tree<F>&, const MemRef&, const detail::AnyOp&,  \
                                                      const Options&, const SyncRef&);            \
  EXTERN template Result<std::size_t> detail::plan_erased<F>(const Tree<F>&, const MemRef&, detail::OpList, \
                                                             const Options&, bool);               \
  EXTERN template Result<void> detail::leaves_erased<F>(const Tree<F>&, MemRef, std::uint64_t, std::uint64_t, \
                                                        detail::LeafFn<F>);                      \
  EXTERN template Result<Translation<F>> detail::translate_erased<F>(const Tree<F>&, MemRef, VirtAddr);    \
  EXTERN template Validation detail::validate_erased<F>(const Tree<F>&, MemRef, const ValidateOptions&,      \
                                                        std::span<PhysAddr>);                \
  EXTERN template Result<Tree<F>> detail::copy_into_new_root<F>(const Tree<F>&, MemRef, MemRef, std::uint64_t,  \
                                                               std::uint64_t, std::size_t);                   \
  EXTERN template Result<Report> detail::modify_erased<F>(const Tree<F>&, MemRef, VirtAddr, std::uint64_t,      \
                                                          detail::ChangeFn<F>, const Options&, SyncRef);    \
  EXTERN template Result<Report> detail::preallocate_erased<F>(const Tree<F>&, MemRef, VirtAddr, std::uint64_t, \
                                                               const Options&, SyncRef, std::size_t);       \
  EXTERN template Result<PreallocPlan<F>> detail::plan_preallocate_at<F, MemRef>(const Tree<F>&, MemRef&,     \
                                                                                VirtAddr, std::uint64_t,    \
                                                                                std::size_t);               \
  EXTERN template Result<SyncReport> detail::mirror_erased<F>(const Tree<F>&, std::span<const PhysAddr>, MemRef, \
                                                              std::uint64_t, std::uint64_t, std::uint64_t,   \
                                                              std::uint64_t, std::size_t, const Options&,    \
                                                              SyncRef);                                      \
  EXTERN template Result<void> detail::release_private_erased<F>(MemRef, typename F::Entry*, std::uint64_t,   \
                                                                 std::uint64_t, std::size_t);

/// The TTBR1 (upper VA range) counterparts of the named arm64 formats: the same descriptors
/// and levels, translating [2^64 - 2^VaBits, 2^64). Compiled into the engine library too (the C
/// API offers them as formats of their own; their names carry a "-ttbr1" suffix there).
namespace arm64 {
using Vmsa4k39Ttbr1 = Vmsa<Granule::k4K, 39, VaRule::high>;
using Vmsa4k48Ttbr1 = Vmsa<Granule::k4K, 48, VaRule::high>;
using Vmsa4k52Ttbr1 = Vmsa<Granule::k4K, 52, VaRule::high>;
using Vmsa16k47Ttbr1 = Vmsa<Granule::k16K, 47, VaRule::high>;
using Vmsa16k48Ttbr1 = Vmsa<Granule::k16K, 48, VaRule::high>;
using Vmsa16k52Ttbr1 = Vmsa<Granule::k16K, 52, VaRule::high>;
using Vmsa64k42Ttbr1 = Vmsa<Granule::k64K, 42, VaRule::high>;
using Vmsa64k48Ttbr1 = Vmsa<Granule::k64K, 48, VaRule::high>;
using Vmsa64k52Ttbr1 = Vmsa<Granule::k64K, 52, VaRule::high>;
}  // namespace arm64
#define PTLIB_FOR_EACH_TTBR1_FORMAT(X)                                                           \
  X(arm64::Vmsa4k39Ttbr1) X(arm64::Vmsa4k48Ttbr1) X(arm64::Vmsa4k52Ttbr1)                        \
  X(arm64::Vmsa16k47Ttbr1) X(arm64::Vmsa16k48Ttbr1) X(arm64::Vmsa16k52Ttbr1)                     \
  X(arm64::Vmsa64k42Ttbr1) X(arm64::Vmsa64k48Ttbr1) X(arm64::Vmsa64k52Ttbr1)

// With PTLIB_COMPILED_ENGINE (set by the ptlib-engine dependency), code that includes this header
// links the engine compiled once per format instead of instantiating it in every translation unit.
#if defined(PTLIB_COMPILED_ENGINE)
#define PTLIB_EXTERN_ENGINE(F) PTLIB_ENGINE_INSTANCES(extern, F)
PTLIB_FOR_EACH_FORMAT(PTLIB_EXTERN_ENGINE)
PTLIB_FOR_EACH_TTBR1_FORMAT(PTLIB_EXTERN_ENGINE)
#undef PTLIB_EXTERN_ENGINE
#endif

inline constexpr std::size_t kFormatCount = std::tuple_size_v<AllFormats>;

namespace detail {
constexpr bool name_equal(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}
template <class Fn, std::size_t... I>
constexpr bool with_format_impl(const char* name, Fn& fn, std::index_sequence<I...>) {
  bool found = false;
  ((!found && name_equal(std::tuple_element_t<I, AllFormats>::kName, name)
        ? (fn.template operator()<std::tuple_element_t<I, AllFormats>>(), found = true)
        : false),
   ...);
  return found;
}
template <std::size_t... I>
constexpr std::array<const char*, sizeof...(I)> names_impl(std::index_sequence<I...>) {
  return {std::tuple_element_t<I, AllFormats>::kName...};
}
}  // namespace detail

/// The formats' names, in AllFormats order ("sv39", "arm64-4k-48", "x86-pae", ...).
inline constexpr auto kFormatNames = detail::names_impl(std::make_index_sequence<kFormatCount>{});

/// Calls `fn.template operator()<F>()` for the format named `name`. Returns false (and calls
/// nothing) when no format has that name. Example:
///     with_format("sv48", [&]<class F>() { auto t = make_tree<F>(arena); ... });
template <class Fn>
constexpr bool with_format(const char* name, Fn&& fn) {
  return detail::with_format_impl(name, fn, std::make_index_sequence<kFormatCount>{});
}

PTLIB_END_NAMESPACE
