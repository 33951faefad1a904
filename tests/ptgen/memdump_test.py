#!/usr/bin/env python3
"""Tests of ptgen over physical memory (suite ptgen; issue 14), one group per meson test:

  qemu    demo kernels booted under QEMU, held after their verdict with their final tables live
          (a byte on the serial input asks for it: demo/common/console.hpp hold_if_asked), dumped
          with QMP dump-guest-memory; ptgen dump --core of the dump is checked against QEMU's own
          page walker (HMP gva2gpa: the first, a middle and the last page of every range, and the
          page after each range), against the root register the kernel printed (decoded as the
          manuals say), and for the linear map against the offset the kernel printed
  memory  small dumps written here (ELF cores and raw images) with trees whose entries are
          encoded from the manuals: the Linux-style listing, --check-wx, markers, shared tables,
          recursive entries, pointers into holes, A/D and software bits, x86 CPU notes, and
          corrupted or truncated files (one `ptgen:` line, exit status 1, never a crash)

Expected values come from the manuals and QEMU, never from ptgen's own output.
"""
import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptgen_test as T  # noqa: E402  check(), run(), the counters
from ptgen_test import check  # noqa: E402

PAGE = 4096


def run(args, expect_rc=0):
    return T.run(args, expect_rc)


def one_line_error(what, args, rc=1, needles=()):
    p = run(args, expect_rc=None)
    lines = p.stderr.splitlines()
    ok = check(p.returncode == rc, f"{what}: exit {p.returncode}, wanted {rc}\n{p.stderr}")
    ok = check(len(lines) == 1 and lines[0].startswith("ptgen: "), f"{what}: stderr is not one ptgen: line: {p.stderr!r}") and ok
    for n in needles:
        check(n in p.stderr, f"{what}: {n!r} not in {p.stderr!r}")
    return p


# ---------------------------------------------------------------------------------------------
# QEMU: boot, hold, dump, compare with QEMU's walker.
# ---------------------------------------------------------------------------------------------

# Where QEMU puts RAM (hw/riscv/virt.c, hw/arm/virt.c: VIRT_DRAM / VIRT_MEM; PC: from 0).
RAM_BASE = {"sv39": 0x80000000, "sv48": 0x80000000, "sv57": 0x80000000, "sv32": 0x80000000,
            "arm64-4k-48": 0x40000000, "armv7-lpae": 0x40000000, "x86-64-l4": 0, "x86-64-l5": 0, "x86-pae": 0,
            "x86-32": 0}
# Boots whose tables are in another boot's format: Svnapot + Svpbmt on Sv39 (contiguous runs and
# memory types in the dump), and the x86-64 kernel that asked for 5 levels on a CPU without LA57.
FORMAT_OF = {"sv39-napot-pbmt": "sv39", "x86-64-fallback-no-la57": "x86-64-l4",
             "arm64-fallback-a72": "arm64-4k-48", "arm64-select-max": "arm64-4k-52"}
RAM_BASE.update({f: 0x40000000 for f in ("arm64-4k-39", "arm64-4k-52", "arm64-16k-47", "arm64-16k-48", "arm64-16k-52",
                                         "arm64-64k-42", "arm64-64k-48", "arm64-64k-52")})


def satp_root(v):  # RISC-V privileged spec 4.1.11: satp MODE[63:60] ASID[59:44] PPN[43:0]
    return (v & ((1 << 44) - 1)) << 12


def satp32_root(v):  # RISC-V privileged spec 4.1.11, RV32: MODE[31] ASID[30:22] PPN[21:0]
    return (v & ((1 << 22) - 1)) << 12


def ttbr_root(v):  # Arm ARM D19.2 TTBR0_EL1/TTBR1_EL1: ASID[63:48], BADDR[47:1], CnP[0]
    return v & 0x0000FFFFFFFFFFFE


def ttbr52_root(v):  # 52-bit output addresses (FEAT_LPA, FEAT_LPA2): BADDR[51:48] in bits [5:2]
    return (v & 0x0000FFFFFFFFFFC0) | (((v >> 2) & 0xF) << 48)


def lpae_ttbr_root(v):  # Arm ARM (v7-A) B4.1.155 TTBR0, 64-bit: ASID[55:48], BADDR[39:x]
    return v & ((1 << 40) - 1)


