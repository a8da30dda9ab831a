"""Paper tables (our numbers beside the papers') and their Markdown renderings."""

from cir.report.spec import TableSpec, metric_column
from cir.report.summaries import SummaryError, load_summaries, load_summary, validate_summary
from cir.report.tables import TABLES, build_table, get_table_spec, write_table

__all__ = [
    "TABLES",
    "SummaryError",
    "TableSpec",
    "build_table",
    "get_table_spec",
    "load_summaries",
    "load_summary",
    "metric_column",
    "validate_summary",
    "write_table",
]
