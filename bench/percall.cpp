// Instructions per map() call, for callgrind (instruction counts repeat on a loaded machine where
// times do not): one-page calls in VA order (W4's pattern: a new table every 512 calls), one-page
// calls at distinct random pages in [512 GiB, 1 TiB) (W3's pattern: about one new table per call)
// and W2 (8 x 1 GiB in one call, in a fresh tree), on x86-64-l4 with header-only code; `unmap`
// and `protect`: the pages of `seq` mapped first (not counted), then one call per page (W4u, W4p).
// usage: valgrind --tool=callgrind --toggle-collect='percall_*' ptlib-percall seq|random|w2|unmap|protect [calls]
// then divide the collected count by the number of calls (printed).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <ptlib/formats.hpp>

using namespace ptlib;
using F = x86::Long4;

namespace {
constexpr std::uint64_t kGiB = 1ULL << 30;
constexpr std::uint64_t kArenaBase = kGiB;
constexpr Attrs kRw{Perm::read | Perm::write};

Options page_only() {
  Options o = Options::page_only();
  o.contiguous = false;
  o.allow_implied_exec = true;
  return o;
}
}  // namespace

extern "C" __attribute__((noinline)) bool percall_map(const Tree<F>& t, Arena& a, std::uint64_t va, std::uint64_t pa,
                                                      std::uint64_t size, const Options& o) {
  return map(t, a, VirtAddr(va), PhysAddr(pa), size, kRw, o).ok();
}

extern "C" __attribute__((noinline)) bool percall_unmap(const Tree<F>& t, Arena& a, std::uint64_t va, std::uint64_t size,
                                                        const Options& o) {
  return unmap(t, a, VirtAddr(va), size, o).ok();
}

extern "C" __attribute__((noinline)) bool percall_protect(const Tree<F>& t, Arena& a, std::uint64_t va,
                                                          std::uint64_t size, const Options& o) {
  return protect(t, a, VirtAddr(va), size, Attrs{Perm::read}, o).ok();
}

// The first map (not counted) is a separate function so that callgrind's toggle skips it.
__attribute__((noinline)) static bool setup_map(const Tree<F>& t, Arena& a, std::uint64_t va, std::uint64_t pa,
                                                std::uint64_t size, const Options& o) {
  return map(t, a, VirtAddr(va), PhysAddr(pa), size, kRw, o).ok();
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "seq";
  const std::size_t calls = argc > 2 ? std::strtoul(argv[2], nullptr, 0) : 20000;
  const std::size_t bytes = std::size_t{1} << 30;
  auto* buf = static_cast<unsigned char*>(std::aligned_alloc(1 << 21, bytes));
  if (!buf) return 2;
  bool ok = true;
  if (std::strcmp(mode, "w2") == 0) {
    Options o;  // the largest leaves: eight 1 GiB pages
    o.contiguous = false;
    o.allow_implied_exec = true;
    for (std::size_t i = 0; i < calls; ++i) {
      Arena a(buf, bytes, PhysAddr(kArenaBase));
      auto t = make_tree<F>(a, F::Caps{.page1g = true});
      ok &= t && percall_map(*t, a, 16 * kGiB, 32 * kGiB, 8 * kGiB, o);
    }
  } else {
    const bool random = std::strcmp(mode, "random") == 0;
    const bool unmapping = std::strcmp(mode, "unmap") == 0, protecting = std::strcmp(mode, "protect") == 0;
    std::vector<std::uint64_t> pages;
    std::vector<bool> seen(random ? std::size_t{1} << 27 : 0);
    std::uint64_t state = 12345;
    while (pages.size() < calls) {
      if (!random) {
        pages.push_back(pages.size());
        continue;
      }
      state += 0x9e3779b97f4a7c15ULL;  // splitmix64 (Steele, Lea, Flood 2014)
      std::uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      if (!seen[z >> 37]) seen[z >> 37] = true, pages.push_back(z >> 37);
    }
    Arena a(buf, bytes, PhysAddr(kArenaBase));
    auto t = make_tree<F>(a, F::Caps{.page1g = true});
    const Options o = page_only();
    if (unmapping || protecting) {
      ok &= t && setup_map(*t, a, 512 * kGiB, 4 * kGiB, pages.size() << 12, o);
      for (std::uint64_t p : pages)
        ok &= t && (unmapping ? percall_unmap(*t, a, 512 * kGiB + (p << 12), 4096, o)
                              : percall_protect(*t, a, 512 * kGiB + (p << 12), 4096, o));
    } else {
      for (std::uint64_t p : pages) ok &= t && percall_map(*t, a, 512 * kGiB + (p << 12), 4 * kGiB + (p << 12), 4096, o);
    }
  }
  std::printf("%s: %zu calls, all ok: %s\n", mode, calls, ok ? "yes" : "no");
  return ok ? 0 : 1;
}
