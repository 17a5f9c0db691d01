"""Kept for the benchmarks' import: the decode timing now lives in app/engines/timing.py and
the draft advisor, which goes through the model runtime, in app/runtime/advisor.py."""

from app.engines.timing import DecodeTiming, measure_decode

__all__ = ["DecodeTiming", "measure_decode"]
