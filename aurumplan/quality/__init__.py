"""Data quality of what is loaded or staged: checks, scores, before/after comparison, coverage."""

from aurumplan.quality.compare import Comparison, compare_frames, compare_versions
from aurumplan.quality.coverage import CoverageRow, coverage, heat_strip
from aurumplan.quality.evaluate import evaluate, evaluate_frame, normalize_checks
from aurumplan.quality.frame import DatasetFrame, SeriesFrame, load_frame
from aurumplan.quality.model import CHECKS, CheckResult, DatasetQuality, Finding, weighted_score
from aurumplan.quality.report import (
    comparison_to_dict,
    coverage_to_dicts,
    quality_to_dict,
    render_comparison_markdown,
    render_coverage_markdown,
    render_quality_markdown,
)

__all__ = [
    "CHECKS", "CheckResult", "Comparison", "CoverageRow", "DatasetFrame", "DatasetQuality", "Finding",
    "SeriesFrame", "compare_frames", "compare_versions", "comparison_to_dict", "coverage", "coverage_to_dicts",
    "evaluate", "evaluate_frame", "heat_strip", "load_frame", "normalize_checks", "quality_to_dict",
    "render_comparison_markdown", "render_coverage_markdown", "render_quality_markdown", "weighted_score",
]
