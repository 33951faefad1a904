#!/usr/bin/env python3
"""Writes the hand-made inputs of the fuzz_ops corpus (tests/fuzz/corpus/, which also holds the
inputs fuzzing found, merged in by run.sh with PTLIB_FUZZ_SAVE=1): one short lifecycle per format
family and set-up (offline; Live::refuse; break-before-make with allocation probes; a small arena
at a base PA that is not table-aligned; the upper half with big blocks and PAs at the limit), in
the input layout documented at the top of fuzz_ops.cpp. Usage: make_corpus.py [DIR]."""
import os
import sys

# Indices into test::EngineFormats (AllFormats order, then the fake).
FORMATS = {'sv32': 0, 'sv39': 1, 'sv57': 3, 'arm64-4k-48': 5, 'arm64-16k-48': 8, 'arm64-64k-42': 10,
           'x86-32': 13, 'x86-pae': 14, 'x86-64-l4': 15, 'armv7-lpae': 17, 'fake-scrambled': 18}
MAP, UNMAP, PROTECT, COMPACT = range(4)
# Size classes: 0 = 1..16 pages, 1 = one block, 2 = block + pages, 3 = block - pages,
# 4 = contiguous runs, 5 = 1..4 blocks, 6 = up to 2 blocks of pages, 7 = up to the window.
PAGES, BLOCK, BLOCK_PLUS, BLOCK_MINUS, RUNS, BLOCKS, SOME, ANY = range(8)
NO_ALIGN, BLOCK_ALIGN, RUN_ALIGN = 0, 1, 2
LIKE_VA, LIKE_RUN, PA_BLOCK, PA_OFF = range(4)
ANY_LEAF, PAGE_ONLY, BLOCK_MAX = 0, 1, 2
RWXG, RW, RX, R, RWU, DEV, NC, WC, X_ONLY, RXG, W_ONLY = range(11)
# Set-up byte: live policy (bits 0-1), probes (bit 2), small arena (bit 3), odd base (bit 4),
# window (bits 5-6: bottom/top of the lower half, bottom/top of the upper half); level byte:
# block level index (bits 0-2), PAs at the limit (bit 3).
OFFLINE, REFUSE, BBM = 0, 1, 2
PROBES, SMALL, ODD = 4, 8, 16
LOW_BOTTOM, LOW_TOP, HIGH_BOTTOM, HIGH_TOP = (w << 5 for w in range(4))
SETUPS = {
    'offline': (OFFLINE | LOW_TOP, 0),
    'refuse': (REFUSE | LOW_BOTTOM, 0),
    'bbm-probes': (BBM | PROBES | LOW_TOP, 0),
    'small-odd': (BBM | SMALL | ODD | HIGH_BOTTOM, 0),
    'high-blocks': (REFUSE | HIGH_TOP, 1 | 8),
}


def op(kind, size_class, size, page, pa_block=4, align=NO_ALIGN, place=LIKE_VA, max_leaf=ANY_LEAF,
       contiguous=True, release=True, attrs=RWXG):
    b0 = kind | (size_class << 2) | (align << 5)
    b7 = place | (max_leaf << 2) | (0 if contiguous else 0x10) | (0 if release else 0x60)
    return bytes([b0, size & 0xff, size >> 8, page & 0xff, page >> 8, pa_block & 0xff, pa_block >> 8, b7, attrs])


LIFECYCLE = [
    op(MAP, BLOCKS, 1, 0, align=BLOCK_ALIGN),                       # two blocks
    op(UNMAP, PAGES, 0, 3),                                         # split the first
    op(PROTECT, PAGES, 2, 8, attrs=RX),                             # split again, new attributes
    op(PROTECT, PAGES, 2, 8, attrs=RWXG),                           # uniform again
    op(COMPACT, BLOCKS, 1, 0, align=BLOCK_ALIGN),                   # folds nothing (hole at 3)
    op(MAP, PAGES, 0, 3, place=LIKE_VA),                            # fill the hole
    op(COMPACT, BLOCKS, 1, 0, align=BLOCK_ALIGN),                   # folds the first block back
    op(MAP, RUNS, 1, 0x400, pa_block=9, align=RUN_ALIGN, place=LIKE_RUN, max_leaf=PAGE_ONLY, attrs=RW),
    op(UNMAP, PAGES, 0, 0x401),                                     # unfolds a contiguous run
    op(MAP, BLOCK, 0, 0x400, attrs=DEV),                            # overlap: refused
    op(MAP, BLOCK_PLUS, 2, 0x200, pa_block=7, place=PA_OFF, attrs=NC),
    op(PROTECT, ANY, 0x7ff, 0, attrs=W_ONLY),                       # unsupported attributes
    op(UNMAP, BLOCK_MINUS, 1, 0x10, release=False),                 # keeps emptied tables
    op(UNMAP, ANY, 0xffff, 0),                                      # everything
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus')
    os.makedirs(out, exist_ok=True)
    for name, index in FORMATS.items():
        for setup, (b1, b2) in SETUPS.items():
            with open(os.path.join(out, name + '-' + setup), 'wb') as f:
                f.write(bytes([index, b1, b2]) + b''.join(LIFECYCLE))


if __name__ == '__main__':
    main()
