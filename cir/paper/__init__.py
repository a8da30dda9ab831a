"""The papers' reported numbers, stored as data files beside this module.

A paper table lives at ``cir/paper/<paper>/<table>.csv`` and is addressed by the key
``"<paper>/<table>"`` (e.g. ``"dckd/table2"``). Tables are in long form: one line per row of the
printed table and test set, a ``test_set`` column, and one column per metric. Each paper folder
has a README.md naming the source and any caveat printed with the numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cir.errors import CirError, UnknownNameError

PAPER_DIR = Path(__file__).resolve().parent


def paper_table_keys() -> list[str]:
    """All stored paper tables, as ``"<paper>/<table>"`` keys."""
    return sorted(f"{p.parent.name}/{p.stem}" for p in PAPER_DIR.glob("*/*.csv"))


def paper_table_path(key: str) -> Path:
    """The CSV file of ``key``; raises UnknownNameError listing the stored keys."""
    keys = paper_table_keys()
    if key not in keys:
        raise UnknownNameError("paper table", key, keys)
    paper, table = key.split("/")
    return PAPER_DIR / paper / f"{table}.csv"


def load_paper_table(key: str, *, required_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read the paper table ``key`` (e.g. ``"dckd/table2"``) into a DataFrame.

    ``required_columns`` are checked to be present; the error names the file and the columns.
    """
    path = paper_table_path(key)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CirError(f"{path}: cannot read paper table: {exc}") from exc
    missing = [c for c in required_columns if c not in df.columns]
    if missing:
        raise CirError(f"{path}: missing column(s) {missing}; columns present: {list(df.columns)}")
    return df
