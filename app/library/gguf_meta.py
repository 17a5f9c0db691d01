"""Reads what we need from a GGUF file's header without loading any weights.

Our own small parser: it walks the key/value section and the tensor table once, checks that
every tensor's data lies inside the file (so a truncated download is caught before llama.cpp
sees it), and fingerprints the vocabulary so one model can be compared with fifty without
re-reading fifty vocabularies.
"""

from __future__ import annotations

import hashlib
import mmap
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import ModelFileError
from app.library.gguf_fields import (
    ARRAY,
    MAX_ARRAY_TEXT,
    MAX_KEY,
    MAX_KV,
    MAX_STRINGS,
    MAX_TENSOR_NAME,
    MAX_TENSORS,
    MAX_VOCAB_TEXT,
    MB,
    MIN_STRING,
    SCALAR,
    STRING,
    Cursor,
    corrupt,
    shown,
)
from app.library.vocab import VocabSummary

GGUF_MAGIC = b"GGUF"
VOCAB_CHECK_START = 5  # llama.cpp skips the first ids (special tokens) when comparing vocabularies

_U64 = struct.Struct("<Q")
_ARRAY_KEEP = 64  # arrays longer than this are walked, not materialised


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int


@dataclass
class GGUFInfo:
    path: Path
    file_size: int
    version: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo]
    vocab_fingerprint: str | None
    tokens_offset: int | None  # where tokenizer.ggml.tokens' first element starts
    n_vocab: int = 0
    _tokens: list[bytes] | None = field(default=None, repr=False)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def vocab_type(self) -> str | None:
        value = self.metadata.get("tokenizer.ggml.model")
        return None if value is None else str(value)

    def int_value(self, key: str) -> int | None:
        """A whole-number metadata value; None when absent or of another type."""
        value = self.metadata.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def context_length(self) -> int | None:
        return self.int_value(f"{self.architecture}.context_length")

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return str(value) if value else None

    @property
    def parameter_count(self) -> int:
        total = 0
        for t in self.tensors:
            n = 1
            for d in t.shape:
                n *= d
            total += n
        return total

    @property
    def quantization(self) -> str | None:
        ft = self.int_value("general.file_type")
        if ft is None:
            return None
        try:
            from gguf import LlamaFileType

            return LlamaFileType(int(ft)).name.removeprefix("MOSTLY_")
        except (ValueError, ImportError):
            return f"type {ft}"

    @property
    def is_vocab_only(self) -> bool:
        return not self.tensors

    @property
    def is_projector(self) -> bool:
        """Vision projectors (mmproj) are not models and never take part in compatibility."""
        return self.architecture == "clip" or self.metadata.get("general.type") == "mmproj"

    def special_token(self, which: str) -> int | None:
        """BOS/EOS id as llama.cpp would use it: the file's value, else the vocabulary type's default."""
        value = self.int_value(f"tokenizer.ggml.{which}_token_id")
        if value is not None:
            return value
        return _VOCAB_DEFAULTS.get(self.vocab_type or "", {}).get(which)

    def adds(self, which: str) -> bool:
        value = self.metadata.get(f"tokenizer.ggml.add_{which}_token")
        if value is not None:
            return bool(value)
        return bool(_VOCAB_DEFAULTS.get(self.vocab_type or "", {}).get(f"add_{which}", False))

    def tokens(self) -> list[bytes]:
        """The vocabulary's token texts (read on first use, then kept)."""
        if self._tokens is None:
            self._tokens = read_tokens(self.path, self.tokens_offset, self.n_vocab)
        return self._tokens

    @property
    def vocab(self) -> VocabSummary:
        return VocabSummary(
            self.vocab_type,
            self.n_vocab,
            self.vocab_fingerprint,
            self.adds("bos"),
            self.adds("eos"),
            self.special_token("bos"),
            self.special_token("eos"),
            self.tokens,
        )


# llama.cpp's defaults per tokenizer model when the file does not say (llama-vocab.cpp).
_VOCAB_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"bos": 1, "eos": 2, "add_bos": True, "add_eos": False},
    "gpt2": {"bos": 11, "eos": 11, "add_bos": False, "add_eos": False},
    "bert": {"bos": 101, "eos": None, "add_bos": True, "add_eos": False},
    "t5": {"bos": None, "eos": 1, "add_bos": False, "add_eos": True},
}


