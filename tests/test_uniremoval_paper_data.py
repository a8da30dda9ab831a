"""Uni-Removal's printed tables (cir/paper/uniremoval/*.csv) match the paper text they were copied from.

The seed text (``shared/seeds/003_*.txt``) keeps the five tables in three shapes: Tables I and III
as tab-separated blocks **below** a caption (Table I's block under the TABLE II caption, Table I's
own caption standing alone), Table II flattened to one line without tabs just above the TABLE III
caption, Tables IV and V as blocks with two header lines below their caption paragraphs. Every CSV
cell is re-derived here from those lines and compared as a string. The one broken token (MAWR's
``54 721`` in Table II) is read as ``54.721``, as the README says. The README's arithmetic, its text
claims and its cross-table comparisons are checked at the end.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from _paper_seed import check_csv, csv_rows, seed_lines, table_block

from cir.paper import PAPER_DIR, load_paper_table, paper_table_keys, reference_only

UNIREMOVAL_TITLE = ("Uni-Removal: A Semi-Supervised Framework for Simultaneously Addressing Multiple "
                    "Degradations in Real-World Images")
UNIREMOVAL = PAPER_DIR / "uniremoval"
TABLES = [f"table{i}" for i in range(1, 6)]

IQA = ["scale", "backbone", "method", "test_set", "brisque", "piqe", "reference_only"]
COLUMNS = {
    "table1": IQA,
    "table2": IQA,
    "table3": IQA,
    "table4": ["scale", "backbone", "method", "printed_name", "test_set", "psnr", "ssim", "reference_only"],
    "table5": ["scale", "backbone", "method", "printed_name", "test_set", "brisque", "piqe",
               "reference_only"],
}

UP, DOWN = "\u2191", "\u2193"
# Lines that start the captions (1-based line numbers in the README).
CAPTIONS = {
    "table1": " TABLE I",
    "table2": "TABLE II QUANTITATIVE RESULTS USING NR-IQA METRICS ON SPA [28]. THE BEST RESULTS ARE IN BOLD.",
    "table3": ("TABLE III QUANTITATIVE RESULTS USING NR-IQA METRICS ON REALBLUR-J [64]. THE BEST RESULTS "
               "ARE IN BOLD."),
    "table4": "TABLE IV",
    "table5": "TABLE VAblation study of the domain adaptation stage and the EX-MGCL loss on three real-world",
}
TABLE1_TITLE = [" QUANTITATIVE RESULTS USING NR-IQA METRICS ON RTTS [61]. THE", " BEST RESULTS ARE IN BOLD."]
# The lines right above the blocks of Tables IV and V (the last line of their captions).
TABLE4_ANCHOR = "Ablation study of the MGCL loss in the knowledge transfer stage on three synthetic datasets."
TABLE5_ANCHOR = "denotes training with the extended feature-grained contrastive learning loss."
IQA_HEADER = ["Method", f"BRISQUE [29]{DOWN}", f"PIQE [30]{DOWN}"]
FLAT_HEADER = f"BRISOUE [29] Method PIQE [30]{DOWN} "

# Printed method name -> (citation number, backbone, method). `mprnet` for MPR-Net and for
# Uni-Removal (MPR-Net is its backbone); `input` for the degraded input; otherwise the method id.
MODELS = {
    "Hazy": ("", "input", "input"),
    "Rainy": ("", "input", "input"),
    "Blurry": ("", "input", "input"),
    "DA-Net": ("39", "da_net", "da_net"),
    "MAWR": ("1", "mawr", "mawr"),
    "MPR-Net": ("23", "mprnet", "mprnet"),
    "DehazeFlow": ("18", "dehazeflow", "dehazeflow"),
    "NLCL": ("55", "nlcl", "nlcl"),
    "DerainCycleGan": ("40", "deraincyclegan", "deraincyclegan"),
    "XYDeblur": ("65", "xydeblur", "xydeblur"),
    "DeblurGan-v2": ("38", "deblurgan_v2", "deblurgan_v2"),
    "Uni-Removal(ours)": ("", "mprnet", "uniremoval"),
}
OURS = {"input", "uniremoval"}   # the lines with reference_only false in Tables I-III
# Words of each cited reference-list entry (methods, data sets, metrics).
REFERENCES = {
    "39": "Domain adaptation for image dehazing",
    "1": "Learning multiple adverse weather removal via two-stage knowledge learning",
    "23": "Multi-stage progressive image restoration",
    "18": "DehazeFlow: Multi-scale conditional flow network",
    "55": "Unsupervised deraining: Where contrastive learning meets self-similarity",
    "40": "Deraincyclegan: Rain attentive cyclegan",
    "65": "Xydeblur: divide and conquer",
    "38": "Deblurgan-v2",
    "61": "Benchmarking single-image dehazing and beyond",
    "28": "Spatial attentive single-image deraining with a high quality real rain dataset",
    "62": "Removing rain from single images via a deep detail network",
    "63": "Deep multi-scale convolutional neural network for dynamic scene deblurring",
    "64": "Real-world blur dataset",
    "29": "No-reference image quality assessment in the spatial domain",
    "30": "perception based features",
}
# Ablation labels -> method ids, in printed order.
TABLE4_ROWS = {"Teacher": "teacher", "BKT": "bkt", "+ ICL": "bkt_icl", "+ ICL + FCL": "bkt_icl_fcl"}
TABLE5_ROWS = {"Original degraded": "input", "KT": "kt", "+ BDA": "kt_bda", "+ BDA + EICL": "kt_bda_eicl",
               "+ BDA + EICL + EFCL": "kt_bda_eicl_efcl"}
# Printed data-set header cell -> (citation, test_set).
SETS = {"SOTS": ("61", "SOTS"), "Rain1400": ("62", "Rain1400"), "GoPro": ("63", "GoPro"),
        "RTTS": ("61", "RTTS"), "SPA": ("28", "SPA"), "BLUR-J": ("64", "RealBlur-J")}
NUMBER = re.compile(r"\d+\.\d{3}")


def _seed_lines() -> list[str]:
    return seed_lines(UNIREMOVAL_TITLE)


def _csv_rows(table: str) -> list[dict[str, str]]:
    return csv_rows(UNIREMOVAL / f"{table}.csv")


def _check(table: str, seed: list[dict[str, str]]) -> None:
    check_csv(UNIREMOVAL / f"{table}.csv", COLUMNS[table], seed)


def _line(lines: list[str], start: str) -> int:
    """The index of the one line starting with ``start``."""
    hits = [i for i, ln in enumerate(lines) if ln.startswith(start)]
    assert len(hits) == 1, f"{start!r} starts lines {hits} of the seed"
    return hits[0]


def _next_text(lines: list[str], i: int, step: int) -> int:
    """The index of the next non-empty line from ``i`` in direction ``step``."""
    i += step
    while not lines[i].strip():
        i += step
    return i


def _name(cell: str) -> tuple[str, str, str]:
    """A printed method cell "MPR-Net [23]" -> (backbone, method, printed name); the citation is checked."""
    m = re.fullmatch(r"(\S+)(?: \[(\d+)\])?", cell)
    assert m and m.group(1) in MODELS, cell
    assert (m.group(2) or "") == MODELS[m.group(1)][0], cell
    _, backbone, method = MODELS[m.group(1)]
    return backbone, method, m.group(1)


def _iqa_line(name: str, test_set: str, brisque: str, piqe: str) -> dict[str, str]:
    backbone, method, _ = _name(name)
    assert NUMBER.fullmatch(brisque) and NUMBER.fullmatch(piqe), (name, brisque, piqe)
    return {"scale": "1", "backbone": backbone, "method": method, "test_set": test_set,
            "brisque": brisque, "piqe": piqe, "reference_only": "false" if method in OURS else "true"}


# ---------------------------------------------------------------------------------------------
# Seed parsers: each returns the CSV lines (dicts of strings) the table should hold, in order.


def _parse_rows(block: list[list[str]], test_set: str) -> list[dict]:
    """Tables I and III: header, then one line per method: name, BRISQUE, PIQE."""
    assert block[0] == IQA_HEADER, block[0]
    assert all(len(cells) == 3 for cells in block), block
    return [_iqa_line(name, test_set, b, p) for name, b, p in block[1:]]


def _parse_table1(lines: list[str]) -> list[dict]:
    """Table I's caption stands alone (its title on the next two text lines, then the TABLE II
    caption); its body is the block below the TABLE II caption."""
    i = _line(lines, CAPTIONS["table1"])
    assert lines[i] == CAPTIONS["table1"]
    j = _next_text(lines, i, 1)
    k = _next_text(lines, j, 1)
    assert [lines[j], lines[k]] == TABLE1_TITLE
    assert _next_text(lines, k, 1) == _line(lines, CAPTIONS["table2"])  # nothing in between
    block = table_block(lines, CAPTIONS["table2"])
    assert [r[0] for r in block[1:]] == ["Hazy", "DA-Net [39]", "MAWR [1]", "MPR-Net [23]", "DehazeFlow [18]",
                                         "Uni-Removal(ours)"]
    return _parse_rows(block, "RTTS")


FLAT_ROW = re.compile(r"(\S+(?: \[\d+\])?) (\d+\.\d{3}) (\d+\.\d{3}|\d+ \d{3})")


def _table2_cells(lines: list[str]) -> list[tuple[str, str, str]]:
    """Table II's flattened line (just above the TABLE III caption) -> (name, BRISQUE, PIQE) as
    printed, the broken token "54 721" included."""
    line = lines[_next_text(lines, _line(lines, CAPTIONS["table3"]), -1)]
    assert "\t" not in line and line.startswith(FLAT_HEADER), line
    first = re.fullmatch(r"(\d+\.\d{3}) (\d+\.\d{3}) Rainy (.+)", line[len(FLAT_HEADER):])
    assert first, line
    rest = list(FLAT_ROW.finditer(first.group(3)))
    assert " ".join(m.group(0) for m in rest) == first.group(3), line
    return [("Rainy", first.group(1), first.group(2)), *(m.groups() for m in rest)]


def _parse_table2(lines: list[str]) -> list[dict]:
    """The flattened line; the only token without its decimal point is MAWR's PIQE "54 721",
    read as 54.721 (stored in the extracted order)."""
    cells = _table2_cells(lines)
    broken = [(n, v) for n, b, p in cells for v in (b, p) if not NUMBER.fullmatch(v)]
    assert broken == [("MAWR [1]", "54 721")], broken
    return [_iqa_line(n, "SPA", b, p.replace(" ", ".")) for n, b, p in cells]


def _parse_table3(lines: list[str]) -> list[dict]:
    return _parse_rows(table_block(lines, CAPTIONS["table3"]), "RealBlur-J")


def _ablation_block(lines: list[str], anchor: str, metrics: list[str]) -> tuple[list[str], list[list[str]]]:
    """Tables IV-V: the block below ``anchor``; first header line: "Dataset" and each set spanning
    two columns (an empty cell after it, a trailing tab); second: "Method" and the two metrics
    three times. Returns the test_set ids and the value lines."""
    block = table_block(lines, anchor)
    head, sub, rows = block[0], block[1], block[2:]
    assert head[0] == "Dataset" and len(head) == 7 and head[2::2] == ["", "", ""], head
    sets = []
    for cell in head[1::2]:
        m = re.fullmatch(r"(\S+)\[(\d+)\]", cell)
        assert m and SETS[m.group(1)][0] == m.group(2), cell
        sets.append(SETS[m.group(1)][1])
    assert sub == ["Method", *metrics * 3], sub
    assert all(len(r) == 7 and all(NUMBER.fullmatch(v) for v in r[1:]) for r in rows), rows
    return sets, rows


def _parse_ablation(rows: list[list[str]], sets: list[str], ids: dict[str, str],
                    metrics: tuple[str, str]) -> list[dict]:
    assert [r[0] for r in rows] == list(ids), [r[0] for r in rows]
    out = []
    for label, *values in rows:
        method = ids[label]
        for k, test_set in enumerate(sets):
            out.append({"scale": "1", "backbone": "input" if method == "input" else "mprnet",
                        "method": method, "printed_name": label, "test_set": test_set,
                        metrics[0]: values[2 * k], metrics[1]: values[2 * k + 1], "reference_only": "false"})
    return out


def _parse_table4(lines: list[str]) -> list[dict]:
    """"TABLE IV" on its own line, the caption paragraph, then the block."""
    anchor = _line(lines, TABLE4_ANCHOR)
    assert lines[_next_text(lines, anchor, -1)] == CAPTIONS["table4"]
    sets, rows = _ablation_block(lines, TABLE4_ANCHOR, [f"PSNR {UP}", f"SSIM{UP}"])
    assert sets == ["SOTS", "Rain1400", "GoPro"]
    return _parse_ablation(rows, sets, TABLE4_ROWS, ("psnr", "ssim"))


def _parse_table5(lines: list[str]) -> list[dict]:
    """The caption "TABLE VAblation ..." wraps over four lines; the block is below the last."""
    anchor = _line(lines, TABLE5_ANCHOR)
    assert _line(lines, CAPTIONS["table5"]) == anchor - 3
    assert all(lines[i].strip() for i in range(anchor - 3, anchor + 1))
    sets, rows = _ablation_block(lines, TABLE5_ANCHOR, IQA_HEADER[1:])
    assert sets == ["RTTS", "SPA", "RealBlur-J"]
    return _parse_ablation(rows, sets, TABLE5_ROWS, ("brisque", "piqe"))


def _parse(table: str) -> list[dict]:
    return {"table1": _parse_table1, "table2": _parse_table2, "table3": _parse_table3,
            "table4": _parse_table4, "table5": _parse_table5}[table](_seed_lines())


# ---------------------------------------------------------------------------------------------
# Every CSV cell against the seed.


@pytest.mark.parametrize("table", TABLES)
def test_csv_matches_seed_text(table: str) -> None:
    _check(table, _parse(table))


def test_row_counts() -> None:
    assert {t: len(_csv_rows(t)) for t in TABLES} == {
        "table1": 6, "table2": 6, "table3": 6, "table4": 12, "table5": 15}


def test_citations_name_the_cited_papers() -> None:
    """Each citation is the reference-list entry of that method's (data set's, metric's) paper."""
    lines = _seed_lines()
    refs = {m.group(1): ln for ln in lines if (m := re.match(r"- \[(\d+)\] ", ln))}
    assert set(refs) == {str(n) for n in range(1, 66)}
    for number, words in REFERENCES.items():
        assert words.lower() in refs[number].lower(), (number, refs[number])
    cited = {c for c, _, _ in MODELS.values() if c}
    assert cited <= set(REFERENCES)


