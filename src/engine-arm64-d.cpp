// Engine instances, group 5: arm64 TTBR1 formats, 16K/48-52 and 64K (see engine.inc).
#define PTLIB_ENGINE_GROUP 5
#include "engine.inc"
