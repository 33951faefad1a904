#!/usr/bin/env python3
"""ptgen over the board device trees Debian ships (suite debian; issue 12, "a corpus of real
device trees"): every DTB of Debian 12's arm64 and armhf (armmp) kernel packages, fetched and
unpacked at test time by tests/debian/fetch.sh (exit 77, skipped, when they cannot be had).

Each DTB with RAM is built with `ptgen build --dtb` (arm64 DTBs on arm64-4k-48 and arm64-64k-48,
and in turn on one of arm64-16k-48, arm64-4k-52, arm64-16k-52, arm64-64k-52; armhf DTBs on
armv7-lpae) and the image is dumped with `ptgen dump`, which validates the tables. The listing
must be exactly what the DTB asks for, computed from the DTB by fdt.py (not by ptgen):
  - the linear map: every memory bank, rounded inwards to pages, without the pages that hold a
    byte of a /reserved-memory no-map region, at va = pa + (linear base - lowest bank), and on
    armv7-lpae only the lowmem (the RAM within 768 MiB of the lowest bank; the rest highmem);
  - the console (/chosen/stdout-path) as device memory at the fixmap, when it is enabled;
  - nothing else.
ptgen's report must agree: the no-map regions in RAM and the highmem listed as unmapped, a note
for each no-map region without a reg. Refusals are expected only for the classes docs/ptgen.md
names, each with ptgen's message for it: a DTB without RAM (the bootloader fills /memory in), a
console inside the RAM the DTB declares, a stdout-path that names no node. Every other refusal
fails. The figures for docs/ptgen.md are printed at the end.

Layouts: Linux Documentation/arch/arm64/memory.rst (kernel logical memory map at
ffff000000000000 for 48-bit VAs, fff0000000000000 for 52-bit; fixed mappings at
fffffbfff0000000), Documentation/arch/arm/memory.rst (PAGE_OFFSET c0000000, fixmap at ffc80000)
and arch/arm/mm/mmu.c (lowmem ends at VMALLOC_END ff800000 - 240 MiB - 8 MiB = f0000000).
"""
import argparse
import collections
import concurrent.futures
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fdt  # noqa: E402

K, M, G = 1 << 10, 1 << 20, 1 << 30
A64_FIXMAP = 0xFFFFFBFFF0000000
# format: page size, linear map base, lowmem size (None: the RAM fits the linear map whole), fixmap
FORMATS = {
    "arm64-4k-48": (4 * K, 0xFFFF000000000000, None, A64_FIXMAP),
    "arm64-16k-48": (16 * K, 0xFFFF000000000000, None, A64_FIXMAP),
    "arm64-64k-48": (64 * K, 0xFFFF000000000000, None, A64_FIXMAP),
    "arm64-4k-52": (4 * K, 0xFFF0000000000000, None, A64_FIXMAP),
    "arm64-16k-52": (16 * K, 0xFFF0000000000000, None, A64_FIXMAP),
    "arm64-64k-52": (64 * K, 0xFFF0000000000000, None, A64_FIXMAP),
    "armv7-lpae": (4 * K, 0xC0000000, 0xF0000000 - 0xC0000000, 0xFFC80000),
}
ARM64_EACH = ["arm64-4k-48", "arm64-64k-48"]
ARM64_TURN = ["arm64-16k-48", "arm64-4k-52", "arm64-16k-52", "arm64-64k-52"]
PACKAGES = [("arm64", "linux-image-arm64"), ("armhf", "linux-image-armmp")]
# ptgen's refusals of classes of DTB (docs/ptgen.md): no RAM; a console inside RAM (and a
# stdout-path that names no node, in Expect).
NO_RAM = "no memory node (device_type = \"memory\") with a non-empty reg"
ALIAS = "mismatched-attribute alias"


def up(x, a):
    return (x + a - 1) // a * a


def down(x, a):
    return x // a * a


def subtract(ranges, holes):
    """[lo, hi) ranges without the [lo, hi) holes."""
    for hlo, hhi in holes:
        ranges = [r for lo, hi in ranges for r in ((lo, min(hi, hlo)), (max(lo, hhi), hi)) if r[0] < r[1]]
    return ranges


