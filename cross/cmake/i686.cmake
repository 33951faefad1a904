# CMake toolchain: freestanding i686 with clang and lld (see ptlib-freestanding.cmake).
#   cmake -DCMAKE_TOOLCHAIN_FILE=<ptlib>/cross/cmake/i686.cmake ...
set(PTLIB_TARGET i686)
include("${CMAKE_CURRENT_LIST_DIR}/ptlib-freestanding.cmake")
