#!/usr/bin/env python3
"""Tests of the ptgen command-line tool (suite ptgen), one group per meson test:

  roundtrip  every format: build -> dump lists exactly the requested maps (default, --page-only,
             --no-contig), and the engine's translate() on the loaded image agrees with them
  golden     fixed layouts whose dumps were worked out by hand (golden/*.txt)
  boot       device trees of QEMU's virt machines (dumped at test time) + real ELF kernels
  bad        each bad input of issue 7: one line on stderr, exit status 1, never a crash
  diff       two images: what differs, exit status 0 / 1
  dts        device trees compiled at test time from dts/*.dts with dtc (several banks, banks
             sharing tables, one address cell, RAM above 4 GiB, reserved-memory no-map, a disabled
             console, a console with status "fail", a console inside RAM, 2 TiB of RAM, an ARMv7
             board and an x86 machine with 2 GiB) and kernel ELFs written here (segments at their
             own p_paddr, p_flags 0, execute-only, write-only, segments that wrap by p_vaddr or
             p_paddr, two segments on one physical page): issue 12, items 2 and 8 to 14

Expected values come from the requested maps and from the sources cited next to them, never
from ptgen's own output.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fdt  # noqa: E402  (the tests' own device-tree reader)

FAILS = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)
    return cond


def run(args, expect_rc=0):
    p = subprocess.run([PTGEN] + [str(a) for a in args], capture_output=True, text=True, errors="replace")
    if expect_rc is not None and p.returncode != expect_rc:
        check(False, f"ptgen {' '.join(map(str, args))}: exit {p.returncode}, wanted {expect_rc}\n{p.stderr}")
    return p


def canonical_attrs(text):
    """ptlib's to_string() of attributes: triple, then ' ', then u, g, then ',mem' (host.hpp)."""
    triple, rest = text[:3], text[3:].replace(",", " ").split()
    flags = "".join(f for f in ("u", "g") if f in rest)
    mem = [m for m in ("nc", "dev", "wc") if m in rest]
    if mem:
        flags += ("," if flags else "") + mem[0]
    return triple + (" " + flags if flags else "")


def merged(ranges):
    """Dump ranges merged regardless of leaf size: (va, pa, size, attrs) runs."""
    out = []
    for r in ranges:
        va, pa, size = int(r["va"], 16), int(r["pa"], 16), int(r["size"], 16)
        if out and out[-1][0] + out[-1][2] == va and out[-1][1] + out[-1][2] == pa and out[-1][3] == r["attrs"]:
            out[-1][2] += size
        else:
            out.append([va, pa, size, r["attrs"]])
    return [tuple(x) for x in out]


