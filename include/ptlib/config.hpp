// Build-time knobs of ptlib and the namespace macros; everything format-related is a template
// parameter, not a macro.
#pragma once

// ptlib is C++20 (concepts, <=>, consteval, designated initialisers). An older language mode gets
// one message here instead of pages of errors from C++20 syntax further down. MSVC reports the
// mode in _MSVC_LANG (its __cplusplus stays 199711L unless /Zc:__cplusplus).
#if defined(_MSVC_LANG)
#  define PTLIB_CPLUSPLUS _MSVC_LANG
#else
#  define PTLIB_CPLUSPLUS __cplusplus
#endif
#if PTLIB_CPLUSPLUS < 202002L
#  error "ptlib requires C++20 (__cplusplus >= 202002L): compile with -std=c++20 (MSVC: /std:c++20)"
// GCC and clang keep going after #error; a missing include is fatal to both, so nothing below
// (nor the C++20 code after this header) is parsed.
#  include "ptlib-requires-c++20"
#endif

// PTLIB_HEADER_ONLY: host-side helpers (dump text, error strings, attribute parsing) are compiled
// once in src/ (libptlib_host) by default.
//   0 (default): link ptlib_host_dep; src/*.cpp provide the out-of-line definitions.
//   1: the -inl.hpp definitions are included inline, nothing to link.
#ifdef PTLIB_HEADER_ONLY
// Use the provided definition.
#else
#  define PTLIB_HEADER_ONLY 0
#endif

// PTLIB_HOT marks the one-walk paths of one-page calls (a kernel's page-fault and vmalloc
// paths): everything they call is inlined into them, so that the level loop unrolls with each
// level's index, shift and decode folded to constants (-20 % instructions per call, measured
// with bench/percall.cpp). Not when optimising for size (-Os, -Oz): there it costs ~1.4 KB; not
// in sanitizer builds, which test behaviour, not speed (it adds ~12 % to their compile time).
#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define PTLIB_SANITIZED 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(PTLIB_SANITIZED)
#  define PTLIB_SANITIZED 1
#endif
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__OPTIMIZE_SIZE__) && !defined(PTLIB_SANITIZED)
#  define PTLIB_HOT [[gnu::flatten]]
#else
#  define PTLIB_HOT
#endif

// PTLIB_ONE_WALK: whether a header-only build gives one-table calls their one-walk paths
// (fast_map, fast_leaf_table in ops.hpp) or sends every call through the dry run and the commit
// walk. Results, errors and guarantees are the same either way; the one-walk paths make a
// one-page call about twice as fast and cost ~3 KB per format in a riscv64 kernel at -Os. On by
// default, off when optimising for size (-Os, -Oz: the kernel asked for size). Define it to 0 or
// 1 to choose. It selects different template instances, so translation units that differ in it
// can be linked together; the compiled library (PTLIB_COMPILED_ENGINE) always has them.
#if !defined(PTLIB_ONE_WALK)
#  if defined(__OPTIMIZE_SIZE__)
#    define PTLIB_ONE_WALK 0
#  else
#    define PTLIB_ONE_WALK 1
#  endif
#endif

#define PTLIB_VERSION_MAJOR 0
#define PTLIB_VERSION_MINOR 1

#define PTLIB_BEGIN_NAMESPACE namespace ptlib { inline namespace v0 {
#define PTLIB_END_NAMESPACE } }