# format -> trees: (register the kernel prints, root decoder, extra ptgen options); None: the
# dump's CPU note gives the root (x86).
TREES = {
    "sv39": [("satp", satp_root, [])],
    "arm64-4k-48": [("TTBR0_EL1", ttbr_root, []), ("TTBR1_EL1", ttbr_root, ["--ttbr1"])],
    **{f: [("TTBR0_EL1", ttbr_root, []), ("TTBR1_EL1", ttbr_root, ["--ttbr1"])]
       for f in ("arm64-4k-39", "arm64-16k-47", "arm64-16k-48", "arm64-64k-42", "arm64-64k-48")},
    **{f: [("TTBR0_EL1", ttbr52_root, []), ("TTBR1_EL1", ttbr52_root, ["--ttbr1"])]
       for f in ("arm64-4k-52", "arm64-16k-52", "arm64-64k-52")},
    "armv7-lpae": [("TTBR0", lpae_ttbr_root, [])],
    "sv48": [("satp", satp_root, [])],
    "sv57": [("satp", satp_root, [])],
    "sv32": [("satp", satp32_root, [])],
    "x86-64-l4": [(None, None, [])],
    "x86-64-l5": [(None, None, [])],
    "x86-pae": [(None, None, [])],
    "x86-32": [(None, None, [])],
}
# 32-bit paging has no execute-disable bit (SDM vol. 3A 4.3): every leaf is executable.
NO_NX = {"x86-32"}


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(200):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.02)
        self.f = self.s.makefile("rwb")
        self.f.readline()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                return r

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line}).get("return", "")


def read_until(p, needle, seconds):
    """What process `p` writes to its stdout until `needle` appears, it exits or `seconds` pass."""
    out, deadline = b"", time.monotonic() + seconds
    os.set_blocking(p.stdout.fileno(), False)
    while needle.encode() not in out and time.monotonic() < deadline and p.poll() is None:
        chunk = p.stdout.read()
        if chunk:
            out += chunk
        else:
            time.sleep(0.01)
    out += p.stdout.read() or b""  # what an exited process wrote last
    return out.decode("utf-8", "replace")


