"""GGUF header mutation fuzzing: N mutated headers of a tiny model, each read as a library scan
reads it; counts what came back (a model, a problem row, a crash), the time and peak memory.

Half the mutations flip one random bit anywhere in the header, half flip a high bit (20..62)
of a length field (a key's, a string value's, a token's or a tensor name's), the kind of
damage issue 29 found costly. The file is padded with zeros (sparse) to --pad-mb so a
corrupt length can still point inside it. Nothing is timed as a pass/fail: this reports.

    python bench/gguf_fuzz.py --count 20000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.errors import ModelFileError
from app.library.gguf_meta import read_gguf
from tests.library.gguf_damage import MB, padded_copy
from tests.model_factory import write_tiny_gguf


def length_fields(path: Path) -> tuple[list[int], int]:
    """The offsets of the header's u64 string lengths, and where the tensor data begins."""
    reader = gguf.GGUFReader(str(path))
    base = reader.data.ctypes.data
    out: list[int] = []
    for field in reader.fields.values():
        out.append(field.offset)  # the key's length
        # a string value's or element's length
        out.extend(
            part.ctypes.data - base for part in field.parts[3:] if part.dtype == np.uint64 and part.size == 1
        )
    out.extend(tensor.field.offset for tensor in reader.tensors)  # the tensor names' lengths
    return out, int(reader.data_offset)


def peak_rss() -> int:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--pad-mb", type=int, default=256)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        source = write_tiny_gguf(Path(tmp) / "tiny.gguf", n_embd=16, n_layer=1)
        lengths, header_end = length_fields(source)
        target = padded_copy(source, Path(tmp) / "mutated.gguf", args.pad_mb * MB)
        read_gguf(target)  # imports and first use out of the measurement
        counts = {"model": 0, "problem": 0, "crash": 0}
        crashes: dict[str, int] = {}
        slowest = 0.0
        rss0, t0 = peak_rss(), time.perf_counter()
        with target.open("r+b") as fh:
            for _ in range(args.count):
                if rng.random() < 0.5:
                    at, bit = rng.randrange(header_end), rng.randrange(8)
                else:
                    word, bit = rng.choice(lengths), rng.randrange(20, 63)
                    at, bit = word + bit // 8, bit % 8
                fh.seek(at)
                old = fh.read(1)
                fh.seek(at)
                fh.write(bytes([old[0] ^ (1 << bit)]))
                fh.flush()
                started = time.perf_counter()
                try:
                    read_gguf(target)
                    counts["model"] += 1
                except ModelFileError:
                    counts["problem"] += 1
                except Exception as exc:  # what this bench is looking for
                    counts["crash"] += 1
                    crashes[type(exc).__name__] = crashes.get(type(exc).__name__, 0) + 1
                slowest = max(slowest, time.perf_counter() - started)
                fh.seek(at)
                fh.write(old)
                fh.flush()
        elapsed = time.perf_counter() - t0
        grew = peak_rss() - rss0
    print(f"{args.count} mutated headers of a tiny model padded to {args.pad_mb} MB (seed {args.seed}):")
    print(f"  read as a model {counts['model']}, problem rows {counts['problem']}, crashes {counts['crash']}")
    if crashes:
        print(f"  crashes by kind: {crashes}")
    print(f"  {elapsed:.1f} s in all, slowest read {slowest * 1000:.0f} ms", end="")
    print(f", peak memory grew {grew / MB:.1f} MB")
    return 1 if counts["crash"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