# ---------------------------------------------------------------------------------------------
# Loading and reference rows.


def test_every_table_loads_and_has_its_columns() -> None:
    keys = [f"uniremoval/{t}" for t in TABLES]
    assert sorted(k for k in paper_table_keys() if k.startswith("uniremoval/")) == keys
    for key in keys:
        table = key.split("/")[1]
        df = load_paper_table(key, required_columns=tuple(COLUMNS[table]))
        assert list(df.columns) == COLUMNS[table]
        assert pd.api.types.is_bool_dtype(df["reference_only"]), key
        assert set(df["scale"]) == {1}, key
        assert not df.isna().any().any(), key
        assert not df.duplicated(["method", "test_set"]).any(), key
        if table in ("table4", "table5"):
            assert not reference_only(df).any(), key
        else:
            assert (reference_only(df) == ~df["method"].isin(OURS)).all(), key
            methods = df["method"].tolist()
            assert (methods[0], methods[-1]) == ("input", "uniremoval"), key
    assert [set(load_paper_table(f"uniremoval/{t}")["test_set"]) for t in TABLES] == [
        {"RTTS"}, {"SPA"}, {"RealBlur-J"}, {"SOTS", "Rain1400", "GoPro"}, {"RTTS", "SPA", "RealBlur-J"}]
    assert list(dict.fromkeys(load_paper_table("uniremoval/table4")["method"])) == list(TABLE4_ROWS.values())
    assert list(dict.fromkeys(load_paper_table("uniremoval/table5")["method"])) == list(TABLE5_ROWS.values())
    t2 = load_paper_table("uniremoval/table2").set_index("method")
    assert t2.loc["mawr", ["brisque", "piqe"]].tolist() == [44.652, 54.721]  # as extracted, not swapped


