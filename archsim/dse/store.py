"""The sweep's durable store: one SQLite database per sweep (``DIR/results.sqlite``, WAL mode).

Tables:

* ``sweep``: the spec (as JSON) and its digest; a folder holding another sweep is refused.
* ``points``: one row per point, committed when the point finishes: ``point_hash`` (primary
  key, so a point can never be stored twice), ``status`` (``done``, ``failed``,
  ``infeasible``, ``dropped``), ``error``, ``wall_s``, ``config_json`` (the resolved
  configuration), then every hardware and numeric parameter and every headline result as its
  own column (added as new columns appear).
* ``breakdowns``: long form ``(point_hash, grp, key, value)``: energy and area by component
  (stable role names), cycles and energy by phase, cycles, DRAM bytes and block sizes by op.
* ``labels``: the same long form with text values: per GEMM/conv op the mapping (``searched``
  or ``fixed``), its loop order (``n>m>k``, outer to inner) and resident operands.

Only the sweep's driver process writes; workers return rows to it.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from ..errors import StoreError
from ..fileio import OutputError, describe_os_error, make_dirs

STORE_NAME = "results.sqlite"
FINAL_STATUSES = ("done", "infeasible", "dropped")
"""A point with one of these is never evaluated again; ``failed`` points are retried on --resume."""
FIXED_COLUMNS = ("point_hash", "status", "error", "wall_s", "finished_at", "workload_file", "group_key",
                 "config_json")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_type(value: Any) -> str:
    if isinstance(value, bool) or isinstance(value, int):
        return "INTEGER"
    return "REAL" if isinstance(value, float) else "TEXT"


class Store:
    """The SQLite file of one sweep."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = make_dirs(folder)
        self.path = self.folder / STORE_NAME
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("CREATE TABLE IF NOT EXISTS sweep (key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("CREATE TABLE IF NOT EXISTS points (point_hash TEXT PRIMARY KEY, status TEXT NOT NULL, "
                            "error TEXT, wall_s REAL, finished_at REAL, workload_file TEXT, group_key TEXT, "
                            "config_json TEXT)")
            self.db.execute("CREATE TABLE IF NOT EXISTS breakdowns (point_hash TEXT NOT NULL, grp TEXT NOT NULL, "
                            "key TEXT NOT NULL, value REAL, PRIMARY KEY (point_hash, grp, key))")
            self.db.execute("CREATE TABLE IF NOT EXISTS labels (point_hash TEXT NOT NULL, grp TEXT NOT NULL, "
                            "key TEXT NOT NULL, value TEXT, PRIMARY KEY (point_hash, grp, key))")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable SQLite store ({exc})") from None
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot open ({describe_os_error(exc)})") from None
        self._columns = {row[1] for row in self.db.execute("PRAGMA table_info(points)")}

    def close(self) -> None:
        self.db.close()

    # --- the sweep this store belongs to ------------------------------------------------------
    def claim(self, spec_json: dict, spec_digest: str, force: bool) -> bool:
        """Bind the store to a sweep; returns whether it already held points of it. Another
        sweep's store is refused unless ``force`` (which empties it)."""
        row = self.db.execute("SELECT value FROM sweep WHERE key = 'digest'").fetchone()
        if row is not None and row[0] != spec_digest:
            if not force:
                raise StoreError(f"{self.path}: holds another sweep (spec digest {row[0]}, this one {spec_digest}); "
                                 "choose another --out, or pass --force to replace it")
            self.db.execute("BEGIN IMMEDIATE")
            for table in ("points", "breakdowns", "labels", "sweep"):
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute("COMMIT")
            row = None
        elif row is not None and force:
            self.db.execute("BEGIN IMMEDIATE")
            for table in ("points", "breakdowns", "labels"):
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute("COMMIT")
        self.db.execute("INSERT OR REPLACE INTO sweep VALUES ('digest', ?)", (spec_digest,))
        self.db.execute("INSERT OR REPLACE INTO sweep VALUES ('spec', ?)", (json.dumps(spec_json, sort_keys=True),))
        return row is not None and self.count() > 0

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM points").fetchone()[0]

    def finished(self) -> set[str]:
        """Point hashes that need no more work."""
        marks = ",".join("?" * len(FINAL_STATUSES))
        return {r[0] for r in self.db.execute(f"SELECT point_hash FROM points WHERE status IN ({marks})",
                                              FINAL_STATUSES)}

    # --- writing ------------------------------------------------------------------------------
    def _ensure_columns(self, row: dict[str, Any]) -> None:
        for name, value in row.items():
            if name not in self._columns:
                self.db.execute(f"ALTER TABLE points ADD COLUMN {_quote(name)} {_sql_type(value)}")
                self._columns.add(name)

    def put(self, row: dict[str, Any], breakdowns: Iterable[tuple[str, str, float | str]] = ()) -> None:
        """Store one finished point and its breakdowns in one transaction (durable on return); string
        values (per-op labels such as the loop order) go to the ``labels`` table."""
        breakdowns = list(breakdowns)
        row = {**row, "finished_at": time.time()}
        cols = list(row)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._ensure_columns(row)
            self.db.execute(f"INSERT OR REPLACE INTO points ({', '.join(map(_quote, cols))}) "
                            f"VALUES ({', '.join('?' * len(cols))})", [row[c] for c in cols])
            self.db.execute("DELETE FROM breakdowns WHERE point_hash = ?", (row["point_hash"],))
            self.db.executemany("INSERT INTO breakdowns VALUES (?, ?, ?, ?)",
                                [(row["point_hash"], g, k, float(v)) for g, k, v in breakdowns
                                 if not isinstance(v, str)])
            self.db.execute("DELETE FROM labels WHERE point_hash = ?", (row["point_hash"],))
            self.db.executemany("INSERT INTO labels VALUES (?, ?, ?, ?)",
                                [(row["point_hash"], g, k, v) for g, k, v in breakdowns if isinstance(v, str)])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def spec(self) -> dict:
        row = self.db.execute("SELECT value FROM sweep WHERE key = 'spec'").fetchone()
        return json.loads(row[0]) if row else {}


def open_existing(folder: str | Path) -> Path:
    """The store file of a finished or running sweep folder (a clear error if there is none)."""
    path = Path(folder) / STORE_NAME
    if not path.is_file():
        raise StoreError(f"{folder}: no sweep store ({STORE_NAME}) here")
    return path


__all__ = ["FINAL_STATUSES", "STORE_NAME", "Store", "StoreError", "open_existing"]