def boot_and_dump(fmt, cmd, work):
    """Boots `cmd` held after its verdict; returns (serial text, core path, QMP) or None."""
    sock, core = work / f"{fmt}.qmp", work / f"{fmt}.core"
    for f in (sock, core):
        if f.exists():
            f.unlink()
    cmd = list(cmd)
    if "-monitor" in cmd:
        cmd[cmd.index("-monitor") + 1] = "none"
    cmd += ["-qmp", f"unix:{sock},server=on,wait=off"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    p.stdin.write(b"h")
    p.stdin.flush()
    text = read_until(p, "HOLD ", 30)
    if not check(f"PASS {fmt}" in text and "HOLD " in text, f"{fmt}: the kernel did not pass and hold:\n{text[-2000:]}"):
        p.kill()
        p.wait()
        return None
    q = Qmp(str(sock))
    r = q.cmd("dump-guest-memory", paging=False, protocol=f"file:{core}")
    check("return" in r, f"{fmt}: dump-guest-memory: {r}")
    return text, core, q, p


def gva2gpa(q, va):
    """QEMU's own translation of `va` on the held CPU: a PA, or None (unmapped)."""
    out = q.hmp(f"gva2gpa {va:#x}")
    m = re.search(r"gpa: (0x[0-9a-f]+|0)\b", out)  # QEMU prints 0 without 0x
    return int(m.group(1), 0) if m else None


def qemu(work, boots):
    for spec in boots:
        boot, *cmd = spec.split("|")
        fmt = FORMAT_OF.get(boot, boot)
        t0 = time.monotonic()
        got = boot_and_dump(boot, cmd, work)
        if got is None:
            continue
        text, core, q, proc = got
        trees = []
        for reg, decode, extra in TREES[fmt]:
            args = ["dump", "--core", core, "--json"] + extra
            if reg:
                m = re.search(rf"\b{reg}\b[^\n=]*= (0x[0-9a-f]+)", text)
                if not check(m is not None, f"{fmt}: the kernel printed no {reg}"):
                    continue
                args += ["--format", fmt, "--root", hex(decode(int(m.group(1), 16)))]
            p = run(args)
            if p.returncode != 0:
                continue
            d = json.loads(p.stdout)
            check(d["problems"] == 0 and not d["events"], f"{fmt} {reg}: events {d['events']}")
            if reg is None:  # x86: root and format from the dump's CPU note; the kernel printed CR3
                check(d["format"] == fmt, f"{fmt}: format from the CPU note is {d['format']}")
                m = re.search(r"\bCR3\b[^\n=]*= (0x[0-9a-f]+)", text, re.I)
                if check(m is not None, f"{fmt}: the kernel printed no CR3"):
                    # SDM vol. 3A tables 4-3, 4-7, 4-12: the root is CR3[31:12], CR3[31:5], CR3[51:12]
                    mask = {"x86-32": 0xFFFFF000, "x86-pae": 0xFFFFFFE0}.get(fmt, 0x000FFFFFFFFFF000)
                    check(int(d["root"], 16) == int(m.group(1), 16) & mask,
                          f"{fmt}: root {d['root']} vs the kernel's CR3 {m.group(1)}")
            trees.append(d)
        ranges = [(int(r["va"], 16), int(r["pa"], 16), int(r["size"], 16), r["attrs"]) for d in trees for r in d["ranges"]]
        # ARMv7: the TTBR0 tree (the linear map); the kernel's TTBR1 tree (image, fixmap) starts
        # below the first level (T1SZ > 0), a format ptgen does not name yet.
        check(len(ranges) >= (1 if fmt == "armv7-lpae" else 4), f"{fmt}: only {len(ranges)} ranges")
        # QEMU's walker agrees on the first, a middle and the last page of each range, and the
        # page after each range is unmapped unless another range maps it.
        def mapped(va):
            return any(v <= va < v + s for v, _, s, _ in ranges)
        bad = []
        for va, pa, size, _ in ranges:
            for off in sorted({0, (size // 2) & ~(PAGE - 1), size - PAGE}):
                got_pa = gva2gpa(q, va + off)
                if got_pa != pa + off:
                    bad.append(f"{va + off:#x}: QEMU {got_pa if got_pa is None else hex(got_pa)}, ptgen {pa + off:#x}")
            after = (va + size) & ((1 << 64) - 1)
            if after and not mapped(after):
                got_pa = gva2gpa(q, after)
                if got_pa is not None:
                    bad.append(f"{after:#x}: QEMU maps it to {got_pa:#x}, ptgen lists nothing")
        check(not bad, f"{fmt}: ptgen and QEMU's walker disagree:\n  " + "\n  ".join(bad[:10]))
        # The linear map: RAM from its base at base + the offset the kernel printed, rw- g.
        m = re.search(r"DirectAccess offset (0x[0-9a-f]+)", text)
        if check(m is not None, f"{fmt}: no linear-map offset on the serial line"):
            lin = (RAM_BASE[fmt] + int(m.group(1), 16)) & ((1 << 64) - 1)
            # The first 64 MiB of RAM: linear (va - lin == pa - base), starting at lin. Layouts
            # without an image window give the image's sections their own permissions there.
            part = sorted(r for r in ranges if lin <= r[0] < lin + (64 << 20))
            ok = bool(part) and part[0][0] == lin and all(r[1] - RAM_BASE[fmt] == r[0] - lin for r in part)
            ok = ok and any(r[3] == ("rwx g" if fmt in NO_NX else "rw- g") for r in part)
            check(ok, f"{fmt}: no linear map of RAM at {lin:#x}: {part[:4]}")
        args = ["dump", "--core", core, "--check-wx"] + (["--format", fmt, "--root", trees[0]["root"]] if TREES[fmt][0][0] else [])
        wx = run(args, expect_rc=1 if fmt in NO_NX else 0)
        check(("FAILED" if fmt in NO_NX else "passed, no W+X pages") in wx.stdout, f"{fmt}: --check-wx:\n{wx.stdout}")
        q.cmd("quit")
        proc.wait(timeout=10)
        core.unlink()
        print(f"{boot}: boot, dump and checks in {time.monotonic() - t0:.2f} s ({len(ranges)} ranges)")
        if boot == "sv39-napot-pbmt":  # the kernel maps an aligned 64 KiB Svnapot run and a device
            check(any(r["contiguous"] for d in trees for r in d["ranges"]), f"{boot}: no contiguous run in the dump")
            check(any(r[3].endswith("dev") for r in ranges), f"{boot}: no device memory type in the dump")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("group")
    ap.add_argument("--ptgen", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--boot", action="append", default=[])
    o = ap.parse_args()
    T.PTGEN = o.ptgen
    work = Path(o.work)
    work.mkdir(parents=True, exist_ok=True)
    if o.group == "qemu":
        qemu(work, o.boot)
    elif o.group == "memory":
        memory(work)
    else:
        sys.exit(f"unknown group {o.group}")
    print(f"{o.group}: {T.CHECKS[0]} checks, {len(T.FAILS)} failed")
    return 1 if T.FAILS else 0


# x86 4-level entries (Intel SDM vol. 3A, tables 4-14 to 4-20): P bit 0, R/W 1, U/S 2, A 5,
# D 6, PS 7 (PDE/PDPTE), G 8, bits 11:9 ignored (software), XD 63.
P, RW, US, A, D, PS, G, SW, XD = 1, 2, 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8, 0x7 << 9, 1 << 63
CR0_PG, CR4_PAE = 1 << 31, 1 << 5  # SDM vol. 3A 2.5
EM_X86_64, ET_CORE, ET_EXEC = 62, 4, 2


def qemu_note(cr0, cr3, cr4):
    """A "QEMU" note as QEMU 7.2 target/i386/arch_dump.c writes it: QEMUCPUState version 1,
    cr[0..4] after 2 words, 18 registers and 10 segment caches of 24 bytes (offset 392)."""
    desc = struct.pack("<II", 1, 432) + bytes(8 * 18 + 24 * 10) + struct.pack("<5Q", cr0, 0, 0, cr3, cr4)
    return struct.pack("<III", 5, len(desc), 0) + b"QEMU\0\0\0\0" + desc


def elf_core(path, loads, notes=b"", etype=ET_CORE, machine=EM_X86_64, truncate=None):
    """ELF64 little-endian file: PT_NOTE (if any) then one PT_LOAD per (paddr, bytes)."""
    phs = ([(4, notes)] if notes else []) + [(1, b) for _, b in loads]
    off = 64 + 56 * len(phs)
    body, headers = b"", b""
    pas = ([0] if notes else []) + [pa for pa, _ in loads]
    for (ptype, data), pa in zip(phs, pas):
        headers += struct.pack("<IIQQQQQQ", ptype, 0, off + len(body), 0, pa, len(data), len(data), 0)
        body += data
    eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, 0, 64, 0, 0, 64, 56,
                                                                 len(phs), 0, 0, 0)
    data = eh + headers + body
    Path(path).write_bytes(data[:truncate] if truncate is not None else data)
    return path


def put(mem, pa, value):
    mem[pa:pa + 8] = struct.pack("<Q", value)


def memory(work):
    # A tree in [0, 64K): PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000 (x86-64-l4).
    mem = bytearray(0x10000)
    put(mem, 0x1000, 0x2000 | P | RW | US)                 # PML4[0] -> PDPT
    put(mem, 0x2000, 0x3000 | P | RW | US)                 # PDPT[0] -> PD
    put(mem, 0x3000, 0x4000 | P | RW | US)                 # PD[0]   -> PT
    put(mem, 0x4000, 0x100000 | P | RW | US | A | D | SW)  # VA 0:       4K rwx u (A, D, software bits)
    put(mem, 0x4008, 0x101000 | P | US | A | XD)           # VA 0x1000:  4K r-- u
    put(mem, 0x3008, 0x200000 | P | RW | PS | G | XD)      # VA 2M:      2M rw- g
    put(mem, 0x3010, 0x400000 | P | RW | PS | G)           # VA 4M:      2M rwx g
    note = qemu_note(CR0_PG | 1, 0x1000 | 0x5, CR4_PAE)    # CR3 low bits: PCID/flags, not address
    good = elf_core(work / "good.elf", [(0, bytes(mem))], note)

    p = run(["dump", "--core", good])
    check("# x86-64-l4 root 0x0000000000001000" in p.stdout, f"format/root from the note:\n{p.stdout}")
    # Two CPUs: --cpu 1 reads the second note (its CR3 names a PML4 at 0x6000 with PML4[2] only).
    cpus = bytearray(mem)
    put(cpus, 0x6010, 0x2000 | P | RW | US)
    two_cpus = elf_core(work / "cpus.elf", [(0, bytes(cpus))], note + qemu_note(CR0_PG | 1, 0x6000, CR4_PAE))
    pc = run(["dump", "--core", two_cpus, "--cpu", "1"])
    first = [l.split()[0] for l in pc.stdout.splitlines() if not l.startswith("#")][:1]
    check("root from CPU 1 CR3 0x6000" in pc.stdout and first == ["0x0000010000000000-0x0000010000001000"], f"--cpu 1:\n{pc.stdout}")
    one_line_error("--cpu 2 of 2", ["dump", "--core", two_cpus, "--cpu", "2"], needles=["2 CPUs"])
    lines = [l for l in p.stdout.splitlines() if not l.startswith("#")]
    want = ["0x0000000000000000-0x0000000000001000 -> 0x0000000000100000    4K      1 x 4K   PT      rwx u",
            "0x0000000000001000-0x0000000000002000 -> 0x0000000000101000    4K      1 x 4K   PT      r-- u",
            "0x0000000000200000-0x0000000000400000 -> 0x0000000000200000    2M      1 x 2M   PD      rw- g",
            "0x0000000000400000-0x0000000000600000 -> 0x0000000000400000    2M      1 x 2M   PD      rwx g"]
    check(lines == want, f"merged listing:\n{p.stdout}")

    p = run(["dump", "--core", good, "--style", "linux", "--markers", "none"])
    lines = [l.split() for l in p.stdout.splitlines() if not l.startswith("#")]
    # One line per range, words: RW/ro, x/NX, USR, GLB, memory type. Linux merges on level and
    # attributes only; the two 2M leaves differ in XD, so they stay apart.
    want = [["0x0000000000000000-0x0000000000001000", "4K", "PT", "RW", "x", "USR", "MEM"],
            ["0x0000000000001000-0x0000000000002000", "4K", "PT", "ro", "NX", "USR", "MEM"],
            ["0x0000000000200000-0x0000000000400000", "2M", "PD", "RW", "NX", "GLB", "MEM"],
            ["0x0000000000400000-0x0000000000600000", "2M", "PD", "RW", "x", "GLB", "MEM"]]
    check(lines == want, f"linux style:\n{p.stdout}")
    marks = work / "markers.txt"
    marks.write_bytes(b"# name VA\nlow pages 0\nkernel 0x200000\n")
    p = run(["dump", "--core", good, "--style", "linux", "--markers", marks])
    body = [l.split()[0] if not l.startswith("---") else l for l in p.stdout.splitlines() if not l.startswith("#")]
    check(body[0] == "---[ low pages ]---" and body[3] == "---[ kernel ]---", f"markers:\n{p.stdout}")

    p = run(["dump", "--core", good, "--check-wx"], expect_rc=1)
    wx = [l for l in p.stdout.splitlines() if l.startswith("W+X")]
    check(len(wx) == 2 and wx[0].split()[1].startswith("0x0000000000000000-") and wx[1].split()[1].startswith("0x0000000000400000-"),
          f"--check-wx:\n{p.stdout}")
    check("FAILED" in p.stdout, f"--check-wx summary:\n{p.stdout}")

    # The same memory as a raw image at 0 and at another base (tables then point outside it).
    raw = work / "mem.raw"
    raw.write_bytes(bytes(mem))
    p = run(["dump", "--raw", raw, "--base", "0", "--format", "x86-64-l4", "--root", "0x1000"])
    check([l for l in p.stdout.splitlines() if not l.startswith("#")] == lines_of_good(good), "raw image differs from core")
    t = run(["translate", "--raw", raw, "--base", "0", "--format", "x86-64-l4", "--root", "0x1000", "0x1234", "0x400010"])
    check(t.stdout.split("\n")[0].split()[:3] == ["0x0000000000001234", "->", "0x0000000000101234"] and
          "0x0000000000400010" in t.stdout.split("\n")[1], f"translate:\n{t.stdout}")

    # diff: the same tree with the 4 KiB page at VA 0x1000 made writable (R/W, SDM table 4-20).
    changed = bytearray(mem)
    put(changed, 0x4008, 0x101000 | P | RW | US | A | XD)
    ch = elf_core(work / "changed.elf", [(0, bytes(changed))], note)
    p = run(["diff", "--core", good, "--core-b", ch], expect_rc=1)
    diffs = [l.split() for l in p.stdout.splitlines()]
    check(len(diffs) == 1 and diffs[0][:2] == ["~", "0x0000000000001000-0x0000000000002000"] and "r--" in diffs[0] and "rw-" in diffs[0],
          f"diff --core-b:\n{p.stdout}")
    run(["diff", "--core", good, "--core-b", good], expect_rc=0)
    # Within one dump: another root (the PDPT read as a root would be another format: use a copy
    # of the PML4 at 0x5000 without its first entry).
    two = bytearray(mem)
    two[0x5000:0x6000] = bytes(PAGE)
    put(two, 0x5008, 0x2000 | P | RW | US)  # PML4[1]: the same PDPT at VA 512 GiB
    tw = elf_core(work / "two.elf", [(0, bytes(two))], note)
    p = run(["diff", "--core", tw, "--root-b", "0x5000", "--format", "x86-64-l4"], expect_rc=1)
    kinds = sorted({l.split()[0] for l in p.stdout.splitlines()})
    check(kinds == ["+", "-"] and "0x0000008000000000-" in p.stdout, f"diff --root-b:\n{p.stdout}")
    one_line_error("diff of a broken B", ["diff", "--core", good, "--core-b", work / "nothing.elf"], rc=2)

    # Real-tree hazards: a pointer into a hole, a shared table, a recursive entry.
    bad = bytearray(mem)
    put(bad, 0x3018, 0x80000000 | P | RW)   # PD[3]: a PT at 2 GiB, outside the dump
    put(bad, 0x2008, 0x3000 | P | RW)       # PDPT[1] -> the same PD as PDPT[0] (shared)
    put(bad, 0x1ff8, 0x1000 | P | RW)       # PML4[511] -> PML4 (recursive / self-map)
    hz = elf_core(work / "hazards.elf", [(0, bytes(bad)), (0x100000000, bytes(PAGE))], note)
    p = run(["dump", "--core", hz, "--json"], expect_rc=1)
    d = json.loads(p.stdout)
    ev = {(e["what"], e["va"], e["pa"], e["level"]) for e in d["events"]}
    check(("unreachable_table", "0x0000000000600000", "0x0000000080000000", '"PD"'.strip('"')) in ev, f"hole pointer: {ev}")
    check(("shared_table", "0x0000000040000000", "0x0000000000003000", "PDPT") in ev, f"shared table: {ev}")
    check(("recursive_entry", "0xffffff8000000000", "0x0000000000001000", "PML4") in ev, f"recursive entry: {ev}")
    check(len(p.stderr.splitlines()) == 1 and "problem" in p.stderr, f"hazards: {p.stderr!r}")
    # The shared PD's leaves are listed at both VAs the hardware maps them at.
    vas = [r["va"] for r in d["ranges"]]
    check("0x0000000040200000" in vas and "0x0000000000200000" in vas, f"shared table not listed twice: {vas}")
    p = run(["dump", "--core", hz, "--allow-recursive"], expect_rc=1)  # the hole pointer remains a problem
    check("note recursive_entry" in p.stdout, f"--allow-recursive:\n{p.stdout}")

    # Every root entry and table entry pointing at the root: terminates, reports each loop.
    loop = bytearray(PAGE * 2)
    for i in range(512):
        put(loop, PAGE + 8 * i, PAGE | P | RW)
    lp = elf_core(work / "loop.elf", [(0, bytes(loop))], note)
    t0 = time.monotonic()
    p = run(["dump", "--core", lp], expect_rc=1)
    check(time.monotonic() - t0 < 5 and p.stdout.count("recursive_entry") == 512, f"loop: {p.stdout[-500:]}")

    # Broken files and arguments: one ptgen: line, exit status 1.
    full = Path(good).read_bytes()
    cases = {
        "empty": b"",
        "not ELF": b"hello world, not a dump",
        "kdump": b"KDUMP   " + bytes(100),
        "truncated header": full[:40],
        "truncated segment": full[:len(full) - 100],
        "program headers past the end": full[:64 + 20],
    }
    for what, data in cases.items():
        f = work / f"bad-{what.replace(' ', '-')}.elf"
        f.write_bytes(data)
        one_line_error(what, ["dump", "--core", f])
    one_line_error("not a core", ["dump", "--core", elf_core(work / "exec.elf", [(0, bytes(mem))], note, etype=ET_EXEC)],
                   needles=["ET_CORE"])
    short = bytearray(note)
    struct.pack_into("<I", short, 4, 400)  # descriptor shorter than the note's own size field says
    one_line_error("short note", ["dump", "--core", elf_core(work / "short.elf", [(0, bytes(mem))], bytes(short))])
    overlap = elf_core(work / "overlap.elf", [(0, bytes(mem)), (0x8000, bytes(PAGE))], note)
    one_line_error("overlapping segments", ["dump", "--core", overlap], needles=["overlap"])
    one_line_error("--cpu out of range", ["dump", "--core", good, "--cpu", "1"], needles=["1 CPU"])
    one_line_error("root in a hole", ["dump", "--core", good, "--root", "0x20000"], needles=["not in the dump"])
    one_line_error("no format for a raw image", ["dump", "--raw", raw, "--base", "0", "--root", "0x1000"], needles=["--format"])
    one_line_error("paging off", ["dump", "--core", elf_core(work / "off.elf", [(0, bytes(mem))], qemu_note(1, 0x1000, 0))],
                   needles=["paging off"])
    # Truncated at many lengths and with bytes flipped in headers, notes and tables (a fixed seed):
    # exit 0, or one ptgen: line and exit 1; never a crash (the sanitizer stage runs this too).
    rng = __import__("random").Random(14)
    hz_bytes = Path(hz).read_bytes()
    variants = [full[:n] for n in range(0, 1100, 37)]
    for _ in range(60):
        b = bytearray(rng.choice([full, hz_bytes]))
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(0, 0x6000 if rng.random() < 0.5 else 700)] = rng.randrange(256)
        variants.append(bytes(b))
    odd = []
    for i, data in enumerate(variants):
        f = work / "mutant.elf"
        f.write_bytes(data)
        p = run(["dump", "--core", f], expect_rc=None)
        if not (p.returncode == 0 or (p.returncode == 1 and len(p.stderr.splitlines()) == 1 and p.stderr.startswith("ptgen: "))):
            odd.append(f"variant {i}: exit {p.returncode}: {p.stderr[:200]!r}")
    check(not odd, "mutated dumps:\n" + "\n".join(odd[:5]))
    one_line_error("check-wx error status", ["dump", "--core", work / "bad-empty.elf", "--check-wx"], rc=2)
    guest_mair(work)


def guest_mair(work):
    """--mair: an arm64 tree whose pages select MAIR attributes 0 to 4, read with ptlib's layout
    and with a guest's MAIR_EL1."""
    # Arm ARM D8.3: table descriptor = next table | 0b11; page descriptor (level 3) = OA | 0b11,
    # AttrIndx [4:2], SH [9:8] (0b11 Inner), AF [10], PXN [53], UXN [54]; AP [7:6] = 0: EL1 RW.
    mem = bytearray(0x5000)
    for table in (0x1000, 0x2000, 0x3000):
        put(mem, table, (table + 0x1000) | 0b11)
    for k in range(5):
        put(mem, 0x4000 + 8 * k, (0x100000 + k * PAGE) | 0b11 | k << 2 | 3 << 8 | 1 << 10 | 1 << 53 | 1 << 54)
    raw = work / "arm64.raw"
    raw.write_bytes(bytes(mem))
    base = ["--raw", raw, "--base", "0", "--format", "arm64-4k-48", "--root", "0x1000"]
    # ptlib's layout (README: attribute 0 Normal WB, 1 Normal NC, 2 Device-nGnRE): 3 and 4 are not
    # in it. The MAIR Linux programs (0x000000040044ffff: attributes 0 and 1 Normal WB 0xFF, 2
    # Normal NC 0x44, 3 Device-nGnRnE 0x00, 4 Device-nGnRE 0x04; MAIR_EL1 Attr<n>, Arm ARM D19.2).
    for extra, want in (([], ["", "nc", "dev", "other", "other"]), (["--mair", "0x40044ffff"], ["", "", "nc", "dev", "dev"])):
        d = json.loads(run(["dump", "--json"] + base + extra).stdout)
        leaves = [(int(r["va"], 16), r["attrs"]) for r in d["ranges"] for _ in range(r["count"])]
        got = [next((w for w in ("nc", "dev", "other") if w in a.replace(",", " ").split()), "") for _, a in leaves]
        check(got == want, f"--mair {extra}: memory types {got}, wanted {want}")
        t = run(["translate"] + base + extra + ["0x4000"]).stdout
        check(f",{want[4]}," in t, f"translate {extra}: {t}")
    one_line_error("--mair on x86", ["dump", "--raw", raw, "--base", "0", "--format", "x86-64-l4", "--root", "0x1000", "--mair", "1"],
                   needles=["arm64 formats only"])


def lines_of_good(good):
    return [l for l in run(["dump", "--core", good]).stdout.splitlines() if not l.startswith("#")]


if __name__ == "__main__":
    sys.exit(main())