def test_backbones_follow_the_seed() -> None:
    """mprnet for MPR-Net and every Uni-Removal network; input for the degraded input."""
    text = "\n".join(_seed_lines())
    for phrase in ("we utilize the MPR-Net [23] as our backbone", "MPR-Net [23] (the backbone)",
                   "The student network shares the same structure as each teacher network.",
                   "The structure of each teacher network remains the same"):
        assert phrase in text, phrase
    backbone = {}
    for table in TABLES:
        for r in _csv_rows(table):
            assert backbone.setdefault(r["method"], r["backbone"]) == r["backbone"], (table, r)
    assert {m for m, b in backbone.items() if b == "mprnet"} == {
        "mprnet", "uniremoval", *TABLE4_ROWS.values(), *(set(TABLE5_ROWS.values()) - {"input"})}
    assert {m for m, b in backbone.items() if b != "mprnet"} == {m for m, b in backbone.items() if b == m} - {"mprnet"}


# ---------------------------------------------------------------------------------------------
# The README's claims about the numbers and the text.


def _values(table: str, column: str, test_set: str | None = None) -> dict[str, Decimal]:
    return {r["method"]: Decimal(r[column]) for r in _csv_rows(table)
            if test_set is None or r["test_set"] == test_set}


def _rounds_to(value: Decimal, printed: str) -> bool:
    """``value`` rounded half up to the decimals of ``printed`` is ``printed``."""
    return value.quantize(Decimal(printed), rounding=ROUND_HALF_UP) == Decimal(printed)


