"""Workflow CLIs end through run_step: a wrong model file, a malformed NAME=PATH item or a
download failure is one ``error: ...`` message and exit code 2."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from cir.data import download
from cir.data.images import write_image
from cir.errors import CirError
from cir.models import build_model
from cir.utils.cli import parse_named_path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow_scripts"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_cli", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pairs(root: Path) -> Path:
    rng = np.random.default_rng(0)
    hr = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    write_image(root / "HR" / "a.png", hr)
    write_image(root / "LR" / "a.png", hr[::2, ::2].copy())
    return root


# --- evaluation checks the architecture of the model file ----------------------------------

@pytest.fixture()
def swinir_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = build_model("swinir", 2, embed_dim=6, depths=[1], num_heads=[2], window_size=4)
    path = tmp_path / "swinir_x2.pth"
    torch.save({"model_spec": model.cir_spec, "model": model.state_dict(), "ema": None, "meta": {}}, path)
    return path


def test_evaluate_refuses_a_model_of_another_architecture(tmp_path: Path, swinir_file: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "res" / "summary.json"
    code = _script("evaluate").main([
        "--model", str(swinir_file), "--scale", "2", "--test-set", f"SetA={_pairs(tmp_path / 'SetA')}",
        "--out", str(out), "--preset", "p", "--backbone", "rcan", "--method", "m", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert str(swinir_file) in err and "'swinir'" in err and "'rcan'" in err
    assert not out.exists()


def test_evaluate_accepts_the_recorded_architecture(tmp_path: Path, swinir_file: Path) -> None:
    out = tmp_path / "res" / "summary.json"
    code = _script("evaluate").main([
        "--model", str(swinir_file), "--scale", "2", "--test-set", f"SetA={_pairs(tmp_path / 'SetA')}",
        "--out", str(out), "--preset", "p", "--backbone", "swinir", "--method", "m", "--device", "cpu"])
    assert code == 0 and json.loads(out.read_text())["backbone"] == "swinir"


def test_evaluate_model_file_checks_architecture(tmp_path: Path, swinir_file: Path) -> None:
    from cir.eval.evaluate import evaluate_model_file

    with pytest.raises(CirError, match=r"swinir_x2\.pth.*'swinir'.*'rcan'"):
        evaluate_model_file(swinir_file, {"SetA": _pairs(tmp_path / "SetA")}, 2, tmp_path / "s.json",
                            preset="p", backbone="rcan", method="m", device="cpu")


# --- one NAME=PATH parser --------------------------------------------------------------------

def test_parse_named_path() -> None:
    assert parse_named_path("SetA=data/x=y", "--test-set") == ("SetA", "data/x=y")
    for bad in ("SetA", "=data", "SetA="):
        with pytest.raises(CirError, match=rf"--run {bad!r}: expected EXPERIMENT=RUN_DIR"):
            parse_named_path(bad, "--run", "EXPERIMENT=RUN_DIR")
    with pytest.raises(CirError, match=r"--x 'a': expected NAME=PATH"):
        parse_named_path("a", "--x")


PARSER_USERS = ["cir/report/visual.py", "cir/report/figures.py", "cir/report/curves.py", "cir/eval/efficiency.py",
                "workflow_scripts/make_study_table.py", "workflow_scripts/evaluate.py"]


@pytest.mark.parametrize("path", PARSER_USERS)
def test_name_path_items_go_through_the_shared_parser(path: str) -> None:
    """Each of these modules splits its NAME=PATH items with cir.utils.cli.parse_named_path."""
    tree = ast.parse((REPO / path).read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert any(isinstance(c.func, ast.Name) and c.func.id == "parse_named_path" for c in calls), path
    own = [c for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr == "partition"
           and c.args and isinstance(c.args[0], ast.Constant) and c.args[0].value == "="]
    assert not own, f"{path} splits NAME=PATH itself at line {own[0].lineno}" if own else ""


def test_malformed_items_are_named_everywhere(tmp_path: Path) -> None:
    from cir.eval.efficiency import make_efficiency
    from cir.report.figures import FIGURES, make_figure
    from cir.report.visual import make_visual

    with pytest.raises(CirError, match=r"--summary '=s.json': expected EXPERIMENT=SUMMARY.json"):
        make_figure(next(iter(FIGURES)), ["=s.json"], tmp_path / "f.png")
    with pytest.raises(CirError, match=r"--test-set 'SetA': expected NAME=PAIR_DIR"):
        make_visual(["a=s.json"], "SetA", tmp_path / "v.png")
    with pytest.raises(CirError, match=r"--model 'exp=': expected EXPERIMENT=MODEL_FILE"):
        make_efficiency(["exp="], tmp_path / "e.csv", preset="p")


@pytest.mark.parametrize(("script", "args", "needle"), [
    ("make_study_table", ["--preset", "p", "--summary", "scratch:0", "--out", "t.csv"],
     "--summary 'scratch:0': expected EXPERIMENT:SEED=SUMMARY.json"),
    ("make_study_table", ["--preset", "p", "--summary", "scratch=s.json", "--out", "t.csv"],
     "expected EXPERIMENT:SEED=SUMMARY.json"),
    ("evaluate", ["--model", "m.pth", "--scale", "2", "--test-set", "=x", "--out", "s.json", "--preset", "p",
                  "--backbone", "rcan", "--method", "m"], "test set '=x': expected NAME=DIR"),
])
def test_malformed_items_are_argument_errors(script: str, args: list[str], needle: str,
                                             capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        _script(script).main(args)
    assert exc.value.code == 2 and needle in capsys.readouterr().err


# --- download errors are CirErrors; the fetch CLIs end through run_step ----------------------

def test_download_errors_are_cir_errors() -> None:
    for cls in (download.DownloadError, download.ChecksumError, download.ExtractionError,
                download.MissingFileError):
        assert issubclass(cls, CirError), cls
    assert issubclass(download.MissingFileError, download.MissingDataError)
    from cir.encoders.vqgan import MissingEncoderWeightsError  # still combines CirError and MissingDataError

    assert issubclass(MissingEncoderWeightsError, download.MissingDataError)


def test_offline_missing_file_is_missing_data_and_cir_error(tmp_path: Path) -> None:
    with pytest.raises(download.MissingDataError) as err:
        download.ensure_dataset("DIV2K_valid_HR", tmp_path / "out", tmp_path / "cache", offline=True)
    assert isinstance(err.value, CirError) and "offline mode" in str(err.value)


@pytest.mark.parametrize("failure", [
    download.ChecksumError(Path("w.pth"), "sha256", "a" * 64, "b" * 64),
    download.DownloadError("could not download w.pth into cache: HTTP 503"),
    download.ExtractionError("bundle.zip: unsafe member path '../x'"),
])
def test_download_cli_ends_through_run_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture, failure: Exception) -> None:
    cli = _script("download")

    def fail(*args: object, **kwargs: object) -> Path:
        raise failure

    monkeypatch.setattr(cli, "ensure_asset", fail)
    code = cli.main(["--asset", "RCAN_BIX2.pt", "--out", str(tmp_path / "w.pt"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err == f"error: {failure}\n"


def test_metric_assets_cli_ends_through_run_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    cli = _script("metric_assets")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = cli.main(["--asset", "brisque_matlab.mat", "--out", str(tmp_path / "hub" / "b.mat"), "--offline",
                     "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.startswith("error: ") and "offline mode" in err
    assert str(tmp_path / "hub" / "brisque_matlab.mat") in err

    def broken(*args: object, **kwargs: object) -> Path:
        raise download.ChecksumError(Path("x.mat"), "sha256", "a" * 64, "b" * 64)

    monkeypatch.setattr(cli, "ensure_asset", broken)
    assert cli.main(["--asset", "brisque_matlab.mat", "--out", str(tmp_path / "b.mat"), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: sha256 mismatch for x.mat")
    assert cli.main(["--asset", "nope.pth"]) == 2
    assert "unknown metric asset 'nope.pth'" in capsys.readouterr().err
