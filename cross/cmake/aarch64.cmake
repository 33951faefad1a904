# CMake toolchain: freestanding aarch64 with clang and lld (see ptlib-freestanding.cmake).
#   cmake -DCMAKE_TOOLCHAIN_FILE=<ptlib>/cross/cmake/aarch64.cmake ...
set(PTLIB_TARGET aarch64)
include("${CMAKE_CURRENT_LIST_DIR}/ptlib-freestanding.cmake")
