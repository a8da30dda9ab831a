"""Cria-CL's printed tables (cir/paper/criacl/*.csv) match the paper text they were copied from.

The seed text (``shared/seeds/004_*.txt``) keeps all seven tables as tab-separated lines with the
caption line ("TABLE I: ..." to "TABLE VII: ...") **below** the table: each table is found by its
caption (unique in the seed) and is the block of non-empty lines just above it. Every CSV cell is
re-derived here from those lines and compared as a string. Two extraction problems are resolved
as the README says (Table II's six SSIM/LPIPS values for seven methods; Table V's merged labels).
The README's arithmetic and text claims are checked at the end.
"""

from __future__ import annotations

import re
from decimal import Decimal
from itertools import combinations

import pandas as pd
import pytest
from _paper_seed import check_csv, csv_rows, seed_lines, table_block

from cir.paper import PAPER_DIR, load_paper_table, paper_table_keys, reference_only

CRIACL_TITLE = "Criteria Comparative Learning for Real-scene Image Super-Resolution"
CRIACL = PAPER_DIR / "criacl"
TABLES = [f"table{i}" for i in range(1, 8)]

RESULTS = ["scale", "backbone", "method", "test_set", "psnr", "ssim", "lpips", "reference_only"]
ABLATION = ["scale", "backbone", "method", "printed_name", "test_set", "psnr", "ssim", "lpips",
            "reference_only"]
COLUMNS = {
    "table1": ["method", "test_set", "niqe", "mos", "reference_only"],
    "table2": RESULTS,
    "table3": RESULTS,
    "table4": RESULTS,
    "table5": ABLATION,
    "table6": ABLATION,
    "table7": ["scale", "backbone", "method", "test_set", "input", "time", "params_m", "reference_only"],
}

UP, DOWN = "\u2191", "\u2193"
CAPTIONS = {
    "table1": "TABLE I: NIQE result for RealSR-Zero.",
    "table2": "TABLE II: Quantitative results on RealSR dataset.",
    "table3": "TABLE III: Quantitative results for NTIRE2020 Challenge on Realworld image SR track.",
    "table4": "TABLE IV: Quantitative results on CameraSR dataset.",
    "table5": "TABLE V: Ablation study of Cria-CL. Each proposed component is analysed independently",
    "table6": "TABLE VI: Quantitative comparison for different anchor criterion on NTIRE2020 dataset.",
    "table7": ("TABLE VII: Efficiency analysis on 300\u00d7200 image of RealSR testset with "
               "$4 \\times$ factor."),
}
# (scale, test_set) per table; Table IV (CameraSR) is x1 in the public code (see the README).
SETTING = {"table2": ("4", "RealSR"), "table3": ("4", "NTIRE2020"), "table4": ("1", "CameraSR"),
           "table5": ("4", "NTIRE2020"), "table6": ("4", "NTIRE2020"), "table7": ("4", "RealSR")}
HEADERS = {
    "table2": ["Methods", f"PSNR{UP}", f"SSIM [{UP}]", f"LPIPS{DOWN}"],
    "table3": ["Methods", f"PSNR {UP}", f"SSIM{UP}", f"LPIPS{DOWN}"],
    "table4": ["Methods", f"PSNR{UP}", f"SSIM{UP}", "LPIPS"],
    "table5": ["Methods", f"PSNR{UP}", f"SSIM{UP}", f"LPIPS{DOWN}"],
    "table6": ["Methods", f"PSNR{UP}", f"LPIPS{DOWN}"],
}

