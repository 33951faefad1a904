// Build-time knobs of ptlib and the namespace macros; everything format-related is a template
// parameter, not a macro.
#pragma once

// PTLIB_HEADER_ONLY: host-side helpers (dump text, error strings, attribute parsing) are compiled
// once in src/ (libptlib_host) by default.
//   0 (default): link ptlib_host_dep; src/*.cpp provide the out-of-line definitions.
//   1: the -inl.hpp definitions are included inline, nothing to link.
#ifdef PTLIB_HEADER_ONLY
// Use the provided definition.
#else
#  define PTLIB_HEADER_ONLY 0
#endif

#define PTLIB_VERSION_MAJOR 0
#define PTLIB_VERSION_MINOR 1

#define PTLIB_BEGIN_NAMESPACE namespace ptlib { inline namespace v0 {
#define PTLIB_END_NAMESPACE } }
