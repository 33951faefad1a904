# CMake toolchain: ptlib in a freestanding program (kernel, bootloader) built with clang and lld.
# Set PTLIB_TARGET (riscv64, riscv32, aarch64, armv7, x86_64, i686) before including this file,
# or use the per-target files next to it:
#   cmake -S . -B build-riscv64 -DCMAKE_TOOLCHAIN_FILE=<ptlib>/cross/cmake/riscv64.cmake
# The flags are the ones of cross/meson/<target>.ini; docs/freestanding.md explains each.
# Objects and static libraries build as is; an executable needs your linker script and entry code
# (target_link_options(kernel PRIVATE -T ${CMAKE_SOURCE_DIR}/link.ld)).
if(NOT PTLIB_TARGET)
  message(FATAL_ERROR "ptlib-freestanding.cmake: set PTLIB_TARGET (riscv64, riscv32, aarch64, armv7, x86_64, i686)")
endif()

if(PTLIB_TARGET STREQUAL "riscv64")
  set(_ptlib_triple riscv64-unknown-elf)
  set(_ptlib_processor riscv64)
  set(_ptlib_args -march=rv64imac -mabi=lp64 -mcmodel=medany)
elseif(PTLIB_TARGET STREQUAL "riscv32")
  set(_ptlib_triple riscv32-unknown-elf)
  set(_ptlib_processor riscv32)
  set(_ptlib_args -march=rv32imac -mabi=ilp32 -mcmodel=medany)
elseif(PTLIB_TARGET STREQUAL "aarch64")
  set(_ptlib_triple aarch64-unknown-elf)
  set(_ptlib_processor aarch64)
  set(_ptlib_args -mgeneral-regs-only -mstrict-align)
elseif(PTLIB_TARGET STREQUAL "armv7")
  set(_ptlib_triple armv7a-none-eabi)
  set(_ptlib_processor armv7-a)
  set(_ptlib_args -mcpu=cortex-a15 -marm -mfloat-abi=soft -mno-unaligned-access)
elseif(PTLIB_TARGET STREQUAL "x86_64")
  set(_ptlib_triple x86_64-unknown-elf)
  set(_ptlib_processor x86_64)
  set(_ptlib_args -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-avx)
elseif(PTLIB_TARGET STREQUAL "i686")
  set(_ptlib_triple i686-unknown-elf)
  set(_ptlib_processor i686)
  set(_ptlib_args -mno-sse -mno-sse2 -mno-mmx -mno-avx)
else()
  message(FATAL_ERROR "ptlib-freestanding.cmake: unknown PTLIB_TARGET '${PTLIB_TARGET}'")
endif()

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR ${_ptlib_processor})
set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_ASM_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET ${_ptlib_triple})
set(CMAKE_CXX_COMPILER_TARGET ${_ptlib_triple})
set(CMAKE_ASM_COMPILER_TARGET ${_ptlib_triple})
set(CMAKE_AR llvm-ar CACHE FILEPATH "")
set(CMAKE_RANLIB llvm-ranlib CACHE FILEPATH "")
set(CMAKE_OBJCOPY llvm-objcopy CACHE FILEPATH "")
# The compiler checks cannot link a program without your start code and linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# The host's libstdc++ 12 headers (Debian 12) and the shim that lets them work without glibc.
set(PTLIB_LIBSTDCXX_INCLUDE "/usr/include/c++/12" CACHE PATH "libstdc++ headers used freestanding")
set(PTLIB_LIBSTDCXX_CONFIG_INCLUDE "/usr/include/x86_64-linux-gnu/c++/12" CACHE PATH
  "directory of libstdc++'s bits/c++config.h")
get_filename_component(_ptlib_shim "${CMAKE_CURRENT_LIST_DIR}/../shim" ABSOLUTE)

string(JOIN " " _ptlib_flags ${_ptlib_args}
  -ffreestanding -fno-stack-protector -nostdlib -nostdlibinc)
set(CMAKE_C_FLAGS_INIT "${_ptlib_flags}")
set(CMAKE_ASM_FLAGS_INIT "${_ptlib_flags}")
set(CMAKE_CXX_FLAGS_INIT "${_ptlib_flags} -fno-exceptions -fno-rtti -fno-threadsafe-statics \
-isystem ${PTLIB_LIBSTDCXX_INCLUDE} -isystem ${PTLIB_LIBSTDCXX_CONFIG_INCLUDE} -isystem ${_ptlib_shim}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -fuse-ld=lld")

# Libraries and headers for the target come from your project, not from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