# Printed method name -> (citation number, backbone, method). Backbones: `rrdb` where the seed says
# the method uses ESRGAN's network, `zssr` for KernelGAN (it applies ZSSR), `criacl` for ours, and
# the method id itself where the seed does not name the network.
MODELS = {
    "ZSSR": ("38", "zssr", "zssr"),
    "ESRGAN": ("20", "rrdb", "esrgan"),
    "CinCGAN": ("57", "cincgan", "cincgan"),
    "FSSR": ("58", "fssr", "fssr"),
    "DASR": ("22", "rrdb", "dasr"),
    "Real-ESRGAN": ("45", "rrdb", "real_esrgan"),
    "ADL": ("3", "adl", "adl"),
    "EDSR": ("59", "edsr", "edsr"),
    "KernelGAN": ("17", "zssr", "kernelgan"),
    "Impressionism": ("44", "impressionism", "impressionism"),
    "USR-DA": ("2", "usr_da", "usr_da"),
    "Ours": ("", "criacl", "criacl"),
}
# Words of each cited reference-list entry (the citations are checked against the list).
REFERENCES = {
    "38": "zero-shot", "20": "Esrgan", "57": "cycle-in-cycle", "58": "Frequency separation",
    "22": "domain-distance aware", "45": "Real-esrgan", "3": "adaptive downsampling",
    "59": "Enhanced deep residual", "17": "internal-gan", "44": "kernel estimation and noise injection",
    "2": "domain adaptation perspective",
}
NUMBER = re.compile(r"\d+\.\d+")


def _seed_lines() -> list[str]:
    return seed_lines(CRIACL_TITLE)


def _block(lines: list[str], caption: str) -> list[list[str]]:
    return table_block(lines, caption, above=True)


def _csv_rows(table: str) -> list[dict[str, str]]:
    return csv_rows(CRIACL / f"{table}.csv")


def _check(table: str, seed: list[dict[str, str]]) -> None:
    check_csv(CRIACL / f"{table}.csv", COLUMNS[table], seed)


def _name(cell: str, cited: bool = True) -> tuple[str, str]:
    """A printed method cell "Real-ESRGAN [45]" -> ("Real-ESRGAN", "45"); "Ours" -> ("Ours", "").
    Tables I and VII print the names without citations (``cited=False``)."""
    m = re.fullmatch(r"(\S+)(?: \[(\d+)\])?", cell)
    assert m and m.group(1) in MODELS, cell
    assert (m.group(2) or "") == (MODELS[m.group(1)][0] if cited else ""), cell
    return m.group(1), m.group(2) or ""


def _result(table: str, name: str, **metrics: str) -> dict[str, str]:
    scale, test_set = SETTING[table]
    _, backbone, method = MODELS[name]
    assert all(v == "" or NUMBER.fullmatch(v) for v in metrics.values()), (name, metrics)
    return {"scale": scale, "backbone": backbone, "method": method, "test_set": test_set, **metrics,
            "reference_only": "false" if method == "criacl" else "true"}


# ---------------------------------------------------------------------------------------------
# Seed parsers: each returns the CSV lines (dicts of strings) the table should hold, in order.


def _parse_table1(lines: list[str]) -> list[dict]:
    """Transposed: a "Method" line of names, a "NIQE" line and a "MOS" line."""
    block = _block(lines, CAPTIONS["table1"])
    assert [r[0] for r in block] == ["Method", "NIQE", "MOS"], block
    names, niqe, mos = (r[1:] for r in block)
    assert len(names) == len(niqe) == len(mos) == 5
    out = []
    for name, n, m in zip(names, niqe, mos, strict=True):
        _name(name, cited=False)
        assert NUMBER.fullmatch(n) and NUMBER.fullmatch(m), (name, n, m)
        method = MODELS[name][2]
        out.append({"method": method, "test_set": "RealSR-Zero", "niqe": n, "mos": m,
                    "reference_only": "false" if method == "criacl" else "true"})
    return out


def _parse_table2(lines: list[str]) -> list[dict]:
    """The seven other methods share one line (names, PSNRs, SSIMs, LPIPSs, each one cell of
    space-separated values); 7 PSNRs but 6 SSIMs and 6 LPIPSs: assigned in order, ADL (the last)
    gets none (the README's reading, checked in test_table2_reading)."""
    block = _block(lines, CAPTIONS["table2"])
    assert block[0] == HEADERS["table2"] and len(block) == 3, block
    names_cell, psnr, ssim, lpips = block[1]
    names = re.findall(r"(\S+) \[(\d+)\]", names_cell)
    assert " ".join(f"{n} [{c}]" for n, c in names) == names_cell
    assert [MODELS[n][0] for n, _ in names] == [c for _, c in names]
    psnr, ssim, lpips = psnr.split(" "), ssim.split(" "), lpips.split(" ")
    assert (len(names), len(psnr), len(ssim), len(lpips)) == (7, 7, 6, 6)
    assert names[-1][0] == "ADL"
    ssim, lpips = ssim + [""], lpips + [""]
    out = [_result("table2", n, psnr=p, ssim=s, lpips=lp)
           for (n, _), p, s, lp in zip(names, psnr, ssim, lpips, strict=True)]
    ours = block[2]
    assert len(ours) == 4 and _name(ours[0])[0] == "Ours"
    return [*out, _result("table2", "Ours", psnr=ours[1], ssim=ours[2], lpips=ours[3])]


