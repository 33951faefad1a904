// Engine instances, group 3 (see engine.inc).
#define PTLIB_ENGINE_GROUP 3
#include "engine.inc"
