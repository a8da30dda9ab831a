"""Reading a paper's tables back from its seed text, for the tests that check the CSV files of
``cir/paper/<paper>/`` cell for cell (DRCNet, Cria-CL)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


def seed_lines(title: str) -> list[str]:
    """The lines of the seed text that contains ``title`` (skip when the seeds are absent)."""
    if not SEEDS.is_dir():
        pytest.skip(f"paper seed texts not available: folder {SEEDS} is absent")
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if title in text:
            return text.splitlines()
    pytest.fail(f"no seed text in {SEEDS} contains the title {title!r}")


def table_block(lines: list[str], caption: str, *, above: bool = False) -> list[list[str]]:
    """The tab-separated cells of the table next to the one line starting with ``caption``: the
    non-empty lines after it (``above``: before it), past the blank line(s) between them, up to
    the next empty line, in reading order."""
    hits = [i for i, ln in enumerate(lines) if ln.startswith(caption)]
    assert len(hits) == 1, f"caption {caption!r} found on lines {hits} of the seed"
    step = -1 if above else 1
    i = hits[0] + step
    while not lines[i].strip():
        i += step
    rows = []
    while 0 <= i < len(lines) and lines[i].strip():
        assert "\t" in lines[i], f"not a table line: {lines[i]!r}"
        rows.append(lines[i].split("\t"))
        i += step
    return rows[::-1] if above else rows


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def check_csv(path: Path, columns: list[str], seed: list[dict[str, str]]) -> None:
    """The CSV has ``columns`` and exactly the seed's lines, cell for cell, in order."""
    rows = csv_rows(path)
    assert rows, f"{path.name} is empty"
    assert list(rows[0]) == columns
    assert all(list(s) == columns for s in seed)
    assert len(rows) == len(seed), f"{path.name} has {len(rows)} lines, the seed {len(seed)}"
    wrong = [(got, exp) for got, exp in zip(rows, seed) if got != exp]
    assert not wrong, f"{path.name} differs from the paper (csv, paper): {wrong}"
