// What each example kernel needs besides ptlib, the same on every architecture: the memory
// functions compilers call in freestanding code (libc.hpp), text output over the kernel's putc(),
// check(), which stops the kernel with ptlib's error when a call failed, the image's sections
// from the linker script, and the last step (a read through the linear map, the verdict line).
// Include it in exactly one translation unit (libc.hpp defines memset and friends).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include <ptlib/maps.hpp>
#include <ptlib/result.hpp>

#include "libc.hpp"

// The image's bounds, from link.ld: every section start is page-aligned (map_image() maps whole
// pages); data runs to __image_end with .bss and the stack.
extern "C" char __image_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __image_end[];

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

/// Where the image is loaded (it runs there: linked at its load address) and its sections for
/// ptlib::map_image(): text r-x, rodata r--, data rw- no-exec.
struct Image {
  std::uint64_t load = 0;
  std::array<ptlib::Section, 3> sections{};
};
inline Image image() {
  const auto load = std::uint64_t(reinterpret_cast<std::uintptr_t>(__image_start));
  auto at = [&](const char* sym) { return std::uint64_t(reinterpret_cast<std::uintptr_t>(sym)) - load; };
  return {load,
          {{{"text", 0, at(__text_end), ptlib::SectionKind::text},
            {"rodata", at(__rodata_start), at(__rodata_end) - at(__rodata_start), ptlib::SectionKind::rodata},
            {"data", at(__data_start), at(__image_end) - at(__data_start), ptlib::SectionKind::data}}}};
}

/// ", N tables from a B-byte pool".
template <class Pool>
void put_pool(Pool& pool) {
  puts(", ");
  put_dec(pool.tables_in_use());
  puts(" tables from a ");
  put_dec(pool.capacity());
  puts("-byte pool");
}

/// The last step: the same RAM at two addresses (a word of .data, and its alias at
/// linear_offset in the linear map), then the verdict line the test suite reads, and exit.
[[noreturn]] inline void finish(const char* name, std::uint64_t linear_offset, bool ok = true) {
  static volatile std::uint64_t word = 0x5a5a'1234'5678'a5a5ULL;
  const auto alias = std::uintptr_t(reinterpret_cast<std::uintptr_t>(&word) + linear_offset);
  const bool same = *reinterpret_cast<volatile std::uint64_t*>(alias) == word;
  puts(same ? "the linear map reads what the image wrote\n" : "the linear-map alias reads otherwise\n");
  puts(same && ok ? "PASS " : "FAIL ");
  puts(name);
  puts("\n");
  exit(same && ok);
}

}  // namespace example

