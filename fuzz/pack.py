#!/usr/bin/env python3
"""Packs a directory into one fuzz input (the archive format of fuzz/fuzz_util.h).

    fuzz/pack.py DIR OUT [--prefix P]

Every regular file under DIR becomes an entry named by its path relative to DIR (with
P/ before it), in sorted order. Files over 65535 bytes are refused: seeds stay small.
"""
import argparse
import os
import struct
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--prefix", default="")
    args = ap.parse_args()
    out = bytearray()
    for root, dirs, files in os.walk(args.dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, args.dir)
            if args.prefix:
                rel = args.prefix + "/" + rel
            data = open(path, "rb").read()
            if len(data) > 0xFFFF or len(rel) > 0xFF:
                sys.exit(f"pack.py: {path} is too large for an archive entry")
            out += bytes([len(rel)]) + rel.encode() + struct.pack("<H", len(data)) + data
    open(args.out, "wb").write(out)


if __name__ == "__main__":
    main()
