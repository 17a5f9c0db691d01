"""Reading what a damaged SQLite file still holds: rows up to the first damaged page.

Row by row on purpose: a query over a damaged table fails midway, and the rows read before the
failure are what salvage and a tolerant listing keep."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def rows_until_damage(
    db: sqlite3.Connection, sql: str, params: Sequence[Any] = ()
) -> tuple[list[tuple[Any, ...]], bool]:
    """Rows up to the first damaged page, and whether the query finished."""
    out: list[tuple[Any, ...]] = []
    try:
        for row in db.execute(sql, params):
            out.append(tuple(row))  # noqa: PERF401 (keeps the rows read before a failure)
    except sqlite3.Error as exc:
        log.warning("conversations file: a query stopped at a damaged page (%s)", exc)
        return out, False
    return out, True
