"""Cria-CL's Table VII builder (cir/report/timing.py): printed sizes, rows and errors."""

from __future__ import annotations

import pytest

from cir import config as cfgmod
from cir.errors import CirError
from cir.report.timing import build_timing_table, parse_input_wh


def test_printed_size_is_width_by_height():
    assert parse_input_wh("300x200", "t") == (200, 300)
    assert parse_input_wh(" 64 X 32 ", "t") == (32, 64)
    with pytest.raises(CirError, match=r"t: input '300-200': expected WIDTHxHEIGHT"):
        parse_input_wh("300-200", "t")


def test_rows_without_models_are_counted_not_timed_and_bad_rows_are_named():
    cfg = cfgmod.load_and_validate()
    rows = {"criacl": "criacl", "criacl_plain": "esrgan"}
    df = build_timing_table("criacl/table7", cfg, "demo", {}, rows, backbone="criacl")
    assert list(df.method) == ["esrgan", "dasr", "real_esrgan", "criacl"]
    ours = df.set_index("method")
    # the paper preset's networks at a 300x200 input: ESRGAN's RRDB and the paper-head generator
    assert ours.loc["esrgan", "params_m_paper_net"] == pytest.approx(16.697987)
    assert ours.loc["criacl", "params_m_paper_net"] == pytest.approx(17.284397)
    assert ours.loc["criacl", "gmacs_paper_net"] > ours.loc["esrgan", "gmacs_paper_net"] > 1000
    assert ours.loc["criacl", "status"] == "paper only: not run in this preset"
    assert ours.loc["dasr", "status"] == "paper only: reference model, not reproduced"
    with pytest.raises(CirError, match=r"--model criacl_x: not a row of criacl/table7"):
        build_timing_table("criacl/table7", cfg, "demo", {"criacl_x": "m.pt"}, rows, backbone="criacl")
    with pytest.raises(CirError, match=r"no printed line for method 'swinir'"):
        build_timing_table("criacl/table7", cfg, "demo", {}, {"criacl": "swinir"}, backbone="criacl")
