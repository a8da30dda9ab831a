import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TORCH_HOME", str(ROOT / ".cache" / "torch"))
torch.set_num_threads(1)


class RandomPairs:
    """A deterministic stand-in for PatchSampler: batch(step) depends on (seed, step) only."""

    def __init__(self, scale=2, patch=8, batch_size=2, seed=0, fail_at=None):
        self.scale, self.patch, self.batch_size, self.seed, self.fail_at = scale, patch, batch_size, seed, fail_at

    def batch(self, step, rank=0, world_size=1):
        if self.fail_at is not None and step == self.fail_at:
            raise KeyboardInterrupt(f"simulated kill at step {step}")
        g = torch.Generator().manual_seed(self.seed * 7919 + step)
        gt = torch.rand(self.batch_size, 3, self.patch * self.scale, self.patch * self.scale, generator=g)
        lq = torch.nn.functional.avg_pool2d(gt, self.scale)
        return {"lq": lq, "gt": gt}


@pytest.fixture
def random_pairs():
    return RandomPairs


sys.path.insert(0, str(ROOT))
