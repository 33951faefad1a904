# CMake toolchain: freestanding x86_64 with clang and lld (see ptlib-freestanding.cmake).
#   cmake -DCMAKE_TOOLCHAIN_FILE=<ptlib>/cross/cmake/x86_64.cmake ...
set(PTLIB_TARGET x86_64)
include("${CMAKE_CURRENT_LIST_DIR}/ptlib-freestanding.cmake")