def _parse_rows(table: str, lines: list[str]) -> list[dict]:
    """Tables III and IV: a header line, then one line per method: name, PSNR, SSIM, LPIPS."""
    block = _block(lines, CAPTIONS[table])
    assert block[0] == HEADERS[table], block[0]
    out = []
    for cells in block[1:]:
        assert len(cells) == 4, cells
        name, _ = _name(cells[0])
        out.append(_result(table, name, psnr=cells[1], ssim=cells[2], lpips=cells[3]))
    return out


def _plain(label: str) -> str:
    """A Table V label without its math delimiters and \\text{}: for comparing two printings."""
    return re.sub(r"\s+", " ", label.replace("$", "").replace(r"\text{w/}", "w/")).strip()


def _ablation_id(label: str) -> str:
    """The method id of a Table V label: plain, full, or [svp_]wsum[_align][_unif]."""
    if label == "Plain Model":
        return "plain"
    if label == "Ours full":
        return "full"
    terms = [t.strip() for t in _plain(label).removeprefix("w/ ").split(" + ")]
    svp = terms[0] == "Spatial-view Projection"
    terms = terms[1:] if svp else terms
    assert [t.lower() for t in terms[:3]] == [r"\mathcal{l}^{pixel}", r"\mathcal{l}^{perc}",
                                              r"\mathcal{l}^{adv}"], label
    extra = {r"\mathcal{L}^{Cria}_{align}": "align", r"\mathcal{L}^{Cria}_{unif}": "unif"}
    return "_".join([*(["svp"] if svp else []), "wsum", *(extra[t] for t in terms[3:])])


ARRAY = re.compile(r"\$ \\begin\{array\}\{l\} (.+) \\\\ (.+) \\end\{array\} \$")


def _parse_table5(lines: list[str]) -> list[dict]:
    """Seven value lines; line 4's label cell is a LaTeX array holding the labels of rows 4 and 5
    (row 5's label is printed again on its own line): line 4 takes the array's first label."""
    block = _block(lines, CAPTIONS["table5"])
    assert block[0] == HEADERS["table5"] and len(block) == 8, block
    out, arrays = [], 0
    for k, cells in enumerate(block[1:]):
        assert len(cells) == 4, cells
        label = cells[0]
        m = ARRAY.fullmatch(label)
        if m:
            arrays += 1
            label = m.group(1)
            # the array's second label is the next line's label
            assert _plain(m.group(2)) == _plain(block[k + 2][0]), (m.group(2), block[k + 2][0])
        out.append({"scale": "4", "backbone": "criacl", "method": _ablation_id(label),
                    "printed_name": label, "test_set": "NTIRE2020", "psnr": cells[1], "ssim": cells[2],
                    "lpips": cells[3], "reference_only": "false"})
        assert all(NUMBER.fullmatch(v) for v in cells[1:]), cells
    assert arrays == 1
    assert len({(r["psnr"], r["ssim"], r["lpips"]) for r in out}) == 7  # no repeated value line
    return out


def _parse_table6(lines: list[str]) -> list[dict]:
    """Three anchor lines "$\\mathbb{C}_a = \\mathbb{C}_{adv}$" etc.: PSNR and LPIPS (no SSIM)."""
    block = _block(lines, CAPTIONS["table6"])
    assert block[0] == HEADERS["table6"] and len(block) == 4, block
    out = []
    for label, psnr, lpips in block[1:]:
        m = re.fullmatch(r"\$\\mathbb\{C\}_a = \\mathbb\{C\}_\{(adv|per|pix)\}\$", label)
        assert m and NUMBER.fullmatch(psnr) and NUMBER.fullmatch(lpips), (label, psnr, lpips)
        out.append({"scale": "4", "backbone": "criacl", "method": m.group(1), "printed_name": label,
                    "test_set": "NTIRE2020", "psnr": psnr, "ssim": "", "lpips": lpips,
                    "reference_only": "false"})
    return out


