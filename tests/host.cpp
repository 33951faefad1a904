// Host helpers: number and attribute parsing, error text, and golden dumps of whole trees.
#include "support.hpp"

using namespace ptlib;

TEST_CASE("numbers parse as decimal, 0x hex, and with K/M/G/T suffixes", "[host]") {
  CHECK(parse_number("4096") == 4096U);
  CHECK(parse_number("0x80200000") == 0x8020'0000U);
  CHECK(parse_number("4K") == 4096U);
  CHECK(parse_number("2M") == (2U << 20));
  CHECK(parse_number("1G") == (1ULL << 30));
  CHECK(parse_number("3T") == (3ULL << 40));
  CHECK(parse_number("64KiB") == (64U << 10));
  CHECK(parse_number("0x10M") == (16U << 20));
  CHECK_FALSE(parse_number(""));
  CHECK_FALSE(parse_number("0x"));
  CHECK_FALSE(parse_number("12Q"));
  CHECK_FALSE(parse_number("99999999999999999999"));
  CHECK_FALSE(parse_number("17179869184G"));  // 2^34 G overflows
}

TEST_CASE("attribute strings parse to what to_string prints", "[host]") {
  CHECK(parse_attrs("rwx") == attrs::rwx);
  CHECK(parse_attrs("r-x") == attrs::rx);
  CHECK(parse_attrs("rw-,dev") == attrs::device_rw);
  CHECK(parse_attrs("rw-ug") == Attrs{Perm::read | Perm::write | Perm::user | Perm::global});
  CHECK(parse_attrs("r-- nc") == Attrs{Perm::read, MemType::normal_nc});
  CHECK_FALSE(parse_attrs("rw"));
  CHECK_FALSE(parse_attrs("wrx"));
  CHECK_FALSE(parse_attrs("rw- dev nc"));  // two memory types
  CHECK_FALSE(parse_attrs("rw- q"));
  for (unsigned p = 0; p < 32; ++p)
    for (MemType m : {MemType::normal, MemType::normal_nc, MemType::device, MemType::wc}) {
      const Attrs a{Perm(p), m};
      CHECK(parse_attrs(to_string(a)) == a);
    }
  CHECK(to_string(Attrs{Perm::read | Perm::exec | Perm::global}) == "r-x g");
  CHECK(to_string(attrs::device_rw) == "rw- dev");
}

TEST_CASE("an error prints its code, addresses, level and reason on one line", "[host]") {
  const Error e{Errc::overlap, VirtAddr(0xffff'ffc0'0000'0000), PhysAddr(0x8000'0000), 2, "VPN[2]"};
  CHECK(to_string(e) ==
        "overlap at va 0xffffffc000000000 pa 0x0000000080000000 level 2 (VPN[2]): range overlaps an existing mapping; "
        "what to do: unmap the old mapping first, or pass Options::remap (identical/safe) to accept the same one");
  CHECK(fmt::format("{}", PhysAddr(0x1000)) == "0x0000000000001000");
  // No PA and no level: both left out (not "pa 0x0", not "level -128").
  CHECK(to_string(make_error(Errc::zero_size)) ==
        "zero_size at va 0x0000000000000000: size is zero; what to do: pass a size of at least one page");
}

TEST_CASE("golden dump: Sv39 gigapage then pages, merged into ranges", "[host]") {
  test::Memory m;
  auto t = make_tree<riscv::Sv39>(m.arena);
  REQUIRE(t.ok());
  const Attrs rwg{Perm::read | Perm::write | Perm::global};
  REQUIRE(map(*t, m.arena, VirtAddr(0xffff'ffc0'0000'0000), PhysAddr(0x8000'0000), (1ULL << 30) + 0x2000, rwg).ok());
  REQUIRE(map(*t, m.arena, VirtAddr(0x1000), PhysAddr(0x8800'0000), 0x3000, Attrs{Perm::read | Perm::user}).ok());
  CHECK(dump(*t, m.arena) ==
        "0x0000000000001000-0x0000000000004000 -> 0x0000000088000000   12K      3 x 4K   VPN[0]  r-- u\n"
        "0xffffffc000000000-0xffffffc040000000 -> 0x0000000080000000    1G      1 x 1G   VPN[2]  rw- g\n"
        "0xffffffc040000000-0xffffffc040002000 -> 0x00000000c0000000    8K      2 x 4K   VPN[0]  rw- g\n");
}

TEST_CASE("golden dump: the scrambled fake format with blocks at two levels", "[host]") {
  test::Memory m;
  auto t = make_tree<fake::Scrambled>(m.arena);
  REQUIRE(t.ok());
  // Fake geometry: Top 16 entries x 512 GiB, Upper 1 GiB, Middle 2 MiB, Bottom 4 KiB.
  REQUIRE(map(*t, m.arena, VirtAddr(0x4000'0000 - 0x20'0000), PhysAddr(0x4000'0000 - 0x20'0000),
              (1ULL << 30) + 0x40'0000, attrs::rx).ok());
  CHECK(dump(*t, m.arena) ==
        "0x000000003fe00000-0x0000000040000000 -> 0x000000003fe00000    2M      1 x 2M   Middle  r-x\n"
        "0x0000000040000000-0x0000000080000000 -> 0x0000000040000000    1G      1 x 1G   Upper   r-x\n"
        "0x0000000080000000-0x0000000080200000 -> 0x0000000080000000    2M      1 x 2M   Middle  r-x\n");
}
