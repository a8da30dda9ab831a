"""Time one training iteration (teacher pretraining, Scratch, Logits, ...) at a preset's model sizes.

Writes a JSON file with seconds per part (student forward, teacher forward, loss, backward,
optimiser) and each part's share, and prints a small table.
"""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--preset", default="paper", help="model sizes from this preset (default: %(default)s)")
    p.add_argument("--task", default="x4", help="x2 / x3 / x4 (default: %(default)s)")
    p.add_argument("--backbone", default="swinir")
    p.add_argument("--experiments", nargs="+", default=["teacher", "scratch", "logits"])
    p.add_argument("--batch", type=int, help="batch size (default: the preset's)")
    p.add_argument("--patch", type=int, help="LR patch size (default: the preset's)")
    p.add_argument("--iters", type=int, default=3, help="timed iterations (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int)
    p.add_argument("--out", help="JSON file (default: results/bench/<preset>_<task>_<backbone>_b<batch>_p<patch>.json)")
    a = p.parse_args(argv)

    def bench() -> None:
        from cir.jobs.bench import bench_experiments, write_bench

        r = bench_experiments(config_path=a.config, preset_name=a.preset, task=a.task, backbone=a.backbone,
                              experiments=a.experiments, batch=a.batch, patch=a.patch, iters=a.iters,
                              warmup=a.warmup, device=a.device, threads=a.threads)
        out = a.out or f"results/bench/{a.preset}_{a.task}_{a.backbone}_b{r['batch']}_p{r['lr_patch']}.json"
        write_bench(r, out)
        print(f"{r['backbone']} {r['task']} batch {r['batch']} patch {r['lr_patch']} on {r['device']} "
              f"({r['torch_threads']} threads)")
        for name, e in r["experiments"].items():
            s = e["seconds"]
            split = ", ".join(f"{k} {v:.3f}s ({e['share'][k]:.0%})" for k, v in s.items() if k != "total" and v > 0)
            print(f"{name:<10} {s['total']:8.3f} s/it: {split}")
            if "parts_alone" in e:
                alone = ", ".join(f"{k} {v:.3f}s" for k, v in e["parts_alone"].items() if k != "sum")
                print(f"{'':<10} parts alone: {alone}; sum {e['parts_alone']['sum']:.3f}s -> step / sum = "
                      f"{e['step_over_parts_alone']:.2f}")
        if "logits" in r["experiments"]:
            base = r["experiments"]["logits"]["seconds"]["total"]
            for name, e in r["experiments"].items():
                print(f"{name}/logits time ratio: {e['seconds']['total'] / base:.2f}")
        print(f"written: {out}")

    return run_step(bench)


if __name__ == "__main__":
    sys.exit(main())
