"""Reading a PNG's pixels without Qt (tests of what a browser shows): 8-bit RGB or RGBA, not
interlaced, as Chromium's screenshots are."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rows(path: Path) -> tuple[int, list[bytearray]]:
    """(bytes per pixel, the image's rows of bytes)."""
    data = path.read_bytes()
    assert data[:8] == _SIGNATURE, f"{path} is not a PNG"
    pos, chunks = 8, []
    width = height = bpp = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"{path}: only 8-bit RGB(A) PNGs, not interlaced, are read here")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + n
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    prev = bytearray(stride)
    out: list[bytearray] = []
    for y in range(height):
        start = y * (stride + 1)
        kind_of_filter, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            if kind_of_filter == 1:
                line[i] = (line[i] + a) & 255
            elif kind_of_filter == 2:
                line[i] = (line[i] + b) & 255
            elif kind_of_filter == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind_of_filter == 4:
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(line)
        prev = line
    return bpp, out


def count_colour(path: Path, colour: str, tolerance: int = 6) -> int:
    """Pixels within `tolerance` (summed over R, G, B) of `colour` ("#rrggbb")."""
    want = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    bpp, image = rows(path)
    hits = 0
    for line in image:
        for x in range(0, len(line), bpp):
            if abs(line[x] - want[0]) + abs(line[x + 1] - want[1]) + abs(line[x + 2] - want[2]) <= tolerance:
                hits += 1
    return hits
