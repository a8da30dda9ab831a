import pandas as pd
import pytest

from cir.errors import CirError
from cir.report.figures import FIGURES, sweep_table, write_sweep_figure


def summary(psnr):
    return {"preset": "demo", "stand_ins": ["VQGAN encoder: random initialisation"],
            "test_sets": {"skimage_test": {"psnr": psnr, "ssim": 0.9}}}


def test_fig8_table_and_png(tmp_path):
    spec = FIGURES["fig8"]
    sums = {e: summary(30.0 + i) for i, e in enumerate(spec.experiments)}
    table = sweep_table(spec, sums)
    assert len(table) == 7  # 4 points in (a), 3 in (b); dckd appears in both
    a = table[table.panel.str.startswith("(a)")].sort_values("x")
    assert list(a.x) == [1, 3, 5, 7] and list(a.experiment) == ["dckd_neg1", "dckd_neg3", "dckd", "dckd_neg7"]
    write_sweep_figure(spec, table, tmp_path / "fig8.png", tmp_path / "fig8.csv")
    assert (tmp_path / "fig8.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = pd.read_csv(tmp_path / "fig8.csv")
    assert len(back) == 7 and set(back.stand_ins) == {"VQGAN encoder: random initialisation"}


def test_missing_experiment_is_named():
    with pytest.raises(CirError, match="dckd_neg1"):
        sweep_table(FIGURES["fig8"], {"dckd": summary(30.0)})
