"""Paper tables: build_table, write_table and the make_table CLI."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cir.errors import CirError, UnknownNameError
from cir.report import SummaryError, build_table, get_table_spec, write_table
from cir.report.spec import (
    STATUS_NOT_BUILT,
    STATUS_NOT_RUN,
    STATUS_OURS,
    STATUS_OURS_ONLY,
    STATUS_REFERENCE,
    TableSpec,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "workflow_scripts" / "make_table.py"
SPEC = get_table_spec("table2")
PAPER_SETS = ("Set5", "Set14", "BSD100", "Urban100")


def summary(
    method: str = "logits",
    *,
    scale: int = 2,
    backbone: str = "swinir",
    preset: str = "demo",
    test_sets: dict | None = None,
    stand_ins: list[str] | None = None,
) -> dict:
    if test_sets is None:
        test_sets = {"skimage_test": {"n_images": 3, "psnr": 30.5, "ssim": 0.88}}
    return {
        "preset": preset,
        "scale": scale,
        "backbone": backbone,
        "method": method,
        "model_file": f"runs/{preset}/x{scale}_{backbone}_{method}.pt",
        "parameters": 1234,
        "stand_ins": [] if stand_ins is None else stand_ins,
        "device": "cpu",
        "metric_convention": "Y of BT.601 studio-range YCbCr, crop_border=scale",
        "test_sets": {
            name: {"per_image_csv": "x.csv", "sec_per_image": 0.1, **r} for name, r in test_sets.items()
        },
    }


def row(df: pd.DataFrame, scale: int, backbone: str, method: str) -> pd.Series:
    hit = df[(df.scale == scale) & (df.backbone == backbone) & (df.method == method)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_all_paper_rows_in_paper_order_without_summaries() -> None:
    df = build_table(SPEC, [], "demo")
    keys = list(zip(df.scale, df.backbone, df.method))
    assert len(keys) == 3 * 2 * 6 + 2
    assert keys[:7] == [
        (2, "swinir", m) for m in ("teacher", "scratch", "logits", "fakd", "mipkd", "dckd")
    ] + [(2, "rcan", "teacher")]
    assert keys[-2:] == [(4, "rcan", "dckd"), (4, "rcan", "dckd_star")]
    assert set(df.status) == {STATUS_NOT_RUN}
    assert row(df, 4, "swinir", "dckd_star")["Urban100_ssim_paper"] == 0.8032
    assert df.filter(like="_ours").isna().all().all()


def test_demo_test_sets_never_fill_paper_columns() -> None:
    s = summary(
        test_sets={
            "skimage_test": {"n_images": 3, "psnr": 30.5, "ssim": 0.88},
            "set5": {"n_images": 5, "psnr": 31.0, "ssim": 0.90},
            "Set5_demo": {"n_images": 5, "psnr": 32.0, "ssim": 0.91},
        }
    )
    df = build_table(SPEC, [s], "demo")
    r = row(df, 2, "swinir", "logits")
    assert r["status"] == STATUS_OURS
    for test_set in PAPER_SETS:
        for metric in ("psnr", "ssim"):
            assert math.isnan(r[f"{test_set}_{metric}_ours"]) and math.isnan(r[f"{test_set}_{metric}_diff"])
            assert not math.isnan(r[f"{test_set}_{metric}_paper"])
    assert (r["skimage_test_psnr_ours"], r["skimage_test_ssim_ours"]) == (30.5, 0.88)
    assert r["set5_psnr_ours"] == 31.0 and r["Set5_demo_psnr_ours"] == 32.0
    for name in ("skimage_test", "set5", "Set5_demo"):
        assert not any(c.startswith(name) and c.endswith(("_paper", "_diff")) for c in df.columns)


def test_diff_is_ours_minus_paper_and_columns() -> None:
    s = summary(
        test_sets={
            "Set5": {"n_images": 5, "psnr": 37.5, "ssim": 0.95},
            "Urban100": {"n_images": 100, "psnr": 32.5, "ssim": 0.93},
        },
        stand_ins=["random VGG19 weights"],
    )
    df = build_table(SPEC, [s], "demo")
    r = row(df, 2, "swinir", "logits")
    assert r["Set5_psnr_diff"] == pytest.approx(37.5 - 38.04)
    assert r["Set5_ssim_diff"] == pytest.approx(0.95 - 0.9608)
    assert r["Urban100_psnr_diff"] == pytest.approx(32.5 - 32.09)
    assert math.isnan(r["Set14_psnr_ours"]) and math.isnan(r["Set14_psnr_diff"])
    assert (r["preset"], r["parameters_ours"], r["stand_ins"]) == ("demo", 1234, "random VGG19 weights")
    other = row(df, 2, "swinir", "teacher")
    assert (other["preset"], other["stand_ins"]) == ("", "") and pd.isna(other["parameters_ours"])
    metric_cols = [
        f"{d}_{m}_{k}" for d in PAPER_SETS for m in ("psnr", "ssim") for k in ("paper", "ours", "diff")
    ]
    assert list(df.columns) == [
        "scale",
        "backbone",
        "method",
        "status",
        "preset",
        *metric_cols,
        "parameters_ours",
        "stand_ins",
        "metric_convention",
    ]


def test_rows_only_ours_has_and_status_wording() -> None:
    df = build_table(
        SPEC,
        [summary("dckd_star", scale=2), summary("logits", scale=3)],
        "demo",
        built_methods={"scratch", "logits", "dckd_star"},
    )
    extra = row(df, 2, "swinir", "dckd_star")
    assert extra["status"] == STATUS_OURS_ONLY
    assert all(math.isnan(extra[f"{d}_psnr_paper"]) for d in PAPER_SETS)
    keys = list(zip(df.scale, df.backbone, df.method))
    assert keys.index((2, "swinir", "dckd_star")) == keys.index((2, "swinir", "dckd")) + 1
    assert len(df) == 38 + 1
    assert row(df, 3, "swinir", "logits")["status"] == STATUS_OURS
    assert row(df, 2, "swinir", "logits")["status"] == STATUS_NOT_RUN
    assert row(df, 2, "rcan", "mipkd")["status"] == STATUS_NOT_BUILT


def test_reference_rows_of_a_paper_table_say_so() -> None:
    """DCKD Table 3's MT-RNN and DMPHN (CSV column reference_only) are paper-only reference rows."""
    spec = TableSpec(
        id="t3", paper_key="dckd/table3", title="deblurring", test_sets=("GoPro",),
        methods={"-": "-", "teacher": "Teacher", "scratch": "Scratch", "logits": "Logits", "dckd": "DCKD"},
        backbones={"mt_rnn": "MT-RNN", "dmphn": "DMPHN", "nafnet": "NAFNet", "restormer": "Restormer"},
    )
    gopro = {"GoPro": {"n_images": 2, "psnr": 31.0, "ssim": 0.94}}
    s = summary("dckd", scale=1, backbone="nafnet", test_sets=gopro)
    df = build_table(spec, [s], "demo", built_methods={"teacher", "scratch", "logits", "dckd"})
    assert list(zip(df.backbone, df.method))[:3] == [("mt_rnn", "-"), ("dmphn", "-"), ("nafnet", "teacher")]
    assert row(df, 1, "mt_rnn", "-")["status"] == STATUS_REFERENCE
    assert row(df, 1, "dmphn", "-")["GoPro_psnr_paper"] == 31.20
    assert row(df, 1, "nafnet", "dckd")["status"] == STATUS_OURS
    assert row(df, 1, "nafnet", "dckd")["GoPro_psnr_diff"] == round(31.0 - 31.43, 6)
    assert row(df, 1, "restormer", "logits")["status"] == STATUS_NOT_RUN


