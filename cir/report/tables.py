"""Paper tables with our numbers beside the paper's: build them from summaries and write them.

:func:`build_table` joins the paper's numbers (``cir/paper/<paper>/<table>.csv``) with evaluation
summaries, one output row per table row. A number of ours is placed under a paper column only when
it was measured on the test set of exactly that name; other test sets (e.g. the built-in demo
photos) get columns of their own, without paper or difference columns.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from cir.errors import CirError, UnknownNameError
from cir.eval.metrics import is_unavailable
from cir.paper import load_paper_table, paper_table_path, reference_only
from cir.paper.defs import table_defs
from cir.report.markdown import render_markdown
from cir.report.spec import (
    STATUS_NOT_BUILT,
    STATUS_NOT_RUN,
    STATUS_OURS,
    STATUS_OURS_ONLY,
    STATUS_REFERENCE,
    TableSpec,
    metric_column,
)
from cir.report.summaries import SummaryError, validate_summary
from cir.utils.io import atomic_path, write_text

RowKey = tuple[Any, ...]

def _spec_from_def(d: dict) -> TableSpec:
    # display names of the paper's reference rows (published models, printed first, never run),
    # then of the rows we run
    return TableSpec(id=d["id"], paper_key=d["paper_key"], title=d["title"], test_sets=tuple(d["test_sets"]),
                     methods={**d.get("reference_rows", {}), **d.get("official_rows", {}), **d["rows"]},
                     backbones={**d.get("reference_backbones", {}), **d["backbones"]},
                     metrics=tuple(d["metrics"]), notes=tuple(d.get("notes", ())),
                     row_keys=tuple(d.get("row_keys", ("scale", "backbone", "method"))),
                     derived={k: tuple(v) for k, v in (d.get("derived") or {}).items()},
                     merge_models=bool(d.get("merge_models", False)),
                     set_names=dict(d.get("set_names") or {}),
                     paper_rows_of={e: "baseline" for e in d.get("official_rows", {})})


# Every paper table, defined as data in cir/paper/<paper>/tables.yaml.
TABLES: dict[str, TableSpec] = {tid: _spec_from_def(d) for tid, d in table_defs().items()}


def get_table_spec(name: str) -> TableSpec:
    """The registered spec ``name``; raises UnknownNameError listing the valid names."""
    if name not in TABLES:
        raise UnknownNameError("table", name, TABLES)
    return TABLES[name]


def _check_paper_table(spec: TableSpec, paper: pd.DataFrame) -> None:
    """Fail if the paper CSV holds values the spec does not know (they would silently vanish)."""
    path = paper_table_path(spec.paper_key)
    unknown_sets = sorted(set(paper["test_set"]) - set(spec.test_sets))
    if unknown_sets:
        raise CirError(
            f"{path}: test set(s) {unknown_sets} are not in table spec {spec.id!r} test_sets {spec.test_sets}"
        )
    for key in spec.row_keys:
        order = spec.key_order(key)
        if order is not None:
            unknown = sorted(set(paper[key]) - set(order))
            if unknown:
                raise CirError(
                    f"{path}: {key} value(s) {unknown} have no display name in table spec {spec.id!r}"
                )
    dup = paper.duplicated([*spec.row_keys, "test_set"], keep=False)
    if dup.any():
        first = paper.loc[dup, [*spec.row_keys, "test_set"]].iloc[0].tolist()
        raise CirError(f"{path}: row {first} appears more than once")


def _paper_values(spec: TableSpec, paper: pd.DataFrame) -> dict[RowKey, dict[tuple[str, str], float]]:
    """Paper numbers by row, then by (test set, metric); rows in the paper's printed order."""
    values: dict[RowKey, dict[tuple[str, str], float]] = {}
    for rec in paper.to_dict("records"):
        row = tuple(rec[k] for k in spec.row_keys)
        cells = values.setdefault(row, {})
        for metric in spec.metrics:
            if not pd.isna(rec[metric]):
                cells[(rec["test_set"], metric)] = float(rec[metric])
    return values


def _summary_row(spec: TableSpec, summary: Mapping[str, Any], paper: pd.DataFrame, source: str) -> RowKey:
    """The row a summary belongs to, with each key typed like the paper CSV's column."""
    row = []
    for key in spec.row_keys:
        value = summary[key]
        if pd.api.types.is_integer_dtype(paper[key].dtype) and not isinstance(value, int):
            raise SummaryError(f"{source}: key {key!r} must be an integer like the paper's, got {value!r}")
        if not pd.api.types.is_integer_dtype(paper[key].dtype) and not isinstance(value, str):
            raise SummaryError(f"{source}: key {key!r} must be a string like the paper's, got {value!r}")
        row.append(value)
    return tuple(row)