def _best_other(values: dict[str, Decimal]) -> tuple[str, Decimal]:
    """The lowest value (BRISQUE/PIQE) of a method other than the input and Uni-Removal."""
    others = {m: v for m, v in values.items() if m not in OURS}
    best = min(others, key=others.get)
    return best, others[best]


def test_table1_caption_and_body() -> None:
    """The block under the TABLE II caption is Table I: Hazy input, dehazing methods, and the text's
    Table I gains; the SPA rows are on the flattened line."""
    lines = _seed_lines()
    assert [c[0] for c in _table2_cells(lines)] == ["Rainy", "MPR-Net [23]", "MAWR [1]", "NLCL [55]",
                                                   "DerainCycleGan [40]", "Uni-Removal(ours)"]
    assert "RTTS" in TABLE1_TITLE[0] and "SPA" in CAPTIONS["table2"] and "REALBLUR-J" in CAPTIONS["table3"]


def test_table2_mawr_reading() -> None:
    """Only MAWR's pair swapped (BRISQUE 54.721) gives the text's "14.2"; "5.8" holds either way."""
    text = "\n".join(_seed_lines())
    assert "The substantial improvements of 14.2 on BRISQUE [29] and 5.8 on PIQE [30]" in text
    assert "Uni-Removal shows significant improvements of 14.2 and 5.8 on BRISQUE [29] and PIQE [30]" in text
    b, p = _values("table2", "brisque"), _values("table2", "piqe")
    ours_b, ours_p = b["uniremoval"], p["uniremoval"]
    assert (b["mawr"], p["mawr"]) == (Decimal("44.652"), Decimal("54.721"))
    swapped_b, swapped_p = {**b, "mawr": p["mawr"]}, {**p, "mawr": b["mawr"]}
    # As extracted: 44.652 - 40.489 = 4.163.
    assert _best_other(b) == ("mawr", Decimal("44.652")) and b["mawr"] - ours_b == Decimal("4.163")
    # Swapped: 54.721 - 40.489 = 14.232, i.e. 14.2.
    assert _best_other(swapped_b) == ("mawr", Decimal("54.721"))
    assert swapped_b["mawr"] - ours_b == Decimal("14.232") and _rounds_to(Decimal("14.232"), "14.2")
    # Without MAWR: NLCL, 56.952 - 40.489 = 16.463.
    assert b["nlcl"] - ours_b == Decimal("16.463")
    # PIQE: DerainCycleGan is the best other under both readings, 41.581 - 35.786 = 5.795.
    for piqe in (p, swapped_p):
        assert _best_other(piqe) == ("deraincyclegan", Decimal("41.581"))
    assert p["deraincyclegan"] - ours_p == Decimal("5.795") and _rounds_to(Decimal("5.795"), "5.8")
    assert "the resulting images are generally too dark" in text