def union(ranges):
    out = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [tuple(r) for r in out]


def merged(runs):
    """(va, pa, size, attrs) runs, sorted, joined where VA and PA continue with the same attrs."""
    out = []
    for va, pa, size, attrs in sorted(runs):
        if out and out[-1][0] + out[-1][2] == va and out[-1][1] + out[-1][2] == pa and out[-1][3] == attrs:
            out[-1][2] += size
        else:
            out.append([va, pa, size, attrs])
    return [tuple(r) for r in out]


class Expect:
    """What a build of `tree` on `fmt` must map and report, from the DTB alone."""

    def __init__(self, tree, fmt):
        page, linear, lowmem, fixmap = FORMATS[fmt]
        raw = tree.memory()
        self.banks = union((up(pa, page), down(pa + size, page)) for pa, size in raw if down(pa + size, page) > up(pa, page))
        nomap, self.dynamic = tree.no_map()
        in_ram = [(n, pa, s) for n, pa, s in nomap if any(pa < bpa + bs and bpa < pa + s for bpa, bs in raw)]
        self.avoid = [(down(pa, page), up(pa + s, page)) for _, pa, s in nomap]
        # Whole pages: a page that holds a byte of a no-map region is left out.
        self.holes = [(down(pa, page), up(pa + s, page)) for _, pa, s in in_ram]
        self.console = tree.console()
        self.maps, self.highmem, self.refusal = [], 0, None
        if not self.banks:
            self.refusal = NO_RAM
            return
        ram_base = self.banks[0][0]
        ram_end = self.banks[-1][1]
        end = ram_end if lowmem is None else min(ram_end, ram_base + lowmem)
        self.highmem = ram_end - end
        pieces = subtract([(max(lo, ram_base), min(hi, end)) for lo, hi in self.banks if lo < end], self.holes)
        self.maps = [(pa + linear - ram_base, pa, hi - pa, "rw- g") for pa, hi in pieces]
        state, _, pa, size = self.console
        if state == "missing":
            self.refusal = "which is not in the tree"  # a stdout-path that names no node (docs/ptgen.md)
        if state == "okay":
            lo, hi = down(pa, page), up(pa + size, page)
            if any(lo < phi and plo < hi for plo, phi in pieces):
                self.refusal = ALIAS
            self.maps.append((fixmap, lo, hi - lo, "rw- g,dev"))
        self.maps = merged(self.maps)
        self.unmapped = sorted(set(self.holes))
        self.base = self.table_base(page)

    def table_base(self, page):
        """Where to put the tables: the first 2 MiB-aligned 4 MiB of a bank that miss every
        no-map region (ptgen refuses tables inside one), else the first such 4 MiB above RAM."""
        for lo, hi in self.banks + [(up(self.banks[-1][1], 2 * M), 1 << 40)]:
            at = up(lo, 2 * M)
            while at + 4 * M <= hi:
                if not any(at < h and l < at + 4 * M for l, h in self.avoid):
                    return at
                at += 2 * M
        return None


def run(args):
    return subprocess.run([PTGEN] + [str(a) for a in args], capture_output=True, text=True, errors="replace")


DUMPS, DUMPS_LOCK = {}, threading.Lock()


def dump_of(fmt, base, img):
    """`ptgen dump --json` of the image (which validates the tables), or its error. Many boards
    share a RAM layout: an image already dumped (same bytes, format and base) is not dumped again."""
    key = (fmt, base, hashlib.sha256(img.read_bytes()).digest())
    with DUMPS_LOCK:
        known = DUMPS.get(key)
    if known is None:
        d = run(["dump", "--format", fmt, "--base", hex(base), "--image", img, "--json"] + (["--ttbr1"] if fmt.startswith("arm64") else []))
        known = json.loads(d.stdout) if d.returncode == 0 else f"dump (validate) failed: {d.stderr.strip()}"
        with DUMPS_LOCK:
            DUMPS[key] = known
    img.unlink()
    return known


