"""Design-space exploration: sweep specs → points → planner → executors → SQLite store → pandas.

``load(DIR)`` gives the points table as a DataFrame, ``breakdowns(DIR)`` the long-form
breakdowns, ``labels(DIR)`` the per-op mapping labels, ``pareto(df, minimize=[...],
maximize=[...])`` the non-dominated rows.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from .pareto import pareto
from .store import STORE_NAME, StoreError, open_existing


def _read(folder: str | Path, query: str):
    import pandas as pd

    path = open_existing(folder)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return pd.read_sql_query(query, db)


def load(folder: str | Path):
    """The sweep's points table: one row per point, parameter and result columns (a headline
    result is numeric even where no point has it, e.g. the accuracy of untrained points: NaN)."""
    import pandas as pd

    from .spec import RESULT_METRICS

    df = _read(folder, "SELECT * FROM points ORDER BY rowid")
    for col in RESULT_METRICS:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def breakdowns(folder: str | Path):
    """The long-form breakdowns: point_hash, grp, key, value."""
    return _read(folder, "SELECT * FROM breakdowns ORDER BY point_hash, grp, key")


def labels(folder: str | Path):
    """Per-op labels in long form (point_hash, grp, key, value): ``mapping_by_op`` (searched or
    fixed), ``loop_order_by_op`` (``n>m>k``, outer to inner) and ``resident_by_op``."""
    return _read(folder, "SELECT * FROM labels ORDER BY point_hash, grp, key")


__all__ = ["STORE_NAME", "StoreError", "breakdowns", "labels", "load", "pareto"]
