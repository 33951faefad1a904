#!/usr/bin/env python3
"""ptgen against the page tables of a real operating system (suite realos; issue 14).

Debian 12's own kernel and busybox-static are fetched at test time (tests/debian/fetch.sh: skipped,
exit 77, when the packages cannot be had), an initramfs is written here (cpio "newc", the format
of the kernel's Documentation/driver-api/early-userspace/buffer-format.rst) whose /init mounts
/proc, prints what the test needs and spins in user space, and the kernel is booted under QEMU
(TCG, KASLR on). When the marker arrives the guest is stopped and dumped with QMP
dump-guest-memory, and ptgen's reading of the dump is checked against QEMU:

  - the format and root ptgen infers from the dump's CPU note, against HMP `info registers`
    (CR3, CR4.LA57);
  - the listing against `info mem` (4-level only: QEMU 7.2's 5-level `info mem` walker skips
    every present PDPT entry and prints nothing), range by range after merging ptgen's ranges as
    QEMU does (VA continuing, same user/write permission, whatever the PA);
  - every leaf against `info tlb` (VA, PA, NX, G, PS, U, R/W and the memory type from PCD/PWT);
  - `ptgen translate` against `gva2gpa` (QEMU's MMU code, not the monitor's walkers) for the
    kernel image's section boundaries (from /proc/kallsyms), the pages of PID 1's mappings (from
    /proc/1/maps) and the first, middle and last leaf of every top-level slot in use, plus the
    page after each;
  - the kernel image's text, rodata and data have the permissions CONFIG_STRICT_KERNEL_RWX gives;
  - `--check-wx` passes, as the kernel's own boot-time check said (CONFIG_DEBUG_WX), and no
    leaf in the kernel's half is user-accessible (CONFIG_LEGACY_VSYSCALL_NONE: no vsyscall page).

Expected values come from QEMU, the kernel and Debian's kernel configuration, never from ptgen.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptgen_test as T  # noqa: E402  check(), run(), the counters
from ptgen_test import check  # noqa: E402
from memdump_test import Qmp, gva2gpa, read_until  # noqa: E402

MARK = "PTLIB-REALOS-READY"
# The kernel image's section boundaries (arch/x86/kernel/vmlinux.lds.S) and what
# CONFIG_STRICT_KERNEL_RWX makes of them: text read-only executable, rodata read-only, data
# writable, neither of the last two executable.
SECTIONS = {"_stext": "r-x g", "__start_rodata": "r-- g", "_sdata": "rw- g"}
INIT = f"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
/bin/busybox dmesg | /bin/busybox grep 'W+X'
/bin/busybox grep -E ' ({'|'.join(SECTIONS)}|_etext)$' /proc/kallsyms
/bin/busybox cat /proc/1/maps
echo {MARK}
"""
# Then, on x86, PID 1 spins in user space: its tables are the live ones (CR3) and QEMU's gva2gpa
# does not check permissions. On arm64 QEMU's gva2gpa translates with the permissions of the
# CPU's current exception level, so PID 1 blocks in the kernel instead (a read of the console):
# the CPU idles at EL1 and TTBR0_EL1 keeps the last user address space, PID 1's.
SPIN, BLOCK = "while :; do :; done\n", "while :; do read x; done\n"


def newc(entries):
    """A cpio archive in the "newc" format: (name, mode, data, (rdev major, minor)) entries."""
    out = b""
    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", (0, 0))], 1):
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
        head = b"070701" + "".join(f"{v:08x}" for v in fields).encode() + name.encode() + b"\0"
        out += head + bytes(-len(head) % 4) + data + bytes(-len(data) % 4)
    return out


def fetch(script, arch, package):
    p = subprocess.run(["bash", script, arch, package], capture_output=True, text=True)
    if p.returncode == 77:
        print(f"skipped: {package} ({arch}) cannot be fetched: {p.stderr.strip()}")
        sys.exit(77)
    if p.returncode != 0:
        sys.exit(f"{script} {arch} {package}: exit {p.returncode}\n{p.stderr}")
    return Path(p.stdout.strip())


GUESTS = []  # QEMU processes started: killed on the way out whatever happens (main)


