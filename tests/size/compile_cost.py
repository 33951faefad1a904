#!/usr/bin/env python3
"""Compile cost per translation unit of a meson build: CPU seconds (user + system, compiler driver
and its children) and peak resident memory, measured with GNU time by replaying the build's
compile_commands.json one command at a time (objects go to a scratch directory; the build
directory is left as it was). Prints a table sorted by CPU time and the TUs over the limits
(issue 11: 60 CPU-seconds, 1 GiB with g++ -O2 -g).

usage: tests/size/compile_cost.py BUILD_DIR [--match REGEX] [--tsv FILE] [--from-tsv FILE...]
                                  [--cpu-limit S] [--mem-limit MIB] [--top N] [--check]

  --match REGEX   only sources whose path matches REGEX (re.search), e.g. 'tests/|tools/'
  --tsv FILE      also write the measurements as tab-separated lines (cpu_s, peak_mib, source)
  --from-tsv      print the table from earlier --tsv files instead of compiling (later files
                  replace earlier measurements of the same source)
  --check         exit 1 when a TU is over a limit

Example (the configuration of issue 11):
  meson setup build-o2g -Doptimization=2 -Ddebug=true -Ddemos=false
  tests/size/compile_cost.py build-o2g --tsv cost.tsv
CPU time is the compiler's own, but other load on the machine still inflates it somewhat (shared
caches): figures from a busy machine vary by up to a tenth.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile


def measure(entry, scratch, index):
    """Compiles one entry with its output redirected to scratch; returns (cpu_s, peak_mib)."""
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out = os.path.join(scratch, f"tu{index}.o")
    fixed = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF"):
            fixed += [a, out if a == "-o" else out + ".d"]
            skip = True
            continue
        fixed.append(a)
    timing = os.path.join(scratch, "time.txt")
    run = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", timing] + fixed,
                         cwd=entry["directory"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    if run.returncode != 0:
        sys.stderr.write(run.stderr)
        raise SystemExit(f"compile failed: {entry['file']}")
    user, system, rss_kib = open(timing).read().split()[-3:]
    for f in (out, out + ".d"):
        if os.path.exists(f):
            os.remove(f)
    return float(user) + float(system), int(rss_kib) / 1024.0


def source_name(entry):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    root = os.path.dirname(os.path.abspath(__file__))  # tests/size
    root = os.path.dirname(os.path.dirname(root))
    return os.path.relpath(path, root) if path.startswith(root + os.sep) else path


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("build_dir", nargs="?")
    p.add_argument("--match", default="")
    p.add_argument("--tsv")
    p.add_argument("--from-tsv", nargs="+")
    p.add_argument("--cpu-limit", type=float, default=60.0)
    p.add_argument("--mem-limit", type=float, default=1024.0)
    p.add_argument("--top", type=int, default=0, help="print only the N costliest TUs")
    p.add_argument("--check", action="store_true")
    a = p.parse_args()

    results = {}  # source -> (cpu_s, peak_mib)
    if a.from_tsv:
        for f in a.from_tsv:
            for line in open(f):
                cpu, mib, src = line.rstrip("\n").split("\t")
                results[src] = (float(cpu), float(mib))
    else:
        if not a.build_dir:
            p.error("BUILD_DIR or --from-tsv is needed")
        db = os.path.join(a.build_dir, "compile_commands.json")
        entries = [e for e in json.load(open(db)) if re.search(a.match, e["file"])]
        tsv = open(a.tsv, "w") if a.tsv else None
        with tempfile.TemporaryDirectory(prefix="compile-cost-") as scratch:
            for i, e in enumerate(entries):
                src = source_name(e)
                cpu, mib = measure(e, scratch, i)
                results[src] = (cpu, mib)
                print(f"[{i + 1}/{len(entries)}] {cpu:7.1f} s {mib:7.0f} MiB  {src}", file=sys.stderr, flush=True)
                if tsv:
                    tsv.write(f"{cpu:.2f}\t{mib:.0f}\t{src}\n")
                    tsv.flush()

    rows = sorted(results.items(), key=lambda r: -r[1][0])
    shown = rows[:a.top] if a.top else rows
    print(f"{'CPU s':>8} {'peak MiB':>9}  translation unit")
    for src, (cpu, mib) in shown:
        flag = (" CPU" if cpu > a.cpu_limit else "") + (" MEM" if mib > a.mem_limit else "")
        print(f"{cpu:8.1f} {mib:9.0f}  {src}{'  <-- over' + flag if flag else ''}")
    total = sum(c for c, _ in results.values())
    print(f"{total:8.1f} {'':9}  total of {len(results)} TUs")
    over = [s for s, (c, m) in rows if c > a.cpu_limit or m > a.mem_limit]
    if over:
        print(f"over {a.cpu_limit:g} CPU-s or {a.mem_limit:g} MiB: " + ", ".join(over))
    else:
        print(f"no TU over {a.cpu_limit:g} CPU-s or {a.mem_limit:g} MiB")
    return 1 if a.check and over else 0


if __name__ == "__main__":
    sys.exit(main())