def test_duplicate_rows_raise_naming_both_model_files() -> None:
    a, b = summary(), summary()
    b["model_file"] = "runs/demo/other.pt"
    with pytest.raises(SummaryError, match=r"x2_swinir_logits\.pt.*other\.pt"):
        build_table(SPEC, [a, b], "demo")


def test_mixed_presets_raise_naming_them() -> None:
    with pytest.raises(SummaryError, match=r"'demo'.*'smoke'"):
        build_table(SPEC, [summary(), summary("scratch", preset="smoke")], "demo")
    with pytest.raises(SummaryError, match=r"'paper'.*'demo'"):
        build_table(SPEC, [summary()], "paper")


def test_malformed_summary_names_model_file_and_key() -> None:
    bad = summary()
    del bad["test_sets"]["skimage_test"]["ssim"]
    with pytest.raises(SummaryError, match=r"x2_swinir_logits\.pt.*test_sets\.skimage_test\.ssim"):
        build_table(SPEC, [bad], "demo")
    bad = summary()
    bad["scale"] = "x2"
    with pytest.raises(SummaryError, match=r"'scale'.*'x2'"):
        build_table(SPEC, [bad], "demo")


def test_unknown_table_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="table2"):
        get_table_spec("table99")


def test_markdown_warning_formatting_and_stand_ins(tmp_path: Path) -> None:
    s = summary(
        test_sets={"Set5": {"n_images": 5, "psnr": 37.5, "ssim": 0.95}},
        stand_ins=["random VGG19 weights", "bicubic teacher"],
    )
    df = build_table(SPEC, [s], "demo")
    write_table(df, tmp_path / "t.csv", tmp_path / "t.md", title="Table 2", notes=["extra note"])
    md = (tmp_path / "t.md").read_text()
    assert "Preset of our numbers: **demo**" in md
    assert "NOT COMPARABLE TO THE PAPER" in md
    # cells in the paper's own "PSNR/SSIM" form; Set14.. "ours"/"diff" have no number and are left out
    assert "| ×2 | SwinIR | Logits | 38.04/0.9608 | 37.50/0.9500 | -0.54/-0.0108 | 33.61/0.9184 |" in md
    assert "| ×4 | RCAN | DCKD* | 32.58/0.8996 |  |  | 28.86/0.7885 |" in md
    assert "Set14 ours" not in md
    assert "1. random VGG19 weights" in md and "2. bicubic teacher" in md
    assert "reproduction experiments" in md and "- extra note" in md
    assert "nan" not in md.lower()
    back = pd.read_csv(tmp_path / "t.csv")
    assert list(back.columns) == list(df.columns) and len(back) == len(df)

    paper_df = build_table(SPEC, [summary(preset="paper")], "paper")
    write_table(paper_df, tmp_path / "p.csv", tmp_path / "p.md", title="Table 2")
    paper_md = (tmp_path / "p.md").read_text()
    assert "Preset of our numbers: **paper**" in paper_md and "NOT COMPARABLE" not in paper_md