# ---------------------------------------------------------------------------------------------
def roundtrip(work):
    formats = json.loads(run(["formats", "--json"]).stdout)
    check(len(formats) == 18, f"formats --json lists {len(formats)} formats, README lists 18")
    for f in formats:
        name, va_bits, page = f["name"], f["va_bits"], f["page"]
        # The largest block that leaves room for the maps below in the low half of the VA range.
        big = max(x for x in f["leaves"] if x <= (1 << 30) and 8 * x <= (1 << (va_bits - 1)))
        nx = name != "x86-32"  # 32-bit paging has no execute-disable bit (SDM 4.3)
        rw = "rw-" if nx else "rwx"
        caps = ["--caps", "svpbmt"] if name.startswith("sv") and name != "sv32" else []
        maps = [  # (va, pa, size, cli attrs)
            (2 * big, big, big + 2 * page, rw + ",g"),           # one block + two pages
            (4 * big + page, 3 * big + page, 3 * page, "r-x,u"),  # pages only (misaligned for a block)
        ]
        if f["va_rule"] == "sign_extend":
            maps.append(((1 << 64) - 2 * big, 2 * big, big, rw + ",g"))  # top of the upper half
        if name != "sv32":  # Sv32 has no PBMT: no device type (priv 4.3.1, ch. 7 is RV64 only)
            maps.append((6 * big, 0x1000_0000, page, rw + ",dev"))
        for mode in ([], ["--page-only"], ["--no-contig"]):
            img, js = work / f"rt-{name}.bin", work / f"rt-{name}.json"
            args = ["build", "--format", name, "--base", "0x4000_0000", "--image", img, "--json", js] + caps + mode
            for m in maps:
                args += ["--map", f"{m[0]:#x}:{m[1]:#x}:{m[2]:#x}:{m[3]}"]
            if run(args).returncode != 0:
                continue
            built = json.load(open(js))
            check(built["root"] == "0x0000000040000000", f"{name}: root {built['root']} is not the image base")
            check(os.path.getsize(img) == built["bytes"], f"{name}: image size differs from the JSON")
            d = run(["dump", "--format", name, "--image", img, "--base", "0x40000000", "--json"] + caps)
            if d.returncode != 0:
                continue
            dump = json.loads(d.stdout)
            want = sorted((m[0], m[1], m[2], canonical_attrs(m[3])) for m in maps)
            check(merged(dump["ranges"]) == want, f"{name} {mode}: dump {merged(dump['ranges'])} != requested {want}")
            leafs = {int(r["va"], 16): int(r["leaf_size"], 16) for r in dump["ranges"]}
            if mode == ["--page-only"]:
                check(all(int(r["leaf_size"], 16) == page for r in dump["ranges"]), f"{name}: --page-only used blocks")
            else:
                check(leafs.get(2 * big) == big, f"{name}: {2 * big:#x} not mapped with one {big:#x} block")
            contig = any(r["contiguous"] for r in dump["ranges"])
            if mode == ["--no-contig"]:
                check(not contig, f"{name}: --no-contig left contiguous hints")
            # translate() on the loaded image: every map's first, middle and last byte, and a hole.
            probes, expect = [], []
            for va, pa, size, at in maps:
                for off in (0x123, size // 2 + 8, size - 1):
                    probes.append(va + off)
                    expect.append((pa + off, canonical_attrs(at)))
            probes.append(7 * big)
            expect.append(None)
            t = run(["translate", "--format", name, "--image", img, "--base", "0x40000000", "--json"] + caps +
                    [hex(p) for p in probes])
            if t.returncode != 0:
                continue
            for got, exp, va in zip(json.loads(t.stdout), expect, probes):
                if exp is None:
                    check(got.get("error") == "not_mapped", f"{name}: translate {va:#x} should be not_mapped: {got}")
                else:
                    check(got.get("pa") == f"{exp[0]:#018x}" and got.get("attrs") == exp[1],
                          f"{name} {mode}: translate {va:#x} = {got}, wanted pa {exp[0]:#x} {exp[1]}")


# ---------------------------------------------------------------------------------------------
GOLDEN = {
    # name: ptgen build arguments (the image is dumped with the same --format/--base/--caps).
    "sv39": ["--format", "sv39", "--base", "0x80400000", "--caps", "svpbmt",
             "--map", "0xffffffc000000000:0x80000000:0x40201000:rw-,g",
             "--map", "0x10000:0x10000000:12K:rw-,dev"],
    "arm64-4k-48": ["--format", "arm64-4k-48", "--base", "0x40400000",
                    "--map", "0x40000000:0x40000000:32M:rw-,g", "--map", "0x80000000:0x9000000:4K:rw-,g,dev"],
    "arm64-4k-48-nocontig": ["--format", "arm64-4k-48", "--base", "0x40400000", "--no-contig",
                             "--map", "0x40000000:0x40000000:32M:rw-,g", "--map", "0x80000000:0x9000000:4K:rw-,g,dev"],
    "x86-64-l4-pages": ["--format", "x86-64-l4", "--base", "0x100000", "--page-only",
                        "--map", "0xffff888000000000:0:4M:rw-,g", "--map", "0x400000:0x1000000:2M:r-x,u"],
}


def golden(work, golden_dir):
    for name, args in GOLDEN.items():
        img = work / f"golden-{name}.bin"
        if run(["build", "--image", img] + args).returncode != 0:
            continue
        keep = [a for i, a in enumerate(args) if args[i - 1] in ("--format", "--base", "--caps") or
                a in ("--format", "--base", "--caps")]
        got = run(["dump", "--image", img] + keep).stdout
        want = open(os.path.join(golden_dir, name + ".txt")).read()
        check(got == want, f"golden {name}:\n--- got\n{got}--- want\n{want}")


# ---------------------------------------------------------------------------------------------
def elf_segments(path):
    """PT_LOAD segments of a little-endian ELF64 (gABI: e_phoff at 32, e_phentsize/e_phnum at 54/56;
    Elf64_Phdr p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz)."""
    b = open(path, "rb").read()
    (phoff,) = struct.unpack("<Q", b[32:40])
    phentsize, phnum = struct.unpack("<HH", b[54:58])
    segs = []
    for i in range(phnum):
        t, flags, _, vaddr, paddr, _, memsz = struct.unpack("<IIQQQQQ", b[phoff + i * phentsize:phoff + i * phentsize + 48])
        if t == 1 and memsz:
            segs.append((vaddr, paddr, memsz, flags))
    return segs


def boot(work, kernels):
    qemu = {"sv39": ["qemu-system-riscv64", "-M", "virt"], "arm64-4k-48": ["qemu-system-aarch64", "-M", "virt", "-cpu", "max"]}
    if not all(shutil.which(q[0]) for q in qemu.values()):
        print("SKIP: qemu-system-riscv64 / qemu-system-aarch64 not installed")
        return 77
    # Where things must land. RAM and UART bases: QEMU hw/riscv/virt.c (virt_memmap: VIRT_DRAM
    # 0x80000000, VIRT_UART0 0x10000000) and hw/arm/virt.c (base_memmap: VIRT_MEM 0x40000000,
    # VIRT_UART 0x09000000), checked against the DTB by the reader above. Linear map and fixmap
    # bases: Linux Documentation/arch/riscv/vm-layout.rst (Sv39 direct mapping ffffffd600000000,
    # fixmap ffffffc4fea00000) and ptlib's arm64 48-bit layout (arm64_boot.hpp: kernel logical
    # map ffff000000000000, fixed mappings fffffbfff0000000); image VA: the start of the last
    # 2 GiB of vmalloc (vmalloc ends at ffffffd600000000 on Sv39, fffffbfff0000000 on arm64).
    where = {
        "sv39": dict(ram=0x80000000, uart=0x10000000, linear=0xffffffd600000000, fixmap=0xffffffc4fea00000,
                     image=0xffffffd600000000 - (2 << 30), base=0x80800000, caps=["--caps", "svpbmt"], reg="satp"),
        "arm64-4k-48": dict(ram=0x40000000, uart=0x09000000, linear=0xffff000000000000, fixmap=0xfffffbfff0000000,
                            image=0xfffffbfff0000000 - (2 << 30), base=0x40800000, caps=["--ttbr1"], reg="ttbr1_el1"),
    }
    for fmt_name, cmd in qemu.items():
        w = where[fmt_name]
        for mem_mb in (128, 512):
            dtb = work / f"{fmt_name}-{mem_mb}.dtb"
            q = subprocess.run(cmd + ["-m", f"{mem_mb}M", "-machine", f"dumpdtb={dtb}", "-nographic"],
                               capture_output=True, text=True)
            if not check(q.returncode == 0 and dtb.exists(), f"qemu dumpdtb failed: {q.stderr}"):
                continue
            tree = fdt.Tree(dtb)
            mem, uart = tree.memory(), tree.console()
            check(mem == [(w["ram"], mem_mb << 20)], f"{dtb}: memory {mem}")
            check(uart[0] == "okay" and uart[2] == w["uart"], f"{dtb}: console {uart}")
            kernel = kernels[fmt_name]
            img, js = work / f"{fmt_name}-{mem_mb}.bin", work / f"{fmt_name}-{mem_mb}.json"
            caps = w["caps"] if fmt_name == "sv39" else []
            b = run(["build", "--format", fmt_name, "--base", hex(w["base"]), "--dtb", dtb, "--kernel", kernel,
                     "--image", img, "--json", js] + caps)
            if b.returncode != 0:
                continue
            built = json.load(open(js))
            check(built["register"]["name"] == w["reg"], f"{fmt_name}: register {built['register']}")
            segs = elf_segments(kernel)
            load = min(s[1] for s in segs) & ~0xfff
            link = min(s[0] for s in segs) & ~0xfff
            want = [(w["linear"], w["ram"], mem_mb << 20, "rw- g"), (w["fixmap"], w["uart"], 0x1000, "rw- g,dev")]
            for vaddr, _, memsz, flags in segs:
                lo, hi = vaddr & ~0xfff, (vaddr + memsz + 0xfff) & ~0xfff
                perm = ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")
                want.append((w["image"] + lo - link, load + lo - link, hi - lo, perm + " g"))
            d = run(["dump", "--format", fmt_name, "--image", img, "--base", hex(w["base"]), "--json"] + w["caps"])
            if d.returncode != 0:
                continue
            got = merged(json.loads(d.stdout)["ranges"])
            check(got == sorted(want), f"{fmt_name} {mem_mb}M: dump {[tuple(map(str, g)) for g in got]}\n want {sorted(want)}")
    return 0


# ---------------------------------------------------------------------------------------------
def bad(work, kernels, wx_kernel):
    base = ["--format", "sv39", "--base", "0x80400000"]
    good = work / "good.bin"
    run(["build", "--image", good] + base + ["--map", "0x1000:0x80001000:4K:rw-"])
    raw = open(good, "rb").read()
    # The image: root at 0, the VPN[1] table at 0x1000, the VPN[0] table at 0x2000 (ImageBuilder:
    # root first, then tables as the map creates them, top down).
    check(len(raw) == 0x3000, f"the 4K map image is {len(raw):#x} bytes, wanted 3 tables")
    # Sv39 non-leaf PTE (priv 4.4.1, 4.3.2 step 4): PPN << 10 | V, with R = W = X = 0.
    def pointer(pa):
        return struct.pack("<Q", ((pa >> 12) << 10) | 1)
    outside = work / "outside.bin"
    open(outside, "wb").write(raw[:8] + pointer(0x80400000 + 0x100000) + raw[16:])  # root[1] -> far away
    loop = work / "loop.bin"
    open(loop, "wb").write(raw[:8] + pointer(0x80400000) + raw[16:])  # root[1] -> the root
    truncated = work / "truncated.bin"
    open(truncated, "wb").write(raw[:0x2000])  # the VPN[0] table is cut off
    tiny = work / "tiny.bin"
    open(tiny, "wb").write(raw[:100])
    notdtb = work / "not.dtb"
    open(notdtb, "wb").write(b"this is not a device tree\n" * 10)
    dtb = work / "bad-virt.dtb"
    have_qemu = shutil.which("qemu-system-riscv64") is not None
    if have_qemu:
        subprocess.run(["qemu-system-riscv64", "-M", f"virt,dumpdtb={dtb}", "-nographic"], capture_output=True)
    cases = [  # (what, args, words the one-line message must contain)
        ("unknown format", ["build", "--format", "sv40", "--base", "0", "--map", "0:0:4K:rw-"], "unknown format 'sv40'"),
        ("malformed number", ["build"] + base + ["--map", "0x1000:0x8000zz00:4K:rw-"], "malformed number '0x8000zz00'"),
        ("malformed base", ["build", "--format", "sv39", "--base", "12Q", "--map", "0:0:4K:rw-"], "malformed number '12Q'"),
        ("malformed attributes", ["build"] + base + ["--map", "0x1000:0x1000:4K:rwz"], "malformed attributes 'rwz'"),
        ("overlap", ["build"] + base + ["--map", "0x200000:0x1000:2M:rw-", "--map", "0x3ff000:0x9000:8K:rw-"], "overlap"),
        ("VA out of range", ["build"] + base + ["--map", "0x4000000000:0x1000:4K:rw-"], "va_non_canonical"),
        ("VA out of range (32-bit)", ["build", "--format", "x86-pae", "--base", "0x100000", "--map",
                                      "0xfffff000:0x1000:8K:rw-"], "va_out_of_range"),
        ("PA out of range", ["build", "--format", "sv32", "--base", "0x100000", "--map", "0x1000:0x400000000:4K:rw-"],
         "pa_out_of_range"),
        ("misaligned base", ["build", "--format", "sv39", "--base", "0x80400100", "--map", "0:0:4K:rw-"], "4K-aligned"),
        ("truncated image", ["dump", "--image", truncated] + base, "unreachable_table"),
        ("image smaller than the root", ["dump", "--image", tiny] + base, "truncated image"),
        ("table pointer outside the image", ["dump", "--image", outside] + base, "pa 0x0000000080500000"),
        ("loop in the tables", ["dump", "--image", loop] + base, "table_reached_twice"),
        ("root outside the image", ["dump", "--image", good, "--root", "0x90000000"] + base, "outside the image"),
        ("missing image file", ["dump", "--image", work / "nope.bin"] + base, "cannot open"),
        ("unknown option", ["dump", "--image", good, "--bogus"] + base, "unknown option --bogus"),
        ("unknown capability", ["build"] + base + ["--caps", "page1g", "--map", "0:0:4K:rw-"], "no capability 'page1g'"),
        ("not a device tree", ["build"] + base + ["--dtb", notdtb], "not a valid device tree"),
        ("layout without one", ["layout", "--format", "arm64-16k-47"], "no kernel layout"),
        # Refusals that name the way forward (the flag, the capability, or another format).
        ("x86-32 rw- (no NX)", ["build", "--format", "x86-32", "--base", "0x100000", "--map", "0x400000:0x400000:4K:rw-"],
         ["unsupported_attrs", "--allow-implied-exec", "x86-pae"]),
        ("x86-64 rw- without --caps nx", ["build", "--format", "x86-64-l4", "--base", "0x100000", "--caps", "no-nx",
                                          "--map", "0x400000:0x400000:4K:rw-"], ["unsupported_attrs", "--caps nx"]),
        ("RISC-V device memory without Svpbmt", ["build"] + base + ["--map", "0x1000:0x10000000:4K:rw-,dev"],
         ["unsupported_memtype", "--caps svpbmt"]),
        ("x86 wc without PAT", ["build", "--format", "x86-64-l4", "--base", "0x100000", "--map",
                                "0x400000:0x400000:4K:rw-,wc"], ["unsupported_memtype", "--caps pat"]),
    ]
    if have_qemu:
        cases += [
            ("W+X segment", ["build"] + base + ["--caps", "svpbmt", "--dtb", dtb, "--kernel", wx_kernel], "--allow-wx"),
            ("not an ELF", ["build"] + base + ["--caps", "svpbmt", "--dtb", dtb, "--kernel", notdtb], "not an ELF"),
            ("ELF of another machine", ["build"] + base + ["--caps", "svpbmt", "--dtb", dtb, "--kernel",
                                                           kernels["arm64-4k-48"]], "AArch64 ELF"),
            # Tables placed at the kernel's own load address (its lowest p_paddr).
            ("tables over the kernel", ["build", "--format", "sv39", "--base",
                                        hex(min(seg[1] for seg in elf_segments(kernels["sv39"])) & ~0xfff),
                                        "--caps", "svpbmt",
                                        "--dtb", dtb, "--kernel", kernels["sv39"]], "overlap the kernel"),
        ]
    for what, args, words in cases:
        one_line_error(f"bad input '{what}'", args, words)
    # dump --check-wx: validate()'s W^X audit lists each writable+executable leaf entry (2 rwx pages).
    wximg = work / "wx-audit.bin"
    run(["build", "--image", wximg] + base + ["--map", "0x1000:0x80001000:8K:rwx,g", "--map", "0x10000:0x80010000:4K:rw-,g"])
    audit = run(["dump", "--image", wximg, "--check-wx"] + base, expect_rc=1)
    lines = [l for l in audit.stdout.splitlines() if l.startswith("# W+X ")]
    check("# W^X: 2 writable+executable leaf entries" in audit.stdout and len(lines) == 2
          and "0x0000000000001000" in lines[0] and "0x0000000000002000" in lines[1],
          f"dump --check-wx: {audit.stdout!r}")
    js = json.loads(run(["dump", "--image", wximg, "--check-wx", "--json"] + base, expect_rc=1).stdout or "{}")
    # Without W+X leaves the audit passes: exit status 0.
    cleanimg = work / "wx-clean.bin"
    run(["build", "--image", cleanimg] + base + ["--map", "0x1000:0x80001000:8K:r-x,g", "--map", "0x10000:0x80010000:4K:rw-,g"])
    clean = run(["dump", "--image", cleanimg, "--check-wx"] + base)
    check("# W^X: 0 writable+executable leaf entries" in clean.stdout, f"dump --check-wx, no W+X: {clean.stdout!r}")
    check(js.get("wx") == ["0x0000000000001000", "0x0000000000002000"], f"dump --check-wx --json: {js.get('wx')!r}")
    # --kernel-range: a user-accessible page in the kernel's range (Sv39's upper half) is reported
    # (exit 1), a kernel page there is not.
    userimg = work / "user-in-kernel.bin"
    run(["build", "--image", userimg] + base + ["--map", "0xffffffc000001000:0x80020000:4K:r--,u",
                                                 "--map", "0xffffffc000002000:0x80021000:4K:rw-,g"])
    ua = run(["dump", "--image", userimg, "--check-wx", "--kernel-range", "0xffffffc000000000:256G"] + base, expect_rc=1)
    ulines = [l for l in ua.stdout.splitlines() if l.startswith("# USER ")]
    check(len(ulines) == 1 and "0xffffffc000001000" in ulines[0], f"dump --kernel-range: {ua.stdout!r}")
    check("# W^X: 0 " in ua.stdout, f"dump --kernel-range, no W+X: {ua.stdout!r}")
    run(["dump", "--image", userimg, "--check-wx", "--kernel-range", "0xffffffc000003000:4K"] + base)  # nothing there: 0
    # x86 without page1g maps a whole GiB with 2 MiB pages and says so; with it, one 1 GiB page.
    giga = ["build", "--format", "x86-64-l4", "--base", "0x100000", "--map", "0xffff888000000000:0x40000000:1G:rw-,g"]
    off = run(giga + ["--image", work / "giga.bin"])
    check("1 GiB pages are off" in off.stdout and "--caps page1g" in off.stdout,
          f"x86-64-l4 without page1g: no note in {off.stdout!r}")
    on = run(giga + ["--caps", "page1g", "--image", work / "giga1g.bin"])
    check("1 GiB pages are off" not in on.stdout, f"x86-64-l4 with page1g: unexpected note in {on.stdout!r}")
    d = run(["dump", "--format", "x86-64-l4", "--image", work / "giga1g.bin", "--base", "0x100000", "--caps", "page1g",
             "--json"])
    check([int(r["leaf_size"], 16) for r in json.loads(d.stdout or '{"ranges": []}')["ranges"]] == [1 << 30],
          f"x86-64-l4 --caps page1g: not one 1 GiB leaf: {d.stdout!r}")
    # The same W+X kernel is accepted when asked, and mapped rwx.
    if have_qemu:
        img = work / "wx.bin"
        run(["build"] + base + ["--caps", "svpbmt", "--dtb", dtb, "--kernel", wx_kernel, "--allow-wx", "--image", img])
        d = run(["dump", "--image", img] + base + ["--json"])
        check(any(r["attrs"] == "rwx g" for r in json.loads(d.stdout or '{"ranges": []}')["ranges"]),
              "--allow-wx: no rwx mapping in the dump")


# ---------------------------------------------------------------------------------------------
def diff(work):
    base = ["--format", "arm64-4k-39", "--base", "0x40000000"]
    a, b = work / "diff-a.bin", work / "diff-b.bin"
    run(["build", "--image", a] + base + ["--map", "0x200000:0x80000000:2M:rw-", "--map", "0x600000:0x90000000:8K:r--"])
    run(["build", "--image", b] + base + ["--map", "0x200000:0x80000000:1M:rw-", "--map", "0x300000:0x80100000:1M:r--",
                                           "--map", "0x600000:0x91000000:8K:r--", "--map", "0x800000:0xa0000000:4K:rw-"])
    p = run(["diff", a, b, "--json"] + base, expect_rc=1)
    got = [(d["kind"], d["va"], d["size"], d["a"], d["b"]) for d in json.loads(p.stdout or '{"differences": []}')["differences"]]
    want = [  # second MiB of the 2M block: r-- in B; the 8K at 0x600000 moved; 0x800000 only in B
        ("~", "0x0000000000300000", "0x100000", {"pa": "0x0000000080100000", "attrs": "rw-"},
         {"pa": "0x0000000080100000", "attrs": "r--"}),
        ("~", "0x0000000000600000", "0x2000", {"pa": "0x0000000090000000", "attrs": "r--"},
         {"pa": "0x0000000091000000", "attrs": "r--"}),
        ("+", "0x0000000000800000", "0x1000", None, {"pa": "0x00000000a0000000", "attrs": "rw-"}),
    ]
    check(got == want, f"diff: {got}\n want {want}")
    run(["diff", a, a] + base, expect_rc=0)


# ---------------------------------------------------------------------------------------------
# dts: device trees written for the tests (dts/*.dts, compiled with dtc at test time) and kernel
# ELFs written below. Expected values come from the DTS sources, the ELF headers written here and
# the layouts' documented numbers, never from ptgen's output.
PF_X, PF_W, PF_R = 1, 2, 4
EM_ARM, EM_AARCH64, EM_RISCV = 40, 183, 243
# Layouts (the numbers the existing boot test cites): arm64 48-bit (arm64_boot.hpp: linear map at
# ffff000000000000, fixed mappings at fffffbfff0000000, the image in the last 2 GiB of vmalloc,
# which ends there); Sv39 (Linux Documentation/arch/riscv/vm-layout.rst: direct mapping at
# ffffffd600000000, 128 GiB; fixmap ffffffc4fea00000; vmalloc ends at ffffffd600000000);
# ARMv7 3G/1G (Linux Documentation/arch/arm/memory.rst: PAGE_OFFSET c0000000, VMALLOC_END
# ff800000, fixmap at ffc80000; arch/arm/mm/mmu.c: vmalloc_min = VMALLOC_END - 240 MiB -
# VMALLOC_OFFSET (8 MiB) is where lowmem ends by default).
A64 = dict(linear=0xffff000000000000, fixmap=0xfffffbfff0000000, image=0xfffffbfff0000000 - (2 << 30))
SV39 = dict(linear=0xffffffd600000000, fixmap=0xffffffc4fea00000, image=0xffffffd600000000 - (2 << 30))
V7_PAGE_OFFSET, V7_FIXMAP = 0xC0000000, 0xFFC80000
V7_LOWMEM_END = 0xFF800000 - (240 << 20) - (8 << 20)


def merge_tuples(runs):
    """(va, pa, size, attrs) runs merged where they continue one another, as merged() does."""
    return merged([dict(va=hex(v), pa=hex(p), size=hex(n), attrs=a) for v, p, n, a in sorted(runs)])


def make_elf(path, elf64, machine, segs):
    """A little-endian ET_EXEC ELF whose program headers are `segs` (vaddr, paddr, memsz, flags),
    all PT_LOAD with p_filesz 0 (gABI 4.1: Elf32/Elf64_Ehdr and _Phdr layouts)."""
    n = len(segs)
    if elf64:
        hdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
        hdr += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, segs[0][0], 64, 0, 0, 64, 56, n, 64, 0, 0)
        ph = b"".join(struct.pack("<IIQQQQQQ", 1, f, 0, v, p, 0, m, 0x1000) for v, p, m, f in segs)
    else:
        hdr = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
        hdr += struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, segs[0][0], 52, 0, 0, 52, 32, n, 40, 0, 0)
        ph = b"".join(struct.pack("<IIIIIIII", 1, 0, v, p, 0, m, f, 0x1000) for v, p, m, f in segs)
    open(path, "wb").write(hdr + ph)
    return path


