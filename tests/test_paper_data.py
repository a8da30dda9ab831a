"""The paper numbers stored under cir/paper/ match the paper text they were copied from."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cir.errors import CirError, UnknownNameError
from cir.paper import PAPER_DIR, load_paper_table, paper_table_keys, reference_only

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


# DCKD Tables 1, 3 and 4: printed model names -> backbone ids of the CSV files.
DCKD_MODELS = {
    "SwinIR": "swinir",
    "RCAN": "rcan",
    "NAFNet": "nafnet",
    "Restormer": "restormer",
    "MT-RNN": "mt_rnn",
    "DMPHN": "dmphn",
    "MPRNet": "mprnet",
    "SPAIR": "spair",
}
# Printed method -> CSV method; "-" is a published model's own number (a reference row).
DCKD_METHODS = {"-": "-", "Teacher": "teacher", "Scratch": "scratch", "Logits": "logits", "DCKD": "dckd"}
TABLE4_SETS = ["Test100", "Rain100H", "Rain100L", "Test2800", "Test1200"]


def _seed_block(lines: list[str], header: str, caption: str) -> list[list[str]]:
    """The tab-separated cells of the lines between a table's header line and its caption."""
    start = lines.index(header)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(caption))
    return [line.split("\t") for line in lines[start + 1 : end] if line.strip()]


