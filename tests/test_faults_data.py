"""Bad image data ends in one ``error: ...`` line naming the file (exit 2), never a traceback."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cir.data.images import ImageReadError, list_images, read_image, write_image
from cir.data.paired import load_pairs
from cir.errors import CirError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "workflow_scripts" / "prepare_sr.py"


def _photo(h: int = 40, w: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _bad_file(folder: Path, kind: str) -> Path:
    """One unusable file in ``folder`` next to a good image."""
    write_image(folder / "good.png", _photo())
    if kind == "truncated":
        data = (folder / "good.png").read_bytes()
        path = folder / "cut.png"
        path.write_bytes(data[: len(data) // 2])
    elif kind == "not_an_image":
        path = folder / "notes.png"
        path.write_text("this is not a picture\n")
    elif kind == "empty":
        path = folder / "empty.jpg"
        path.write_bytes(b"")
    elif kind == "float_mode":
        path = folder / "depth.tif"
        Image.fromarray(np.zeros((16, 16), dtype=np.float32)).save(path)
    else:  # 32-bit integer pixels
        path = folder / "counts.tif"
        Image.fromarray(np.zeros((16, 16), dtype=np.int32)).save(path)
    return path


@pytest.mark.parametrize("kind", ["truncated", "not_an_image", "empty", "float_mode", "int_mode"])
def test_prepare_cli_bad_image_is_one_line_exit_2(tmp_path: Path, kind: str,
                                                  capfd: pytest.CaptureFixture) -> None:
    hr = tmp_path / "hr"
    bad = _bad_file(hr, kind)
    main = runpy.run_path(str(SCRIPT))["main"]
    code = main(["--hr-dir", str(hr), "--scale", "2", "--out", str(tmp_path / "x2")])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and str(bad) in err, err
    assert not (tmp_path / "x2").exists()


@pytest.mark.slow
def test_prepare_cli_process_has_no_traceback(tmp_path: Path) -> None:
    hr = tmp_path / "hr"
    bad = _bad_file(hr, "truncated")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--hr-dir", str(hr), "--scale", "2", "--out",
                           str(tmp_path / "x2")], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: ") and str(bad) in proc.stderr


def test_prepare_cli_empty_folder(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    (tmp_path / "hr").mkdir()
    main = runpy.run_path(str(SCRIPT))["main"]
    assert main(["--hr-dir", str(tmp_path / "hr"), "--scale", "2", "--out", str(tmp_path / "x2")]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "no image files" in err and str(tmp_path / "hr") in err


def test_decoder_messages_go_into_the_error(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    bad = _bad_file(tmp_path, "truncated")
    with pytest.raises(CirError) as err:
        read_image(bad)
    assert isinstance(err.value, ImageReadError) and isinstance(err.value, OSError)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert capfd.readouterr().err == ""  # libpng's own complaint is in the message, not on stderr
    assert read_image(tmp_path / "good.png").shape == (40, 48, 3)


def test_folder_errors_are_cir_errors(tmp_path: Path) -> None:
    with pytest.raises(CirError, match="nothere"):
        list_images(tmp_path / "nothere")
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path)


def test_pair_folder_errors_name_the_file(tmp_path: Path) -> None:
    write_image(tmp_path / "LR" / "a.png", _photo(10, 12))
    write_image(tmp_path / "HR" / "a.png", _photo(20, 24))
    bad = tmp_path / "HR" / "b.png"
    bad.write_bytes((tmp_path / "HR" / "a.png").read_bytes()[:60])
    write_image(tmp_path / "LR" / "b.png", _photo(10, 12))
    with pytest.raises(CirError, match="b.png"):
        load_pairs(tmp_path, 2)
    bad.unlink()
    (tmp_path / "LR" / "b.png").unlink()
    write_image(tmp_path / "HR" / "c.png", _photo(20, 24))
    with pytest.raises(CirError, match=r"unmatched images.*c\.png"):
        load_pairs(tmp_path, 2)
    (tmp_path / "HR" / "c.png").unlink()
    (tmp_path / "manifest.json").write_text('{"scale": "four"}')
    with pytest.raises(CirError, match=r"manifest\.json.*'four'"):
        load_pairs(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CirError, match=r"cannot parse .*manifest\.json"):
        load_pairs(tmp_path)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(CirError, match=r"size mismatch at scale 3"):
        load_pairs(tmp_path, 3)