def one_line_error(what, args, words):
    p = run(args, expect_rc=1)
    lines = p.stderr.splitlines()
    ok = len(lines) == 1 and lines[0].startswith("ptgen: ")
    for w in [words] if isinstance(words, str) else words:
        ok = ok and w in lines[0]
    check(ok, f"{what}: stderr {p.stderr!r} should be one 'ptgen: ' line with {words!r}")
    return lines[0] if lines else ""


def build_and_dump(name, fmt_name, base, args, dump_args=(), work=None):
    """Builds (with --json), dumps (--json); returns (build JSON, merged dump, dump JSON, build stdout) or None."""
    img, js = work / f"{name}.bin", work / f"{name}.json"
    b = run(["build", "--format", fmt_name, "--base", hex(base), "--image", img, "--json", js] + list(args))
    if b.returncode != 0:
        return None
    d = run(["dump", "--format", fmt_name, "--image", img, "--base", hex(base), "--json"] + list(dump_args))
    if d.returncode != 0:
        return None
    dump = json.loads(d.stdout)
    return json.load(open(js)), merged(dump["ranges"]), dump, b.stdout


def dts(work, dts_dir):
    dtc = shutil.which("dtc")
    if not dtc:
        print("SKIP: dtc not installed (apt-get install device-tree-compiler)")
        return 77
    dtb = {}
    for f in sorted(os.listdir(dts_dir)):
        if f.endswith(".dts"):
            out = work / (f[:-4] + ".dtb")
            q = subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", "-o", out, os.path.join(dts_dir, f)],
                               capture_output=True, text=True)
            if check(q.returncode == 0, f"dtc {f}: {q.stderr}"):
                dtb[f[:-4]] = out
    G, M, K = 1 << 30, 1 << 20, 1 << 10

    # --- board64: three banks, one above 4 GiB; kernel segments at their own p_paddr ----------
    # Segment 0: r-x at link 0x40200000, p_paddr 0x80400000; segment 1: rw- at +0x4000, p_paddr
    # 0x80200000 (below segment 0: p_paddr order differs from p_vaddr order); segment 2: p_flags 0;
    # segment 3: execute-only (PF_X) at +0xa000, p_paddr 0x80310000.
    segs = [(0x40200000, 0x80400000, 0x3000, PF_R | PF_X), (0x40204000, 0x80200000, 0x1800, PF_R | PF_W),
            (0x40208000, 0x80300000, 0x1000, 0), (0x4020a000, 0x80310000, 0x1000, PF_X)]
    k64 = make_elf(work / "k-a64.elf", True, EM_AARCH64, segs)
    krv = make_elf(work / "k-rv.elf", True, EM_RISCV, segs)
    banks = [(0x80000000, 256 * M), (0x90000000, 128 * M), (0x880000000, 1 * G)]  # board64.dts
    for fmt_name, lay, kern, caps, xo in (("arm64-4k-48", A64, k64, [], "r-x g"),
                                          ("sv39", SV39, krv, ["--caps", "svpbmt"], "--x g")):
        r = build_and_dump(f"board64-{fmt_name}", fmt_name, 0x80800000,
                           ["--dtb", dtb["board64"], "--kernel", kern] + caps,
                           ["--ttbr1"] if fmt_name.startswith("arm64") else caps, work)
        if not check(r is not None, f"board64 {fmt_name}: build or dump failed"):
            continue
        built, got, _, out = r
        want = [(lay["linear"] + pa - banks[0][0], pa, size, "rw- g") for pa, size in banks]
        want.append((lay["fixmap"], 0x09000000, 0x1000, "rw- g,dev"))
        # Each mapped segment at its own p_paddr (page-rounded), at image VA + (p_vaddr - link).
        want += [(lay["image"] + 0x0000, 0x80400000, 0x3000, "r-x g"),
                 (lay["image"] + 0x4000, 0x80200000, 0x2000, "rw- g"),
                 (lay["image"] + 0xa000, 0x80310000, 0x1000, xo)]
        check(got == merge_tuples(want), f"board64 {fmt_name}: dump {got}\n want {merge_tuples(want)}")
        notes = " | ".join(built.get("notes", []))
        check("segment 2" in notes and "not mapped" in notes, f"board64 {fmt_name}: no note on p_flags 0: {notes}")
        if xo == "r-x g":
            check("segment 3" in notes and "mapped r-x" in notes, f"{fmt_name}: no note on execute-only: {notes}")
        check([int(x["pa"], 16) for x in built.get("segments", [])] == [0x80400000, 0x80200000, 0x80310000],
              f"board64 {fmt_name}: JSON segments {built.get('segments')}")
    # The model string (bytes 41 ff 1b 42) is echoed escaped, never raw.
    raw = subprocess.run([PTGEN, "build", "--format", "arm64-4k-48", "--base", "0x80800000", "--dtb", dtb["board64"]],
                         capture_output=True)
    check(raw.returncode == 0 and b"(A\\xff\\x1bB)" in raw.stdout and b"\xff" not in raw.stdout and b"\x1b" not in raw.stdout,
          f"board64: model not escaped: {raw.stdout[:200]!r}")

    # --load moves the whole image: each segment keeps its offset from the lowest p_paddr.
    r = build_and_dump("board64-load", "arm64-4k-48", 0x80800000,
                       ["--dtb", dtb["board64"], "--kernel", k64, "--load", "0x81000000"], ["--ttbr1"], work)
    if check(r is not None, "--load build failed"):
        lowest = 0x80200000
        check([int(x["pa"], 16) for x in r[0].get("segments", [])] == [0x81000000 + p - lowest for p in (0x80400000, 0x80200000, 0x80310000)],
              f"--load: segments {r[0].get('segments')}")
    # dump of the TTBR1 image: --build reads the build's JSON (ttbr1 true); without it the dump
    # says that its addresses are TTBR0's.
    img, js = work / "board64-arm64-4k-48.bin", work / "board64-arm64-4k-48.json"
    with_build = run(["dump", "--image", img, "--build", js]).stdout
    with_flag = run(["dump", "--format", "arm64-4k-48", "--image", img, "--base", "0x80800000", "--ttbr1"]).stdout
    check(with_build == with_flag and "TTBR1" in with_build.splitlines()[0], f"dump --build:\n{with_build}\nvs --ttbr1:\n{with_flag}")
    plain = run(["dump", "--format", "arm64-4k-48", "--image", img, "--base", "0x80800000"]).stdout
    check("--ttbr1" in plain.splitlines()[1], f"dump without --ttbr1 does not say how to read a TTBR1 image:\n{plain}")
    one_line_error("--build disagrees", ["dump", "--image", img, "--build", js, "--format", "arm64-4k-39"], "disagrees")

    base64 = ["build", "--format", "arm64-4k-48", "--base", "0x80800000", "--dtb", dtb["board64"], "--kernel"]
    one_line_error("p_paddr not aligned like p_vaddr",
                   base64 + [make_elf(work / "k-mis.elf", True, EM_AARCH64, [(0x40200000, 0x80400800, 0x1000, PF_R | PF_X)])],
                   ["segment 0", "different offsets"])
    one_line_error("kernel outside RAM",
                   base64 + [make_elf(work / "k-out.elf", True, EM_AARCH64, [(0x40200000, 0x20000000, 0x1000, PF_R | PF_X)])],
                   ["not inside one memory bank", "--load"])
    v7 = ["build", "--format", "armv7-lpae", "--base", "0x80800000", "--dtb", dtb["armv7-2g"], "--kernel"]
    one_line_error("ELF32 segment wrapping past 4 GiB",
                   ["build", "--format", "armv7-lpae", "--base", "0x80800000", "--dtb", dtb["cells1"], "--kernel"] + [make_elf(work / "k-wrap.elf", False, EM_ARM, [(0xfffff000, 0x80000000, 0x3000, PF_R | PF_X)])],
                   ["segment 0", "wraps"])
    # The same wrap by p_paddr (ELF32), and by p_vaddr in an ELF64 (past 2^64).
    one_line_error("ELF32 p_paddr wrapping past 4 GiB",
                   ["build", "--format", "armv7-lpae", "--base", "0x80800000", "--dtb", dtb["cells1"], "--kernel"] + [make_elf(work / "k-pwrap.elf", False, EM_ARM, [(0xc0000000, 0xfffff000, 0x3000, PF_R | PF_X)])],
                   ["segment 0", "p_paddr", "wraps"])
    one_line_error("ELF64 segment wrapping past 2^64",
                   base64 + [make_elf(work / "k-wrap64.elf", True, EM_AARCH64, [(0xfffffffffffff000, 0x80400000, 0x3000, PF_R | PF_X)])],
                   ["segment 0", "p_vaddr", "wraps", "64-bit"])
    # Two segments on one physical page (different VA pages, the same page-rounded p_paddr).
    one_line_error("two segments on one physical page",
                   base64 + [make_elf(work / "k-samepa.elf", True, EM_AARCH64,
                                      [(0x40200000, 0x80400000, 0x1000, PF_R | PF_X), (0x40202000, 0x80400000, 0x800, PF_R | PF_W)])],
                   ["segments 0 and 1", "overlap in physical memory"])
    # Write-only (PF_W alone): no format here can express it for a kernel mapping (RISC-V: W
    # without R is reserved, privileged spec "Encoding of PTE R/W/X fields"; arm64: every EL1
    # mapping is readable), so it is mapped rw- with a note (docs/ptgen.md "Kernel ELF").
    wo = [(0x40200000, 0x80400000, 0x1000, PF_R | PF_X), (0x40202000, 0x80402000, 0x1000, PF_W)]
    for fmt_name, lay, machine, caps in (("arm64-4k-48", A64, EM_AARCH64, []), ("sv39", SV39, EM_RISCV, ["--caps", "svpbmt"])):
        r = build_and_dump(f"wonly-{fmt_name}", fmt_name, 0x80800000,
                           ["--dtb", dtb["board64"], "--kernel", make_elf(work / f"k-wo-{fmt_name}.elf", True, machine, wo)] + caps,
                           ["--ttbr1"] if fmt_name.startswith("arm64") else caps, work)
        if check(r is not None, f"write-only segment on {fmt_name}: build failed"):
            check((lay["image"] + 0x2000, 0x80402000, 0x1000, "rw- g") in r[1], f"write-only on {fmt_name}: not rw- at its p_paddr: {r[1]}")
            notes = " | ".join(r[0].get("notes", []))
            check("segment 1" in notes and "mapped rw-" in notes, f"write-only on {fmt_name}: no note: {notes}")

    # --- shared: two 1 MiB banks in neighbouring 2 MiB slots: one L1 and one L2 table shared --
    r = build_and_dump("shared", "arm64-4k-48", 0x40800000, ["--dtb", dtb["shared"]], ["--ttbr1"], work)
    if check(r is not None, "shared banks: build failed (multi-piece maps sharing tables, issue 12 item 1)"):
        want = [(A64["linear"], 0x40000000, M, "rw- g"), (A64["linear"] + 2 * M, 0x40200000, M, "rw- g"),
                (A64["fixmap"], 0x09000000, 0x1000, "rw- g,dev")]
        check(r[1] == merge_tuples(want), f"shared: dump {r[1]}")
        # Root; linear: L1, L2, an L3 per bank; console: L1, L2, L3 (another L0 entry): 8.
        check(r[2]["tables"] == 8, f"shared: {r[2]['tables']} tables, wanted 8")

    # --- unaligned-bank: a bank at 0x40000100 and a two-segment kernel inside it (item 1) -------
    k2 = make_elf(work / "k-two.elf", True, EM_AARCH64,
                  [(0x40200000, 0x40010000, 0x3000, PF_R | PF_X), (0x40204000, 0x40014000, 0x2000, PF_R | PF_W)])
    r = build_and_dump("unaligned-bank", "arm64-4k-48", 0x40800000, ["--dtb", dtb["unaligned-bank"], "--kernel", k2],
                       ["--ttbr1"], work)
    if check(r is not None, "unaligned bank + two-segment kernel: build failed (issue 12 item 1)"):
        by_pa = {(int(x["pa"], 16), x["attrs"]): int(x["size"], 16) for x in r[2]["ranges"]}
        # The bank rounded inwards to whole pages, in the linear map; each segment at its own p_paddr.
        lin = [(int(x["pa"], 16), int(x["size"], 16)) for x in r[2]["ranges"]
               if A64["linear"] <= int(x["va"], 16) < A64["linear"] + (1 << 30)]
        check(sum(n for _, n in lin) == 0xff000 and min(p_ for p_, _ in lin) == 0x40001000,
              f"unaligned-bank: linear map {lin}, wanted [0x40001000, 0x40100000)")
        for pa, size, attrs in ((0x40010000, 0x3000, "r-x g"), (0x40014000, 0x2000, "rw- g")):
            got = [n for (p_, a), n in by_pa.items() if p_ == pa and a == attrs]
            check(got and got[0] >= size, f"unaligned-bank: segment at {pa:#x} {attrs} not mapped: {r[2]['ranges']}")

    # --- cells1: one address cell, a console behind a translating bus ---------------------------
    r = build_and_dump("cells1", "armv7-lpae", 0x80800000, ["--dtb", dtb["cells1"]], (), work)
    if check(r is not None, "cells1: build failed"):
        want = [(V7_PAGE_OFFSET, 0x80000000, 256 * M, "rw- g"), (V7_FIXMAP, 0x1c009000, 0x1000, "rw- g,dev")]
        check(r[1] == merge_tuples(want), f"cells1: dump {r[1]}")
    # x86-32 cannot forbid execution: refused, naming the flag; with it, the linear map is rwx.
    one_line_error("x86-32 from a DTB", ["build", "--format", "x86-32", "--base", "0x80800000", "--dtb", dtb["cells1"]],
                   ["unsupported_attrs", "--allow-implied-exec"])
    r = build_and_dump("cells1-x86", "x86-32", 0x80800000, ["--dtb", dtb["cells1"], "--allow-implied-exec"], (), work)
    if check(r is not None, "x86-32 --allow-implied-exec: build failed"):
        check((0xC0000000, 0x80000000, 256 * M, "rwx g") in r[1], f"x86-32: linear map not rwx at c0000000: {r[1]}")

    # --- reserved: no-map regions left out, whole pages ------------------------------------------
    r = build_and_dump("reserved", "arm64-4k-48", 0x40800000, ["--dtb", dtb["reserved"]], ["--ttbr1"], work)
    holes = [(0x40010000, 0x40011000), (0x4e800000, 0x4fc00000)]  # reserved.dts, widened to 4K pages
    if check(r is not None, "reserved: build failed"):
        pieces, at = [], 0x40000000
        for lo, hi in holes + [(0x80000000, 0x80000000)]:
            pieces.append((A64["linear"] + at - 0x40000000, at, lo - at, "rw- g"))
            at = hi
        want = pieces + [(A64["fixmap"], 0x09000000, 0x1000, "rw- g,dev")]
        check(r[1] == merge_tuples(want), f"reserved: dump {r[1]}\n want {merge_tuples(want)}")
        un = [(int(u["pa"], 16), int(u["pa"], 16) + int(u["size"], 16)) for u in r[0].get("unmapped", [])]
        check(un == holes, f"reserved: JSON unmapped {un}, wanted {holes}")
        check(r[3].count("unmapped") >= 2 and "no-map" in r[3], f"reserved: text output does not say so:\n{r[3]}")
    r = build_and_dump("reserved-mapped", "arm64-4k-48", 0x40800000, ["--dtb", dtb["reserved"], "--map-no-map"], ["--ttbr1"], work)
    if check(r is not None, "--map-no-map: build failed"):
        check((A64["linear"], 0x40000000, G, "rw- g") in r[1], f"--map-no-map: RAM not mapped whole: {r[1]}")
    one_line_error("kernel in a no-map region", ["build", "--format", "arm64-4k-48", "--base", "0x40800000", "--dtb",
                   dtb["reserved"], "--kernel", make_elf(work / "k-optee.elf", True, EM_AARCH64,
                                                         [(0x40200000, 0x4e900000, 0x1000, PF_R | PF_X)])],
                   ["no-map", "--load"])
    one_line_error("tables in a no-map region", ["build", "--format", "arm64-4k-48", "--base", "0x4e800000", "--dtb",
                                                 dtb["reserved"]], ["no-map", "--base"])

    # --- disabled console, console inside RAM ----------------------------------------------------
    r = build_and_dump("disabled", "arm64-4k-48", 0x40800000, ["--dtb", dtb["disabled-console"]], ["--ttbr1"], work)
    if check(r is not None, "disabled console: build failed"):
        check(r[1] == [(A64["linear"], 0x40000000, 256 * M, "rw- g")], f"disabled console mapped: {r[1]}")
        check(any("disabled" in n for n in r[0].get("notes", [])), f"disabled console: no note: {r[0].get('notes')}")
    r = build_and_dump("console-fail", "arm64-4k-48", 0x40800000, ["--dtb", dtb["console-fail"]], ["--ttbr1"], work)
    if check(r is not None, "console with status fail: build failed"):
        check(r[1] == [(A64["linear"], 0x40000000, 256 * M, "rw- g")], f"console with status fail mapped: {r[1]}")
        check(any('status "fail"' in n and "/uart@9000000" in n for n in r[0].get("notes", [])),
              f"console with status fail: no note: {r[0].get('notes')}")
    # Raw bytes in a node path, a status and stdout-path reach the messages escaped (\xNN), never
    # raw: console-fail.dtb with "uart" rewritten as 75 ff 1b 74 (node name and stdout-path, or
    # stdout-path alone: it then names no node) and "fail" as 66 1b ff 6c.
    blob = open(dtb["console-fail"], "rb").read()
    esc_path = b"/u\\xff\\x1bt@9000000"
    both = work / "console-bytes.dtb"
    both.write_bytes(blob.replace(b"uart@9000000", b"u\xff\x1bt@9000000").replace(b"fail\0", b"f\x1b\xffl\0"))
    p = subprocess.run([PTGEN, "build", "--format", "arm64-4k-48", "--base", "0x40800000", "--dtb", both], capture_output=True)
    check(p.returncode == 0 and esc_path in p.stdout and b'status "f\\x1b\\xffl"' in p.stdout
          and b"\xff" not in p.stdout and b"\x1b" not in p.stdout,
          f"console path and status not escaped: {p.stdout!r} {p.stderr!r}")
    path_only = work / "stdout-bytes.dtb"
    path_only.write_bytes(blob.replace(b"uart@9000000", b"u\xff\x1bt@9000000", 1))
    p = subprocess.run([PTGEN, "build", "--format", "arm64-4k-48", "--base", "0x40800000", "--dtb", path_only],
                       capture_output=True)
    lines = p.stderr.splitlines()
    check(p.returncode == 1 and len(lines) == 1 and b"names '" + esc_path + b"'" in lines[0]
          and b"\xff" not in p.stderr and b"\x1b" not in p.stderr, f"stdout-path not escaped: {p.stderr!r}")
    one_line_error("console inside RAM", ["build", "--format", "arm64-4k-48", "--base", "0x40800000", "--dtb",
                                          dtb["uart-in-ram"]], ["mismatched", "--console-attrs"])
    r = build_and_dump("uart-normal", "arm64-4k-48", 0x40800000, ["--dtb", dtb["uart-in-ram"], "--console-attrs", "rw-,g"],
                       ["--ttbr1"], work)
    if check(r is not None, "console inside RAM as normal memory: build failed"):
        check((A64["fixmap"], 0x40001000, 0x1000, "rw- g") in r[1], f"uart-in-ram --console-attrs: {r[1]}")

    # --- huge: 2 TiB on arm64-4k-48 with 1 GiB blocks; refused on Sv39 (128 GiB linear map) ----
    r = build_and_dump("huge", "arm64-4k-48", 0x80800000, ["--dtb", dtb["huge"]], ["--ttbr1"], work)
    if check(r is not None, "2 TiB on arm64-4k-48: build failed"):
        lin = [x for x in r[2]["ranges"] if int(x["va"], 16) == A64["linear"]]
        check(len(lin) == 1 and int(lin[0]["leaf_size"], 16) == G and lin[0]["count"] == 2048,
              f"2 TiB: linear map not 2048 x 1G: {lin}")
        # Root; 2 TiB over 512 GiB L0 entries: 4 L1 tables; the console: L1, L2, L3.
        check(r[2]["tables"] == 8, f"2 TiB: {r[2]['tables']} tables, wanted 8")
    one_line_error("2 TiB on Sv39", ["build", "--format", "sv39", "--base", "0x80800000", "--dtb", dtb["huge"],
                                     "--caps", "svpbmt"], ["2T", "128G", "linear"])

    # --- armv7-2g: lowmem mapped, the rest highmem -----------------------------------------------
    lowmem = V7_LOWMEM_END - V7_PAGE_OFFSET
    kv7 = make_elf(work / "k-v7.elf", False, EM_ARM, [(0xC0008000, 0x80008000, 0x3000, PF_R | PF_X),
                                                      (0xC000C000, 0x8000C000, 0x2000, PF_R | PF_W)])
    r = build_and_dump("armv7-2g", "armv7-lpae", 0x80800000, ["--dtb", dtb["armv7-2g"], "--kernel", kv7], (), work)
    if check(r is not None, "ARMv7 with 2 GiB: build failed"):
        want = [(V7_PAGE_OFFSET, 0x80000000, 0x8000, "rw- g"), (V7_PAGE_OFFSET + 0x8000, 0x80008000, 0x3000, "r-x g"),
                (V7_PAGE_OFFSET + 0xb000, 0x8000b000, 0x1000, "rw- g"),
                (V7_PAGE_OFFSET + 0xc000, 0x8000c000, 0x2000, "rw- g"),
                (V7_PAGE_OFFSET + 0xe000, 0x8000e000, lowmem - 0xe000, "rw- g"),
                (V7_FIXMAP, 0x1c090000, 0x1000, "rw- g,dev")]
        check(r[1] == merge_tuples(want), f"armv7-2g: dump {r[1]}\n want {merge_tuples(want)}")
        check(int(r[0].get("highmem_size", "0"), 16) == 2 * G - lowmem, f"armv7-2g: highmem_size {r[0].get('highmem_size')}")
        check(any(u["what"] == "highmem" and int(u["pa"], 16) == 0x80000000 + lowmem for u in r[0].get("unmapped", [])),
              f"armv7-2g: no highmem entry: {r[0].get('unmapped')}")
        check("highmem" in r[3], "armv7-2g: text output does not mention highmem")
    one_line_error("ARMv7 kernel in highmem", v7 + [make_elf(work / "k-high.elf", False, EM_ARM,
                                                             [(0xC0008000, 0xB0008000, 0x1000, PF_R | PF_X)])],
                   ["lowmem", "--load"])

    # --- x86-2g: 32-bit x86 (2-level and PAE) maps 896 MiB of lowmem, the rest is highmem ------
    x86_lowmem = (1 << 32) - 0xC0000000 - 128 * M  # x86-2g.dts: Linux's i386 MAXMEM
    for fmt_name, extra in (("x86-32", ["--allow-implied-exec"]), ("x86-pae", ["--caps", "nx"])):
        r = build_and_dump(f"x86-2g-{fmt_name}", fmt_name, 0x800000, ["--dtb", dtb["x86-2g"]] + extra,
                           extra if fmt_name == "x86-pae" else (), work)
        if not check(r is not None, f"{fmt_name} with 2 GiB: build failed"):
            continue
        lin = [x for x in r[1] if x[0] == 0xC0000000]
        check(len(lin) == 1 and lin[0][1] == 0 and lin[0][2] == x86_lowmem, f"{fmt_name} 2 GiB: linear map {lin}")
        check(int(r[0].get("lowmem_size", "0"), 16) == x86_lowmem and int(r[0].get("highmem_size", "0"), 16) == 2 * G - x86_lowmem,
              f"{fmt_name} 2 GiB: lowmem {r[0].get('lowmem_size')} highmem {r[0].get('highmem_size')}")
        check([(u["what"], int(u["pa"], 16), int(u["size"], 16)) for u in r[0].get("unmapped", [])]
              == [("highmem", x86_lowmem, 2 * G - x86_lowmem)], f"{fmt_name} 2 GiB: unmapped {r[0].get('unmapped')}")

    # --- messages --------------------------------------------------------------------------------
    msg = one_line_error("non-string stdout-path", ["build", "--format", "arm64-4k-48", "--base", "0x40800000", "--dtb",
                                                    dtb["bad-stdout"]], "not a string")
    check("names ''" not in msg, f"non-string stdout-path: {msg}")
    lay = run(["layout", "--format", "arm64-4k-48"]).stdout
    vm = [l.split() for l in lay.splitlines() if l.startswith("vmalloc")]
    size = 0xfffffbfff0000000 - 0xffff800080000000  # arm64_boot.hpp: vmalloc from ffff800080000000
    if check(len(vm) == 1, f"layout: no vmalloc line:\n{lay}"):
        tok = vm[0][-1]
        ok = tok.startswith("~") and tok.endswith("T") and abs(float(tok[1:-1]) - size / 2**40) < 0.01
        check(ok, f"layout: vmalloc size {tok!r}, wanted about {size / 2**40:.2f}T")
    return 0


