"""Damaged checkpoint files and failed checkpoint writes end in one CirError naming the file."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from cir.engine import checkpoint as ckpt
from cir.errors import CirError

REPO = Path(__file__).resolve().parents[1]


def _state(n: int = 20000) -> dict:
    return {"step": 7, "student": {"w": torch.arange(n, dtype=torch.float32)}}


@pytest.mark.parametrize("damage", ["half", "empty", "garbage", "head"])
def test_damaged_checkpoint_names_file_and_remedy(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "checkpoints" / "last.pt"
    ckpt.save(path, _state())
    data = path.read_bytes()
    damaged = {"half": data[: len(data) // 2], "empty": b"", "garbage": b"\x80\x04garbage" * 10,
               "head": data[:40]}[damage]
    path.write_bytes(damaged)
    with pytest.raises(CirError) as err:
        ckpt.load(path)
    msg = str(err.value)
    assert isinstance(err.value, ckpt.CheckpointError)
    assert str(path) in msg and "\n" not in msg
    assert ("empty" if damage == "empty" else "truncated or corrupt") in msg
    assert "delete it" in msg and "step 0" in msg and "restore it" in msg


def test_missing_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(CirError, match="not found: .*nothing.pt"):
        ckpt.load(tmp_path / "nothing.pt")


def test_good_checkpoint_round_trips(tmp_path: Path) -> None:
    ckpt.save(tmp_path / "last.pt", _state(10))
    assert ckpt.load(tmp_path / "last.pt")["step"] == 7


@pytest.mark.parametrize("failure", [
    RuntimeError("[enforce fail at inline_container.cc:672] . basic_ios::clear: iostream error"),
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),
    OSError(errno.ENOSPC, "No space left on device"),
])
def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         failure: Exception) -> None:
    path = tmp_path / "last.pt"
    ckpt.save(path, _state(10))
    before = path.read_bytes()
    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise failure

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CirError) as err:
        ckpt.save(path, _state())
    msg = str(err.value)
    assert str(path) in msg and "no space left on device" in msg and "unchanged" in msg
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    monkeypatch.setattr(torch, "save", real_save)
    assert ckpt.load(path)["step"] == 7


def test_failed_first_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(obj, f, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CirError, match=r"cannot write .*model\.pth: no space left on device; no file was written"):
        ckpt.save(tmp_path / "out" / "model.pth", _state())
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics of Linux")
@pytest.mark.slow
def test_real_file_size_limit(tmp_path: Path) -> None:
    """A real short write: the process may not grow any file beyond 64 kB."""
    path = tmp_path / "last.pt"
    script = textwrap.dedent(f"""
        import resource, signal, sys
        import torch
        from cir.engine import checkpoint as ckpt
        from cir.errors import CirError
        ckpt.save({str(path)!r}, {{"step": 1}})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        try:
            ckpt.save({str(path)!r}, {{"step": 2, "w": torch.zeros(200000)}})
        except CirError as exc:
            print(exc)
            sys.exit(3)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert str(path) in proc.stdout and "cannot write" in proc.stdout and "unchanged" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    assert ckpt.load(path)["step"] == 1
