"""Data-parallel training (cir.engine.distributed) on the CPU with gloo: two ranks against one process.

Why the weights may differ at all: with ranks r = 0, 1 each holding half of the global batch,
DDP averages the two half-batch mean gradients, ``(g_0 + g_1) / 2``, while one process takes
the mean over the whole batch in one reduction. Both are the gradient of the same mean loss
(equal halves), evaluated with a different summation order, so they differ by float32
rounding (about 1e-7 relative per step). Adam divides by sqrt(v) + eps, which can amplify such
differences where a gradient is tiny; measured after 6 steps: 1e-7 (supervised), 5e-8 (logits),
so the tolerance is 1e-6, far below the size of one optimiser step (lr = 2e-3 here): a wrong
batch split, a missing all-reduce or a per-rank sum instead of a mean changes weights by the
size of the updates themselves (checked: ``test_tolerance_separates_a_wrong_split``).

The small adversarial method of tests/_adversarial.py adds a critic, a second trainable group
with its own optimiser whose gradients the trainer averages by hand: both groups must stay
identical across ranks and match one process. Cria-CL's generator and PatchGAN discriminator (with
and without BatchNorm) must stay identical across ranks; its batch-level objective does not split
into per-rank means (see METHODS), so it is not compared with one process.

MiPKD runs with options that draw no random numbers (mask ratio 0, always the student's
blocks), so that its mixers - trainable parameters outside the student, averaged by the trainer
rather than by DDP - are compared too. DCKD draws its degradations per rank: its two-rank run is
checked for ranks that agree (weights, EMA, history model), not against one process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
from _adversarial import TinyAdversarial  # noqa: F401 - registers the method in every rank process
from _train_cli import env, train_cmd, train_smoke, wait_for_step, write_config, write_pairs

from cir.data.paired import PatchSampler
from cir.engine import Trainer, TrainSettings
from cir.engine import checkpoint as ckpt
from cir.engine import distributed as ddp
from cir.engine.preempt import PREEMPT_EXIT_CODE
from cir.methods import get_method
from cir.models import build_model

WORLD = 2
STEPS = 6
ATOL = 1e-6  # see the module docstring
DCKD_OPTIONS = {"encoder_stand_in": True, "history_schedule": [[0, 2]], "num_negatives": 3,
                "source_ema_decay": 0.5}
CRIACL_OPTIONS = {"encoder_stand_in": True, "encoder_stand_in_divisor": 8}
METHODS = {  # name -> (student groups, teacher groups or None, options)
    "supervised": (1, None, {}),
    "logits": (1, 1, {}),
    "mipkd": (2, 4, {"mask_ratio": 0.0, "student_block_prob": 1.0}),
    "dckd": (1, 1, DCKD_OPTIONS),
    "tiny_adversarial": (1, None, {}),   # two trainable groups: the student and a critic (tests/_adversarial.py)
    # Cria-CL: its two-branch generator at x4 and the PatchGAN discriminator, with and without the
    # public code's BatchNorm. Its objective is not a mean of per-image terms: the criteria are
    # nonlinear functions of batch-mean losses and RaGAN compares each logit with the batch mean of
    # the others (BatchNorm normalises per batch too), so each rank optimises its half batch's
    # objective and the averaged gradient is not one process's; the ranks must agree exactly
    "criacl": (None, None, {**CRIACL_OPTIONS, "discriminator": {"ndf": 8, "n_layers": 2, "norm": "none"}}),
    "criacl_bn": (None, None, {**CRIACL_OPTIONS, "discriminator": {"ndf": 8, "n_layers": 2, "norm": "batch"}}),
}
SCALE = {"criacl": 4, "criacl_bn": 4}   # the others train at x2


def tiny(seed, groups=1, method=None):
    torch.manual_seed(seed)
    if method in SCALE:
        return build_model("criacl", 4, nf=8, nb=1, gc=4, head="paper")
    return build_model("rcan", 2, n_resgroups=groups, n_resblocks=1, n_feats=8, reduction=4)


def settings(**kw):
    base = {"iterations": STEPS, "batch_size": 4, "optimizer": {"name": "adam", "lr": 2e-3, "betas": [0.9, 0.99]},
            "scheduler": {"name": "multistep", "milestones": [4], "gamma": 0.5}, "ema_decay": 0.5,
            "checkpoint_every": 3, "val_every": 100, "log_every": 1, "tensorboard": False, "progress": False,
            "device": "cpu", "seed": 3}
    return TrainSettings(**{**base, **kw})


def make_trainer(method, pairs, run_dir, parallel=None):
    groups, teacher_groups, options = METHODS[method]
    student = tiny(0, groups, method)
    teacher = tiny(1, teacher_groups) if teacher_groups else None
    torch.manual_seed(2)  # random stand-ins a method builds (DCKD's encoder, Cria-CL's discriminator)
    m = get_method(method.removesuffix("_bn"))(student, teacher, options)
    scale = SCALE.get(method, 2)
    sampler = PatchSampler([pairs[scale]], scale, 8, 4, seed=5)
    return Trainer(m, sampler, settings(), run_dir, parallel=parallel)


def final_state(trainer):
    clone = {k: v.detach().clone() for k, v in trainer.student.state_dict().items()}
    return {"student": clone, "ema": {k: v.clone() for k, v in trainer.ema.state_dict().items()},
            "trainable": [p.detach().clone() for g in trainer.method.groups
                          for p in trainer.method.trainable_parameters(g)],
            "method": list(ddp._tensors(trainer.method.state_dict())), "step": trainer.step}


def _rank_main(rank, port, pairs, out_dir):
    """One rank of the spawned job: trains both methods, saves its final state, and lists the
    files it wrote through cir.engine.checkpoint.save."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    saved = []
    real_save = ckpt.save

    def spy(path, obj):
        saved.append(str(path))
        real_save(path, obj)

    ckpt.save = spy
    parallel, _ = ddp.setup("cpu")
    try:
        for method in METHODS:
            t = make_trainer(method, pairs, out_dir / method, parallel)
            t.fit(out_dir / method / "model.pt")
            torch.save(final_state(t), out_dir / f"{method}-rank{rank}.pt")
    finally:
        ddp.teardown()
        ckpt.save = real_save
    torch.save(saved, out_dir / f"saved-rank{rank}.pt")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def max_diff(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_step_seed_rank0_is_the_single_process_seed():
    assert ddp.step_seed(3, 7, 0) == 3 * 1_000_003 + 7
    seeds = {ddp.step_seed(3, 7, r) for r in range(4)}
    assert len(seeds) == 4  # every rank draws its own numbers
    assert ddp.step_seed(3, 7, 1) == ddp.step_seed(3, 7, 1)  # a function of (seed, step, rank)
    assert ddp.step_seed(3, 8, 1) != ddp.step_seed(3, 7, 1)
    assert all(0 <= s < 2**64 for s in seeds)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    return {2: write_pairs(root / "x2", n=3, lr_size=16), 4: write_pairs(root / "x4", n=3, scale=4, lr_size=12)}


@pytest.fixture(scope="module")
def spawned(tmp_path_factory, pairs):
    out = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_rank_main, args=(free_port(), pairs, out), nprocs=WORLD, join=True, start_method="spawn")
    return out


