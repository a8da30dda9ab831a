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


KINDS = ("tables", "figures", "complexity", "efficiency", "curves")


@lru_cache(maxsize=1)
def _load() -> tuple[dict, ...]:
    loaded: dict[str, dict[str, dict]] = {kind: {} for kind in KINDS}
    for path in sorted(PAPER_DIR.glob("*/tables.yaml")):
        doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        for kind, out in loaded.items():
            for tid, entry in (doc.get(kind) or {}).items():
                if any(tid in other for other in loaded.values()):
                    raise CirError(f"{path}: {kind}.{tid}: the id is already used by another paper's entry")
                missing = [k for k in _REQUIRED if k not in entry] if kind == "tables" else []
                if missing:
                    raise CirError(f"{path}: tables.{tid}: missing key(s) {missing}")
                out[tid] = {**entry, "id": tid, "paper": path.parent.name, "source": str(path)}
    return tuple(loaded[kind] for kind in KINDS)


def table_defs() -> dict[str, dict]:
    return _load()[0]


def figure_defs() -> dict[str, dict]:
    return _load()[1]


def table_def(tid: str) -> dict:
    tables = table_defs()
    if tid not in tables:
        raise UnknownNameError("table", tid, tables)
    return tables[tid]


def complexity_defs() -> dict[str, dict]:
    """Printed complexity tables (DRCNet's supplement Tables 3-5: "FLOPs (G)" per method): the
    paper's numbers beside the counts of the network config.yaml builds (cir.report.complexity)."""
    return _load()[2]


def efficiency_defs() -> dict[str, dict]:
    """Printed inference-time tables (Cria-CL's Table VII): the paper's time and parameters beside
    ours, measured on the running preset's trained models (cir.report.timing)."""
    return _load()[3]


def curve_defs() -> dict[str, dict]:
    """Training-curve figures (Cria-CL's Fig. 1: validation PSNR and LPIPS over iterations), drawn
    from the validation logs of the runs they name."""
    return _load()[4]


def figure_def(fid: str) -> dict:
    figures = figure_defs()
    if fid not in figures:
        raise UnknownNameError("figure", fid, figures)
    return figures[fid]


def panel_experiments(panel: dict) -> list[str]:
    """The experiments of one sweep-figure panel: its ``points`` (x -> experiment), or those of each
    of its ``series`` (label -> {x -> experiment}; several lines in one panel)."""
    if "series" in panel:
        return [e for points in panel["series"].values() for e in points.values()]
    return list(panel["points"].values())


def figure_experiments(fid: str) -> list[str]:
    """The experiments of a sweep figure, each once, in panel order."""
    return list(dict.fromkeys(e for p in figure_def(fid)["panels"] for e in panel_experiments(p)))


def averaged_rows() -> dict[str, int]:
    """Experiment -> the most runs (seeds) any table or figure averages for it (``runs`` > 1:
    DRCNet's Table 1 and sensitivity figure)."""
    out: dict[str, int] = {}
    entries = [(d, list(d["rows"])) for d in table_defs().values()]
    entries += [(d, figure_experiments(fid)) for fid, d in figure_defs().items()]
    for d, rows in entries:
        if int(d.get("runs", 1)) > 1:
            for e in rows:
                out[e] = max(out.get(e, 1), int(d["runs"]))
    return out