def _index_summaries(
    spec: TableSpec, summaries: Sequence[Mapping[str, Any]], preset: str, paper: pd.DataFrame
) -> dict[RowKey, Mapping[str, Any]]:
    """Validate the summaries, check they share ``preset``, and key them by row."""
    sources = []
    for i, summary in enumerate(summaries):
        label = summary.get("model_file") if isinstance(summary, Mapping) else None
        source = f"summary #{i} (model file {label!r})" if label else f"summary #{i}"
        validate_summary(summary, source, row_keys=spec.row_keys, metrics=spec.metrics)
        sources.append(source)
    presets: dict[str, list[str]] = {}
    for summary in summaries:
        presets.setdefault(summary["preset"], []).append(summary["model_file"])
    if len(presets) > 1:
        detail = "; ".join(f"{p!r}: {files}" for p, files in presets.items())
        raise SummaryError(f"summaries come from more than one preset ({detail}); build one table per preset")
    if presets and preset not in presets:
        raise SummaryError(
            f"table requested for preset {preset!r} but the summaries are from preset {next(iter(presets))!r}"
        )
    indexed: dict[RowKey, Mapping[str, Any]] = {}
    for summary, source in zip(summaries, sources):
        row = _summary_row(spec, summary, paper, source)
        if row in indexed and spec.merge_models and not set(indexed[row]["test_sets"]) & set(summary["test_sets"]):
            indexed[row] = _merged(indexed[row], summary)
            continue
        if row in indexed:
            raise SummaryError(
                f"two summaries claim row {dict(zip(spec.row_keys, row))}: model files "
                f"{indexed[row]['model_file']!r} and {summary['model_file']!r}"
            )
        indexed[row] = summary
    return indexed