def _csv_rows(table: str) -> list[dict[str, str]]:
    with open(PAPER_DIR / "dckd" / f"{table}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _printed_params(cell: str) -> str:
    """A printed #Params cell ("17.1M", "-") as the CSV stores it ("17.1", "")."""
    return "" if cell == "-" else cell.removesuffix("M")


def _parse_seed_results(
    lines: list[str], header: str, caption: str, test_sets: list[str]
) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """(backbone, method, test set) -> (psnr, ssim, params) as printed in Table 3 or Table 4."""
    table: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    model = None
    for cells in _seed_block(lines, header, caption):
        assert len(cells) == 2 + len(test_sets) + 1, cells
        if cells[0] == "" and cells[1] == "SPAIR":
            # Table 4 prints SPAIR in the Method column under an empty Model cell; it is a published
            # model like MPRNet above it, not a method applied to MPRNet.
            name, method = "SPAIR", "-"
        else:
            model = cells[0] or model
            name, method = model, cells[1]
        for test_set, value in zip(test_sets, cells[2:-1]):
            psnr, ssim = value.split("/")
            key = (DCKD_MODELS[name], DCKD_METHODS[method], test_set)
            assert key not in table, key
            table[key] = (psnr, ssim, _printed_params(cells[-1]))
    return table


def _check_results_csv(table: str, seed: dict[tuple[str, str, str], tuple[str, str, str]]) -> None:
    rows = _csv_rows(table)
    assert list(rows[0]) == [
        "scale", "backbone", "method", "test_set", "psnr", "ssim", "params_m", "reference_only"
    ]
    assert {r["scale"] for r in rows} == {"1"}
    stored = {
        (r["backbone"], r["method"], r["test_set"]): (r["psnr"], r["ssim"], r["params_m"]) for r in rows
    }
    assert len(stored) == len(rows), f"duplicate lines in {table}.csv"
    assert set(stored) == set(seed)
    wrong = {k: (stored[k], seed[k]) for k in seed if stored[k] != seed[k]}
    assert not wrong, f"{table}.csv differs from the paper (csv, paper): {wrong}"
    # Exactly the lines without a method of their own (printed "-") are reference rows.
    flags = {(r["backbone"], r["method"]): r["reference_only"] for r in rows}
    assert flags == {k: ("true" if k[1] == "-" else "false") for k in flags}
    # Rows keep the printed order.
    printed = list(dict.fromkeys(k[:2] for k in seed))
    assert list(dict.fromkeys((r["backbone"], r["method"]) for r in rows)) == printed


def test_table1_csv_matches_seed_text() -> None:
    """Table 1 (model specifications): every printed row, for SR, deblurring and deraining."""
    cells = _seed_block(
        _dckd_seed_lines(), "Model\tRole\tChannel\tBlock/Group\t#Params", "Table 1:"
    )
    seed = []
    model = None
    for c in cells:
        assert len(c) == 5, c
        model = c[0] or model
        blocks, groups = c[3].split("/")
        seed.append(
            {
                "backbone": DCKD_MODELS[model],
                "role": c[1].lower(),
                "channel": c[2],
                "blocks": blocks,
                "groups": "" if groups == "-" else groups,
                "params_m": _printed_params(c[4]),
            }
        )
    rows = _csv_rows("table1")
    assert list(rows[0]) == ["backbone", "role", "channel", "blocks", "groups", "params_m"]
    assert len(seed) == 8
    assert rows == seed


def test_table3_csv_matches_seed_text() -> None:
    seed = _parse_seed_results(
        _dckd_seed_lines(), "Model\tMethod\tGoPro PSNR/SSIM\t#Params", "Table 3:", ["GoPro"]
    )
    assert len(seed) == 2 + 2 * 4
    _check_results_csv("table3", seed)


def test_table4_csv_matches_seed_text() -> None:
    header = "Model\tMethod\t" + "\t".join(f"{s} PSNR/SSIM" for s in TABLE4_SETS) + "\t#Params"
    seed = _parse_seed_results(_dckd_seed_lines(), header, "Table 4:", TABLE4_SETS)
    assert len(seed) == (2 + 4) * 5
    _check_results_csv("table4", seed)


def test_tables_3_4_load_with_reference_rows_and_table1_parameters() -> None:
    t1 = load_paper_table("dckd/table1").set_index(["backbone", "role"])["params_m"]
    for key, models, reference in (
        ("dckd/table3", {"nafnet", "restormer"}, {"mt_rnn", "dmphn"}),
        ("dckd/table4", {"restormer"}, {"mprnet", "spair"}),
    ):
        df = load_paper_table(
            key, required_columns=("scale", "backbone", "method", "test_set", "psnr", "ssim")
        )
        ref = reference_only(df)
        assert set(df.loc[ref, "backbone"]) == reference and set(df.loc[ref, "method"]) == {"-"}
        ours = df[~ref]
        assert set(ours["backbone"]) == models
        assert set(ours["method"]) == {"teacher", "scratch", "logits", "dckd"}
        # Every reproduced row's #Params is Table 1's teacher or student size.
        for r in ours.itertuples():
            role = "teacher" if r.method == "teacher" else "student"
            assert r.params_m == t1[(r.backbone, role)], (key, r)
    assert not reference_only(load_paper_table("dckd/table2")).any()
    spair = load_paper_table("dckd/table4").query("backbone == 'spair'")
    assert spair["params_m"].isna().all()  # printed "-"


def test_dckd_text_claims_against_tables_3_and_4() -> None:
    """The results text versus Tables 3-4: two deraining claims disagree with the table (the
    README's note on them stays true only while these differences hold); the others agree."""
    text = "\n".join(_dckd_seed_lines())
    t3 = load_paper_table("dckd/table3").set_index(["backbone", "method"])
    t4 = load_paper_table("dckd/table4").set_index(["backbone", "method", "test_set"])
    rain100l = {m: t4.loc[(b, m, "Rain100L"), "psnr"] for b, m in
                (("mprnet", "-"), ("restormer", "scratch"), ("restormer", "logits"), ("restormer", "dckd"))}

    # Contradiction 1: "surpasses it [MPRNet] by 1.8dB on Rain100L", but 38.02 - 36.40 = 1.62.
    assert "DCKD significantly surpasses it by 1.8dB on Rain100L dataset" in text
    assert (rain100l["dckd"], rain100l["-"]) == (38.02, 36.40)
    assert round(rain100l["dckd"] - rain100l["-"], 2) == 1.62
    # Contradiction 2: "outperforms the Logits KD by 0.55dB on Rain100L", but 38.02 - 37.17 = 0.85;
    # 0.55 is DCKD's gain over Scratch (38.02 - 37.47).
    assert "DCKD outperforms the Logits KD by 0.55dB on Rain100L" in text
    assert round(rain100l["dckd"] - rain100l["logits"], 2) == 0.85
    assert round(rain100l["dckd"] - rain100l["scratch"], 2) == 0.55

    # Claims that agree with the tables.
    assert "With only 18.9% of MPRNet" in text
    assert round(100 * t4.loc[("restormer", "dckd", "Rain100L"), "params_m"]
                 / t4.loc[("mprnet", "-", "Rain100L"), "params_m"], 1) == 18.9
    assert "Compared to the Logits KD, our DCKD achieves 0.17dB improvement on different backbones" in text
    for backbone in ("nafnet", "restormer"):
        gain = t3.loc[(backbone, "dckd"), "psnr"] - t3.loc[(backbone, "logits"), "psnr"]
        assert round(gain, 2) == 0.17
    assert "the student model of NAFNet significantly outperforms MT-RNN (Park et al. 2020) by 0.28dB" in text
    assert round(t3.loc[("nafnet", "dckd"), "psnr"] - t3.loc[("mt_rnn", "-"), "psnr"], 2) == 0.28


def test_table4_test1200_students_beat_the_teacher() -> None:
    """An oddity the README notes: on Test1200 every 3.8M student beats the 26.1M teacher."""
    t4 = load_paper_table("dckd/table4").query("backbone == 'restormer' and test_set == 'Test1200'")
    t4 = t4.set_index("method")
    teacher = t4.loc["teacher"]
    assert (teacher["psnr"], teacher["ssim"]) == (33.22, 0.9270)
    for method in ("scratch", "logits", "dckd"):
        assert t4.loc[method, "psnr"] > teacher["psnr"] and t4.loc[method, "ssim"] > teacher["ssim"]
    # On the other four sets the teacher is ahead of every student.
    t4all = load_paper_table("dckd/table4").query("backbone == 'restormer' and test_set != 'Test1200'")
    best_student = t4all[t4all.method != "teacher"].groupby("test_set")["psnr"].max()
    teacher_all = t4all[t4all.method == "teacher"].set_index("test_set")["psnr"]
    assert (teacher_all > best_student.reindex(teacher_all.index)).all()


def test_reference_only_column_must_be_boolean(tmp_path, monkeypatch) -> None:
    import cir.paper

    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "t.csv").write_text("backbone,method,reference_only\na,-,true\nb,x,maybe\n")
    monkeypatch.setattr(cir.paper, "PAPER_DIR", tmp_path)
    wrong = r"t\.csv: column 'reference_only' must hold only true/false, found \['maybe'\]"
    with pytest.raises(CirError, match=wrong):
        load_paper_table("p/t")
