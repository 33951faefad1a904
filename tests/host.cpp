// Host helpers: number and attribute parsing, error text, golden dumps of whole trees, physical
// memory read from dump files, and validate()'s problem callback.
#include <elf.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <ptlib/physmem.hpp>

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

// ---------------------------------------------------------------------------------------------
// Physical memory from files (physmem.hpp) and validate()'s problem callback.
// ---------------------------------------------------------------------------------------------

namespace {
/// A file under the test's temporary directory holding `bytes`; removed at the end.
struct TempFile {
  std::string path;
  explicit TempFile(const std::vector<unsigned char>& bytes, const char* name) {
    path = (std::filesystem::temp_directory_path() / fmt::format("ptlib-host-{}-{}", ::getpid(), name)).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  ~TempFile() { std::remove(path.c_str()); }
};

/// An ELF64 core: program headers for (paddr, file bytes) loads, at an odd file offset so the
/// loads are not 8-byte aligned in the file; `cut` bytes dropped from the end.
std::vector<unsigned char> core(const std::vector<std::pair<std::uint64_t, std::vector<unsigned char>>>& loads,
                                std::size_t cut = 0) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_CORE;
  eh.e_machine = EM_RISCV;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = std::uint16_t(loads.size());
  std::vector<unsigned char> out(sizeof eh + loads.size() * sizeof(Elf64_Phdr) + 4);  // + 4: misalign
  std::memcpy(out.data(), &eh, sizeof eh);
  for (std::size_t i = 0; i < loads.size(); ++i) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_offset = out.size();
    ph.p_paddr = loads[i].first;
    ph.p_filesz = ph.p_memsz = loads[i].second.size();
    std::memcpy(out.data() + sizeof eh + i * sizeof ph, &ph, sizeof ph);
    out.insert(out.end(), loads[i].second.begin(), loads[i].second.end());
  }
  out.resize(out.size() - cut);
  return out;
}
}  // namespace

TEST_CASE("a dump's memory is reachable only inside its segments, never across a hole or past the file", "[host]") {
  std::vector<unsigned char> a(0x2000, 0x11), b(0x1000, 0x22);
  a[0x1ff8] = 0x5a;
  const TempFile f(core({{0x8000'0000, a}, {0x8000'3000, b}}), "core");
  PhysOpen o = open_elf_core(f.path);
  REQUIRE(o);
  const PhysMemory& m = *o.memory;
  CHECK(m.segments().size() == 2);
  CHECK(m.present_bytes() == 0x3000);
  CHECK(m.machine == EM_RISCV);
  REQUIRE(m.at(0x8000'1ff8, 8) != nullptr);
  CHECK(*m.at(0x8000'1ff8, 8) == 0x5a);
  CHECK(m.at(0x8000'1ff8, 9) == nullptr);    // one byte into the hole
  CHECK(m.at(0x8000'2000, 1) == nullptr);    // the hole
  CHECK(m.at(0x7fff'ffff, 2) == nullptr);    // straddles the start
  CHECK(m.at(0x8000'3fff, 1) != nullptr);
  CHECK(m.at(0x8000'4000, 1) == nullptr);    // past the end
  CHECK(m.at(0x8000'3000, ~std::uint64_t{0}) == nullptr);
  // Tables at odd file offsets are copied, and read the same.
  PhysTables t = PhysTables::of<riscv::Sv39>(m);
  auto* root = static_cast<const std::uint64_t*>(t.map(PhysAddr(0x8000'1000), 0));
  REQUIRE(root != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(root) % 8 == 0);
  CHECK(root[511] == 0x1111'1111'1111'115aULL);
  CHECK(t.map(PhysAddr(0x8000'1004), 0) == nullptr);  // not aligned to the entry size
  CHECK(t.map(PhysAddr(0x8000'1800), 0) == nullptr);  // the table would run into the hole
}

TEST_CASE("segments adjacent in address and file merge; overlapping, truncated and non-core files fail", "[host]") {
  const TempFile adj(core({{0x1000, std::vector<unsigned char>(0x1000)}, {0x2000, std::vector<unsigned char>(0x1000)}}), "adj");
  PhysOpen o = open_elf_core(adj.path);
  REQUIRE(o);
  CHECK(o.memory->segments().size() == 1);
  CHECK(o.memory->at(0x1ffc, 8) != nullptr);
  const TempFile over(core({{0x1000, std::vector<unsigned char>(0x2000)}, {0x2000, std::vector<unsigned char>(0x1000)}}), "over");
  CHECK(open_elf_core(over.path).error.find("overlap") != std::string::npos);
  const TempFile cut(core({{0x1000, std::vector<unsigned char>(0x1000)}}, 1), "cut");
  CHECK(open_elf_core(cut.path).error.find("runs past the end of the file") != std::string::npos);
  const TempFile raw(std::vector<unsigned char>(64, 7), "raw");
  CHECK(open_elf_core(raw.path).error.find("not an ELF file") != std::string::npos);
  PhysOpen r = open_raw(raw.path, 0x4000);
  REQUIRE(r);
  CHECK(r.memory->at(0x4038, 8) != nullptr);
  CHECK(r.memory->at(0x4039, 8) == nullptr);
  CHECK(open_raw(raw.path, ~std::uint64_t{0} - 10).error.find("2^64") != std::string::npos);
  CHECK(open_raw("/nonexistent/ptlib", 0).error.find("cannot open") != std::string::npos);
}

TEST_CASE("validate() hands every problem to on_finding, not only the first", "[host]") {
  test::Memory m;
  auto t = make_tree<riscv::Sv39>(m.arena);
  REQUIRE(t.ok());
  // Two root entries that are leaves with W=1, R=0: reserved (RISC-V privileged spec 4.3.1).
  auto* root = static_cast<std::uint64_t*>(m.arena.map(t->root, 0));
  root[3] = 0x5;    // V | W
  root[300] = 0x5;
  std::vector<std::uint64_t> vas;
  ValidateOptions vo;
  vo.on_finding = [](void* c, const Finding& f) {
    CHECK(f.what == Problem::malformed_entry);
    static_cast<std::vector<std::uint64_t>*>(c)->push_back(f.va.value);
  };
  vo.finding_ctx = &vas;
  const Validation v = validate(*t, m.arena, vo);
  CHECK(v.problems == 2);
  CHECK(vas == std::vector<std::uint64_t>{3ULL << 30, 0xffff'ffc0'0000'0000ULL + ((300ULL - 256) << 30)});
}
