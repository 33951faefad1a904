// Engine instances, group 2 (see engine.inc).
#define PTLIB_ENGINE_GROUP 2
#include "engine.inc"
