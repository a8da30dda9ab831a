"""The run identity (spec hash + digests of the job's input files) is the trainer's resume key:
an unchanged rerun resumes, a changed teacher, data set or option trains again from step 0, a
finished run is never "resumed" (snakemake --forcerun retrains), and one run folder has one writer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from _train_cli import train_smoke, write_config, write_pairs

from cir import config as cfgmod
from cir import spec as spec_mod
from cir.engine.trainer import run_lock
from cir.errors import CirError, ConfigError

KW = {"val_dir": None, "threads": 1, "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("identity")
    pairs = write_pairs(root / "pairs", n=3, lr_size=16)
    cfg = write_config(root / "config.yaml", teacher_iterations=3, student_iterations=3, batch_size=2, lr_patch=8,
                       checkpoint_every=1, scheduler={"name": "constant"})
    teacher = train_smoke(cfg, root / "teacher" / "model.pt", "teacher", train_dirs=[pairs], **KW)
    return root, pairs, cfg, teacher


def interrupted(run: Path) -> None:
    """Leave the run as a job killed after its last checkpoint leaves it: a last.pt, no model file."""
    shutil.copy(run / "checkpoints" / "final.pt", run / "checkpoints" / "last.pt")
    (run / "model.pt").unlink()


def student(cfg, out, teacher, pairs, capfd, **options):
    train_smoke(cfg, out, "logits", teachers={"teacher": teacher}, train_dirs=[pairs], **KW)
    return capfd.readouterr().err


def test_unchanged_rerun_resumes(setup, tmp_path, capfd):
    _, pairs, cfg, teacher = setup
    out = tmp_path / "s" / "model.pt"
    student(cfg, out, teacher, pairs, capfd)
    first = torch.load(out, weights_only=False)
    interrupted(out.parent)
    err = student(cfg, out, teacher, pairs, capfd)
    assert "resumed from" in err and "at step 3" in err
    again = torch.load(out, weights_only=False)
    assert all(torch.equal(first["model"][k], again["model"][k]) for k in first["model"])
    assert first["meta"]["identity"] == again["meta"]["identity"]


def test_a_changed_teacher_retrains_from_step_0(setup, tmp_path, capfd):
    _, pairs, cfg, teacher = setup
    out = tmp_path / "s" / "model.pt"
    student(cfg, out, teacher, pairs, capfd)
    interrupted(out.parent)
    cfg2 = write_config(tmp_path / "config2.yaml", teacher_iterations=2, student_iterations=3, batch_size=2,
                        lr_patch=8, checkpoint_every=1, scheduler={"name": "constant"})
    new_teacher = train_smoke(cfg2, tmp_path / "teacher2" / "model.pt", "teacher", train_dirs=[pairs], **KW)
    shutil.copy(new_teacher, tmp_path / "teacher.pt")
    err = student(cfg, out, tmp_path / "teacher.pt", pairs, capfd)
    assert "belongs to another run" in err and "from step 0 to 3" in err and "resumed" not in err


def test_changed_data_retrains_from_step_0(setup, tmp_path, capfd):
    _, pairs, cfg, teacher = setup
    out = tmp_path / "s" / "model.pt"
    student(cfg, out, teacher, pairs, capfd)
    interrupted(out.parent)
    more = write_pairs(tmp_path / "more", n=4, lr_size=16)   # another manifest
    err = student(cfg, out, teacher, more, capfd)
    assert "belongs to another run" in err and "from step 0 to 3" in err


def test_a_changed_option_retrains_from_step_0(setup, tmp_path, capfd):
    _, pairs, cfg, teacher = setup
    out = tmp_path / "s" / "model.pt"
    student(cfg, out, teacher, pairs, capfd)
    interrupted(out.parent)
    conf = cfgmod.load_yaml(cfg)
    conf["experiments"]["logits"]["options"]["w_kd"] = 0.5
    changed = tmp_path / "changed.yaml"
    import yaml

    changed.write_text(yaml.safe_dump(conf))
    err = student(changed, out, teacher, pairs, capfd)
    assert "belongs to another run" in err and "from step 0 to 3" in err
    assert spec_mod.load_spec(out.parent / "spec.json")["options"]["w_kd"] == 0.5


def test_deleting_the_model_file_retrains(setup, tmp_path, capfd):
    """What `snakemake --forcerun` does: the finished run's checkpoint is final.pt, never resumed."""
    _, pairs, cfg, teacher = setup
    out = tmp_path / "s" / "model.pt"
    student(cfg, out, teacher, pairs, capfd)
    assert (out.parent / "checkpoints" / "final.pt").exists()
    assert not (out.parent / "checkpoints" / "last.pt").exists()
    out.unlink()
    err = student(cfg, out, teacher, pairs, capfd)
    assert "from step 0 to 3" in err and "resumed" not in err


def test_a_student_model_file_is_not_a_teacher(setup, tmp_path):
    _, pairs, cfg, teacher = setup
    out = tmp_path / "s" / "model.pt"
    train_smoke(cfg, out, "logits", teachers={"teacher": teacher}, train_dirs=[pairs], **KW)
    with pytest.raises(ConfigError, match=r"--teacher teacher=.*model\.pt: a student model file \(experiment 'logits'\)"):
        train_smoke(cfg, tmp_path / "s2" / "model.pt", "logits", teachers={"teacher": out}, train_dirs=[pairs], **KW)
    with pytest.raises(ConfigError, match=r"the spec's teachers are \['teacher'\]; given: none"):
        train_smoke(cfg, tmp_path / "s3" / "model.pt", "logits", train_dirs=[pairs], **KW)


def test_one_training_process_per_run_folder(setup, tmp_path):
    _, pairs, cfg, _ = setup
    out = tmp_path / "busy" / "model.pt"
    with run_lock(out.parent), pytest.raises(CirError, match=r"another training process \(pid \d+\) is using this run folder"):
        train_smoke(cfg, out, "scratch", train_dirs=[pairs], **KW)
    assert not (out.parent / "train_log.csv").exists()   # nothing written by the refused process
