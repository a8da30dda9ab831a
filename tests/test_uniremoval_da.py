"""Uni-Removal's domain adaptation (cir/methods/uniremoval.py UniRemovalDA) and its unpaired sampler
(cir/data/unpaired.py): the GAN, identity and extended contrastive terms by hand, Table V's
switches, and an exact resume of the student with the discriminator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cir.data.images import write_image
from cir.data.unpaired import UnpairedSampler
from cir.engine import Trainer, TrainSettings
from cir.errors import ConfigError, DataError
from cir.losses.uniremoval import lsgan_discriminator_loss, lsgan_generator_loss
from cir.methods import get_method
from cir.models import build_model

TINY = {"n_feat": 8, "scale_unetfeats": 4, "scale_orsnetfeats": 4, "num_cab": 1}
BASE = {"encoder_stand_in": True, "encoder_stand_in_divisor": 8, "vgg_layers": ["relu1_1"], "vgg_weights": [1.0],
        "tau": 0.5, "steps_per_epoch": 10, "discriminator": {"ndf": 8, "n_layers": 2, "norm": "instance"}}


def method(**options):
    torch.manual_seed(0)
    return get_method("uniremoval_da")(build_model("mprnet", 1, **TINY), None, {**BASE, **options})


def batch(tasks=(0, 1, 2, 0)):
    g = torch.Generator().manual_seed(4)
    return {"lq": torch.rand(len(tasks), 3, 16, 16, generator=g), "clear": torch.rand(len(tasks), 3, 16, 16, generator=g),
            "task": torch.tensor(tasks)}


def folders(root, n_dirs, n_images, size=24):
    out = []
    rng = np.random.default_rng(0)
    for d in range(n_dirs):
        for i in range(n_images):
            write_image(root / f"d{d}" / f"img{i}.png", rng.integers(0, 256, (size, size + 4, 3), dtype=np.uint8))
        out.append(root / f"d{d}")
    return out


def test_unpaired_sampler_is_a_function_of_the_step(tmp_path):
    degraded = folders(tmp_path / "real", 3, 2)
    clear = folders(tmp_path / "clear", 1, 3)
    s = UnpairedSampler(degraded, clear, 16, 4, seed=2)
    a, b = s.batch(5), UnpairedSampler(degraded, clear, 16, 4, seed=2).batch(5)
    assert all(torch.equal(a[k], b[k]) for k in a) and set(a) == {"lq", "task", "clear"}
    assert a["lq"].shape == a["clear"].shape == (4, 3, 16, 16) and a["task"].dtype == torch.int64
    assert not torch.equal(s.batch(6)["lq"], a["lq"])
    halves = [s.batch(5, r, 2) for r in (0, 1)]
    assert all(torch.equal(torch.cat([h[k] for h in halves]), a[k]) for k in a)
    assert set(np.concatenate([s.plan(t)["task"] for t in range(50)]).tolist()) == {0, 1, 2}
    with pytest.raises(DataError, match="smaller than the patch 32"):
        UnpairedSampler(degraded, clear, 32, 4, seed=2)


def test_unpaired_sampler_disk_storage_gives_the_same_batches(tmp_path):
    degraded = folders(tmp_path / "real", 2, 3)
    clear = folders(tmp_path / "clear", 1, 2)
    mem = UnpairedSampler(degraded, clear, 16, 4, seed=1, storage="memory")
    disk = UnpairedSampler(degraded, clear, 16, 4, seed=1, memory_limit=1, cache_dir=tmp_path / "cache")
    assert mem.storage == "memory" and disk.storage == "disk"
    assert disk.fill_cache() == 6 + 2 and disk.fill_cache() == 0
    for step in (0, 3):
        a, b = mem.batch(step), disk.batch(step)
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 8


def test_generator_terms_by_hand():
    m = method(eicl=False, efcl=False)
    b = batch()
    context = {}
    out = m.phase("g", b, 0, context)
    assert set(out.losses) == {"gan", "idt"}
    with torch.no_grad():
        restored = m.student(b["lq"])
        restored_clear = m.student(b["clear"])
        gan = lsgan_generator_loss(m.discriminator(restored))
    assert float(out.losses["idt"].detach()) == pytest.approx(0.1 * float((restored_clear - b["clear"]).abs().mean()),
                                                              rel=1e-4)
    assert float(out.losses["gan"].detach()) == pytest.approx(float(gan), rel=1e-4)
    d = m.phase("d", b, 0, context)   # the clear images are "real", the restored degraded ones "fake"
    with torch.no_grad():
        expected = lsgan_discriminator_loss(m.discriminator(b["clear"]), m.discriminator(context["fake"]), d_weight=0.5)
    assert float(d.losses["d"].detach()) == pytest.approx(float(expected), rel=1e-5)
    other = method(eicl=False, efcl=False, d_real="restored_clear")
    ctx = {}
    other.phase("g", b, 0, ctx)
    assert not torch.equal(ctx["real"], b["clear"]) and not ctx["real"].requires_grad


def test_extended_contrastive_terms_and_decay():
    m = method()
    out = m.phase("g", batch(), 25, {})
    assert set(out.losses) == {"gan", "idt", "eig", "efg"}
    assert float(out.logs["lambda1"]) == pytest.approx(0.5 * 0.99 ** 2)
    assert float(out.losses["eig"].detach()) > 0
    one_type = m.phase("g", batch((2, 2, 2, 2)), 0, {})   # no degraded sample of another type: no negative
    assert float(one_type.losses["efg"]) == 0.0


def test_bad_options_name_the_key():
    with pytest.raises(ConfigError, match=r"options\.discriminator: .*'width'"):
        method(discriminator={"width": 2})
    with pytest.raises(ConfigError, match=r"options\.vgg_weights: 2 weights for 1 vgg_layers"):
        method(vgg_weights=[1.0, 2.0])


def test_resumes_exactly_with_the_discriminator(tmp_path):
    degraded, clear = folders(tmp_path / "real", 3, 2), folders(tmp_path / "clear", 1, 2)

    class Killing(UnpairedSampler):
        fail_at = None

        def batch(self, step, rank=0, world_size=1):
            if step == self.fail_at:
                raise KeyboardInterrupt("simulated kill")
            return super().batch(step, rank, world_size)

    def trainer(run, fail_at=None):
        sampler = Killing(degraded, clear, 16, 2, seed=1)
        sampler.fail_at = fail_at
        s = TrainSettings(iterations=4, batch_size=2, optimizer={"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
                          scheduler={"name": "constant"}, checkpoint_every=1, val_every=100, log_every=1,
                          tensorboard=False, progress=False, device="cpu")
        return Trainer(method(), sampler, s, tmp_path / run)

    full = trainer("full")
    full.fit(tmp_path / "full.pt")
    killed = trainer("killed", fail_at=2)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(tmp_path / "killed.pt")
    again = trainer("killed")
    again.fit(tmp_path / "killed.pt")
    for x, y in ((full.student, again.student), (full.method.discriminator, again.method.discriminator)):
        a, b = x.state_dict(), y.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
