// The memory functions compilers call even in freestanding code, for struct copies, `T{}` and
// large initialisers (docs/freestanding.md, section 5): byte loops, marked no_builtin so the
// compiler does not turn them back into calls to themselves. Include it in exactly one
// translation unit of a kernel (the example kernels through support.hpp; the demo kernels
// through demo/common/libc.cpp).
#pragma once
#include <cstddef>

extern "C" {

__attribute__((no_builtin)) void* memset(void* d, int c, std::size_t n) {
  auto* p = static_cast<unsigned char*>(d);
  while (n--) *p++ = static_cast<unsigned char>(c);
  return d;
}

__attribute__((no_builtin)) void* memcpy(void* __restrict d, const void* __restrict s, std::size_t n) {
  auto* p = static_cast<unsigned char*>(d);
  const auto* q = static_cast<const unsigned char*>(s);
  while (n--) *p++ = *q++;
  return d;
}

__attribute__((no_builtin)) void* memmove(void* d, const void* s, std::size_t n) {
  auto* p = static_cast<unsigned char*>(d);
  const auto* q = static_cast<const unsigned char*>(s);
  if (p < q) {
    while (n--) *p++ = *q++;
  } else {
    while (n--) p[n] = q[n];
  }
  return d;
}

__attribute__((no_builtin)) int memcmp(const void* a, const void* b, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(a);
  const auto* q = static_cast<const unsigned char*>(b);
  for (; n; --n, ++p, ++q)
    if (*p != *q) return *p < *q ? -1 : 1;
  return 0;
}

}  // extern "C"