def check_one(dtb, fmt, tree, work, name):
    """Builds `dtb` on `fmt`, dumps it and compares. Returns (problems, figures)."""
    e = Expect(tree, fmt)
    bad = []
    img, js = work / f"{name}.{fmt}.bin", work / f"{name}.{fmt}.json"
    base = e.base if e.refusal != NO_RAM else 0x80000000
    b = run(["build", "--format", fmt, "--base", hex(base), "--dtb", dtb, "--image", img, "--json", js])
    if e.refusal:
        if b.returncode != 1 or e.refusal not in b.stderr:
            bad.append(f"expected a refusal naming '{e.refusal}', got exit {b.returncode}: {b.stderr.strip()}")
        return bad, dict(refused=e.refusal)
    if b.returncode != 0:
        return [f"build failed (exit {b.returncode}): {b.stderr.strip()}"], None
    built = json.load(open(js))
    dump = dump_of(fmt, base, img)
    js.unlink()
    if isinstance(dump, str):
        return [dump], None
    got = merged((int(r["va"], 16), int(r["pa"], 16), int(r["size"], 16), r["attrs"]) for r in dump["ranges"])
    if got != e.maps:
        show = lambda rs: "\n    ".join(f"{v:#x} -> {p:#x} {s:#x} {a}" for v, p, s, a in rs)
        bad.append(f"dump differs from the DTB's RAM and console:\n  got\n    {show(got)}\n  wanted\n    {show(e.maps)}")
    unmapped = built.get("unmapped", [])
    no_map = sorted(set((int(u["pa"], 16), int(u["pa"], 16) + int(u["size"], 16)) for u in unmapped if u["what"] != "highmem"))
    if no_map != e.unmapped:
        bad.append(f"ptgen reports no-map regions {[(hex(a), hex(b)) for a, b in no_map]}, the DTB has "
                   f"{[(hex(a), hex(b)) for a, b in e.unmapped]} in RAM")
    if int(built.get("highmem_size", "0"), 16) != e.highmem:
        bad.append(f"highmem_size {built.get('highmem_size')}, wanted {e.highmem:#x}")
    notes = "\n".join(built.get("notes", []))
    for path in e.dynamic:
        if f"{path} is no-map without a reg" not in notes:
            bad.append(f"no note for the no-map region {path} without a reg")
    # The figures as ptgen reported them (checked against the DTB above).
    return bad, dict(banks=sum(1 for n in built["notes"] if n.startswith("ram ")), above4g=e.banks[-1][1] > 4 * G,
                     nomap=len(no_map), dynamic=sum(1 for n in built["notes"] if "no-map without a reg" in n),
                     highmem=int(built["highmem_size"], 16), console=e.console[0], tables=dump["tables"])


def check_dtb(arch, root, dtb, work):
    rel = str(dtb.relative_to(root))
    tree = fdt.Tree(dtb)
    if arch == "arm64":
        i = sum(map(ord, rel)) % len(ARM64_TURN)  # the turn: fixed per DTB, spread over the formats
        formats = ARM64_EACH + [ARM64_TURN[i]]
    else:
        formats = ["armv7-lpae"]
    if not tree.memory():  # refused whatever the format: one build says so
        formats = formats[:1]
    out = []
    for fmt in formats:
        bad, fig = check_one(dtb, fmt, tree, work, rel.replace("/", "_"))
        out.append((arch, rel, fmt, bad, fig))
    return out


