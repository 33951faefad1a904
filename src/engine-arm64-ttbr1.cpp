// Engine instances, group 4: the arm64 TTBR1 formats (see engine.inc).
#define PTLIB_ENGINE_GROUP 4
#include "engine.inc"
