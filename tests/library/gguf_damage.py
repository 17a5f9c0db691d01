"""GGUF files damaged the ways issue 29 found: one length field set near the file size, one
bit flipped in a length. Derived at test time from a tiny model, padded with zeros (a sparse
file: no disk is used) so a corrupt length still points inside the file."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

MB = 1024 * 1024


def length_offset(data: bytes, text: bytes, of_value: bool = False) -> int:
    """Where the u64 length written before `text` (a key, a token, a tensor name) lies; with
    `of_value`, the length of that key's string value instead."""
    at = data.index(struct.pack("<Q", len(text)) + text)
    return at + 8 + len(text) + 4 if of_value else at


def padded_copy(src: Path, dst: Path, size: int) -> Path:
    shutil.copyfile(src, dst)
    with dst.open("r+b") as fh:
        fh.truncate(size)
    return dst


def set_length(path: Path, offset: int, value: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(struct.pack("<Q", value))


def flip_bit(path: Path, offset: int, bit: int) -> int:
    """Flip one bit of the u64 at `offset`; the new value."""
    with path.open("r+b") as fh:
        fh.seek(offset)
        (value,) = struct.unpack("<Q", fh.read(8))
        value ^= 1 << bit
        fh.seek(offset)
        fh.write(struct.pack("<Q", value))
    return value


def name_bit_flipped(tiny: Path, dst: Path, bit: int = 27) -> Path:
    """The tiny model with bit `bit` of general.name's length flipped, padded with zeros so the
    reader lands in zero-filled data (as in the issue: 134 million characters of name)."""
    padded_copy(tiny, dst, tiny.stat().st_size + (1 << bit) + 8 * MB)
    flip_bit(dst, length_offset(tiny.read_bytes(), b"general.name", of_value=True), bit)
    return dst
