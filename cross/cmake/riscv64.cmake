# CMake toolchain: freestanding riscv64 with clang and lld (see ptlib-freestanding.cmake).
#   cmake -DCMAKE_TOOLCHAIN_FILE=<ptlib>/cross/cmake/riscv64.cmake ...
set(PTLIB_TARGET riscv64)
include("${CMAKE_CURRENT_LIST_DIR}/ptlib-freestanding.cmake")
