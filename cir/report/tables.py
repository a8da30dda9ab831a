"""Paper tables with our numbers beside the paper's: build them from summaries and write them.

:func:`build_table` joins the paper's numbers (``cir/paper/<paper>/<table>.csv``) with evaluation
summaries, one output row per table row. A number of ours is placed under a paper column only when
it was measured on the test set of exactly that name; other test sets (e.g. the built-in demo
photos) get columns of their own, without paper or difference columns.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from cir.config import split_replica
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
    # then of the rows we run; a row given as a mapping names its row-key values (a setting's row)
    rows = {e: (e if isinstance(v, dict) else v) for e, v in d["rows"].items()}
    return TableSpec(id=d["id"], paper_key=d["paper_key"], title=d["title"], test_sets=tuple(d["test_sets"]),
                     # labels: display names of printed method ids (other papers' models, ablation settings)
                     methods={**d.get("reference_rows", {}), **d.get("labels", {}), **d.get("official_rows", {}),
                              **rows},
                     row_values={e: dict(v) for e, v in d["rows"].items() if isinstance(v, dict)},
                     runs=int(d.get("runs", 1)),
                     backbones={**d.get("reference_backbones", {}), **d["backbones"]},
                     metrics=tuple(d["metrics"]), notes=tuple(d.get("notes", ())),
                     row_keys=tuple(d.get("row_keys", ("scale", "backbone", "method"))),
                     derived={k: tuple(v) for k, v in (d.get("derived") or {}).items()},
                     merge_models=bool(d.get("merge_models", False)),
                     set_names=dict(d.get("set_names") or {}),
                     extra_sets=tuple(d["extra_sets"]) if d.get("extra_sets") is not None else None,
                     metric_sources=dict(d.get("metric_sources") or {}),
                     # the printed row an imported published model is compared with (MCIR: its baseline)
                     paper_rows_of={e: d.get("official_paper_row", "baseline") for e in d.get("official_rows", {})})


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
        if not len(paper):   # a table of ours only (DRCNet's main table): no printed rows to match
            row.append(value)
            continue
        if pd.api.types.is_float_dtype(paper[key].dtype):   # a setting (DRCNet's t, delta)
            try:
                row.append(float(value))
            except (TypeError, ValueError):
                raise SummaryError(f"{source}: key {key!r} must be a number like the paper's, got {value!r}") from None
            continue
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
    grouped: dict[RowKey, list[Mapping[str, Any]]] = {}
    for summary, source in zip(summaries, sources):
        grouped.setdefault(_summary_row(spec, summary, paper, source), []).append(summary)
    indexed: dict[RowKey, Mapping[str, Any]] = {}
    for row, group in grouped.items():
        seeds = [s.get("seed") for s in group]
        if len(group) > 1 and any(seed is not None for seed in seeds):   # one row's runs, by seed
            for i, a in enumerate(group):   # one run per seed and test set (a row may span tasks)
                for b in group[i + 1:]:
                    if a.get("seed") == b.get("seed") and set(a["test_sets"]) & set(b["test_sets"]):
                        raise SummaryError(f"two summaries claim row {dict(zip(spec.row_keys, row))} with the same "
                                           f"seed: model files {a['model_file']!r} and {b['model_file']!r}")
            indexed[row] = _mean_of_runs(group, spec.metrics)
            continue
        indexed[row] = group[0]
        for summary in group[1:]:
            if spec.merge_models and not set(indexed[row]["test_sets"]) & set(summary["test_sets"]):
                indexed[row] = _merged(indexed[row], summary)
                continue
            raise SummaryError(
                f"two summaries claim row {dict(zip(spec.row_keys, row))}: model files "
                f"{indexed[row]['model_file']!r} and {summary['model_file']!r}"
            )
    return indexed


def with_metric_sources(spec: TableSpec, summary: Mapping[str, Any]) -> dict[str, Any]:
    """``summary`` with each table metric that another summary metric measures (``spec.metric_sources``:
    ``brisque`` <- ``brisque_matlab``) filled in from it."""
    if not spec.metric_sources:
        return dict(summary)
    sets = {}
    for name, values in summary["test_sets"].items():
        values = dict(values)
        for metric, source in spec.metric_sources.items():
            if metric not in values and source in values:
                values[metric] = values[source]
        sets[name] = values
    return {**summary, "test_sets": sets}


def _with_row_values(spec: TableSpec, summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each summary as the row it measures: a seed replica of a row experiment counts for that row
    (its seed kept in ``seed``), and a setting's row gets its row-key values (``spec.row_values``)."""
    out = []
    for summary in summaries:
        s = dict(summary)
        method = s.get("method")
        if isinstance(method, str):
            base, seed = split_replica(method)
            if seed is not None and base in spec.methods:
                s["method"], s["seed"] = base, seed
            s.update(spec.row_values.get(s["method"], {}))
        out.append(s)
    return out


