// The engine for the level-scrambling fake format, compiled once for every test (see
// src/engine.inc for the named formats).
#define PTLIB_FAKE_ENGINE_DEFINITION
#include "memory.hpp"

PTLIB_BEGIN_NAMESPACE
PTLIB_ENGINE_INSTANCES(, fake::Scrambled)
PTLIB_END_NAMESPACE
