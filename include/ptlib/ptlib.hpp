// The whole generic API of ptlib (no architecture): formats contract, memory, walker, map.
// Formats live under arch/ (<ptlib/riscv.hpp>, <ptlib/arm64.hpp>, <ptlib/x86.hpp>,
// <ptlib/armv7.hpp>; all of them by name in <ptlib/formats.hpp>).
#pragma once
#include "config.hpp"  // first: it stops a pre-C++20 compiler with one message
#include "addr.hpp"
#include "apply.hpp"
#include "attrs.hpp"
#include "error_text.hpp"
#include "format.hpp"
#include "ops.hpp"
#include "memory.hpp"
#include "result.hpp"
#include "sync.hpp"
#include "validate.hpp"
#include "walk.hpp"
