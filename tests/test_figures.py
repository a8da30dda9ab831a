import pandas as pd
import pytest

from cir.errors import CirError
from cir.report.figures import FIGURES, sweep_table, write_sweep_figure


def summary(psnr):
    return {"preset": "demo", "stand_ins": ["VQGAN encoder: random initialisation"],
            "test_sets": {"skimage_test": {"psnr": psnr, "ssim": 0.9}}}


def test_fig8_table_and_png(tmp_path):
    spec = FIGURES["fig8"]
    sums = {e: summary(30.0 + i) for i, e in enumerate(spec.experiments)}
    table = sweep_table(spec, sums)
    assert len(table) == 7  # 4 points in (a), 3 in (b); dckd appears in both
    a = table[table.panel.str.startswith("(a)")].sort_values("x")
    assert list(a.x) == [1, 3, 5, 7] and list(a.experiment) == ["dckd_neg1", "dckd_neg3", "dckd", "dckd_neg7"]
    write_sweep_figure(spec, table, tmp_path / "fig8.png", tmp_path / "fig8.csv")
    assert (tmp_path / "fig8.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = pd.read_csv(tmp_path / "fig8.csv")
    assert len(back) == 7 and set(back.stand_ins) == {"VQGAN encoder: random initialisation"}


def test_missing_experiment_is_named():
    with pytest.raises(CirError, match="dckd_neg1"):
        sweep_table(FIGURES["fig8"], {"dckd": summary(30.0)})


def _write_run(run_dir, steps, losses, val_steps, psnrs):
    run_dir.mkdir(parents=True)
    pd.DataFrame({"step": steps, "loss": losses, "rec": losses, "lr": 1e-3, "it_per_s": 5.0}).to_csv(
        run_dir / "train_log.csv", index=False)
    pd.DataFrame({"step": val_steps, "psnr": psnrs, "ssim": 0.9}).to_csv(run_dir / "val_log.csv", index=False)


def test_training_curves_from_csv_logs(tmp_path):
    from cir.data.images import read_image
    from cir.report.curves import make_curves

    _write_run(tmp_path / "teacher", [20, 10, 30], [0.05, 0.1, 0.04], [15, 30], [30.0, 31.0])
    _write_run(tmp_path / "logits", [10, 20], [0.2, 0.1], [20], [29.5])
    png = tmp_path / "curves_x2_swinir.png"
    plotted = make_curves([f"teacher={tmp_path / 'teacher'}", f"logits={tmp_path / 'logits'}"], png, scale=2,
                          backbone="swinir", preset="smoke", val_set="skimage_test")
    assert list(plotted) == ["Teacher", "Logits"]  # legend = experiment (display name), in the given order
    assert plotted["Teacher"]["train_step"] == [10, 20, 30]  # sorted by step
    assert plotted["Teacher"]["loss"] == [0.1, 0.05, 0.04]
    assert plotted["Teacher"]["val_step"] == [15, 30] and plotted["Logits"]["psnr"] == [29.5]
    img = read_image(png)
    assert img.shape[:2] == (504, 1320)  # 11 x 4.2 inches at 120 dpi


def test_training_curves_name_the_bad_log(tmp_path):
    from cir.report.curves import make_curves

    _write_run(tmp_path / "scratch", [10], [0.1], [10], [30.0])
    (tmp_path / "scratch" / "val_log.csv").unlink()
    with pytest.raises(CirError, match=r"scratch/val_log\.csv: training log not found"):
        make_curves([f"scratch={tmp_path / 'scratch'}"], tmp_path / "c.png", scale=2, backbone="rcan", preset="smoke")
    (tmp_path / "scratch" / "val_log.csv").write_text("step,ssim\n10,0.9\n")
    with pytest.raises(CirError, match=r"missing column\(s\) \['psnr'\]"):
        make_curves([f"scratch={tmp_path / 'scratch'}"], tmp_path / "c.png", scale=2, backbone="rcan", preset="smoke")
    (tmp_path / "scratch" / "val_log.csv").write_text("step,psnr\n10,abc\n")
    with pytest.raises(CirError, match="non-numeric value in data row 1"):
        make_curves([f"scratch={tmp_path / 'scratch'}"], tmp_path / "c.png", scale=2, backbone="rcan", preset="smoke")


def test_make_figure_cli_dispatch(tmp_path, capsys):
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "workflow_scripts" / "make_figure.py"
    spec = importlib.util.spec_from_file_location("make_figure_cli", script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    args = []
    for i, exp in enumerate(FIGURES["fig8"].experiments):
        path = tmp_path / f"{exp}.json"
        path.write_text(json.dumps({"model_file": f"{exp}.pt", "parameters": 1, **summary(30.0 + i)}))
        args += ["--summary", f"{exp}={path}"]
    assert cli.main(["--figure", "fig8", *args, "--out", str(tmp_path / "fig8.png")]) == 0
    assert len(pd.read_csv(tmp_path / "fig8.csv")) == 7
    assert cli.main(["--figure", "fig9", *args, "--out", str(tmp_path / "x.png")]) == 2
    assert "unknown figure 'fig9'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--figure", "curves", "--run", "a=b", "--out", str(tmp_path / "c.png")])  # no --scale etc.
    assert "--figure curves needs" in capsys.readouterr().err
