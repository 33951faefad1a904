#!/usr/bin/env python3
"""Boots one demo kernel under QEMU and judges it (suite 'qemu').

usage: run_qemu.py --format NAME --pass-rc N [--timeout S] -- qemu-system-... args

The kernel prints its checks on the serial port (QEMU's stdout), then exactly one verdict line,
`PASS <format>` or `FAIL <format>: <check>`, and exits QEMU through the exit device;
docs/freestanding.md (section 7) lists the exit codes (riscv sifive_test: 0, arm semihosting: 0, x86 isa-debug-exit: 1).
A boot passes only when the verdict line is `PASS <format>` and the exit status is the pass code:
a broken table usually hangs the guest, so QEMU always runs under a timeout and is killed after it.

The kernel may also print `INFO <format> levels=<n> tables=<n>`; the last line this script prints
is the one-line summary the README's main job shows:
  <format>  levels=<n>  tables=<n>  PASS|FAIL  <ms> ms
"""
import argparse, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument('--format', required=True)
ap.add_argument('--pass-rc', type=int, required=True)
ap.add_argument('--timeout', type=float, default=30.0)
ap.add_argument('cmd', nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd

start = time.monotonic()
try:
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=a.timeout)
    out, rc, why = p.stdout.decode('utf-8', 'replace'), p.returncode, None
except subprocess.TimeoutExpired as e:  # subprocess.run kills the child
    out, rc, why = (e.stdout or b'').decode('utf-8', 'replace'), None, f'timeout after {a.timeout:g} s'
ms = (time.monotonic() - start) * 1000.0
sys.stdout.write(out if out.endswith('\n') or not out else out + '\n')

lines = [l.strip() for l in out.splitlines()]
verdicts = [l for l in lines if l.startswith(('PASS ', 'FAIL '))]
info = {}
for l in lines:
    parts = l.split()
    if len(parts) >= 2 and parts[0] == 'INFO' and parts[1] == a.format:
        info.update(kv.split('=', 1) for kv in parts[2:] if '=' in kv)

ok = why is None and rc == a.pass_rc and verdicts == [f'PASS {a.format}']
if why is None and rc != a.pass_rc:
    why = f'exit status {rc}, expected {a.pass_rc}'
if why is None and verdicts != [f'PASS {a.format}']:
    why = 'verdict ' + (repr(verdicts) if verdicts else 'missing')
print(f"{a.format:<24} levels={info.get('levels', '?'):<2} tables={info.get('tables', '?'):<4} "
      f"{'PASS' if ok else 'FAIL'}  {ms:5.0f} ms" + ('' if ok else f'  ({why})'))
sys.exit(0 if ok else 1)
