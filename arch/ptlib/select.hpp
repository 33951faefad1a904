// Run-time choice of the paging format at boot: probed CPU capabilities in, one format type out
// to a generic lambda, so one kernel binary builds its tables through the same engine whether
// the CPU runs Sv57, Sv48 or Sv39; x86 5- or 4-level paging; arm64 with any granule and a 52- or
// 48-bit VA.
//
// Sources: RISC-V priv spec 20211203, 4.1.11 (satp: "if satp is written with an unsupported
// MODE, the entire write has no effect", so a kernel probes by writing and reading back), 4.5
// ("implementations that support Sv48 must also support Sv39"), 4.6 ("... Sv57 must also
// support Sv48"). Intel SDM vol. 3A 4.1.1 and CPUID.(EAX=07H,ECX=0):ECX.LA57[bit 16] (CR4.LA57
// may be set only then). Arm ARM DDI 0487K.a, ID_AA64MMFR0_EL1 (TGran4 [31:28], TGran64 [27:24],
// TGran16 [23:20], PARange [3:0]) and ID_AA64MMFR2_EL1 (VARange [19:16]).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <utility>

#include <ptlib/arm64.hpp>
#include <ptlib/riscv.hpp>
#include <ptlib/x86.hpp>

PTLIB_BEGIN_NAMESPACE

/// What an RV64 kernel probed: which satp.MODE values the hart kept (Sv39 is assumed, as Linux
/// does: an RV64 hart with paging and without Sv39 has no mode ptlib could use), plus a policy
/// cap on the number of levels (Linux's "no5lvl" = 4, "no4lvl" = 3).
struct RiscvProbe {
  bool sv57 = false;        ///< satp.MODE = 10 was kept (implies Sv48, priv 4.6)
  bool sv48 = false;        ///< satp.MODE = 9 was kept
  unsigned max_levels = 5;  ///< use at most this many levels
};

/// What an x86-64 kernel probed, plus a policy cap (Linux's "no5lvl" = 4).
struct X86Probe {
  bool la57 = false;        ///< CPUID.(EAX=07H,ECX=0):ECX.LA57[bit 16]: 5-level paging available
  unsigned max_levels = 5;  ///< use at most this many levels
};

/// What an arm64 kernel probed (decode the ID registers with arm64_probe()).
struct Arm64Probe {
  bool gran4k = false;    ///< ID_AA64MMFR0_EL1.TGran4 >= 0 (signed field): 4KB granule
  bool gran16k = false;   ///< TGran16 >= 1: 16KB granule
  bool gran64k = false;   ///< TGran64 >= 0 (signed field): 64KB granule
  bool lpa2_4k = false;   ///< TGran4 >= 1: 4KB granule with 52-bit VA and OA (FEAT_LPA2)
  bool lpa2_16k = false;  ///< TGran16 >= 2: 16KB granule with 52-bit VA and OA (FEAT_LPA2)
  bool lva = false;       ///< ID_AA64MMFR2_EL1.VARange = 1: 52-bit VA with 64KB (FEAT_LVA)
  bool lpa = false;       ///< ID_AA64MMFR0_EL1.PARange = 6: 52-bit PA (FEAT_LPA)
};

/// An arm64 kernel's preferences: granules in order of preference (the first `count` of
/// `order`; a kernel built for one page size lists one), and a VA cap (52, or 48 for Linux's
/// "arm64.nolva").
struct Arm64Policy {
  std::array<arm64::Granule, 3> order{arm64::Granule::k4K, arm64::Granule::k16K, arm64::Granule::k64K};
  std::size_t count = 3;
  unsigned max_va_bits = 52;
};

/// Decodes ID_AA64MMFR0_EL1 and ID_AA64MMFR2_EL1 (read by the caller with MRS) into a probe.
constexpr Arm64Probe arm64_probe(std::uint64_t id_aa64mmfr0, std::uint64_t id_aa64mmfr2) {
  auto field = [](std::uint64_t reg, unsigned lsb) { return unsigned((reg >> lsb) & 0xf); };
  auto sfield = [&](std::uint64_t reg, unsigned lsb) {  // a signed ID field: 0b1111 is -1
    const unsigned v = field(reg, lsb);
    return v >= 8 ? int(v) - 16 : int(v);
  };
  Arm64Probe p;
  const int tgran4 = sfield(id_aa64mmfr0, 28), tgran64 = sfield(id_aa64mmfr0, 24);
  const unsigned tgran16 = field(id_aa64mmfr0, 20);
  p.gran4k = tgran4 >= 0;
  p.lpa2_4k = tgran4 >= 1;
  p.gran64k = tgran64 >= 0;
  p.gran16k = tgran16 >= 1;
  p.lpa2_16k = tgran16 >= 2;
  p.lpa = field(id_aa64mmfr0, 0) == 6;
  p.lva = field(id_aa64mmfr2, 16) == 1;
  return p;
}