def test_text_claims_that_hold() -> None:
    text = "\n".join(_seed_lines())
    b1, p1 = _values("table1", "brisque"), _values("table1", "piqe")
    b2, p2 = _values("table2", "brisque"), _values("table2", "piqe")
    b3, p3 = _values("table3", "brisque"), _values("table3", "piqe")
    # Table I: DehazeFlow is the best other in both; 1.030 and 8.005 (8.01 half up, 8.00 half even).
    assert "surpassing other state-of-the-art methods by 1.03 and 8.01 on BRISQUE [29] and PIQE [30]" in text
    assert _best_other(b1)[0] == _best_other(p1)[0] == "dehazeflow"
    assert b1["dehazeflow"] - b1["uniremoval"] == Decimal("1.030") and _rounds_to(Decimal("1.030"), "1.03")
    gap = p1["dehazeflow"] - p1["uniremoval"]
    assert gap == Decimal("8.005") and _rounds_to(gap, "8.01") and round(gap, 2) == Decimal("8.00")
    # Table II: NLCL and DerainCycleGan better than MPR-Net in both metrics.
    assert "NLCL [55] and DerainCycleGan [40] demonstrate better performance" in text
    assert all(v[m] < v["mprnet"] for v in (b2, p2) for m in ("nlcl", "deraincyclegan"))
    # Table III: 9.8 against DeblurGan-v2 (49.761 - 39.966 = 9.795), not the best other (MAWR).
    assert "The substantial improvement of 9.8 on BRISQUE [29]" in text
    assert b3["deblurgan_v2"] - b3["uniremoval"] == Decimal("9.795") and _rounds_to(Decimal("9.795"), "9.8")
    assert _best_other(b3) == ("mawr", Decimal("44.919")) and b3["mawr"] - b3["uniremoval"] == Decimal("4.953")
    # Table III: better than all supervised methods in both metrics.
    assert "Uni-Removal outperforms all the supervised blur removal methods" in text
    assert all(v["uniremoval"] < v[m] for v in (b3, p3) for m in ("mawr", "xydeblur", "mprnet"))
    # Table IV: full - BKT.
    assert ("outperforms the base knowledge transfer model by 0.291, 0.210, 1.499, and 0.007, 0.004, 0.041"
            in text)
    gains = [_values("table4", c, s)["bkt_icl_fcl"] - _values("table4", c, s)["bkt"]
             for c in ("psnr", "ssim") for s in ("SOTS", "Rain1400", "GoPro")]
    assert gains == [Decimal(v) for v in ("0.291", "0.210", "1.499", "0.007", "0.004", "0.041")]
    # Table V, KT -> + BDA: five of the six printed deltas.
    assert "with enhancements of 5.94, 4.95, 2.56 and 14.73, 8.69, 10.92 in terms of BRISQUE and PIQE" in text
    kt_bda = _table5_steps("kt", "kt_bda")
    assert kt_bda == [Decimal(v) for v in ("5.938", "4.946", "2.562", "14.730", "8.684", "10.920")]
    printed = ["5.94", "4.95", "2.56", "14.73", "8.69", "10.92"]
    assert [_rounds_to(g, t) for g, t in zip(kt_bda, printed, strict=True)] == [True] * 4 + [False, True]
    # Table V: every column falls at + EICL and at + EFCL.
    assert _table5_steps("kt_bda", "kt_bda_eicl") == [
        Decimal(v) for v in ("2.372", "1.388", "1.022", "5.073", "1.702", "2.455")]
    assert _table5_steps("kt_bda_eicl", "kt_bda_eicl_efcl") == [
        Decimal(v) for v in ("1.932", "1.368", "0.512", "2.278", "3.088", "1.679")]