def _merged(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """One row measured by two models on disjoint test sets (``merge_models``)."""
    return {**a, "test_sets": {**a["test_sets"], **b["test_sets"]},
            "model_file": f"{a['model_file']}; {b['model_file']}",
            "parameters": a["parameters"] if a["parameters"] == b["parameters"] else max(a["parameters"], b["parameters"]),
            "stand_ins": list(dict.fromkeys([*a["stand_ins"], *b["stand_ins"]]))}


def _with_derived(spec: TableSpec, cells: Mapping[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    """``cells`` ((test set, metric) -> value) with each derived set's mean where it is missing
    and every part is a number."""
    out = dict(cells)
    for name, parts in spec.derived.items():
        for metric in spec.metrics:
            values = [out.get((p, metric), math.nan) for p in parts]
            if (name, metric) not in out and all(isinstance(v, float) and not math.isnan(v) for v in values):
                out[(name, metric)] = sum(values) / len(values)
    return out


def _sort_rows(spec: TableSpec, rows: Iterable[RowKey], paper_rows: Sequence[RowKey]) -> list[RowKey]:
    """Order rows as the paper prints them; rows the paper lacks go after known values of each key."""
    orders = []
    for i, key in enumerate(spec.row_keys):
        order = spec.key_order(key)
        if order is None:
            order = list(dict.fromkeys(row[i] for row in paper_rows))
        orders.append(order)

    def rank(row: RowKey) -> tuple:
        return tuple(
            (order.index(value) if value in order else len(order), value) for order, value in zip(orders, row)
        )

    return sorted(rows, key=rank)


def _paper_row(spec: TableSpec, row: RowKey) -> RowKey:
    """The paper row whose numbers ``row`` is compared with (``spec.paper_rows_of``), else ``row``."""
    if "method" not in spec.row_keys:
        return row
    i = spec.row_keys.index("method")
    return (*row[:i], spec.paper_rows_of.get(row[i], row[i]), *row[i + 1:])


def _diff(ours: float, paper: float) -> float:
    if math.isnan(ours) or math.isnan(paper):
        return math.nan
    # The paper prints at most 4 decimals; rounding removes binary floating-point noise only.
    return round(ours - paper, 6)


def _ours(results: Mapping[str, Any], test_set: str, metric: str) -> float | str:
    """Our value of ``metric`` on ``test_set``: a number, NaN when not measured, or the
    ``"unavailable: <reason>"`` text of a metric whose weights were missing (never a number)."""
    if test_set not in results:
        return math.nan
    value = results[test_set][metric]
    return value if is_unavailable(value) else float(value)


def build_table(
    spec: TableSpec,
    summaries: Sequence[Mapping[str, Any]],
    preset: str,
    *,
    built_methods: Collection[str] | None = None,
) -> pd.DataFrame:
    """One row per table row: every row of the paper, plus rows only ours has.

    ``summaries`` are evaluation summaries (see :mod:`cir.report.summaries`), all of ``preset``.
    ``built_methods``, when given, lets a paper-only row say that its method is not implemented
    (``"paper only: method not built yet"``) rather than not run (``"paper only: not run in this
    preset"``). A row the paper CSV marks ``reference_only`` (a published model the paper compares
    with, see :mod:`cir.paper`) says ``"paper only: reference model, not reproduced"``. The spec
    and preset are recorded in ``df.attrs`` for :func:`write_table`.
    """
    if not isinstance(preset, str) or not preset:
        raise SummaryError(f"preset must be a non-empty string, got {preset!r}")
    paper = load_paper_table(spec.paper_key, required_columns=(*spec.row_keys, "test_set", *spec.metrics))
    _check_paper_table(spec, paper)
    paper_values = _paper_values(spec, paper)
    marked = paper.loc[reference_only(paper), list(spec.row_keys)]
    references = {tuple(r) for r in marked.itertuples(index=False)}
    ours = _index_summaries(spec, summaries, preset, paper)
    params_paper = ({tuple(r[k] for k in spec.row_keys): float(r["params_m"])
                     for r in paper.to_dict("records") if not pd.isna(r["params_m"])}
                    if "params_m" in paper.columns else {})

    measured_as = {spec.set_names.get(t, t) for t in spec.test_sets}
    extra_sets = sorted({name for s in ours.values() for name in s["test_sets"]} - measured_as)
    rows = _sort_rows(spec, set(paper_values) | set(ours), list(paper_values))

    records = []
    for row in rows:
        summary = ours.get(row)
        cells = _with_derived(spec, paper_values.get(row, {}) or paper_values.get(_paper_row(spec, row), {}))
        rec: dict[str, Any] = dict(zip(spec.row_keys, row))
        if summary is not None:
            rec["status"] = STATUS_OURS if _paper_row(spec, row) in paper_values or row in paper_values \
                else STATUS_OURS_ONLY
        else:
            method = rec.get("method")
            not_built = built_methods is not None and method is not None and method not in built_methods
            if row in references:
                rec["status"] = STATUS_REFERENCE
            else:
                rec["status"] = STATUS_NOT_BUILT if not_built else STATUS_NOT_RUN
        rec["preset"] = preset if summary is not None else ""
        results = summary["test_sets"] if summary is not None else {}
        ours_cells = _with_derived(spec, {(t, m): _ours(results, spec.set_names.get(t, t), m)
                                          for t in spec.test_sets for m in spec.metrics if t not in spec.derived})
        for test_set in spec.test_sets:
            for metric in spec.metrics:
                p = cells.get((test_set, metric), math.nan)
                o = ours_cells.get((test_set, metric), math.nan)
                rec[metric_column(test_set, metric, "paper")] = p
                rec[metric_column(test_set, metric, "ours")] = o
                rec[metric_column(test_set, metric, "diff")] = math.nan if isinstance(o, str) else _diff(o, p)
        for test_set in extra_sets:
            for metric in spec.metrics:
                rec[metric_column(test_set, metric, "ours")] = _ours(results, test_set, metric)
        if "params_m" in paper.columns:  # the paper's #Params column (millions), where it prints one
            rec["params_m_paper"] = params_paper.get(row, math.nan)
        rec["parameters_ours"] = summary["parameters"] if summary is not None else pd.NA
        rec["stand_ins"] = "; ".join(summary["stand_ins"]) if summary is not None else ""
        rec["metric_convention"] = summary.get("metric_convention", "") if summary is not None else ""
        records.append(rec)

    columns = [*spec.row_keys, "status", "preset"]
    columns += [
        metric_column(d, m, k)
        for d in spec.test_sets
        for m in spec.metrics
        for k in ("paper", "ours", "diff")
    ]
    columns += [metric_column(d, m, "ours") for d in extra_sets for m in spec.metrics]
    columns += (["params_m_paper"] if "params_m" in paper.columns else []) + ["parameters_ours", "stand_ins"]
    columns += ["metric_convention"]
    df = pd.DataFrame.from_records(records, columns=columns)
    df["parameters_ours"] = df["parameters_ours"].astype("Int64")
    df.attrs["table"] = spec.id
    df.attrs["preset"] = preset
    df.attrs["spec"] = spec
    return df


def write_table(
    df: pd.DataFrame,
    csv_path: str | os.PathLike,
    md_path: str | os.PathLike,
    *,
    title: str,
    notes: Sequence[str] = (),
    spec: TableSpec | None = None,
    preset: str | None = None,
) -> None:
    """Write ``df`` as CSV and as a Markdown rendering, each atomically.

    ``spec`` and ``preset`` default to those :func:`build_table` recorded in ``df.attrs``. Both
    texts are rendered before either file is written, so a rendering error writes nothing.
    """
    spec = spec if spec is not None else df.attrs.get("spec")
    preset = preset if preset is not None else df.attrs.get("preset")
    if spec is None or preset is None:
        raise SummaryError(
            "write_table needs the table spec and preset: pass spec= and preset=, "
            "or a DataFrame returned by build_table"
        )
    markdown = render_markdown(df, spec, title=title, preset=preset, notes=notes)
    csv_text = df.to_csv(index=False, lineterminator="\n")
    with atomic_path(csv_path) as tmp:
        tmp.write_text(csv_text, encoding="utf-8")
    write_text(md_path, markdown)