def assert_ranks_agree(r0, r1):
    assert r0["step"] == r1["step"] == STEPS
    for part in ("student", "ema"):
        for k in r0[part]:
            assert torch.equal(r0[part][k], r1[part][k]), (part, k)
    for part in ("trainable", "method"):
        assert len(r0[part]) == len(r1[part])
        assert all(torch.equal(a, b) for a, b in zip(r0[part], r1[part])), part


@pytest.mark.parametrize("method", ["supervised", "logits", "mipkd", "tiny_adversarial"])
@pytest.mark.slow
def test_two_ranks_match_one_process(tmp_path, pairs, spawned, method):
    single = make_trainer(method, pairs, tmp_path / "single")
    single.fit(tmp_path / "single" / "model.pt")
    ref = final_state(single)
    r0 = torch.load(spawned / f"{method}-rank0.pt")
    r1 = torch.load(spawned / f"{method}-rank1.pt")
    # the ranks agree exactly: same all-reduced gradients, same optimiser, EMA from the same weights
    assert_ranks_agree(r0, r1)
    # against one process with the same global batch: float rounding only
    diff = max(float((a - b).abs().max()) for a, b in zip(r0["trainable"], ref["trainable"]))
    moved = max_diff(ref["student"], tiny(0, METHODS[method][0], method).state_dict())
    print(f"{method}: max |w_ddp - w_single| = {diff:.3g}, max |w_single - w_init| = {moved:.3g}")
    assert diff <= ATOL
    assert moved > 100 * ATOL  # training moved the weights far more than the tolerance
    assert max_diff(r0["ema"], ref["ema"]) <= ATOL
    # the model file written by rank 0 holds the same weights
    model = torch.load(spawned / method / "model.pt", weights_only=False)
    assert all(torch.equal(model["model"][k], r0["student"][k]) for k in model["model"])


