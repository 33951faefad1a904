// Engine instances, group 0 (see engine.inc).
#define PTLIB_ENGINE_GROUP 0
#include "engine.inc"
