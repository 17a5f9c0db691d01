"""Reading a GGUF header's fields, each length bounded by what such a field can hold.

A GGUF length is a 64-bit count written before its bytes. One corrupt length (a flipped bit,
a bad download) set near the file size used to make the reader copy and decode up to the
whole file before failing: a 2 GiB file cost 77 s and 8 GiB of memory, and a corrupt 7 GB
model would exhaust the machine during a library scan. So every length is checked against
what its field can plausibly hold before a byte is read, and all the text read from one
header together has a budget: a corrupt header costs at most a few megabytes and is refused
with the field's name.
"""

from __future__ import annotations

import mmap
import struct
from typing import Any

from app.core.errors import ModelFileError

KB, MB = 1024, 1024 * 1024
MAX_KEY = 64 * KB  # a dotted key name ("tokenizer.chat_template")
MAX_TENSOR_NAME = KB  # ggml itself allows 64 bytes
MAX_ARRAY_TEXT = 64 * KB  # one token text, one merge, one element of a string array
MAX_VALUE_TEXT = 16 * MB  # one string value: a chat template, at most an embedded tokenizer.json
MAX_HEADER_TEXT = 32 * MB  # all the text read from one header
MAX_VOCAB_TEXT = 64 * MB  # a vocabulary's token texts together (a large one: a few MB)
MAX_STRINGS = 4_000_000  # strings in one array (vocabularies hold up to a few hundred thousand)
MAX_KV = 65_536  # real headers hold a few dozen keys
MAX_TENSORS = 200_000  # real models hold a few thousand tensors
MIN_STRING = 8  # a string's length field: the least room one takes in the file

# GGUF value types -> struct format (scalars) ; 8 = string, 9 = array
SCALAR = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
STRING, ARRAY = 8, 9


def shown(text: str, limit: int = 60) -> str:
    """A field's text short enough for a message (a corrupt key can be kilobytes long)."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def corrupt(what: str) -> ModelFileError:
    return ModelFileError(f"corrupt GGUF header: {what}")


class Cursor:
    __slots__ = ("buf", "end", "pos", "text_read")

    def __init__(self, buf: mmap.mmap | bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf)
        self.text_read = 0

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise ModelFileError("truncated GGUF header")

    def unpack(self, fmt: str, size: int) -> Any:
        self.need(size)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def u32(self) -> int:
        return int(self.unpack("<I", 4))

    def u64(self) -> int:
        return int(self.unpack("<Q", 8))

    def length(self, limit: int, what: str) -> int:
        """A string's length, refused when over `limit` or past the end of the file."""
        n = self.u64()
        if n > limit:
            raise corrupt(f"{what} is {n:,} bytes long (at most {limit:,} expected)")
        self.need(n)
        return n

    def text(self, limit: int, what: str) -> str:
        n = self.length(limit, what)
        self.text_read += n
        if self.text_read > MAX_HEADER_TEXT:
            raise corrupt(f"over {MAX_HEADER_TEXT // MB} MB of text")
        out = bytes(self.buf[self.pos : self.pos + n]).decode("utf-8", errors="replace")
        self.pos += n
        return out

    def skip_text(self, limit: int, what: str) -> None:
        self.pos += self.length(limit, what)

    def count(self, limit: int, least_size: int, what: str) -> int:
        """An element count, refused when over `limit` or when that many elements of at least
        `least_size` bytes each cannot fit in the rest of the file."""
        n = self.u64()
        if n > limit or n * least_size > self.remaining:
            raise corrupt(f"implausible {what}: {n:,}")
        return n

    def value(self, vtype: int, key: str) -> Any:
        if vtype in SCALAR:
            fmt = SCALAR[vtype]
            return self.unpack(fmt, struct.calcsize(fmt))
        if vtype == STRING:
            return self.text(MAX_VALUE_TEXT, f"the value of {shown(key)}")
        raise ModelFileError(f"unknown GGUF value type {vtype}")
