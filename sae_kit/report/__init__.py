"""Reporting: notebook profiles, headless replication, the offline HTML report and executed copies.

Modules: executed, figures_png, html_figures, html_report, profiles, replicate.
"""

from sae_kit.report.replicate import NOTEBOOK_DIR, collect_results, main, notebooks, run_notebooks, summary_table, write_results

__all__ = ["NOTEBOOK_DIR", "collect_results", "main", "notebooks", "run_notebooks", "summary_table", "write_results"]