@pytest.mark.parametrize("method", ["criacl", "criacl_bn"])
@pytest.mark.slow
def test_criacl_generator_and_discriminator_stay_identical_across_ranks(spawned, method):
    r0 = torch.load(spawned / f"{method}-rank0.pt")
    r1 = torch.load(spawned / f"{method}-rank1.pt")
    n_student = len(list(tiny(0, method=method).parameters()))
    assert len(r0["trainable"]) > n_student   # generator and discriminator
    assert_ranks_agree(r0, r1)
    # the discriminator trained: its weights left their (shared) initialisation
    torch.manual_seed(2)
    from cir.models.criacl import build_patch_discriminator

    d0 = build_patch_discriminator(**METHODS[method][2]["discriminator"])
    assert max(float((a - b).abs().max()) for a, b in zip(r0["trainable"][n_student:], d0.parameters())) > 1e-4


@pytest.mark.slow
def test_dckd_history_model_stays_identical_across_ranks(spawned):
    r0 = torch.load(spawned / "dckd-rank0.pt")
    r1 = torch.load(spawned / "dckd-rank1.pt")
    assert len(r0["method"]) > 0  # history model and its EMA source
    assert_ranks_agree(r0, r1)


@pytest.mark.slow
def test_only_rank_zero_writes(spawned):
    saved0 = torch.load(spawned / "saved-rank0.pt")
    saved1 = torch.load(spawned / "saved-rank1.pt")
    assert saved1 == []
    for method in METHODS:
        # checkpoints at steps 3 and 6, then the model file
        assert saved0.count(str(spawned / method / "checkpoints" / "last.pt")) == 2
        assert str(spawned / method / "model.pt") in saved0
        with open(spawned / method / "train_log.csv") as f:
            steps = [line.split(",")[0] for line in f.read().splitlines()[1:]]
        assert steps == [str(s) for s in range(1, STEPS + 1)]  # one writer: each step once


def test_tolerance_separates_a_wrong_split(tmp_path, pairs):
    """Training on half of the batch (what a rank would do without the all-reduce) moves the
    weights by far more than the tolerance used above."""
    full = make_trainer("supervised", pairs, tmp_path / "full")
    full.fit(tmp_path / "full.pt")

    class FirstHalf(PatchSampler):
        def batch(self, step, rank=0, world_size=1):
            return super().batch(step, 0, 2)

    half = make_trainer("supervised", pairs, tmp_path / "half")
    half.sampler = FirstHalf([pairs[2]], 2, 8, 4, seed=5)
    half.fit(tmp_path / "half.pt")
    assert max_diff(final_state(full)["student"], final_state(half)["student"]) > 100 * ATOL


@pytest.mark.slow
def test_torchrun_launch_stops_on_signal_and_resumes(tmp_path, pairs):
    """train.py --nproc-per-node 2 runs under torchrun; SIGUSR1 to the launcher stops both ranks
    after a common step with a checkpoint and exit code 75; the restarted job finishes, and its
    weights match one process trained on the same global batches."""
    steps = 200
    cfg = write_config(tmp_path / "config.yaml", student_iterations=steps, batch_size=4, lr_patch=8,
                       ema_decay=0.0, seed=1)
    out = tmp_path / "ddp" / "model.pt"
    # with staging: local rank 0 copies the pair folder, rank 1 finds the copy
    cmd = train_cmd(cfg, pairs[2], out, "--nproc-per-node", "2", "--stage-dir", str(tmp_path / "scratch"))
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_for_step(proc, out.parent / "train_log.csv", 3)
        proc.send_signal(signal.SIGUSR1)
        log, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == PREEMPT_EXIT_CODE, log[-3000:]
    assert "torchrun --standalone --nproc_per_node=2" in log
    assert log.count(f"[cir] staged {pairs[2].resolve()}") == 1 and "is up to date" in log
    state = ckpt.load(out.parent / "checkpoints" / "last.pt")
    assert 3 <= state["step"] < steps, state["step"]
    assert not out.exists()

    done = subprocess.run(cmd, check=False, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resumed from {out.parent / 'checkpoints' / 'last.pt'} at step {state['step']}" in done.stderr

    ref = train_smoke(cfg, tmp_path / "single" / "model.pt", train_dirs=[pairs[2]], val_dir=None, threads=1,
                      device="cpu", progress=False)
    a = torch.load(out, weights_only=False)
    b = torch.load(ref, weights_only=False)
    assert a["meta"]["world_size"] == 2 and b["meta"]["world_size"] == 1
    diff = max_diff(a["model"], b["model"])
    print(f"torchrun 2 ranks, {steps} steps with a stop and resume: max |w_ddp - w_single| = {diff:.3g}")
    assert diff <= 1e-5  # 200 Adam steps of float rounding (measured: 5e-8); see the module docstring


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-s"]))