def _load_cli():
    spec = importlib.util.spec_from_file_location("make_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.slow
def test_cli_end_to_end(tmp_path: Path) -> None:
    a = _write_json(
        tmp_path / "a.json", summary(test_sets={"Set5": {"n_images": 5, "psnr": 37.5, "ssim": 0.95}})
    )
    b = _write_json(tmp_path / "b.json", summary("scratch", stand_ins=["random VGG19 weights"]))
    out = tmp_path / "tables" / "table2.csv"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--table",
            "table2",
            "--preset",
            "demo",
            "--summaries",
            str(a),
            str(b),
            "--out",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["table2.csv", "table2.md"]
    df = pd.read_csv(out, keep_default_na=False)
    logits = df[(df.scale == 2) & (df.backbone == "swinir") & (df.method == "logits")].iloc[0]
    assert float(logits["Set5_psnr_ours"]) == 37.5 and logits["status"] == "ours"
    assert df[df.method == "teacher"]["Set5_psnr_ours"].eq("").all()
    md = out.with_suffix(".md").read_text()
    assert "NOT COMPARABLE TO THE PAPER" in md and "random VGG19 weights" in md


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, r"missing\.json: summary file not found"),
        ("{not json", r"bad\.json: not valid JSON"),
        ("no_method", r"bad\.json: missing key 'method'"),
        ("no_psnr", r"bad\.json: missing key 'test_sets\.skimage_test\.psnr'"),
    ],
)
def test_cli_bad_summary_names_file_and_key(tmp_path: Path, capsys, content, expected) -> None:
    good = _write_json(tmp_path / "good.json", summary())
    if content is None:
        bad = tmp_path / "missing.json"
    elif content == "no_method":
        s = summary("scratch")
        del s["method"]
        bad = _write_json(tmp_path / "bad.json", s)
    elif content == "no_psnr":
        s = summary("scratch")
        del s["test_sets"]["skimage_test"]["psnr"]
        bad = _write_json(tmp_path / "bad.json", s)
    else:
        bad = tmp_path / "bad.json"
        bad.write_text(content)
    out = tmp_path / "out" / "table2.csv"
    cli = _load_cli()
    code = cli.main(
        ["--table", "table2", "--preset", "demo", "--summaries", str(good), str(bad), "--out", str(out)]
    )
    assert code == 2
    assert re.search(expected, capsys.readouterr().err)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_cli_rejects_unknown_table_and_non_csv_out(tmp_path: Path, capsys) -> None:
    cli = _load_cli()
    assert cli.main(["--table", "table99", "--preset", "demo", "--out", str(tmp_path / "t.csv")]) == 2
    assert "table2" in capsys.readouterr().err
    assert cli.main(["--table", "table2", "--preset", "demo", "--out", str(tmp_path / "t.txt")]) == 2
    assert "--out" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_write_table_without_spec_raises(tmp_path: Path) -> None:
    df = copy.deepcopy(build_table(SPEC, [], "demo"))
    df.attrs.clear()
    with pytest.raises(CirError, match="spec"):
        write_table(df, tmp_path / "t.csv", tmp_path / "t.md", title="t")
    assert not any(tmp_path.iterdir())