def _mean_of_runs(runs: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    """One row measured by several runs (seeds): per test set and metric the mean and the sample
    standard deviation (``test_sets_sd``) over the runs that have it; a metric unavailable in any
    run stays unavailable."""
    first = runs[0]
    means: dict[str, dict[str, Any]] = {}
    sds: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(n for r in runs for n in r["test_sets"]):
        means[name], sds[name] = {}, {}
        for metric in metrics:
            values = [r["test_sets"][name][metric] for r in runs if name in r["test_sets"]]
            unavailable = [v for v in values if is_unavailable(v)]
            if unavailable:
                means[name][metric] = unavailable[0]
                continue
            values = [float(v) for v in values]
            mean = sum(values) / len(values)
            means[name][metric] = mean
            sds[name][metric] = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
                                 if len(values) > 1 else math.nan)
    counts = [sum(name in r["test_sets"] for r in runs) for name in means]
    return {**first, "test_sets": means, "test_sets_sd": sds, "runs": max(counts),
            "seeds": [r.get("seed") for r in runs],
            "model_file": "; ".join(r["model_file"] for r in runs),
            "stand_ins": list(dict.fromkeys(s for r in runs for s in r["stand_ins"])),
            "metric_convention": _conventions(runs)}


def _merged(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """One row measured by two models on disjoint test sets (``merge_models``)."""
    return {**a, "test_sets": {**a["test_sets"], **b["test_sets"]},
            "model_file": f"{a['model_file']}; {b['model_file']}",
            "parameters": a["parameters"] if a["parameters"] == b["parameters"] else max(a["parameters"], b["parameters"]),
            "stand_ins": list(dict.fromkeys([*a["stand_ins"], *b["stand_ins"]])),
            # models of different tasks may be scored differently (DRCNet: Y for deraining, RGB else)
            "metric_convention": _conventions((a, b))}


def _conventions(summaries: Iterable[Mapping[str, Any]]) -> str:
    """The distinct metric conventions of the summaries of one row, joined by " + "."""
    parts: list[str] = []
    for s in summaries:
        for c in str(s.get("metric_convention") or "").split(" + "):
            if c and c not in parts:
                parts.append(c)
    return " + ".join(parts)


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


def _sd(summary: Mapping[str, Any] | None, test_set: str, metric: str) -> float:
    """The spread of our runs of a row on ``test_set`` (NaN for one run or none)."""
    if summary is None:
        return math.nan
    return float(summary.get("test_sets_sd", {}).get(test_set, {}).get(metric, math.nan))


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
    if spec.paper_key is None:   # a table of ours only: the paper's numbers are not available
        paper = pd.DataFrame(columns=[*spec.row_keys, "test_set", *spec.metrics])
    else:
        paper = load_paper_table(spec.paper_key, required_columns=(*spec.row_keys, "test_set", *spec.metrics))
        _check_paper_table(spec, paper)
    paper_values = _paper_values(spec, paper)
    marked = paper.loc[reference_only(paper), list(spec.row_keys)]
    references = {tuple(r) for r in marked.itertuples(index=False)}
    ours = _index_summaries(spec, _with_row_values(spec, summaries), preset, paper)
    with_runs = spec.runs > 1 or any("runs" in s for s in ours.values())
    params_paper = ({tuple(r[k] for k in spec.row_keys): float(r["params_m"])
                     for r in paper.to_dict("records") if not pd.isna(r["params_m"])}
                    if "params_m" in paper.columns else {})

    measured_as = {spec.set_names.get(t, t) for t in spec.test_sets}
    extra_sets = sorted(name for name in {n for s in ours.values() for n in s["test_sets"]} - measured_as
                        if spec.extra_sets is None or any(fnmatch.fnmatchcase(name, p) for p in spec.extra_sets))
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
                if with_runs:
                    rec[metric_column(test_set, metric, "sd")] = _sd(summary, spec.set_names.get(test_set, test_set), metric)
        for test_set in extra_sets:
            for metric in spec.metrics:
                rec[metric_column(test_set, metric, "ours")] = _ours(results, test_set, metric)
                if with_runs:
                    rec[metric_column(test_set, metric, "sd")] = _sd(summary, test_set, metric)
        if with_runs:
            rec["runs_ours"] = summary.get("runs", 1) if summary is not None else pd.NA
        if "params_m" in paper.columns:  # the paper's #Params column (millions), where it prints one
            rec["params_m_paper"] = params_paper.get(row, math.nan)
        rec["parameters_ours"] = summary["parameters"] if summary is not None else pd.NA
        rec["stand_ins"] = "; ".join(summary["stand_ins"]) if summary is not None else ""
        rec["metric_convention"] = summary.get("metric_convention", "") if summary is not None else ""
        records.append(rec)

    columns = [*spec.row_keys, "status", "preset"]
    kinds = ("paper", "ours", "diff", "sd") if with_runs else ("paper", "ours", "diff")
    columns += [metric_column(d, m, k) for d in spec.test_sets for m in spec.metrics for k in kinds]
    columns += [metric_column(d, m, k) for d in extra_sets for m in spec.metrics
                for k in (("ours", "sd") if with_runs else ("ours",))]
    columns += ["runs_ours"] if with_runs else []
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