def _table5_steps(before: str, after: str) -> list[Decimal]:
    """Table V gains before - after: BRISQUE on RTTS, SPA, RealBlur-J, then PIQE on the three."""
    return [_values("table5", c, s)[before] - _values("table5", c, s)[after]
            for c in ("brisque", "piqe") for s in ("RTTS", "SPA", "RealBlur-J")]


def test_text_claims_that_do_not_match() -> None:
    text = "\n".join(_seed_lines())
    # Table V: the BDA -> full sentence repeats the KT -> BDA deltas.
    assert ("Compared to the base domain adaptation model, the full Uni-Removal (KT+BDA+EICL+EFCL) "
            "demonstrates further significant improvements of 5.94, 4.95, 2.56 and 14.73, 8.69, 10.92") in text
    assert _table5_steps("kt_bda", "kt_bda_eicl_efcl") == [
        Decimal(v) for v in ("4.304", "2.756", "1.534", "7.351", "4.790", "4.134")]
    # Table IV: + ICL lowers SOTS PSNR (its SSIM rises); every other step rises.
    assert ("both the image-grained contrastive learning loss and the feature-grained contrastive learning "
            "loss improve the effectiveness of the knowledge transfer stage across all three datasets") in text
    steps = {}
    for a, b in (("bkt", "bkt_icl"), ("bkt_icl", "bkt_icl_fcl")):
        for s in ("SOTS", "Rain1400", "GoPro"):
            for c in ("psnr", "ssim"):
                v = _values("table4", c, s)
                steps[(b, s, c)] = v[b] - v[a]
    assert {k: v for k, v in steps.items() if v <= 0} == {("bkt_icl", "SOTS", "psnr"): Decimal("-0.397")}
    assert [steps[("bkt_icl", s, c)] for s in ("SOTS", "Rain1400", "GoPro") for c in ("psnr", "ssim")] == [
        Decimal(v) for v in ("-0.397", "0.004", "0.089", "0.002", "1.345", "0.037")]
    assert [steps[("bkt_icl_fcl", s, c)] for s in ("SOTS", "Rain1400", "GoPro") for c in ("psnr", "ssim")] == [
        Decimal(v) for v in ("0.688", "0.003", "0.121", "0.002", "0.154", "0.004")]
    # Table III: Uni-Removal's PIQE is not the best; DeblurGan-v2 beats MAWR on PIQE, not on BRISQUE.
    b3, p3 = _values("table3", "brisque"), _values("table3", "piqe")
    assert min(p3, key=p3.get) == "deblurgan_v2" and p3["uniremoval"] - p3["deblurgan_v2"] == Decimal("1.926")
    assert ("the unsupervised deblurring method DeblurGan-v2 [38] surpasses the supervised methods MAWR [1], "
            "XYDeblur [65], and MPR-Net [23]") in text
    assert all(p3["deblurgan_v2"] < p3[m] for m in ("mawr", "xydeblur", "mprnet"))
    assert b3["deblurgan_v2"] > b3["mawr"]