def table(results, seconds, versions):
    """The corpus figures (markdown): what ptgen reported, where it matched the DTBs."""
    lines = ["| | " + " | ".join(versions) + " |", "|---|" + "---|" * len(versions)]
    per = {arch: [r for r in results if r[0] == arch] for arch in versions}
    built = {arch: {} for arch in versions}  # arch -> DTB -> figures of its first format
    for arch, rel, fmt, bad, fig in results:
        if fig and "banks" in fig:
            built[arch].setdefault(rel, fig)

    def row(what, f):
        lines.append(f"| {what} | " + " | ".join(str(f(arch)) for arch in versions) + " |")

    def count(arch, cond):
        return sum(1 for f in built[arch].values() if cond(f))

    def refused(reason):
        return lambda arch: len({r[1] for r in per[arch] if r[4] and r[4].get("refused") == reason})

    row("DTBs", lambda arch: len({r[1] for r in per[arch]}))
    row("refused: no RAM in the DTB (the bootloader fills /memory in)", refused(NO_RAM))
    row("refused: console inside the DTB's RAM", refused(ALIAS))
    row("built and checked", lambda arch: len(built[arch]))
    order = ARM64_EACH + ARM64_TURN + ["armv7-lpae"]
    row("builds per format", lambda arch: ", ".join(f"{fmt.removeprefix('arm64-')} {n}" for fmt, n in sorted(
        collections.Counter(r[2] for r in per[arch] if r[4] and "banks" in r[4]).items(), key=lambda x: order.index(x[0]))))
    row("memory banks (`reg` ranges): 1 / 2 / 3-5 / 6 or more", lambda arch: " / ".join(
        str(count(arch, lambda f: lo <= f["banks"] <= hi)) for lo, hi in ((1, 1), (2, 2), (3, 5), (6, 1 << 30))))
    row("most banks", lambda arch: "{} ({})".format(*max((f["banks"], Path(n).stem) for n, f in built[arch].items())))
    row("RAM above 4 GiB", lambda arch: count(arch, lambda f: f["above4g"]))
    row("no-map regions left out (in DTBs)", lambda arch: "{} ({})".format(
        sum(f["nomap"] for f in built[arch].values()), count(arch, lambda f: f["nomap"])))
    row("no-map regions without reg (noted)", lambda arch: sum(f["dynamic"] for f in built[arch].values()))
    row("RAM past lowmem, reported as highmem", lambda arch: count(arch, lambda f: f["highmem"]))
    row("console mapped / disabled / none", lambda arch: " / ".join(
        str(count(arch, lambda f: f["console"] == c)) for c in ("okay", "disabled", "none")))
    row("tables in one image, most", lambda arch: "{} ({})".format(
        *max((r[4]["tables"], r[2]) for r in per[arch] if r[4] and "tables" in r[4])))
    return "\n".join(["Packages: " + ", ".join(versions.values()), ""] + lines) + f"\n\n({seconds:.1f} s)"


def main():
    global PTGEN
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptgen", required=True)
    ap.add_argument("--fetch", required=True, help="tests/debian/fetch.sh")
    ap.add_argument("--work", required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    o = ap.parse_args()
    PTGEN = o.ptgen
    work = Path(o.work)
    work.mkdir(parents=True, exist_ok=True)
    start = time.time()
    jobs, versions = [], {}
    fetches = [(arch, pkg, subprocess.Popen(["bash", o.fetch, arch, pkg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True)) for arch, pkg in PACKAGES]  # in parallel: one lock per arch
    for arch, pkg, p in fetches:
        out, err = p.communicate()
        f = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        if f.returncode == 77:
            print(f"SKIP {arch}: {f.stderr.strip()}")
            continue
        if f.returncode != 0:
            print(f"FAIL: {o.fetch} {arch} {pkg}: exit {f.returncode}\n{f.stderr}")
            return 1
        root = Path(f.stdout.strip())
        versions[arch] = root.name
        dtbs = sorted(root.glob("usr/lib/linux-image-*/**/*.dtb"))
        if not dtbs:
            print(f"FAIL: no DTB in {root}")
            return 1
        jobs += [(arch, root, d) for d in dtbs]
    if not jobs:
        print("SKIP: no Debian kernel package could be fetched (offline?)")
        return 77
    fetched = time.time() - start
    with concurrent.futures.ThreadPoolExecutor(o.jobs) as pool:
        results = [r for rs in pool.map(lambda j: check_dtb(*j, work), jobs) for r in rs]
    failed = [r for r in results if r[3]]
    for arch, rel, fmt, bad, _ in failed:
        print(f"FAIL: {arch} {rel} on {fmt}:\n  " + "\n  ".join(bad))
    print(table(results, time.time() - start, versions))
    ru, rc = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"(CPU: this script {ru.ru_utime + ru.ru_stime:.1f} s, fetch and ptgen {rc.ru_utime + rc.ru_stime:.1f} s)")
    print(f"(fetch {fetched:.1f} s, {len(jobs)} DTBs, {len(results)} builds, {len(DUMPS)} distinct images dumped, {o.jobs} jobs)")
    print(f"debian-dtbs: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
