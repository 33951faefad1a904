# CMake toolchain: freestanding riscv32 with clang and lld (see ptlib-freestanding.cmake).
#   cmake -DCMAKE_TOOLCHAIN_FILE=<ptlib>/cross/cmake/riscv32.cmake ...
set(PTLIB_TARGET riscv32)
include("${CMAKE_CURRENT_LIST_DIR}/ptlib-freestanding.cmake")
