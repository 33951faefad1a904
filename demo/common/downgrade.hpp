// A check that proves a family's TLB maintenance (Hooks::Sync), for a family's arch_checks():
// a permission *downgrade* and an unmap that releases no table. On QEMU these are the changes a
// missing invalidation shows up in: a stale entry keeps a write or a read working, while a
// permission upgrade is re-walked anyway and a released table is invalidated by its whole range.
#pragma once
#include <cstdint>

#include <ptlib/layout.hpp>
#include <ptlib/maps.hpp>
#include <ptlib/tables.hpp>

#include "boot.hpp"
#include "space.hpp"

namespace demo {

/// On the live final space `s`: maps two pages at `va` (RAM at `scratch_pa`, its own tables from
/// the 8 pages after those two, reached through the linear map), then
///  - protect(read-only) + Sync: the write that worked faults; protect(read-write): works again;
///  - unmap of the first page (its neighbour keeps the table) + Sync: the read that worked faults;
///  - the same page mapped non-global, downgraded with no hook, then H::flush_address_space() or
///    H::flush_page_in_address_space(va) (the CPU helpers' by-ASID forms): the write faults.
/// `scratch_pa` must be free RAM of 10 pages, aligned to the format's page. `live`: the engine
/// options (a format without execute-disable, x86-32, needs allow_implied_exec).
template <class H, class Space>
void downgrade_check(const Space& s, const ptlib::Placement& p, std::uint64_t scratch_pa, ptlib::VirtAddr va,
                     const ptlib::Options& live = {.live = ptlib::Live::break_before_make}) {
  using F = typename Space::Format;
  constexpr std::uint64_t page = ptlib::Geometry<F>::kPageSize;
  ptlib::PageBitmap<8> pages(PhysAddr(scratch_pa + 2 * page), std::size_t(page), 8);
  LinearTables<ptlib::PageBitmap<8>> mem(pages, std::uintptr_t(p.va_pa_offset));
  typename H::Sync sync;
  const ptlib::Attrs rw{ptlib::Perm::read | ptlib::Perm::write | ptlib::Perm::global};
  const ptlib::Attrs ro{ptlib::Perm::read | ptlib::Perm::global};
  auto& data = *reinterpret_cast<volatile std::uintptr_t*>(std::uintptr_t(scratch_pa + p.va_pa_offset));
  auto& next = *reinterpret_cast<volatile std::uintptr_t*>(std::uintptr_t(scratch_pa + page + p.va_pa_offset));
  const auto u = std::uintptr_t(va.value);

  data = 0;
  next = 0x2e47;
  auto mapped = s.on(va, 2 * page, [&](const auto& t) { return ptlib::map(t, mem, va, PhysAddr(scratch_pa), 2 * page, rw, live, sync); });
  sync.invalidate(va, 2 * page);  // the entries were invalid: no stale entry, but be exact
  const bool wrote = mapped && H::try_write(u, 1).fault == Access::none && data == 1;
  auto down = s.on(va, page, [&](const auto& t) { return ptlib::protect(t, mem, va, page, ro, live, sync); });
  const Probe denied = H::try_write(u, 2);
  check(wrote && down && denied.fault == Access::write && denied.addr == u && data == 1,
        "runtime protect() read-only + TLB invalidation: the write that worked now faults");
  auto up = s.on(va, page, [&](const auto& t) { return ptlib::protect(t, mem, va, page, rw, live, sync); });
  check(up && H::try_write(u, 3).fault == Access::none && data == 3,
        "runtime protect() back to read-write: the write works again");
  auto gone = s.on(va, page, [&](const auto& t) { return ptlib::unmap(t, mem, va, page, live, sync); });
  std::uintptr_t v = 0, w = 0;
  const Probe lost = H::try_read(u, v);
  const Probe kept = H::try_read(u + std::uintptr_t(page), w);
  check(gone && lost.fault == Access::read && lost.addr == u && kept.fault == Access::none && w == 0x2e47,
        "runtime unmap() of one page (its table stays) + TLB invalidation: the read that worked now faults");

  // The CPU helpers' other invalidations (H::flush_address_space(): TLBI ASIDE1IS, TLBIASIDIS,
  // SFENCE.VMA x0, asid or a CR3 reload; H::flush_page_in_address_space(va): TLBI VAE1IS,
  // TLBIMVAIS, SFENCE.VMA va, asid or INVLPG) on a non-global page: a downgrade the engine does
  // not invalidate (no sync hook) takes effect once the helper ran.
  const ptlib::Attrs rw_ng{ptlib::Perm::read | ptlib::Perm::write}, ro_ng{ptlib::Perm::read};
  ptlib::NoSync none;  // the engine invalidates nothing
  auto on = [&](auto&& op) { return bool(s.on(va, page, op)); };
  bool ok = on([&](const auto& t) { return ptlib::map(t, mem, va, PhysAddr(scratch_pa), page, rw_ng, live, sync); });
  sync.invalidate(va, page);
  ok = ok && H::try_write(u, 4).fault == Access::none && data == 4;
  ok = ok && on([&](const auto& t) { return ptlib::protect(t, mem, va, page, ro_ng, live, none); });
  const bool stale = H::try_write(u, 5).fault == Access::none;  // QEMU keeps the old entry
  H::flush_address_space();
  const Probe by_asid = H::try_write(u, 6);
  check(ok && by_asid.fault == Access::write && by_asid.addr == u && data == (stale ? 5U : 4U),
        "protect(read-only) of a non-global page, not invalidated, then the CPU helper's flush by "
        "address space: the write faults");
  ok = on([&](const auto& t) { return ptlib::protect(t, mem, va, page, rw_ng, live, sync); });
  ok = ok && H::try_write(u, 7).fault == Access::none && data == 7;
  ok = ok && on([&](const auto& t) { return ptlib::protect(t, mem, va, page, ro_ng, live, none); });
  H::flush_page_in_address_space(u);
  const Probe by_page = H::try_write(u, 8);
  check(ok && by_page.fault == Access::write && by_page.addr == u && data == 7,
        "the same with the CPU helper's flush of one page in the address space: the write faults");
  puts(stale ? "  (QEMU kept the stale writable entry until the flush)\n" : "  (no stale entry seen)\n");
  (void)s.on(va, 2 * page, [&](const auto& t) { return ptlib::unmap(t, mem, va, 2 * page, live, sync); });
}

}  // namespace demo
