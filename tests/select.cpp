// Run-time format choice at boot: every probe combination picks the documented format, the ID
// registers decode as the Arm ARM encodes them, and a layout built through the chosen format is
// byte for byte the layout built with the fixed format type.
#include <cstring>
#include <string>
#include <type_traits>

#include <ptlib/select.hpp>

#include "support.hpp"

using namespace ptlib;
using test::Memory;

namespace {

std::string str(const char* s) { return s ? s : "(none)"; }

/// A kernel layout: a linear map of 64 MiB of RAM at the start of the upper half, the kernel
/// image (read-exec) 1 GiB above it, and one device page.
template <class F>
void build_layout(Memory& m) {
  using G = Geometry<F>;
  const std::uint64_t half = (G::kVaMask + 1) / 2;
  const Attrs rwg{Perm::read | Perm::write | Perm::global};
  const Attrs rxg{Perm::read | Perm::exec | Perm::global};
  const Attrs dev{Perm::read | Perm::write | Perm::global, MemType::device};
  auto t = make_tree<F>(m.arena, test::full_caps<F>());  // Svpbmt for the device page
  REQUIRE(t.ok());
  REQUIRE(map(*t, m.arena, G::to_va(half), PhysAddr(0x8000'0000), 64 << 20, rwg).ok());
  REQUIRE(map(*t, m.arena, G::to_va(half + (1ULL << 30)), PhysAddr(0x8020'0000), 4 << 20, rxg).ok());
  REQUIRE(map(*t, m.arena, G::to_va(half + (2ULL << 30)), PhysAddr(0x1000'0000), G::kPageSize, dev).ok());
}

/// Builds the layout through with_chosen_format(probe) and with the fixed type F; both must be
/// the same format and the same bytes.
template <class F, class Probe, class... Policy>
void same_as_fixed(const Probe& probe, const Policy&... policy) {
  Memory fixed(4 << 20), chosen(4 << 20);
  build_layout<F>(fixed);
  bool same_type = false;
  int calls = 0;
  const char* name = with_chosen_format(probe, policy..., [&]<class C>() {
    ++calls;
    same_type = std::is_same_v<C, F>;
    build_layout<C>(chosen);
  });
  CHECK(str(name) == F::kName);
  CHECK(calls == 1);
  REQUIRE(same_type);
  CHECK(chosen.snapshot() == fixed.snapshot());
  using G = Geometry<F>;
  const Tree<F> t{PhysAddr(Memory::kBase)};
  const VirtAddr va = G::to_va((G::kVaMask + 1) / 2 + (1ULL << 30) + 0x1234);
  auto r = translate(t, chosen.arena, va);
  REQUIRE(r.ok());
  CHECK(r->pa == PhysAddr(0x8020'1234));
}

}  // namespace

TEST_CASE("every RISC-V probe picks the documented mode", "[select]") {
  struct Row {
    bool sv57, sv48;
    unsigned max_levels;
    const char* want;
  };
  // The rule (docs/sharing.md): Sv57 if kept and allowed; else Sv48 if kept, or implied by Sv57
  // (priv 4.6), and allowed; else Sv39.
  const Row rows[] = {
      {false, false, 5, "sv39"}, {false, false, 4, "sv39"}, {false, false, 3, "sv39"},
      {false, true, 5, "sv48"},  {false, true, 4, "sv48"},  {false, true, 3, "sv39"},
      {true, false, 5, "sv57"},  {true, false, 4, "sv48"},  {true, false, 3, "sv39"},
      {true, true, 5, "sv57"},   {true, true, 4, "sv48"},   {true, true, 3, "sv39"},
  };
  for (const Row& r : rows) {
    const RiscvProbe p{r.sv57, r.sv48, r.max_levels};
    INFO("sv57 " << r.sv57 << " sv48 " << r.sv48 << " max_levels " << r.max_levels);
    CHECK(str(chosen_format(p)) == r.want);
    std::string called;
    CHECK(str(with_chosen_format(p, [&]<class F>() { called = F::kName; })) == r.want);
    CHECK(called == r.want);
  }
}

TEST_CASE("every x86-64 probe picks the documented paging mode", "[select]") {
  CHECK(str(chosen_format(X86Probe{false, 5})) == "x86-64-l4");
  CHECK(str(chosen_format(X86Probe{false, 4})) == "x86-64-l4");
  CHECK(str(chosen_format(X86Probe{true, 5})) == "x86-64-l5");
  CHECK(str(chosen_format(X86Probe{true, 4})) == "x86-64-l4");  // "no5lvl"
}

TEST_CASE("arm64 probes pick the documented granule and VA size", "[select]") {
  using arm64::Granule;
  struct Row {
    Arm64Probe p;
    Arm64Policy policy;
    const char* want;
  };
  Arm64Probe g4{}, g4l{}, g16l{}, g16g64{}, g64lva{}, g64lvalpa{}, g64lpa{}, g4g64{}, none{};
  g4.gran4k = true;
  g4l.gran4k = g4l.lpa2_4k = true;
  g16l.gran16k = g16l.lpa2_16k = true;
  g16g64.gran16k = g16g64.gran64k = g16g64.lva = g16g64.lpa = true;
  g64lva.gran64k = g64lva.lva = true;
  g64lvalpa.gran64k = g64lvalpa.lva = g64lvalpa.lpa = true;
  g64lpa.gran64k = g64lpa.lpa = true;
  g4g64.gran4k = g4g64.gran64k = true;
  const Arm64Policy def{};
  const Arm64Policy nolva{{Granule::k4K, Granule::k16K, Granule::k64K}, 3, 48};
  const Arm64Policy only64{{Granule::k64K, Granule::k4K, Granule::k16K}, 1, 52};
  const Arm64Policy only16{{Granule::k16K, Granule::k4K, Granule::k64K}, 1, 52};
  const Row rows[] = {
      {g4, def, "arm64-4k-48"},
      {g4l, def, "arm64-4k-52"},
      {g4l, nolva, "arm64-4k-48"},
      {g16l, def, "arm64-16k-52"},
      {g16g64, def, "arm64-16k-48"},      // 16K comes before 64K; no LPA2 for 16K
      {g64lvalpa, def, "arm64-64k-52"},
      {g64lva, def, "arm64-64k-48"},      // 52-bit VA without 52-bit PA: arm64-64k-52 needs both
      {g64lpa, def, "arm64-64k-48"},
      {g4g64, only64, "arm64-64k-48"},
      {g4, only16, "(none)"},
      {none, def, "(none)"},
  };
  for (const Row& r : rows) {
    INFO("want " << r.want);
    CHECK(str(chosen_format(r.p, r.policy)) == r.want);
    int calls = 0;
    CHECK(str(with_chosen_format(r.p, r.policy, [&]<class F>() { ++calls; })) == r.want);
    CHECK(calls == (std::strcmp(r.want, "(none)") != 0 ? 1 : 0));
  }
}

TEST_CASE("every arm64 probe combination follows the documented rule", "[select]") {
  using arm64::Granule;
  const Arm64Policy policies[] = {
      {},
      {{Granule::k64K, Granule::k16K, Granule::k4K}, 3, 52},
      {{Granule::k16K, Granule::k64K, Granule::k4K}, 2, 48},
  };
  for (const Arm64Policy& policy : policies) {
    for (unsigned bits = 0; bits < 128; ++bits) {
      Arm64Probe p;
      p.gran4k = bits & 1;
      p.gran16k = bits & 2;
      p.gran64k = bits & 4;
      p.lpa2_4k = bits & 8;
      p.lpa2_16k = bits & 16;
      p.lva = bits & 32;
      p.lpa = bits & 64;
      // The first granule of the order that the CPU has...
      std::string want = "(none)";
      for (std::size_t i = 0; i < policy.count; ++i) {
        const Granule g = policy.order[i];
        const bool has = g == Granule::k4K ? p.gran4k : g == Granule::k16K ? p.gran16k : p.gran64k;
        if (!has) continue;
        // ...with 52 bits when allowed and the CPU has the granule's 52-bit features.
        const bool wide = policy.max_va_bits >= 52 &&
                          (g == Granule::k4K ? p.lpa2_4k : g == Granule::k16K ? p.lpa2_16k : p.lva && p.lpa);
        want = std::string("arm64-") + (g == Granule::k4K ? "4k" : g == Granule::k16K ? "16k" : "64k") +
               (wide ? "-52" : "-48");
        break;
      }
      INFO("probe bits " << bits);
      CHECK(str(chosen_format(p, policy)) == want);
    }
  }
}

TEST_CASE("the arm64 ID registers decode as the Arm ARM encodes them", "[select]") {
  // ID_AA64MMFR0_EL1: TGran4 [31:28] (signed: 0b0000 supported, 0b0001 with FEAT_LPA2, 0b1111
  // not supported), TGran64 [27:24] (signed: 0b0000 supported, 0b1111 not), TGran16 [23:20]
  // (0b0000 not supported, 0b0001 supported, 0b0010 with FEAT_LPA2), PARange [3:0] (0b0110 =
  // 52 bits). ID_AA64MMFR2_EL1.VARange [19:16] (0b0001 = 52-bit VA with 64KB).
  auto mmfr0 = [](unsigned tgran4, unsigned tgran64, unsigned tgran16, unsigned parange) {
    return (std::uint64_t{tgran4} << 28) | (std::uint64_t{tgran64} << 24) | (std::uint64_t{tgran16} << 20) |
           parange;
  };
  const Arm64Probe a = arm64_probe(mmfr0(0b0000, 0b0000, 0b0000, 0b0101), 0);
  CHECK(a.gran4k);
  CHECK_FALSE(a.lpa2_4k);
  CHECK(a.gran64k);
  CHECK_FALSE(a.gran16k);
  CHECK_FALSE(a.lpa);
  CHECK_FALSE(a.lva);
  CHECK(str(chosen_format(a)) == "arm64-4k-48");

  const Arm64Probe b = arm64_probe(mmfr0(0b0001, 0b1111, 0b0010, 0b0110), 0);
  CHECK(b.gran4k);
  CHECK(b.lpa2_4k);
  CHECK_FALSE(b.gran64k);
  CHECK(b.gran16k);
  CHECK(b.lpa2_16k);
  CHECK(b.lpa);
  CHECK(str(chosen_format(b)) == "arm64-4k-52");

  const Arm64Probe c = arm64_probe(mmfr0(0b1111, 0b0000, 0b0001, 0b0110), std::uint64_t{0b0001} << 16);
  CHECK_FALSE(c.gran4k);
  CHECK(c.gran16k);
  CHECK_FALSE(c.lpa2_16k);
  CHECK(c.gran64k);
  CHECK(c.lva);
  CHECK(c.lpa);
  CHECK(str(chosen_format(c)) == "arm64-16k-48");
  CHECK(str(chosen_format(c, Arm64Policy{{arm64::Granule::k64K}, 1, 52})) == "arm64-64k-52");
}

TEST_CASE("a layout built through the chosen RISC-V mode equals the fixed-type build", "[select]") {
  same_as_fixed<riscv::Sv39>(RiscvProbe{false, false, 5});
  same_as_fixed<riscv::Sv48>(RiscvProbe{false, true, 5});
  same_as_fixed<riscv::Sv57>(RiscvProbe{true, true, 5});
  same_as_fixed<riscv::Sv48>(RiscvProbe{true, true, 4});
}

TEST_CASE("a layout built through the chosen x86-64 mode equals the fixed-type build", "[select]") {
  same_as_fixed<x86::Long4>(X86Probe{false, 5});
  same_as_fixed<x86::Long5>(X86Probe{true, 5});
}

TEST_CASE("a layout built through the chosen arm64 format equals the fixed-type build", "[select]") {
  using arm64::Granule;
  Arm64Probe all;
  all.gran4k = all.gran16k = all.gran64k = true;
  all.lpa2_4k = all.lpa2_16k = all.lva = all.lpa = true;
  Arm64Probe narrow = all;
  narrow.lpa2_4k = narrow.lpa2_16k = narrow.lva = narrow.lpa = false;
  const auto first = [](Granule g) { return Arm64Policy{{g, g, g}, 1, 52}; };
  same_as_fixed<arm64::Vmsa4k48>(narrow, first(Granule::k4K));
  same_as_fixed<arm64::Vmsa4k52>(all, first(Granule::k4K));
  same_as_fixed<arm64::Vmsa16k48>(narrow, first(Granule::k16K));
  same_as_fixed<arm64::Vmsa16k52>(all, first(Granule::k16K));
  same_as_fixed<arm64::Vmsa64k48>(narrow, first(Granule::k64K));
  same_as_fixed<arm64::Vmsa64k52>(all, first(Granule::k64K));
}
