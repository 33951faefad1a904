// A level-scrambling fake format for engine tests: every level encodes its bits (valid, leaf,
// permissions, memory type and the address) at different positions, so an engine that hands an
// entry to the wrong level's decoder reads garbage and the tests fail.
#pragma once
#include <array>
#include <cstdint>

#include <ptlib/format.hpp>

namespace fake {
using namespace ptlib;

struct Scrambled {
  enum class Level : std::int8_t { Top = 3, Upper = 2, Middle = 1, Bottom = 0 };
  using Entry = std::uint64_t;
  struct Caps {
    bool upper_leaves = true;  ///< a run-time capability gating leaves at Upper (like x86 1G pages)
    bool operator==(const Caps&) const = default;
  };
  static constexpr const char* kName = "fake-scrambled";
  static constexpr std::array kLevels{Level::Top, Level::Upper, Level::Middle, Level::Bottom};
  static constexpr unsigned kPageShift = 12;
  static constexpr unsigned kPaBits = 36;
  static constexpr unsigned kInputBits = 64;
  static constexpr VaRule kVaRule = VaRule::sign_extend;
  static constexpr std::size_t kMinTableAlign = 64;
  // Top has 16 entries: VA = 4 + 9 + 9 + 9 + 12 = 43 bits.
  static constexpr unsigned index_bits(Level l) { return l == Level::Top ? 4 : 9; }
  static constexpr const char* level_name(Level l) {
    constexpr const char* n[] = {"Bottom", "Middle", "Upper", "Top"};
    return n[int(l)];
  }
  static constexpr bool can_leaf(Level l, const Caps& c) {
    return l == Level::Bottom || l == Level::Middle || (l == Level::Upper && c.upper_leaves);
  }
  static constexpr unsigned contig_log2(Level, const Caps&) { return 0; }

  // Per-level bit positions: k = level number.
  static constexpr unsigned k(Level l) { return unsigned(int(l)); }
  static constexpr Entry valid(Level l) { return Entry{1} << (k(l) * 2); }
  static constexpr Entry leaf_bit(Level l) { return Entry{1} << (k(l) * 2 + 1); }
  static constexpr unsigned perm_shift(Level l) { return 8 + 5 * k(l); }     // 5 perm bits
  static constexpr unsigned mem_shift(Level l) { return 23 + 2 * k(l); }     // 2 memtype bits
  static constexpr unsigned addr_shift(Level l) { return 31 - k(l); }        // 24-bit PFN
  static constexpr Entry kPfnMask = (Entry{1} << 24) - 1;

  static constexpr Result<Entry> leaf_proto(Level l, const LeafSettings& s, const Caps&) {
    if (!s.attrs.read() && !s.attrs.exec()) return make_error(Errc::unsupported_attrs);
    if (!s.attrs.ext.empty()) return make_error(Errc::unsupported_attrs);  // no extension
    if (s.contiguous) return make_error(Errc::unsupported_attrs);
    if (s.attrs.mem == MemType::wc || s.attrs.mem == MemType::other) return make_error(Errc::unsupported_memtype);
    return valid(l) | leaf_bit(l) | (Entry(s.attrs.perm) << perm_shift(l)) | (Entry(s.attrs.mem) << mem_shift(l));
  }
  static constexpr Entry leaf(Level l, Entry proto, PhysAddr pa) {
    return proto | (((pa.value >> 12) & kPfnMask) << addr_shift(l));
  }
  static constexpr Entry table(Level l, PhysAddr pa) {
    return valid(l) | (((pa.value >> 12) & kPfnMask) << addr_shift(l));
  }
  static constexpr bool needs_bbm(Level l, Entry old, Entry next) {
    const Decoded a = decode(l, old), b = decode(l, next);
    return a.kind != b.kind || a.addr != b.addr || a.attrs.mem != b.attrs.mem;
  }
  static constexpr Decoded decode(Level l, Entry e) {
    if (!(e & valid(l))) return {};
    const PhysAddr pa(((e >> addr_shift(l)) & kPfnMask) << 12);
    if (!(e & leaf_bit(l))) return {EntryKind::table, pa};
    Decoded d{EntryKind::leaf, pa};
    d.attrs.perm = Perm((e >> perm_shift(l)) & 0x1f);
    d.attrs.mem = MemType((e >> mem_shift(l)) & 3);
    return d;
  }
};
static_assert(PagingFormat<Scrambled>);
}  // namespace fake