def read_gguf(path: str | Path) -> GGUFInfo:
    """Parse a GGUF header. Raises ModelFileError with a one-line reason for anything that is
    not a complete GGUF file."""
    path = Path(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block or never end
            raise ModelFileError(f"{path.name} is not a regular file (a pipe, socket or device)")
        size = st.st_size
        with path.open("rb") as fh:
            if size < 24:
                raise ModelFileError(f"{path.name}: not a GGUF file (only {size} bytes)")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, size, buf)
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a folder, not a GGUF file") from None
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path.name}: cannot read ({exc})") from None


def _parse(path: Path, size: int, buf: mmap.mmap) -> GGUFInfo:
    if buf[:4] != GGUF_MAGIC:
        raise ModelFileError(f"{path.name}: not a GGUF file (bad magic)")
    cur = Cursor(buf, 4)
    version = cur.u32()
    if version not in (2, 3):
        raise ModelFileError(f"{path.name}: unsupported GGUF version {version}")
    try:
        n_tensors = cur.count(MAX_TENSORS, _LEAST_TENSOR, "tensor count")
        n_kv = cur.count(MAX_KV, _LEAST_KV, "key count")
        meta, tokens_offset, fingerprint, n_vocab = _read_kv(cur, n_kv)
        tensors = _read_tensors(cur, n_tensors)
    except struct.error:
        raise ModelFileError(f"{path.name}: truncated GGUF header") from None
    except ModelFileError as exc:
        raise ModelFileError(f"{path.name}: {exc}") from None
    alignment = meta.get("general.alignment", 32)
    if not _is_power_of_two(alignment):
        raise ModelFileError(f"{path.name}: general.alignment is {alignment!r}; it must be a power of two")
    data_start = (cur.pos + alignment - 1) // alignment * alignment
    _check_tensor_data(path, tensors, data_start, size)
    info = GGUFInfo(path, size, version, meta, tensors, fingerprint, tokens_offset, n_vocab)
    _check_sense(info)
    return info


_LEAST_KV = MIN_STRING + 4 + 1  # a key, its type, the smallest value
_LEAST_TENSOR = MIN_STRING + 4 + 4 + 8  # a name, its dimension count, type and offset


def _read_kv(cur: Cursor, n_kv: int) -> tuple[dict[str, Any], int | None, str | None, int]:
    meta: dict[str, Any] = {}
    fingerprint: str | None = None
    tokens_offset: int | None = None
    n_vocab = 0
    for _ in range(n_kv):
        key = cur.text(MAX_KEY, "a key")
        if not key or key in meta:
            raise corrupt(f"the key {shown(key)} is empty or appears twice")
        vtype = cur.u32()
        if vtype != ARRAY:
            meta[key] = cur.value(vtype, key)
            continue
        etype = cur.u32()
        if etype == STRING:
            count = cur.count(MAX_STRINGS, MIN_STRING, f"element count of {shown(key)}")
            if key == "tokenizer.ggml.tokens":
                tokens_offset, fingerprint, n_vocab = _walk_tokens(cur, count)
                meta[key] = f"<{count} tokens>"
            elif count <= _ARRAY_KEEP:
                meta[key] = [cur.text(MAX_ARRAY_TEXT, f"an element of {shown(key)}") for _ in range(count)]
            else:  # merges and the like: walked, never materialised
                for _ in range(count):
                    cur.skip_text(MAX_ARRAY_TEXT, f"an element of {shown(key)}")
                meta[key] = f"<{count} strings>"
        elif etype in SCALAR:
            width = struct.calcsize(SCALAR[etype])
            count = cur.count(cur.remaining, width, f"element count of {shown(key)}")
            if count <= _ARRAY_KEEP:
                meta[key] = [cur.value(etype, key) for _ in range(count)]
            else:
                cur.pos += width * count
                meta[key] = f"<{count} values>"
        else:
            raise ModelFileError("nested GGUF arrays are not supported")
    return meta, tokens_offset, fingerprint, n_vocab


def _read_tensors(cur: Cursor, n_tensors: int) -> list[TensorInfo]:
    tensors: list[TensorInfo] = []
    names: set[str] = set()
    for _ in range(n_tensors):
        name = cur.text(MAX_TENSOR_NAME, "a tensor name")
        if not name or name in names:
            raise corrupt(f"the tensor name {shown(name)} is empty or appears twice")
        names.add(name)
        n_dims = cur.u32()
        if n_dims > 8:
            raise ModelFileError(f"corrupt tensor table ({shown(name)})")
        shape = tuple(cur.u64() for _ in range(n_dims))
        tensors.append(TensorInfo(name, shape, cur.u32(), cur.u64()))
    return tensors


# Short texts: a name over a kilobyte is a corrupt length, not a name.
_NAME_KEYS = ("general.architecture", "general.name", "general.basename", "general.type")
_MAX_NAME = 1024