def boot(cmd, sock, timeout=180):
    """Starts QEMU, waits for the marker and stops the guest; returns (serial text, Qmp, process)."""
    p = subprocess.Popen(cmd + ["-qmp", f"unix:{sock},server=on,wait=off"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    GUESTS.append(p)
    text = read_until(p, MARK, timeout)
    if MARK not in text:
        sys.exit(f"the guest did not reach its marker in {timeout} s:\n{text[-3000:]}")
    q = Qmp(str(sock))
    q.cmd("stop")
    return text, q, p


def info_mem(text):
    """QEMU's `info mem` (target/i386/monitor.c mem_print): "START-END SIZE urw", U and R/W
    combined over all levels, ranges merged on VA and permission only -> [(start, end, u, w)]."""
    rows, odd = [], []
    for line in text.splitlines():
        m = re.fullmatch(r"([0-9a-f]{16})-([0-9a-f]{16}) ([0-9a-f]{16}) ([u-])r([w-])", line.strip())
        if m:
            rows.append((int(m[1], 16), int(m[2], 16), m[4] == "u", m[5] == "w"))
        else:
            odd.append(line)
    check(not odd and rows, f"info mem: {len(rows)} rows, unexpected lines {odd[:3]}")
    return rows


# SDM vol. 3A table 11-11: PAT index = PAT*4 + PCD*2 + PWT; Linux programs entries 0..3 as WB,
# WC, UC-, UC (arch/x86/mm/pat/memtype.c), the names ptlib gives them (arch/x86/ptlib/x86.hpp).
MEMTYPE = {(False, False): "", (False, True): "wc", (True, False): "nc", (True, True): "dev"}


def info_tlb(text):
    """QEMU's `info tlb` (print_pte): "VA: PA XGPDACTUW", the leaf entry's own bits ->
    {va: (pa, executable, global, large, user, writable, memory type)}."""
    leaves, odd = {}, []
    for line in text.splitlines():
        m = re.fullmatch(r"([0-9a-f]{16}): ([0-9a-f]{16}) ([X-])([G-])([P-])[D-][A-]([C-])([T-])([U-])([W-])", line.strip())
        if m:
            leaves[int(m[1], 16)] = (int(m[2], 16), m[3] == "-", m[4] == "G", m[5] == "P", m[8] == "U", m[9] == "W",
                                     MEMTYPE[(m[6] == "C", m[7] == "T")])
        else:
            odd.append(line)
    check(not odd and leaves, f"info tlb: {len(leaves)} leaves, unexpected lines {odd[:3]}")
    return leaves


def flags(attrs):  # ptlib's attribute text: "rwx u g,nc" -> {"u", "g", "nc"}
    return set(attrs[3:].replace(",", " ").split())


def ptgen_leaves(ranges):
    out = {}
    for va, pa, size, leaf, attrs in ranges:
        f = flags(attrs)
        mt = next((t for t in ("wc", "nc", "dev") if t in f), "")
        for i in range(size // leaf):
            out[va + i * leaf] = (pa + i * leaf, attrs[2] == "x", "g" in f, leaf > 4096, "u" in f, attrs[1] == "w", mt)
    return out


def ptgen_info_mem(ranges):
    """ptgen's ranges merged as `info mem` merges them."""
    rows = []
    for va, _, size, _, attrs in sorted(ranges):
        u, w = "u" in flags(attrs), attrs[1] == "w"
        if rows and rows[-1][1] == va and rows[-1][2:] == (u, w):
            rows[-1] = (rows[-1][0], va + size, u, w)
        else:
            rows.append((va, va + size, u, w))
    return rows


def samples(serial, qemu_leaves, va_bits):
    """Addresses to translate, by where they come from: {name: [va]}."""
    syms = {m[2]: int(m[1], 16) for m in re.finditer(r"^([0-9a-f]{16}) \w (\w+)\s*$", serial, re.M)}
    image = {syms[s] for s in list(SECTIONS) + ["_etext"] if s in syms}
    out = {"kernel image": sorted(image | ({syms["_etext"] - 1} if "_etext" in syms else set()))}
    user = []
    for m in re.finditer(r"^([0-9a-f]+)-([0-9a-f]+) [r-][w-][x-]p ", serial, re.M):
        start, end = int(m[1], 16), int(m[2], 16)
        user += sorted({start, (start + (end - start) // 2) & ~0xFFF, end - 0x1000, end})
    out["PID 1's mappings"] = user
    slots = {}
    for va in sorted(qemu_leaves):
        slots.setdefault(va >> (va_bits - 9) & 0x1FF, []).append(va)
    top = []
    for vas in slots.values():
        for va in sorted({vas[0], vas[len(vas) // 2], vas[-1]}):
            top += [va, va + (1 << 12)]  # the leaf's first page and the page after it
    out[f"{len(slots)} top-level slots"] = top
    return syms, out


def prepare(o, work, arch, qemu, options, wait):
    """Fetches Debian's kernel and busybox for `arch` and writes the initramfs: (kernel, initrd)."""
    if not shutil.which(qemu):
        print(f"skipped: no {qemu}")
        sys.exit(77)
    kdir = fetch(o.fetch, arch, f"linux-image-{arch}")
    bdir = fetch(o.fetch, arch, "busybox-static")
    kernel = next((kdir / "boot").glob("vmlinuz-*"))
    config = next((kdir / "boot").glob("config-*")).read_text().splitlines()
    for opt in options:
        check(opt in config, f"{kernel.name}: {opt} not in its configuration (the expectations below assume it)")
    initrd = work / "initrd.cpio"
    initrd.write_bytes(newc([("bin", 0o40755, b"", (0, 0)), ("dev", 0o40755, b"", (0, 0)),
                             ("dev/console", 0o20600, b"", (5, 1)),  # Documentation/admin-guide/devices.txt
                             ("bin/busybox", 0o100755, (bdir / "bin/busybox").read_bytes(), (0, 0)),
                             ("init", 0o100755, (INIT + wait).encode(), (0, 0))]))
    for f in ("qmp.sock", "gdb.sock", "guest.core"):
        (work / f).unlink(missing_ok=True)
    return kernel, initrd


def dump(q, core):
    r = q.cmd("dump-guest-memory", paging=False, protocol=f"file:{core}")
    check("return" in r, f"dump-guest-memory: {r}")


def translations(q, vas, translate):
    """ptgen's translation of each VA (`translate(vas)`: ptgen's JSON) against QEMU's gva2gpa:
    {va: (pa, attrs) or None}."""
    got = {}
    for t in translate(vas):
        # translate also shows a leaf's extension (A/D, software bits: ",ext:..."); not compared.
        got[int(t["va"], 16)] = (int(t["pa"], 16), re.sub(r",?ext:0x[0-9a-f]+", "", t["attrs"])) if "pa" in t else None
    bad = []
    for va in vas:
        qpa = gva2gpa(q, va)
        if (got[va] and got[va][0]) != qpa:
            bad.append(f"{va:#x}: gva2gpa {qpa if qpa is None else hex(qpa)}, ptgen {got[va]}")
    check(not bad, "ptgen translate and QEMU's gva2gpa disagree:\n  " + "\n  ".join(bad[:10]))
    return got


def finish(q, proc, core, t0, t_ready, t_boot, t_dump, summary):
    q.cmd("quit")
    proc.wait(timeout=20)
    core.unlink()
    print(summary)
    print(f"timings: fetch + initramfs {t_ready - t0:.1f} s, boot to marker {t_boot - t_ready:.1f} s, "
          f"dump + monitor {t_dump - t_boot:.1f} s, "
          f"checks {time.monotonic() - t_dump:.1f} s")


def x86_64(o, work):
    t0 = time.monotonic()
    kernel, initrd = prepare(o, work, "amd64", "qemu-system-x86_64", ("CONFIG_STRICT_KERNEL_RWX=y", "CONFIG_DEBUG_WX=y",
                                                                       "CONFIG_LEGACY_VSYSCALL_NONE=y", "CONFIG_RANDOMIZE_BASE=y"), SPIN)
    t_ready, core = time.monotonic(), work / "guest.core"
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", o.cpu, "-m", "160M", "-nographic", "-no-reboot",
           "-monitor", "none", "-serial", "stdio", "-kernel", str(kernel), "-initrd", str(initrd),
           "-append", "console=ttyS0 quiet panic=-1"]
    serial, q, proc = boot(cmd, work / "qmp.sock")
    t_boot = time.monotonic()
    dump(q, core)
    regs = q.hmp("info registers")
    cr3 = int(re.search(r"\bCR3=([0-9a-f]+)", regs)[1], 16)
    la57 = bool(int(re.search(r"\bCR4=([0-9a-f]+)", regs)[1], 16) & (1 << 12))  # SDM vol. 3A 2.5
    # -cpu max has LA57 under TCG and Debian's kernel (CONFIG_X86_5LEVEL) uses it; qemu64 has not.
    check(la57 == (o.cpu == "max"), f"-cpu {o.cpu}: CR4.LA57 is {la57}")
    qtlb = info_tlb(q.hmp("info tlb"))
    qmem = None if la57 else info_mem(q.hmp("info mem"))
    t_dump = time.monotonic()

    p = T.run(["dump", "--core", core, "--json"])
    d = json.loads(p.stdout)
    fmt = "x86-64-l5" if la57 else "x86-64-l4"
    check(d["format"] == fmt and int(d["root"], 16) == cr3 & 0x000FFFFFFFFFF000,  # SDM vol. 3A table 4-12
          f"ptgen read {d['format']} at {d['root']}, QEMU's CPU is in {fmt} with CR3 {cr3:#x}")
    check(d["problems"] == 0, f"ptgen reported problems: {[e for e in d['events'] if e['kind'] != 'note'][:5]}")
    ranges = [(int(x["va"], 16), int(x["pa"], 16), int(x["size"], 16), int(x["leaf_size"], 16), x["attrs"]) for x in d["ranges"]]
    mine = ptgen_leaves(ranges)

    def show(a, b, what):
        for i, (x, y) in enumerate(zip(a + [None], b + [None])):
            if x != y:
                fmt = lambda r: r and tuple(hex(v) if type(v) is int else v for v in r)  # noqa: E731
                return f"{what}: first difference at row {i}: QEMU {fmt(x)}, ptgen {fmt(y)}"
    if qmem is not None:
        pm = ptgen_info_mem(ranges)
        check(qmem == pm, show(qmem, pm, "info mem"))
    only_q, only_p = sorted(set(qtlb) - set(mine)), sorted(set(mine) - set(qtlb))
    differ = [va for va in qtlb if va in mine and qtlb[va] != mine[va]]
    check(not (only_q or only_p or differ),
          f"info tlb: {len(only_q)} leaves only in QEMU's ({[hex(v) for v in only_q[:3]]}), {len(only_p)} only in ptgen's "
          f"({[hex(v) for v in only_p[:3]]}), {len(differ)} differ ({[(hex(v), qtlb[v], mine[v]) for v in differ[:3]]})")

    syms, sample = samples(serial, qtlb, 57 if la57 else 48)
    vas = [va for group in sample.values() for va in group]
    got = translations(q, vas, lambda v: json.loads(T.run(["translate", "--core", core, "--json"] + [hex(x) for x in v]).stdout))
    mapped = {k: sum(1 for v in g if got[v]) for k, g in sample.items()}
    check(all(mapped.values()) and len(syms) == len(SECTIONS) + 1, f"samples mapped per source: {mapped}, symbols {syms}")
    for s, want in SECTIONS.items():
        check(s in syms and got[syms[s]] and got[syms[s]][1] == want, f"{s}: ptgen {got.get(syms.get(s))}, wanted {want}")

    check("x86/mm: Checked W+X mappings: passed, no W+X pages found." in serial, "the kernel's own W+X check did not pass")
    wx = T.run(["dump", "--core", core, "--check-wx"])
    check("passed, no W+X pages" in wx.stdout, f"--check-wx:\n{wx.stdout[-1000:]}")
    # The kernel's half (the upper half of the canonical addresses) has no user-accessible leaf.
    # (ptgen's --kernel-range audit reads images only, not yet dumps.)
    half = (1 << 64) - (1 << (56 if la57 else 47))
    user = [hex(va) for va, _, _, _, attrs in ranges if va >= half and "u" in flags(attrs)]
    check(not user, f"user-accessible leaves in the kernel's half: {user[:5]}")
    finish(q, proc, core, t0, t_ready, t_boot, t_dump,
           f"{kernel.name} -cpu {o.cpu} ({fmt}, CR3 {cr3:#x}): {len(qtlb)} leaves, {len(d['ranges'])} ranges, "
           f"{0 if qmem is None else len(qmem)} info mem rows, {len(vas)} translations ({mapped} mapped)")


class Gdb:
    """A client of QEMU's gdbstub (GDB Remote Serial Protocol, GDB manual appendix E), enough to
    read a register by name: QEMU describes the Arm system registers in its target description
    ("system-registers.xml"), each with the number `p` reads it by."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(str(path))
        self.buf = b""
        self.cmd("qSupported:xmlRegisters=aarch64")
        self.regs, n = {}, 0
        for part in re.findall(r'href="([^"]+)"', self.xfer("target.xml")):
            for m in re.finditer(r"<reg ([^>]*)>", self.xfer(part)):
                a = dict(re.findall(r'(\w+)="([^"]*)"', m[1]))
                n = int(a.get("regnum", n))  # without regnum: one more than the register before
                self.regs[a["name"]] = n
                n += 1

    def cmd(self, text):
        data = text.encode()
        self.s.sendall(b"$%s#%02x" % (data, sum(data) & 0xFF))
        while not re.search(rb"\$[^#]*#..", self.buf):
            chunk = self.s.recv(65536)
            if not chunk:
                sys.exit("gdbstub: connection closed")
            self.buf += chunk
        m = re.search(rb"\$([^#]*)#..", self.buf)
        self.buf = self.buf[m.end():]
        self.s.sendall(b"+")
        return m[1].decode()

    def xfer(self, annex):
        out = ""
        while True:
            r = self.cmd(f"qXfer:features:read:{annex}:{len(out):x},fff")
            out += r[1:]
            if r[:1] != "m":
                return out

    def reg(self, name):
        if not check(name in self.regs, f"gdbstub: no register {name}"):
            return 0
        return int.from_bytes(bytes.fromhex(self.cmd(f"p{self.regs[name]:x}")), "little")  # target byte order


def arm64(o, work):
    t0 = time.monotonic()
    kernel, initrd = prepare(o, work, "arm64", "qemu-system-aarch64", ("CONFIG_ARM64_4K_PAGES=y", "CONFIG_ARM64_VA_BITS=48",
                                                                       "CONFIG_DEBUG_WX=y", "CONFIG_RANDOMIZE_BASE=y"), BLOCK)
    t_ready, core = time.monotonic(), work / "guest.core"
    # kpti=0: with the kernel unmapped at EL0 (KPTI, on by default when KASLR is), TTBR1_EL1 would
    # hold only the trampoline while /init spins in user space.
    cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", o.cpu, "-m", "160M", "-nographic", "-no-reboot",
           "-monitor", "none", "-serial", "stdio", "-kernel", str(kernel), "-initrd", str(initrd),
           "-append", "console=ttyAMA0 quiet panic=-1 kpti=0",
           "-chardev", f"socket,id=gdb,path={work / 'gdb.sock'},server=on,wait=off", "-gdb", "chardev:gdb"]
    serial, q, proc = boot(cmd, work / "qmp.sock")
    t_boot = time.monotonic()
    dump(q, core)
    g = Gdb(work / "gdb.sock")
    ttbr0, ttbr1, tcr, mair, cpsr = (g.reg(r) for r in ("TTBR0_EL1", "TTBR1_EL1", "TCR_EL1", "MAIR_EL1", "cpsr"))
    t_dump = time.monotonic()
    # cpsr as the gdbstub gives it is PSTATE in the SPSR_EL1 layout (Arm ARM D19.2): M[3:2] is the
    # exception level; PID 1 is blocked, the CPU must be at EL1.
    check(cpsr >> 2 & 3 == 1, f"the CPU stopped at EL{cpsr >> 2 & 3}, not EL1 (cpsr {cpsr:#x})")
    # TCR_EL1 (Arm ARM D19.2): T0SZ [5:0], TG0 [15:14] (0b00 = 4K), T1SZ [21:16], TG1 [31:30]
    # (0b10 = 4K): 4 KiB granules and 48-bit VAs in both halves is ptlib's arm64-4k-48.
    fields = (tcr & 0x3F, tcr >> 14 & 3, tcr >> 16 & 0x3F, tcr >> 30 & 3)
    check(fields == (16, 0, 16, 2), f"TCR_EL1 {tcr:#x}: T0SZ, TG0, T1SZ, TG1 = {fields}, not 4K pages and 48-bit VAs")
    fmt = "arm64-4k-48"
    trees = {}
    for name, reg, extra in (("TTBR0", ttbr0, []), ("TTBR1", ttbr1, ["--ttbr1"])):
        base = ["--core", core, "--format", fmt, "--root", hex(reg & 0x0000FFFFFFFFFFFE),  # TTBRn_EL1 BADDR[47:1]
                "--mair", hex(mair)] + extra  # memory types as the kernel's MAIR_EL1 defines them
        d = json.loads(T.run(["dump", "--json"] + base).stdout)
        check(d["problems"] == 0, f"{name}: ptgen reported problems: {[e for e in d['events'] if e['kind'] != 'note'][:5]}")
        ranges = [(int(x["va"], 16), int(x["pa"], 16), int(x["size"], 16), x["attrs"]) for x in d["ranges"]]
        wx = T.run(["dump", "--check-wx"] + base)
        check("passed, no W+X pages" in wx.stdout, f"{name} --check-wx:\n{wx.stdout[-1000:]}")
        trees[name] = (base, ranges)
    check(len(trees["TTBR0"][1]) >= 4 and len(trees["TTBR1"][1]) >= 20, f"ranges: {[len(t[1]) for t in trees.values()]}")
    # Memory types (--mair): the PL011 UART's registers (PA 0x09000000, QEMU's virt board memory
    # map, VIRT_UART) are mapped as Device memory (Linux's ioremap: Device-nGnRE); no RAM (from
    # 0x40000000, VIRT_MEM) is mapped as Device memory.
    def mem(attrs):
        return next((w for w in ("nc", "dev", "wc", "other") if w in flags(attrs)), "normal")
    uart = [mem(a) for _, pa, size, a in trees["TTBR1"][1] if pa <= 0x09000000 < pa + size]
    check(uart and set(uart) == {"dev"}, f"the UART's mappings have memory types {uart}, wanted dev")
    ram = {mem(a) for _, pa, size, a in trees["TTBR1"][1] if 0x40000000 <= pa < 0x40000000 + (160 << 20)}
    check("normal" in ram and "dev" not in ram, f"RAM mapped with memory types {ram}")
    # No leaf of the kernel's half is reachable from EL0.
    user = [hex(r[0]) for r in trees["TTBR1"][1] if "u" in flags(r[3])]
    check(not user, f"user-accessible leaves under TTBR1: {user[:5]}")

    syms = {m[2]: int(m[1], 16) for m in re.finditer(r"^([0-9a-f]{16}) \w (\w+)\s*$", serial, re.M)}
    check("_stext" in syms and "_etext" in syms, f"symbols from /proc/kallsyms: {syms}")
    vas = sorted({syms.get("_stext", 0), syms.get("_etext", 1) - 1})
    for m in re.finditer(r"^([0-9a-f]+)-([0-9a-f]+) [r-][w-][x-]p ", serial, re.M):
        start, end = int(m[1], 16), int(m[2], 16)
        vas += sorted({start, (start + (end - start) // 2) & ~0xFFF, end - 0x1000, end})
    # The first, middle and last page of every range of both trees and the page after each.
    for _, ranges in trees.values():
        for va, _, size, _ in ranges:
            vas += sorted({va, va + (size // 2 & ~0xFFF), va + size - 0x1000, (va + size) % (1 << 64)})
    vas = sorted(set(vas))

    def translate(v):
        out = []
        for name, upper in (("TTBR0", False), ("TTBR1", True)):
            part = [x for x in v if (x >= 1 << 63) == upper]
            out += json.loads(T.run(["translate", "--json"] + trees[name][0] + [hex(x) for x in part]).stdout)
        return out
    got = translations(q, vas, translate)
    stext = got.get(syms.get("_stext"))
    check(stext is not None and stext[1][:3] == "r-x" and mem(stext[1]) == "normal",
          f"_stext: ptgen {stext}, wanted r-x (CONFIG_STRICT_KERNEL_RWX), normal memory")
    check("Checked W+X mappings: passed, no W+X pages found" in serial, "the kernel's own W+X check did not pass")
    finish(q, proc, core, t0, t_ready, t_boot, t_dump,
           f"{kernel.name} -cpu {o.cpu} ({fmt}, TTBR0 {ttbr0:#x}, TTBR1 {ttbr1:#x}, TCR {tcr:#x}, MAIR {mair:#x}): "
           f"{len(trees['TTBR0'][1])} + {len(trees['TTBR1'][1])} ranges, {len(vas)} translations "
           f"({sum(1 for v in vas if got[v])} mapped)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch", choices=["x86_64", "arm64"])
    ap.add_argument("--ptgen", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--fetch", required=True, help="tests/debian/fetch.sh")
    ap.add_argument("--cpu", default="qemu64")
    o = ap.parse_args()
    T.PTGEN = o.ptgen
    work = Path(o.work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        (x86_64 if o.arch == "x86_64" else arm64)(o, work)
    finally:
        for p in GUESTS:
            if p.poll() is None:
                p.kill()
                p.wait()
    print(f"realos: {T.CHECKS[0]} checks, {len(T.FAILS)} failed")
    return 1 if T.FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