def _parse_table7(lines: list[str]) -> list[dict]:
    """Transposed: "Method", "Time(frame/s)" and "Parameter" (values "16.7M") lines."""
    block = _block(lines, CAPTIONS["table7"])
    assert [r[0] for r in block] == ["Method", "Time(frame/s)", "Parameter"], block
    out = []
    for name, time, params in zip(block[0][1:], block[1][1:], block[2][1:], strict=True):
        _name(name, cited=False)
        m = re.fullmatch(r"(\d+\.\d)M", params)
        assert m and NUMBER.fullmatch(time), (name, time, params)
        _, backbone, method = MODELS[name]
        out.append({"scale": "4", "backbone": backbone, "method": method, "test_set": "RealSR",
                    "input": "300x200", "time": time, "params_m": m.group(1),
                    "reference_only": "false" if method == "criacl" else "true"})
    assert len(out) == 4
    return out


def _parse(table: str) -> list[dict]:
    lines = _seed_lines()
    if table in ("table3", "table4"):
        return _parse_rows(table, lines)
    return {"table1": _parse_table1, "table2": _parse_table2, "table5": _parse_table5,
            "table6": _parse_table6, "table7": _parse_table7}[table](lines)


# ---------------------------------------------------------------------------------------------
# Every CSV cell against the seed.


@pytest.mark.parametrize("table", TABLES)
def test_csv_matches_seed_text(table: str) -> None:
    _check(table, _parse(table))


def test_row_counts() -> None:
    assert {t: len(_csv_rows(t)) for t in TABLES} == {
        "table1": 5, "table2": 8, "table3": 8, "table4": 5, "table5": 7, "table6": 3, "table7": 4}


def test_citations_name_the_cited_papers() -> None:
    """Each method's citation number is the reference-list entry of that method's paper."""
    lines = _seed_lines()
    refs = {m.group(1): ln for ln in lines if (m := re.match(r"- \[(\d+)\] ", ln))}
    assert len(refs) == 58 and "1" not in refs  # the first entry lost its "[1]"
    assert any(ln.startswith("- J. Cai, H. Zeng") for ln in lines)
    for number, words in REFERENCES.items():
        assert words.lower() in refs[number].lower(), (number, refs[number])
    # [52] (cited for DF2K in Fig. 5) and [59] (EDSR in Table III) are the same paper.
    assert refs["52"].split('"')[1] == refs["59"].split('"')[1]


# ---------------------------------------------------------------------------------------------
# Loading and reference rows.


def test_every_table_loads_and_has_its_columns() -> None:
    keys = [f"criacl/{t}" for t in TABLES]
    assert sorted(k for k in paper_table_keys() if k.startswith("criacl/")) == keys
    for key in keys:
        table = key.split("/")[1]
        df = load_paper_table(key, required_columns=tuple(COLUMNS[table]))
        assert list(df.columns) == COLUMNS[table]
        assert pd.api.types.is_bool_dtype(df["reference_only"]), key
        assert not df.duplicated(["method"]).any(), key
        if table in ("table5", "table6"):
            assert not reference_only(df).any() and set(df["backbone"]) == {"criacl"}
        else:
            assert (reference_only(df) == (df["method"] != "criacl")).all(), key
            assert (df["method"] == "criacl").sum() == 1, key
        metrics = [c for c in COLUMNS[table] if c in ("psnr", "ssim", "lpips", "niqe", "mos", "time",
                                                      "params_m")]
        empty = {(m, c) for c in metrics for m in df.loc[df[c].isna(), "method"]}
        expected = {"table2": {("adl", "ssim"), ("adl", "lpips")},
                    "table6": {(m, "ssim") for m in ("adv", "per", "pix")}}.get(table, set())
        assert empty == expected, key
    assert list(load_paper_table("criacl/table5")["method"]) == [
        "plain", "wsum", "wsum_align", "wsum_unif", "wsum_align_unif", "svp_wsum", "full"]
    assert list(load_paper_table("criacl/table6")["method"]) == ["adv", "per", "pix"]
    assert set(load_paper_table("criacl/table4")["scale"]) == {1}


