"""DRCNet's tables as data: setting rows (t, delta), means over seed replicas, a table of ours only,
the sensitivity figure's lines, per-experiment network settings, recipe method options and the
cosine warm-up of its public configurations."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from cir import config as cfgmod
from cir.errors import ConfigError
from cir.report import SummaryError, build_table, get_table_spec, write_table
from cir.report.figures import FIGURES, sweep_spread, sweep_table, write_sweep_figure
from cir.spec import job_spec


def summary(method, psnr, *, test_set="skimage_test_rain", task="derain", convention="derain_y: Y"):
    return {"preset": "demo", "scale": 1, "backbone": "drcnet", "method": method, "task": task,
            "model_file": f"runs/demo/{task}/drcnet/{method}/model.pt", "parameters": 75946,
            "stand_ins": ["VGG19 encoder: random initialisation"], "metric_convention": convention,
            "test_sets": {test_set: {"n_images": 2, "psnr": psnr, "ssim": 0.8}}}


def test_table1_rows_are_settings_and_average_three_seeds(tmp_path):
    spec = get_table_spec("drcnet_table1")
    assert spec.runs == 3 and spec.row_values["drcnet_sf_t075"] == {"variant": "sf_only", "t": 0.75}
    runs = [summary("drcnet_sf_t075", 20.0), summary("drcnet_sf_t075_seed1", 21.0),
            summary("drcnet_sf_t075_seed2", 23.0),
            summary("drcnet_sf_t075", 30.0, test_set="skimage_test_noise", task="denoise", convention="deblur_rgb: RGB")]
    df = build_table(spec, runs, "demo")
    assert len(df) == 10   # every printed t; ours on one
    ours = df[df.status == "ours"].iloc[0]
    assert ours.t == 0.75 and ours.variant == "sf_only" and ours.runs_ours == 3
    assert ours.skimage_test_rain_psnr_ours == pytest.approx(64 / 3)
    assert ours.skimage_test_rain_psnr_sd == pytest.approx(math.sqrt(((20 - 64 / 3) ** 2 + (21 - 64 / 3) ** 2
                                                                       + (23 - 64 / 3) ** 2) / 2))
    assert ours.skimage_test_noise_psnr_ours == 30.0 and math.isnan(ours.skimage_test_noise_psnr_sd)
    assert ours.Derain_psnr_paper == 27.39 and ours.GoPro_psnr_paper == 30.21
    assert ours.metric_convention == "derain_y: Y + deblur_rgb: RGB"
    assert (df[df.status != "ours"].status == "paper only: not run in this preset").all()
    write_table(df, tmp_path / "t1.csv", tmp_path / "t1.md", title=spec.title)
    md = (tmp_path / "t1.md").read_text()
    assert "21.33 ± 1.53" in md and "| 0.75 |" in md and "mean ± sample standard deviation over 3 runs" in md


def test_a_repeated_seed_of_one_row_is_refused():
    spec = get_table_spec("drcnet_table1")
    with pytest.raises(SummaryError, match="same seed"):
        build_table(spec, [summary("drcnet_sf_t075_seed1", 20.0), summary("drcnet_sf_t075_seed1", 21.0)], "demo")


def test_table2_delta_rows_and_a_table_of_ours_only(tmp_path):
    df = build_table(get_table_spec("drcnet_table2"), [summary("drcnet_ea_d1e6", 25.0)], "demo")
    ours = df[df.status == "ours"].iloc[0]
    assert ours.delta == 1e-6 and ours.Derain_psnr_paper == 25.59 and "runs_ours" not in df.columns
    main = get_table_spec("drcnet_main")
    assert main.paper_key is None
    df = build_table(main, [summary("drcnet_intra", 25.0),
                            summary("drcnet_intra", 31.0, test_set="skimage_test_noise", task="denoise"),
                            summary("drcnet_none", 24.0)], "demo")
    assert list(df.method) == ["drcnet_intra", "drcnet_none"]
    assert set(df.status) == {"ours only: not in paper"} and df.Test100_psnr_paper.isna().all()
    assert df.iloc[0].skimage_test_noise_psnr_ours == 31.0
    write_table(df, tmp_path / "m.csv", tmp_path / "m.md", title=main.title)
    md = (tmp_path / "m.md").read_text()
    assert "Paper numbers: **not available**" in md and "NOT COMPARABLE" not in md


def test_sensitivity_figure_lines_mean_and_spread(tmp_path):
    spec = FIGURES["drcnet_sensitivity"]
    assert spec.runs == 3 and list(spec.panels[0].series) == ["Intra-CR", "Extra-CR"]
    sums = {}
    for cr, base in (("intra", 20.0), ("extra", 19.0)):
        for a, shift in (("_a001", 0.0), ("", 0.5), ("_a05", 1.0)):
            for seed, noise in ((0, 0.0), (1, 0.1), (2, -0.1)):
                name = f"drcnet_{cr}{a}" + (f"_seed{seed}" if seed else "")
                sums[name] = summary(name, base + shift * (2 if cr == "extra" else 1) + noise)
    only = ["drcnet_intra_a001", "drcnet_intra", "drcnet_intra_a05", "drcnet_extra_a001", "drcnet_extra",
            "drcnet_extra_a05"]
    table = sweep_table(spec, sums, only)
    assert len(table) == 6 and (table.runs == 3).all()
    assert table.psnr_sd.round(6).eq(0.1).all()
    spread = sweep_spread(table).set_index("series")
    assert spread.loc["Intra-CR", "psnr_range"] == pytest.approx(1.0)
    assert spread.loc["Extra-CR", "psnr_range"] == pytest.approx(2.0)
    write_sweep_figure(spec, table, tmp_path / "s.png", tmp_path / "s.csv")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert "| PSNR against the CR weight α | Intra-CR | skimage_test_rain | 3 | 1.000 |" in (tmp_path / "s.md").read_text()
    with pytest.raises(Exception, match="drcnet_intra_a01"):
        sweep_table(spec, sums)   # every point, and 0.1 was not run


@pytest.fixture(scope="module")
def cfg():
    return cfgmod.load_and_validate("config.yaml")


def test_experiment_network_settings_and_recipe_options_reach_the_spec(cfg):
    s = job_spec(cfg, "demo", "derain", "drcnet", "drcnet_ea_d1e4")
    assert s["model"]["params"] == {"width": 8, "depth": 3, "spatial_filter": False, "delta": 1e-4}
    s = job_spec(cfg, "paper", "deblur", "drcnet", "drcnet_intra")
    assert s["options"]["loss_weight"] == 0.5 and s["train"]["scheduler"]["t_max"] == 800000
    assert s["data"]["val"] == "GoPro_test"
    s = job_spec(cfg, "paper", "denoise", "drcnet", "drcnet_extra_a05_seed2")
    assert s["options"] == {"cr": "extra", "w_cr": 0.5, "loss_weight": 1.0, "encoder_stand_in": False}
    assert s["train"]["seed"] == 2 and s["data"]["train"] == ["SIDD_train"]


def _broken(cfg, edit):
    bad = copy.deepcopy(cfg)
    edit(bad)
    with pytest.raises(ConfigError) as err:
        cfgmod.validate(bad)
    return str(err.value)


def test_bad_table_choices_recipe_options_and_warmup_are_named(cfg):
    msg = _broken(cfg, lambda c: c["presets"]["demo"]["tables"].update(drcnet_table9={"rows": ["x"]}))
    assert "presets.demo.tables.drcnet_table9: not a table or figure" in msg
    msg = _broken(cfg, lambda c: c["presets"]["demo"]["tables"]["drcnet_table1"].update(rows=["drcnet_intra"]))
    assert "presets.demo.tables.drcnet_table1.rows.0: 'drcnet_intra' is not a row of drcnet_table1" in msg
    msg = _broken(cfg, lambda c: c["presets"]["demo"]["tables"]["drcnet_table1"].update(tasks=["x4"]))
    assert "presets.demo.tables.drcnet_table1.tasks.0: 'x4'" in msg
    msg = _broken(cfg, lambda c: c["presets"]["paper"]["recipes"]["derain/drcnet"]["method_options"]["drcnet_cr"]
                  .update(loss_wieght=0.5))
    assert "presets.paper.recipes.derain/drcnet.method_options.drcnet_cr" in msg and "loss_wieght" in msg
    msg = _broken(cfg, lambda c: c["presets"]["paper"]["recipes"]["deblur/drcnet"]["scheduler"].update(
        name="multistep", gamma=0.5, warmup=10))
    assert "presets.paper.recipes.deblur/drcnet.scheduler.warmup: a linear warm-up is available for the cosine" in msg


def test_cosine_warmup_follows_basicsr():
    from cir.engine.optim import build_scheduler

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=5.95e-5)
    sched = build_scheduler(opt, {"name": "cosine", "t_max": 400000, "eta_min": 1e-7, "warmup": 1000}, 400000)
    lrs = []
    for _ in range(1001):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # BasicSR: lr * iter / warmup_iter for iterations 1..1000 (here steps 0..999), then the cosine
    assert lrs[0] == pytest.approx(5.95e-5 / 1000, rel=1e-4)
    assert lrs[499] == pytest.approx(5.95e-5 * 500 / 1000, rel=1e-4)
    cosine = 1e-7 + (5.95e-5 - 1e-7) * 0.5 * (1 + math.cos(math.pi * 1000 / 400000))
    assert lrs[1000] == pytest.approx(cosine, rel=1e-9)
    state = sched.state_dict()
    again = build_scheduler(torch.optim.Adam([p], lr=5.95e-5), {"name": "cosine", "t_max": 400000, "eta_min": 1e-7,
                                                                  "warmup": 1000}, 400000)
    again.load_state_dict(state)
    assert again.last_epoch == sched.last_epoch