def test_unavailable_metric_shows_its_reason_never_a_number(tmp_path: Path) -> None:
    reason = "unavailable: missing niqe_modelparameters.mat (snakemake --cores 1 assets)"
    s = summary(test_sets={"Set5": {"n_images": 5, "psnr": 37.5, "ssim": reason}})
    df = build_table(SPEC, [s], "demo")
    r = row(df, 2, "swinir", "logits")
    assert r["Set5_ssim_ours"] == reason and math.isnan(r["Set5_ssim_diff"])
    assert r["Set5_psnr_diff"] == pytest.approx(37.5 - 38.04)
    write_table(df, tmp_path / "t.csv", tmp_path / "t.md", title="t")
    md = (tmp_path / "t.md").read_text()
    assert "| 37.50/n/a |" in md   # the cell: short, never a number
    assert "- SSIM: missing niqe_modelparameters.mat (snakemake --cores 1 assets)" in md   # the reason, once
    # any other text is still rejected
    bad = summary(test_sets={"Set5": {"n_images": 5, "psnr": 37.5, "ssim": "n/a"}})
    with pytest.raises(SummaryError, match="Set5.ssim"):
        build_table(SPEC, [bad], "demo")


def test_mcir_table2_one_row_from_five_models_with_a_derived_average() -> None:
    from cir.report.tables import get_table_spec

    spec = get_table_spec("mcir_table2")
    sets = {"Rain200L_test": 40.0, "Rain200H_test": 31.0, "DID_test": 35.0, "DDN_test": 34.0, "SPA_test": 47.0}
    parts = [summary("baseline", scale=1, backbone="idt", preset="paper",
                     test_sets={name: {"n_images": 2, "psnr": v, "ssim": 0.9}})
             for name, v in sets.items()]
    for i, s in enumerate(parts):
        s["model_file"] = f"runs/paper/derain_{i}/idt/baseline/model.pt"
    df = build_table(spec, parts, "paper")
    r = row(df, 1, "idt", "baseline")
    # each model's number under its paper column (registry name -> printed name), and the mean
    assert r["Rain200L_psnr_ours"] == 40.0 and r["SPA-Data_psnr_ours"] == 47.0
    # ours: the mean of the five models' numbers; the paper's: the printed Avg (37.77)
    assert r["Avg_psnr_ours"] == pytest.approx(37.4) and r["Avg_psnr_paper"] == 37.77
    assert r["Avg_psnr_diff"] == pytest.approx(37.4 - 37.77)
    assert "SPA_test_psnr_ours" not in df.columns
    assert r["status"] == "ours" and r["preset"] == "paper"
    # two models on the same test set are still an error
    with pytest.raises(SummaryError, match="two summaries claim row"):
        build_table(spec, [parts[0], dict(parts[0], model_file="other.pt")], "paper")


def test_a_derived_set_missing_from_the_paper_csv_is_the_mean_of_its_cells() -> None:
    from cir.report.tables import _with_derived, get_table_spec

    spec = get_table_spec("mcir_table1")
    df = build_table(spec, [], "paper")
    assert row(df, 4, "edsr", "baseline")["Avg_psnr_paper"] == 28.14   # printed (the mean is 28.135)
    cells = {("Set14", "psnr"): 28.58, ("B100", "psnr"): 27.57, ("Urban100", "psnr"): 26.04,
             ("Manga109", "psnr"): 30.35}
    assert _with_derived(spec, cells)[("Avg", "psnr")] == pytest.approx(28.135)
    del cells[("Manga109", "psnr")]  # a part missing: no average
    assert ("Avg", "psnr") not in _with_derived(spec, cells)


def test_imported_published_model_is_compared_with_the_papers_baseline_row(tmp_path: Path) -> None:
    """MCIR's baseline numbers are the published models': the imported model's row (``official``)
    carries the baseline's printed numbers in its paper columns, and the diff proves (or not)
    that our evaluation reproduces them. The convention of every measured row is recorded."""
    spec = get_table_spec("mcir_table1")
    imported = summary("official", scale=4, backbone="edsr", preset="paper",
                       test_sets={"Set14": {"n_images": 14, "psnr": 28.57, "ssim": 0.7812}})
    imported["metric_convention"] = "dckd_sr: PSNR on Y, crop border 4"
    df = build_table(spec, [imported], "paper")
    r = row(df, 4, "edsr", "official")
    assert r["status"] == "ours" and r["Set14_psnr_paper"] == 28.58 and r["Avg_psnr_paper"] == 28.14
    assert r["Set14_psnr_diff"] == pytest.approx(-0.01)
    assert r["metric_convention"] == "dckd_sr: PSNR on Y, crop border 4"
    assert row(df, 4, "edsr", "baseline")["metric_convention"] == ""
    # printed before the rows trained here, under its display name, with the convention listed
    methods = list(df[(df.scale == 4) & (df.backbone == "edsr")].method)
    assert methods.index("official") < methods.index("baseline")
    write_table(df, tmp_path / "t.csv", tmp_path / "t.md", title="t")
    md = (tmp_path / "t.md").read_text()
    assert "Published (imported)" in md and "## How our numbers are measured" in md
    assert "- dckd_sr: PSNR on Y, crop border 4" in md