def test_backbones_follow_the_seed() -> None:
    """rrdb for ESRGAN, DASR and Real-ESRGAN; zssr for KernelGAN: as the seed says."""
    text = "\n".join(_seed_lines())
    for phrase in ("As DASR and Real-ESRGAN adopt ESRGAN as backbone, they have same network parameters.",
                   ("KernelGAN [17] proposed to generate blur kernel from label images via a kernel "
                    "estimation GAN before applying the ZSSR [38] method."),
                   "We apply RRDBs as the backbone [20] in feature extractor"):
        assert phrase in text, phrase
    backbone = {}
    for table in ("table2", "table3", "table4", "table7"):
        for r in _csv_rows(table):
            assert backbone.setdefault(r["method"], r["backbone"]) == r["backbone"], (table, r)
    assert {m for m, b in backbone.items() if b == "rrdb"} == {"esrgan", "dasr", "real_esrgan"}
    assert backbone["kernelgan"] == "zssr" and backbone["criacl"] == "criacl"
    assert {m for m, b in backbone.items() if b != m} == {"esrgan", "dasr", "real_esrgan", "kernelgan"}


# ---------------------------------------------------------------------------------------------
# The README's claims about the numbers and the text.


def _values(table: str, column: str) -> dict[str, Decimal]:
    return {r["method"]: Decimal(r[column]) for r in _csv_rows(table) if r[column]}


def test_table2_reading() -> None:
    """Six LPIPS values for seven methods: only with ADL's pair missing does Real-ESRGAN's LPIPS
    give the text's "0.0296" (0.2606 - 0.2311 = 0.0295); any other missing pair gives 0.0206 or
    leaves Real-ESRGAN without a value."""
    lines = _seed_lines()
    block = _block(lines, CAPTIONS["table2"])
    names = [n for n, _ in re.findall(r"(\S+) \[(\d+)\]", block[1][0])]
    lpips = [Decimal(v) for v in block[1][3].split(" ")]
    ours = Decimal(block[2][3])
    gap = {}
    for missing in range(len(names)):
        assigned = dict(zip([n for k, n in enumerate(names) if k != missing], lpips, strict=True))
        gap[names[missing]] = assigned["Real-ESRGAN"] - ours if "Real-ESRGAN" in assigned else None
    assert gap.pop("ADL") == Decimal("0.0295")
    assert gap.pop("Real-ESRGAN") is None
    assert set(gap.values()) == {Decimal("0.0206")}
    assert "Our method obtains a 0.0296 LPIPS improvement over Real-ESRGAN" in "\n".join(lines)


def test_table5_merged_labels() -> None:
    """Line 4 of Table V is the LaTeX array of two labels; its first label (unif) takes line 4's
    values, confirmed by the text's 0.94 dB: 25.76 - 24.82."""
    block = _block(_seed_lines(), CAPTIONS["table5"])
    m = ARRAY.fullmatch(block[4][0])
    assert m and block[4][1:] == ["25.76", "0.6977", "0.2227"]
    assert _ablation_id(m.group(1)) == "wsum_unif" and _ablation_id(m.group(2)) == "wsum_align_unif"
    assert _ablation_id(block[5][0]) == "wsum_align_unif" and block[5][1] == "25.92"
    psnr = _values("table5", "psnr")
    assert psnr["wsum_unif"] - psnr["plain"] == Decimal("0.94")


