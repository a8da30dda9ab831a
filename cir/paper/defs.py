"""The papers' table and figure definitions (``cir/paper/<paper>/tables.yaml``), as plain data.

Torch- and pandas-free: the Snakefile reads the rows it must build from here, and the table
builder (:mod:`cir.report.tables`), the figures and the efficiency table read the same entries.
Table ids are global (``table2``; other papers' ids carry their paper's prefix, e.g.
``mcir_table1``), so output names cannot collide.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from cir.errors import CirError, UnknownNameError

PAPER_DIR = Path(__file__).resolve().parent
_REQUIRED = ("paper_key", "title", "tasks", "backbones", "test_sets", "metrics", "convention", "rows")


@lru_cache(maxsize=1)
def _load() -> tuple[dict, dict]:
    tables: dict[str, dict] = {}
    figures: dict[str, dict] = {}
    for path in sorted(PAPER_DIR.glob("*/tables.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for kind, out in (("tables", tables), ("figures", figures)):
            for tid, entry in (doc.get(kind) or {}).items():
                if tid in tables or tid in figures:
                    raise CirError(f"{path}: {kind}.{tid}: the id is already used by another paper's entry")
                missing = [k for k in _REQUIRED if k not in entry] if kind == "tables" else []
                if missing:
                    raise CirError(f"{path}: tables.{tid}: missing key(s) {missing}")
                out[tid] = {**entry, "id": tid, "paper": path.parent.name, "source": str(path)}
    return tables, figures


def table_defs() -> dict[str, dict]:
    return _load()[0]


def figure_defs() -> dict[str, dict]:
    return _load()[1]


def table_def(tid: str) -> dict:
    tables = table_defs()
    if tid not in tables:
        raise UnknownNameError("table", tid, tables)
    return tables[tid]


def figure_def(fid: str) -> dict:
    figures = figure_defs()
    if fid not in figures:
        raise UnknownNameError("figure", fid, figures)
    return figures[fid]


def figure_experiments(fid: str) -> list[str]:
    """The experiments of a sweep figure, each once, in panel order."""
    return list(dict.fromkeys(e for p in figure_def(fid)["panels"] for e in p["points"].values()))
