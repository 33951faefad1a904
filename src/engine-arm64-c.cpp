// Engine instances, group 4: arm64 TTBR1 formats, 4K and 16K/47 (see engine.inc).
#define PTLIB_ENGINE_GROUP 4
#include "engine.inc"
