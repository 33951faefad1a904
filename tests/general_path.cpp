// The live and hostile differential run (differential_live.cpp) over the engine's general path:
// PTLIB_ONE_WALK=0 (config.hpp), the configuration of a kernel built for size, where every call
// goes through the dry run and the commit walk, including the one-page calls that the default
// build gives to the one-walk paths (fast_map, fast_leaf_table). The engine is instantiated here
// (header-only, not the compiled library, which always has the one-walk paths; the instances
// differ in a template argument, so both link into one program), for one format per family and
// the level-scrambling fake, so that this file compiles in a fraction of the full run's time.
#undef PTLIB_COMPILED_ENGINE
#define PTLIB_ONE_WALK 0
#define PTLIB_TEST_FEW_FORMATS 1
// As many operations per format as the full run gives each of its 19 formats (5 of 19 of its
// 25,000; scaled down by PTLIB_DIFF_OPS in CI's sanitizer stage as the full run is).
#define PTLIB_DIFF_LIVE_DEFAULT_OPS (25'000 * 5 / 19)
#include "differential_live.cpp"

static_assert(!ptlib::detail::kOneWalk, "this test must run the general path");
