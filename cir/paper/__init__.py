"""The papers' reported numbers, stored as data files beside this module.

A paper table lives at ``cir/paper/<paper>/<table>.csv`` and is addressed by the key
``"<paper>/<table>"`` (e.g. ``"dckd/table2"``). Results tables are in long form: one line per row
of the printed table and test set, a ``test_set`` column, and one column per metric; a table
without test sets (DCKD Table 1, the model specifications) has one line per printed row. Each
paper folder has a README.md naming the source and any caveat printed with the numbers.

A results table may print rows for published models that no experiment here reproduces (DCKD
Table 3's MT-RNN and DMPHN, Table 4's MPRNet and SPAIR). Such a CSV has a boolean column
:data:`REFERENCE_ONLY` that is true on those lines; :func:`reference_only` reads it for any table
(false everywhere when the column is absent), so a table builder can print those rows as paper only.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cir.errors import CirError, UnknownNameError

PAPER_DIR = Path(__file__).resolve().parent
# Column marking lines of published models that the pipeline has no experiment for.
REFERENCE_ONLY = "reference_only"


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
    if REFERENCE_ONLY in df.columns and not pd.api.types.is_bool_dtype(df[REFERENCE_ONLY]):
        bad = sorted({str(v) for v in df[REFERENCE_ONLY] if str(v).lower() not in ('true', 'false')})
        raise CirError(f"{path}: column {REFERENCE_ONLY!r} must hold only true/false, found {bad}")
    return df


def reference_only(df: pd.DataFrame) -> pd.Series:
    """Per line of a loaded paper table: True where it is a published model's number that the
    pipeline does not reproduce (column :data:`REFERENCE_ONLY`; all False when absent)."""
    if REFERENCE_ONLY not in df.columns:
        return pd.Series(False, index=df.index, name=REFERENCE_ONLY)
    return df[REFERENCE_ONLY].astype(bool)
