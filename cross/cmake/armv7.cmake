# CMake toolchain: freestanding armv7 with clang and lld (see ptlib-freestanding.cmake).
#   cmake -DCMAKE_TOOLCHAIN_FILE=<ptlib>/cross/cmake/armv7.cmake ...
set(PTLIB_TARGET armv7)
include("${CMAKE_CURRENT_LIST_DIR}/ptlib-freestanding.cmake")
