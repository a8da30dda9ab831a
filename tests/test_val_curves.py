"""Validation curves (Cria-CL Fig. 1): long-form CSV, Markdown summary, figure and CLI errors."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from cir.errors import CirError
from cir.report.curves import draw_val_curves, make_val_curves, read_val_log

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# steps out of order on purpose: the reader sorts them
STUDENT_LOG = """step,psnr,ssim,lpips
300,30.50,0.90,0.1900
100,29.00,0.85,0.3000
200,30.75,0.91,0.2000
400,30.60,0.905,0.2050
"""
TEACHER_LOG = """step,psnr,ssim
100,31.00,0.90
200,32.25,0.92
300,32.25,0.93
"""


def _script(name: str):
    path = Path(__file__).resolve().parents[1] / "workflow_scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_cli", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    dirs = {"student": tmp_path / "runs" / "student", "teacher": tmp_path / "runs" / "teacher"}
    for label, text in (("student", STUDENT_LOG), ("teacher", TEACHER_LOG)):
        dirs[label].mkdir(parents=True)
        (dirs[label] / "val_log.csv").write_text(text)
        (dirs[label] / "train_log.csv").write_text("step,loss\n100,0.1\n")
    return dirs


def test_csv_markdown_and_png(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "fig" / "val_curves.png"
    plotted = make_val_curves([f"student={runs['student']}", f"teacher={runs['teacher']}"], ["psnr", "lpips"],
                              out, title="Fig. 1", notes=["smoke preset: 400 iterations"])
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert list(plotted) == ["psnr", "lpips"]
    assert plotted["psnr"]["lines"]["student"]["step"] == [100, 200, 300, 400]
    assert plotted["lpips"]["missing"] == ["teacher"] and "teacher" in plotted["lpips"]["message"]

    table = pd.read_csv(out.with_suffix(".csv"))
    assert list(table.columns) == ["label", "run_dir", "step", "metric", "value"]
    assert len(table) == 4 + 4 + 3  # student psnr + lpips, teacher psnr
    lp = table[table.metric == "lpips"]
    assert set(lp.label) == {"student"} and set(lp.run_dir) == {str(runs["student"])}
    assert list(lp.step) == [100, 200, 300, 400] and list(lp.value) == [0.3, 0.2, 0.19, 0.205]
    assert list(table[(table.label == "teacher")].value) == [31.0, 32.25, 32.25]

    md = out.with_suffix(".md").read_text()
    assert md.startswith("# Fig. 1\n")
    # PSNR: first 29.00 at 100, last 30.60 at 400, best 30.75 at 200
    assert "| student | PSNR | 4 | 29.00 (100) | 30.60 (400) | 30.75 | 200 |" in md
    # LPIPS is lower-is-better: best 0.1900 at 300, not the highest 0.3000
    assert "| student | LPIPS | 4 | 0.3000 (100) | 0.2050 (400) | 0.1900 | 300 |" in md
    # a tie keeps the earliest step
    assert "| teacher | PSNR | 3 | 31.00 (100) | 32.25 (300) | 32.25 | 200 |" in md
    assert "| teacher | LPIPS | 0 | not measured | not measured | not measured | - |" in md
    assert "- smoke preset: 400 iterations" in md


def test_metric_missing_from_every_run(runs: dict[str, Path], tmp_path: Path) -> None:
    teacher = read_val_log(runs["teacher"], ["psnr", "lpips"])
    png = tmp_path / "only_teacher.png"
    plotted = draw_val_curves({"teacher": teacher}, ["psnr", "lpips"], png, title="t", footer="a note")
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert plotted["lpips"]["lines"] == {} and plotted["lpips"]["missing"] == ["teacher"]
    assert plotted["lpips"]["message"] == ("LPIPS not measured: no 'lpips' column in the validation logs: its "
                                           "weights were missing when these runs trained")
    plotted = draw_val_curves({"teacher": teacher}, ["lpips"], png, title="t",
                              missing_reasons={"lpips": "LPIPS was switched off"})
    assert plotted["lpips"]["message"].endswith(": LPIPS was switched off")

    make_val_curves([f"teacher={runs['teacher']}"], ["psnr", "lpips"], png, title="t")
    assert "LPIPS not measured: no 'lpips' column in the validation logs" in png.with_suffix(".md").read_text()


def test_blank_cells_are_unmeasured_steps(tmp_path: Path) -> None:
    (tmp_path / "val_log.csv").write_text("step,psnr,lpips\n100,29.0,\n200,30.0,0.25\n")
    log = read_val_log(tmp_path, ["psnr", "lpips"])
    assert log["lpips"].isna().tolist() == [True, False]
    (tmp_path / "val_log.csv").write_text("step,psnr,lpips\n100,29.0,\n200,30.0,n/a\n")
    with pytest.raises(CirError, match="non-numeric value in data row 2"):
        read_val_log(tmp_path, ["psnr", "lpips"])


@pytest.mark.parametrize(("args", "needle"), [
    (["--run", "s={student}", "--run", "t={empty}"], "empty/val_log.csv: training log not found"),
    (["--run", "s={student}", "--out", "{tmp}/f.jpg"], "--out {tmp}/f.jpg: must end in .png"),
    (["--run", "s={tmp}/nowhere"], "run folder {tmp}/nowhere not found"),
    (["--run", "s={student}", "--metrics", "psnr", "psnrr"], "unknown metric 'psnrr'"),
    (["--run", "s={student}", "--metrics"], "--metrics: no metric named"),
    (["--run", "s={bad}"], "bad/val_log.csv: cannot parse the CSV log"),
])
def test_cli_errors(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
                    needle: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "val_log.csv").write_bytes(b"step,psnr\n\xff\xfe,1\n")
    names = {"student": runs["student"], "empty": tmp_path / "empty", "bad": tmp_path / "bad", "tmp": tmp_path}
    argv = [a.format(**names) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "f.png")]
    assert _script("make_val_curves").main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle.format(**names) in err and err.count("\n") == 1
    assert not (tmp_path / "f.png").exists() and not (tmp_path / "f.csv").exists()


def test_cli_writes_the_three_files(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "val.png"
    assert _script("make_val_curves").main(["--run", f"student={runs['student']}", "--run",
                                            f"teacher={runs['teacher']}", "--metrics", "psnr", "lpips",
                                            "--note", "n1", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert out.with_suffix(".csv").is_file() and "- n1" in out.with_suffix(".md").read_text()
    assert "wrote" in capsys.readouterr().out
