"""DRCNet supplement Tables 3-5: the printed "FLOPs (G)" beside our network's complexity."""

from __future__ import annotations

import copy
import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cir.errors import CirError
from cir.models.drcnet import PUBLIC_MACS_256, PUBLIC_PARAMS, PUBLISHED_GFLOPS
from cir.paper import paper_table_path
from cir.report.complexity import build_complexity_table, network_notes, write_complexity_table
from cir.report.spec import STATUS_OURS, STATUS_REFERENCE

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "workflow_scripts" / "complexity_table.py"
KEYS = ("drcnet/table3", "drcnet/table4", "drcnet/table5")
DEMO = {"width": 8, "depth": 2}


def make_cfg(paper: dict | None = None, demo: dict | None = None) -> dict:
    """The part of a configuration the builder reads: presets.<name>.models."""
    def models(student):
        return {} if student is None else {"drcnet": {"teacher": dict(student), "student": dict(student)}}
    return {"preset": "demo", "presets": {"paper": {"models": models(paper)}, "demo": {"models": models(demo)}}}


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    # the full-size network at 256x256 is measured once (cached) for all three tables
    cfg = make_cfg(paper={}, demo=DEMO)
    return {key: build_complexity_table(key, cfg, "demo") for key in KEYS}


def ours_row(df: pd.DataFrame) -> pd.Series:
    rows = df[df["backbone"] == "drcnet"]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize("key", KEYS)
def test_our_line_matches_the_public_counts(tables, key):
    r = ours_row(tables[key])
    assert r["status"] == STATUS_OURS and r["printed_name"] == "DRCNet(Ours)" and r["input_hw"] == "256x256"
    assert r["flops_g_paper"] == PUBLISHED_GFLOPS == 124.2
    assert int(r["params_ours"]) == PUBLIC_PARAMS
    assert r["gmacs_ours"] * 1e9 == pytest.approx(PUBLIC_MACS_256, rel=1e-6)
    assert r["gflops_ours"] == pytest.approx(2 * r["gmacs_ours"], rel=1e-12)
    assert r["printed_over_gmacs"] == round(124.2 / (PUBLIC_MACS_256 / 1e9), 3) == 1.086
    assert r["printed_over_gflops"] == round(124.2 / (2 * PUBLIC_MACS_256 / 1e9), 3) == 0.543
    assert str(tables[key]["params_ours"].dtype) == "Int64"


@pytest.mark.parametrize("key", KEYS)
def test_reference_lines_are_paper_only_in_printed_order(tables, key):
    df = tables[key]
    paper = pd.read_csv(paper_table_path(key))
    assert list(df["backbone"]) == list(paper["backbone"])
    assert list(df["printed_name"]) == list(paper["printed_name"])
    ref = df[df["backbone"] != "drcnet"]
    assert len(ref) == len(df) - 1
    assert (ref["status"] == STATUS_REFERENCE).all()
    for col in ("params_ours", "gmacs_ours", "gflops_ours", "printed_over_gmacs", "printed_over_gflops",
                "params_demo", "gmacs_demo", "gflops_demo"):
        assert ref[col].isna().all(), col
    printed = pd.to_numeric(paper["flops_g"], errors="coerce")
    assert df["flops_g_paper"].equals(printed.astype(float).rename("flops_g_paper"))


def test_spair_prints_no_flops(tables):
    df = tables["drcnet/table3"]
    spair = df[df["backbone"] == "spair"].iloc[0]
    assert math.isnan(spair["flops_g_paper"]) and spair["status"] == STATUS_REFERENCE
    assert df["flops_g_paper"].isna().sum() == 1
    assert tables["drcnet/table4"]["flops_g_paper"].notna().all()


