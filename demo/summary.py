#!/usr/bin/env python3
"""Prints the one-line summary of every boot in a meson test log of suite 'qemu' (boot-all.sh)."""
import json, sys
rows = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = (t.get('stdout') or '').rstrip().splitlines()
    rows.append(out[-1] if out else f"{t['name']}: no output ({t['result']})")
print('\n'.join(rows))
passed = sum(1 for r in rows if ' PASS ' in r)
print(f'{passed} of {len(rows)} boots passed')
sys.exit(0 if rows and passed == len(rows) else 1)
