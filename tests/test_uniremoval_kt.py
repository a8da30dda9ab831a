"""Uni-Removal's knowledge-transfer method (cir/methods/uniremoval.py): each sample distilled from
its own task's teacher, the image- and feature-grained terms, Table IV's switches and the decay."""

from __future__ import annotations

import pytest
import torch
from _train_cli import write_pairs

from cir.data.paired import PatchSampler
from cir.engine import Trainer, TrainSettings
from cir.errors import ConfigError
from cir.losses.uniremoval import contrastive_loss, flatten_features
from cir.methods import get_method
from cir.models import build_model
from cir.models.taps import FeatureTaps

TINY = {"n_feat": 8, "scale_unetfeats": 4, "scale_orsnetfeats": 4, "num_cab": 1}
BASE = {"encoder_stand_in": True, "encoder_stand_in_divisor": 8, "vgg_layers": ["relu1_1", "relu2_1"],
        "vgg_weights": [0.5, 1.0], "tau": 0.5, "steps_per_epoch": 10}


def net(seed):
    torch.manual_seed(seed)
    return build_model("mprnet", 1, **TINY)


def method(**options):
    teachers = {"haze": net(1), "rain": net(2), "blur": net(3)}
    return get_method("uniremoval_kt")(net(0), teachers, {**BASE, **options})


def batch(tasks=(0, 1, 2, 0)):
    g = torch.Generator().manual_seed(5)
    lq = torch.rand(len(tasks), 3, 16, 16, generator=g)
    return {"lq": lq, "gt": lq.flip(-1), "task": torch.tensor(tasks)}


def test_each_sample_is_distilled_from_its_own_teacher():
    m = method(icl=False, fcl=False)
    b = batch()
    out = m.training_step(b, 0)
    assert set(out.losses) == {"pixel"} and m.encoder is None
    with torch.no_grad():
        s = m.student(b["lq"])
        t = torch.stack([m.teachers[["haze", "rain", "blur"][k]](b["lq"][i:i + 1])[0]
                         for i, k in enumerate(b["task"].tolist())])
    assert float(out.losses["pixel"].detach()) == pytest.approx(float((s - t).abs().mean()), rel=1e-5)


def test_feature_grained_negatives_are_other_tasks_and_alpha1_decays():
    m = method(icl=False)
    b = batch()
    out = m.training_step(b, 25)                      # epoch 2 of 10 steps: alpha1 = 0.5 * 0.99^2
    assert float(out.logs["alpha1"]) == pytest.approx(0.5 * 0.99 ** 2)
    with torch.no_grad():
        layer = "net.stage3_orsnet"
        with FeatureTaps(m.student, [layer]) as taps:
            m.student(b["lq"])
            fs = flatten_features(taps.feature(layer))
        ft = []
        for i, k in enumerate(b["task"].tolist()):
            teacher = m.teachers[["haze", "rain", "blur"][k]]
            with FeatureTaps(teacher, [layer]) as taps:
                teacher(b["lq"][i:i + 1])
                ft.append(flatten_features(taps.feature(layer))[0])
        mask = b["task"][:, None] != b["task"][None, :]
        fg = contrastive_loss(fs, torch.stack(ft), fs.unsqueeze(0).expand(4, -1, -1), tau=0.5, negative_mask=mask)
    assert float(out.losses["fg"]) == pytest.approx(0.1 * 0.5 * 0.99 ** 2 * float(fg), rel=1e-4)
    same_task = m.training_step(batch((1, 1, 1, 1)), 0)   # no negative of another task: -log(P/P) = 0
    assert float(same_task.losses["fg"]) == 0.0


def test_image_grained_term_and_switches():
    full = method().training_step(batch(), 0)
    assert set(full.losses) == {"pixel", "ig", "fg"} and float(full.losses["ig"]) > 0
    assert set(method(fcl=False).training_step(batch(), 0).losses) == {"pixel", "ig"}


def test_teachers_of_another_width_need_fcl_off():
    """An official release (MPRNet deblurring: 96/48/32) beside teachers trained here: the
    feature-grained term cannot compare its features, which is a clear error; without it, it trains."""
    torch.manual_seed(4)
    wide = build_model("mprnet", 1, **{**TINY, "n_feat": 12, "value_range": "0_1"})
    teachers = {"haze": net(1), "rain": net(2), "blur": wide}
    with pytest.raises(ConfigError, match=r"options\.fcl: teacher 'blur' gives features of shape"):
        get_method("uniremoval_kt")(net(0), teachers, BASE).training_step(batch(), 0)
    with pytest.raises(ConfigError, match=r"options\.fcl: the teachers' features .* the student's"):
        get_method("uniremoval_kt")(net(0), {"haze": wide, "rain": wide, "blur": wide}, BASE).training_step(batch(), 0)
    out = get_method("uniremoval_kt")(net(0), teachers, {**BASE, "fcl": False}).training_step(batch(), 0)
    assert set(out.losses) == {"pixel", "ig"} and torch.isfinite(out.losses["ig"])


def test_bad_input_names_the_key():
    with pytest.raises(ConfigError, match=r"options\.task_teachers: .* once"):
        method(task_teachers=["haze", "haze", "blur"])
    with pytest.raises(ConfigError, match=r"options\.feature_layer: .*no layer 'net\.nope'"):
        method(feature_layer="net.nope")
    b = batch()
    del b["task"]
    with pytest.raises(ConfigError, match="needs task labels"):
        method().training_step(b, 0)


def test_trains_with_a_labelled_sampler_and_resumes_exactly(tmp_path):
    dirs = [write_pairs(tmp_path / t, n=2, scale=1, lr_size=24, seed=i) for i, t in enumerate(("h", "r", "b"))]

    def trainer(run, fail_at=None):
        sampler = PatchSampler(dirs, 1, 16, 3, seed=1, labelled=True)
        if fail_at is not None:
            real = sampler.batch

            def batch_at(step, rank=0, world_size=1):
                if step == fail_at:
                    raise KeyboardInterrupt("simulated kill")
                return real(step, rank, world_size)

            sampler.batch = batch_at
        s = TrainSettings(iterations=4, batch_size=3, optimizer={"name": "adam", "lr": 1e-3},
                          scheduler={"name": "constant"}, checkpoint_every=1, val_every=100, log_every=1,
                          tensorboard=False, progress=False, device="cpu")
        return Trainer(method(), sampler, s, tmp_path / run)

    full = trainer("full")
    before = [p.clone() for t in full.method.teachers.values() for p in t.parameters()]
    full.fit(tmp_path / "full.pt")
    after = [p for t in full.method.teachers.values() for p in t.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after))          # frozen teachers
    killed = trainer("killed", fail_at=2)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(tmp_path / "killed.pt")
    again = trainer("killed")
    again.fit(tmp_path / "killed.pt")
    a, b = full.student.state_dict(), again.student.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