def test_text_claims_that_hold() -> None:
    text = "\n".join(_seed_lines())
    t1n, t1m = _values("table1", "niqe"), _values("table1", "mos")
    t2, t3, t4, t5 = (_values(t, "psnr") for t in ("table2", "table3", "table4", "table5"))
    l3, l4 = _values("table3", "lpips"), _values("table4", "lpips")
    claims = [
        ("Compared with Real-ESRGAN, Cria-CL achieves a 1.38 dB gain.",
         t2["criacl"] - t2["real_esrgan"], "1.38"),
        ("Compared with ADL, Cria-CL shows a 0.92 dB", t2["criacl"] - t2["adl"], "0.92"),
        ("a 1.83 dB improvement over FSSR", t2["criacl"] - t2["fssr"], "1.83"),
        ("compared with USR-DA [2], Cria-CL achieves a significant improvement with 0.81 dB PSNR",
         t3["criacl"] - t3["usr_da"], "0.81"),
        ("0.81 dB PSNR and 0.0323 LPIPS gain", l3["usr_da"] - l3["criacl"], "0.0323"),
        ("our model shows a improvement with 1.3 dB", t3["criacl"] - t3["real_esrgan"], "1.30"),
        ("our model outperform Real-ESRGAN with 0.963 dB", t4["criacl"] - t4["real_esrgan"], "0.963"),
        ("0.963 dB and 0.002 LPIPS", l4["real_esrgan"] - l4["criacl"], "0.002"),
        ("a plain model achieves 0.3 dB gain by using", t5["wsum_align"] - t5["plain"], "0.30"),
        ("which achieves a significant promotion with a 0.94 dB gain", t5["wsum_unif"] - t5["plain"], "0.94"),
        ("Cria-CL outperforms Real-ESRGAN with 0.1666 over the NIQE index",
         t1n["real_esrgan"] - t1n["criacl"], "0.166"),
    ]
    for phrase, got, want in claims:
        assert phrase in text, phrase
        assert got == Decimal(want), (phrase, got)
    # From wsum instead of plain the two gains would be 0.07 and 0.71.
    assert (t5["wsum_align"] - t5["wsum"], t5["wsum_unif"] - t5["wsum"]) == (Decimal("0.07"), Decimal("0.71"))
    # Lowest NIQE and lowest MOS are Cria-CL's, which "wins highest preference".
    assert min(t1n, key=t1n.get) == min(t1m, key=t1m.get) == "criacl"
    assert "Cria-CL wins highest preference" in text


def test_text_claims_that_do_not_match() -> None:
    text = "\n".join(_seed_lines())
    t1m = _values("table1", "mos")
    t2, t5 = _values("table2", "psnr"), _values("table5", "psnr")
    l3 = _values("table3", "lpips")
    # DASR: "1.57 dB" printed, 1.59 in Table II.
    assert "achieves significant improvements by 1.57 dB" in text
    assert t2["criacl"] - t2["dasr"] == Decimal("1.59")
    # Table III vs Real-ESRGAN: "0.0324 LPIPS" printed, 0.0267 in the table.
    assert "shows a improvement with 1.3 dB and 0.0324 LPIPS" in text
    assert l3["real_esrgan"] - l3["criacl"] == Decimal("0.0267")
    # Table V: "a 1.19 dB improvement" from spatial-view projection matches no pair.
    assert "our model obtains a 1.19 dB improvement" in text
    diffs = {abs(a - b) for a, b in combinations(t5.values(), 2)}
    assert Decimal("1.19") not in diffs and len(t5) == 7
    assert t5["full"] - t5["wsum"] == Decimal("1.16") and t5["svp_wsum"] - t5["plain"] == Decimal("1.22")
    assert t5["svp_wsum"] - t5["wsum"] == Decimal("0.99")
    assert t5["full"] - t5["wsum_align_unif"] == Decimal("0.29")
    # Table I: "6.25% better MOS" vs 6.0 % or 6.4 %.
    assert "a 6.25% better MOS score than Real-ESRGAN" in text
    gain = t1m["real_esrgan"] - t1m["criacl"]
    assert round(gain / t1m["real_esrgan"] * 100, 1) == Decimal("6.0")
    assert round(gain / t1m["criacl"] * 100, 1) == Decimal("6.4")


