import json
import subprocess
import sys

import pytest
from conftest import ROOT

from cir.jobs.bench import bench_experiments


def test_iteration_split_adds_up_to_the_step():
    r = bench_experiments(config_path=ROOT / "config.yaml", preset_name="smoke", task="x2", backbone="rcan",
                          experiments=["teacher", "scratch", "logits"], batch=2, patch=16, iters=2, warmup=1,
                          device="cpu", threads=1)
    assert set(r["experiments"]) == {"teacher", "scratch", "logits"}
    for name, e in r["experiments"].items():
        s = e["seconds"]
        parts = sum(v for k, v in s.items() if k != "total")
        assert parts == pytest.approx(s["total"], rel=1e-6), name
        assert all(v >= 0 for v in s.values()), s
    assert "teacher_forward" not in r["experiments"]["scratch"]["seconds"]
    assert {"data", "student_forward", "backward", "optimizer", "after_step", "loss"} <= set(r["experiments"]["scratch"]["seconds"])
    assert r["experiments"]["logits"]["seconds"]["teacher_forward"] > 0.0
    assert r["experiments"]["logits"]["teacher_parameters"] > r["experiments"]["logits"]["student_parameters"]


def test_dckd_split_reports_history_and_encoder():
    r = bench_experiments(config_path=ROOT / "config.yaml", preset_name="smoke", task="x2", backbone="rcan",
                          experiments=["dckd"], batch=2, patch=16, iters=1, warmup=0, device="cpu", threads=1)
    e = r["experiments"]["dckd"]
    assert e["seconds"]["history_forward"] > 0 and e["seconds"]["encoder_forward"] > 0
    assert e["stand_ins"] and "random" in e["stand_ins"][0]
    assert sum(v for k, v in e["seconds"].items() if k != "total") == pytest.approx(e["seconds"]["total"], rel=1e-6)
    alone = e["parts_alone"]
    assert {"student_forward_backward", "teacher_forward", "history_forward", "encoder_negatives",
            "encoder_anchor_forward_backward", "losses_forward_backward", "optimizer", "after_step"} <= set(alone)
    assert alone["sum"] == pytest.approx(sum(v for k, v in alone.items() if k != "sum"))
    assert e["step_over_parts_alone"] == pytest.approx(e["seconds"]["total"] / alone["sum"])


@pytest.mark.slow
def test_cli_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "workflow_scripts/bench_step.py", "--preset", "smoke", "--task", "x2",
                           "--backbone", "swinir", "--iters", "1", "--warmup", "0", "--device", "cpu",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["batch"] == 2 and data["lr_patch"] == 16 and data["device"] == "cpu"
    assert "logits" in proc.stdout