def test_statements_the_numbers_qualify() -> None:
    text = "\n".join(_seed_lines())
    assert "shows minimal performance degradation compared to the teacher network" in text
    gaps = [_values("table4", c, s)["teacher"] - _values("table4", c, s)["bkt_icl_fcl"]
            for c in ("psnr", "ssim") for s in ("SOTS", "Rain1400", "GoPro")]
    assert gaps == [Decimal(v) for v in ("2.695", "0.360", "2.460", "0.009", "0.011", "0.014")]
    assert "the knowledge transfer model without domain adaptation exhibits poor performance" in text
    for s in ("RTTS", "SPA", "RealBlur-J"):
        b, p = _values("table5", "brisque", s), _values("table5", "piqe", s)
        assert b["kt"] < b["input"]
        assert (p["kt"] > p["input"]) == (s != "RTTS"), s
    # Table II: MPR-Net's BRISQUE is worse than the rainy input's.
    b2 = _values("table2", "brisque")
    assert b2["mprnet"] - b2["input"] == Decimal("8.609")
    assert ("XYDeblur [65] and DeblurGan-v2 [38] are state-of-the-art supervised and unsupervised "
            "deblurring methods, respectively.") in text


def test_table5_against_tables_1_to_3() -> None:
    """Five of the twelve cells Table V shares with Tables I-III differ; each text follows its own
    table."""
    printed = {}  # (test_set, method, metric) -> (Table V, Tables I-III)
    for table, test_set in (("table1", "RTTS"), ("table2", "SPA"), ("table3", "RealBlur-J")):
        for metric in ("brisque", "piqe"):
            main, abl = _values(table, metric), _values("table5", metric, test_set)
            for m5, m in (("input", "input"), ("kt_bda_eicl_efcl", "uniremoval")):
                printed[(test_set, m, metric)] = (abl[m5], main[m])
    differ = {k: v for k, v in printed.items() if v[0] != v[1]}
    assert differ == {
        ("RTTS", "uniremoval", "brisque"): (Decimal("24.029"), Decimal("25.029")),
        ("RTTS", "uniremoval", "piqe"): (Decimal("28.874"), Decimal("30.874")),
        ("SPA", "uniremoval", "brisque"): (Decimal("30.689"), Decimal("40.489")),
        ("RealBlur-J", "uniremoval", "brisque"): (Decimal("34.966"), Decimal("39.966")),
        ("RealBlur-J", "input", "piqe"): (Decimal("36.864"), Decimal("46.864")),
    }
    assert len(printed) == 12
    assert [b - a for a, b in differ.values()] == [Decimal(v) for v in ("1.000", "2.000", "9.800", "5.000",
                                                                        "10.000")]
    chars = [sum(x != y for x, y in zip(f"{a:06.3f}", f"{b:06.3f}", strict=True)) for a, b in differ.values()]
    assert chars == [1, 2, 2, 1, 1]
    # With Table V's cells the texts of Tables I-III would not hold.
    t1b, t1p = _values("table1", "brisque"), _values("table1", "piqe")
    assert t1b["dehazeflow"] - Decimal("24.029") == Decimal("2.030")
    assert t1p["dehazeflow"] - Decimal("28.874") == Decimal("10.005")
    assert _values("table3", "brisque")["deblurgan_v2"] - Decimal("34.966") == Decimal("14.795")
    assert _values("table2", "piqe")["mawr"] - Decimal("30.689") == Decimal("24.032")
    # With Tables II-III's full model, KT (no DA) has the better BRISQUE on SPA and RealBlur-J.
    for table, test_set in (("table2", "SPA"), ("table3", "RealBlur-J")):
        assert _values("table5", "brisque", test_set)["kt"] < _values(table, "brisque")["uniremoval"]
    # With Table V's RealBlur-J input PIQE (36.864), + BDA (38.651) is worse than its input.
    p5 = _values("table5", "piqe", "RealBlur-J")
    assert p5["kt_bda"] > p5["input"] > p5["kt_bda_eicl"]