def _check_sense(info: GGUFInfo) -> None:
    """Refuse a header that parsed into nonsense. One flipped bit in general.name's length
    shifted the reader into zero-filled data where every later key and tensor name read as
    empty: a "model" with no vocabulary and a 134-million-character name, which filled the
    header cache with 805 MB. Empty and repeated names are refused while reading; here what
    a language model must have."""
    name = info.path.name
    for key in _NAME_KEYS:
        value = info.metadata.get(key)
        if isinstance(value, str) and len(value) > _MAX_NAME:
            raise ModelFileError(f"{name}: corrupt GGUF header: {key} is {len(value):,} characters long")
    if not info.tensors or info.is_projector:
        return
    if "general.architecture" not in info.metadata:
        raise ModelFileError(f"{name}: corrupt GGUF header: tensors but no general.architecture")
    if info.tokens_offset is None or info.n_vocab == 0:
        if info.metadata.get("general.type") == "adapter":
            raise ModelFileError(f"{name} is a LoRA adapter, not a model (it has no vocabulary)")
        raise ModelFileError(f"{name}: corrupt GGUF header: a model without a vocabulary")


def _is_power_of_two(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0 and not value & (value - 1)


def _walk_tokens(cur: Cursor, count: int) -> tuple[int, str, int]:
    """Walk the token array, hashing the raw entries from VOCAB_CHECK_START on. A duplicate
    token text is refused here: llama.cpp aborts the whole process on one. Each text and the
    vocabulary together are bounded (gguf_fields): the walk keeps a copy of every text."""
    start = cur.pos
    buf, pos, end = cur.buf, cur.pos, cur.end
    unpack = _U64.unpack_from
    seen: set[bytes] = set()
    add = seen.add
    hash_from = start
    try:
        for i in range(count):
            if i == VOCAB_CHECK_START:
                hash_from = pos
            (n,) = unpack(buf, pos)
            pos += 8
            if n > MAX_ARRAY_TEXT:
                raise corrupt(f"token {i} is {n:,} bytes long (at most {MAX_ARRAY_TEXT:,} expected)")
            if pos + n > end:
                raise ModelFileError("truncated GGUF header")
            if pos - start > MAX_VOCAB_TEXT:
                raise corrupt(f"the vocabulary is over {MAX_VOCAB_TEXT // MB} MB")
            add(buf[pos : pos + n])
            pos += n
    except struct.error:
        raise ModelFileError("truncated GGUF header") from None
    if count <= VOCAB_CHECK_START:
        hash_from = pos
    if len(seen) != count:
        _raise_duplicate(cur, count)
    cur.pos = pos
    digest = hashlib.sha256(buf[hash_from:pos]).hexdigest()[:32]
    return start, digest, count


def _raise_duplicate(cur: Cursor, count: int) -> None:
    seen: set[bytes] = set()
    for i in range(count):
        n = cur.length(MAX_ARRAY_TEXT, f"token {i}")
        text = bytes(cur.buf[cur.pos : cur.pos + n])
        cur.pos += n
        if text in seen:
            written = text.decode("utf-8", errors="backslashreplace")
            raise corrupt(f"token {i} ({shown(written)}) appears twice")
        seen.add(text)


def _check_tensor_data(path: Path, tensors: list[TensorInfo], data_start: int, size: int) -> None:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    for t in tensors:
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(t.ggml_type)]
        except (ValueError, KeyError):
            raise ModelFileError(f"{path.name}: tensor {t.name} has unknown type {t.ggml_type}") from None
        n = 1
        for d in t.shape:
            n *= d
        nbytes = n // block * type_size
        if data_start + t.offset + nbytes > size:
            missing = data_start + t.offset + nbytes - size
            raise ModelFileError(
                f"{path.name}: file is truncated (tensor {t.name} needs {missing} more bytes); "
                "download it again"
            )


def read_tokens(path: Path, offset: int | None, count: int) -> list[bytes]:
    """The token texts at `offset` (read_gguf found them there; a file changed since then is
    refused, not trusted: the same bounds apply)."""
    if offset is None:
        return []
    out: list[bytes] = []
    append = out.append
    unpack = _U64.unpack_from
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        pos = offset
        for _ in range(count):
            (n,) = unpack(buf, pos)
            pos += 8
            if n > MAX_ARRAY_TEXT or pos + n > len(buf):
                raise ModelFileError(f"{path.name} changed since it was read: read its header again")
            append(buf[pos : pos + n])
            pos += n
    return out
