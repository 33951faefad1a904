// The compiled host-side helpers of ptlib (see src/include/ptlib/host.hpp).
#include "ptlib/host-inl.hpp"
