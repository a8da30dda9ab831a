"""What a paper table looks like: its rows, its test-set columns, its metrics and display names.

A new paper table is a new :class:`TableSpec` (plus the paper's numbers as a CSV under
``cir/paper/``), not new code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cir.errors import ConfigError

DEFAULT_DECIMALS: Mapping[str, int] = {"psnr": 2, "ssim": 4, "lpips": 4, "niqe": 3, "brisque": 3, "piqe": 3}

# Values of the ``status`` column.
STATUS_OURS = "ours"
STATUS_OURS_ONLY = "ours only: not in paper"
STATUS_NOT_BUILT = "paper only: method not built yet"
STATUS_NOT_RUN = "paper only: not run in this preset"
# a published model the paper compares with; no experiment here reproduces it
STATUS_REFERENCE = "paper only: reference model, not reproduced"

KINDS = ("paper", "ours", "diff", "sd")   # sd: spread of ours over a row's runs (seeds)


def metric_column(test_set: str, metric: str, kind: str) -> str:
    """Column name of one cell family, e.g. ``Set5_psnr_paper``; ``kind`` is paper, ours or diff."""
    if kind not in KINDS:
        raise ValueError(f"column kind {kind!r} is not one of {KINDS}")
    return f"{test_set}_{metric}_{kind}"


@dataclass(frozen=True)
class TableSpec:
    """One printed table of a paper.

    ``paper_key`` names the long-form CSV of the paper's numbers (``"<paper>/<table>"``, see
    :mod:`cir.paper`). ``row_keys`` are the columns that identify a row, both in that CSV and in
    evaluation summaries. ``test_sets`` are the paper's test-set columns in printed order;
    ``methods`` and ``backbones`` map ids to display names, in printed order.

    ``derived`` test sets are the plain mean of others (MCIR's "Avg" columns): ``{"Avg": (sets)}``;
    the paper value is the printed one where the CSV has it, else the mean of the paper's cells.
    ``merge_models``: one row may be measured by several models whose test sets do not overlap
    (IDT trains one model per rain set; FFA-Net one per RESIDE training set). ``set_names``: the
    data set a paper column is measured on, where its registry name differs (``B100`` is
    ``BSD100``). ``paper_rows_of``: rows compared with another method's printed numbers.
    """

    id: str
    paper_key: str | None   # None: a table of ours only (the paper's numbers are not available)
    title: str
    test_sets: tuple[str, ...]
    methods: Mapping[str, str]
    backbones: Mapping[str, str]
    row_keys: tuple[str, ...] = ("scale", "backbone", "method")
    metrics: tuple[str, ...] = ("psnr", "ssim")
    decimals: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_DECIMALS))
    notes: tuple[str, ...] = ()
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    merge_models: bool = False
    # paper column -> the data set's name in the registry, where they differ (GoPro -> GoPro_test)
    set_names: Mapping[str, str] = field(default_factory=dict)
    # a row method -> the paper row whose numbers it is compared with (MCIR's imported published
    # models: "official" -> "baseline", whose printed numbers are those models')
    paper_rows_of: Mapping[str, str] = field(default_factory=dict)
    # a row experiment -> the values of row keys other than scale/backbone/method (DRCNet's Table 1
    # row {variant: sf_only, t: 0.50}), where the paper's rows are settings, not methods
    row_values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # runs (training seeds) per row whose mean the table reports (DRCNet's Table 1: three)
    runs: int = 1
    # which other test sets (not a paper column) get columns of ours: shell-style patterns, None all
    # (Uni-Removal's dehazing table shows the haze sets of a model also tested on rain and blur)
    extra_sets: tuple[str, ...] | None = None
    # a table metric -> the summary metric that measures it, where they differ (Uni-Removal's BRISQUE
    # is MATLAB's brisque(): summaries' brisque_matlab)
    metric_sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"table spec {self.id!r}"
        if not self.row_keys:
            raise ConfigError(f"{where}: row_keys: must not be empty")
        if not self.test_sets or len(set(self.test_sets)) != len(self.test_sets):
            raise ConfigError(f"{where}: test_sets: must be non-empty and unique, got {self.test_sets}")
        missing = [m for m in self.metrics if m not in self.decimals]
        if missing:
            raise ConfigError(f"{where}: decimals: no entry for metric(s) {missing}")
        for name, parts in self.derived.items():
            unknown = [p for p in (name, *parts) if p not in self.test_sets]
            if unknown or not parts:
                raise ConfigError(f"{where}: derived.{name}: {unknown or 'no sets'} not among test_sets {self.test_sets}")

    def key_order(self, key: str) -> list[Any] | None:
        """The display order of a row key's values, when the spec fixes one."""
        if key == "method":
            return list(self.methods)
        if key == "backbone":
            return list(self.backbones)
        return None

    def display(self, key: str, value: Any) -> str:
        """How a row-key value is printed (``dckd_star`` -> ``DCKD*``, scale 4 -> ``×4``)."""
        if key == "method":
            return self.methods.get(value, str(value))
        if key == "backbone":
            return self.backbones.get(value, str(value))
        if key == "scale":
            return f"×{value}"
        return str(value)
