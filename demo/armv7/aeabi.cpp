// The memory helpers the ARM EABI run-time ABI defines and clang calls for struct copies and
// zeroing on arm-none-eabi (ARM IHI 0043, "Run-time ABI for the ARM Architecture", 4.3.4:
// __aeabi_memcpy/memmove/memset/memclr and their 4- and 8-byte-aligned variants; note memset's
// argument order: destination, size, value). They forward to demo/common/libc.cpp.
#include <cstddef>

extern "C" {
void* memcpy(void* d, const void* s, std::size_t n);
void* memmove(void* d, const void* s, std::size_t n);
void* memset(void* d, int c, std::size_t n);

void __aeabi_memcpy(void* d, const void* s, std::size_t n) { memcpy(d, s, n); }
void __aeabi_memmove(void* d, const void* s, std::size_t n) { memmove(d, s, n); }
void __aeabi_memset(void* d, std::size_t n, int c) { memset(d, c, n); }
void __aeabi_memclr(void* d, std::size_t n) { memset(d, 0, n); }

void __aeabi_memcpy4(void* d, const void* s, std::size_t n) __attribute__((alias("__aeabi_memcpy")));
void __aeabi_memcpy8(void* d, const void* s, std::size_t n) __attribute__((alias("__aeabi_memcpy")));
void __aeabi_memmove4(void* d, const void* s, std::size_t n) __attribute__((alias("__aeabi_memmove")));
void __aeabi_memmove8(void* d, const void* s, std::size_t n) __attribute__((alias("__aeabi_memmove")));
void __aeabi_memset4(void* d, std::size_t n, int c) __attribute__((alias("__aeabi_memset")));
void __aeabi_memset8(void* d, std::size_t n, int c) __attribute__((alias("__aeabi_memset")));
void __aeabi_memclr4(void* d, std::size_t n) __attribute__((alias("__aeabi_memclr")));
void __aeabi_memclr8(void* d, std::size_t n) __attribute__((alias("__aeabi_memclr")));
}