/// The formats each family chooses among, in index order of choose().
using RiscvChoices = std::tuple<riscv::Sv39, riscv::Sv48, riscv::Sv57>;
using X86Choices = std::tuple<x86::Long4, x86::Long5>;
using Arm64Choices = std::tuple<arm64::Vmsa4k48, arm64::Vmsa4k52, arm64::Vmsa16k48, arm64::Vmsa16k52,
                                arm64::Vmsa64k48, arm64::Vmsa64k52>;

/// "No format fits" (arm64: no preferred granule is implemented).
inline constexpr std::size_t kNoChoice = ~std::size_t{0};

/// RISC-V: Sv57 if kept and allowed, else Sv48 if kept (or implied by Sv57) and allowed, else Sv39.
constexpr std::size_t choose(const RiscvProbe& p) {
  if (p.sv57 && p.max_levels >= 5) return 2;
  if ((p.sv48 || p.sv57) && p.max_levels >= 4) return 1;
  return 0;
}

/// x86-64: 5-level if LA57 is available and allowed, else 4-level.
constexpr std::size_t choose(const X86Probe& p) { return p.la57 && p.max_levels >= 5 ? 1 : 0; }

/// arm64: the first granule of the policy's order the CPU implements; 52-bit VA with it when
/// the policy allows 52 bits and the CPU has FEAT_LPA2 for that granule (4K, 16K), or FEAT_LVA
/// and FEAT_LPA (64K; arm64-64k-52 has a 52-bit OA too); else 48-bit. kNoChoice if no granule
/// of the order is implemented.
constexpr std::size_t choose(const Arm64Probe& p, const Arm64Policy& policy = {}) {
  const bool wide = policy.max_va_bits >= 52;
  for (std::size_t i = 0; i < policy.count && i < policy.order.size(); ++i) {
    switch (policy.order[i]) {
      case arm64::Granule::k4K:
        if (p.gran4k) return wide && p.lpa2_4k ? 1 : 0;
        break;
      case arm64::Granule::k16K:
        if (p.gran16k) return wide && p.lpa2_16k ? 3 : 2;
        break;
      case arm64::Granule::k64K:
        if (p.gran64k) return wide && p.lva && p.lpa ? 5 : 4;
        break;
    }
  }
  return kNoChoice;
}

namespace detail {
template <class Choices, std::size_t... I>
constexpr const char* chosen_name(std::size_t i, std::index_sequence<I...>) {
  constexpr std::array<const char*, sizeof...(I)> names{std::tuple_element_t<I, Choices>::kName...};
  return i < names.size() ? names[i] : nullptr;
}
template <class Choices, class Fn, std::size_t... I>
constexpr const char* call_chosen(std::size_t i, Fn& fn, std::index_sequence<I...>) {
  bool called = false;
  (void)((i == I && ((void)fn.template operator()<std::tuple_element_t<I, Choices>>(), called = true)) || ...);
  return called ? chosen_name<Choices>(i, std::index_sequence<I...>{}) : nullptr;
}
}  // namespace detail

/// The name of the format choose() picks ("sv48", "x86-64-l5", "arm64-16k-52", ...), or
/// nullptr for kNoChoice.
constexpr const char* chosen_format(const RiscvProbe& p) {
  return detail::chosen_name<RiscvChoices>(choose(p), std::make_index_sequence<3>{});
}
constexpr const char* chosen_format(const X86Probe& p) {
  return detail::chosen_name<X86Choices>(choose(p), std::make_index_sequence<2>{});
}
constexpr const char* chosen_format(const Arm64Probe& p, const Arm64Policy& policy = {}) {
  return detail::chosen_name<Arm64Choices>(choose(p, policy), std::make_index_sequence<6>{});
}

/// Calls `fn.template operator()<F>()` once, with F the format choose() picks, and returns F's
/// name (nullptr, calling nothing, for kNoChoice). `fn` is instantiated for every candidate, so
/// a kernel carries one copy of its table code per candidate and picks one at boot; each copy
/// is the fixed-format code. Example:
///     const char* mode = with_chosen_format(probe, [&]<class F>() {
///       auto t = make_tree<F>(arena); ... map(*t, arena, ...); ... });
template <class Fn>
constexpr const char* with_chosen_format(const RiscvProbe& p, Fn&& fn) {
  return detail::call_chosen<RiscvChoices>(choose(p), fn, std::make_index_sequence<3>{});
}
template <class Fn>
constexpr const char* with_chosen_format(const X86Probe& p, Fn&& fn) {
  return detail::call_chosen<X86Choices>(choose(p), fn, std::make_index_sequence<2>{});
}
template <class Fn>
constexpr const char* with_chosen_format(const Arm64Probe& p, const Arm64Policy& policy, Fn&& fn) {
  return detail::call_chosen<Arm64Choices>(choose(p, policy), fn, std::make_index_sequence<6>{});
}
template <class Fn>
constexpr const char* with_chosen_format(const Arm64Probe& p, Fn&& fn) {
  return with_chosen_format(p, Arm64Policy{}, fn);
}

PTLIB_END_NAMESPACE
