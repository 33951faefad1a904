// The memory functions compilers call even in freestanding code (docs/freestanding.md,
// section 5), compiled once per demo kernel: the example kernels' byte loops.
#include "../../examples/kernel/libc.hpp"
