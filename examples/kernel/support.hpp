// What each example kernel needs besides ptlib, the same on every architecture: the memory
// functions compilers call in freestanding code, text output over the kernel's putc(), and
// check(), which stops the kernel with ptlib's error when a call failed. Include it in exactly
// one translation unit (it defines memset, memcpy and memmove).
#pragma once
#include <cstddef>
#include <cstdint>

#include <ptlib/result.hpp>

namespace example {

void putc(char c);                  ///< one byte to the console (each kernel.cpp defines it)
[[noreturn]] void exit(bool pass);  ///< ends the machine (QEMU's exit device)

inline void puts(const char* s) {
  while (*s) putc(*s++);
}
inline void put_hex(std::uint64_t v) {
  puts("0x");
  for (int i = 60; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 0xf]);
}
/// Decimal, one machine word (a 64-bit division would need a libgcc helper on 32-bit targets).
inline void put_dec(std::uintptr_t v) {
  char buf[24];
  std::size_t n = 0;
  do buf[n++] = char('0' + v % 10);
  while ((v /= 10) != 0);
  while (n) putc(buf[--n]);
}

/// Goes on when `r` holds a value; otherwise prints what failed with ptlib's error (code, text,
/// VA, PA, level) and ends the machine with a failure.
template <class R>
void check(const R& r, const char* what) {
  if (r) return;
  const ptlib::Error& e = r.error();
  puts("error: ");
  puts(what);
  puts(": ");
  puts(ptlib::name(e.code));
  puts(" (");
  puts(ptlib::describe(e.code));
  puts(") va=");
  put_hex(e.va.value);
  puts(" pa=");
  put_hex(e.pa.value);
  if (e.has_level() && e.level_name) {
    puts(" level ");
    puts(e.level_name);
  }
  puts("\n");
  exit(false);
}

}  // namespace example

// Compilers call these for struct copies and large initialisers even in freestanding code
// (docs/freestanding.md, section 5). no_builtin keeps the loops from becoming calls to themselves.
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
}
