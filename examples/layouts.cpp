// Example (the README's main job): builds page tables for one sample kernel layout in every
// format through the one engine, and prints a readable summary of each tree.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include <ptlib/formats.hpp>
#include <ptlib/host.hpp>

namespace {
using namespace ptlib;

/// Every optional leaf feature on: 1 GiB pages, Svpbmt/Svnapot, PAT write-combining.
template <class F>
typename F::Caps all_caps() {
  typename F::Caps c{};
  if constexpr (requires { c.page1g; }) c.page1g = true;
  if constexpr (requires { c.svpbmt; }) c.svpbmt = true;
  if constexpr (requires { c.svnapot; }) c.svnapot = true;
  if constexpr (requires { c.pat; }) c.pat = true;
  return c;
}

struct Piece {
  const char* what;
  std::uint64_t va, pa, size;
  Attrs attrs;
};

/// A small kernel layout placed for the format's VA range: a user page, the kernel image (text,
/// rodata, data) at its own VA, a linear map of RAM with the largest blocks, and a UART.
template <class F>
std::vector<Piece> sample_layout() {
  using G = Geometry<F>;
  constexpr Attrs text{Perm::read | Perm::exec | Perm::global};
  constexpr Attrs rodata{Perm::read | Perm::global};
  constexpr Attrs data{Perm::read | Perm::write | Perm::global};
  constexpr Attrs user{Perm::read | Perm::write | Perm::user};
  constexpr Attrs uart{Perm::read | Perm::write | Perm::global, MemType::device};
  if constexpr (G::kVaBits <= 32) {
    // 32-bit: user low, image at 2 GiB, 512 MiB of RAM at 3 GiB, UART in the last page.
    return {{"user", 0x0040'0000, 0x8400'0000, 0x1'0000, user},
            {"text", 0x8000'0000, 0x8020'0000, 0x20'0000, text},
            {"rodata", 0x8020'0000, 0x8040'0000, 0x10'0000, rodata},
            {"data", 0x8030'0000, 0x8050'0000, 0x10'0000, data},
            {"linear", 0xC000'0000, 0x8000'0000, 0x2000'0000, data},
            {"uart", 0x1'0000'0000 - G::kPageSize, 0x1000'0000, G::kPageSize, uart}};
  } else {
    // 64-bit: user low; 4 GiB of RAM linear at the start of the kernel half (the upper half of
    // the VA range); the image 2 GiB below the top; the UART 2 MiB below the image.
    const std::uint64_t half = std::uint64_t{1} << (G::kVaBits - 1);
    const std::uint64_t linear = G::to_va(half).value;
    const std::uint64_t image = G::to_va(G::kVaMask + 1 - (std::uint64_t{2} << 30)).value;
    return {{"user", 0x0040'0000, 0x8400'0000, 0x1'0000, user},
            {"text", image, 0x8020'0000, 0x20'0000, text},
            {"rodata", image + 0x20'0000, 0x8040'0000, 0x10'0000, rodata},
            {"data", image + 0x30'0000, 0x8050'0000, 0x10'0000, data},
            {"linear", linear, 0x8000'0000, std::uint64_t{4} << 30, data},
            {"uart", image - 0x20'0000, 0x1000'0000, G::kPageSize, uart}};
  }
}

struct Free {
  void operator()(unsigned char* p) const { std::free(p); }
};

template <class F>
bool build_and_print() {
  using G = Geometry<F>;
  constexpr std::size_t kBytes = 8 << 20;
  std::unique_ptr<unsigned char, Free> buf(static_cast<unsigned char*>(std::aligned_alloc(65536, kBytes)));
  Arena arena(buf.get(), kBytes, PhysAddr(0x4000'0000));  // tables live at PA 1 GiB
  auto start = std::chrono::steady_clock::now();
  auto tree = make_tree<F>(arena, all_caps<F>());
  if (!tree) return false;
  bool ok = true;
  std::vector<std::string> notes;
  for (const Piece& r : sample_layout<F>()) {
    auto m = map(*tree, arena, VirtAddr(r.va), PhysAddr(r.pa), r.size, r.attrs);
    if (!m && m.error().code == Errc::unsupported_attrs) {
      // A format without no-execute (x86-32) refuses "rw-"; say so, then accept executable.
      notes.push_back(fmt::format("{}: {}; mapped with allow_implied_exec", r.what, to_string(m.error())));
      m = map(*tree, arena, VirtAddr(r.va), PhysAddr(r.pa), r.size, r.attrs, MapOptions{0, true});
    }
    if (!m && m.error().code == Errc::unsupported_memtype) {
      // Sv32 has no PBMT: the platform's PMAs decide the UART's type; map it "normal".
      notes.push_back(fmt::format("{}: {}; mapped as normal", r.what, to_string(m.error())));
      m = map(*tree, arena, VirtAddr(r.va), PhysAddr(r.pa), r.size, Attrs{r.attrs.perm, MemType::normal});
    }
    if (!m) {
      notes.push_back(fmt::format("{}: {}", r.what, to_string(m.error())));
      ok = false;
    }
  }
  const auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  const std::size_t tables = 1 + (arena.used() - G::table_bytes(0)) / G::table_bytes(G::kDepth > 1 ? 1 : 0);
  fmt::print("== {:<13} {} levels, {}-bit VA, {}-bit PA, {} tables ({} bytes), built in {:.1f} us\n", F::kName,
             G::kDepth, G::kVaBits, F::kPaBits, tables, arena.used(), us);
  fmt::print("{}", dump(*tree, arena));
  for (const auto& n : notes) fmt::print("   note: {}\n", n);
  return ok;
}

template <std::size_t... I>
int run_all(std::index_sequence<I...>) {
  int failures = 0;
  ((failures += build_and_print<std::tuple_element_t<I, AllFormats>>() ? 0 : 1), ...);
  return failures;
}
}  // namespace

int main() {
  fmt::print("ptlib: one sample layout (user page, kernel text/rodata/data, linear map, UART) in every format\n\n");
  const int failures = run_all(std::make_index_sequence<kFormatCount>{});
  fmt::print("\n{} formats built, {} failed\n", kFormatCount, failures);
  return failures == 0 ? 0 : 1;
}
