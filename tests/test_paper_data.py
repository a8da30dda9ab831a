"""The paper numbers stored under cir/paper/ match the paper text they were copied from."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cir.errors import UnknownNameError
from cir.paper import PAPER_DIR, load_paper_table, paper_table_keys

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"
DCKD_TITLE = "Dynamic Contrastive Knowledge Distillation for Efficient Image Restoration"

TABLE2_METHODS = {
    "Teacher": "teacher",
    "Scratch": "scratch",
    "Logits": "logits",
    "FAKD": "fakd",
    "MiPKD": "mipkd",
    "DCKD": "dckd",
    "DCKD*": "dckd_star",
}
TABLE2_SETS = ["Set5", "Set14", "BSD100", "Urban100"]


def _dckd_seed_lines() -> list[str]:
    if not SEEDS.is_dir():
        pytest.skip(f"paper seed texts not available: folder {SEEDS} is absent")
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if DCKD_TITLE in text:
            return text.splitlines()
    pytest.fail(f"no seed text in {SEEDS} contains the DCKD title {DCKD_TITLE!r}")


def _parse_seed_table2(lines: list[str]) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """(scale, backbone, method, test set) -> (psnr, ssim) as printed in the seed's Table 2."""
    start = lines.index(
        "Scale\tMethod\tModel\tSet5\tSet14\tBSD100\tUrban100\tModel\tSet5\tSet14\tBSD100\tUrban100"
    )
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("Table 2:"))
    table: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    scale = None
    for line in lines[start + 2 : end]:
        if not line.strip():
            continue
        cells = line.split("\t")
        if cells[0] == "DCKD*":
            # The last line holds the x4 DCKD* values: four for SwinIR, then four for RCAN.
            method, scale = "dckd_star", "4"
            halves = {"swinir": cells[1:5], "rcan": cells[5:9]}
            assert all(c == "" for c in cells[9:]), line
        else:
            if cells[0]:
                scale = cells[0].removeprefix("\u00d7")
            method = TABLE2_METHODS[cells[1]]
            halves = {"swinir": cells[3:7], "rcan": cells[8:12]}
            if cells[2]:
                assert (cells[2], cells[7]) == ("SwinIR", "RCAN"), line
        for backbone, values in halves.items():
            assert len(values) == 4, line
            for test_set, value in zip(TABLE2_SETS, values):
                psnr, ssim = value.split("/")
                key = (scale, backbone, method, test_set)
                assert key not in table, key
                table[key] = (psnr, ssim)
    return table


def test_table2_csv_matches_seed_text() -> None:
    seed = _parse_seed_table2(_dckd_seed_lines())
    with open(PAPER_DIR / "dckd" / "table2.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["scale", "backbone", "method", "test_set", "psnr", "ssim"]
    stored = {(r["scale"], r["backbone"], r["method"], r["test_set"]): (r["psnr"], r["ssim"]) for r in rows}
    assert len(stored) == len(rows), "duplicate lines in table2.csv"
    assert len(seed) == 3 * 2 * 6 * 4 + 2 * 4
    assert set(stored) == set(seed)
    wrong = {k: (stored[k], seed[k]) for k in seed if stored[k] != seed[k]}
    assert not wrong, f"table2.csv differs from the paper (csv, paper): {wrong}"


def test_table2_loads_with_expected_values() -> None:
    df = load_paper_table("dckd/table2", required_columns=("scale", "psnr", "ssim"))
    assert len(df) == 152
    assert set(df["scale"]) == {2, 3, 4}
    assert set(df["backbone"]) == {"swinir", "rcan"}
    assert set(df["test_set"]) == set(TABLE2_SETS)
    star = df[df["method"] == "dckd_star"]
    assert set(star["scale"]) == {4}
    row = df[
        (df.scale == 4) & (df.backbone == "rcan") & (df.method == "dckd_star") & (df.test_set == "Urban100")
    ]
    assert row[["psnr", "ssim"]].values.tolist() == [[26.74, 0.8054]]


def test_paper_table_keys_and_unknown_key() -> None:
    assert "dckd/table2" in paper_table_keys()
    with pytest.raises(UnknownNameError, match="dckd/table2"):
        load_paper_table("dckd/table99")


def test_ablation_tables_match_the_seed_text():
    """Tables 5-7 (RCAN x2 ablations): every stored pair appears in the seed's table text."""
    lines = _dckd_seed_lines()
    for table in ("table5", "table6"):
        df = load_paper_table(f"dckd/{table}")
        for method, rows in df.groupby("method", sort=False):
            cells = {r.test_set: f"{r.psnr:.2f}/{r.ssim:.4f}" for r in rows.itertuples()}
            want = f"{cells['Set14']}\t{cells['Urban100']}"
            assert any(line.endswith(want) for line in lines), f"{table} {method}: {want} not in the seed"
    t7 = load_paper_table("dckd/table7").set_index("method")
    values = [f"{t7.loc[m, 'psnr']:.2f}/{t7.loc[m, 'ssim']:.4f}" for m in
              ("dckd_dcl_001", "dckd", "dckd_dcl_1", "dckd_ce_00001", "dckd", "dckd_ce_001")]
    printed = [line.split("\t")[1:] for line in lines if line.startswith("PSNR/SSIM\t")]
    assert printed == [values[:3], values[3:]]
