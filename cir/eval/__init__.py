"""Evaluation: metric definitions, (tiled) inference and per-test-set scoring."""

from cir.eval.evaluate import evaluate, evaluate_model_file
from cir.eval.infer import restore
from cir.eval.metrics import MetricSpec, build_metric, build_metrics, metric_convention, sr_metric_specs

__all__ = [
    "MetricSpec",
    "build_metric",
    "build_metrics",
    "evaluate",
    "evaluate_model_file",
    "metric_convention",
    "restore",
    "sr_metric_specs",
]