def test_readme_names_every_table_and_the_flags() -> None:
    readme = (UNIREMOVAL / "README.md").read_text(encoding="utf-8")
    lines = _seed_lines()
    for table in TABLES:
        assert f"`{table}.csv`" in readme, table
    # The caption line numbers the README gives.
    for start in (*CAPTIONS.values(), TABLE4_ANCHOR, TABLE5_ANCHOR):
        assert f"({_line(lines, start) + 1})" in readme, start
    assert "(284)" in readme and lines[283].startswith(FLAT_HEADER)
    for phrase in ("`54 721`", "`54.721`", "BRISOUE", "BLUR-J", "TABLE VAblation",
                   "26.059 - 25.029 = 1.030", "38.879 - 30.874 = 8.005", "41.581 - 35.786 = 5.795",
                   "54.721 - 40.489 = 14.232", "44.652 - 40.489 = **4.163**", "56.952 - 40.489 =\n  16.463",
                   "49.761 - 39.966 = 9.795", "44.919 - 39.966 = 4.953", "29.075 - 28.784 = 0.291",
                   "32.262 - 32.052 = 0.210", "28.599 - 27.100 = 1.499", "0.872 - 0.831 = 0.041",
                   "34.271 - 28.333 = 5.938", "38.391 - 33.445 = 4.946", "39.062 - 36.500 = 2.562",
                   "50.955 - 36.225 = 14.730", "49.571 - 38.651 = 10.920", "49.260 - 40.576 =\n  **8.684**",
                   "28.333 - 24.029 = **4.304**", "33.445 - 30.689 = **2.756**",
                   "36.500 - 34.966 = **1.534**", "36.225 - 28.874 = **7.351**", "40.576 - 35.786 =\n  **4.790**",
                   "38.651 - 34.517 = **4.134**", "28.387 - 28.784 = **-0.397**",
                   "31.770 - 29.075 = 2.695", "34.517 - 32.591 =\n  1.926",
                   "26.059 - 24.029 = 2.030", "38.879 - 28.874 = 10.005", "49.761 - 34.966 = 14.795",
                   "54.721 - 30.689 = 24.032",
                   "76.634 - 68.025 = 8.609", "`reference_only`", "`uniremoval_real`", "Fig. 8"):
        assert phrase in readme, phrase
    for cell in ("| 24.029 | 25.029 | 1.000 |", "| 28.874 | 30.874 | 2.000 |", "| 30.689 | 40.489 | 9.800 |",
                 "| 34.966 | 39.966 | 5.000 |", "| 36.864 | 46.864 | 10.000 |"):
        assert cell in readme, cell
