#!/usr/bin/env python3
"""Tests of the ptgen command-line tool (suite ptgen), one group per meson test:

  roundtrip  every format: build -> dump lists exactly the requested maps (default, --page-only,
             --no-contig), and the engine's translate() on the loaded image agrees with them
  golden     fixed layouts whose dumps were worked out by hand (golden/*.txt)
  boot       device trees of QEMU's virt machines (dumped at test time) + real ELF kernels
  bad        each bad input of issue 7: one line on stderr, exit status 1, never a crash
  diff       two images: what differs, exit status 0 / 1

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

FAILS = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)
    return cond


def run(args, expect_rc=0):
    p = subprocess.run([PTGEN] + [str(a) for a in args], capture_output=True, text=True)
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
def fdt_memory_and_console(path):
    """A small independent FDT reader (Devicetree Specification v0.4, 5.: header, structure
    block tokens FDT_BEGIN_NODE 1, FDT_END_NODE 2, FDT_PROP 3, FDT_NOP 4, FDT_END 9): the reg of
    /memory@* and of the node /chosen/stdout-path names, both with 2 address + 2 size cells as
    QEMU's virt machines use at the root and in /soc."""
    b = open(path, "rb").read()
    magic, _, off_struct, off_strings = struct.unpack(">IIII", b[:16])
    assert magic == 0xD00DFEED
    pos, path_stack, props = off_struct, [], {}
    while True:
        (tok,) = struct.unpack(">I", b[pos:pos + 4]); pos += 4
        if tok == 1:
            end = b.index(b"\0", pos)
            path_stack.append(b[pos:end].decode())
            pos = (end + 1 + 3) & ~3
        elif tok == 2:
            path_stack.pop()
        elif tok == 3:
            ln, nameoff = struct.unpack(">II", b[pos:pos + 8]); pos += 8
            pname = b[off_strings + nameoff:b.index(b"\0", off_strings + nameoff)].decode()
            props[("/".join(path_stack) or "/", pname)] = b[pos:pos + ln]
            pos = (pos + ln + 3) & ~3
        elif tok == 9:
            break
    def reg(node):
        v = props[(node, "reg")]
        return struct.unpack(">QQ", v[:16])
    mem = [reg(n) for (n, p) in props if p == "device_type" and props[(n, p)] == b"memory\0"]
    out = props[("/chosen", "stdout-path")].rstrip(b"\0").decode().split(":")[0]
    return mem, reg(out if out != "/" else out)


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
            mem, uart = fdt_memory_and_console(dtb)
            check(mem == [(w["ram"], mem_mb << 20)], f"{dtb}: memory {mem}")
            check(uart[0] == w["uart"], f"{dtb}: console at {uart[0]:#x}")
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
        p = run(args, expect_rc=1)
        lines = p.stderr.splitlines()
        check(len(lines) == 1 and lines[0].startswith("ptgen: ") and words in lines[0],
              f"bad input '{what}': stderr {p.stderr!r} should be one 'ptgen: ' line with {words!r}")
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
    else:
        sys.exit(f"unknown group {o.group}")
    print(f"{o.group}: {CHECKS[0]} checks, {len(FAILS)} failed")
    return 1 if FAILS else rc


if __name__ == "__main__":
    sys.exit(main())
