"""DRCNet's printed tables (cir/paper/drcnet/*.csv) match the supplement text they were copied from.

Only the supplementary material of DRCNet (ECCV 2022) is public; its extraction is the seed text
``shared/seeds/002_*.txt``. Its five numeric tables are tab-separated lines below a caption line
("**Table 1.** ...", "**Table 2.** ...", "Table 3. ..." to "Table 5. ..."): each table is found by
its caption (unique in the seed) and read up to the first empty line after the table. Every CSV
cell is re-derived here from those lines and compared as a string. The README's arithmetic and
text claims are checked at the end.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pandas as pd
import pytest
from _paper_seed import check_csv, csv_rows, seed_lines, table_block

from cir.paper import PAPER_DIR, load_paper_table, paper_table_keys, reference_only

DRCNET_TITLE = "DRCNet: Dynamic Image Restoration Contrastive Network"
DRCNET = PAPER_DIR / "drcnet"
TABLES = [f"table{i}" for i in range(1, 6)]

SWEEP_BASE = ["scale", "backbone", "variant"]
COLUMNS = {
    "table1": [*SWEEP_BASE, "t", "task", "test_set", "psnr", "n_runs", "reference_only"],
    "table2": [*SWEEP_BASE, "delta", "task", "test_set", "psnr", "reference_only"],
    **{t: ["task", "backbone", "printed_name", "input_hw", "flops_g", "reference_only"]
       for t in ("table3", "table4", "table5")},
}

# Printed row labels of Tables 1-2 -> (test_set, the reference number it cites, task).
# The references: [1] SIDD (Abdelhamed et al.), [3] GoPro (Nah et al.), [7] MPRNet (Zamir et al.).
SWEEP_SETS = {"Derain": ("7", "derain"), "SIDD": ("1", "denoise"), "GoPro": ("3", "deblur")}
# The branch each sweep is run with: Table 1 "only using the spatial filter-branch" (text of
# section 2); Table 2 the energy-based attention branch (section 3; inferred, see the README).
VARIANTS = {"table1": "sf_only", "table2": "ea_only"}
T_RUNS = "3"  # "we test the model three times for each value of t, and select the mean"

# Tables 3-5: printed method names -> backbone ids (DRCNet's row is ours; the rest reference rows).
MODELS = {
    "PReNet": "prenet", "MSPFN": "mspfn", "SPAIR": "spair", "HINet": "hinet", "MPRNet": "mprnet",
    "DnCNN": "dncnn", "CBDNet": "cbdnet", "RIDNet": "ridnet", "AINDNet": "aindnet", "VDN": "vdn",
    "SADNet": "sadnet", "DANet+": "danet_plus", "CycleISP": "cycleisp", "InvDN": "invdn",
    "Nah et al.": "deepdeblur", "DeblurGAN-v2": "deblurgan_v2", "SRN": "srn", "MT-RNN": "mt_rnn",
    "DMPHN": "dmphn", "MIMO-UNet": "mimo_unet", "DRCNet(Ours)": "drcnet",
}
FLOPS_CAPTIONS = {  # table -> (caption as extracted, task)
    "table3": ("Table 3. Comparison of the Flops(G) on the derain test.", "derain"),
    "table4": ("Table 4. Comparison of the Flops(G) on the SIDD [1] dataset.", "denoise"),
    "table5": ("Table 5. Comparison of the Flops(G) on the GoPro [3]test.", "deblur"),
}
INPUT_HW = "256x256"  # "Flops are obtained on a single NVIDIA V100 GPU with 256 x 256 image."


def _seed_lines() -> list[str]:
    return seed_lines(DRCNET_TITLE)


def _block(lines: list[str], caption: str) -> list[list[str]]:
    return table_block(lines, caption)


def _csv_rows(table: str) -> list[dict[str, str]]:
    return csv_rows(DRCNET / f"{table}.csv")


def _check(table: str, seed: list[dict[str, str]]) -> None:
    check_csv(DRCNET / f"{table}.csv", COLUMNS[table], seed)


# ---------------------------------------------------------------------------------------------
# Seed parsers: each returns the CSV lines (dicts of strings) the table should hold, in order.


def _parse_sweep(lines: list[str], table: str) -> list[dict]:
    """Tables 1 (t) and 2 (delta): a header line of settings, then one PSNR line per data set. The
    row-group cell "PSNR" (a multi-row cell of the print) survives once, on the middle line: as a
    cell of its own in Table 1 ("PSNR\\tSIDD [1]"), glued to the label in Table 2 ("PSNR SIDD[1]").
    Stored one line per setting and data set (settings in printed order, data sets within)."""
    if table == "table1":
        caption, symbol = "**Table 1.** Comparison of the different parameter values of threshold t", "t"
    else:
        caption, symbol = "**Table 2.** Comparison of the different parameter values of threshold", "\u03b4"
    block = _block(lines, caption)
    assert len(block) == 4, block
    header = [c for c in block[0] if c.strip()]
    assert header[0] == symbol, header
    settings = header[1:]
    if table == "table1":
        assert all(re.fullmatch(r"0\.\d\d", s) for s in settings), settings
    else:
        # printed as LaTeX powers of ten: "$10^{-1}$" -> "1e-1"
        parsed = [re.fullmatch(r"\$10\^\{-(\d)\}\$", s) for s in settings]
        assert all(parsed), settings
        settings = [f"1e-{m.group(1)}" for m in parsed]
    psnr_label = 0
    values: dict[str, list[str]] = {}
    for cells in block[1:]:
        cells = list(cells)
        if cells[0] == "":
            cells = cells[1:]
        if cells[0] == "PSNR":
            cells, psnr_label = cells[1:], psnr_label + 1
        elif cells[0].startswith("PSNR "):
            cells, psnr_label = [cells[0].removeprefix("PSNR "), *cells[1:]], psnr_label + 1
        m = re.fullmatch(r"(\w+) ?\[(\d+)\]", cells[0])
        assert m and m.group(1) in SWEEP_SETS and SWEEP_SETS[m.group(1)][0] == m.group(2), cells
        assert len(cells[1:]) == len(settings), cells
        assert all(re.fullmatch(r"\d\d\.\d\d", v) for v in cells[1:]), cells
        values[m.group(1)] = cells[1:]
    assert psnr_label == 1 and list(values) == list(SWEEP_SETS)
    column = "t" if table == "table1" else "delta"
    out = []
    for k, setting in enumerate(settings):
        for test_set, (_, task) in SWEEP_SETS.items():
            row = {"scale": "1", "backbone": "drcnet", "variant": VARIANTS[table], column: setting,
                   "task": task, "test_set": test_set, "psnr": values[test_set][k]}
            if table == "table1":
                row["n_runs"] = T_RUNS
            row["reference_only"] = "false"
            out.append(row)
    return out


def _parse_flops(lines: list[str], table: str) -> list[dict]:
    """Tables 3-5: a "Methods" line of names and a "FLOPs (G)" line of values; "-" is stored empty."""
    caption, task = FLOPS_CAPTIONS[table]
    block = _block(lines, caption)
    assert len(block) == 2 and block[0][0] == "Methods" and block[1][0] == "FLOPs (G)", block
    out = []
    for name, value in zip(block[0][1:], block[1][1:], strict=True):
        assert value == "-" or re.fullmatch(r"\d+(\.\d+)?", value), (name, value)
        backbone = MODELS[name]
        out.append({"task": task, "backbone": backbone, "printed_name": name, "input_hw": INPUT_HW,
                    "flops_g": "" if value == "-" else value,
                    "reference_only": "false" if backbone == "drcnet" else "true"})
    assert out[-1]["backbone"] == "drcnet"
    return out


def _parse(table: str) -> list[dict]:
    lines = _seed_lines()
    return _parse_sweep(lines, table) if table in VARIANTS else _parse_flops(lines, table)


# ---------------------------------------------------------------------------------------------
# Every CSV cell against the seed.


@pytest.mark.parametrize("table", TABLES)
def test_csv_matches_seed_text(table: str) -> None:
    _check(table, _parse(table))


def test_row_counts() -> None:
    assert {t: len(_csv_rows(t)) for t in TABLES} == {
        "table1": 10 * 3, "table2": 7 * 3, "table3": 6, "table4": 11, "table5": 9}


# ---------------------------------------------------------------------------------------------
# Loading and reference rows.


def test_every_table_loads_and_has_its_columns() -> None:
    keys = [f"drcnet/{t}" for t in TABLES]
    assert sorted(k for k in paper_table_keys() if k.startswith("drcnet/")) == keys
    for key in keys:
        table = key.split("/")[1]
        df = load_paper_table(key, required_columns=tuple(COLUMNS[table]))
        assert list(df.columns) == COLUMNS[table]
        assert pd.api.types.is_bool_dtype(df["reference_only"]), key
        if table in VARIANTS:
            assert not df["psnr"].isna().any() and not reference_only(df).any()
            assert not df.duplicated([c for c in COLUMNS[table] if c not in ("psnr", "n_runs")]).any()
        else:
            assert not df.duplicated(["backbone"]).any()
            # Only Table 3's SPAIR prints "-".
            empty = set(df.loc[df["flops_g"].isna(), "backbone"])
            assert empty == ({"spair"} if table == "table3" else set()), key
            assert (reference_only(df) == (df["backbone"] != "drcnet")).all(), key


# ---------------------------------------------------------------------------------------------
# The README's claims about the numbers and the text.


def _sweep(table: str, column: str) -> pd.DataFrame:
    """setting x test set -> PSNR (Decimal), as printed."""
    rows = _csv_rows(table)
    df = pd.DataFrame(rows)
    df["psnr"] = df["psnr"].map(Decimal)
    return df.pivot(index=column, columns="test_set", values="psnr").reindex(
        list(dict.fromkeys(r[column] for r in rows)))


def test_sweep_settings_and_best_values() -> None:
    """t from 0.50 to 0.95 in steps of 0.05, best 0.75 on all three sets; delta 1e-1 .. 1e-7, best
    1e-6 on all three (GoPro: 31.71 at 1e-6, 31.69 at 1e-4 and 1e-5)."""
    t = _sweep("table1", "t")
    assert [Decimal(v) for v in t.index] == [Decimal("0.50") + Decimal("0.05") * k for k in range(10)]
    assert {s: t[s].idxmax() for s in SWEEP_SETS} == dict.fromkeys(SWEEP_SETS, "0.75")
    assert all((t[s] < t.loc["0.75", s]).sum() == 9 for s in SWEEP_SETS)  # strict maxima
    d = _sweep("table2", "delta")
    assert list(d.index) == [f"1e-{k}" for k in range(1, 8)]
    assert {s: d[s].idxmax() for s in SWEEP_SETS} == dict.fromkeys(SWEEP_SETS, "1e-6")
    assert all((d[s] < d.loc["1e-6", s]).sum() == 6 for s in SWEEP_SETS)
    assert d.loc["1e-4", "GoPro"] == d.loc["1e-5", "GoPro"] == Decimal("31.69")
    # The defaults of cir.models.drcnet are these best values (the public code: 0.8 and 1e-4).
    from cir.models.drcnet import DRCNET_DEFAULTS

    assert DRCNET_DEFAULTS["t"] == 0.75 and DRCNET_DEFAULTS["delta"] == 1e-6


def test_sweep_oddities() -> None:
    t = _sweep("table1", "t")
    d = _sweep("table2", "delta")
    # Tables 1 and 2 disagree on the same sets: the best Derain 27.39 vs 25.59, GoPro 30.21 vs 31.71.
    assert (t.loc["0.75", "Derain"], d.loc["1e-6", "Derain"]) == (Decimal("27.39"), Decimal("25.59"))
    assert (t.loc["0.75", "GoPro"], d.loc["1e-6", "GoPro"]) == (Decimal("30.21"), Decimal("31.71"))
    assert (t.loc["0.75", "SIDD"], d.loc["1e-6", "SIDD"]) == (Decimal("37.76"), Decimal("37.12"))
    # Table 1 GoPro: +3.07 dB from t = 0.50 to 0.55, -2.02 dB from 0.80 to 0.85 and -1.05 dB from
    # 0.90 to 0.95; every other step of every row is at most 0.62 dB (SIDD, 0.85 -> 0.90).
    steps = t.diff().iloc[1:]
    jumps = {("0.55", "GoPro"): "3.07", ("0.85", "GoPro"): "-2.02", ("0.95", "GoPro"): "-1.05"}
    assert {k: steps.loc[k] for k in jumps} == {k: Decimal(v) for k, v in jumps.items()}
    others = steps.stack().drop(list(jumps)).abs()
    assert others.max() == Decimal("0.62") == -steps.loc["0.90", "SIDD"]
    # Table 1 SIDD prints the same 36.92 at both ends of the sweep.
    assert t.loc["0.50", "SIDD"] == t.loc["0.95", "SIDD"] == Decimal("36.92")
    # Every "Derain" PSNR of both tables is below the lowest per-set deraining PSNR that DCKD's Table 4
    # prints for MPRNet ([7], whose benchmark "Derain [7]" cites): 30.27 on Test100.
    mpr = load_paper_table("dckd/table4")
    mpr = mpr[mpr["backbone"] == "mprnet"]
    assert mpr["psnr"].min() == 30.27
    assert max(t["Derain"].max(), d["Derain"].max()) == Decimal("27.39") < Decimal("30.27")
    # Both GoPro maxima are below the published GoPro PSNRs of HINet (32.71) and MIMO-UNet (32.68)
    # that MCIR's Table 4 prints.
    gopro = load_paper_table("mcir/table4").set_index("backbone")["psnr"]
    assert (gopro["hinet"], gopro["mimo_unet"]) == (32.71, 32.68)
    assert max(t["GoPro"].max(), d["GoPro"].max()) == Decimal("31.71") < Decimal("32.68")


def _flops() -> dict[str, dict[str, str]]:
    return {t: {r["backbone"]: r["flops_g"] for r in _csv_rows(t)} for t in ("table3", "table4", "table5")}


def test_flops_tables_against_our_network() -> None:
    """DRCNet prints 124.2 "FLOPs (G)" in all three tables; our network (public configuration) has
    114,416,984,064 MACs at 256x256 and 18,975,798 parameters: 124.2 is 8.6 % above the MACs and
    45.7 % below the FLOPs (2 per MAC, 228.8 G)."""
    from cir.models.drcnet import PUBLIC_MACS_256, PUBLIC_PARAMS, PUBLISHED_GFLOPS

    flops = _flops()
    assert {t: f["drcnet"] for t, f in flops.items()} == dict.fromkeys(flops, "124.2")
    assert Decimal("124.2") == Decimal(str(PUBLISHED_GFLOPS))
    assert PUBLIC_PARAMS == 18_975_798 and PUBLIC_MACS_256 == 114_416_984_064
    gmacs = Decimal(PUBLIC_MACS_256) / Decimal(10**9)
    assert round(gmacs, 1) == Decimal("114.4") and round(2 * gmacs, 1) == Decimal("228.8")
    assert round((Decimal("124.2") / gmacs - 1) * 100, 1) == Decimal("8.6")
    assert round((1 - Decimal("124.2") / (2 * gmacs)) * 100, 1) == Decimal("45.7")


def test_flops_oddities() -> None:
    flops = _flops()
    # HINet: 171 in Table 3 (deraining), 341 in Table 5 (GoPro).
    assert (flops["table3"]["hinet"], flops["table5"]["hinet"]) == ("171", "341")
    # MPRNet differs per task: 545 (deraining), 1176 (SIDD), 760 (GoPro).
    assert [flops[t]["mprnet"] for t in ("table3", "table4", "table5")] == ["545", "1176", "760"]
    # SPAIR prints "-"; DRCNet is below MPRNet (and HINet) in every table.
    assert flops["table3"]["spair"] == ""
    for f in flops.values():
        assert Decimal(f["drcnet"]) < Decimal(f["mprnet"])
    # Lower than DRCNet's 124.2: PReNet; DnCNN, CBDNet, VDN, SADNet, DANet+, InvDN; DeblurGAN-v2.
    below = {t: sorted(b for b, v in f.items() if v and Decimal(v) < Decimal("124.2")) for t, f in flops.items()}
    assert below == {"table3": ["prenet"],
                     "table4": ["cbdnet", "danet_plus", "dncnn", "invdn", "sadnet", "vdn"],
                     "table5": ["deblurgan_v2"]}


def test_text_claims() -> None:
    """The sentences the README cites are in the seed as quoted."""
    text = "\n".join(_seed_lines())
    for phrase in (
        "Section 2, 3, and 4 describe the results under different thresholds t",
        "Section 6 and 7 contain additional visualization results.",
        "#### 5 More visual results of Energy-based attention module",
        "the proposed method only using the spatial filter-branch achieves the best results when "
        "threshold t equals to 0.75",
        "A range of t varies from 0.5 to 0.95 with an interval of 0.05",
        "we test the model three times for each value of t, and select the mean as the result",
        "the training progress takes less than 400,000 epochs",
        "the energy-based attention branch achieves the best results when  $\\delta$  equals to  $10^{-6}$",
        "The value of  $\\delta$  varies from  $10^{-1} \\sim 10^{-7}$",
        "parameter values of threshold  $\\delta$  in three main restoration dataset",
        "the coefficient hyper-parameter  $\\delta$",
        "Flops are obtained on a single NVIDIA V100 GPU with  $256 \\times 256$  image.",
        "Zamir, S.W., Arora, A., Khan, S., Hayat, M., Khan, F.S., Yang, M.H., Shao, L.: Multi-stage "
        "progressive image restoration.",
    ):
        assert phrase in text, phrase
    # [7] is the 7th entry of the reference list (several entries lost their number in the extraction).
    lines = _seed_lines()
    refs = [ln for ln in lines[lines.index("### References"):] if ln.startswith("- ")]
    assert len(refs) == 10 and refs[6].startswith("- Zamir") and refs[0].startswith("- 1. Abdelhamed")
    assert refs[2].startswith("- Nah") and refs[6 - 1].startswith("- Yang")


def test_readme_names_every_table_and_the_flags() -> None:
    readme = (DRCNET / "README.md").read_text(encoding="utf-8")
    for table in TABLES:
        assert f"`{table}.csv`" in readme, table
    for phrase in ("0.8", "1e-4", "18,975,798", "114.4", "124.2", "228.8", "8.6 %", "45.7 %", "sf_only",
                   "ea_only", "171", "341", "not public", "n_runs", "400,000"):
        assert phrase in readme, phrase
