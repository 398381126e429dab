"""Reports people look at: figures of runs side by side and one self-contained HTML page (`zoo compare --plots
DIR --html FILE`); the terminal table and its markdown / JSON are in zoo/report.py."""

from zoo.reports.figures import write_figures
from zoo.reports.html import write_html
from zoo.reports.runs import RunRecord, load_runs

__all__ = ["RunRecord", "load_runs", "write_figures", "write_html"]