def main():
    global PTGEN
    ap = argparse.ArgumentParser()
    ap.add_argument("group")
    ap.add_argument("--ptgen", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--golden")
    ap.add_argument("--kernel-riscv64")
    ap.add_argument("--kernel-aarch64")
    ap.add_argument("--kernel-wx")
    ap.add_argument("--dts")
    o = ap.parse_args()
    PTGEN = o.ptgen
    from pathlib import Path
    work = Path(o.work)
    work.mkdir(parents=True, exist_ok=True)
    kernels = {"sv39": o.kernel_riscv64, "arm64-4k-48": o.kernel_aarch64}
    rc = 0
    if o.group == "roundtrip":
        roundtrip(work)
    elif o.group == "golden":
        golden(work, o.golden)
    elif o.group == "boot":
        rc = boot(work, kernels)
    elif o.group == "bad":
        bad(work, kernels, o.kernel_wx)
    elif o.group == "diff":
        diff(work)
    elif o.group == "dts":
        rc = dts(work, o.dts or os.path.join(os.path.dirname(os.path.abspath(__file__)), "dts"))
    else:
        sys.exit(f"unknown group {o.group}")
    print(f"{o.group}: {CHECKS[0]} checks, {len(FAILS)} failed")
    return 1 if FAILS else rc


if __name__ == "__main__":
    sys.exit(main())
