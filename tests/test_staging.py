"""Staging pair folders to node-local scratch (cir.data.staging) and training from the copy."""

from __future__ import annotations

import filecmp
import os

import pytest
import torch
from _train_cli import train_smoke, write_config, write_pairs

from cir.data import paired, staging
from cir.data.staging import STAMP, StagingError, stage_pair_dir, stage_root


def tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def pairs(tmp_path):
    return write_pairs(tmp_path / "data" / "sr" / "toy" / "x2", n=3, lr_size=12)


def test_copy_is_complete_and_identical(tmp_path, pairs):
    dest = stage_pair_dir(pairs, tmp_path / "scratch")
    assert dest.parent == tmp_path / "scratch" and dest.name.startswith("toy_x2-")
    assert tree(dest) == sorted([*tree(pairs), STAMP])
    assert len([f for f in tree(pairs) if f.startswith(("LR/", "HR/"))]) == 6
    for rel in tree(pairs):
        assert filecmp.cmp(pairs / rel, dest / rel, shallow=False), rel
    # no temporary folders left behind
    assert [p.name for p in (tmp_path / "scratch").iterdir()] == [dest.name]


def test_identical_copy_is_reused(tmp_path, pairs, monkeypatch, capsys):
    dest = stage_pair_dir(pairs, tmp_path / "scratch")

    def no_copy(*args, **kwargs):
        raise AssertionError("an up-to-date staged copy was copied again")

    monkeypatch.setattr(staging.shutil, "copy2", no_copy)
    assert stage_pair_dir(pairs, tmp_path / "scratch") == dest
    assert "is up to date" in capsys.readouterr().err


def test_changed_source_is_staged_again(tmp_path, pairs):
    dest = stage_pair_dir(pairs, tmp_path / "scratch")
    changed = pairs / "HR" / "img1.png"
    data = bytearray(changed.read_bytes())
    changed.write_bytes(bytes(data) + b"\0")  # one byte longer
    assert stage_pair_dir(pairs, tmp_path / "scratch") == dest
    assert (dest / "HR" / "img1.png").read_bytes() == changed.read_bytes()
    assert len(list((tmp_path / "scratch").iterdir())) == 1


def test_a_failed_copy_leaves_nothing(tmp_path, pairs, monkeypatch):
    real = staging.shutil.copy2
    calls = []

    def fail_third(src, dst):
        calls.append(src)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(staging.shutil, "copy2", fail_third)
    with pytest.raises(OSError, match="No space left"):
        stage_pair_dir(pairs, tmp_path / "scratch")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_copy_published_meanwhile_by_another_job_is_kept(tmp_path, pairs, monkeypatch):
    """Two jobs stage the same folder at once: the second to finish keeps the first's copy."""
    real = staging.shutil.copy2
    other = {}

    def copy_then_race(src, dst):
        if not other:
            monkeypatch.setattr(staging.shutil, "copy2", real)
            other["dest"] = stage_pair_dir(pairs, tmp_path / "scratch")  # the other job, start to end
            other["inode"] = os.stat(other["dest"]).st_ino
        return real(src, dst)

    monkeypatch.setattr(staging.shutil, "copy2", copy_then_race)
    dest = stage_pair_dir(pairs, tmp_path / "scratch")
    assert dest == other["dest"] and os.stat(dest).st_ino == other["inode"]
    assert [p.name for p in (tmp_path / "scratch").iterdir()] == [dest.name]


def test_not_a_pair_folder(tmp_path):
    (tmp_path / "half" / "LR").mkdir(parents=True)
    with pytest.raises(StagingError, match=r"half is not a prepared pair folder: HR, manifest.json missing"):
        stage_pair_dir(tmp_path / "half", tmp_path / "scratch")


def test_stage_root_precedence_and_unset_variables(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CIR_STAGE_DIR", raising=False)
    monkeypatch.delenv("SLURM_TMPDIR", raising=False)
    assert stage_root(None, None) is None
    assert stage_root(None, "$SLURM_TMPDIR/cir") is None
    assert "names an unset environment variable" in capsys.readouterr().err
    monkeypatch.setenv("SLURM_TMPDIR", str(tmp_path / "job"))
    assert stage_root(None, "$SLURM_TMPDIR/cir") == tmp_path / "job" / "cir"
    monkeypatch.setenv("CIR_STAGE_DIR", str(tmp_path / "env"))
    assert stage_root(None, "$SLURM_TMPDIR/cir") == tmp_path / "env"
    assert stage_root(str(tmp_path / "cli"), "$SLURM_TMPDIR/cir") == tmp_path / "cli"


def test_training_reads_the_staged_copy(tmp_path, pairs, monkeypatch):
    """train_job with a staging directory reads the copy and trains exactly as from the source."""
    cfg = write_config(tmp_path / "config.yaml", student_iterations=3, batch_size=2, lr_patch=8)
    read = []
    real_load = paired.load_pairs

    def recording_load(pair_dir, scale=None):
        read.append(os.path.realpath(pair_dir))
        return real_load(pair_dir, scale)

    monkeypatch.setattr(paired, "load_pairs", recording_load)
    monkeypatch.delenv("CIR_STAGE_DIR", raising=False)
    common = {"train_dirs": [pairs], "val_dir": None, "threads": 1, "device": "cpu", "progress": False}
    staged_out = train_smoke(cfg, tmp_path / "staged" / "model.pt", stage_dir=str(tmp_path / "scratch"), **common)
    copy = tmp_path / "scratch" / staging.staged_name(pairs.resolve())
    assert read == [str(copy.resolve())]
    plain_out = train_smoke(cfg, tmp_path / "plain" / "model.pt", **common)
    assert read[1] == str(pairs.resolve())
    a = torch.load(staged_out, weights_only=False)
    b = torch.load(plain_out, weights_only=False)
    assert a["meta"]["train_sets"] == [str(pairs)]  # the model file names the shared data set
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