def test_table7_unit_and_parameters() -> None:
    """Printed "frame/s", but the smallest value is Cria-CL's, which the text calls faster: seconds
    per frame; (0.7971 - 0.7217) / 0.7971 = 9.5 % ("reducing 10% inference cost"); parameters
    (16.7 - 14.8) / 16.7 = 11.4 %. 16.7M is ESRGAN's RRDBNet (16,697,987 by formula); the released
    Cria-CL network has 17,286,473."""
    text = "\n".join(_seed_lines())
    time, params = _values("table7", "time"), _values("table7", "params_m")
    assert min(time, key=time.get) == "criacl" and time["criacl"] < time["dasr"]
    assert "Compared with ESRGAN, Cria-CL obtains promising running efficiency by reducing 10% " \
           "inference cost." in text
    assert "Cria-CL obtains a faster running efficiency" in text
    assert round((time["esrgan"] - time["criacl"]) / time["esrgan"] * 100, 1) == Decimal("9.5")
    assert round((params["esrgan"] - params["criacl"]) / params["esrgan"] * 100, 1) == Decimal("11.4")
    assert {params[m] for m in ("esrgan", "dasr", "real_esrgan")} == {Decimal("16.7")}

    def conv(cin: int, cout: int, k: int = 3) -> int:
        return cin * cout * k * k + cout

    def rrdbnet(nf: int = 64, nb: int = 23, gc: int = 32, c: int = 3) -> int:
        rdb = sum(conv(nf + i * gc, gc) for i in range(4)) + conv(nf + 4 * gc, nf)
        # conv_first, nb RRDBs of 3 RDBs, trunk_conv + upconv1 + upconv2 + HRconv, conv_last
        return conv(c, nf) + nb * 3 * rdb + 4 * conv(nf, nf) + conv(nf, c)

    def rb(cin: int, cout: int) -> int:
        return conv(cin, cout) + conv(cout, cout) + conv(cin, cout, 1)

    head = 3 * (rb(3, 64) + 2 * rb(64, 64)) + 2 * conv(64, 3)  # branch1, branch2, sm; tail_conv1/2
    assert rrdbnet() == 16_697_987 and round(Decimal(rrdbnet()) / 10**6, 1) == Decimal("16.7")
    assert head == 588_486 and rrdbnet() + head == 17_286_473
    assert (rrdbnet(nb=19) + head, rrdbnet(nb=20) + head) == (14_408_777, 15_128_201)


def test_cross_table_identities() -> None:
    def cells(table: str, method: str) -> tuple[str, str, str]:
        (r,) = [r for r in _csv_rows(table) if r["method"] == method]
        return r["psnr"], r["ssim"], r["lpips"]

    assert cells("table5", "plain") == cells("table3", "impressionism") == ("24.82", "0.6619", "0.2270")
    assert cells("table5", "full") == cells("table3", "criacl") == ("26.21", "0.7122", "0.2201")
    assert cells("table6", "pix") == ("26.21", "", "0.2201")
    t3, t6 = _values("table3", "psnr"), _values("table6", "psnr")
    assert t6["adv"] == Decimal("17.97") < min(t3.values()) == t3["kernelgan"] == Decimal("18.46")


def test_readme_names_every_table_and_the_flags() -> None:
    readme = (CRIACL / "README.md").read_text(encoding="utf-8")
    for table in TABLES:
        assert f"`{table}.csv`" in readme, table
    for caption in CAPTIONS.values():
        assert caption.split(":")[0] in readme
    for phrase in ("0.2606 - 0.2311 = 0.0295", "0.2517 - 0.2311 = 0.0206", "27.82 - 26.44 = 1.38",
                   "27.82 - 26.90 = 0.92", "27.82 - 25.99 = 1.83", "27.82 - 26.23 = **1.59**",
                   "0.2468 - 0.2201 = **0.0267**", "26.21 - 25.40 = 0.81", "0.2524 - 0.2201 = 0.0323",
                   "26.138 - 25.175 = 0.963", "25.12 - 24.82 = 0.30", "25.76 - 24.82 = 0.94",
                   "4.575 - 4.409 = 0.166", "**6.0 %**", "**6.4 %**", "**9.5 %**", "11.4 %",
                   "**1.19 dB**", "16,697,987", "17,286,473", "frame/s", "crop border 4",
                   "`lpips.LPIPS(net='alex')`", "`test_Y = False`", "remove interpolation when test camerasr",
                   "`reference_only`", "Fig. 1"):
        assert phrase in readme, phrase
