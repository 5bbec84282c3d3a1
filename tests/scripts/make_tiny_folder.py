#!/usr/bin/env python3
"""Writes a tiny labeled image folder ROOT/<class>/<n>.png (gray, SIZE x SIZE) with the Python
standard library only: a bright bar whose position is the class, on seeded noise. Used by the
shell-level reliability scripts (kill loop) that cannot build fixtures through the C++ tests.

usage: make_tiny_folder.py ROOT [--classes 3] [--per-class 12] [--size 16] [--seed 0]
"""
import argparse
import os
import random
import struct
import zlib


def png_gray(width, height, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=12)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    band = max(1, args.size // (args.classes + 1))
    for k in range(args.classes):
        folder = os.path.join(args.root, "class%d" % k)
        os.makedirs(folder, exist_ok=True)
        for i in range(args.per_class):
            rows = []
            for y in range(args.size):
                bright = k * band <= y < (k + 1) * band
                rows.append([rng.randint(200, 255) if bright else rng.randint(0, 40)
                             for _ in range(args.size)])
            with open(os.path.join(folder, "%03d.png" % i), "wb") as out:
                out.write(png_gray(args.size, args.size, rows))


if __name__ == "__main__":
    main()