def test_running_preset_gets_its_own_smaller_columns(tables):
    r = ours_row(tables["drcnet/table4"])
    assert 0 < r["params_demo"] < r["params_ours"]
    assert 0 < r["gmacs_demo"] < r["gmacs_ours"]
    assert r["gflops_demo"] == pytest.approx(2 * r["gmacs_demo"])
    # the paper preset itself: no extra columns (the full network is already cached)
    df = build_complexity_table("drcnet/table5", make_cfg(paper={}, demo=DEMO), "paper")
    assert not [c for c in df.columns if c.endswith("_demo") or c.endswith("_paper") and c != "flops_g_paper"]
    # a running preset without the backbone: its columns are empty
    df = build_complexity_table("drcnet/table5", make_cfg(paper={}, demo=None), "demo")
    assert df["gmacs_demo"].isna().all() and df["params_demo"].isna().all()


def test_markdown_and_csv_written(tables, tmp_path):
    df = tables["drcnet/table3"]
    csv, md = tmp_path / "t3.csv", tmp_path / "t3.md"
    cfg = make_cfg(paper={}, demo=DEMO)
    notes = network_notes(cfg, "demo") + ["a note of the caller"]
    write_complexity_table(df, csv, md, title="DRCNet Table 3", preset="demo", notes=notes)
    text = md.read_text(encoding="utf-8")
    r = ours_row(df)
    assert text.startswith("# DRCNet Table 3\n")
    assert "| DRCNet(Ours) | derain | 256x256 | 124.2 |" in text
    assert f"{r['gmacs_ours']:.2f}" in text and "114.42" in text and "228.83" in text and "1.086" in text
    assert "18,975,798" in text and "GMACs (demo)" in text
    assert "| SPAIR | derain | 256x256 | - |" in text
    assert "multiply-accumulates" in text and "no parameter count" in text and "a note of the caller" in text
    assert "presets.demo.models.drcnet.student" in text
    back = pd.read_csv(csv)
    assert list(back["backbone"]) == list(df["backbone"])
    assert int(ours_row(back)["params_ours"]) == PUBLIC_PARAMS
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_errors_name_the_key_or_file():
    with pytest.raises(CirError, match=r"presets\.paper\.models\.drcnet"):
        build_complexity_table("drcnet/table3", make_cfg(paper=None, demo=DEMO), "demo")
    with pytest.raises(CirError, match=r"presets\.paper\.models\.drcnet"):
        build_complexity_table("drcnet/table3", {"presets": {"demo": {"models": {}}}}, "demo")
    with pytest.raises(CirError, match=r"table3\.csv.*'nosuch'.*found 0"):
        build_complexity_table("drcnet/table3", make_cfg(paper={}), "paper", backbone="nosuch")


def load_script():
    spec = importlib.util.spec_from_file_location("complexity_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_rejects_an_output_that_is_not_csv(tmp_path, capsys):
    code = load_script().main(["--paper-key", "drcnet/table3", "--preset", "demo", "--out", str(tmp_path / "x.txt")])
    assert code == 2
    assert ".csv" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_cli_writes_csv_and_markdown(tmp_path, capsys):
    from cir.config import load_yaml

    cfg = copy.deepcopy(load_yaml(REPO / "config.yaml"))
    small = {"width": 4, "depth": 1}
    cfg["presets"]["paper"]["models"]["drcnet"] = {"teacher": small, "student": small}
    cfg["presets"]["demo"]["models"]["drcnet"] = {"teacher": small, "student": {"width": 2, "depth": 1}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    out = tmp_path / "tables" / "drcnet_table4.csv"
    code = load_script().main(["--paper-key", "drcnet/table4", "--config", str(path), "--preset", "demo",
                               "--title", "DRCNet Table 4", "--note", "extra note", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    df = pd.read_csv(out)
    assert len(df) == 11 and list(df["backbone"])[-1] == "drcnet"
    r = ours_row(df)
    assert 0 < r["params_demo"] < r["params_ours"] < PUBLIC_PARAMS
    text = out.with_suffix(".md").read_text(encoding="utf-8")
    assert text.startswith("# DRCNet Table 4\n") and "extra note" in text and "DANet+" in text
