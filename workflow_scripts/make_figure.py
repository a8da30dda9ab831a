"""Draw a figure: a parameter sweep from evaluation summaries (fig8), a visual comparison of saved
SR outputs (visual) or training curves from the CSV logs (curves).

    python workflow_scripts/make_figure.py --figure fig8 --summary EXPERIMENT=SUMMARY.json [...] --out PNG
    python workflow_scripts/make_figure.py --figure visual --summary EXPERIMENT=SUMMARY.json [...] \
        --test-set NAME=PAIR_DIR --out PNG [--image NAME] [--crop TOP,LEFT,SIZE] \
        [--crop-fraction 0.25] [--crop-rule spread|error]
    python workflow_scripts/make_figure.py --figure curves --run EXPERIMENT=RUN_DIR [...] --scale S \
        --backbone B --preset P [--val-set NAME] --out PNG
"""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--figure", required=True, help="fig8 (or another sweep of cir.report.figures), visual, curves")
    p.add_argument("--summary", action="append", default=[], metavar="EXPERIMENT=SUMMARY.json",
                   help="fig8, visual: one per experiment, in panel order")
    p.add_argument("--only", nargs="*", default=None, metavar="EXPERIMENT",
                   help="sweeps: the experiments this preset runs; the other points are left out")
    p.add_argument("--out", required=True, help="PNG path; a CSV of the plotted data goes beside it (fig8, visual)")
    v = p.add_argument_group("visual")
    v.add_argument("--test-set", metavar="NAME=PAIR_DIR", help="test set whose saved outputs are compared")
    v.add_argument("--image", default=None, help="image name (default: the one where the methods' PSNRs spread most)")
    v.add_argument("--crop", default=None, metavar="TOP,LEFT,SIZE", help="crop in HR pixels (default: chosen "
                   "by --crop-rule)")
    v.add_argument("--crop-fraction", type=float, default=0.25, help="crop side / shorter HR side "
                   "(default: %(default)s)")
    v.add_argument("--table", default="table2", help="the paper table whose method names label the panels")
    v.add_argument("--crop-rule", choices=["spread", "error"], default="spread",
                   help="spread: where the methods' errors differ most; error: where they are largest")
    c = p.add_argument_group("curves")
    c.add_argument("--run", action="append", default=[], metavar="EXPERIMENT=RUN_DIR",
                   help="run folder with train_log.csv and val_log.csv (legend order)")
    c.add_argument("--scale", type=int)
    c.add_argument("--backbone")
    c.add_argument("--preset")
    c.add_argument("--val-set", default="validation", help="name of the validation set, for the axis title")
    a = p.parse_args(argv)

    if a.figure == "visual":
        if not a.summary or not a.test_set:
            p.error("--figure visual needs --summary (one or more) and --test-set")
        from cir.report.visual import make_visual

        return run_step(lambda: make_visual(a.summary, a.test_set, a.out, image=a.image, crop=a.crop,
                                            crop_fraction=a.crop_fraction, rule=a.crop_rule, table_id=a.table))
    if a.figure == "curves":
        if not a.run or a.scale is None or not a.backbone or not a.preset:
            p.error("--figure curves needs --run (one or more), --scale, --backbone and --preset")
        from cir.report.curves import make_curves

        return run_step(lambda: make_curves(a.run, a.out, scale=a.scale, backbone=a.backbone, preset=a.preset,
                                            val_set=a.val_set))
    if not a.summary:
        p.error(f"--figure {a.figure} needs --summary (one or more)")
    from cir.report.figures import make_figure

    return run_step(lambda: make_figure(a.figure, a.summary, a.out, only=a.only))


if __name__ == "__main__":
    sys.exit(main())
