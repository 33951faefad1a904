// Engine instances, group 1 (see engine.inc).
#define PTLIB_ENGINE_GROUP 1
#include "engine.inc"
